//! Egress through the daemon's proxy, with real clients in the sandbox and
//! every destination on loopback: a test name map (`MCP_EGRESS_TEST_HOSTS`)
//! points test names at the suite's own listeners, an HTTPS origin with a
//! self-signed certificate (for CONNECT) and a plain HTTP one (forwarded),
//! served by `tests/egress/origin.py`.
//!
//! Allowed: `curl` over HTTPS, `git ls-remote` of a dumb-HTTP repository
//! over HTTPS, `pip download` from a simple index over HTTP. Refused, each
//! beside its allowed twin: a name not listed, a port not listed, an IP
//! literal, a name resolving into a refused range, a name that rebinds
//! there after its first lookup, a direct TCP connection that skips the
//! proxy, the proxy's port on another address, another principal's list.
//! Limits: connections per call, bytes per call, idle timeout, the call's
//! end closing its tunnels.
//!
//! Then the interface case by case, mostly through a client that speaks to
//! the proxy itself (`PROBE`): the proxy variables and their per-call
//! secrets, 407 and 400 answers, every form of a list entry (suffixes, any
//! port, the default 443, case and trailing dot, ranges written each way,
//! from the config file and the flags), IP literals written as names,
//! mapped and IPv6 loopback answers, names with several addresses,
//! `no_address` and `connect_failed`, the forwarded request's origin form
//! and a pipelined second request, connections per principal across calls
//! and principals, the byte budget over a call's connections against the
//! byte metric, a killed background job's tunnels, the record of a tunnel
//! whose client finished before its call ended, `get_network_policy`,
//! direct connections beside `MCP_TCP_CONNECT_PORTS`, principal lists
//! narrowing the daemon's, and the fixtures checked without any proxy.
//! Nothing here connects off loopback.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Daemon, eventually, fresh_dir, raw_request, script, tokens_file};
use serde_json::{Value, json};

/// The suite's origins, stopped when dropped.
struct Origins {
    dir: PathBuf,
    https: u16,
    http: u16,
    cert: PathBuf,
    children: Vec<Child>,
}

impl Drop for Origins {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let status =
        Command::new(program).args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert!(status.success(), "{program} {args:?} failed");
}

/// Starts `origin.py` with `args` and returns it with its port.
fn origin(args: &[&str]) -> (Child, u16) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/egress/origin.py");
    let mut child = Command::new("/usr/bin/python3").arg(script).args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    (child, line.trim().parse().expect("origin.py prints its port"))
}

fn origins() -> Origins {
    let dir = fresh_dir("egress", 0o755);
    let names = "subjectAltName=DNS:git.test,DNS:allowed.test,DNS:rebind.test,DNS:evil.test,IP:127.0.0.2";
    run(
        "openssl",
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2"]
            .iter()
            .chain(&["-subj", "/CN=egress.test", "-addext", names])
            .copied()
            .collect::<Vec<_>>(),
        &dir,
    );
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "hello-https\n").unwrap();
    run("git", &["init", "-q", "-b", "main", "work"], &dir);
    run(
        "git",
        &["-C", "work", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "one"],
        &dir,
    );
    run("git", &["clone", "-q", "--bare", "work", "www/repo.git"], &dir);
    run("git", &["-C", "www/repo.git", "update-server-info"], &dir);
    std::fs::create_dir_all(dir.join("index")).unwrap();
    for file in ["cert.pem", "key.pem"] {
        std::fs::set_permissions(dir.join(file), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (https_child, https) = origin(&["https", &path("www"), &path("cert.pem"), &path("key.pem")]);
    let (http_child, http) = origin(&["http", &path("index")]);
    Origins { cert: dir.join("cert.pem"), dir, https, http, children: vec![https_child, http_child] }
}

/// A loopback listener counting what it accepts; each connection gets an
/// HTTP head and is then held until the peer closes it, when `closed`
/// counts it.
struct Counter {
    port: u16,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    /// Every byte received, over all connections.
    received: Arc<std::sync::Mutex<Vec<u8>>>,
}

fn counter(address: &str) -> Counter {
    let listener = TcpListener::bind(address).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (a, c, r) = (accepted.clone(), closed.clone(), received.clone());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            a.fetch_add(1, Ordering::SeqCst);
            let (c, r) = (c.clone(), r.clone());
            std::thread::spawn(move || {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 100000\r\n\r\nstarted\n");
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    r.lock().unwrap().extend_from_slice(&buffer[..n]);
                }
                c.fetch_add(1, Ordering::SeqCst);
                // Held open: only the proxy can end the relay now.
                std::thread::sleep(Duration::from_secs(60));
            });
        }
    });
    Counter { port, accepted, closed, received }
}

/// A loopback listener counting what it accepts, closing each connection
/// as soon as its peer has ended its side.
fn closing_counter(address: &str) -> Counter {
    let listener = TcpListener::bind(address).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, c) = (accepted.clone(), closed.clone());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            a.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Counter { port, accepted, closed, received: Arc::default() }
}

/// The name map: test names on loopback; `internal.test` on a loopback
/// address no range lists; `rebind.test` moving there after one lookup.
fn name_map(dir: &Path) -> PathBuf {
    let path = dir.join("hosts");
    std::fs::write(
        &path,
        "allowed.test 127.0.0.1\ngit.test 127.0.0.1\npypi.test 127.0.0.1\ninternal.test 127.0.0.2\n\
         rebind.test 127.0.0.1\nrebind.test 127.0.0.2\nevil.test 127.0.0.1\n\
         wild.test 127.0.0.1\na.wild.test 127.0.0.1\ndeep.a.wild.test 127.0.0.1\nanyport.test 127.0.0.1\n\
         nodefault.test 127.0.0.1\nmulti.test 127.0.0.1,127.0.0.2\nmapped.test ::ffff:127.0.0.2\nv6.test ::1\n\
         closed.test 127.0.0.1\necho.test 127.0.0.1\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    path
}

/// The daemon's list for `origins`: the test names on their ports, and
/// 127.0.0.1 (not 127.0.0.2) as a listed range, since every origin is on
/// loopback.
fn allow(origins: &Origins) -> String {
    let (s, p) = (origins.https, origins.http);
    format!("allowed.test:{s},git.test:{s},rebind.test:{s},internal.test:{s},pypi.test:{p},127.0.0.1/32:*")
}

fn start(origins: &Origins, more: &[(&str, &str)]) -> Daemon {
    start_allowing(origins, &allow(origins), more)
}

/// A daemon with `allow` as its list and the suite's name map.
fn start_allowing(origins: &Origins, allow: &str, more: &[(&str, &str)]) -> Daemon {
    let hosts = name_map(&origins.dir);
    let mut env = vec![("MCP_EGRESS_ALLOW", allow), ("MCP_EGRESS_TEST_HOSTS", hosts.to_str().unwrap())];
    env.extend_from_slice(more);
    Daemon::start(&env)
}

const ALICE: &str = "alice-token-0123456789abcdef";
const BOB: &str = "bob-token-0123456789abcdefgh";

/// A daemon serving alice and bob, each with `list` (tokens-file lines),
/// and `more` settings.
fn start_pair(origins: &Origins, list: &str, more: &[(&str, &str)]) -> Arc<Daemon> {
    let dir = fresh_dir("egress-pair", 0o755);
    let tokens = tokens_file(&dir, &[("alice", ALICE, list), ("bob", BOB, list)]);
    let mut env = vec![("MCP_TOKENS_FILE", tokens.to_str().unwrap())];
    env.extend_from_slice(more);
    Arc::new(start(origins, &env))
}

fn execute(daemon: &Daemon, command: &str) -> Value {
    daemon.execute(json!({ "command": command, "timeout": "30s" }))
}

fn stdout(result: &Value) -> &str {
    result["stdout"].as_str().unwrap_or_default()
}

fn egress_record(daemon: &Daemon, wanted: impl Fn(&Value) -> bool) -> Value {
    daemon.record(|r| r["event"] == "egress" && wanted(r))
}

/// The egress connections counted with `outcome`, over all principals.
fn counted(daemon: &Daemon, outcome: &str) -> f64 {
    let text = raw_request(daemon.port, "GET", "/metrics", &[], b"").body;
    text.lines()
        .filter(|l| l.starts_with("mcp_commander_egress_connections_total{"))
        .filter(|l| l.contains(&format!("outcome=\"{outcome}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The default program directories and git's exec path, where its HTTPS
/// helper (`git-remote-https`) lives.
fn exec_dirs_with_git() -> String {
    let git_core = String::from_utf8(Command::new("/usr/bin/git").arg("--exec-path").output().unwrap().stdout).unwrap();
    format!("/usr/local/sbin,/usr/local/bin,/usr/sbin,/usr/bin,/sbin,/bin,{}", git_core.trim())
}

#[test]
fn curl_git_and_pip_reach_listed_names_through_the_proxy_and_each_connection_is_recorded() {
    let origins = origins();
    let daemon = start(&origins, &[("MCP_EXEC_DIRS", &exec_dirs_with_git())]);
    let cert = origins.cert.display();
    let (s, p) = (origins.https, origins.http);

    let curl = execute(&daemon, &format!("curl -sS --cacert {cert} https://allowed.test:{s}/"));
    assert_eq!(stdout(&curl), "hello-https\n", "{curl}");
    // git runs its HTTPS transport (git-remote-https) from its exec path,
    // which the daemon is told to allow beside the default directories.
    let git = execute(
        &daemon,
        &format!("HOME=$PWD GIT_SSL_CAINFO={cert} /usr/bin/git ls-remote https://git.test:{s}/repo.git"),
    );
    assert!(stdout(&git).contains("\trefs/heads/main\n"), "{git}");
    let pip = execute(
        &daemon,
        &format!(
            "HOME=$PWD /usr/bin/python3 -m pip download --disable-pip-version-check --no-deps --no-cache-dir \
             --index-url http://pypi.test:{p}/simple/ --trusted-host pypi.test -d dl demo && ls dl"
        ),
    );
    assert!(stdout(&pip).contains("demo-0.1-py3-none-any.whl"), "{pip}");

    let call = daemon
        .record(|r| r["event"] == "tool_call" && r["command"].as_str().is_some_and(|c| c.contains("allowed.test")));
    let record = egress_record(&daemon, |r| r["host"] == "allowed.test");
    assert_eq!(record["request_id"], call["request_id"], "the connection names its call: {record}");
    assert_eq!(
        (record["allowed"].as_bool(), record["method"].as_str(), record["port"].as_u64()),
        (Some(true), Some("CONNECT"), Some(u64::from(s)))
    );
    assert_eq!(record["address"], format!("127.0.0.1:{s}"));
    assert!(
        record["bytes_sent"].as_u64().unwrap() > 200 && record["bytes_received"].as_u64().unwrap() > 500,
        "{record}"
    );
    let forwarded = egress_record(&daemon, |r| r["host"] == "pypi.test" && r["allowed"] == true);
    assert_eq!(forwarded["method"], "GET");
    egress_record(&daemon, |r| r["host"] == "git.test" && r["allowed"] == true);
    // curl's tunnel, git's (after the 407 its libcurl answers with
    // credentials; one, kept alive), pip's index page and wheel (one each,
    // or one for both); the metric counts each connection under its
    // record's outcome.
    // (A connection is counted before its record is written: the records
    // are read until they have caught up.)
    let outcome = |r: &Value| r["rule"].as_str().unwrap_or("allowed").to_string();
    let mut records = Vec::new();
    let mut mismatch = String::new();
    let settled = eventually(Duration::from_secs(5), || {
        records = daemon.records().into_iter().filter(|r| r["event"] == "egress").collect::<Vec<_>>();
        mismatch = records
            .iter()
            .map(outcome)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|name| (counted(&daemon, &name), records.iter().filter(|r| outcome(r) == name).count() as f64, name))
            .filter(|(metric, count, _)| metric != count)
            .map(|(metric, count, name)| format!("{name}: metric {metric}, records {count}; "))
            .collect();
        records.iter().filter(|r| r["allowed"] == true).count() >= 3 && mismatch.is_empty()
    });
    assert!(settled, "{mismatch}{records:#?}");
}

#[test]
fn refused_destinations_are_told_the_rule_and_reach_nothing() {
    let origins = origins();
    let daemon = start(&origins, &[]);
    let cert = origins.cert.display();
    let (s, p) = (origins.https, origins.http);
    // Where a refused range would lead, on the HTTPS origin's own port.
    let beyond = counter(&format!("127.0.0.2:{s}"));
    let direct = counter("127.0.0.1:0");

    for (command, rule) in [
        (format!("curl -sS http://evil.test:{s}/"), "not_listed"),
        (format!("curl -sS http://allowed.test:{p}/"), "port_not_listed"),
        (format!("curl -sS http://127.0.0.2:{s}/"), "ip_literal"),
        (format!("curl -sS http://2130706434:{s}/"), "ip_literal"),
        (format!("curl -sS http://internal.test:{s}/"), "refused_range"),
    ] {
        let result = execute(&daemon, &command);
        assert!(
            stdout(&result).starts_with(&format!("mcp-commander egress refused ({rule}): ")),
            "{command}: {result}"
        );
        egress_record(&daemon, |r| r["rule"] == rule && r["allowed"] == false && r["address"].is_null());
    }
    // Over HTTPS the client shows the CONNECT refusal.
    let tunnel = execute(&daemon, &format!("curl -sS --cacert {cert} https://evil.test:{s}/"));
    assert!(tunnel["stderr"].as_str().unwrap().contains("403"), "{tunnel}");
    let literal = execute(&daemon, &format!("curl -sS --cacert {cert} https://127.0.0.2:{s}/"));
    assert!(literal["stderr"].as_str().unwrap().contains("403"), "{literal}");

    // Rebinding: the first lookup is loopback's listed 127.0.0.1, the next
    // is 127.0.0.2; the proxy connects only where it checked.
    let first = execute(&daemon, &format!("curl -sS --cacert {cert} https://rebind.test:{s}/"));
    assert_eq!(stdout(&first), "hello-https\n", "{first}");
    let second = execute(&daemon, &format!("curl -sS --cacert {cert} https://rebind.test:{s}/"));
    assert!(second["stderr"].as_str().unwrap().contains("403"), "{second}");
    egress_record(&daemon, |r| r["host"] == "rebind.test" && r["rule"] == "refused_range");

    // A direct connection is refused by the socket broker; through the
    // proxy (127.0.0.1 is a listed range) the same listener is reached.
    let skip = execute(&daemon, &format!("curl -sS --noproxy '*' http://127.0.0.1:{}/", direct.port));
    assert_eq!(skip["exit_code"], 7, "curl: couldn't connect: {skip}");
    assert_eq!(direct.accepted.load(Ordering::SeqCst), 0, "a direct connection got through");
    let twin = execute(&daemon, &format!("curl -sS -m 2 http://127.0.0.1:{}/", direct.port));
    assert!(stdout(&twin).starts_with("started"), "{twin}");
    assert_eq!(direct.accepted.load(Ordering::SeqCst), 1);

    // The proxy's port is reached on 127.0.0.1 only.
    let policy = daemon.call_tool("get_network_policy", json!({}))["structuredContent"].clone();
    let proxy_port = policy["proxy"].as_str().unwrap().rsplit(':').next().unwrap().to_string();
    let connect = script(
        "egress-proxy-address",
        "for host in sys.argv[1:-1]:\n    fam = socket.AF_INET6 if ':' in host else socket.AF_INET\n    \
         s = socket.socket(fam, socket.SOCK_STREAM)\n    attempt(lambda: s.connect((host, int(sys.argv[-1]))))",
        &["127.0.0.2", "::1", "127.0.0.1", &proxy_port],
    );
    assert_eq!(stdout(&execute(&daemon, &connect)), "ERR EACCES\nERR EACCES\nOK\n");
    assert_eq!(beyond.accepted.load(Ordering::SeqCst), 0, "something reached 127.0.0.2");
}

#[test]
fn each_principal_reaches_its_own_list_only() {
    let origins = origins();
    let (s, p) = (origins.https, origins.http);
    let dir = fresh_dir("egress-principals", 0o755);
    // Each list needs loopback's range too: the names resolve there.
    let alice = format!("egress_allow = [\"allowed.test:{s}\", \"127.0.0.1/32:*\"]");
    let bob = format!("egress_allow = [\"pypi.test:{p}\", \"127.0.0.1/32:*\"]");
    let tokens = tokens_file(
        &dir,
        &[("alice", ALICE, &alice), ("bob", BOB, &bob), ("carol", "carol-token-0123456789abcdef", "egress_allow = []")],
    );
    let daemon = start(&origins, &[("MCP_TOKENS_FILE", tokens.to_str().unwrap())]);
    let cert = origins.cert.display();
    let run = |token: &str, command: &str| {
        daemon.call_tool_as(token, "execute_command", json!({ "command": command }))["structuredContent"].clone()
    };
    let policy = |token: &str| daemon.call_tool_as(token, "get_network_policy", json!({}))["structuredContent"].clone();

    let https = format!("curl -sS --cacert {cert} https://allowed.test:{s}/");
    let allowed = run(ALICE, &https);
    assert_eq!(stdout(&allowed), "hello-https\n", "{allowed}");
    let refused = run(BOB, &https);
    assert!(refused["stderr"].as_str().unwrap().contains("403"), "{refused}");
    egress_record(&daemon, |r| r["principal"] == "bob" && r["rule"] == "not_listed");
    let index = run(BOB, &format!("curl -sS http://pypi.test:{p}/simple/"));
    assert!(stdout(&index).contains("demo/"), "{index}");
    let alice_index = run(ALICE, &format!("curl -sS http://pypi.test:{p}/simple/"));
    assert!(stdout(&alice_index).contains("(not_listed)"), "{alice_index}");

    assert_eq!(policy(ALICE)["allow"], json!([format!("allowed.test:{s}"), "127.0.0.1/32:*"]));
    assert_eq!(policy(BOB)["egress"], true);
    let carol = policy("carol-token-0123456789abcdef");
    assert_eq!((carol["egress"].as_bool(), carol["proxy"].is_null()), (Some(false), true), "{carol}");
    let carol_env = run("carol-token-0123456789abcdef", "env");
    assert!(!stdout(&carol_env).to_lowercase().contains("proxy"), "{carol_env}");
}

#[test]
fn a_principal_list_the_daemons_does_not_cover_stops_the_start() {
    let dir = fresh_dir("egress-narrowing", 0o755);
    let tokens = tokens_file(&dir, &[("alice", ALICE, "egress_allow = [\"gitlab.com\"]")]);
    let output = Command::new(env!("CARGO_BIN_EXE_mcp-commander"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("MCP_PORT", "0")
        .env("MCP_TOKENS_FILE", &tokens)
        .env("MCP_EGRESS_ALLOW", "github.com,*.githubusercontent.com")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("principal 'alice', egress_allow: gitlab.com:443 is not covered"), "{stderr}");
}

#[test]
fn connections_per_call_idle_connections_and_the_byte_budget_are_limited() {
    let origins = origins();
    let daemon = start(
        &origins,
        &[
            ("MCP_EGRESS_MAX_CONNECTIONS_PER_CALL", "2"),
            ("MCP_EGRESS_MAX_BYTES_PER_CALL", "1000000"),
            ("MCP_EGRESS_IDLE_TIMEOUT", "1s"),
        ],
    );
    let (s, p) = (origins.https, origins.http);
    let tunnels = script(
        "egress-tunnels",
        "import base64, time\nurl = os.environ['HTTPS_PROXY']\ncredentials, address = url[7:].split('@')\n\
         host, port = address.split(':')\nheaders = 'Proxy-Authorization: Basic ' + base64.b64encode(credentials.encode()).decode()\n\
         def tunnel():\n    s = socket.create_connection((host, int(port)))\n    \
         s.sendall(('CONNECT allowed.test:%s HTTP/1.1\\r\\n%s\\r\\n\\r\\n' % (sys.argv[1], headers)).encode())\n    \
         return s, s.recv(4096).split(b' ')[1].decode()\n\
         if sys.argv[2] == 'three':\n    held = [tunnel() for _ in range(3)]\n    print(' '.join(code for _, code in held))\n\
         else:\n    s, code = tunnel()\n    time.sleep(2.5)\n    print(code, 'closed' if s.recv(10) == b'' else 'open')",
        &[&s.to_string(), "three"],
    );
    assert_eq!(stdout(&execute(&daemon, &tunnels)), "200 200 429\n");
    egress_record(&daemon, |r| r["rule"] == "connections_per_call");
    let next = execute(&daemon, &tunnels);
    assert_eq!(stdout(&next), "200 200 429\n", "the limit is per call: a new call starts at zero");

    let idle = execute(&daemon, &tunnels.replace("'three'", "'idle'"));
    assert_eq!(stdout(&idle), "200 closed\n", "{idle}");
    egress_record(&daemon, |r| r["rule"] == "idle_timeout");

    let big =
        execute(&daemon, &format!("curl -sS -o /dev/null -w '%{{size_download}}' http://pypi.test:{p}/big/5000000"));
    let got: u64 = stdout(&big).parse().unwrap_or(u64::MAX);
    assert!(got < 1_100_000, "the call's budget cut the transfer: {big}");
    egress_record(&daemon, |r| r["rule"] == "bytes_per_call");
    let small =
        execute(&daemon, &format!("curl -sS -o /dev/null -w '%{{size_download}}' http://pypi.test:{p}/big/500000"));
    assert_eq!(stdout(&small), "500000", "a new call has its own budget: {small}");
}

#[test]
fn a_calls_end_closes_the_tunnels_it_holds() {
    let origins = origins();
    let daemon = start(&origins, &[("MCP_EGRESS_IDLE_TIMEOUT", "60s")]);
    let held = counter("127.0.0.1:0");
    let started = Instant::now();
    let result =
        daemon.execute(json!({ "command": format!("curl -sS http://127.0.0.1:{}/", held.port), "timeout": "2s" }));
    assert_eq!(result["timed_out"], true, "{result}");
    // The killed client closed its side (the listener saw the end of what
    // was sent), but the listener holds its own open: only the call's end
    // ends the relay, long before the idle timeout. The client had
    // finished, so the connection is recorded as allowed, not as cut.
    assert!(eventually(Duration::from_secs(5), || held.closed.load(Ordering::SeqCst) == 1));
    let record = egress_record(&daemon, |r| r["port"] == held.port);
    assert!(started.elapsed() < Duration::from_secs(10), "{record}");
    assert_eq!((record["allowed"].as_bool(), record.get("rule")), (Some(true), None), "{record}");
}

#[test]
fn without_egress_commands_get_no_proxy_and_the_tool_is_not_offered() {
    let daemon = Daemon::start(&[]);
    let env = daemon.execute(json!({ "command": "env" }));
    assert!(!stdout(&env).to_lowercase().contains("proxy"), "{env}");
    let list = daemon.post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" })).json();
    let names: Vec<&str> =
        list["result"]["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(!names.contains(&"get_network_policy"), "{names:?}");
    let call = daemon.post(&json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "get_network_policy", "arguments": {} } }));
    assert!(call.body.contains("get_network_policy"), "{}", call.body);
}

// ---------------------------------------------------------------------------
// The proxy's interface case by case: its variables and secrets, its
// answers to a client that speaks to it directly, the forms of the list,
// the forwarded request, the limits across calls, the policy tool.
// ---------------------------------------------------------------------------

/// A client of the proxy run in the sandbox, speaking HTTP to it itself.
/// Each argument is `AUTH REQUEST`: AUTH is `good` (the command's own
/// credentials, from HTTPS_PROXY), `none`, or a secret to present instead
/// (`$NAME`: the one in the variable NAME, kept off the command line);
/// REQUEST is a request line without its version (`CONNECT host:port`,
/// `GET http://host:port/path`), or `raw:` and text sent as it is (`\r`
/// and `\n` escaped). Prints one JSON line per request: its status, its
/// headers (lower-case names) and its body. After a 200 to a CONNECT it
/// ends its side of the tunnel at once and waits (5 s at most) for the
/// proxy to close the other, so that the connection's record is written
/// before the next request.
const PROBE: &str = r#"import base64, json
credentials, address = os.environ['HTTPS_PROXY'][len('http://'):].split('@')
proxy_host, proxy_port = address.rsplit(':', 1)
def basic(text):
    return 'Proxy-Authorization: Basic ' + base64.b64encode(text.encode()).decode() + '\r\n'
def ask(auth, line):
    s = socket.create_connection((proxy_host, int(proxy_port)), timeout=20)
    if line.startswith('raw:'):
        s.sendall(line[4:].replace('\\r', '\r').replace('\\n', '\n').encode())
    else:
        authority = line.split(' ')[1].split('://')[-1].split('/')[0]
        head = line + ' HTTP/1.1\r\nHost: ' + authority + '\r\n'
        if auth == 'good':
            head += basic(credentials)
        elif auth.startswith('$'):
            head += basic('mcp:' + os.environ[auth[1:]])
        elif auth != 'none':
            head += basic('mcp:' + auth)
        s.sendall((head + '\r\n').encode())
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    words = lines[0].split(' ')
    status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
    headers = {}
    for header in lines[1:]:
        name, _, value = header.partition(':')
        headers[name.strip().lower()] = value.strip()
    if line.startswith('CONNECT') and status == 200:
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    except OSError:
        pass
    s.close()
    print(json.dumps({'status': status, 'headers': headers, 'body': body.decode('latin-1')}), flush=True)
for arg in sys.argv[1:]:
    auth, _, line = arg.partition(' ')
    ask(auth, line)"#;

/// Runs [`PROBE`] with `requests` in one call; its answers, in order.
fn probe(daemon: &Daemon, requests: &[String]) -> Vec<Value> {
    probe_with(daemon, requests, json!({}))
}

/// [`probe`] with `env` given to the call.
fn probe_with(daemon: &Daemon, requests: &[String], env: Value) -> Vec<Value> {
    let args: Vec<&str> = requests.iter().map(String::as_str).collect();
    let command = script("egress-probe", PROBE, &args);
    let result = daemon.execute(json!({ "command": command, "timeout": "30s", "env": env }));
    let answers: Vec<Value> = stdout(&result).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(answers.len(), requests.len(), "one answer per request: {result}");
    answers
}

/// The rule a refusal's body names (`mcp-commander egress refused (RULE): ...`).
fn refusal_rule(answer: &Value) -> Option<&str> {
    let body = answer["body"].as_str()?;
    body.strip_prefix("mcp-commander egress refused (")?.split_once("): ").map(|(rule, _)| rule)
}

/// The secret of a proxy URL, checked to have the spec's form for `port`.
fn secret_of(url: &str, port: &str) -> String {
    let rest = url.strip_prefix("http://mcp:").unwrap_or_else(|| panic!("not a proxy URL: {url}"));
    let (secret, address) = rest.split_once('@').unwrap_or_else(|| panic!("no credentials: {url}"));
    assert_eq!(address, format!("127.0.0.1:{port}"), "{url}");
    assert!(secret.len() == 32 && secret.bytes().all(|b| b.is_ascii_hexdigit()), "32 hex characters: {url}");
    secret.to_string()
}

/// The proxy's port, as `get_network_policy` gives it.
fn proxy_port(daemon: &Daemon) -> String {
    let policy = daemon.call_tool("get_network_policy", json!({}))["structuredContent"].clone();
    let proxy = policy["proxy"].as_str().unwrap_or_else(|| panic!("no proxy: {policy}"));
    proxy.strip_prefix("http://127.0.0.1:").unwrap_or_else(|| panic!("{policy}")).to_string()
}

/// A command's environment, from the output of `env`.
fn environment(result: &Value) -> std::collections::HashMap<String, String> {
    stdout(result).lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Sum of a metric's lines (all label sets) that contain `label`.
fn metric_sum(daemon: &Daemon, name: &str, label: &str) -> f64 {
    let text = raw_request(daemon.port, "GET", "/metrics", &[], b"").body;
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The default principal's workspace, as the test sees it.
fn workspace(daemon: &Daemon) -> PathBuf {
    let info = daemon.call_tool("get_shell_info", json!({}))["structuredContent"].clone();
    PathBuf::from(format!("/proc/{}/root{}", daemon.pid(), info["working_directory"].as_str().unwrap()))
}

#[test]
fn the_origins_serve_curl_git_and_pip_without_any_proxy() {
    // The fixtures checked on their own, from the test, so that a failure
    // of the suites above is the proxy's and not theirs.
    let origins = origins();
    let (s, p) = (origins.https, origins.http);
    let direct = |program: &str, args: &[&str]| {
        let mut command = Command::new(program);
        for name in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"] {
            command.env_remove(name);
        }
        let output = command
            .args(args)
            .current_dir(&origins.dir)
            .env("HOME", &origins.dir)
            .env("GIT_SSL_CAINFO", &origins.cert)
            .output()
            .unwrap();
        assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let cert = origins.cert.to_str().unwrap();
    let resolve = format!("allowed.test:{s}:127.0.0.1");
    let url = format!("https://allowed.test:{s}/");
    assert_eq!(
        direct("curl", &["-sS", "--noproxy", "*", "--cacert", cert, "--resolve", &resolve, &url]),
        "hello-https\n"
    );
    let resolve = format!("http.curloptResolve=git.test:{s}:127.0.0.1");
    let repo = format!("https://git.test:{s}/repo.git");
    let refs = direct("/usr/bin/git", &["-c", &resolve, "ls-remote", &repo]);
    assert!(refs.contains("\trefs/heads/main\n"), "{refs}");
    let index = format!("http://127.0.0.1:{p}/simple/");
    let wheels = origins.dir.join("direct-wheels");
    direct(
        "/usr/bin/python3",
        &["-m", "pip", "download", "--disable-pip-version-check", "--no-deps", "--no-cache-dir", "--index-url"]
            .iter()
            .chain(&[index.as_str(), "-d", wheels.to_str().unwrap(), "demo"])
            .copied()
            .collect::<Vec<_>>(),
    );
    assert!(wheels.join("demo-0.1-py3-none-any.whl").exists());
}

#[test]
fn git_clones_over_https_through_the_proxy_with_its_settings_from_the_calls_env() {
    let origins = origins();
    let daemon = start(&origins, &[("MCP_EXEC_DIRS", &exec_dirs_with_git())]);
    let home = daemon.call_tool("get_shell_info", json!({}))["structuredContent"]["working_directory"].clone();
    let s = origins.https;
    let env = json!({ "GIT_SSL_CAINFO": origins.cert.to_str().unwrap(), "HOME": home, "GIT_TERMINAL_PROMPT": "0" });
    let clone = daemon.execute(json!({
        "command": format!("/usr/bin/git clone -q https://git.test:{s}/repo.git copy && /usr/bin/git -C copy log --format=%s"),
        "env": env.clone(),
        "timeout": "30s",
    }));
    assert_eq!((clone["exit_code"].as_i64(), stdout(&clone)), (Some(0), "one\n"), "{clone}");
    let call =
        daemon.record(|r| r["event"] == "tool_call" && r["command"].as_str().is_some_and(|c| c.contains("clone")));
    let record = egress_record(&daemon, |r| r["host"] == "git.test" && r["request_id"] == call["request_id"]);
    assert_eq!(
        (record["allowed"].as_bool(), record["address"].as_str()),
        (Some(true), Some(&*format!("127.0.0.1:{s}")))
    );

    // The twin: the same clone from a host the list does not hold.
    let refused = daemon.execute(json!({
        "command": format!("/usr/bin/git clone -q https://evil.test:{s}/repo.git other"),
        "env": env,
        "timeout": "30s",
    }));
    assert_ne!(refused["exit_code"], 0, "{refused}");
    assert!(refused["stderr"].as_str().unwrap().contains("403"), "{refused}");
    egress_record(&daemon, |r| r["host"] == "evil.test" && r["rule"] == "not_listed");
}

#[test]
fn commands_get_proxy_variables_holding_a_secret_of_their_own_call_that_ends_with_it() {
    let origins = origins();
    let daemon = start(&origins, &[("MCP_BACKGROUND_COMMANDS", "true")]);
    let port = proxy_port(&daemon);
    let s = origins.https;

    // The call's own proxy variables give way to the daemon's.
    let first =
        daemon.execute(json!({ "command": "env", "env": { "HTTPS_PROXY": "http://127.0.0.1:9/", "NO_PROXY": "*" } }));
    let vars = environment(&first);
    let url = vars.get("HTTPS_PROXY").unwrap_or_else(|| panic!("no HTTPS_PROXY: {first}")).clone();
    let secret = secret_of(&url, &port);
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"] {
        assert_eq!(vars.get(name), Some(&url), "{name}: {first}");
    }
    for name in ["NO_PROXY", "no_proxy"] {
        assert_eq!(vars.get(name).map(String::as_str), Some(""), "{name} set and empty: {first}");
    }
    let second = secret_of(&environment(&daemon.execute(json!({ "command": "env" })))["HTTPS_PROXY"], &port);
    assert_ne!(second, secret, "a secret per call");

    // A background job has one of its own, valid while it runs.
    let cert = origins.cert.display();
    let started = daemon.call_tool(
        "start_command",
        json!({ "command": format!("printf '%s\\n' \"$HTTPS_PROXY\"; curl -sS --cacert {cert} https://allowed.test:{s}/") }),
    );
    let id = started["structuredContent"]["id"].as_str().unwrap_or_else(|| panic!("{started}")).to_string();
    let mut output = Value::Null;
    assert!(eventually(Duration::from_secs(20), || {
        output = daemon.call_tool("read_command_output", json!({ "id": id }))["structuredContent"].clone();
        output["running"] == false
    }));
    let text = output["output"].as_str().unwrap_or_default();
    let (job_url, fetched) = text.split_once('\n').unwrap_or_else(|| panic!("{output}"));
    let job = secret_of(job_url, &port);
    assert!(job != secret && job != second, "a secret per background job");
    assert_eq!(fetched, "hello-https\n", "{output}");
    let start_call =
        daemon.record(|r| r["event"] == "tool_call" && r["command"].as_str().is_some_and(|c| c.contains("printf")));
    egress_record(&daemon, |r| {
        r["host"] == "allowed.test" && r["allowed"] == true && r["request_id"] == start_call["request_id"]
    });

    // A secret whose call ended is refused; the running call's own works.
    let answers = probe_with(
        &daemon,
        &[format!("$DEAD CONNECT allowed.test:{s}"), format!("good CONNECT allowed.test:{s}")],
        json!({ "DEAD": secret }),
    );
    assert_eq!(answers[0]["status"], 407, "{}", answers[0]);
    assert_eq!(refusal_rule(&answers[0]), Some("unknown_call"), "{}", answers[0]);
    assert_eq!(answers[0]["headers"]["proxy-authenticate"], "Basic realm=\"mcp-commander egress\"");
    assert_eq!(answers[1]["status"], 200, "{}", answers[1]);
    let dead = egress_record(&daemon, |r| r["rule"] == "unknown_call");
    assert_eq!((dead["allowed"].as_bool(), dead["address"].is_null()), (Some(false), true), "{dead}");
    assert!(counted(&daemon, "unknown_call") >= 1.0);

    // No secret is written down anywhere.
    let audit = daemon.audit.lock().unwrap().join("\n");
    let log = daemon.log.lock().unwrap().join("\n");
    for secret in [&secret, &second, &job] {
        let recorded: Vec<&str> = audit.lines().chain(log.lines()).filter(|l| l.contains(secret.as_str())).collect();
        assert!(recorded.is_empty(), "secret {secret} recorded: {recorded:#?}");
    }
}

#[test]
fn the_proxy_wants_the_calls_credentials_and_a_well_formed_request() {
    let origins = origins();
    let daemon = start(&origins, &[]);
    let s = origins.https;
    let answers = probe(
        &daemon,
        &[
            format!("none CONNECT allowed.test:{s}"),
            format!("0123456789abcdef0123456789abcdef CONNECT allowed.test:{s}"),
            "good raw:hello\\r\\n\\r\\n".to_string(),
            "good GET /relative/path".to_string(),
            format!("good CONNECT evil.test:{s}"),
            format!("good CONNECT allowed.test:{s}"),
        ],
    );
    let expect = [
        (407, Some("unauthenticated")),
        (407, Some("unknown_call")),
        (400, Some("bad_request")),
        (400, Some("bad_request")),
        (403, Some("not_listed")),
        (200, None),
    ];
    for (answer, (status, rule)) in answers.iter().zip(expect) {
        assert_eq!((answer["status"].as_u64(), refusal_rule(answer)), (Some(status), rule), "{answer}");
        if status != 200 {
            let kind = answer["headers"]["content-type"].as_str().unwrap_or_default();
            assert!(kind.starts_with("text/plain"), "{answer}");
            assert_eq!(answer["body"].as_str().unwrap().lines().count(), 1, "one line: {answer}");
        }
    }
    assert_eq!(answers[0]["headers"]["proxy-authenticate"], "Basic realm=\"mcp-commander egress\"", "{}", answers[0]);
    assert!(answers[4]["body"].as_str().unwrap().contains(&format!("evil.test:{s}")), "{}", answers[4]);

    for (rule, count) in [("unauthenticated", 1), ("unknown_call", 1), ("bad_request", 2), ("not_listed", 1)] {
        assert!(eventually(Duration::from_secs(5), || {
            daemon.records().iter().filter(|r| r["event"] == "egress" && r["rule"] == rule).count() == count
        }));
        for record in daemon.records().iter().filter(|r| r["event"] == "egress" && r["rule"] == rule) {
            assert_eq!((record["allowed"].as_bool(), record["address"].is_null()), (Some(false), true), "{record}");
            assert!(record["reason"].as_str().is_some_and(|r| !r.is_empty()), "{record}");
            assert!(record["duration_ms"].is_u64() && record["bytes_sent"] == 0, "{record}");
        }
        assert_eq!(counted(&daemon, rule), count as f64, "{rule}");
    }
    let tunnel = egress_record(&daemon, |r| r["host"] == "allowed.test" && r["allowed"] == true);
    assert_eq!((tunnel["method"].as_str(), tunnel["rule"].as_str()), (Some("CONNECT"), None), "{tunnel}");
    assert_eq!(counted(&daemon, "allowed"), 1.0);
}

#[test]
fn names_ranges_and_ports_are_matched_as_the_list_writes_them() {
    let origins = origins();
    let (s, p) = (origins.https, origins.http);
    let closed = closed_port();
    let allow = format!(
        "allowed.test:{s},*.wild.test:{s},anyport.test:*,nodefault.test,multi.test:{s},mapped.test:{s},\
         v6.test:{s},closed.test:{closed},gone.test:{s},127.0.0.1/32:*"
    );
    let daemon = start_allowing(&origins, &allow, &[]);
    // Where a refused address would lead, on the HTTPS origin's port.
    let beyond = counter(&format!("127.0.0.2:{s}"));
    let beyond6 = counter(&format!("[::1]:{s}"));

    let cases: Vec<(String, u64, Option<&str>)> = vec![
        (format!("CONNECT a.wild.test:{s}"), 200, None),
        (format!("CONNECT deep.a.wild.test:{s}"), 200, None),
        (format!("CONNECT wild.test:{s}"), 403, Some("not_listed")),
        (format!("CONNECT evilwild.test:{s}"), 403, Some("not_listed")),
        (format!("CONNECT ALLOWED.Test.:{s}"), 200, None),
        (format!("CONNECT anyport.test:{s}"), 200, None),
        (format!("GET http://anyport.test:{p}/simple/"), 200, None),
        (format!("CONNECT nodefault.test:{s}"), 403, Some("port_not_listed")),
        (format!("CONNECT allowed.test:{p}"), 403, Some("port_not_listed")),
        (format!("CONNECT multi.test:{s}"), 403, Some("refused_range")),
        (format!("CONNECT mapped.test:{s}"), 403, Some("refused_range")),
        (format!("CONNECT v6.test:{s}"), 403, Some("refused_range")),
        (format!("CONNECT 127.0.0.1:{s}"), 200, None),
        (format!("CONNECT 127.0.0.2:{s}"), 403, Some("ip_literal")),
        (format!("CONNECT [::ffff:127.0.0.2]:{s}"), 403, Some("ip_literal")),
        (format!("CONNECT [::1]:{s}"), 403, Some("ip_literal")),
        (format!("CONNECT 127.0.0.2.:{s}"), 403, Some("ip_literal")),
        (format!("CONNECT 0x7f000002:{s}"), 403, Some("ip_literal")),
        (format!("CONNECT [::ffff:7f00:2]:{s}"), 403, Some("ip_literal")),
        (format!("CONNECT gone.test:{s}"), 502, Some("no_address")),
        (format!("CONNECT closed.test:{closed}"), 502, Some("connect_failed")),
    ];
    let requests: Vec<String> = cases.iter().map(|(line, ..)| format!("good {line}")).collect();
    let answers = probe(&daemon, &requests);
    for ((line, status, rule), answer) in cases.iter().zip(&answers) {
        assert_eq!((answer["status"].as_u64(), refusal_rule(answer)), (Some(*status), *rule), "{line}: {answer}");
    }
    assert!(answers[6]["body"].as_str().unwrap().contains("demo/"), "{}", answers[6]);

    let records: Vec<Value> = {
        assert!(eventually(Duration::from_secs(5), || {
            daemon.records().iter().filter(|r| r["event"] == "egress").count() == cases.len()
        }));
        daemon.records().into_iter().filter(|r| r["event"] == "egress").collect()
    };
    for (line, status, rule) in &cases {
        let target = line.split(' ').nth(1).unwrap();
        let host = target.trim_start_matches("http://").split('/').next().unwrap();
        let (host, port) = host.rsplit_once(':').unwrap();
        let record = records
            .iter()
            .find(|r| {
                r["host"].as_str().is_some_and(|h| h.eq_ignore_ascii_case(host))
                    && r["port"] == port.parse::<u64>().unwrap()
            })
            .unwrap_or_else(|| panic!("no record of {line} among {records:#?}"));
        assert_eq!((record["rule"].as_str(), record["allowed"].as_bool()), (*rule, Some(*status == 200)), "{record}");
        let address = record["address"].as_str();
        if *status == 200 {
            assert_eq!(address, Some(&*format!("127.0.0.1:{port}")), "{record}");
        } else {
            assert_eq!(address, None, "refused before any connection: {record}");
        }
    }
    let multi = records.iter().find(|r| r["host"] == "multi.test").unwrap();
    assert!(multi["reason"].as_str().unwrap().contains("127.0.0.2"), "the refused address is named: {multi}");
    for rule in ["not_listed", "port_not_listed", "refused_range", "ip_literal"] {
        let expected = cases.iter().filter(|(_, _, r)| *r == Some(rule)).count() as f64;
        assert_eq!(counted(&daemon, rule), expected, "{rule}");
    }
    assert_eq!(counted(&daemon, "allowed"), cases.iter().filter(|(_, status, _)| *status == 200).count() as f64);
    assert_eq!(beyond.accepted.load(Ordering::SeqCst), 0, "something reached 127.0.0.2");
    assert_eq!(beyond6.accepted.load(Ordering::SeqCst), 0, "something reached ::1");
}

/// A loopback origin that keeps what each connection sent it (its head,
/// and whatever follows within a second or until the peer's end), then
/// answers `recorded`.
fn recorder() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let kept = kept.clone();
            std::thread::spawn(move || {
                stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                let mut got = Vec::new();
                let mut buffer = [0u8; 65536];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buffer[..n]);
                }
                kept.lock().unwrap().push(String::from_utf8_lossy(&got).into_owned());
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nrecorded\n");
            });
        }
    });
    (port, seen)
}

#[test]
fn a_forwarded_request_reaches_the_origin_in_origin_form_without_the_proxy_headers() {
    let origins = origins();
    let (port, seen) = recorder();
    let daemon = start_allowing(&origins, &format!("echo.test:{port},127.0.0.1/32:{port}"), &[]);
    let fetched = execute(&daemon, &format!("curl -sS 'http://echo.test:{port}/path/x?q=1'"));
    assert_eq!(stdout(&fetched), "recorded\n", "{fetched}");
    let posted = execute(&daemon, &format!("curl -sS -d a=1 http://echo.test:{port}/form"));
    assert_eq!(stdout(&posted), "recorded\n", "{posted}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");

    let (head, _) = seen[0].split_once("\r\n\r\n").unwrap_or_else(|| panic!("{seen:?}"));
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "GET /path/x?q=1 HTTP/1.1", "origin form: {head}");
    assert!(lines.contains(&&*format!("Host: echo.test:{port}")), "{head}");
    assert!(lines.iter().any(|l| l.eq_ignore_ascii_case("connection: close")), "{head}");
    for hop in ["proxy-authorization", "proxy-connection"] {
        assert!(!head.to_ascii_lowercase().contains(hop), "{hop} forwarded: {head}");
    }
    assert!(seen[1].starts_with("POST /form HTTP/1.1\r\n") && seen[1].ends_with("\r\n\r\na=1"), "{:?}", seen[1]);
    assert!(eventually(Duration::from_secs(5), || {
        daemon.records().iter().filter(|r| r["event"] == "egress").count() == 2
    }));
    let records: Vec<Value> = daemon.records().into_iter().filter(|r| r["event"] == "egress").collect();
    let methods: Vec<&str> = records.iter().filter_map(|r| r["method"].as_str()).collect();
    assert_eq!(methods, ["GET", "POST"], "{records:#?}");
}

#[test]
fn a_second_request_on_a_forwarded_connection_does_not_reach_the_origin_with_the_credentials() {
    // One request per proxy connection: a client that pipelines a second
    // request behind the first (in the same write) must not get it to the
    // origin as it wrote it, absolute URI and Proxy-Authorization included.
    let origins = origins();
    let (port, seen) = recorder();
    let daemon = start_allowing(&origins, &format!("echo.test:{port},127.0.0.1/32:{port}"), &[]);
    let pipelined = script(
        "egress-pipelined",
        "import base64\ncredentials, address = os.environ['HTTP_PROXY'][7:].split('@')\n\
         host, port = address.rsplit(':', 1)\n\
         auth = 'Proxy-Authorization: Basic ' + base64.b64encode(credentials.encode()).decode() + '\\r\\n'\n\
         one = 'GET http://echo.test:%s/one HTTP/1.1\\r\\nHost: echo.test:%s\\r\\n%s\\r\\n' % (sys.argv[1], sys.argv[1], auth)\n\
         s = socket.create_connection((host, int(port)))\n\
         s.sendall((one + one.replace('/one', '/two')).encode())\n\
         s.shutdown(socket.SHUT_WR)\n\
         data = b''\n\
         while True:\n    chunk = s.recv(65536)\n    if not chunk:\n        break\n    data += chunk\n\
         print(data.split(b'\\r\\n')[0].decode())",
        &[&port.to_string()],
    );
    let twice = execute(&daemon, &pipelined);
    assert_eq!(stdout(&twice), "HTTP/1.1 200 OK\n", "the first request is answered: {twice}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert!(seen[0].starts_with("GET /one HTTP/1.1\r\n"), "{:?}", seen[0]);
    assert!(
        !seen[0].to_ascii_lowercase().contains("proxy-authorization") && !seen[0].contains("GET http://"),
        "the second request reached the origin as the client wrote it, credentials included: {:?}",
        seen[0]
    );
}

/// Opens N (the second argument) tunnels to `allowed.test` on the port
/// of the first, writes `ready` in the working directory, holds them
/// until a file `release` appears there (20 s at most), then prints the
/// status of each.
const HOLD: &str = "import base64, time\ncredentials, address = os.environ['HTTPS_PROXY'][7:].split('@')\n\
    host, port = address.rsplit(':', 1)\n\
    auth = 'Proxy-Authorization: Basic ' + base64.b64encode(credentials.encode()).decode() + '\\r\\n'\n\
    def tunnel():\n    s = socket.create_connection((host, int(port)))\n    \
    s.sendall(('CONNECT allowed.test:%s HTTP/1.1\\r\\n%s\\r\\n' % (sys.argv[1], auth)).encode())\n    \
    return s, s.recv(4096).split(b' ')[1].decode()\n\
    held = [tunnel() for _ in range(int(sys.argv[2]))]\nopen('ready', 'w').write('ready')\n\
    for _ in range(200):\n    if os.path.exists('release'):\n        break\n    time.sleep(0.1)\n\
    print(' '.join(code for _, code in held))";

#[test]
fn connections_per_principal_count_the_tunnels_of_all_its_calls() {
    let origins = origins();
    let daemon = Arc::new(start(
        &origins,
        &[("MCP_EGRESS_MAX_CONNECTIONS_PER_PRINCIPAL", "2"), ("MCP_EGRESS_MAX_CONNECTIONS_PER_CALL", "2")],
    ));
    let s = origins.https;
    let dir = workspace(&daemon);
    let _ = std::fs::remove_file(dir.join("release"));
    let _ = std::fs::remove_file(dir.join("ready"));
    // A call holding two tunnels until the test releases it.
    let holder = script("egress-hold", HOLD, &[&s.to_string(), "2"]);
    let held = {
        let daemon = daemon.clone();
        std::thread::spawn(move || execute(&daemon, &holder))
    };
    assert!(eventually(Duration::from_secs(20), || dir.join("ready").exists()), "the holder did not start");
    let refused = probe(&daemon, &[format!("good CONNECT allowed.test:{s}")]);
    assert_eq!(
        (refused[0]["status"].as_u64(), refusal_rule(&refused[0])),
        (Some(429), Some("connections_per_principal")),
        "{}",
        refused[0]
    );
    std::fs::write(dir.join("release"), "").unwrap();
    assert_eq!(stdout(&held.join().unwrap()), "200 200\n");
    let freed = probe(&daemon, &[format!("good CONNECT allowed.test:{s}")]);
    assert_eq!(freed[0]["status"], 200, "the places are free again: {}", freed[0]);
    egress_record(&daemon, |r| r["rule"] == "connections_per_principal" && r["allowed"] == false);
    assert_eq!(counted(&daemon, "connections_per_principal"), 1.0);
}

#[test]
fn the_byte_budget_is_the_calls_over_all_its_connections_and_the_metrics_count_every_byte() {
    let origins = origins();
    let daemon = start(&origins, &[("MCP_EGRESS_MAX_BYTES_PER_CALL", "1000000")]);
    let p = origins.http;
    let both = execute(
        &daemon,
        &format!(
            "curl -sS -o /dev/null -o /dev/null -w '%{{size_download}} ' http://pypi.test:{p}/big/600000 http://pypi.test:{p}/big/600000"
        ),
    );
    let sizes: Vec<u64> = stdout(&both).split_whitespace().filter_map(|s| s.parse().ok()).collect();
    assert_eq!(sizes.len(), 2, "{both}");
    assert_eq!(sizes[0], 600_000, "the first fits: {both}");
    assert!(sizes[1] < 600_000, "the second passes the call's budget and is cut: {both}");
    let cut = egress_record(&daemon, |r| r["rule"] == "bytes_per_call");
    assert_eq!(cut["host"], "pypi.test");
    let next =
        execute(&daemon, &format!("curl -sS -o /dev/null -w '%{{size_download}}' http://pypi.test:{p}/big/600000"));
    assert_eq!(stdout(&next), "600000", "a new call, a new budget: {next}");

    assert!(eventually(Duration::from_secs(5), || {
        daemon.records().iter().filter(|r| r["event"] == "egress").count() == 3
    }));
    let records: Vec<Value> = daemon.records().into_iter().filter(|r| r["event"] == "egress").collect();
    let total = |field: &str| records.iter().map(|r| r[field].as_u64().unwrap()).sum::<u64>() as f64;
    let bytes = "mcp_commander_egress_bytes_total";
    assert_eq!(metric_sum(&daemon, bytes, "direction=\"sent\""), total("bytes_sent"));
    assert_eq!(metric_sum(&daemon, bytes, "direction=\"received\""), total("bytes_received"));
    assert!(total("bytes_received") > 1_200_000.0, "{records:#?}");
    let sent_and_received = records[0]["bytes_sent"].as_u64().unwrap() + records[0]["bytes_received"].as_u64().unwrap();
    assert!(sent_and_received > 600_000, "{records:#?}");
}

#[test]
fn a_killed_background_job_closes_its_tunnels() {
    let origins = origins();
    let daemon = start(&origins, &[("MCP_BACKGROUND_COMMANDS", "true"), ("MCP_EGRESS_IDLE_TIMEOUT", "60s")]);
    let held = counter("127.0.0.1:0");
    let started =
        daemon.call_tool("start_command", json!({ "command": format!("curl -sS http://127.0.0.1:{}/", held.port) }));
    let id = started["structuredContent"]["id"].as_str().unwrap_or_else(|| panic!("{started}")).to_string();
    assert!(eventually(Duration::from_secs(10), || held.accepted.load(Ordering::SeqCst) == 1), "the job's tunnel");
    assert_eq!(held.closed.load(Ordering::SeqCst), 0);
    daemon.call_tool("kill_command", json!({ "id": id }));
    // The destination holds its side open, so only the job's end closes the
    // tunnel, well before the idle timeout: cut (`call_ended`) if curl was
    // still alive when the job ended, plainly allowed if its end had come.
    let record = egress_record(&daemon, |r| r["port"] == held.port);
    assert_eq!(record["address"], format!("127.0.0.1:{}", held.port));
    assert!(record.get("rule").is_none_or(|rule| rule == "call_ended"), "{record}");
    assert!(eventually(Duration::from_secs(5), || held.closed.load(Ordering::SeqCst) == 1), "{record}");
    assert_eq!(counted(&daemon, "allowed") + counted(&daemon, "call_ended"), 1.0);
}

#[test]
fn get_network_policy_says_where_the_callers_commands_may_connect() {
    let origins = origins();
    let (s, p) = (origins.https, origins.http);
    let fixed = closed_port().to_string();
    let listed = closed_port().to_string();
    let allow = format!("allowed.test:{s},*.wild.test:{s},pypi.test:{p},127.0.0.1/32:*,[::1]/128:{s}");
    let daemon = start_allowing(
        &origins,
        &allow,
        &[
            ("MCP_EGRESS_PORT", &fixed),
            ("MCP_EGRESS_MAX_CONNECTIONS_PER_CALL", "3"),
            ("MCP_EGRESS_MAX_CONNECTIONS_PER_PRINCIPAL", "5"),
            ("MCP_EGRESS_IDLE_TIMEOUT", "7s"),
            ("MCP_EGRESS_MAX_BYTES_PER_CALL", "123456"),
            ("MCP_TCP_CONNECT_PORTS", &listed),
        ],
    );
    let list = daemon.post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" })).json();
    assert!(list["result"]["tools"].as_array().unwrap().iter().any(|t| t["name"] == "get_network_policy"), "{list}");
    let policy = daemon.call_tool("get_network_policy", json!({}))["structuredContent"].clone();
    assert_eq!(policy["egress"], true, "{policy}");
    assert_eq!(policy["proxy"], format!("http://127.0.0.1:{fixed}"), "MCP_EGRESS_PORT: {policy}");
    assert_eq!(policy["allow"], json!(allow.split(',').collect::<Vec<_>>()), "{policy}");
    let ranges = policy["refused_ranges"].to_string();
    for range in ["127.0.0.0/8", "169.254.0.0/16", "10.0.0.0/8", "100.64.0.0/10", "fc00::/7"] {
        assert!(ranges.contains(range), "{range}: {policy}");
    }
    let limits: Vec<String> = policy["limits"].as_object().unwrap().values().map(Value::to_string).collect();
    for value in ["3", "5", "123456"] {
        assert!(limits.iter().any(|v| v == value), "{value}: {policy}");
    }
    assert!(limits.iter().any(|v| v.contains('7')), "the idle timeout: {policy}");
    assert_eq!(policy["tcp_connect_ports"], json!([listed.parse::<u64>().unwrap()]), "{policy}");
    assert!(policy["tcp_bind_ports"].is_array(), "{policy}");
    // The port the tool names is the one the commands are given.
    let env = environment(&execute(&daemon, "env"));
    secret_of(&env["HTTPS_PROXY"], &fixed);
}

#[test]
fn a_direct_connection_is_refused_unless_its_port_is_listed_beside_the_proxy() {
    let origins = origins();
    let listed = counter("127.0.0.1:0");
    let unlisted = counter("127.0.0.1:0");
    let daemon = start(&origins, &[("MCP_TCP_CONNECT_PORTS", &listed.port.to_string())]);
    let connect = script(
        "egress-direct",
        "for port in sys.argv[1:]:\n    s = socket.socket()\n    attempt(lambda: s.connect(('127.0.0.1', int(port))))",
        &[&unlisted.port.to_string(), &listed.port.to_string()],
    );
    assert_eq!(stdout(&execute(&daemon, &connect)), "ERR EACCES\nOK\n");
    assert!(eventually(Duration::from_secs(5), || listed.accepted.load(Ordering::SeqCst) == 1));
    assert_eq!(unlisted.accepted.load(Ordering::SeqCst), 0, "a direct connection got past the broker");
    assert!(!daemon.records().iter().any(|r| r["event"] == "egress"), "direct connections are not the proxy's");
}

/// A loopback origin a round trip away: it answers `fetched`, and closes
/// its side 300 ms after the client's end reaches it.
fn distant_origin() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buffer = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfetched\n");
                while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
                std::thread::sleep(Duration::from_millis(300));
            });
        }
    });
    port
}

#[test]
fn a_tunnel_whose_client_had_finished_is_recorded_as_allowed_not_as_cut_by_the_calls_end() {
    // curl ends its command as soon as it has the page; the origin closes
    // its side a moment later, once the proxy has passed on curl's end.
    // The call's end then closes nothing the command still used: the
    // record has no rule and the metric counts the connection allowed.
    // The twin: the same fetch with the call lasting a second longer.
    let origins = origins();
    let port = distant_origin();
    let daemon = start_allowing(&origins, &format!("echo.test:{port},127.0.0.1/32:{port}"), &[]);
    let fetch = format!("curl -sS --proxytunnel http://echo.test:{port}/");
    let late = execute(&daemon, &format!("{fetch}; sleep 1"));
    assert_eq!(stdout(&late), "fetched\n", "{late}");
    let last = execute(&daemon, &fetch);
    assert_eq!(stdout(&last), "fetched\n", "{last}");
    assert!(eventually(Duration::from_secs(5), || {
        daemon.records().iter().filter(|r| r["event"] == "egress").count() == 2
    }));
    for record in daemon.records().iter().filter(|r| r["event"] == "egress") {
        assert_eq!((record["allowed"].as_bool(), record["rule"].as_str()), (Some(true), None), "{record}");
    }
    assert_eq!((counted(&daemon, "allowed"), counted(&daemon, "call_ended")), (2.0, 0.0));
}

#[test]
fn a_principals_connection_limit_leaves_other_principals_alone() {
    let origins = origins();
    let s = origins.https;
    let list = format!("egress_allow = [\"allowed.test:{s}\", \"127.0.0.1/32:{s}\"]");
    let daemon = start_pair(&origins, &list, &[("MCP_EGRESS_MAX_CONNECTIONS_PER_PRINCIPAL", "1")]);
    let run = |token: &str, command: &str| {
        let arguments = json!({ "command": command, "timeout": "30s" });
        daemon.call_tool_as(token, "execute_command", arguments)["structuredContent"].clone()
    };
    let info = daemon.call_tool_as(ALICE, "get_shell_info", json!({}))["structuredContent"].clone();
    let alice_dir =
        PathBuf::from(format!("/proc/{}/root{}", daemon.pid(), info["working_directory"].as_str().unwrap()));
    let holder = {
        let daemon = daemon.clone();
        let command = script("egress-hold", HOLD, &[&s.to_string(), "1"]);
        std::thread::spawn(move || {
            let arguments = json!({ "command": command, "timeout": "30s" });
            daemon.call_tool_as(ALICE, "execute_command", arguments)["structuredContent"].clone()
        })
    };
    assert!(eventually(Duration::from_secs(20), || alice_dir.join("ready").exists()), "alice's holder did not start");
    let tunnel = format!("good CONNECT allowed.test:{s}");
    let probe_command = script("egress-probe", PROBE, &[&tunnel]);
    let alice = run(ALICE, &probe_command);
    assert!(stdout(&alice).contains("(connections_per_principal)"), "{alice}");
    let bob = run(BOB, &probe_command);
    assert!(stdout(&bob).starts_with("{\"status\": 200"), "bob's place is his own: {bob}");
    std::fs::write(alice_dir.join("release"), "").unwrap();
    assert_eq!(stdout(&holder.join().unwrap()), "200\n");
    let record = egress_record(&daemon, |r| r["rule"] == "connections_per_principal");
    assert_eq!(record["principal"], "alice");
}

#[test]
fn a_principal_list_is_accepted_when_the_daemons_entries_cover_each_of_its_entries() {
    let origins = origins();
    let s = origins.https;
    let daemon_list = format!("allowed.test:{s},*.wild.test:*,127.0.0.0/8:{s}");
    let refused_start = |own: &str| {
        let dir = fresh_dir("egress-cover", 0o755);
        let tokens = tokens_file(&dir, &[("alice", ALICE, &format!("egress_allow = {own}"))]);
        let output = Command::new(env!("CARGO_BIN_EXE_mcp-commander"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("MCP_PORT", "0")
            .env("MCP_TOKENS_FILE", &tokens)
            .env("MCP_EGRESS_ALLOW", &daemon_list)
            .env("MCP_EGRESS_TEST_HOSTS", name_map(&origins.dir))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{own}: started");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    for own in [
        format!("[\"allowed.test:{}\"]", s + 1),
        "[\"wild.test:443\"]".to_string(),
        "[\"*.test:443\"]".to_string(),
        "[\"127.0.0.0/7:443\"]".to_string(),
        "[\"127.0.0.1/32:*\"]".to_string(),
    ] {
        let stderr = refused_start(&own);
        assert!(
            stderr.contains("principal 'alice', egress_allow") && stderr.contains("not covered"),
            "{own}: {stderr}"
        );
    }

    // Entries each beneath one of the daemon's: the start goes on, and the
    // principal's policy is its own list.
    let own = format!("[\"allowed.test:{s}\", \"a.wild.test:8443\", \"*.deep.wild.test:{s}\", \"127.0.0.1/32:{s}\"]");
    let dir = fresh_dir("egress-cover", 0o755);
    let tokens = tokens_file(&dir, &[("alice", ALICE, &format!("egress_allow = {own}"))]);
    let daemon = start_allowing(&origins, &daemon_list, &[("MCP_TOKENS_FILE", tokens.to_str().unwrap())]);
    let policy = daemon.call_tool_as(ALICE, "get_network_policy", json!({}))["structuredContent"].clone();
    let own: Vec<String> = serde_json::from_str(&own).unwrap();
    assert_eq!(policy["allow"], json!(own), "{policy}");
    let cert = origins.cert.display();
    let arguments =
        json!({ "command": format!("curl -sS --cacert {cert} https://allowed.test:{s}/ https://a.wild.test:{s}/") });
    let fetched = daemon.call_tool_as(ALICE, "execute_command", arguments)["structuredContent"].clone();
    assert_eq!(stdout(&fetched), "hello-https\n", "allowed.test is hers, a.wild.test only on 8443: {fetched}");
    egress_record(&daemon, |r| r["host"] == "a.wild.test" && r["rule"] == "port_not_listed");
}

#[test]
fn address_ranges_in_each_written_form_set_up_from_the_config_file_or_the_flags() {
    let origins = origins();
    let s = origins.https;
    let v6 = closing_counter("[::1]:0");
    let v = v6.port;
    let hosts = name_map(&origins.dir);
    // Every form of a range the list takes; only the loopback ones are
    // tried (nothing here leaves the machine).
    let entries = [
        format!("allowed.test:{s}"),
        format!("127.0.0.1:{s}"),
        format!("[::1]:{v}"),
        "10.0.0.0/8:443".to_string(),
        "fd00::/8".to_string(),
        "[fd00::]/8:443".to_string(),
        "192.168.0.1".to_string(),
    ];
    let file = origins.dir.join("commander.toml");
    std::fs::write(
        &file,
        format!(
            "egress_allow = {}\negress_max_connections_per_call = 3\negress_idle_timeout = \"7s\"\n",
            json!(entries)
        ),
    )
    .unwrap();
    let from_file =
        Daemon::start(&[("MCP_CONFIG", file.to_str().unwrap()), ("MCP_EGRESS_TEST_HOSTS", hosts.to_str().unwrap())]);
    let joined = entries.join(",");
    let from_flags = Daemon::start_with_args(
        &[("MCP_EGRESS_TEST_HOSTS", hosts.to_str().unwrap())],
        &["--egress-allow", &joined, "--egress-max-connections-per-call", "3", "--egress-idle-timeout", "7s"],
    );
    for (daemon, how) in [(&from_file, "file"), (&from_flags, "flags")] {
        let policy = daemon.call_tool("get_network_policy", json!({}))["structuredContent"].clone();
        assert_eq!(policy["allow"].as_array().map(Vec::len), Some(entries.len()), "{how}: {policy}");
        assert!(policy["limits"].as_object().unwrap().values().any(|v| v == 3), "{how}: {policy}");
        let cases = [
            (format!("CONNECT 127.0.0.1:{s}"), 200, None),
            (format!("CONNECT 127.0.0.1:{v}"), 403, Some("ip_literal")),
            (format!("CONNECT [::1]:{v}"), 200, None),
            (format!("CONNECT [::1]:{s}"), 403, Some("ip_literal")),
            (format!("CONNECT 127.0.0.2:{s}"), 403, Some("ip_literal")),
            (format!("CONNECT allowed.test:{s}"), 200, None),
        ];
        let requests: Vec<String> = cases.iter().map(|(line, ..)| format!("good {line}")).collect();
        for ((line, status, rule), answer) in cases.iter().zip(probe(daemon, &requests)) {
            assert_eq!(
                (answer["status"].as_u64(), refusal_rule(&answer)),
                (Some(*status), *rule),
                "{how}, {line}: {answer}"
            );
        }
    }
    assert!(
        eventually(Duration::from_secs(5), || v6.accepted.load(Ordering::SeqCst) == 2),
        "[::1] reached through each"
    );
}

#[test]
fn a_forwarded_connection_carries_one_request_and_the_next_is_checked_on_its_own() {
    let origins = origins();
    let daemon = start(&origins, &[]);
    let p = origins.http;
    // curl reuses a connection the response leaves open: told to close, it
    // opens a second one for the second URL, which is judged on its own.
    let two =
        execute(&daemon, &format!("curl -sS http://pypi.test:{p}/simple/ http://internal.test:{}/x", origins.https));
    assert!(stdout(&two).contains("demo/"), "{two}");
    assert!(stdout(&two).contains("(refused_range)"), "the second request was not checked: {two}");
    egress_record(&daemon, |r| r["host"] == "internal.test" && r["rule"] == "refused_range");

    // Two requests in one write: the first is relayed up to its body's end,
    // the second never leaves the proxy, and the answer says close.
    let origin = counter("127.0.0.1:0");
    let pipelined = script(
        "egress-pipelined",
        "import base64\nurl = os.environ['HTTP_PROXY']\ncredentials, address = url[7:].split('@')\n\
         host, port = address.split(':')\nauth = 'Proxy-Authorization: Basic ' + base64.b64encode(credentials.encode()).decode()\n\
         s = socket.create_connection((host, int(port)))\n\
         first = 'POST http://127.0.0.1:%s/one HTTP/1.1\\r\\n%s\\r\\nContent-Length: 4\\r\\n\\r\\nbody' % (sys.argv[1], auth)\n\
         second = 'GET http://127.0.0.2:%s/two HTTP/1.1\\r\\n%s\\r\\n\\r\\n' % (sys.argv[1], auth)\n\
         s.sendall((first + second).encode())\nanswer = b''\n\
         while b'started' not in answer:\n    answer += s.recv(4096)\n\
         print('close' if b'Connection: close' in answer and b'keep-alive' not in answer else answer)",
        &[&origin.port.to_string()],
    );
    assert_eq!(stdout(&execute(&daemon, &pipelined)), "close\n");
    let received = String::from_utf8_lossy(&origin.received.lock().unwrap()).into_owned();
    assert!(received.starts_with("POST /one HTTP/1.1\r\n") && received.ends_with("\r\n\r\nbody"), "{received:?}");
    assert!(!received.contains("two") && !received.contains("Proxy-Authorization"), "{received:?}");
    // A chunked body's end is not parsed, so it is refused.
    let chunked = execute(&daemon, &format!("curl -sS -H 'Transfer-Encoding: chunked' -d x http://pypi.test:{p}/"));
    assert!(stdout(&chunked).contains("(bad_request)"), "{chunked}");
}

#[test]
fn connections_waiting_for_their_head_are_limited_per_principal_so_others_still_get_through() {
    let origins = origins();
    let s = origins.https;
    let daemon = start_pair(&origins, "", &[]);
    // Alice holds 40 connections without a head; 8 are refused at once.
    let hold = script(
        "egress-hold-heads",
        "import select, time\nhost, port = os.environ['HTTPS_PROXY'].rsplit('@', 1)[1].split(':')\n\
         held = [socket.create_connection((host, int(port))) for _ in range(40)]\ntime.sleep(1)\n\
         ready = select.select(held, [], [], 0)[0]\n\
         print(sum(1 for s in ready if b'(pending_heads)' in s.recv(4096)))\ntime.sleep(3)",
        &[],
    );
    let holder = {
        let daemon = daemon.clone();
        std::thread::spawn(move || {
            daemon.call_tool_as(ALICE, "execute_command", json!({ "command": hold }))["structuredContent"].clone()
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    let cert = origins.cert.display();
    let bob = daemon.call_tool_as(
        BOB,
        "execute_command",
        json!({ "command": format!("curl -sS --cacert {cert} https://allowed.test:{s}/") }),
    )["structuredContent"]
        .clone();
    assert_eq!(stdout(&bob), "hello-https\n", "another principal's waiting connections held bob up: {bob}");
    let alice = holder.join().unwrap();
    assert_eq!(stdout(&alice), "8\n", "{alice}");
}

#[test]
fn a_list_entry_that_is_no_name_suffix_or_range_stops_the_start() {
    let refused = |allow: &str, hosts: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-commander"));
        command.env_clear().env("PATH", "/usr/bin:/bin").env("MCP_PORT", "0").env("MCP_EGRESS_ALLOW", allow);
        if let Some(hosts) = hosts {
            command.env("MCP_EGRESS_TEST_HOSTS", hosts);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{allow}: started");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    for entry in
        ["*.", "*.*.test", "bad name.test", "example.test:0", "example.test:65536", "example.test:x", "10.0.0.0/33"]
    {
        let stderr = refused(&format!("allowed.test,{entry}"), None);
        assert!(stderr.contains("MCP_EGRESS_ALLOW") && stderr.contains(entry), "{entry}: {stderr}");
    }
    // A name map with a line that is not `name address[,address...]`.
    let dir = fresh_dir("egress-bad-map", 0o755);
    let map = dir.join("hosts");
    std::fs::write(&map, "allowed.test 127.0.0.1\nbroken.test not-an-address\n").unwrap();
    let stderr = refused("allowed.test", Some(&map));
    assert!(stderr.contains("not-an-address"), "{stderr}");
    // The twin: the same list without the bad entry starts.
    Daemon::start(&[
        ("MCP_EGRESS_ALLOW", "allowed.test,*.ok.test:*,10.0.0.0/8:443"),
        ("MCP_EGRESS_TEST_HOSTS", "/dev/null"),
    ]);
}
