//! Background commands: off by default; start, read, list, kill, limits,
//! expiry, and no orphan after the daemon restarts.

mod common;

use std::time::Duration;

use common::{Daemon, eventually, marker, processes_with};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

fn enabled(extra: &[(&'static str, &'static str)]) -> Daemon {
    let mut env = vec![("MCP_BACKGROUND_COMMANDS", "true")];
    env.extend_from_slice(extra);
    Daemon::start(&env)
}

fn start(daemon: &Daemon, arguments: Value) -> String {
    let result = daemon.call_tool("start_command", arguments);
    assert_eq!(result["isError"], false, "{result}");
    result["structuredContent"]["id"].as_str().unwrap().to_string()
}

fn read(daemon: &Daemon, arguments: Value) -> Value {
    daemon.call_tool("read_command_output", arguments)["structuredContent"].clone()
}

fn wait_finished(daemon: &Daemon, id: &str) -> Value {
    let mut state = Value::Null;
    assert!(
        eventually(Duration::from_secs(10), || {
            state = read(daemon, json!({ "id": id }));
            state["running"] == false
        }),
        "{state}"
    );
    state
}

#[test]
fn background_tools_are_off_by_default() {
    let daemon = Daemon::start(&[]);
    let list = daemon.post(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).json();
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 4);
    let response = daemon.post(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"start_command","arguments":{"command":"true"}}}));
    assert_eq!(response.error_code(), -32602);
}

#[test]
fn start_read_and_list_a_background_command() {
    let daemon = enabled(&[]);
    let list = daemon.post(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).json();
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 8);
    let id = start(&daemon, json!({ "command": "for i in 1 2 3; do echo line$i; sleep 0.3; done" }));
    let listed = daemon.call_tool("list_commands", json!({}))["structuredContent"]["commands"].clone();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["running"], true);
    let done = wait_finished(&daemon, &id);
    assert_eq!(done["exit_code"], 0);
    assert_eq!(done["output"], "line1\nline2\nline3\n");
    let first = read(&daemon, json!({ "id": id, "offset": 0, "max_bytes": 6 }));
    assert_eq!((first["output"].as_str(), first["next_offset"].as_u64()), (Some("line1\n"), Some(6)));
    let rest = read(&daemon, json!({ "id": id, "offset": 6 }));
    assert_eq!(rest["output"], "line2\nline3\n");
    let tail = read(&daemon, json!({ "id": id, "tail_bytes": 6 }));
    assert_eq!(tail["output"], "line3\n");
}

#[test]
fn kill_command_takes_the_whole_tree_down() {
    let daemon = enabled(&[]);
    let mark = marker("bgkill");
    let id = start(&daemon, json!({ "command": format!("sh -c 'sleep 60; : {mark}' & sleep 60") }));
    assert!(eventually(Duration::from_secs(5), || !processes_with(&mark).is_empty()));
    let killed = daemon.call_tool("kill_command", json!({ "id": id }))["structuredContent"].clone();
    assert_eq!(killed["killed"], true);
    assert!(eventually(Duration::from_secs(2), || processes_with(&mark).is_empty()), "tree survived kill_command");
    assert_eq!(read(&daemon, json!({ "id": id }))["killed"], true);
    let again = daemon.call_tool("kill_command", json!({ "id": id }))["structuredContent"].clone();
    assert_eq!(again["killed"], false);
    let unknown = daemon.call_tool("kill_command", json!({ "id": "cmd-999" }));
    assert_eq!(unknown["isError"], true);
}

#[test]
fn limits_bound_running_jobs_their_lifetime_their_output_and_their_retention() {
    let daemon = enabled(&[
        ("MCP_BACKGROUND_MAX_RUNNING", "1"),
        ("MCP_BACKGROUND_LIFETIME", "1s"),
        ("MCP_BACKGROUND_BUFFER_BYTES", "1K"),
        ("MCP_BACKGROUND_RETENTION", "2s"),
    ]);
    let sleeper = start(&daemon, json!({ "command": "sleep 30" }));
    let refused = daemon.call_tool("start_command", json!({ "command": "true" }));
    assert_eq!(refused["isError"], true);
    assert!(refused["structuredContent"]["error"].as_str().unwrap().contains("MCP_BACKGROUND_MAX_RUNNING"));
    let expired = wait_finished(&daemon, &sleeper);
    assert_eq!(expired["timed_out"], true, "the lifetime ends a job: {expired}");
    let flood = start(&daemon, json!({ "command": "seq 10000" }));
    let flooded = wait_finished(&daemon, &flood);
    assert_eq!(flooded["output_bytes"], 48894);
    let from_start = read(&daemon, json!({ "id": flood, "offset": 0 }));
    assert_eq!(from_start["dropped_bytes"], 48894 - 1024);
    assert_eq!(from_start["output"].as_str().unwrap().len(), 1024);
    assert!(from_start["output"].as_str().unwrap().ends_with("9999\n10000\n"));
    assert!(
        eventually(
            Duration::from_secs(5),
            || daemon.call_tool("read_command_output", json!({ "id": flood }))["isError"] == true
        ),
        "a finished job outlived its retention"
    );
}

#[test]
fn background_commands_obey_the_policy() {
    let daemon = enabled(&[("MCP_ALLOWED_COMMANDS", "echo")]);
    let refused = daemon.call_tool("start_command", json!({ "command": "id" }));
    assert_eq!(refused["isError"], true);
    assert!(refused["structuredContent"]["error"].as_str().unwrap().contains("allowlist"));
}

#[test]
fn a_daemon_restart_leaves_no_background_process() {
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        let mut daemon = enabled(&[]);
        let mark = marker("bgrestart");
        start(&daemon, json!({ "command": format!("sh -c 'sleep 60; : {mark}' & sleep 60") }));
        assert!(eventually(Duration::from_secs(5), || processes_with(&mark).len() >= 2));
        kill(Pid::from_raw(daemon.pid() as i32), signal).unwrap();
        daemon.child.wait().unwrap();
        assert!(
            eventually(Duration::from_secs(3), || processes_with(&mark).is_empty()),
            "{signal}: background processes outlived the daemon: {:?}",
            processes_with(&mark)
        );
    }
}
