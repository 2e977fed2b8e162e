//! The stdio transport: concurrent requests, protocol-only stdout, bounded
//! lines and batches.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct StdioDaemon {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<String>,
}

impl StdioDaemon {
    fn start(env: &[(&str, &str)]) -> StdioDaemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-commander"));
        command
            .arg("--stdio")
            .env("MCP_LOG_LEVEL", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        StdioDaemon { child, stdin: Some(stdin), replies }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn reply(&self, within: Duration) -> Value {
        let line = self.replies.recv_timeout(within).expect("a reply line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line}"))
    }
}

impl Drop for StdioDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ping_is_answered_while_a_five_second_command_runs() {
    let mut daemon = StdioDaemon::start(&[]);
    daemon.send(
        &json!({"jsonrpc":"2.0","id":"slow","method":"tools/call",
        "params":{"name":"execute_command","arguments":{"command":"sleep 5; echo done"}}})
        .to_string(),
    );
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    daemon.send(r#"{"jsonrpc":"2.0","id":"ping","method":"ping"}"#);
    let first = daemon.reply(Duration::from_secs(2));
    assert_eq!(first["id"], "ping");
    assert_eq!(first["result"], json!({}));
    assert!(sent.elapsed() < Duration::from_secs(1));
    let second = daemon.reply(Duration::from_secs(10));
    assert_eq!(second["id"], "slow");
    assert_eq!(second["result"]["structuredContent"]["stdout"], "done\n");
}

#[test]
fn stdout_carries_only_protocol_messages_even_at_debug_level() {
    let mut daemon = StdioDaemon::start(&[]);
    daemon.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
    assert_eq!(daemon.reply(Duration::from_secs(5))["result"]["protocolVersion"], "2025-06-18");
    daemon.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    daemon.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    let reply = daemon.reply(Duration::from_secs(5));
    assert_eq!(reply["id"], 2, "the notification produced no line");
    assert_eq!(reply["result"]["tools"].as_array().unwrap().len(), 4);
}

#[test]
fn an_oversized_line_gets_an_error_reply_and_the_server_goes_on() {
    let mut daemon = StdioDaemon::start(&[("MCP_MAX_LINE_BYTES", "4096")]);
    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#, "y".repeat(100_000));
    daemon.send(&big);
    let reply = daemon.reply(Duration::from_secs(5));
    assert_eq!(reply["error"]["code"], -32600);
    assert!(reply["error"]["message"].as_str().unwrap().contains("MCP_MAX_LINE_BYTES"));
    daemon.send(r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#);
    assert_eq!(daemon.reply(Duration::from_secs(5))["id"], 2);
}

#[test]
fn malformed_lines_get_parse_errors() {
    let mut daemon = StdioDaemon::start(&[]);
    daemon.send("{nope");
    assert_eq!(daemon.reply(Duration::from_secs(5))["error"]["code"], -32700);
}

#[test]
fn a_batch_beyond_the_cap_is_refused_as_over_http_and_one_within_it_is_served() {
    let mut daemon = StdioDaemon::start(&[]);
    let batch = |len: usize| {
        let pings: Vec<Value> = (0..len).map(|id| json!({"jsonrpc":"2.0","id":id,"method":"ping"})).collect();
        Value::Array(pings).to_string()
    };
    daemon.send(&batch(33));
    let reply = daemon.reply(Duration::from_secs(5));
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    assert_eq!(reply["error"]["message"], "Invalid Request: a batch may hold at most 32 messages");
    assert_eq!(reply["id"], Value::Null);
    daemon.send(&batch(32));
    assert_eq!(daemon.reply(Duration::from_secs(5)).as_array().map(Vec::len), Some(32));
}

#[test]
fn modern_requests_over_stdio_are_checked_by_meta() {
    let mut daemon = StdioDaemon::start(&[]);
    let meta =
        json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}});
    daemon.send(&json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta": meta}}).to_string());
    let reply = daemon.reply(Duration::from_secs(5));
    assert_eq!(reply["result"]["resultType"], "complete");
}

#[test]
fn closing_stdin_ends_the_daemon_cleanly() {
    let mut daemon = StdioDaemon::start(&[]);
    daemon.send(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
    daemon.reply(Duration::from_secs(5));
    drop(daemon.stdin.take());
    let started = Instant::now();
    loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "daemon did not exit after stdin closed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of the live processes with `marker` in their command line.
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(marker))
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| !exited(pid))
        .collect()
}

/// Gone, or a zombie awaiting its reaper.
fn exited(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

#[test]
fn a_cancelled_call_loses_its_tree_and_gets_no_reply() {
    let mut daemon = StdioDaemon::start(&[]);
    let mark = format!("mcpcancel{}", std::process::id());
    let command = format!("sh -c 'sleep 60; : {mark}' & sh -c 'sleep 60; : {mark}'");
    daemon.send(
        &json!({"jsonrpc":"2.0","id":"long","method":"tools/call",
            "params":{"name":"execute_command","arguments":{"command": command}}})
        .to_string(),
    );
    let started = Instant::now();
    while processes_with(&mark).len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(5), "command did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pids = processes_with(&mark);
    assert!(pids.len() >= 2, "{pids:?}");
    daemon
        .send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"long","reason":"test"}}"#);
    let cancelled = Instant::now();
    while !pids.iter().all(|pid| exited(pid)) {
        assert!(cancelled.elapsed() < Duration::from_millis(100), "tree survived the cancel");
        std::thread::sleep(Duration::from_millis(5));
    }
    daemon.send(r#"{"jsonrpc":"2.0","id":"after","method":"ping"}"#);
    assert_eq!(daemon.reply(Duration::from_secs(5))["id"], "after", "a reply was sent for the cancelled call");
}

#[test]
fn progress_notifications_precede_the_result_on_stdout() {
    let mut daemon = StdioDaemon::start(&[]);
    daemon.send(
        &json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{
            "name":"execute_command","arguments":{"command":"for i in 1 2 3; do echo $i; sleep 1; done"},
            "_meta":{"progressToken":"p"}}})
        .to_string(),
    );
    let mut lines = String::new();
    loop {
        let message = daemon.reply(Duration::from_secs(10));
        if message["method"] == "notifications/progress" {
            assert_eq!(message["params"]["progressToken"], "p");
            lines.push_str(message["params"]["message"].as_str().unwrap());
            continue;
        }
        assert_eq!(message["id"], 3);
        break;
    }
    assert_eq!(lines, "1\n2\n3\n");
}
