//! Every error path of the HTTP endpoint answers with the right status, the
//! right JSON-RPC code and a message an operator can act on.

mod common;

use common::{Daemon, TOKEN};
use serde_json::json;

const AUTH: (&str, &str) = ("X-MCP-Auth-Token", TOKEN);
const LIST: &str = r#"{"jsonrpc":"2.0","method":"tools/list","id":1}"#;

#[test]
fn missing_or_wrong_token_gets_401_with_jsonrpc_32001_and_null_id() {
    let daemon = Daemon::with_token();
    for headers in [vec![], vec![("X-MCP-Auth-Token", "wrong")], vec![("Authorization", "Bearer wrong")]] {
        let response = daemon.post_with(&headers, LIST);
        assert_eq!(response.status, 401, "{}", response.body);
        let body = response.json();
        assert_eq!(body["error"]["code"], -32001);
        assert!(body["id"].is_null() && body.as_object().unwrap().contains_key("id"));
        assert!(body["error"]["message"].as_str().unwrap().contains("X-MCP-Auth-Token"));
    }
}

#[test]
fn token_is_accepted_as_header_or_bearer() {
    let daemon = Daemon::with_token();
    assert_eq!(daemon.post_with(&[AUTH], LIST).status, 200);
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(daemon.post_with(&[("Authorization", &bearer)], LIST).status, 200);
}

#[test]
fn foreign_host_or_origin_gets_403_before_auth() {
    let daemon = Daemon::with_token();
    let response = daemon.post_with(&[("Host", "evil.example.com")], LIST);
    assert_eq!(response.status, 403, "DNS-rebinding Host is checked before the token");
    assert!(response.body.contains("MCP_ALLOWED_HOSTS"), "{}", response.body);
    let response = daemon.post_with(&[AUTH, ("Origin", "http://evil.example.com")], LIST);
    assert_eq!(response.status, 403);
    assert!(response.body.contains("MCP_ALLOWED_ORIGINS"), "{}", response.body);
    let origin = format!("http://localhost:{}", daemon.port);
    assert_eq!(daemon.post_with(&[AUTH, ("Origin", &origin)], LIST).status, 200);
    assert_eq!(daemon.post_with(&[AUTH, ("Host", "localhost")], LIST).status, 200);
}

#[test]
fn a_page_on_another_local_port_is_another_site() {
    let daemon = Daemon::start(&[]);
    let other = format!("http://localhost:{}", daemon.port.wrapping_add(1).max(1));
    assert_eq!(daemon.post_with(&[("Origin", &other)], LIST).status, 403);
    let twice = [("Host", "localhost"), ("Host", "evil.example.com")];
    assert_eq!(daemon.post_with(&twice, LIST).status, 403, "every Host header is checked");
    assert_eq!(daemon.post_with(&[("Host", "[::1]evil.example.com")], LIST).status, 403);
}

#[test]
fn configured_hosts_and_origins_are_accepted() {
    let daemon = Daemon::start(&[
        ("MCP_ALLOWED_HOSTS", "mcp.internal.example"),
        ("MCP_ALLOWED_ORIGINS", "https://tools.example.com"),
    ]);
    let headers = [("Host", "mcp.internal.example:3000"), ("Origin", "https://tools.example.com")];
    assert_eq!(daemon.post_with(&headers, LIST).status, 200);
    assert_eq!(daemon.post_with(&[("Host", "other.example")], LIST).status, 403);
}

#[test]
fn get_and_delete_get_405_with_allow_post() {
    let daemon = Daemon::with_token();
    for method in ["GET", "DELETE", "PUT"] {
        for path in ["/", "/mcp"] {
            let response = daemon.request(method, path, &[AUTH, ("Accept", "text/event-stream")], "");
            assert_eq!(response.status, 405, "{method} {path}");
            assert_eq!(response.header("allow"), Some("POST"));
        }
    }
}

#[test]
fn oversized_body_gets_413_naming_the_limit() {
    let daemon = Daemon::start(&[("MCP_MAX_BODY_BYTES", "1024")]);
    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#, "x".repeat(2000));
    let response = daemon.post_with(&[], &big);
    assert_eq!(response.status, 413);
    assert!(response.body.contains("MCP_MAX_BODY_BYTES"), "{}", response.body);
}

#[test]
fn oversized_body_without_content_length_gets_413() {
    let daemon = Daemon::start(&[("MCP_MAX_BODY_BYTES", "1024")]);
    let chunk = "x".repeat(4096);
    let body = format!("{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len());
    let response =
        common::raw_request(daemon.port, "POST", "/mcp", &[("Transfer-Encoding", "chunked")], body.as_bytes());
    assert_eq!(response.status, 413);
}

#[test]
fn malformed_json_gets_400_with_32700() {
    let daemon = Daemon::with_token();
    let response = daemon.post_with(&[AUTH], "{not json");
    assert_eq!(response.status, 400);
    assert_eq!(response.error_code(), -32700);
    assert!(response.json()["id"].is_null());
}

#[test]
fn a_command_that_is_not_utf8_gets_32700_naming_the_encoding() {
    let daemon = Daemon::start(&[]);
    let mut body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_command","arguments":{"command":"echo "#.to_vec();
    let bad_byte = body.len() + 3;
    body.extend_from_slice(b"caf\xe9\"}}}");
    let response = common::raw_request(daemon.port, "POST", "/mcp", &[("Content-Type", "application/json")], &body);
    assert_eq!(response.status, 400);
    assert_eq!(response.error_code(), -32700);
    let message = response.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("not valid UTF-8") && message.contains(&format!("byte {bad_byte} ")), "{message}");
}

#[test]
fn invalid_request_gets_400_with_32600() {
    let daemon = Daemon::with_token();
    for body in [r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, r#"{"jsonrpc":"2.0","id":1}"#, "42"] {
        let response = daemon.post_with(&[AUTH], body);
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(response.error_code(), -32600, "{body}");
    }
}

#[test]
fn unknown_method_gets_32601() {
    let daemon = Daemon::with_token();
    let response = daemon.post(&json!({"jsonrpc":"2.0","id":7,"method":"no/such"}));
    assert_eq!(response.status, 200, "legacy clients read JSON-RPC errors only from 2xx answers");
    assert_eq!(response.error_code(), -32601);
    assert_eq!(response.json()["id"], 7);
}

#[test]
fn unknown_tool_and_bad_params_get_32602() {
    let daemon = Daemon::with_token();
    let response = daemon
        .post(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_fetch","arguments":{}}}));
    assert_eq!(response.error_code(), -32602);
    assert!(response.body.contains("execute_command"), "the message lists the real tools");
    let response = daemon.post(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}));
    assert_eq!(response.error_code(), -32602);
    let response = daemon.post(
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_command","arguments":"ls"}}),
    );
    assert_eq!(response.error_code(), -32602);
}

#[test]
fn notifications_and_responses_get_202_without_body() {
    let daemon = Daemon::with_token();
    for body in [
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":3,"result":{}}),
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}),
    ] {
        let response = daemon.post(&body);
        assert_eq!(response.status, 202, "{body}");
        assert!(response.body.is_empty());
    }
}

#[test]
fn missing_or_wildcard_accept_is_answered_as_json() {
    let daemon = Daemon::start(&[]);
    for headers in [vec![], vec![("Accept", "*/*")], vec![("Accept", "application/json, text/event-stream")]] {
        let response = daemon.post_with(&headers, LIST);
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert!(response.json()["result"]["tools"].is_array());
    }
}

#[test]
fn event_stream_only_accept_gets_one_sse_event_and_unacceptable_gets_406() {
    let daemon = Daemon::start(&[]);
    let response = daemon.post_with(&[("Accept", "text/event-stream")], LIST);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let data = response.body.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line");
    assert_eq!(serde_json::from_str::<serde_json::Value>(data).unwrap()["id"], 1);
    let response = daemon.post_with(&[("Accept", "text/html")], LIST);
    assert_eq!(response.status, 406);
}

#[test]
fn health_needs_no_auth_and_names_the_server() {
    let daemon = Daemon::with_token();
    let response = daemon.request("GET", "/health", &[("Host", "10.0.3.7:3000")], "");
    assert_eq!(response.status, 200, "ALB health checks use the task IP as Host and carry no token");
    let body = response.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["server"], "mcp-commander");
    assert!(body["version"].is_string());
}

#[test]
fn unknown_paths_get_404() {
    let daemon = Daemon::with_token();
    assert_eq!(daemon.request("POST", "/other", &[AUTH], LIST).status, 404);
}

#[test]
fn batches_are_served_only_for_revisions_that_had_them() {
    let daemon = Daemon::start(&[]);
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]"#;
    let response = daemon.post_with(&[("MCP-Protocol-Version", "2025-03-26")], batch);
    assert_eq!(response.status, 200);
    let replies = response.json();
    assert_eq!(replies.as_array().unwrap().len(), 2);
    let response = daemon.post_with(&[("MCP-Protocol-Version", "2025-11-25")], batch);
    assert_eq!(response.status, 400);
    assert_eq!(response.error_code(), -32600);
    let response = daemon.post_with(&[], "[]");
    assert_eq!(response.status, 400);
}

#[test]
fn a_batch_beyond_the_cap_is_refused_with_the_cap_named() {
    let daemon = Daemon::start(&[]);
    let pings: Vec<String> = (0..33).map(|id| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#)).collect();
    let response = daemon.post_with(&[], &format!("[{}]", pings.join(",")));
    assert_eq!(response.status, 400);
    assert_eq!(response.error_code(), -32600);
    assert_eq!(response.json()["error"]["message"], "Invalid Request: a batch may hold at most 32 messages");
}

#[test]
fn oversized_headers_are_refused() {
    let daemon = Daemon::start(&[]);
    let huge = "a".repeat(100 * 1024);
    let response = daemon.post_with(&[("X-Padding", &huge)], LIST);
    assert_eq!(response.status, 431);
}
