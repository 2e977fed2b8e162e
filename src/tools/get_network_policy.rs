//! `get_network_policy`: where the caller's commands may connect: through
//! the egress proxy by name (its list, the ranges it refuses, its limits),
//! and directly on the TCP ports the operator listed.

use serde_json::{Value, json};

use super::tool::{Call, Handled, Tool};
use super::{ToolContext, read_only_annotations, structured_result};
use crate::config::duration::format_go_duration;
use crate::principals::Space;

/// Offered when egress is on: without it, the tools stay go-mcp-commander's
/// four (and the background ones), which clients of that server expect.
pub(super) const TOOL: Tool = Tool { name: NAME, declaration, offered, records_job: true, call };

fn offered(context: &ToolContext) -> bool {
    context.egress.is_some()
}

const NAME: &str = "get_network_policy";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "Get network policy",
        "description": "Says where the caller's commands may connect. With egress on, HTTP and HTTPS go through \
            the server's proxy (commands get HTTPS_PROXY, HTTP_PROXY and ALL_PROXY): only to the listed names \
            and ranges, each on its port; names resolving into internal ranges are refused unless listed. Other \
            TCP connections are refused, except to the listed tcp_connect_ports.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
        "outputSchema": {
            "type": "object",
            "properties": {
                "principal": { "type": "string" },
                "egress": { "type": "boolean", "description": "whether the caller's commands may use the proxy" },
                "proxy": { "type": ["string", "null"], "description": "the proxy's address (its credentials are in the commands' HTTPS_PROXY)" },
                "allow": {
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "name:port, *.suffix:port or address/prefix:port entries; * is any port"
                },
                "refused_ranges": { "type": "array", "items": { "type": "string" } },
                "limits": { "type": "object" },
                "tcp_connect_ports": { "type": "array", "items": { "type": "integer" } },
                "tcp_bind_ports": { "type": "array", "items": { "type": "integer" } }
            },
            "required": ["egress", "allow", "tcp_connect_ports"]
        },
        "annotations": read_only_annotations("Get network policy"),
    })
}

fn call(call: Call<'_>) -> Handled<'_> {
    let result = match call.space() {
        Ok(space) => network_policy(call.context, space),
        Err(no_space) => no_space,
    };
    Box::pin(call.answer(result))
}

fn network_policy(context: &ToolContext, space: &Space) -> Value {
    let egress = context.egress.as_ref().filter(|_| !space.egress.is_empty());
    let limits = egress.map_or(Value::Null, |egress| {
        let settings = egress.settings();
        json!({
            "connections_per_call": settings.max_per_call,
            "connections_per_principal": settings.max_per_principal,
            "idle_timeout": format_go_duration(settings.idle_timeout),
            "bytes_per_call": settings.max_bytes_per_call,
        })
    });
    structured_result(
        json!({
            "principal": space.name,
            "egress": egress.is_some(),
            "proxy": egress.map(|egress| format!("http://127.0.0.1:{}", egress.port())),
            "allow": if egress.is_some() { space.egress.entries() } else { Vec::new() },
            "refused_ranges": crate::egress::REFUSED,
            "limits": limits,
            "tcp_connect_ports": space.tcp_connect_ports,
            "tcp_bind_ports": space.tcp_bind_ports,
        }),
        false,
    )
}
