//! `get_shell_info`: how commands are run (shell, timeouts, limits), with
//! go-mcp-commander's field names first.

use serde_json::{Value, json};

use super::tool::{Call, Handled, Tool, always};
use super::{ToolContext, read_only_annotations, structured_result};
use crate::config::duration::format_go_duration;
use crate::principals::Space;
use crate::sandbox::LayerState;

pub(super) const TOOL: Tool = Tool { name: NAME, declaration, offered: always, records_job: true, call };

const NAME: &str = "get_shell_info";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "Get shell information",
        "description": "Describes how execute_command runs commands: the shell and its argument, the default \
            and maximum timeout, the caller's workspace (the default working directory, kept across its calls), the \
            uid its commands run under, the ports they may use, the output cap and the kernel sandbox layers enforced on every command.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
        "outputSchema": {
            "type": "object",
            "properties": {
                "shell": { "type": "string" },
                "shell_arg": { "type": "string" },
                "default_timeout": { "type": "string" },
                "max_timeout": { "type": "string" },
                "working_directory": { "type": "string", "description": "the caller's workspace: the default working directory, kept across its calls" },
                "principal": { "type": "string" },
                "uid": { "type": "integer", "description": "the uid the caller's commands run under" },
                "uid_per_principal": { "type": "boolean", "description": "whether each principal's commands run under a uid of their own" },
                "tcp_connect_ports": { "type": "array", "items": { "type": "integer" } },
                "tcp_bind_ports": { "type": "array", "items": { "type": "integer" } },
                "max_output_bytes": { "type": "integer" },
                "server_version": { "type": "string" },
                "sandbox_layers": {
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "kernel enforcement layers applied to every command"
                },
                "sandbox": {
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                    "description": "each layer: enforced, unavailable or disabled, with details"
                }
            },
            "required": ["shell", "shell_arg", "default_timeout"]
        },
        "annotations": read_only_annotations("Get shell information"),
    })
}

/// How the caller's own commands run.
fn call(call: Call<'_>) -> Handled<'_> {
    let result = match call.space() {
        Ok(space) => shell_info(call.context, space),
        Err(no_space) => no_space,
    };
    Box::pin(call.answer(result))
}

fn shell_info(context: &ToolContext, space: &Space) -> Value {
    let config = &context.config;
    let sandbox = context.runner.sandbox();
    let layers: serde_json::Map<String, Value> = sandbox
        .layers()
        .iter()
        .map(|(layer, state)| {
            let text = match state {
                LayerState::Enforced(detail) => format!("enforced: {detail}"),
                LayerState::Unavailable(reason) => format!("unavailable: {reason}"),
                LayerState::Disabled => "disabled".to_string(),
                LayerState::NotEnabled(reason) => format!("not enabled: {reason}"),
            };
            (layer.name().to_string(), Value::String(text))
        })
        .collect();
    structured_result(
        json!({
            "shell": config.shell.display().to_string(),
            "shell_arg": config.shell_arg,
            "default_timeout": format_go_duration(config.default_timeout),
            "max_timeout": format_go_duration(config.max_timeout),
            "working_directory": space.workspace.display().to_string(),
            "principal": space.name,
            "uid": space.uid,
            "uid_per_principal": context.spaces.separate_uids,
            "tcp_connect_ports": space.tcp_connect_ports,
            "tcp_bind_ports": space.tcp_bind_ports,
            "max_output_bytes": config.max_output_bytes,
            "server_version": env!("CARGO_PKG_VERSION"),
            "sandbox_layers": sandbox.enforced(),
            "sandbox": layers,
        }),
        false,
    )
}
