//! Two principals (two tokens in a tokens file) running at once, with the
//! daemon as root on the host and as the image runs it: B can neither read,
//! write, delete, rename, link, chmod, touch nor set attributes on A's
//! files, nor connect to A's sockets, nor signal, trace, limit or renice
//! A's processes or read their `/proc` entries; A's workspace persists
//! across A's calls; neither can read the daemon's tokens file, HMAC key,
//! audit file or configuration, though every one of them is world-readable
//! here (so Landlock's read rules, not file modes, are what holds). Each
//! attack has its twin: A works in its own workspace.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{
    Daemon, IMAGE_UID, Mode, Response, eventually, fresh_dir, marker, processes_with, raw_request, script, tokens_file,
};
use serde_json::{Value, json};

const ALICE: &str = "alice-token-0123456789abcdef";
const BOB: &str = "bob-token-0123456789abcdefgh";

/// A daemon with principals alice and bob, and every daemon file it has
/// made world-readable.
struct Pair {
    daemon: Daemon,
    files: Vec<PathBuf>,
}

fn start(mode: Mode) -> Pair {
    start_with(mode, &[])
}

fn start_with(mode: Mode, env: &[(&str, &str)]) -> Pair {
    let dir = fresh_dir("principals", 0o755);
    if mode == Mode::SharedUid {
        // The daemon, an ordinary user here, creates its audit file there.
        std::os::unix::fs::chown(&dir, Some(IMAGE_UID), Some(IMAGE_UID)).unwrap();
    }
    let tokens = tokens_file(&dir, &[("alice", ALICE, ""), ("bob", BOB, "")]);
    let key = dir.join("hmac.key");
    std::fs::write(&key, "a-key-of-at-least-sixteen-bytes").unwrap();
    let config = dir.join("commander.toml");
    std::fs::write(&config, "default_timeout = \"20s\"\n").unwrap();
    let audit = dir.join("audit.log");
    for file in [&tokens, &key, &config] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut command = mode.command();
    for (name, value) in [
        ("MCP_TOKENS_FILE", &tokens),
        ("MCP_AUDIT_HMAC_KEY_FILE", &key),
        ("MCP_CONFIG", &config),
        ("MCP_AUDIT_FILE", &audit),
    ] {
        command.env(name, value);
    }
    command.env("MCP_BACKGROUND_COMMANDS", "true");
    let daemon = Daemon::launch_command(command, env, &[]);
    assert!(eventually(Duration::from_secs(5), || audit.exists()), "no audit file");
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o644)).unwrap();
    Pair { daemon, files: vec![tokens, key, config, audit] }
}

impl Pair {
    fn call(&self, token: &str, tool: &str, arguments: Value) -> Value {
        self.daemon.call_tool_as(token, tool, arguments)["structuredContent"].clone()
    }

    fn run(&self, token: &str, command: &str) -> Value {
        self.call(token, "execute_command", json!({ "command": command }))
    }

    /// `path` as the test sees it: through the daemon's root, since in the
    /// image's mode its TMPDIR is a tmpfs of its own mount namespace.
    fn seen(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{path}", self.daemon.pid()))
    }

    fn workspace(&self, token: &str) -> String {
        self.call(token, "get_shell_info", json!({}))["working_directory"].as_str().unwrap().to_string()
    }
}

const ATTACKS: &str = r#"
kind, target = sys.argv[1], sys.argv[2]
def connect(name=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(name or target)
    print("read", s.recv(16))
actions = {
    "read": lambda: open(target).read(),
    "write": lambda: open(target, "a").write("x"),
    "truncate": lambda: open(target, "w"),
    "delete": lambda: os.unlink(target),
    "rename": lambda: os.rename(target, "stolen"),
    "link": lambda: os.link(target, "linked"),
    "symlink-read": lambda: (os.symlink(target, "via-link"), open("via-link").read()),
    "chmod": lambda: os.chmod(target, 0o777),
    "utime": lambda: os.utime(target, (0, 0)),
    "setxattr": lambda: os.setxattr(target, "user.mark", b"x"),
    "list": lambda: os.listdir(target),
    "create-in": lambda: open(os.path.join(target, "planted"), "w"),
    "connect": connect,
    "connect-abstract": lambda: connect("\0" + target),
    "signal": lambda: os.kill(int(target), 0),
    "prlimit": lambda: check(libc.prlimit(int(target), 7, (ctypes.c_ulong * 2)(3, 3), None)),
    "renice": lambda: os.setpriority(os.PRIO_PROCESS, int(target), 19),
    "ptrace": lambda: check(libc.ptrace(16, int(target), 0, 0)),  # PTRACE_ATTACH
    "environ": lambda: open("/proc/%s/environ" % target).read(),
    "cwd": lambda: os.readlink("/proc/%s/cwd" % target),
    "fd": lambda: os.readlink("/proc/%s/fd/0" % target),
}
attempt(actions[kind])
"#;

/// Signals (0) and opens the memory and environment of every thread of
/// the daemon, by thread id.
const THREADS: &str = r#"
daemon = str(os.getpid()) if sys.argv[1] == "self" else sys.argv[1]
tids = os.listdir("/proc/%s/task" % daemon)
reached = []
for tid in tids:
    for kind, act in [("signal", lambda: os.kill(int(tid), 0)),
                      ("mem", lambda: open("/proc/%s/task/%s/mem" % (daemon, tid), "rb").read(1)),
                      ("environ", lambda: open("/proc/%s/task/%s/environ" % (daemon, tid), "rb").read())]:
        try:
            act()
            reached.append("%s:%s" % (kind, tid))
        except OSError:
            pass
print("threads", len(tids), "REACHED " + " ".join(reached) if reached else "none reached")
"#;

const SERVE: &str = r#"
import time
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1]); server.listen(4)
print("serving", flush=True)
server.settimeout(30)
while True:
    try:
        c, _ = server.accept()
    except OSError:
        break
    c.send(b"alice\n"); c.close()
"#;

#[test]
fn one_principal_can_neither_reach_nor_disturb_anothers_files_sockets_or_processes() {
    for mode in [Mode::Host, Mode::Image] {
        let pair = start(mode);
        let alice = pair.workspace(ALICE);
        let bob = pair.workspace(BOB);
        assert_ne!(alice, bob, "{}: one workspace for two principals", mode.name());
        let alice_uid = pair.call(ALICE, "get_shell_info", json!({}))["uid"].as_u64().unwrap();
        let bob_uid = pair.call(BOB, "get_shell_info", json!({}))["uid"].as_u64().unwrap();
        assert_ne!(alice_uid, bob_uid, "{}: one uid for two principals", mode.name());
        let health: Response = raw_request(pair.daemon.port, "GET", "/health", &[], b"");
        assert_eq!(health.json()["uid_per_principal"], true, "{}: {}", mode.name(), health.body);
        // Alice's file, socket and process, made by alice's calls.
        let made = pair.run(ALICE, "mkdir -p dir && echo secret > dir/file && chmod 644 dir/file && echo made");
        assert_eq!(made["stdout"], "made\n", "{}: {made}", mode.name());
        let socket = format!("{alice}/alice.sock");
        let mark = marker("alice");
        let started = pair.call(
            ALICE,
            "start_command",
            json!({ "command": format!("{} {socket} # {mark}", script("serve", SERVE, &[])) }),
        );
        assert!(started["id"].is_string(), "{}: {started}", mode.name());
        // Listening (the file appears at bind, before the listen).
        let listening = || {
            // Read the greeting: a peer gone before it is sent ends the server.
            let mut greeting = [0u8; 6];
            std::os::unix::net::UnixStream::connect(pair.seen(&socket))
                .and_then(|mut stream| std::io::Read::read_exact(&mut stream, &mut greeting))
                .is_ok()
        };
        assert!(eventually(Duration::from_secs(5), listening), "{}: no socket", mode.name());
        let victim = pair.daemon.seen_pid(*processes_with(&mark).iter().max().expect("alice's process"));
        let file = format!("{alice}/dir/file");
        for (kind, target) in [
            ("read", file.clone()),
            ("write", file.clone()),
            ("truncate", file.clone()),
            ("delete", file.clone()),
            ("rename", file.clone()),
            ("link", file.clone()),
            ("symlink-read", file.clone()),
            ("chmod", file.clone()),
            ("utime", file.clone()),
            ("setxattr", file.clone()),
            ("list", format!("{alice}/dir")),
            ("create-in", format!("{alice}/dir")),
            ("connect", socket.clone()),
            ("connect-abstract", "alice".to_string()),
            ("signal", victim.to_string()),
            ("prlimit", victim.to_string()),
            ("renice", victim.to_string()),
            ("ptrace", victim.to_string()),
            ("environ", victim.to_string()),
            ("cwd", victim.to_string()),
            ("fd", victim.to_string()),
        ] {
            let outcome = pair.run(BOB, &script("attacks", ATTACKS, &[kind, &target]));
            let verdict = outcome["stdout"].as_str().unwrap().trim().to_string();
            assert!(verdict.starts_with("ERR"), "{}: bob's {kind} of {target}: {outcome}", mode.name());
        }
        // Nothing of alice's changed; alice still reads, writes and serves.
        let meta = std::fs::metadata(pair.seen(&file)).unwrap();
        assert_eq!(std::fs::read_to_string(pair.seen(&file)).unwrap(), "secret\n");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644, "{}: chmod got through", mode.name());
        let twin = pair.run(
            ALICE,
            &format!("cat dir/file && echo more >> dir/file && {}", script("attacks", ATTACKS, &["connect", &socket])),
        );
        assert_eq!(twin["stdout"], "secret\nread b'alice\\n'\nOK\n", "{}: {twin}", mode.name());
        // A workspace persists across its principal's calls.
        assert_eq!(pair.run(ALICE, "cat dir/file")["stdout"], "secret\nmore\n", "{}", mode.name());
        // Neither principal reads or changes the daemon's files, though their
        // modes allow reading, by a path, a link or the daemon's /proc root.
        let daemon = pair.daemon.seen_pid(pair.daemon.pid());
        for token in [ALICE, BOB] {
            for daemon_file in &pair.files {
                let outcome = pair.run(token, &format!("cat {}", daemon_file.display()));
                assert_ne!(outcome["exit_code"], 0, "{}: read {}: {outcome}", mode.name(), daemon_file.display());
                assert!(outcome["stdout"].as_str().unwrap().is_empty(), "{}: {outcome}", mode.name());
                let path = daemon_file.display().to_string();
                let via_proc = format!("/proc/{daemon}/root{path}");
                for (kind, target) in [
                    ("read", &via_proc),
                    ("symlink-read", &path),
                    ("link", &path),
                    ("write", &path),
                    ("chmod", &path),
                    ("utime", &path),
                    ("rename", &path),
                ] {
                    let outcome = pair.run(token, &script("attacks", ATTACKS, &[kind, target]));
                    let verdict = outcome["stdout"].as_str().unwrap().trim().to_string();
                    assert!(verdict.starts_with("ERR"), "{}: {kind} of {target}: {outcome}", mode.name());
                }
            }
            for daemon_file in &pair.files {
                let mode_now = std::fs::metadata(daemon_file).unwrap().permissions().mode() & 0o7777;
                assert_eq!(mode_now, 0o644, "{}: {} changed", mode.name(), daemon_file.display());
            }
            for attack in [format!("prlimit --pid {daemon} --nofile=3:3"), format!("renice -n 19 -p {daemon}")] {
                assert_ne!(pair.run(token, &attack)["exit_code"], 0, "{}: {attack}", mode.name());
            }
            // Every thread of the daemon, those that clone commands (and
            // share their Landlock domain) included.
            let threads = pair.run(token, &script("threads", THREADS, &[&daemon.to_string()]));
            let verdict = threads["stdout"].as_str().unwrap();
            assert!(verdict.starts_with("threads "), "{}: {threads}", mode.name());
            assert!(!verdict.contains("REACHED"), "{}: a daemon thread was reached: {verdict}", mode.name());
        }
        // Bob sees only his own background commands.
        let listed = pair.call(BOB, "list_commands", json!({}));
        assert_eq!(listed["commands"], json!([]), "{}: bob lists alice's jobs: {listed}", mode.name());
        let id = started["id"].as_str().unwrap();
        let killed = pair.call(BOB, "kill_command", json!({ "id": id }));
        assert_ne!(killed["killed"], true, "{}: bob killed alice's job: {killed}", mode.name());
        assert_eq!(pair.call(ALICE, "kill_command", json!({ "id": id }))["killed"], true);
    }
}

#[test]
fn every_record_of_a_principal_names_its_uid_and_workspace() {
    let pair = start(Mode::Host);
    pair.run(ALICE, "echo one");
    pair.run(BOB, "echo two");
    let alice = pair.workspace(ALICE);
    let record = pair.daemon.record(|r| r["principal"] == "alice" && r["tool"] == "execute_command");
    assert_eq!(record["workspace"], alice);
    let uid = pair.call(ALICE, "get_shell_info", json!({}))["uid"].clone();
    assert_eq!(record["uid"], uid);
    let bob = pair.daemon.record(|r| r["principal"] == "bob" && r["tool"] == "execute_command");
    assert_ne!(bob["uid"], record["uid"]);
}

#[test]
fn with_a_shared_uid_landlock_alone_still_keeps_reads_and_writes_but_not_modes_and_times() {
    let pair = start_with(Mode::Host, &[("MCP_SHARED_UID", "true")]);
    // The daemon says what it gave up, wherever an operator looks.
    assert_eq!(pair.call(ALICE, "get_shell_info", json!({}))["uid_per_principal"], false);
    let health: Response = raw_request(pair.daemon.port, "GET", "/health", &[], b"");
    assert_eq!(health.json()["uid_per_principal"], false, "{}", health.body);
    let alice = pair.workspace(ALICE);
    assert_eq!(pair.run(ALICE, "echo secret > file && chmod 644 file && echo made")["stdout"], "made\n");
    let file = format!("{alice}/file");
    for kind in ["read", "write", "truncate", "delete", "rename", "link", "symlink-read"] {
        let outcome = pair.run(BOB, &script("attacks", ATTACKS, &[kind, &file]));
        assert!(outcome["stdout"].as_str().unwrap().starts_with("ERR"), "bob's {kind}: {outcome}");
    }
    // What only a uid of one's own holds (SECURITY.md): Landlock has no right
    // for changing modes, times or attributes.
    for kind in ["chmod", "utime"] {
        let outcome = pair.run(BOB, &script("attacks", ATTACKS, &[kind, &file]));
        assert_eq!(outcome["stdout"], "OK\n", "bob's {kind} under a shared uid: {outcome}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "secret\n");
}

#[test]
fn no_thread_of_the_daemon_is_within_a_commands_reach_in_any_mode() {
    for mode in [Mode::Host, Mode::Image, Mode::SharedUid] {
        let pair = start(mode);
        let daemon = pair.daemon.seen_pid(pair.daemon.pid()).to_string();
        for token in [ALICE, BOB] {
            let outcome = pair.run(token, &script("threads", THREADS, &[&daemon]));
            let verdict = outcome["stdout"].as_str().unwrap();
            assert!(verdict.starts_with("threads ") && verdict.contains("none reached"), "{}: {outcome}", mode.name());
        }
        // The twin: the same script reaches its own threads.
        let own = pair.run(ALICE, &script("threads", THREADS, &["self"]));
        assert!(own["stdout"].as_str().unwrap().contains("REACHED signal:"), "{}: {own}", mode.name());
    }
}
