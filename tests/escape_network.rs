//! Network routes that are not `connect()` or `bind()`, tried in both modes
//! (root daemon on the host; the image's uid 10001 without capabilities):
//!
//! - TCP Fast Open: `sendto`, `sendmsg` and `sendmmsg` with `MSG_FASTOPEN`
//!   over IPv4 and IPv6, and `TCP_FASTOPEN_CONNECT` + `connect`;
//! - a listener on a port the kernel picks (`listen()` on an unbound
//!   socket) and `bind` to port 0;
//! - UNIX sockets of host services: pathname (absolute, relative, through
//!   `..`, a symlink, a hard link, `/proc/self/fd` and `/proc/self/cwd`),
//!   seqpacket, datagrams (`sendto` from a datagram socket or a socketpair),
//!   and abstract names.
//!
//! Every attack has its legitimate twin, and where the attack is real a
//! control run with seccomp and the socket broker off shows it getting
//! through. Listeners are the test's own, on loopback only.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Daemon, MODES, Mode, WITHOUT_SECCOMP_AND_BROKER, eventually, fresh_dir, run, script};

/// A loopback TCP listener that counts what it accepts and greets each.
struct Counted {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

fn counted(address: &str) -> Counted {
    let listener = TcpListener::bind(address).unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = (&stream).write_all(b"hello\n");
        }
    });
    Counted { port, accepted }
}

const FAST_OPEN: &str = r#"
kind, family, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if family == "6" else socket.AF_INET
MSG_FASTOPEN = 0x20000000
s = socket.socket(fam, socket.SOCK_STREAM)
def sockaddr():
    if fam == socket.AF_INET:
        return struct.pack("=HH4s8x", fam, socket.htons(port), socket.inet_pton(fam, host))
    return struct.pack("=HHI16sI", fam, socket.htons(port), 0, socket.inet_pton(fam, host), 0)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_char_p), ("len", ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(iovec)),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]
if kind == "sendto":
    attempt(lambda: s.sendto(b"GET / HTTP/1.0\r\n\r\n", MSG_FASTOPEN, (host, port)))
elif kind == "sendmsg":
    attempt(lambda: s.sendmsg([b"x"], [], MSG_FASTOPEN, (host, port)))
elif kind == "sendmmsg":
    address = sockaddr()
    iov = iovec(b"x", 1)
    message = mmsghdr(msghdr(address, len(address), ctypes.pointer(iov), 1, None, 0, 0), 0)
    attempt(lambda: check(libc.sendmmsg(s.fileno(), ctypes.byref(message), 1, MSG_FASTOPEN)))
elif kind == "connect-option":
    s.setsockopt(socket.IPPROTO_TCP, 30, 1)  # TCP_FASTOPEN_CONNECT
    attempt(lambda: (s.connect((host, port)), s.send(b"x")))
elif kind == "connect-blocking":
    attempt(lambda: s.connect((host, port)))
elif kind == "connect-timeout":
    s.settimeout(5)
    attempt(lambda: s.connect((host, port)))
if kind.startswith("connect-") and kind != "connect-option":
    try:
        print("read", s.recv(16))
    except OSError:
        pass
"#;

#[test]
fn tcp_fast_open_reaches_no_port_by_any_send_call() {
    let v4 = counted("127.0.0.1:0");
    let v6 = counted("[::1]:0");
    for mode in MODES {
        let daemon = Daemon::start_in(mode, &[]);
        for (family, host, port) in
            [("4", "127.0.0.1", v4.port), ("6", "::1", v6.port), ("4", "127.0.0.1", daemon.port)]
        {
            for (kind, refusal) in [
                ("sendto", "ERR EPERM"),
                ("sendmsg", "ERR EPERM"),
                ("sendmmsg", "ERR EPERM"),
                ("connect-option", "ERR EACCES"),
            ] {
                let attack = script("fast-open", FAST_OPEN, &[kind, family, host, &port.to_string()]);
                let outcome = run(mode, &[], &attack);
                assert_eq!(
                    outcome.verdict(),
                    refusal,
                    "{}: {kind} over IPv{family} to {port}: {outcome:?}",
                    mode.name()
                );
            }
        }
        // The same calls with the port listed: Fast Open stays refused, an
        // ordinary connection works, blocking or not.
        let listed = format!("{},{}", v4.port, v6.port);
        for (kind, family, host, port, expected) in [
            ("sendto", "4", "127.0.0.1", v4.port, "ERR EPERM"),
            ("connect-blocking", "4", "127.0.0.1", v4.port, "OK"),
            ("connect-timeout", "6", "::1", v6.port, "OK"),
        ] {
            let twin = script("fast-open", FAST_OPEN, &[kind, family, host, &port.to_string()]);
            let outcome = run(mode, &[("MCP_TCP_CONNECT_PORTS", &listed)], &twin);
            assert_eq!(outcome.verdict(), expected, "{}: {kind}: {outcome:?}", mode.name());
            if expected == "OK" {
                assert!(outcome.stdout.contains("read b'hello\\n'"), "{}: {kind}: {outcome:?}", mode.name());
            }
        }
    }
    let twins = MODES.len();
    assert_eq!(v4.accepted.load(Ordering::SeqCst), twins, "only the twins' connections may arrive (one a mode)");
    assert_eq!(v6.accepted.load(Ordering::SeqCst), twins);
    // Control: Landlock alone does not see Fast Open.
    let control = script("fast-open", FAST_OPEN, &["sendto", "4", "127.0.0.1", &v4.port.to_string()]);
    let outcome = run(Mode::Host, WITHOUT_SECCOMP_AND_BROKER, &control);
    assert_eq!(outcome.verdict(), "OK", "{outcome:?}");
    assert!(
        eventually(Duration::from_secs(3), || v4.accepted.load(Ordering::SeqCst) == twins + 1),
        "the control did not connect"
    );
}

const LISTEN: &str = r#"
kind, family, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if family == "6" else socket.AF_INET
host = "::1" if family == "6" else "127.0.0.1"
s = socket.socket(fam, socket.SOCK_STREAM)
if kind == "unbound":
    attempt(lambda: s.listen(4))
elif kind == "port-zero":
    attempt(lambda: s.bind((host, 0)))
elif kind == "bound":
    attempt(lambda: (s.bind((host, port)), s.listen(4)))
elif kind == "unix":
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.bind("listener-%s.sock" % os.urandom(4).hex())
    attempt(lambda: u.listen(4))
elif kind == "unix-abstract":  # a name host clients might connect to
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.bind("\0mcp-test-squat-%s" % os.urandom(4).hex())
    attempt(lambda: u.listen(4))
elif kind == "unix-unbound":  # listen would give it an abstract name
    attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).listen(4))
"#;

#[test]
fn a_tcp_listener_needs_a_listed_port_by_every_route() {
    let free = |address: &str| TcpListener::bind(address).unwrap().local_addr().unwrap().port();
    for mode in MODES {
        for (kind, family, expected) in [
            ("unbound", "4", "ERR EACCES"),
            ("unbound", "6", "ERR EACCES"),
            ("port-zero", "4", "ERR EACCES"),
            ("port-zero", "6", "ERR EACCES"),
            ("unix", "4", "OK"),
            ("unix-abstract", "4", "ERR EACCES"),
            ("unix-unbound", "4", "ERR EACCES"),
        ] {
            let outcome = run(mode, &[], &script("listen", LISTEN, &[kind, family, "0"]));
            assert_eq!(outcome.verdict(), expected, "{}: {kind} IPv{family}: {outcome:?}", mode.name());
        }
        for (family, address) in [("4", "127.0.0.1:0"), ("6", "[::1]:0")] {
            let port = free(address).to_string();
            let outcome =
                run(mode, &[("MCP_TCP_BIND_PORTS", &port)], &script("listen", LISTEN, &["bound", family, &port]));
            assert_eq!(outcome.verdict(), "OK", "{}: listen on listed port {port}: {outcome:?}", mode.name());
            let outcome = run(mode, &[], &script("listen", LISTEN, &["bound", family, &port]));
            assert_eq!(outcome.verdict(), "ERR EACCES", "{}: bind to an unlisted port: {outcome:?}", mode.name());
        }
    }
    // Control: without the broker, listen() picks a port itself.
    let outcome = run(Mode::Host, WITHOUT_SECCOMP_AND_BROKER, &script("listen", LISTEN, &["unbound", "4", "0"]));
    assert_eq!(outcome.verdict(), "OK", "{outcome:?}");
}

/// A host service's UNIX sockets, world-connectable, served by a Python
/// process of the test: stream and seqpacket listeners, a datagram socket
/// and an abstract name. Each event lands in `events`.
struct HostService {
    dir: PathBuf,
    abstract_name: String,
    process: Child,
}

impl HostService {
    fn start() -> HostService {
        let dir = fresh_dir("host-sockets", 0o777);
        let abstract_name = format!("mcp-test-host-{}", std::process::id());
        let mut process = Command::new("/usr/bin/python3")
            .args(["-c", HOST_SERVICE])
            .arg(&dir)
            .arg(&abstract_name)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(process.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready");
        HostService { dir, abstract_name, process }
    }

    fn socket(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn events(&self) -> String {
        std::fs::read_to_string(self.dir.join("events")).unwrap_or_default()
    }
}

impl Drop for HostService {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

const HOST_SERVICE: &str = r#"
import os, socket, sys, threading
d, name = sys.argv[1], sys.argv[2]
log = open(os.path.join(d, "events"), "a", buffering=1)
def serve(s, what):
    while True:
        c, _ = s.accept()
        log.write("accepted " + what + "\n")
        c.sendall(b"host\n")
        c.close()
for kind, file in [(socket.SOCK_STREAM, "stream.sock"), (socket.SOCK_SEQPACKET, "seqpacket.sock")]:
    s = socket.socket(socket.AF_UNIX, kind)
    path = os.path.join(d, file)
    s.bind(path); os.chmod(path, 0o666); s.listen(16)
    threading.Thread(target=serve, args=(s, file), daemon=True).start()
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
a.bind("\0" + name); a.listen(16)
threading.Thread(target=serve, args=(a, "abstract"), daemon=True).start()
g = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
path = os.path.join(d, "dgram.sock"); g.bind(path); os.chmod(path, 0o666)
def datagrams():
    while True:
        g.recv(100); log.write("datagram\n")
threading.Thread(target=datagrams, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"#;

const UNIX: &str = r#"
kind, target = sys.argv[1], sys.argv[2]
def stream(path, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_UNIX, kind)
    s.settimeout(5)
    s.connect(path)
    print("read", s.recv(16))
if kind == "absolute":
    attempt(lambda: stream(target))
elif kind == "seqpacket":
    attempt(lambda: stream(target, socket.SOCK_SEQPACKET))
elif kind == "relative":
    os.chdir(os.path.dirname(target))
    attempt(lambda: stream(os.path.basename(target)))
elif kind == "dotdot":
    attempt(lambda: stream(os.path.relpath(target)))
elif kind == "symlink":
    os.symlink(target, "link.sock")
    attempt(lambda: stream("link.sock"))
elif kind == "hardlink":
    attempt(lambda: (os.link(target, "hard.sock"), stream("hard.sock")))
elif kind == "proc-fd":
    fd = os.open(target, os.O_PATH)
    attempt(lambda: stream("/proc/self/fd/%d" % fd))
elif kind == "proc-cwd":
    os.chdir(os.path.dirname(target))
    attempt(lambda: stream("/proc/self/cwd/" + os.path.basename(target)))
elif kind == "abstract":
    attempt(lambda: stream("\0" + target))
elif kind == "datagram":
    attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", target))
elif kind == "socketpair-datagram":
    attempt(lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)[0].sendto(b"x", target))
elif kind == "raw-datagram":  # the kernel makes a UNIX SOCK_RAW socket a datagram socket
    attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_RAW).sendto(b"x", target))
elif kind == "socketpair-raw":
    attempt(lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_RAW)[0].sendto(b"x", target))
elif kind == "unknown-type":
    attempt(lambda: socket.socket(socket.AF_UNIX, 7).sendto(b"x", target))
elif kind == "own-server":
    for kind_, file in [(socket.SOCK_STREAM, "own.sock"), (socket.SOCK_SEQPACKET, "own-seq.sock")]:
        server = socket.socket(socket.AF_UNIX, kind_)
        server.bind(file); server.listen(1)
        if os.fork() == 0:
            c, _ = server.accept(); c.send(b"own\n"); os._exit(0)
        attempt(lambda: stream(file, kind_))
        os.wait()
"#;

#[test]
fn unix_sockets_of_host_services_are_out_of_reach_by_every_route() {
    let host = HostService::start();
    let stream = host.socket("stream.sock");
    for mode in MODES {
        for (kind, target) in [
            ("absolute", stream.clone()),
            ("relative", stream.clone()),
            ("dotdot", stream.clone()),
            ("symlink", stream.clone()),
            ("hardlink", stream.clone()),
            ("proc-fd", stream.clone()),
            ("proc-cwd", stream.clone()),
            ("seqpacket", host.socket("seqpacket.sock")),
            ("abstract", host.abstract_name.clone()),
            ("datagram", host.socket("dgram.sock")),
            ("socketpair-datagram", host.socket("dgram.sock")),
            ("raw-datagram", host.socket("dgram.sock")),
            ("socketpair-raw", host.socket("dgram.sock")),
            ("unknown-type", host.socket("dgram.sock")),
        ] {
            let outcome = run(mode, &[], &script("unix", UNIX, &[kind, &target]));
            assert!(outcome.verdict().starts_with("ERR"), "{}: {kind} reached {target}: {outcome:?}", mode.name());
        }
        let own = run(mode, &[], &script("unix", UNIX, &["own-server", "-"]));
        assert_eq!(own.stdout.matches("read b'own\\n'").count(), 2, "{}: own sockets: {own:?}", mode.name());
    }
    assert_eq!(host.events(), "", "a command reached the host service");
    // The operator may name a host socket on purpose.
    for mode in MODES {
        let allowed = run(mode, &[("MCP_ALLOWED_SOCKETS", &stream)], &script("unix", UNIX, &["absolute", &stream]));
        assert!(allowed.stdout.contains("read b'host\\n'"), "{}: allowed socket: {allowed:?}", mode.name());
    }
    assert_eq!(host.events().matches("accepted stream.sock").count(), MODES.len(), "{}", host.events());
    // Control: without the broker, the host socket answers.
    let outcome = run(Mode::Host, WITHOUT_SECCOMP_AND_BROKER, &script("unix", UNIX, &["absolute", &stream]));
    assert!(outcome.stdout.contains("read b'host\\n'"), "{outcome:?}");
}

#[test]
fn agents_and_servers_on_sockets_in_the_writable_roots_keep_working() {
    let roots = fresh_dir("socket-root", 0o777);
    for mode in MODES {
        // ssh-agent and tmux in the foreground (both would setsid() to
        // daemonize, which the sandbox refuses), their sockets in the scratch
        // directory, their clients talking to them.
        let ssh = run(
            mode,
            &[],
            "ssh-agent -D -a ./agent.sock >/dev/null 2>&1 & agent=$!; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; \
             do [ -S agent.sock ] && break; sleep 0.1; done; SSH_AUTH_SOCK=./agent.sock ssh-add -l; echo rc=$?; \
             kill $agent",
        );
        assert!(
            ssh.stdout.contains("The agent has no identities.") && ssh.stdout.contains("rc=1"),
            "{}: {ssh:?}",
            mode.name()
        );
        let tmux = run(
            mode,
            &[],
            "tmux -S ./tmux.sock -f /dev/null -D & for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do [ -S tmux.sock ] \
             && break; sleep 0.1; done; tmux -S ./tmux.sock show-options -g exit-empty && tmux -S ./tmux.sock \
             kill-server",
        );
        assert!(tmux.ok() && tmux.stdout.contains("exit-empty off"), "{}: {tmux:?}", mode.name());
    }
    // A configured writable root (in the image's mode it would have to be a
    // noexec mount, which escape_exec.rs shows the daemon insists on).
    let root = roots.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let own = run(
        Mode::Host,
        &[("MCP_WRITABLE_ROOTS", &root.display().to_string())],
        &format!("cd {} && {}", root.display(), script("unix", UNIX, &["own-server", "-"])),
    );
    assert_eq!(own.stdout.matches("read b'own\\n'").count(), 2, "{own:?}");
    assert!(Path::new(&root.join("own.sock")).exists());
}

const PEERS: &str = r#"
kind, path = sys.argv[1], sys.argv[2]
SO_PEERCRED = 17
def peer(s):
    pid, uid, gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, 12))
    return uid, gid
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path); server.listen(8)
if kind == "self":
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    accepted, _ = server.accept()
    print("client sees", peer(client), "server sees", peer(accepted), "own", (os.getuid(), os.getgid()))
else:
    print("listening", flush=True)
    accepted, _ = server.accept()
    accepted.send(b"ok")
    accepted.recv(1)
"#;

/// The peer credentials (uid, gid) a UNIX stream socket reports.
fn peer_credentials(stream: &std::os::unix::net::UnixStream) -> (u32, u32) {
    use std::os::fd::AsRawFd;
    let mut credentials = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut length = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `length` bytes into `credentials`.
    let result = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut credentials).cast(),
            &mut length,
        )
    };
    assert_eq!(result, 0, "SO_PEERCRED");
    (credentials.uid, credentials.gid)
}

#[test]
fn sockets_a_command_listens_on_or_connects_carry_its_own_uid_not_the_daemons() {
    for mode in MODES {
        let uid = common::command_uid(mode);
        let own = run(mode, &[], &script("peers", PEERS, &["self", "own.sock"]));
        let expected = format!("client sees ({uid}, {uid}) server sees ({uid}, {uid}) own ({uid}, {uid})");
        assert!(own.stdout.contains(&expected), "{}: {own:?}", mode.name());
    }
    // A host client of a socket a command listens on (in a writable root)
    // sees the command's uid: the daemon performed the listen as that uid.
    let root = fresh_dir("peer-root", 0o777);
    let path = root.join("served.sock");
    let command = script("peers", PEERS, &["serve", &path.display().to_string()]);
    let daemon = Daemon::start_in(Mode::Host, &[("MCP_WRITABLE_ROOTS", &root.display().to_string())]);
    let uid =
        daemon.call_tool("get_shell_info", serde_json::json!({}))["structuredContent"]["uid"].as_u64().unwrap() as u32;
    let served = common::execute_in_background(daemon.port, &command);
    // The file appears at bind, before the listen: connect until it takes.
    let mut connected = None;
    let listening = eventually(Duration::from_secs(5), || {
        connected = std::os::unix::net::UnixStream::connect(&path).ok();
        connected.is_some()
    });
    assert!(listening, "the command did not listen");
    let mut stream = connected.unwrap();
    let mut greeting = [0u8; 2];
    std::io::Read::read_exact(&mut stream, &mut greeting).unwrap();
    assert_eq!(peer_credentials(&stream), (uid, uid), "the listener carries the daemon's credentials");
    stream.write_all(b"x").unwrap();
    drop(stream);
    let _ = served.join();
}

const CROWD: &str = r#"
import threading, time
kind = sys.argv[1]
name = "%s-%s.sock" % (kind, os.urandom(4).hex())  # calls share the scratch directory
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(name); server.listen(0)
def stuck():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(name)
    except OSError:
        pass
    time.sleep(30)
if kind == "crowd":
    # More than any daemon-wide cap on waiting calls would allow.
    for _ in range(300):
        threading.Thread(target=stuck, daemon=True).start()
    print("crowding", flush=True)
    time.sleep(8)
else:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    attempt(lambda: client.connect(name))
"#;

#[test]
fn one_commands_waiting_socket_calls_do_not_hold_up_anothers() {
    for mode in MODES {
        let daemon = Daemon::start_in(mode, &[]);
        let mark = common::marker("crowd");
        let crowd =
            common::execute_in_background(daemon.port, &format!("{} # {mark}", script("crowd", CROWD, &["crowd"])));
        assert!(eventually(Duration::from_secs(5), || !common::processes_with(&mark).is_empty()));
        std::thread::sleep(Duration::from_millis(1500));
        for _ in 0..3 {
            let other = daemon.execute(serde_json::json!({ "command": script("crowd", CROWD, &["single"]) }));
            assert_eq!(other["stdout"], "OK\n", "{}: another call's connect waited or failed: {other}", mode.name());
        }
        let _ = crowd.join();
    }
}
