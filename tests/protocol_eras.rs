//! Both protocol eras on one stateless endpoint: the legacy revisions
//! (2024-11-05 to 2025-11-25, `initialize` optional) and 2026-07-28
//! (`server/discover`, `_meta`, standard headers).

mod common;

use common::Daemon;
use serde_json::{Value, json};

const MODERN: &str = "2026-07-28";

fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" }
    })
}

/// Sends a modern request with the standard headers.
fn modern(daemon: &Daemon, method: &str, mut params: Value, name: Option<&str>) -> common::Response {
    params["_meta"] = modern_meta();
    let body = json!({ "jsonrpc": "2.0", "id": 11, "method": method, "params": params }).to_string();
    let mut headers = vec![("MCP-Protocol-Version", MODERN), ("Mcp-Method", method)];
    if let Some(name) = name {
        headers.push(("Mcp-Name", name));
    }
    daemon.post_with(&headers, &body)
}

#[test]
fn initialize_echoes_a_supported_version_and_otherwise_offers_the_newest_legacy_one() {
    let daemon = Daemon::start(&[]);
    for (asked, answered) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2024-11-05"),
        ("1999-01-01", "2025-11-25"),
        (MODERN, "2025-11-25"),
    ] {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion": asked, "capabilities": {}, "clientInfo": {"name":"t","version":"1"}}});
        let response = daemon.post_with(&[], &body.to_string());
        assert_eq!(response.status, 200);
        let result = &response.json()["result"];
        assert_eq!(result["protocolVersion"], answered, "asked {asked}");
        assert_eq!(result["serverInfo"]["name"], "mcp-commander");
        assert!(result["capabilities"]["tools"].is_object());
        assert!(response.header("mcp-session-id").is_none(), "stateless: no session is issued");
    }
}

#[test]
fn legacy_requests_work_without_initialize_or_session() {
    let daemon = Daemon::start(&[]);
    let ping =
        daemon.post_with(&[("MCP-Protocol-Version", "2025-06-18")], r#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#);
    assert_eq!(ping.json()["result"], json!({}));
    assert_eq!(ping.json()["id"], "a");
    let list = daemon.post_with(&[], r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).json();
    let tools: Vec<&str> =
        list["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["execute_command", "list_allowed_commands", "list_blocked_commands", "get_shell_info"]);
}

#[test]
fn legacy_tool_declarations_have_schemas_and_annotations() {
    let daemon = Daemon::start(&[]);
    let list = daemon.post_with(&[], r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).json();
    for tool in list["result"]["tools"].as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        assert!(tool["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(tool["annotations"]["readOnlyHint"].is_boolean());
    }
    let execute = &list["result"]["tools"][0];
    assert_eq!(execute["annotations"]["destructiveHint"], true);
    assert_eq!(execute["annotations"]["openWorldHint"], true);
    assert_eq!(execute["inputSchema"]["required"], json!(["command"]));
}

#[test]
fn unsupported_legacy_style_version_header_gets_400() {
    let daemon = Daemon::start(&[]);
    let response =
        daemon.post_with(&[("MCP-Protocol-Version", "2020-01-01")], r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
    assert_eq!(response.status, 400);
    assert_eq!(response.error_code(), -32022);
}

#[test]
fn discover_describes_versions_capabilities_and_caching() {
    let daemon = Daemon::start(&[]);
    let response = modern(&daemon, "server/discover", json!({}), None);
    assert_eq!(response.status, 200, "{}", response.body);
    let result = &response.json()["result"];
    assert_eq!(result["resultType"], "complete");
    assert!(result["supportedVersions"].as_array().unwrap().contains(&json!(MODERN)));
    assert!(result["supportedVersions"].as_array().unwrap().contains(&json!("2025-11-25")));
    assert!(result["capabilities"]["tools"].is_object());
    assert!(result["ttlMs"].as_u64().is_some());
    assert!(matches!(result["cacheScope"].as_str(), Some("public" | "private")));
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "mcp-commander");
}

#[test]
fn modern_tools_list_carries_result_type_and_caching_hints() {
    let daemon = Daemon::start(&[]);
    let result = modern(&daemon, "tools/list", json!({}), None).json()["result"].clone();
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["tools"].as_array().unwrap().len(), 4);
    assert!(result["ttlMs"].is_u64());
    assert!(result["cacheScope"].is_string());
}

#[test]
fn modern_tool_call_runs_and_is_complete() {
    let daemon = Daemon::start(&[]);
    let params = json!({ "name": "execute_command", "arguments": { "command": "echo hi" } });
    let response = modern(&daemon, "tools/call", params, Some("execute_command"));
    let result = &response.json()["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["structuredContent"]["stdout"], "hi\n");
}

#[test]
fn missing_meta_keys_get_400_with_32602() {
    let daemon = Daemon::start(&[]);
    let body = r#"{"jsonrpc":"2.0","id":5,"method":"server/discover","params":{}}"#;
    let response = daemon.post_with(&[("MCP-Protocol-Version", MODERN), ("Mcp-Method", "server/discover")], body);
    assert_eq!(response.status, 400);
    assert_eq!(response.error_code(), -32602);
    assert_eq!(response.json()["id"], 5);
}

#[test]
fn standard_header_mismatches_get_400_with_32020() {
    let daemon = Daemon::start(&[]);
    let params = json!({"_meta": modern_meta(), "name": "execute_command", "arguments": {}});
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params": params}).to_string();
    for headers in [
        vec![("MCP-Protocol-Version", MODERN)],
        vec![("MCP-Protocol-Version", MODERN), ("Mcp-Method", "tools/list"), ("Mcp-Name", "execute_command")],
        vec![("MCP-Protocol-Version", MODERN), ("Mcp-Method", "tools/call")],
        vec![("MCP-Protocol-Version", MODERN), ("Mcp-Method", "tools/call"), ("Mcp-Name", "get_shell_info")],
    ] {
        let response = daemon.post_with(&headers, &body);
        assert_eq!(response.status, 400, "{headers:?}");
        assert_eq!(response.error_code(), -32020, "{headers:?}");
    }
}

#[test]
fn unsupported_modern_version_gets_400_with_32022_and_the_supported_list() {
    let daemon = Daemon::start(&[]);
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let body = json!({"jsonrpc":"2.0","id":301,"method":"server/discover","params":{"_meta": meta}}).to_string();
    let response = daemon.post_with(&[("MCP-Protocol-Version", "v999.0.0"), ("Mcp-Method", "server/discover")], &body);
    assert_eq!(response.status, 400);
    let error = &response.json()["error"];
    assert_eq!(error["code"], -32022);
    assert_eq!(error["data"]["requested"], "v999.0.0");
    assert!(error["data"]["supported"].as_array().unwrap().contains(&json!(MODERN)));
}

#[test]
fn modern_unknown_and_removed_methods_get_404_with_32601() {
    let daemon = Daemon::start(&[]);
    for method in ["unknown/method", "initialize", "ping", "logging/setLevel"] {
        let response = modern(&daemon, method, json!({}), None);
        assert_eq!(response.status, 404, "{method}");
        assert_eq!(response.error_code(), -32601, "{method}");
    }
}

#[test]
fn modern_errors_never_carry_a_null_id() {
    let daemon = Daemon::start(&[]);
    let response = daemon.post_with(&[("MCP-Protocol-Version", MODERN)], "{oops");
    assert_eq!(response.status, 400);
    assert!(!response.json().as_object().unwrap().contains_key("id"));
}
