//! The escape suite: real commands through the real spawner try to break
//! each sandbox layer, and each attack's legitimate twin must still work.
//!
//! Commands run through `mcp-commander run` (the daemon's policy, runner
//! and sandbox) or through the HTTP daemon. Targets that would be refused
//! by file permissions anyway are made world-writable, so a pass proves
//! the kernel sandbox, not Unix permissions, stopped the attack. Network
//! tests only ever touch loopback listeners the test itself opens.
//!
//! They run on the host (the daemon as root); with `MCP_TEST_CONTAINER=1`
//! (the container suite) they run in the image's container instead, the
//! few that do not apply there saying so.

mod common;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Daemon, Mode, eventually, fresh_dir, marker, processes_with};
use serde_json::json;

const PYTHON: &str = "/usr/bin/python3";

/// Where these tests run: the host, or the image's container.
fn mode() -> Mode {
    if common::in_container() { Mode::Image } else { Mode::Host }
}

/// Every mode of tests/common/modes.rs on the host, or the container's.
fn every_mode() -> Vec<Mode> {
    if common::in_container() { vec![Mode::Image] } else { common::MODES.to_vec() }
}

/// Runs `command` through `mcp-commander run` with `env` added.
fn run(env: &[(&str, &str)], command: &str) -> common::Outcome {
    common::run(mode(), env, command)
}

/// A daemon with `env` added, where these tests run.
fn daemon(env: &[(&str, &str)]) -> Daemon {
    Daemon::start_in(mode(), env)
}

/// A directory outside every writable root whose Unix permissions let
/// anyone write, holding a world-writable file `victim` and a world-readable
/// `secret` (in the tests' shared directory, which a container sees too).
fn open_target() -> PathBuf {
    let dir = fresh_dir("escape-target", 0o777);
    let victim = dir.join("victim");
    std::fs::write(&victim, "original\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::write(dir.join("secret"), "secret\n").unwrap();
    dir
}

fn python(code: &str) -> String {
    format!("{PYTHON} -c '{code}'")
}

fn assert_landlock_available() {
    let doctor = mode().command().arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        doctor.status.success()
            && report.contains("landlock      enforced")
            && report.contains("seccomp       enforced"),
        "KERNEL FEATURE MISSING: this suite needs Landlock and seccomp; doctor says:\n{report}"
    );
}

#[test]
fn doctor_reports_every_layer_enforced_on_this_host() {
    assert_landlock_available();
}

#[test]
fn writes_outside_the_writable_roots_fail_and_inside_succeed() {
    let target = open_target();
    let victim = target.join("victim");
    let attack = run(&[], &format!("echo pwned > {0}; echo pwned >> {0}; : > {0}", victim.display()));
    assert!(!attack.ok());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n", "O_TRUNC / append reached the file");
    let attack = run(&[], &format!("touch {}/new", target.display()));
    assert!(!attack.ok() && !target.join("new").exists());
    let twin = run(&[], "echo kept > file && cat file && mkdir d && mv file d/moved && cat d/moved");
    assert!(twin.ok(), "{}", twin.stderr);
    assert_eq!(twin.stdout, "kept\nkept\n");
}

#[test]
fn configured_writable_roots_are_writable() {
    let target = open_target();
    let root = target.display().to_string();
    // In a container the daemon cannot mount the root noexec itself and
    // refuses an executable one (escape_exec.rs); accepted here, to show
    // the root writable.
    let noexec_given_up: &[(&str, &str)] = if mode() == Mode::Image {
        &[("MCP_SANDBOX_DISABLE", "noexec"), ("MCP_SANDBOX_REQUIRE", "landlock,seccomp,no_new_privs,rlimits,sockets")]
    } else {
        &[]
    };
    let env = [&[("MCP_WRITABLE_ROOTS", root.as_str())][..], noexec_given_up].concat();
    let twin = run(&env, &format!("echo ok > {root}/victim"));
    assert!(twin.ok(), "{}", twin.stderr);
    assert_eq!(std::fs::read_to_string(target.join("victim")).unwrap(), "ok\n");
}

#[test]
fn links_inside_the_scratch_dir_do_not_reach_outside() {
    let target = open_target();
    let dir = target.display();
    let attack = run(&[], &format!("ln -s {dir} out && echo pwned > out/victim"));
    assert!(!attack.ok());
    let attack = run(&[], &format!("ln -s {dir}/victim link && echo pwned > link"));
    assert!(!attack.ok());
    let attack = run(&[], &format!("ln {dir}/victim hard && echo pwned > hard"));
    assert!(!attack.ok(), "a hard link to a protected file was made");
    let attack = run(&[], &format!("mv {dir}/victim ./stolen"));
    assert!(!attack.ok(), "rename across roots succeeded");
    assert_eq!(std::fs::read_to_string(target.join("victim")).unwrap(), "original\n");
    let twin = run(&[], &format!("ln -s {dir}/secret link && cat link && touch a && ln a b && mv b c && ls"));
    assert!(twin.ok(), "{}", twin.stderr);
    assert!(twin.stdout.starts_with("secret\n") && twin.stdout.contains('c'), "{}", twin.stdout);
}

#[test]
fn programs_outside_the_allowlist_cannot_execute_whatever_the_route() {
    assert_landlock_available();
    let allow = [("MCP_ALLOWED_COMMANDS", "ls,cat,echo,sh,sh s.sh,find,find -exec,env,xargs,cp,chmod")];
    // A script file the operator allowed by name is out of the parser's
    // sight: only the kernel stands between it and a program outside the
    // allowlist.
    for attack in [
        "echo id > s.sh && sh s.sh",
        "echo /usr/bin/id > s.sh && sh s.sh",
        "echo 'find /usr/bin/id -exec id \\;' > s.sh && sh s.sh",
        "echo 'env id' > s.sh && sh s.sh",
        "echo 'echo /usr/bin | xargs id' > s.sh && sh s.sh",
        "cp /usr/bin/id ./myid && chmod +x ./myid && echo ./myid > s.sh && sh s.sh",
        "echo 'echo pwned' > p.sh && chmod +x p.sh && echo ./p.sh > s.sh && sh s.sh",
    ] {
        let outcome = run(&allow, attack);
        assert!(!outcome.stdout.contains("uid=") && !outcome.stdout.contains("pwned"), "{attack}: {}", outcome.stdout);
        assert!(outcome.stderr.contains("Permission denied"), "{attack}: {}", outcome.stderr);
    }
    for refused in [
        "id",
        "/usr/bin/id",
        "sh -c id",
        "sh -c /usr/bin/id",
        "find /usr/bin/id -exec id \\;",
        "env id",
        "echo /usr/bin | xargs id",
        "cp /usr/bin/id ./myid && chmod +x ./myid && sh -c ./myid",
    ] {
        let outcome = run(&allow, refused);
        assert_eq!(outcome.status, 126, "{refused}: policy refusal: {}", outcome.stderr);
        assert!(outcome.stderr.contains("allowlist"), "{}", outcome.stderr);
    }
    for twin in [
        "sh -c ls",
        "find /usr/bin/ls -exec ls {} \\;",
        "env ls /",
        "echo / | xargs ls",
        "echo 'echo fine' > s.sh && sh s.sh",
    ] {
        let outcome = run(&allow, twin);
        assert!(outcome.ok(), "{twin}: {}", outcome.stderr);
    }
}

#[test]
fn commands_hold_no_privilege_and_no_inherited_descriptor() {
    let status =
        run(&[], "grep -E '^(NoNewPrivs|CapEff|CapPrm|CapInh|CapBnd|CapAmb|Seccomp):' /proc/self/status; id -u");
    assert!(status.ok(), "{}", status.stderr);
    let mut expected = vec![
        "NoNewPrivs:\t1",
        "CapEff:\t0000000000000000",
        "CapPrm:\t0000000000000000",
        "CapAmb:\t0000000000000000",
        "Seccomp:\t2",
    ];
    // In a container the daemon lacks CAP_SETPCAP and keeps the bounding
    // set (doctor says so), which no_new_privs keeps from being used.
    if mode() == Mode::Host {
        expected.push("CapBnd:\t0000000000000000");
    }
    for expected in expected {
        assert!(status.stdout.contains(expected), "missing {expected} in {}", status.stdout);
    }
    assert!(!status.stdout.ends_with("\n0\n"), "commands run as root: {}", status.stdout);
    let setuid = run(&[], "/usr/bin/mount -t tmpfs none /mnt");
    assert!(!setuid.ok(), "a setuid binary gained root");
    let fds = run(&[], "ls /proc/self/fd");
    let listed: Vec<&str> = fds.stdout.split_whitespace().collect();
    assert_eq!(listed, ["0", "1", "2", "3"], "only 0-2 (and ls's own directory fd 3) may be open");
}

#[test]
fn the_daemon_cannot_be_read_signalled_or_traced() {
    for env in [&[][..], &[("MCP_SANDBOX_DISABLE", "user")][..]] {
        let daemon = daemon(env);
        let pid = daemon.seen_pid(daemon.pid());
        let twin = daemon.execute(json!({ "command": "sh -c 'kill -0 $$' && echo self" }));
        assert_eq!(twin["stdout"], "self\n", "commands must run for this test to mean anything: {twin}");
        let environ = daemon.execute(json!({ "command": format!("cat /proc/{pid}/environ") }));
        assert!(environ["exit_code"] != 0 && environ["stdout"] == "", "daemon environ readable ({env:?}): {environ}");
        let signal = daemon.execute(json!({ "command": format!("kill -0 {pid}") }));
        assert_ne!(signal["exit_code"], 0, "signalled the daemon ({env:?})");
        let trace = daemon.execute(json!({ "command": python(&format!(
            "import ctypes; libc=ctypes.CDLL(None,use_errno=True); r=libc.ptrace(16,{pid},0,0); raise SystemExit(0 if r==0 else 1)"
        )) }));
        assert_eq!(trace["exit_code"], 1, "ptrace attached to the daemon ({env:?}): {trace}");
    }
}

#[test]
fn sigkill_of_the_daemon_leaves_no_command_process_alive() {
    let mut daemon = daemon(&[]);
    let port = daemon.port;
    let mark = marker("sigkill");
    let command = format!("sh -c 'sleep 60; : {mark}' & sh -c 'sleep 60; : {mark}'");
    let call = common::execute_in_background(port, &command);
    assert!(eventually(Duration::from_secs(5), || processes_with(&mark).len() >= 2), "commands did not start");
    // The daemon itself (in a container, beneath its init, which then
    // exits and ends the container's PID namespace).
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon.pid() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    daemon.child.wait().unwrap();
    assert!(
        eventually(Duration::from_secs(2), || processes_with(&mark).is_empty()),
        "survivors after SIGKILL of the daemon: {:?}",
        processes_with(&mark)
    );
    let _ = call.join();
}

#[test]
fn network_is_closed_except_the_ports_allowed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let connect = |port: &str| python(&format!("import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)"));
    let attack = run(&[], &connect(&port));
    assert!(!attack.ok() && attack.stderr.contains("Permission denied"), "{}", attack.stderr);
    let served = daemon(&[]);
    let attack = run(&[], &connect(&served.port.to_string()));
    assert!(!attack.ok(), "connected to the daemon's own port");
    let twin = run(&[("MCP_TCP_CONNECT_PORTS", &port)], &connect(&port));
    assert!(twin.ok(), "allowed port refused: {}", twin.stderr);

    // Port 80 stands for 169.254.169.254:80 and 169.254.170.2:80: Landlock
    // rules are per port, so a loopback listener on 80 proves the rule.
    if let Ok(http) = TcpListener::bind("127.0.0.1:80") {
        let attack = run(&[], &connect("80"));
        assert!(!attack.ok(), "connected to port 80");
        drop(http);
    } else {
        eprintln!("NOTE: port 80 busy; the per-port rule was proven on port {port}");
    }
    for (what, code) in [
        ("UDP", "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"),
        ("MPTCP", "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)"),
        ("raw", "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)"),
        ("netlink", "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)"),
        ("packet", "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)"),
    ] {
        let attack = run(&[], &python(code));
        assert!(!attack.ok() && attack.stderr.contains("Operation not permitted"), "{what}: {}", attack.stderr);
    }
    let udp =
        run(&[("MCP_ALLOW_UDP", "true")], &python("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"));
    assert!(udp.ok(), "UDP refused although allowed: {}", udp.stderr);
    let unix = run(&[], &python("import socket; socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)"));
    assert!(unix.ok(), "{}", unix.stderr);
}

#[test]
fn namespaces_io_uring_and_leaving_the_group_are_refused() {
    for (what, attack) in [
        ("unshare -U", "unshare -U true".to_string()),
        ("unshare -n", "unshare -n true".to_string()),
        ("setsid", "setsid true".to_string()),
        (
            "io_uring",
            python(
                "import ctypes; libc=ctypes.CDLL(None,use_errno=True); p=ctypes.create_string_buffer(120); r=libc.syscall(425, 8, p); raise SystemExit(0 if r>=0 else 1)",
            ),
        ),
        ("setpgid", python("import os; os.setpgid(0, 0)")),
    ] {
        let outcome = run(&[], &attack);
        assert!(!outcome.ok(), "{what} succeeded");
    }
}

#[test]
fn resource_bombs_are_contained_and_the_daemon_keeps_serving() {
    // RLIMIT_NPROC counts every process of a uid, so this daemon's commands
    // run as a uid of their own, out of reach of other tests' commands.
    let daemon = daemon(&[("MCP_RLIMIT_FSIZE", "1M"), ("MCP_RLIMIT_NPROC", "64"), ("MCP_RUN_AS", "64123:64123")]);
    let bomb = daemon
        .execute(json!({ "command": "printf 'b() { b | b & }; b' > bomb.sh; sh bomb.sh; sleep 2", "timeout": "4s" }));
    assert!(bomb["stderr"].as_str().unwrap().contains("Cannot fork"), "the process limit never bit: {bomb}");
    let memory = daemon.execute(json!({ "command": format!("{PYTHON} -c 'x = bytearray(20 * 1024**3)'") }));
    assert!(memory["stderr"].as_str().unwrap().contains("MemoryError"), "{memory}");
    let file = daemon.execute(json!({ "command": "head -c 5000000 /dev/zero > big; stat -c %s big" }));
    assert!(file["stderr"].as_str().unwrap().contains("File size limit exceeded"), "{file}");
    assert_eq!(file["stdout"], "1048576\n", "the file stopped at MCP_RLIMIT_FSIZE");
    let fds =
        daemon.execute(json!({ "command": format!("{PYTHON} -c 'fs=[open(\"/dev/null\") for _ in range(100000)]'") }));
    assert!(fds["stderr"].as_str().unwrap().contains("Too many open files"), "{fds}");
    let mut still = json!(null);
    let alive = eventually(Duration::from_secs(3), || {
        still = daemon.execute(json!({ "command": "echo alive" }));
        still["stdout"] == "alive\n"
    });
    assert!(alive, "the daemon stopped serving after the bombs: {still}");
}

#[test]
fn an_output_flood_is_capped_and_daemon_memory_stays_bounded() {
    let daemon = daemon(&[("MCP_MAX_OUTPUT_BYTES", "65536")]);
    let flood = daemon.execute(json!({ "command": "yes", "timeout": "2s" }));
    assert_eq!(flood["truncated"], true);
    let kept = flood["stdout"].as_str().unwrap();
    assert!(kept.len() <= 65536 + 200 && kept.contains("bytes dropped"), "{} bytes kept", kept.len());
    assert!(flood["stdout_bytes"].as_u64().unwrap() > 10_000_000, "{}", flood["stdout_bytes"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let rss_kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap();
    assert!(rss_kib < 64 * 1024, "daemon RSS {rss_kib} KiB after a flood");
}

#[test]
fn after_a_timeout_no_descendant_survives() {
    // In every mode: where the daemon is root without CAP_KILL (the image's),
    // signalling another uid's commands takes their uid.
    for mode in every_mode() {
        let daemon = Daemon::start_in(mode, &[("MCP_KILL_GRACE", "300ms")]);
        for (what, template) in [
            ("nohup", "nohup sh -c 'sleep 60; : MARK' > /dev/null 2>&1 & sleep 60"),
            ("double fork", "(sh -c 'sleep 60; : MARK' &) ; sleep 60"),
            ("trap TERM", "sh -c 'trap \"\" TERM; sleep 60; : MARK' & trap '' TERM; sleep 60"),
            ("stopped", "sh -c 'kill -STOP $$; : MARK' & sleep 60"),
            ("setsid", "setsid sh -c 'sleep 60; : MARK' & sleep 60"),
        ] {
            let mark = marker("desc");
            let command = template.replace("MARK", &mark);
            let started = Instant::now();
            let result = daemon.execute(json!({ "command": command, "timeout": "1s" }));
            assert_eq!(result["timed_out"], true, "{}: {what}: {result}", mode.name());
            assert!(started.elapsed() < Duration::from_secs(4), "{}: {what} took {:?}", mode.name(), started.elapsed());
            assert!(
                eventually(Duration::from_secs(2), || processes_with(&mark).is_empty()),
                "{}: {what}: survivors {:?}",
                mode.name(),
                processes_with(&mark)
            );
        }
    }
}

#[test]
fn five_hundred_concurrent_spawns_leak_nothing() {
    let daemon = daemon(&[]);
    // Each daemon thread that spawns commands holds one seccomp listener for
    // their sockets, taken at its first spawn: those are not leaks.
    let descriptors = || -> Vec<String> {
        std::fs::read_dir(format!("/proc/{}/fd", daemon.pid()))
            .unwrap()
            .flatten()
            .map(|fd| std::fs::read_link(fd.path()).map(|t| t.display().to_string()).unwrap_or_default())
            .collect()
    };
    let fd_count = || descriptors().iter().filter(|target| !target.contains("seccomp notify")).count();
    daemon.execute(json!({ "command": "true" }));
    let before = fd_count();
    std::thread::scope(|scope| {
        for _ in 0..50 {
            scope.spawn(|| {
                for _ in 0..10 {
                    assert_eq!(daemon.execute(json!({ "command": "echo x" }))["stdout"], "x\n");
                }
            });
        }
    });
    assert!(eventually(Duration::from_secs(2), || fd_count() <= before), "fds {} -> {}", before, fd_count());
    let threads = std::fs::read_dir(format!("/proc/{}/task", daemon.pid())).unwrap().count();
    let listeners = descriptors().iter().filter(|target| target.contains("seccomp notify")).count();
    assert!((1..=threads).contains(&listeners), "{listeners} seccomp listeners for {threads} threads");
    let children: String = std::fs::read_dir(format!("/proc/{}/task", daemon.pid()))
        .unwrap()
        .flatten()
        .map(|t| std::fs::read_to_string(t.path().join("children")).unwrap_or_default())
        .collect();
    assert!(children.trim().is_empty(), "children left: {children}");
}
