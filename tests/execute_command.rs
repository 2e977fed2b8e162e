//! `execute_command` end to end through the HTTP daemon: results, input
//! errors, timeouts that kill the whole tree, output caps, and an
//! environment that never carries the daemon's secrets.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, TOKEN, eventually, marker, processes_with};
use serde_json::json;

#[test]
fn echo_returns_stdout_exit_code_and_matching_text_block() {
    let daemon = Daemon::with_token();
    let result = daemon.call_tool("execute_command", json!({ "command": "echo hi; echo oops >&2" }));
    assert_eq!(result["isError"], false);
    let structured = &result["structuredContent"];
    assert_eq!(structured["stdout"], "hi\n");
    assert_eq!(structured["stderr"], "oops\n");
    assert_eq!(structured["exit_code"], 0);
    assert_eq!(structured["signal"], serde_json::Value::Null);
    assert_eq!(structured["timed_out"], false);
    assert_eq!(structured["truncated"], false);
    assert!(structured["duration_ms"].is_u64());
    let text: serde_json::Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(&text, structured, "the text block holds the same JSON");
}

#[test]
fn non_zero_exit_is_an_error_result_with_the_code() {
    let daemon = Daemon::with_token();
    let result = daemon.call_tool("execute_command", json!({ "command": "exit 3" }));
    assert_eq!(result["isError"], true);
    assert_eq!(result["structuredContent"]["exit_code"], 3);
    assert!(result["structuredContent"]["error"].as_str().unwrap().contains("status 3"));
}

#[test]
fn timeout_kills_the_whole_tree_within_bounds() {
    let daemon = Daemon::with_token();
    let mark = marker("timeout");
    let command = format!("sleep 30 & sleep 30; echo never # {mark}");
    let command = command.replace("sleep 30", &format!("sh -c 'sleep 30; : {mark}'"));
    let started = Instant::now();
    let result = daemon.execute(json!({ "command": command, "timeout": "1s" }));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "returned after {elapsed:?}");
    assert_eq!(result["timed_out"], true);
    assert_eq!(result["stdout"], "");
    assert!(result["error"].as_str().unwrap().contains("timed out"));
    assert!(
        eventually(Duration::from_secs(1), || processes_with(&mark).is_empty()),
        "survivors: {:?}",
        processes_with(&mark)
    );
}

/// Zombie children of process `pid` (over all its threads).
fn zombie_children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let children: Vec<u32> = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect();
    children
        .into_iter()
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
        })
        .collect()
}

/// A subshell's background child outlives its parent and is killed with
/// the group at the end of the call. With PID namespaces it was reparented
/// to the command's leader and dies with the namespace; without them it
/// was reparented to the daemon (a subreaper), which reaps it on SIGCHLD.
/// Either way no zombie stays under the daemon.
#[test]
fn orphans_of_commands_leave_no_zombie_under_the_daemon() {
    let without_namespaces = [("MCP_SANDBOX_DISABLE", "pid_namespace"), ("MCP_SANDBOX_REQUIRE", "")];
    for env in [&[][..], &without_namespaces[..]] {
        let daemon = Daemon::start(env);
        let mark = marker("orphan");
        for _ in 0..3 {
            let command = format!("(sh -c 'sleep 30; : {mark}' &); sleep 0.2; echo left");
            let result = daemon.execute(json!({ "command": command }));
            assert_eq!(result["stdout"], "left\n", "{env:?}: {result}");
        }
        assert!(
            eventually(Duration::from_secs(3), || processes_with(&mark).is_empty()
                && zombie_children(daemon.pid()).is_empty()),
            "{env:?}: survivors {:?}, zombies of the daemon {:?}",
            processes_with(&mark),
            zombie_children(daemon.pid())
        );
    }
}

#[test]
fn a_command_that_ignores_sigterm_is_killed_after_the_grace() {
    let daemon = Daemon::start(&[("MCP_KILL_GRACE", "200ms")]);
    let mark = marker("trap");
    let command = format!("trap '' TERM; sh -c 'trap \"\" TERM; sleep 30; : {mark}' & sleep 30");
    let started = Instant::now();
    let result = daemon.execute(json!({ "command": command, "timeout": 0.5 }));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(result["timed_out"], true);
    assert_eq!(result["signal"], "SIGKILL");
    assert!(eventually(Duration::from_secs(1), || processes_with(&mark).is_empty()));
}

#[test]
fn the_grace_ends_as_soon_as_the_tree_has_handled_sigterm() {
    let daemon = Daemon::start(&[("MCP_KILL_GRACE", "5s")]);
    // Children that exit on SIGTERM, one after saying goodbye: the call
    // does not wait out the 5 s grace.
    let command = "sh -c 'trap \"echo bye; exit 0\" TERM; sleep 30 & wait' & sleep 30";
    let started = Instant::now();
    let result = daemon.execute(json!({ "command": command, "timeout": "300ms" }));
    let took = started.elapsed();
    assert_eq!(result["timed_out"], true, "{result}");
    assert!(took < Duration::from_secs(2), "the call took {took:?} with nothing left to wait for");
    assert_eq!(result["stdout"], "bye\n", "the child's TERM trap ran: {result}");
}

#[test]
fn background_children_do_not_outlive_a_finished_call() {
    let daemon = Daemon::with_token();
    let mark = marker("bg");
    let result = daemon.execute(json!({ "command": format!("sh -c 'sleep 30; : {mark}' & echo started") }));
    assert_eq!(result["stdout"], "started\n");
    assert_eq!(result["exit_code"], 0);
    assert!(eventually(Duration::from_secs(1), || processes_with(&mark).is_empty()));
}

#[test]
fn the_daemon_token_and_variables_never_reach_a_command() {
    let daemon = Daemon::start(&[
        ("MCP_AUTH_TOKEN", TOKEN),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret"),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x"),
        ("DAEMON_ONLY_VARIABLE", "x"),
    ]);
    let result = daemon.execute(json!({ "command": "echo \"[$MCP_AUTH_TOKEN]\"" }));
    assert_eq!(result["stdout"], "[]\n");
    let env = daemon.execute(json!({ "command": "env" }))["stdout"].as_str().unwrap().to_string();
    for secret in ["MCP_", TOKEN, "AWS_", "aws-secret", "DAEMON_ONLY_VARIABLE"] {
        assert!(!env.contains(secret), "{secret} leaked into: {env}");
    }
    assert!(env.contains("PATH="));
}

#[test]
fn operator_named_variables_and_request_env_reach_the_command() {
    let daemon = Daemon::start(&[("MCP_ENV_PASSTHROUGH", "GOPATH"), ("GOPATH", "/go")]);
    let result = daemon.execute(json!({ "command": "echo $GOPATH $GREETING", "env": { "GREETING": "hello" } }));
    assert_eq!(result["stdout"], "/go hello\n");
}

#[test]
fn output_beyond_the_cap_keeps_head_and_tail_with_an_exact_marker() {
    let daemon = Daemon::start(&[("MCP_MAX_OUTPUT_BYTES", "1000")]);
    let result = daemon.execute(json!({ "command": "printf 'H%.0s' $(seq 600); head -c 4998800 /dev/zero | tr '\\0' x; printf 'T%.0s' $(seq 600)" }));
    assert_eq!(result["truncated"], true);
    assert_eq!(result["stdout_bytes"], 5_000_000);
    assert_eq!(result["exit_code"], 0, "the writer was never blocked on a full pipe");
    let expected = format!(
        "{}\n[... 4999000 bytes dropped: output was 5000000 bytes, kept the first 600 and the last 400 ...]\n{}",
        "H".repeat(600),
        "T".repeat(400)
    );
    assert_eq!(result["stdout"], expected);
}

#[test]
fn max_output_bytes_lowers_but_never_raises_the_cap() {
    let daemon = Daemon::start(&[("MCP_MAX_OUTPUT_BYTES", "1000")]);
    let lowered = daemon.execute(json!({ "command": "seq 1000", "max_output_bytes": 100 }));
    assert_eq!(lowered["truncated"], true);
    let text = lowered["stdout"].as_str().unwrap();
    assert!(text.starts_with("1\n2\n") && text.contains("kept the first 60 and the last 40"), "{text}");
    let raised = daemon.execute(json!({ "command": "seq 1000", "max_output_bytes": 1_000_000 }));
    assert!(raised["stdout"].as_str().unwrap().contains("kept the first 600 and the last 400"), "{raised}");
    let bad = daemon.call_tool("execute_command", json!({ "command": "true", "max_output_bytes": 0 }));
    assert_eq!(bad["isError"], true);
}

#[test]
fn stdin_is_fed_to_the_command_within_its_limit() {
    let daemon = Daemon::start(&[("MCP_MAX_STDIN_BYTES", "64K")]);
    let echoed = daemon.execute(json!({ "command": "tr a-z A-Z; echo done", "stdin": "hello\nworld\n" }));
    assert_eq!(echoed["stdout"], "HELLO\nWORLD\ndone\n");
    let large = "y".repeat(60_000);
    let counted = daemon.execute(json!({ "command": "wc -c", "stdin": large }));
    assert_eq!(counted["stdout"].as_str().unwrap().trim(), "60000");
    let ignored = daemon.execute(json!({ "command": "echo no reader", "stdin": "z".repeat(60_000) }));
    assert_eq!(ignored["stdout"], "no reader\n", "a command that never reads stdin is not held up");
    let without = daemon.execute(json!({ "command": "cat; echo end" }));
    assert_eq!(without["stdout"], "end\n", "without stdin the command reads end of file at once");
    let too_big = daemon.call_tool("execute_command", json!({ "command": "cat", "stdin": "z".repeat(70_000) }));
    assert_eq!(too_big["isError"], true);
    assert!(too_big["structuredContent"]["error"].as_str().unwrap().contains("MCP_MAX_STDIN_BYTES"));
}

#[test]
fn working_directory_is_used_and_validated() {
    let daemon = Daemon::with_token();
    let dir = tempfile::tempdir().unwrap();
    let result = daemon.execute(json!({ "command": "pwd", "working_directory": dir.path() }));
    assert_eq!(result["stdout"], format!("{}\n", dir.path().display()));
    let result =
        daemon.call_tool("execute_command", json!({ "command": "pwd", "working_directory": "/nonexistent/dir" }));
    assert_eq!(result["isError"], true);
    assert!(result["structuredContent"]["error"].as_str().unwrap().contains("/nonexistent/dir"));
    let default_dir = daemon.execute(json!({ "command": "pwd" }))["stdout"].as_str().unwrap().trim().to_string();
    assert!(default_dir.contains("mcp-commander-"), "default is the scratch dir, got {default_dir}");
}

#[test]
fn invalid_inputs_are_error_results_not_protocol_errors() {
    let daemon = Daemon::with_token();
    for (arguments, expected) in [
        (json!({}), "'command' is required"),
        (json!({ "command": "" }), "empty"),
        (json!({ "command": 5 }), "must be a string"),
        (json!({ "command": "true", "timeout": "soon" }), "30s"),
        (json!({ "command": "true", "timeout": "2h" }), "maximum"),
        (json!({ "command": "true", "timeout": 0 }), "greater than zero"),
        (json!({ "command": "true", "env": { "A": 1 } }), "must be a string"),
        (json!({ "command": "true", "env": { "A=B": "x" } }), "not a valid variable name"),
    ] {
        let result = daemon.call_tool("execute_command", arguments.clone());
        assert_eq!(result["isError"], true, "{arguments}");
        let error = result["structuredContent"]["error"].as_str().unwrap();
        assert!(error.contains(expected), "{arguments}: {error}");
    }
}

#[test]
fn timeouts_accept_go_durations_and_seconds() {
    let daemon = Daemon::with_token();
    for timeout in [json!("1m30s"), json!("500ms"), json!(2), json!(0.5), json!("45")] {
        let result = daemon.execute(json!({ "command": "true", "timeout": timeout }));
        assert_eq!(result["exit_code"], 0, "{timeout}");
    }
}

#[test]
fn a_missing_shell_is_reported_at_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-commander"))
        .env("MCP_SHELL", "/no/such/shell")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("MCP_SHELL"));
}

#[test]
fn policy_refusals_say_which_rule_refused() {
    let daemon = Daemon::start(&[("MCP_ALLOWED_COMMANDS", "echo,ls")]);
    for command in ["echox; cat /etc/shadow", "echo ok; cat /etc/shadow", "echo $(id)", "id"] {
        let result = daemon.call_tool("execute_command", json!({ "command": command }));
        assert_eq!(result["isError"], true, "{command}");
        let error = result["structuredContent"]["error"].as_str().unwrap();
        assert!(error.contains("allowlist"), "{command}: {error}");
    }
    assert_eq!(daemon.execute(json!({ "command": "echo ok | ls /" }))["exit_code"], 0);
    let daemon = Daemon::start(&[]);
    let result = daemon.call_tool("execute_command", json!({ "command": "/bin/rm -r -f /" }));
    assert!(result["structuredContent"]["error"].as_str().unwrap().contains("rm -rf /"));
    assert_eq!(daemon.execute(json!({ "command": "echo halting" }))["stdout"], "halting\n");
}

#[test]
fn listing_tools_keep_the_old_field_names() {
    let daemon = Daemon::start(&[("MCP_ALLOWED_COMMANDS", "ls, git status"), ("MCP_BLOCKED_COMMANDS", "curl")]);
    let allowed = daemon.call_tool("list_allowed_commands", json!({}))["structuredContent"].clone();
    assert_eq!(allowed["allowed_commands"], json!(["ls", "git status"]));
    assert_eq!(allowed["allow_all"], false);
    let wrappers = allowed["wrappers"].as_array().unwrap();
    let find = wrappers.iter().find(|row| row["programs"] == json!(["find"])).unwrap();
    assert!(find["triggers"].as_array().unwrap().contains(&json!("-exec")), "{find}");
    let blocked = daemon.call_tool("list_blocked_commands", json!({}))["structuredContent"].clone();
    assert_eq!(blocked["using_default_blocklist"], true);
    assert!(blocked["blocked_commands"].as_array().unwrap().contains(&json!("curl")));
    assert!(blocked["blocked_commands"].as_array().unwrap().contains(&json!("rm -rf /")));
    let shell = daemon.call_tool("get_shell_info", json!({}))["structuredContent"].clone();
    assert_eq!(shell["shell"], "/bin/sh");
    assert_eq!(shell["shell_arg"], "-c");
    assert_eq!(shell["default_timeout"], "30s");
}

#[test]
fn fifty_concurrent_calls_all_succeed() {
    let daemon = Daemon::with_token();
    let results: Vec<serde_json::Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let daemon = &daemon;
                scope.spawn(move || daemon.execute(json!({ "command": format!("sleep 0.2; echo {i}") })))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["stdout"], format!("{i}\n"));
        assert_eq!(result["exit_code"], 0);
    }
}

#[test]
fn a_client_that_disconnects_takes_its_command_tree_down_at_once() {
    let daemon = Daemon::with_token();
    let mark = marker("disconnect");
    let command = format!("sh -c 'sleep 60; : {mark}' & sh -c 'sleep 60; : {mark}'");
    let stream = common::open_call(daemon.port, json!(1), &command, "application/json", None);
    assert!(eventually(Duration::from_secs(5), || processes_with(&mark).len() >= 2), "command did not start");
    let pids = processes_with(&mark);
    drop(stream);
    let closed = Instant::now();
    assert!(eventually(Duration::from_secs(2), || common::all_gone(&pids)), "tree survived the disconnect");
    let elapsed = closed.elapsed();
    eprintln!("tree gone {elapsed:?} after the disconnect");
    assert!(elapsed < Duration::from_millis(100), "tree gone only after {elapsed:?}");
}

#[test]
fn notifications_cancelled_over_http_kills_the_call_and_sends_no_reply() {
    use std::io::Read;
    let daemon = Daemon::with_token();
    let mark = marker("httpcancel");
    let command = format!("sh -c 'sleep 60; : {mark}' & sh -c 'sleep 60; : {mark}'");
    let mut stream = common::open_call(daemon.port, json!("c-42"), &command, "application/json", None);
    assert!(eventually(Duration::from_secs(5), || processes_with(&mark).len() >= 2), "command did not start");
    let pids = processes_with(&mark);
    let cancel = daemon.post(&json!({"jsonrpc":"2.0","method":"notifications/cancelled",
        "params":{"requestId":"c-42","reason":"user"}}));
    assert_eq!(cancel.status, 202);
    let cancelled = Instant::now();
    assert!(eventually(Duration::from_secs(1), || common::all_gone(&pids)), "tree survived the cancel");
    assert!(cancelled.elapsed() < Duration::from_millis(100), "tree gone only after {:?}", cancelled.elapsed());
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    assert!(reply.is_empty(), "a reply was sent after the cancel: {}", String::from_utf8_lossy(&reply));
}

#[test]
fn commands_the_parser_cannot_hold_are_refused_and_the_daemon_keeps_serving() {
    let daemon = Daemon::start(&[("MCP_MAX_COMMAND_BYTES", "1k")]);
    for (command, reason) in [
        ("echo hi 99999999999999999999>x", "cannot be checked"),
        ("echo 'unterminated", "not valid shell syntax"),
        (&"(".repeat(500), "nested more than"),
        (&format!("echo {}", "x".repeat(2000)), "MCP_MAX_COMMAND_BYTES"),
        ("echo a\u{0}b", "NUL"),
    ] {
        let result = daemon.call_tool("execute_command", json!({ "command": command }));
        assert_eq!(result["isError"], true, "{result}");
        let error = result["structuredContent"]["error"].as_str().unwrap();
        assert!(error.contains("command refused by policy") && error.contains(reason), "{error}");
    }
    assert_eq!(daemon.execute(json!({ "command": "echo still here" }))["stdout"], "still here\n");
}
