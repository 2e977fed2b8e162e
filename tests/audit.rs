//! The audit trail, end to end: the exact records of an allowed call, a
//! policy denial, an auth failure, a Host rejection, a timeout and a
//! cancelled call; secrets never written anywhere; the chain verified by
//! `mcp-commander audit verify`, and broken by tampering; back-pressure.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Daemon, DaemonStdout, TOKEN, eventually, open_call};
use serde_json::{Value, json};

const SECRET_VALUE: &str = "hunter2-do-not-log";

fn audited(extra: &[(&str, &str)]) -> Daemon {
    let mut env = vec![("MCP_AUTH_TOKEN", TOKEN), ("MCP_ALLOWED_COMMANDS", "echo,sleep,ls")];
    env.extend_from_slice(extra);
    Daemon::start(&env)
}

/// The fields that vary from run to run, removed for comparison.
fn stable(record: &Value) -> Value {
    let mut record = record.clone();
    for key in ["ts", "seq", "chain", "prev", "hash", "request_id", "remote", "duration_ms", "working_directory"] {
        record.as_object_mut().unwrap().remove(key);
    }
    // The principal's uid and workspace: present, a number and a path.
    if record.get("event").and_then(Value::as_str) == Some("tool_call")
        && record.get("tool") == Some(&"execute_command".into())
    {
        assert!(record.get("uid").is_some_and(Value::is_u64), "no uid in {record}");
        assert!(record.get("workspace").and_then(Value::as_str).is_some_and(|w| w.starts_with('/')), "{record}");
    }
    for key in ["uid", "workspace"] {
        record.as_object_mut().unwrap().remove(key);
    }
    for key in ["cpu_user_ms", "cpu_system_ms", "max_rss_kib"] {
        assert!(record.get(key).is_none_or(Value::is_u64), "{key} is a count");
        record.as_object_mut().unwrap().remove(key);
    }
    record
}

fn principal() -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(TOKEN.as_bytes());
    format!("token:{}", &hex::encode(sha2::Sha256::digest(digest))[..12])
}

#[test]
fn an_allowed_call_is_recorded_with_its_outcome_and_request_id() {
    let daemon = audited(&[]);
    let response = daemon.post(&json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "execute_command", "arguments": { "command": "echo hi", "env": { "SECRET": SECRET_VALUE } } }
    }));
    let request_id = response.header("x-request-id").expect("X-Request-Id").to_string();
    let record = daemon.record(|r| r["request_id"] == request_id.as_str());
    let sandbox = record["sandbox"].clone();
    assert!(sandbox.as_array().unwrap().contains(&json!("landlock")), "{record}");
    assert!(record["max_rss_kib"].as_u64().unwrap() > 0, "{record}");
    assert_eq!(
        stable(&record),
        json!({
            "audit_version": 1, "event": "tool_call", "principal": principal(),
            "method": "tools/call", "tool": "execute_command", "command": "echo hi",
            "env": { "SECRET": "[REDACTED]" }, "timeout_ms": 30000,
            "decision": { "allowed": true }, "sandbox": sandbox,
            "exit_code": 0, "signal": null, "timed_out": false, "stdout_bytes": 3, "stderr_bytes": 0,
            "truncated": false, "outcome": "ok", "cancelled": false
        })
    );
}

#[test]
fn a_policy_denial_is_recorded_with_its_rule() {
    let daemon = audited(&[]);
    daemon.execute(json!({ "command": "echo ok; id -u" }));
    let record = daemon.record(|r| r["outcome"] == "denied");
    assert_eq!(
        stable(&record),
        json!({
            "audit_version": 1, "event": "tool_call", "principal": principal(),
            "method": "tools/call", "tool": "execute_command", "command": "echo ok; id -u", "timeout_ms": 30000,
            "decision": {
                "allowed": false, "rule": "allowlist", "refused": "id -u",
                "reason": "'id' is not in the allowlist (allowed: echo, sleep, ls)"
            },
            "outcome": "denied", "cancelled": false,
            "error": "command refused by policy: 'id' is not in the allowlist (allowed: echo, sleep, ls) [rule: allowlist; refused: id -u]"
        })
    );
}

#[test]
fn auth_failures_and_host_rejections_are_recorded() {
    let daemon = audited(&[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    assert_eq!(daemon.post_with(&[("X-MCP-Auth-Token", "wrong")], body).status, 401);
    let record = daemon.record(|r| r["event"] == "auth_failure");
    assert_eq!(
        stable(&record),
        json!({
            "audit_version": 1, "event": "auth_failure", "principal": "anonymous",
            "reason": "token", "detail": "wrong token", "http_status": 401
        })
    );
    let response = daemon.request("POST", "/mcp", &[("Host", "evil.example"), ("X-MCP-Auth-Token", TOKEN)], body);
    assert_eq!(response.status, 403);
    let record = daemon.record(|r| r["event"] == "request_rejected");
    assert_eq!(record["reason"], "host_origin");
    assert!(record["detail"].as_str().unwrap().contains("evil.example"), "{record}");
    assert_eq!(record["http_status"], 403);
}

#[test]
fn protocol_errors_are_recorded() {
    let daemon = audited(&[]);
    daemon.post_with(&[("X-MCP-Auth-Token", TOKEN)], "{not json");
    let record = daemon.record(|r| r["event"] == "protocol_error");
    assert_eq!(record["code"], -32700);
    daemon.post(&json!({ "jsonrpc": "2.0", "id": 7, "method": "no/such" }));
    let record = daemon.record(|r| r["event"] == "protocol_error" && r["method"] == "no/such");
    assert_eq!(record["code"], -32601);
}

#[test]
fn a_timeout_is_recorded_as_such() {
    let daemon = audited(&[]);
    daemon.execute(json!({ "command": "sleep 5", "timeout": "300ms" }));
    let record = daemon.record(|r| r["outcome"] == "timeout");
    assert_eq!(record["timed_out"], true);
    assert_eq!(record["command"], "sleep 5");
    assert_eq!(record["timeout_ms"], 300);
    assert!(record["signal"].is_string() || record["exit_code"].is_i64(), "{record}");
}

#[test]
fn a_cancelled_call_is_recorded_as_cancelled() {
    let daemon = audited(&[]);
    let stream = open_call(daemon.port, json!(42), "sleep 30", "application/json", None);
    std::thread::sleep(Duration::from_millis(300));
    drop(stream);
    let record = daemon.record(|r| r["outcome"] == "cancelled");
    assert_eq!(record["cancelled"], true);
    assert_eq!(record["command"], "sleep 30");
    assert_eq!(record["tool"], "execute_command");
}

#[test]
fn a_background_job_is_recorded_when_it_starts_and_when_it_ends() {
    let daemon = audited(&[("MCP_BACKGROUND_COMMANDS", "true")]);
    let started = daemon.call_tool("start_command", json!({ "command": "sleep 0.2; echo done" }));
    let job = started["structuredContent"]["id"].clone();
    let start = daemon.record(|r| r["event"] == "tool_call" && r["tool"] == "start_command");
    assert_eq!(start["job"], job);
    assert_eq!(start["decision"]["allowed"], true);
    let end = daemon.record(|r| r["event"] == "job_end");
    assert_eq!(end["job"], job);
    assert_eq!(end["request_id"], start["request_id"]);
    assert_eq!(
        (end["outcome"].as_str(), end["exit_code"].as_i64(), end["stdout_bytes"].as_u64()),
        (Some("ok"), Some(0), Some(5))
    );
}

#[test]
fn secrets_appear_nowhere_in_stdout_or_stderr() {
    let daemon = audited(&[("MCP_AUDIT_REDACT", "--password[= ]\\S+")]);
    daemon.execute(json!({ "command": "echo --password=letmein", "env": { "API_KEY": SECRET_VALUE } }));
    daemon.execute(json!({ "command": "id --password letmein", "env": { "API_KEY": SECRET_VALUE } }));
    daemon.post_with(&[("X-MCP-Auth-Token", "almost-the-token")], "{}");
    daemon.record(|r| r["event"] == "auth_failure");
    let record = daemon.record(|r| r["outcome"] == "denied");
    assert_eq!(record["command"], "id [REDACTED]");
    let everything = format!("{}\n{}", daemon.audit.lock().unwrap().join("\n"), daemon.log.lock().unwrap().join("\n"));
    for secret in [TOKEN, SECRET_VALUE, "letmein", "almost-the-token"] {
        assert!(!everything.contains(secret), "{secret} was written:\n{everything}");
    }
}

fn verify(log: &str, key: Option<&str>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-commander"));
    command.args(["audit", "verify", "-"]).env_clear().stdin(Stdio::piped()).stdout(Stdio::piped());
    if let Some(key) = key {
        command.env("MCP_AUDIT_HMAC_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(log.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

fn some_records(daemon: &Daemon, count: usize) -> Vec<String> {
    for i in 0..count {
        daemon.execute(json!({ "command": format!("echo {i}") }));
    }
    assert!(eventually(Duration::from_secs(5), || daemon.audit.lock().unwrap().len() >= count));
    daemon.audit.lock().unwrap().clone()
}

#[test]
fn the_daemons_log_verifies_and_tampering_is_found_at_its_line() {
    let daemon = audited(&[]);
    let lines = some_records(&daemon, 5);
    let (ok, report) = verify(&format!("some other line\n{}\n", lines.join("\n")), None);
    assert!(ok && report.starts_with("OK: 5 records"), "{report}");
    let mut deleted = lines.clone();
    deleted.remove(2);
    let (ok, report) = verify(&deleted.join("\n"), None);
    assert!(!ok && report.contains("line 3") && report.contains("deleted"), "{report}");
    let mut edited = lines.clone();
    edited[3] = edited[3].replace("echo 3", "echo 9");
    let (ok, report) = verify(&edited.join("\n"), None);
    assert!(!ok && report.contains("line 4") && report.contains("edited"), "{report}");
    let mut reordered = lines.clone();
    reordered.swap(0, 1);
    let (ok, report) = verify(&reordered.join("\n"), None);
    assert!(!ok && report.contains("line 1"), "{report}");
    let mut inserted = lines.clone();
    inserted.insert(2, lines[4].clone());
    let (ok, report) = verify(&inserted.join("\n"), None);
    assert!(!ok && report.contains("line 3"), "{report}");
}

#[test]
fn with_an_hmac_key_a_chain_rebuilt_without_it_fails() {
    let key = "an audit key of some length";
    let daemon = audited(&[("MCP_AUDIT_HMAC_KEY", key)]);
    let lines = some_records(&daemon, 3);
    let (ok, report) = verify(&lines.join("\n"), Some(key));
    assert!(ok, "{report}");
    let (ok, _) = verify(&lines.join("\n"), None);
    assert!(!ok, "the keyed chain verified without the key");
    let (ok, report) = verify(&lines.join("\n"), Some("another key of some length"));
    assert!(!ok && report.contains("line 1"), "{report}");
}

#[test]
fn when_the_audit_cannot_keep_up_refuse_mode_runs_no_unrecorded_command() {
    // Nobody reads this daemon's stdout: once the pipe and the one-record
    // queue are full, no record can be written.
    let daemon =
        Daemon::start_with_stdout(&[("MCP_AUDIT_BUFFER", "1"), ("MCP_AUDIT_ON_FULL", "refuse")], DaemonStdout::Unread);
    let port = daemon.port;
    let long = "x".repeat(4000);
    let mut refused = None;
    for _ in 0..200 {
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "execute_command", "arguments": { "command": format!("echo {long}") } }
        })
        .to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        if reply.contains("no record, no command") {
            refused = Some(reply);
            break;
        }
    }
    drop(daemon);
    let reply = refused.expect("commands kept running with the audit log stuck");
    assert!(reply.contains("\"isError\":true"), "{reply}");
}
