//! Faults: SIGTERM under load (in-flight calls finish or get a clean
//! result, command trees die, exit 0 within the grace period), a closed
//! stdout (the daemon keeps serving and counts the audit records it could
//! not write), and a full scratch filesystem (the client gets a clear
//! error, the daemon goes on). SIGKILL of the daemon is in tests/escape.rs
//! (`sigkill_of_the_daemon_leaves_no_command_process_alive`).

mod common;

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Daemon, DaemonStdout, call_body, eventually, execute_in_background, marker, metric, processes_with, raw_request,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

#[test]
fn sigterm_under_load_finishes_calls_kills_trees_and_exits_zero_within_the_grace() {
    let mut daemon = Daemon::start(&[("MCP_SHUTDOWN_GRACE", "2s")]);
    let port = daemon.port;
    let mark = marker("termload");
    // 24 calls that end within the grace period, 8 that would not (each a
    // tree: a shell with two sleeping children).
    let mut short = Vec::new();
    let mut long = Vec::new();
    for i in 0..24 {
        short.push(execute_in_background(port, &format!("sleep 0.{}; echo done{i}", 3 + i % 5)));
    }
    for _ in 0..8 {
        long.push(execute_in_background(port, &format!("sleep 60 & sleep 60 & wait; : {mark}")));
    }
    assert!(eventually(Duration::from_secs(10), || metric(port, "mcp_commander_commands_in_flight") == 32.0));
    let started = Instant::now();
    kill(Pid::from_raw(daemon.pid() as i32), Signal::SIGTERM).unwrap();
    // No new connection is accepted once shutdown began.
    assert!(eventually(Duration::from_secs(2), || TcpStream::connect(("127.0.0.1", port)).is_err()));
    let status = daemon.child.wait().unwrap();
    let took = started.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "exit took {took:?} with a 2s grace period");
    for (i, handle) in short.into_iter().enumerate() {
        let response = handle.join().unwrap();
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.json()["result"]["structuredContent"]["stdout"], format!("done{i}\n"));
    }
    for handle in long {
        let response = handle.join().unwrap();
        let result: Value = response.json()["result"]["structuredContent"].clone();
        assert_eq!(result["signal"], "SIGKILL", "{}", response.body);
        assert_eq!(response.json()["result"]["isError"], true);
    }
    assert!(processes_with(&mark).is_empty(), "a command tree outlived the daemon");
    assert!(
        eventually(Duration::from_secs(2), || processes_with("sleep 60")
            .iter()
            .all(|pid| !owned_by_a_command_uid(*pid))),
        "a sleeping child of a killed command survived"
    );
}

/// Whether `pid` runs under one of the uids the daemon gives principals'
/// commands (MCP_COMMAND_UIDS' default range).
fn owned_by_a_command_uid(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status.lines().any(|l| {
            l.starts_with("Uid:")
                && l.split_whitespace()
                    .nth(1)
                    .and_then(|u| u.parse::<u32>().ok())
                    .is_some_and(|u| (20000..=29999).contains(&u))
        })
    })
}

#[test]
fn a_closed_stdout_does_not_stop_the_daemon_and_lost_records_are_counted() {
    // The reader of the daemon's stdout (its audit records) goes away.
    let mut daemon = Daemon::start_with_stdout(&[], DaemonStdout::Closed);
    let port = daemon.port;
    for i in 0..5 {
        let response = raw_request(port, "POST", "/mcp", &[], call_body(&format!("echo {i}")).as_bytes());
        assert_eq!(response.json()["result"]["structuredContent"]["stdout"], format!("{i}\n"), "{}", response.body);
    }
    assert!(
        eventually(Duration::from_secs(5), || metric(port, "mcp_commander_audit_write_errors_total") >= 5.0),
        "every record that could not be written is counted"
    );
    assert!(
        eventually(Duration::from_secs(5), || daemon.logged("audit records cannot be written")),
        "the operator is told on stderr"
    );
    assert_eq!(raw_request(port, "GET", "/health", &[], b"").status, 200);
    kill(Pid::from_raw(daemon.pid() as i32), Signal::SIGTERM).unwrap();
    assert!(daemon.child.wait().unwrap().success());
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallFilesystem(tempfile::TempDir);

impl SmallFilesystem {
    fn mount(size: &str) -> SmallFilesystem {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test mounts a small tmpfs to fill it and needs root; run the suite as root (as .ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=1777"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed: this test needs to mount a small filesystem");
        SmallFilesystem(dir)
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_scratch_filesystem_gives_the_client_a_clear_error_and_the_daemon_goes_on() {
    let small = SmallFilesystem::mount("1m");
    let tmp = small.0.path().to_str().unwrap().to_string();
    let audit_file = format!("{tmp}/audit.jsonl");
    let daemon = Daemon::start(&[("TMPDIR", tmp.as_str()), ("MCP_AUDIT_FILE", audit_file.as_str())]);
    let result = daemon.call_tool("execute_command", json!({"command": "head -c 4000000 /dev/zero > big"}));
    assert_eq!(result["isError"], true, "{result}");
    let structured = &result["structuredContent"];
    assert_ne!(structured["exit_code"], 0);
    assert!(
        structured["stderr"].as_str().unwrap().contains("No space left on device"),
        "the command's own error reaches the client: {structured}"
    );
    // With the filesystem full, audit records to the file fail and are counted; calls go on.
    let filler = daemon.execute(json!({"command": "cat /dev/zero > more 2>/dev/null; df -k . | tail -1"}));
    assert!(filler["stdout"].as_str().unwrap().contains("100%"), "{filler}");
    let ok = daemon.execute(json!({"command": "echo still serving"}));
    assert_eq!(ok["stdout"], "still serving\n", "{ok}");
    assert!(eventually(Duration::from_secs(5), || metric(daemon.port, "mcp_commander_audit_write_errors_total") >= 1.0));
    // Room again: everything works as before.
    let freed = daemon.execute(json!({"command": "rm -f big more && echo freed"}));
    assert_eq!(freed["stdout"], "freed\n", "{freed}");
    let written = daemon.execute(json!({"command": "echo data > small && cat small"}));
    assert_eq!(written["stdout"], "data\n");
    drop(daemon);
}
