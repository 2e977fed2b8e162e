//! Overload and hostile clients: a cap on running commands with a bounded
//! queue (busy beyond it, 503 and Retry-After where the era allows), a cap
//! on connections, a rate limit on failed authentication per address,
//! slow-loris connections that must not starve a normal client, and
//! oversized or deeply nested input refused with the limit named.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Daemon, TOKEN, call_body, eventually, execute_in_background, metric, raw_request};
use serde_json::{Value, json};

const LIST: &str = r#"{"jsonrpc":"2.0","method":"tools/list","id":1}"#;

fn modern_call(daemon: &Daemon, command: &str) -> common::Response {
    let body = json!({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{
        "name":"execute_command","arguments":{"command":command},
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",
                 "io.modelcontextprotocol/clientCapabilities":{},
                 "io.modelcontextprotocol/clientInfo":{"name":"test","version":"1"}}}});
    daemon.post_with(
        &[("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "execute_command")],
        &body.to_string(),
    )
}

#[test]
fn calls_beyond_the_slots_and_the_queue_are_refused_as_busy_and_nothing_is_lost() {
    let daemon = Daemon::start(&[("MCP_MAX_CONCURRENT_COMMANDS", "2"), ("MCP_COMMAND_QUEUE", "1")]);
    let running: Vec<_> = (0..3).map(|_| execute_in_background(daemon.port, "sleep 1.5; echo done")).collect();
    assert!(
        eventually(Duration::from_secs(5), || metric(daemon.port, "mcp_commander_commands_in_flight") == 2.0
            && metric(daemon.port, "mcp_commander_commands_queued") == 1.0),
        "two commands run and one waits"
    );

    // Legacy era: a JSON-RPC error with HTTP 200 (SDKs drop non-2xx bodies), Retry-After anyway.
    let started = Instant::now();
    let legacy = daemon.post_with(&[], &call_body("echo never"));
    assert!(started.elapsed() < Duration::from_millis(500), "a full queue refuses at once");
    assert_eq!(legacy.status, 200, "{}", legacy.body);
    assert_eq!(legacy.error_code(), -32003);
    let message = legacy.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("MCP_MAX_CONCURRENT_COMMANDS") && message.contains("MCP_COMMAND_QUEUE"), "{message}");
    assert_eq!(legacy.json()["error"]["data"]["retryAfterSeconds"], 1);
    assert_eq!(legacy.header("retry-after"), Some("1"));

    // 2026-07-28: HTTP 503 with Retry-After.
    let modern = modern_call(&daemon, "echo never");
    assert_eq!(modern.status, 503, "{}", modern.body);
    assert_eq!(modern.error_code(), -32003);
    assert_eq!(modern.header("retry-after"), Some("1"));

    // The admitted calls, queued one included, all complete.
    for handle in running {
        let response = handle.join().unwrap();
        let result = &response.json()["result"]["structuredContent"];
        assert_eq!(result["stdout"], "done\n", "{}", response.body);
    }
    assert_eq!(metric(daemon.port, "mcp_commander_commands_queued"), 0.0);
    let refused = daemon.record(|r| r["outcome"] == "busy");
    assert_eq!(refused["tool"], "execute_command");
    assert!(daemon.logged("server busy"));
    // Capacity is back.
    let after = daemon.post_with(&[], &call_body("echo again"));
    assert_eq!(after.json()["result"]["structuredContent"]["stdout"], "again\n", "{}", after.body);
}

#[test]
fn a_queued_call_gives_up_after_the_queue_timeout() {
    let daemon = Daemon::start(&[
        ("MCP_MAX_CONCURRENT_COMMANDS", "1"),
        ("MCP_COMMAND_QUEUE", "4"),
        ("MCP_QUEUE_TIMEOUT", "300ms"),
    ]);
    let holder = execute_in_background(daemon.port, "sleep 2");
    assert!(eventually(Duration::from_secs(5), || metric(daemon.port, "mcp_commander_commands_in_flight") == 1.0));
    let started = Instant::now();
    let refused = daemon.post_with(&[], &call_body("echo late"));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_millis(1500), "{waited:?}");
    assert_eq!(refused.error_code(), -32003);
    assert!(refused.body.contains("MCP_QUEUE_TIMEOUT"), "{}", refused.body);
    assert_eq!(holder.join().unwrap().status, 200);
}

#[test]
fn connections_beyond_the_cap_get_503_and_the_served_ones_still_work() {
    let daemon = Daemon::start(&[("MCP_MAX_CONNECTIONS", "8")]);
    let idle: Vec<TcpStream> = (0..7).map(|_| TcpStream::connect(("127.0.0.1", daemon.port)).unwrap()).collect();
    assert!(eventually(Duration::from_secs(5), || {
        // The metrics request itself holds the eighth connection.
        metric(daemon.port, "mcp_commander_connections_open") == 8.0
    }));
    // The eighth is served (once the metrics request has closed); the
    // ninth is answered 503 and closed without being read.
    let _eighth = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut ninth = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    ninth.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = ninth.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer:?}");
    assert!(answer.contains("MCP_MAX_CONNECTIONS"), "{answer:?}");
    drop((idle, _eighth));
    assert!(eventually(Duration::from_secs(5), || daemon.post_with(&[], LIST).status == 200));
    assert!(metric(daemon.port, "mcp_commander_connections_refused_total") >= 1.0);
}

#[test]
fn repeated_failed_authentication_is_rate_limited_per_address() {
    let daemon =
        Daemon::start(&[("MCP_AUTH_TOKEN", TOKEN), ("MCP_AUTH_FAILURE_LIMIT", "5"), ("MCP_AUTH_FAILURE_WINDOW", "2s")]);
    for _ in 0..5 {
        assert_eq!(daemon.post_with(&[("X-MCP-Auth-Token", "guess")], LIST).status, 401);
    }
    let limited = daemon.post_with(&[("X-MCP-Auth-Token", "guess")], LIST);
    assert_eq!(limited.status, 429, "{}", limited.body);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(limited.body.contains("MCP_AUTH_FAILURE_LIMIT"), "{}", limited.body);
    // While blocked, even the right token waits: guessing cannot go on.
    assert_eq!(daemon.post_with(&[("X-MCP-Auth-Token", TOKEN)], LIST).status, 429);
    // Another address is not affected (127.0.0.2 is loopback too).
    assert_eq!(status_from("127.0.0.2", daemon.port, TOKEN), 200);
    let record = daemon.record(|r| r["event"] == "auth_failure" && r["reason"] == "rate_limited");
    assert_eq!(record["http_status"], 429);
    // After the window the address may try again.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(daemon.post_with(&[("X-MCP-Auth-Token", TOKEN)], LIST).status, 200);
}

/// One request from a chosen loopback source address, with curl; the
/// HTTP status.
fn status_from(source: &str, port: u16, token: &str) -> u16 {
    let output = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", source, "-X", "POST"])
        .args(["-H", "Content-Type: application/json", "-H", &format!("X-MCP-Auth-Token: {token}")])
        .args(["--data", LIST, &format!("http://127.0.0.1:{port}/mcp")])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or(0)
}

#[test]
fn five_hundred_slow_loris_connections_do_not_starve_a_normal_client() {
    let daemon = Daemon::start(&[("MCP_HEADER_TIMEOUT", "3s")]);
    // Each sends part of a request head and then a byte now and then,
    // never finishing it.
    let mut slow: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
            stream.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a").unwrap();
            stream
        })
        .collect();
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    while started.elapsed() < Duration::from_millis(1500) {
        for stream in slow.iter_mut().take(50) {
            let _ = stream.write_all(b"a");
        }
        let asked = Instant::now();
        let response =
            raw_request(daemon.port, "POST", "/mcp", &[("Content-Type", "application/json")], LIST.as_bytes());
        worst = worst.max(asked.elapsed());
        assert_eq!(response.status, 200);
        let executed = daemon.post_with(&[], &call_body("echo served"));
        assert_eq!(executed.json()["result"]["structuredContent"]["stdout"], "served\n");
    }
    assert!(worst < Duration::from_millis(500), "a normal request waited {worst:?} behind slow clients");
    // The header timeout closes them: each read sees the end (or a 408).
    std::thread::sleep(Duration::from_millis(3500));
    let mut closed = 0;
    for stream in &mut slow {
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut buffer = [0u8; 256];
        match stream.read(&mut buffer) {
            Ok(0) => closed += 1,
            Ok(n) if String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 408") => closed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {}
        }
    }
    assert_eq!(closed, 500, "every slow connection was closed by the header timeout");
}

#[test]
fn oversized_and_deeply_nested_input_is_refused_with_the_limit_named() {
    let daemon = Daemon::start(&[("MCP_MAX_BODY_BYTES", "65536"), ("MCP_MAX_COMMAND_BYTES", "1000")]);
    // Body over the limit: 413.
    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#, "a".repeat(70_000));
    let response = daemon.post_with(&[], &big);
    assert_eq!(response.status, 413);
    assert!(response.body.contains("MCP_MAX_BODY_BYTES"), "{}", response.body);
    // Headers over 64 KiB: 431.
    let huge = "h".repeat(70 * 1024);
    let response = daemon.post_with(&[("X-Huge", &huge)], LIST);
    assert_eq!(response.status, 431);
    // Nesting deeper than MCP_MAX_JSON_DEPTH: 400, -32600, the limit named.
    let mut deep = json!("x");
    for _ in 0..40 {
        deep = json!({ "a": deep });
    }
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"execute_command","arguments":{"command":"echo hi","env":deep}}});
    let response = daemon.post_with(&[], &body.to_string());
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.error_code(), -32600);
    assert!(response.body.contains("MCP_MAX_JSON_DEPTH"), "{}", response.body);
    // Deeper than the JSON parser's own limit: a parse error, not a crash.
    let response = daemon.post_with(&[], &format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)));
    assert_eq!(response.status, 400);
    assert_eq!(response.error_code(), -32700);
    // A method or id longer than 256 bytes.
    let long = json!({"jsonrpc":"2.0","id":1,"method":"m".repeat(10_000)});
    let response = daemon.post_with(&[], &long.to_string());
    assert_eq!(response.status, 400);
    assert!(response.body.contains("'method' is 10000 bytes"), "{}", response.body);
    assert!(response.body.len() < 1000, "the refusal does not echo the input");
    // Tool arguments past their limits are tool errors the model can read.
    for (arguments, expected) in [
        (json!({"command": "x".repeat(2000)}), "MCP_MAX_COMMAND_BYTES"),
        (json!({"command": "echo", "working_directory": format!("/{}", "d".repeat(5000))}), "working_directory"),
        (json!({"command": "echo", "env": {"K": "v".repeat(40_000)}}), "env"),
    ] {
        let response = daemon.post_with(
            &[],
            &json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"execute_command","arguments":arguments}})
            .to_string(),
        );
        let result: Value = response.json()["result"].clone();
        assert_eq!(result["isError"], true, "{}", response.body);
        let error = result["structuredContent"]["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(expected), "{expected}: {error}");
    }
    // The daemon is still well.
    assert_eq!(daemon.post_with(&[], LIST).status, 200);
}

#[test]
fn idle_keep_alive_and_slow_body_connections_are_closed_by_their_timeouts() {
    let daemon = Daemon::start(&[("MCP_HEADER_TIMEOUT", "1s"), ("MCP_BODY_TIMEOUT", "1s")]);
    let closed_after = |stream: &mut TcpStream| {
        let started = Instant::now();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        (started.elapsed(), String::from_utf8_lossy(&answer).to_string())
    };
    // A connection that never sends a byte.
    let mut idle = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    let (took, answer) = closed_after(&mut idle);
    assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(3), "{took:?}");
    assert!(answer.is_empty(), "{answer}");
    // A keep-alive connection idle after one answered request.
    let mut kept = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{LIST}",
        LIST.len()
    );
    kept.write_all(request.as_bytes()).unwrap();
    let (took, answer) = closed_after(&mut kept);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(3), "the idle keep-alive connection was closed after {took:?}");
    // A body that never completes: 408 after the body timeout.
    let mut slow = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"").unwrap();
    let (took, answer) = closed_after(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("not received in time"), "{answer}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}
