//! Start-up configuration (flags, `MCP_*` variables, refusals) and the end
//! of the daemon's life (graceful shutdown on SIGTERM).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, eventually, marker, processes_with};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

fn run(env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-commander"));
    command.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout),
    )
}

#[test]
fn help_documents_every_option_and_its_variable() {
    let (ok, help) = run(&[], &["--help"]);
    assert!(ok);
    for variable in [
        "MCP_HOST",
        "MCP_PORT",
        "MCP_AUTH_TOKEN",
        "MCP_ALLOWED_COMMANDS",
        "MCP_BLOCKED_COMMANDS",
        "MCP_DEFAULT_TIMEOUT",
        "MCP_MAX_TIMEOUT",
        "MCP_SHELL",
        "MCP_SHELL_ARG",
        "MCP_LOG_LEVEL",
        "MCP_ALLOWED_HOSTS",
        "MCP_ALLOWED_ORIGINS",
        "MCP_MAX_BODY_BYTES",
        "MCP_ALLOW_UNAUTHENTICATED",
    ] {
        assert!(help.contains(variable), "--help does not mention {variable}");
    }
}

#[test]
fn a_bad_value_stops_the_start_naming_the_variable_and_the_forms() {
    for (variable, value, form) in [
        ("MCP_DEFAULT_TIMEOUT", "forever", "1m30s"),
        ("MCP_PORT", "http", "65535"),
        ("MCP_LOG_LEVEL", "loud", "access"),
        ("MCP_HOST", "not an address", "0.0.0.0"),
    ] {
        let (ok, stderr) = run(&[(variable, value)], &[]);
        assert!(!ok, "{variable}={value} was accepted");
        assert!(stderr.contains(variable) && stderr.contains(form), "{variable}: {stderr}");
    }
}

#[test]
fn the_daemon_refuses_a_public_address_without_a_token() {
    let (ok, stderr) = run(&[("MCP_HOST", "0.0.0.0")], &[]);
    assert!(!ok);
    assert!(stderr.contains("MCP_AUTH_TOKEN") && stderr.contains("--allow-unauthenticated"), "{stderr}");
}

#[test]
fn flags_win_over_variables_which_win_over_defaults() {
    let daemon = Daemon::start_with_args(&[("MCP_DEFAULT_TIMEOUT", "45s")], &[]);
    assert_eq!(daemon.call_tool("get_shell_info", json!({}))["structuredContent"]["default_timeout"], "45s");
    let daemon = Daemon::start_with_args(&[("MCP_DEFAULT_TIMEOUT", "45s")], &["--default-timeout", "1m30s"]);
    assert_eq!(daemon.call_tool("get_shell_info", json!({}))["structuredContent"]["default_timeout"], "1m30s");
    let daemon = Daemon::start(&[]);
    assert_eq!(daemon.call_tool("get_shell_info", json!({}))["structuredContent"]["default_timeout"], "30s");
}

#[test]
fn sigterm_lets_in_flight_calls_finish_then_exits_zero() {
    let mut daemon = Daemon::start(&[("MCP_SHUTDOWN_GRACE", "5s")]);
    let port = daemon.port;
    let call = std::thread::spawn(move || {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"execute_command","arguments":{"command":"sleep 1; echo finished"}}});
        common::raw_request(port, "POST", "/mcp", &[], body.to_string().as_bytes())
    });
    std::thread::sleep(Duration::from_millis(300));
    kill(Pid::from_raw(daemon.pid() as i32), Signal::SIGTERM).unwrap();
    let response = call.join().unwrap();
    assert_eq!(response.json()["result"]["structuredContent"]["stdout"], "finished\n");
    let status = daemon.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn sigterm_kills_commands_that_outlast_the_grace_period() {
    let mut daemon = Daemon::start(&[("MCP_SHUTDOWN_GRACE", "500ms")]);
    let port = daemon.port;
    let mark = marker("shutdown");
    let command = format!("sh -c 'sleep 60; : {mark}'");
    let call = std::thread::spawn(move || {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"execute_command","arguments":{"command": command}}});
        common::raw_request(port, "POST", "/mcp", &[], body.to_string().as_bytes())
    });
    assert!(eventually(Duration::from_secs(5), || !processes_with(&mark).is_empty()));
    let started = Instant::now();
    kill(Pid::from_raw(daemon.pid() as i32), Signal::SIGTERM).unwrap();
    let status = daemon.child.wait().unwrap();
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(4), "exit took {:?}", started.elapsed());
    assert!(processes_with(&mark).is_empty(), "command survived shutdown");
    let response = call.join().unwrap();
    assert_eq!(response.json()["result"]["structuredContent"]["signal"], "SIGKILL");
}

#[test]
fn healthcheck_subcommand_reports_a_running_daemon() {
    let daemon = Daemon::with_token();
    let port = daemon.port.to_string();
    let (ok, _) = run(&[("MCP_PORT", &port)], &["healthcheck"]);
    assert!(ok);
    drop(daemon);
    let (ok, stderr) = run(&[("MCP_PORT", &port)], &["healthcheck"]);
    assert!(!ok);
    assert!(stderr.contains("cannot connect"), "{stderr}");
}
