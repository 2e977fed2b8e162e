//! The egress proxy knows whose connection it serves: a proxy secret works
//! only for connections the socket broker made for a command of the
//! secret's own principal, and only while the call that received it runs.
//! A secret stolen by another principal's command, or presented by a
//! process outside the sandbox (even from the local port the broker saw),
//! is refused and reaches nothing; its owner still gets through, until
//! its call ends. Tried with the daemon as root on the host and as
//! an ordinary user sharing its uid with commands (where one principal's
//! commands could read another's environment, so the broker's record is
//! the only thing that holds), and in the image's mode (in the container
//! run, the image itself).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use common::{Daemon, IMAGE_UID, Mode, eventually, fresh_dir, tokens_file};
use serde_json::{Value, json};

const ALICE: &str = "alice-token-0123456789abcdef";
const BOB: &str = "bob-token-0123456789abcdefgh";

/// A loopback HTTP origin that counts requests and answers each `origin`.
fn origin() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\norigin\n");
        }
    });
    (port, served)
}

struct Setup {
    daemon: Daemon,
    port: u16,
    served: Arc<AtomicUsize>,
}

fn start(mode: Mode) -> Setup {
    let (port, served) = origin();
    let dir = fresh_dir("egress-identity", 0o755);
    if mode == Mode::SharedUid {
        std::os::unix::fs::chown(&dir, Some(IMAGE_UID), Some(IMAGE_UID)).unwrap();
    }
    let list = format!("egress_allow = [\"allowed.test:{port}\", \"127.0.0.1/32:{port}\"]");
    let tokens = tokens_file(&dir, &[("alice", ALICE, &list), ("bob", BOB, &list)]);
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "allowed.test 127.0.0.1\n").unwrap();
    std::fs::set_permissions(&hosts, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let allow = format!("allowed.test:{port},127.0.0.1/32:{port}");
    let env = [
        ("MCP_TOKENS_FILE", tokens.to_str().unwrap()),
        ("MCP_EGRESS_ALLOW", allow.as_str()),
        ("MCP_EGRESS_TEST_HOSTS", hosts.to_str().unwrap()),
    ];
    let daemon = Daemon::launch_command(mode.command(), &env, &[]);
    Setup { daemon, port, served }
}

impl Setup {
    fn run(&self, token: &str, command: &str) -> Value {
        let arguments = json!({ "command": command, "timeout": "20s" });
        self.daemon.call_tool_as(token, "execute_command", arguments)["structuredContent"].clone()
    }

    /// A principal's workspace, as the test sees it.
    fn workspace(&self, token: &str) -> PathBuf {
        let info = self.daemon.call_tool_as(token, "get_shell_info", json!({}))["structuredContent"].clone();
        PathBuf::from(format!("/proc/{}/root{}", self.daemon.pid(), info["working_directory"].as_str().unwrap()))
    }

    fn egress_records(&self, rule: &str) -> Vec<Value> {
        self.daemon.records().into_iter().filter(|r| r["event"] == "egress" && r["rule"] == rule).collect()
    }
}

/// Sends a proxy request for `target` with the credentials of `url` from
/// this process (outside any sandbox); returns the status line and body.
fn from_outside(url: &str, target: &str, from: Option<std::net::SocketAddr>) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (credentials, address) = rest.split_once('@').unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if let Some(from) = from {
        socket.bind(&from.into()).unwrap();
    }
    let proxy: std::net::SocketAddr = address.parse().unwrap();
    socket.connect(&proxy.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {encoded}\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn a_stolen_secret_is_refused(mode: Mode) {
    let setup = Arc::new(start(mode));
    let target = format!("http://allowed.test:{}/", setup.port);
    let stolen = setup.workspace(ALICE).join("proxy-url");
    // Alice's call holds its secret while it runs.
    // It also connects a socket to the proxy twice (the second connect of
    // a connected socket fails), and says which local port it used.
    let hold = common::script(
        "egress-hold-secret",
        "import time\nurl = os.environ['HTTPS_PROXY']\nhost, port = url.rsplit('@', 1)[1].split(':')\n\
         s = socket.create_connection((host, int(port)))\nattempt(lambda: s.connect((host, int(port))))\n\
         open('local-port', 'w').write(str(s.getsockname()[1]))\nopen('proxy-url', 'w').write(url)\ntime.sleep(6)",
        &[],
    );
    let holder = {
        let setup = setup.clone();
        std::thread::spawn(move || setup.run(ALICE, &hold))
    };
    assert!(eventually(Duration::from_secs(10), || std::fs::read_to_string(&stolen).is_ok_and(|u| !u.is_empty())));
    let url = std::fs::read_to_string(&stolen).unwrap();
    let local: u16 = std::fs::read_to_string(stolen.with_file_name("local-port")).unwrap().parse().unwrap();

    let outside = from_outside(&url, &target, None);
    // From another address with the port the broker saw: no record of it.
    let same_port = from_outside(&url, &target, Some(std::net::SocketAddr::from(([127, 0, 0, 2], local))));
    assert!(same_port.contains("(wrong_principal)"), "{}: {same_port}", mode.name());
    assert!(outside.starts_with("HTTP/1.1 403"), "{}: {outside}", mode.name());
    assert!(outside.contains("(wrong_principal)"), "{}: {outside}", mode.name());
    let bob = setup.run(BOB, &format!("curl -sS -x '{url}' {target}"));
    assert!(bob["stdout"].as_str().unwrap().contains("(wrong_principal)"), "{}: {bob}", mode.name());
    assert_eq!(setup.served.load(Ordering::SeqCst), 0, "{}: a stolen secret reached the origin", mode.name());

    // The twins: Bob with his own secret, and Alice's command with hers.
    let own = setup.run(BOB, &format!("curl -sS {target}"));
    assert_eq!(own["stdout"], "origin\n", "{}: {own}", mode.name());
    let alice = setup.run(ALICE, &format!("curl -sS -x \"$(cat proxy-url)\" {target}"));
    assert_eq!(alice["stdout"], "origin\n", "{}: {alice}", mode.name());
    assert_eq!(setup.served.load(Ordering::SeqCst), 2);

    let held = holder.join().unwrap();
    assert_eq!(held["exit_code"], 0, "{held}");
    // The secret of the call that ended, from Alice's own next command.
    let ended = setup.run(ALICE, &format!("curl -sS -i -x \"$(cat proxy-url)\" {target}"));
    let ended = ended["stdout"].as_str().unwrap();
    assert!(ended.starts_with("HTTP/1.1 407"), "{}: {ended}", mode.name());
    assert!(ended.contains("(unknown_call)") && ended.contains("Proxy-Authenticate: Basic"), "{ended}");
    assert!(eventually(Duration::from_secs(5), || setup.egress_records("wrong_principal").len() == 3));
    let refused = setup.egress_records("wrong_principal");
    // Bob's command presented Alice's call; the outside connections came
    // through no broker, and are not taken for anyone's.
    let principals: Vec<&str> = refused.iter().map(|r| r["principal"].as_str().unwrap()).collect();
    assert_eq!(principals.iter().filter(|p| **p == "alice").count(), 1, "{refused:?}");
    assert_eq!(principals.iter().filter(|p| p.is_empty()).count(), 2, "{refused:?}");
    for record in refused {
        assert_eq!(record["allowed"], false);
        assert_eq!(record["address"], Value::Null, "refused before any connection: {record}");
    }
}

#[test]
fn a_stolen_proxy_secret_is_refused_from_another_principal_and_outside_the_sandbox_as_root() {
    a_stolen_secret_is_refused(Mode::Host);
}

#[test]
fn a_stolen_proxy_secret_is_refused_from_another_principal_and_outside_the_sandbox_with_a_shared_uid() {
    a_stolen_secret_is_refused(Mode::SharedUid);
}

/// In the container run (`MCP_TEST_CONTAINER=1`), the image itself, on the
/// host's network, with the test's files in the shared directory.
#[test]
fn a_stolen_proxy_secret_is_refused_in_the_image_mode() {
    a_stolen_secret_is_refused(Mode::Image);
}
