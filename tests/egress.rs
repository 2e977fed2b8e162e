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
//! end closing its tunnels. Nothing here connects off loopback.

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

/// The name map: test names on loopback; `internal.test` on a loopback
/// address no range lists; `rebind.test` moving there after one lookup.
fn name_map(dir: &Path) -> PathBuf {
    let path = dir.join("hosts");
    std::fs::write(
        &path,
        "allowed.test 127.0.0.1\ngit.test 127.0.0.1\npypi.test 127.0.0.1\ninternal.test 127.0.0.2\n\
         rebind.test 127.0.0.1\nrebind.test 127.0.0.2\nevil.test 127.0.0.1\n",
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
    let hosts = name_map(&origins.dir);
    let allow = allow(origins);
    let mut env = vec![("MCP_EGRESS_ALLOW", allow.as_str()), ("MCP_EGRESS_TEST_HOSTS", hosts.to_str().unwrap())];
    env.extend_from_slice(more);
    Daemon::start(&env)
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

#[test]
fn curl_git_and_pip_reach_listed_names_through_the_proxy_and_each_connection_is_recorded() {
    let origins = origins();
    let git_core = String::from_utf8(Command::new("/usr/bin/git").arg("--exec-path").output().unwrap().stdout).unwrap();
    let exec_dirs = format!("/usr/local/sbin,/usr/local/bin,/usr/sbin,/usr/bin,/sbin,/bin,{}", git_core.trim());
    let daemon = start(&origins, &[("MCP_EXEC_DIRS", &exec_dirs)]);
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
    // curl's tunnel, git's (one, kept alive), pip's index page and wheel
    // (one each, or one for both).
    assert!(
        eventually(Duration::from_secs(5), || counted(&daemon, "allowed") >= 3.0),
        "allowed connections counted: {}",
        raw_request(daemon.port, "GET", "/metrics", &[], b"").body
    );
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
        &[
            ("alice", "alice-token-0123456789abcdef", &alice),
            ("bob", "bob-token-0123456789abcdefgh", &bob),
            ("carol", "carol-token-0123456789abcdef", "egress_allow = []"),
        ],
    );
    let daemon = start(&origins, &[("MCP_TOKENS_FILE", tokens.to_str().unwrap())]);
    let cert = origins.cert.display();
    let run = |token: &str, command: &str| {
        daemon.call_tool_as(token, "execute_command", json!({ "command": command }))["structuredContent"].clone()
    };
    let policy = |token: &str| daemon.call_tool_as(token, "get_network_policy", json!({}))["structuredContent"].clone();

    let https = format!("curl -sS --cacert {cert} https://allowed.test:{s}/");
    let allowed = run("alice-token-0123456789abcdef", &https);
    assert_eq!(stdout(&allowed), "hello-https\n", "{allowed}");
    let refused = run("bob-token-0123456789abcdefgh", &https);
    assert!(refused["stderr"].as_str().unwrap().contains("403"), "{refused}");
    egress_record(&daemon, |r| r["principal"] == "bob" && r["rule"] == "not_listed");
    let index = run("bob-token-0123456789abcdefgh", &format!("curl -sS http://pypi.test:{p}/simple/"));
    assert!(stdout(&index).contains("demo/"), "{index}");
    let alice_index = run("alice-token-0123456789abcdef", &format!("curl -sS http://pypi.test:{p}/simple/"));
    assert!(stdout(&alice_index).contains("(not_listed)"), "{alice_index}");

    assert_eq!(policy("alice-token-0123456789abcdef")["allow"], json!([format!("allowed.test:{s}"), "127.0.0.1/32:*"]));
    assert_eq!(policy("bob-token-0123456789abcdefgh")["egress"], true);
    let carol = policy("carol-token-0123456789abcdef");
    assert_eq!((carol["egress"].as_bool(), carol["proxy"].is_null()), (Some(false), true), "{carol}");
    let carol_env = run("carol-token-0123456789abcdef", "env");
    assert!(!stdout(&carol_env).to_lowercase().contains("proxy"), "{carol_env}");
}

#[test]
fn a_principal_list_the_daemons_does_not_cover_stops_the_start() {
    let dir = fresh_dir("egress-narrowing", 0o755);
    let tokens = tokens_file(&dir, &[("alice", "alice-token-0123456789abcdef", "egress_allow = [\"gitlab.com\"]")]);
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
    let dir = fresh_dir("egress-pending", 0o755);
    let tokens = tokens_file(
        &dir,
        &[("alice", "alice-token-0123456789abcdef", ""), ("bob", "bob-token-0123456789abcdefgh", "")],
    );
    let daemon = Arc::new(start(&origins, &[("MCP_TOKENS_FILE", tokens.to_str().unwrap())]));
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
            daemon.call_tool_as("alice-token-0123456789abcdef", "execute_command", json!({ "command": hold }))
                ["structuredContent"]
                .clone()
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    let cert = origins.cert.display();
    let bob = daemon.call_tool_as(
        "bob-token-0123456789abcdefgh",
        "execute_command",
        json!({ "command": format!("curl -sS --cacert {cert} https://allowed.test:{s}/") }),
    )["structuredContent"]
        .clone();
    assert_eq!(stdout(&bob), "hello-https\n", "another principal's waiting connections held bob up: {bob}");
    let alice = holder.join().unwrap();
    assert_eq!(stdout(&alice), "8\n", "{alice}");
}
