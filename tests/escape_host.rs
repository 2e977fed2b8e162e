//! What a command could reach of the host besides files and the network,
//! tried in both modes (root daemon; the image's uid 10001 without
//! capabilities, where commands share the daemon's uid):
//!
//! - host IPC: a world-readable SysV shared memory segment, semaphore set
//!   and message queue the host made, a POSIX message queue, and a segment
//!   a command would leave for the next;
//! - the limits, priority, affinity, scheduling and I/O priority of the
//!   daemon and of another call's process (`prlimit --pid`, `renice -p/-g/
//!   -u`, `taskset -p`, `chrt -p`, `ionice -p`, and the calls themselves);
//! - the view of processes: a procfs of the command's own PID namespace
//!   where the daemon can mount one, and the token in no `/proc` file;
//! - an oracle: a `working_directory` the command user cannot enter gives
//!   one message whether or not it exists.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Daemon, MODES, Mode, TOKEN, eventually, fresh_dir, marker, processes_with, run, script};
use serde_json::json;

const HOST_IPC: &str = r#"
import time
key = int(sys.argv[1])
IPC_CREAT, IPC_RMID = 0o1000, 0
shm = check(libc.shmget(key, 4096, IPC_CREAT | 0o666))
libc.shmat.restype = ctypes.c_void_p
ctypes.memmove(libc.shmat(shm, None, 0), b"host-secret", 11)
sem = check(libc.semget(key, 1, IPC_CREAT | 0o666))
msg = check(libc.msgget(key, IPC_CREAT | 0o666))
rt = ctypes.CDLL("librt.so.1", use_errno=True)
mq = check(rt.mq_open(b"/mcp-test-%d" % key, os.O_CREAT | os.O_RDWR, 0o666, None))
print(shm, flush=True)
sys.stdin.read()
libc.shmctl(shm, IPC_RMID, None); libc.semctl(sem, 0, IPC_RMID); libc.msgctl(msg, IPC_RMID, None)
rt.mq_unlink(b"/mcp-test-%d" % key)
"#;

const IPC: &str = r#"
kind, key, shm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
libc.shmat.restype = ctypes.c_void_p
if kind == "shmget":
    attempt(lambda: check(libc.shmget(key, 0, 0)))
elif kind == "shmat":
    def read():
        address = libc.shmat(shm, None, 0o10000)  # SHM_RDONLY
        if address in (None, ctypes.c_void_p(-1).value):
            check(-1)
        print("read", ctypes.string_at(address, 11))
    attempt(read)
elif kind == "semget":
    attempt(lambda: check(libc.semget(key, 0, 0)))
elif kind == "msgget":
    attempt(lambda: check(libc.msgget(key, 0)))
elif kind == "mq_open":
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    attempt(lambda: check(rt.mq_open(b"/mcp-test-%d" % key, os.O_RDONLY)))
elif kind == "leave-segment":
    attempt(lambda: check(libc.shmget(0, 4096, 0o1000 | 0o666)))  # IPC_PRIVATE
elif kind == "pipes":
    r, w = os.pipe()
    a, b = socket.socketpair()
    if os.fork() == 0:
        os.write(w, b"pipe"); a.send(b"pair"); os._exit(0)
    os.wait()
    print("read", os.read(r, 4), b.recv(4)); print("OK")
"#;

#[test]
fn host_ipc_objects_are_out_of_reach() {
    let key = (0x6d63_0000 + std::process::id() % 0xffff).to_string();
    let mut host = std::process::Command::new("/usr/bin/python3")
        .args(["-c", &format!("{}\n{HOST_IPC}", "import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\ndef check(r):\n    assert r >= 0, ctypes.get_errno()\n    return r")])
        .arg(&key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(host.stdout.take().unwrap()), &mut line).unwrap();
    let shm = line.trim().to_string();
    assert!(shm.parse::<i32>().is_ok(), "the host could not make its IPC objects: {line}");
    for mode in MODES {
        for kind in ["shmget", "shmat", "semget", "msgget", "mq_open", "leave-segment"] {
            let outcome = run(mode, &[], &script("ipc", IPC, &[kind, &key, &shm]));
            assert_eq!(outcome.verdict(), "ERR EPERM", "{}: {kind}: {outcome:?}", mode.name());
            assert!(!outcome.stdout.contains("host-secret"), "{}: {kind}: {outcome:?}", mode.name());
        }
        let twin = run(mode, &[], &script("ipc", IPC, &["pipes", &key, &shm]));
        assert!(twin.stdout.contains("read b'pipe' b'pair'"), "{}: {twin:?}", mode.name());
    }
    // Control: without seccomp the segment is readable (Unix permissions
    // allow it: mode 0666).
    let control = run(
        Mode::Host,
        &[("MCP_SANDBOX_REQUIRE", "landlock"), ("MCP_SANDBOX_DISABLE", "seccomp")],
        &script("ipc", IPC, &["shmat", &key, &shm]),
    );
    assert!(control.stdout.contains("read b'host-secret'"), "{control:?}");
    drop(host.stdin.take());
    host.wait().unwrap();
}

/// What a process's limits and scheduling look like from outside.
fn scheduling(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let affinity = status.lines().find(|l| l.starts_with("Cpus_allowed_list")).unwrap().to_string();
    let io = std::process::Command::new("ionice").args(["-p", &pid.to_string()]).output().unwrap();
    format!(
        "nice {} policy {} {affinity} io {}\n{}",
        fields[16],
        fields[38],
        String::from_utf8_lossy(&io.stdout).trim(),
        std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap()
    )
}

const SCHEDULE: &str = r#"
kind, pid = sys.argv[1], int(sys.argv[2])
if kind == "setpriority":
    attempt(lambda: os.setpriority(os.PRIO_PROCESS, pid, 19))
elif kind == "setpriority-group":
    attempt(lambda: os.setpriority(os.PRIO_PGRP, os.getpgid(pid), 19))
elif kind == "setpriority-user":
    attempt(lambda: os.setpriority(os.PRIO_USER, 0, 19))
elif kind == "affinity":
    attempt(lambda: os.sched_setaffinity(pid, {0}))
elif kind == "scheduler":
    attempt(lambda: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0)))
elif kind == "prlimit":
    attempt(lambda: check(libc.prlimit(pid, 7, (ctypes.c_ulong * 2)(3, 3), None)))  # RLIMIT_NOFILE
elif kind == "ioprio":
    attempt(lambda: check(libc.syscall(251, 1, pid, (3 << 13))))  # ioprio_set, IOPRIO_CLASS_IDLE
"#;

#[test]
fn other_processes_limits_and_scheduling_cannot_be_changed() {
    for mode in MODES {
        let daemon = Daemon::start_in(mode, &[]);
        let mark = marker("victim");
        let victim = common::execute_in_background(daemon.port, &format!("sh -c 'sleep 30; : {mark}'"));
        if !eventually(Duration::from_secs(5), || !processes_with(&mark).is_empty()) {
            panic!("{}: no victim: {:?}", mode.name(), victim.join().unwrap());
        }
        let other = *processes_with(&mark).iter().max().unwrap();
        for target in [daemon.pid(), other] {
            let before = scheduling(target);
            let t = daemon.seen_pid(target).to_string();
            for attack in [
                format!("prlimit --pid {t} --nproc=1:1"),
                format!("prlimit --pid {t} --nofile=3:3"),
                format!("renice -n 19 -p {t}"),
                format!("renice -n 19 -g $(ps -o pgid= -p {t} 2>/dev/null || echo {t})"),
                "renice -n 19 -u $(id -u)".to_string(),
                format!("taskset -p -c 0 {t}"),
                format!("chrt -p -i 0 {t}"),
                format!("ionice -c 3 -p {t}"),
            ] {
                let result = daemon.execute(json!({ "command": attack }));
                assert_ne!(result["exit_code"], 0, "{}: `{attack}` succeeded: {result}", mode.name());
            }
            for kind in
                ["setpriority", "setpriority-group", "setpriority-user", "affinity", "scheduler", "prlimit", "ioprio"]
            {
                let result = daemon.execute(json!({ "command": script("schedule", SCHEDULE, &[kind, &t]) }));
                let verdict = result["stdout"].as_str().unwrap().trim().to_string();
                assert!(verdict.starts_with("ERR"), "{}: {kind} on {t}: {result}", mode.name());
            }
            assert_eq!(scheduling(target), before, "{}: the process {target} was changed", mode.name());
        }
        let twins = daemon.execute(json!({ "command":
            "nice -n 5 cut -d' ' -f19 /proc/self/stat; (ulimit -n 64 && ulimit -n); \
             taskset -c 0 grep Cpus_allowed_list: /proc/self/status; prlimit --nofile=100:100 sh -c 'ulimit -n'; \
             ionice -c 3 true && chrt -i 0 true && echo scheduled" }));
        assert_eq!(
            twins["stdout"].as_str().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["5", "64", "Cpus_allowed_list:", "0", "100", "scheduled"],
            "{}: {twins}",
            mode.name()
        );
        drop(daemon);
        let _ = victim.join();
    }
    // Control: in the image's mode commands share a uid, so without seccomp
    // one call does change another's limits.
    let daemon =
        Daemon::start_in(Mode::Image, &[("MCP_SANDBOX_REQUIRE", "landlock"), ("MCP_SANDBOX_DISABLE", "seccomp")]);
    let mark = marker("control");
    let _victim = common::execute_in_background(daemon.port, &format!("sh -c 'sleep 30; : {mark}'"));
    assert!(eventually(Duration::from_secs(5), || !processes_with(&mark).is_empty()));
    let other = *processes_with(&mark).iter().max().unwrap();
    let seen = daemon.seen_pid(other);
    let result = daemon.execute(json!({ "command": format!("prlimit --pid {seen} --nofile=5:5") }));
    assert_eq!(result["exit_code"], 0, "{result}");
    assert!(scheduling(other).contains("Max open files            5"), "{}", scheduling(other));
}

const FORK_LOOP: &str = r#"
import time
while True:
    try:
        os.fork() or time.sleep(20) or os._exit(0)
    except OSError:
        break
print("full", flush=True)
time.sleep(6)
"#;

#[test]
fn with_a_shared_uid_a_fork_loop_leaves_the_daemon_serving() {
    // The task definition's nproc ulimit (4096), above the commands' own
    // RLIMIT_NPROC (512): their processes run out first. uid 10002 keeps
    // this loop away from the other image-mode tests' uid.
    let command = common::shared_uid_command(10002, Some(4096));
    let daemon = Daemon::launch_command(command, &[], &[]);
    let fork_loop = script("forks", FORK_LOOP, &[]);
    let looping = common::execute_in_background(daemon.port, &fork_loop);
    let of_uid = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|entry| {
                std::fs::read_to_string(entry.path().join("status"))
                    .is_ok_and(|status| status.lines().any(|l| l.starts_with("Uid:\t10002\t")))
            })
            .count()
    };
    if !eventually(Duration::from_secs(10), || of_uid() >= 400) {
        panic!(
            "the loop did not fork: {} processes; the call gave {:?}; log {:?}",
            of_uid(),
            looping.join().unwrap().body,
            daemon.log.lock().unwrap()
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    // The daemon's own work (its threads, the policy check on a blocking
    // thread for a quoted command, the spawn) still goes on. Commands that
    // fork fail while the loop holds the uid's share: calls sharing one uid
    // share its process limit.
    for command in ["echo alive", "echo 'alive'", "printf '%s\\n' \"alive\""] {
        let result = daemon.execute(json!({ "command": command }));
        assert_eq!(result["stdout"], "alive\n", "`{command}` while the uid is full: {result}");
    }
    assert!(!daemon.logged("OS can't spawn"), "the daemon ran out of threads");
    let _ = looping.join();
}

#[test]
fn a_command_sees_its_own_processes_where_the_daemon_can_mount_a_procfs() {
    let own = run(
        Mode::Host,
        &[("MCP_SANDBOX_ENABLE", "private_proc")],
        "sleep 5 & echo pid $$; tr '\\0' ' ' < /proc/$$/cmdline; echo; ps -e -o pid=,comm=; ls /proc | grep -c '^[0-9]'",
    );
    let lines: Vec<&str> = own.stdout.lines().collect();
    assert_eq!(lines[0], "pid 1", "{own:?}");
    assert!(lines[1].starts_with("/bin/sh -c sleep 5 &"), "{own:?}");
    let listed: Vec<&str> = lines[2..lines.len() - 1].iter().map(|l| l.split_whitespace().nth(1).unwrap()).collect();
    assert_eq!(listed, ["sh", "sleep", "ps"], "ps lists the command's own tree only: {own:?}");
    let daemonless =
        run(Mode::Host, &[("MCP_SANDBOX_ENABLE", "private_proc")], &format!("ls /proc/{}", std::process::id()));
    assert!(!daemonless.ok(), "a host process is visible: {daemonless:?}");
    // Where it is off or cannot be had, doctor says what a command sees.
    for (mode, env, state) in [
        (Mode::Host, &[][..], "off"),
        (Mode::Image, &[][..], "off"),
        (Mode::Image, &[("MCP_SANDBOX_ENABLE", "private_proc")][..], "unavailable"),
    ] {
        let mut doctor = mode.command();
        doctor.arg("doctor");
        for (key, value) in env {
            doctor.env(key, value);
        }
        let text = String::from_utf8_lossy(&doctor.output().unwrap().stdout).into_owned();
        let line = text.lines().find(|l| l.contains("private_proc")).unwrap_or_default().to_string();
        assert!(line.contains(&format!("private_proc  {state}")), "{}: {line}", mode.name());
        if state == "off" {
            assert!(line.contains("every process with its command line"), "{}: {line}", mode.name());
        }
    }
}

#[test]
fn a_host_process_of_the_commands_own_uid_keeps_its_environment_memory_and_descriptors() {
    for mode in MODES {
        if mode == Mode::Image && common::in_container() {
            eprintln!("NOT APPLICABLE in a container: no host process is in its PID namespace to be reached");
            continue;
        }
        let uid = common::command_uid(mode);
        let uid_arg = format!("--reuid={uid}");
        let gid_arg = format!("--regid={uid}");
        let mut host = std::process::Command::new("setpriv")
            .args([uid_arg.as_str(), gid_arg.as_str(), "--clear-groups", "env", "HOST_SECRET=hunter2", "sleep", "30"])
            .current_dir("/var/tmp")
            .spawn()
            .unwrap();
        let pid = host.id();
        assert!(eventually(Duration::from_secs(2), || std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with("sleep"))));
        for probe in [
            format!("cat /proc/{pid}/environ"),
            format!("readlink /proc/{pid}/cwd"),
            format!("readlink /proc/{pid}/fd/0"),
            format!("head -c 16 /proc/{pid}/mem"),
            format!("grep -c . /proc/{pid}/maps"),
        ] {
            let outcome = run(mode, &[], &probe);
            assert!(!outcome.ok(), "{}: `{probe}` read another process: {outcome:?}", mode.name());
            assert!(!outcome.stdout.contains("hunter2") && !outcome.stdout.contains("/var/tmp"), "{outcome:?}");
        }
        let twin = run(
            mode,
            &[],
            &format!("cat /proc/{pid}/cmdline; echo; cat /proc/self/environ | tr '\\0' '\\n' | grep -c PATH"),
        );
        assert!(twin.ok() && twin.stdout.starts_with("sleep"), "{}: {twin:?}", mode.name());
        let _ = host.kill();
        let _ = host.wait();
    }
}

#[test]
fn the_token_is_readable_from_no_proc_file() {
    for mode in MODES {
        let mut command = mode.command();
        command.env("MCP_AUDIT_HMAC_KEY", "audit-key-0123456789-abcdef");
        let daemon = Daemon::launch_command(command, &[], &["--auth-token", TOKEN]);
        let host_pid = daemon.pid();
        let cmdline = std::fs::read(format!("/proc/{host_pid}/cmdline")).unwrap();
        let environ = std::fs::read(format!("/proc/{host_pid}/environ")).unwrap();
        let pid = daemon.seen_pid(host_pid);
        for (file, bytes) in [("cmdline", &cmdline), ("environ", &environ)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(TOKEN) && !text.contains("audit-key-0123"), "{}: {file}: {text}", mode.name());
        }
        assert!(String::from_utf8_lossy(&cmdline).contains("--auth-token"), "the flag itself stays");
        for file in ["cmdline", "environ"] {
            let read = daemon
                .execute(json!({ "command": format!("cat /proc/{pid}/{file}; grep -c {TOKEN} /proc/{pid}/{file}") }));
            assert!(!read["stdout"].as_str().unwrap().contains(TOKEN), "{}: {file}: {read}", mode.name());
        }
        let works = daemon.execute(json!({ "command": "echo served" }));
        assert_eq!(works["stdout"], "served\n", "the token still works after the wipe: {works}");
    }
}

#[test]
fn a_working_directory_the_command_cannot_enter_gives_one_message_whether_or_not_it_exists() {
    let private = fresh_dir("private", 0o700);
    std::fs::create_dir(private.join("exists")).unwrap();
    std::fs::write(private.join("file"), "x").unwrap();
    let open = fresh_dir("open", 0o777);
    for mode in MODES {
        let daemon = Daemon::start_in(mode, &[]);
        let message = |dir: &str| {
            let result = daemon.call_tool("execute_command", json!({ "command": "pwd", "working_directory": dir }));
            assert_eq!(result["isError"], true, "{}: {dir}: {result}", mode.name());
            result["structuredContent"]["error"].as_str().unwrap().replace(dir, "DIR")
        };
        let base = private.display().to_string();
        let answers: Vec<String> =
            ["exists", "missing", "file"].iter().map(|d| message(&format!("{base}/{d}"))).collect();
        assert!(answers.iter().all(|a| a == &answers[0]), "{}: {answers:?}", mode.name());
        assert!(answers[0].contains("'DIR' does not exist, is not a directory, or cannot be entered"), "{answers:?}");
        assert_eq!(message("/root"), message("/root-missing"), "{}", mode.name());
        let twin = daemon.execute(json!({ "command": "pwd", "working_directory": open.display().to_string() }));
        assert_eq!(twin["stdout"], format!("{}\n", open.display()), "{}: {twin}", mode.name());
    }
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
}
