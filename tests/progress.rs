//! Live output of long commands as `notifications/progress`, over an SSE
//! stream on HTTP and as extra lines on stdio.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, TOKEN};
use serde_json::{Value, json};

const COUNT: &str = "for i in 1 2 3; do echo $i; sleep 1; done";

fn call(token: Option<Value>) -> String {
    let mut params = json!({ "name": "execute_command", "arguments": { "command": COUNT } });
    if let Some(token) = token {
        params["_meta"] = json!({ "progressToken": token });
    }
    json!({ "jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params }).to_string()
}

/// The `data:` payloads of an SSE body, in order.
fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[test]
fn progress_notifications_stream_each_line_before_the_result() {
    let daemon = Daemon::with_token();
    let headers = [("X-MCP-Auth-Token", TOKEN), ("Accept", "application/json, text/event-stream")];
    let started = Instant::now();
    let response = daemon.post_with(&headers, &call(Some(json!("tok-1"))));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert_eq!(response.header("x-accel-buffering"), Some("no"));
    let events = events(&response.body);
    let (result, notifications) = events.split_last().expect("at least the result");
    assert_eq!(result["id"], 9);
    assert_eq!(result["result"]["structuredContent"]["stdout"], "1\n2\n3\n");
    assert!(notifications.len() >= 3, "one notification per line: {notifications:?}");
    let mut last = 0.0;
    let mut lines = String::new();
    for notification in notifications {
        assert_eq!(notification["method"], "notifications/progress");
        assert_eq!(notification["params"]["progressToken"], "tok-1");
        let progress = notification["params"]["progress"].as_f64().unwrap();
        assert!(progress > last, "progress must increase strictly");
        last = progress;
        lines.push_str(notification["params"]["message"].as_str().unwrap());
    }
    assert_eq!(lines, "1\n2\n3\n");
}

#[test]
fn without_a_token_or_an_event_stream_client_the_answer_is_plain_json() {
    let daemon = Daemon::with_token();
    let auth = [("X-MCP-Auth-Token", TOKEN), ("Accept", "application/json, text/event-stream")];
    let plain = daemon.post_with(&auth, &call(None));
    assert_eq!(plain.header("content-type"), Some("application/json"));
    let json_only = [("X-MCP-Auth-Token", TOKEN), ("Accept", "application/json")];
    let plain = daemon.post_with(&json_only, &call(Some(json!(7))));
    assert_eq!(plain.header("content-type"), Some("application/json"));
    assert_eq!(plain.json()["result"]["structuredContent"]["stdout"], "1\n2\n3\n");
}

#[test]
fn closing_a_silent_progress_stream_kills_the_command_tree() {
    use std::io::Read;
    let daemon = Daemon::with_token();
    let mark = common::marker("ssegone");
    let command = format!("sh -c 'sleep 60; : {mark}'");
    let meta = json!({ "progressToken": 1 });
    let mut stream = common::open_call(daemon.port, json!(1), &command, "text/event-stream", Some(meta));
    let mut first = [0u8; 512];
    let read = stream.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..read]).contains("text/event-stream"));
    assert!(common::eventually(Duration::from_secs(5), || !common::processes_with(&mark).is_empty()));
    let pids = common::processes_with(&mark);
    drop(stream);
    let closed = Instant::now();
    assert!(common::eventually(Duration::from_secs(2), || common::all_gone(&pids)), "tree survived");
    assert!(closed.elapsed() < Duration::from_millis(500), "tree gone only after {:?}", closed.elapsed());
}

#[test]
fn a_silent_command_gets_keep_alive_comments_on_its_stream() {
    let daemon = Daemon::start(&[("MCP_AUTH_TOKEN", TOKEN), ("MCP_SSE_KEEPALIVE", "200ms")]);
    let headers = [("X-MCP-Auth-Token", TOKEN), ("Accept", "text/event-stream")];
    let body = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{
        "name":"execute_command","arguments":{"command":"sleep 1; echo done"},"_meta":{"progressToken":"k"}}});
    let response = daemon.post_with(&headers, &body.to_string());
    let keep_alives = response.body.lines().filter(|line| *line == ": keep-alive").count();
    assert!(keep_alives >= 3, "{keep_alives} keep-alive comments in: {}", response.body);
    assert_eq!(events(&response.body).last().unwrap()["result"]["structuredContent"]["stdout"], "done\n");
}
