//! Test support: starts the real `mcp-commander` binary and talks to it over
//! raw HTTP/1.1, so tests control every header (Host, Origin, Accept) the
//! way an attacker or an odd client would.

#![allow(dead_code)]

mod modes;
pub use modes::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TOKEN: &str = "test-token-0123456789";

/// What happens to the daemon's stdout, where its audit records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonStdout {
    /// Read line by line into [`Daemon::audit`].
    Read,
    /// A pipe nobody reads: it fills up.
    Unread,
    /// The pipe's reading end is closed: writes fail.
    Closed,
}

/// A running daemon, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    /// Lines the daemon wrote to stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Lines the daemon wrote to stdout (its audit records) so far.
    pub audit: Arc<Mutex<Vec<String>>>,
    /// How it runs.
    pub mode: Mode,
    /// The daemon's own pid on the host, once looked up (in a container,
    /// `child` is the docker client).
    daemon_pid: OnceLock<u32>,
}

impl Daemon {
    /// Starts the daemon on a free loopback port with `env` added to a
    /// clean environment, and waits until it listens.
    pub fn start(env: &[(&str, &str)]) -> Daemon {
        Self::start_with_args(env, &[])
    }

    pub fn start_with_args(env: &[(&str, &str)], args: &[&str]) -> Daemon {
        Self::launch(plain_command(), env, args, DaemonStdout::Read)
    }

    /// Starts the daemon in `mode` (as root on the host, or as the image runs
    /// it), with `env` added and the test token set.
    pub fn start_in(mode: Mode, env: &[(&str, &str)]) -> Daemon {
        let mut command = mode.command();
        command.env("MCP_AUTH_TOKEN", TOKEN);
        let mut daemon = Self::launch(command, env, &[], DaemonStdout::Read);
        daemon.mode = mode;
        daemon
    }

    /// Starts the daemon with its stdout (the audit records) not read, or
    /// closed.
    pub fn start_with_stdout(env: &[(&str, &str)], stdout: DaemonStdout) -> Daemon {
        Self::launch(plain_command(), env, &[], stdout)
    }

    /// Starts the daemon from `command` (a [`Mode::command`]) with `args`.
    pub fn launch_command(command: Command, env: &[(&str, &str)], args: &[&str]) -> Daemon {
        Self::launch(command, env, args, DaemonStdout::Read)
    }

    fn launch(mut command: Command, env: &[(&str, &str)], args: &[&str], stdout_mode: DaemonStdout) -> Daemon {
        command
            .args(args)
            .env("MCP_PORT", "0")
            .env("MCP_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start mcp-commander");
        let audit = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        match stdout_mode {
            DaemonStdout::Read => {
                let kept = audit.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                        kept.lock().unwrap().push(line);
                    }
                });
            }
            // Kept open for the daemon's life, never read.
            DaemonStdout::Unread => child.stdout = Some(stdout),
            DaemonStdout::Closed => drop(stdout),
        }
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let _ = sender.send(line);
            }
        });
        let mut daemon = Daemon { child, port: 0, log, audit, mode: Mode::Host, daemon_pid: OnceLock::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line: String =
                lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).unwrap_or_else(|_| {
                    panic!("daemon did not report its address; it logged: {:?}", daemon.log.lock().unwrap())
                });
            if let Some(rest) = line.split("address=").nth(1) {
                let address = rest.split_whitespace().next().unwrap();
                daemon.port = address.rsplit(':').next().unwrap().parse().unwrap();
                return daemon;
            }
        }
    }

    /// A daemon with the test token set.
    pub fn with_token() -> Daemon {
        Daemon::start(&[("MCP_AUTH_TOKEN", TOKEN)])
    }

    /// The audit records written so far, parsed.
    pub fn records(&self) -> Vec<Value> {
        self.audit.lock().unwrap().iter().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }

    /// Waits until an audit record satisfies `wanted` and returns it.
    pub fn record(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        let seen = eventually(Duration::from_secs(5), || {
            found = self.records().into_iter().find(|r| wanted(r));
            found.is_some()
        });
        assert!(seen, "no such audit record among {:#?}", self.records());
        found.unwrap()
    }

    /// Whether any stderr line so far contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|line| line.contains(text))
    }

    /// The daemon's pid on the host (in a container, not the docker
    /// client's but the daemon's, beneath the container's init).
    pub fn pid(&self) -> u32 {
        *self.daemon_pid.get_or_init(|| modes::daemon_process(self.child.id()))
    }

    /// A process's pid (as the host numbers it) as the daemon and its
    /// commands number it: in a container, its number in the container's
    /// PID namespace; on a host, the same.
    pub fn seen_pid(&self, pid: u32) -> u32 {
        let depth = modes::namespace_pids(self.pid()).len();
        modes::namespace_pids(pid).get(depth.saturating_sub(1)).copied().unwrap_or(pid)
    }

    /// POSTs `body` to `/mcp` with the token and JSON headers.
    pub fn post(&self, body: &Value) -> Response {
        self.request(
            "POST",
            "/mcp",
            &[("X-MCP-Auth-Token", TOKEN), ("Content-Type", "application/json")],
            &body.to_string(),
        )
    }

    /// POSTs with the given extra headers (the token is not added).
    pub fn post_with(&self, headers: &[(&str, &str)], body: &str) -> Response {
        self.request("POST", "/mcp", headers, body)
    }

    /// One request on a fresh connection. `Host` defaults to 127.0.0.1:port
    /// unless given in `headers`.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        raw_request(self.port, method, path, headers, body.as_bytes())
    }

    /// Calls a tool and returns the `result` object.
    pub fn call_tool(&self, name: &str, arguments: Value) -> Value {
        let response = self.post(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": name, "arguments": arguments }
        }));
        assert_eq!(response.status, 200, "{}", response.body);
        response.json()["result"].clone()
    }

    /// Calls tool `name` with `token` (a principal's) and returns the
    /// result.
    pub fn call_tool_as(&self, token: &str, name: &str, arguments: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": { "name": name, "arguments": arguments }});
        let headers = [("X-MCP-Auth-Token", token), ("Content-Type", "application/json")];
        let response = raw_request(self.port, "POST", "/mcp", &headers, body.to_string().as_bytes());
        assert_eq!(response.status, 200, "{}", response.body);
        response.json()["result"].clone()
    }

    /// Calls `execute_command` and returns its structured result.
    pub fn execute(&self, arguments: Value) -> Value {
        self.call_tool("execute_command", arguments)["structuredContent"].clone()
    }
}

impl Drop for Daemon {
    /// SIGTERM first, so the daemon removes its scratch directory; SIGKILL
    /// if it is still there a moment later.
    fn drop(&mut self) {
        // A test may have reaped the daemon already: its pid may now be
        // another process's.
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The daemon's binary with a clean environment holding the test's PATH.
fn plain_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-commander"));
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("HOME", "/root");
    command
}

/// The body of a `tools/call` of `execute_command` running `command`.
pub fn call_body(command: &str) -> String {
    json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"execute_command","arguments":{"command": command}}})
    .to_string()
}

/// The value of an unlabelled metric on the daemon at `port` (0 if absent).
pub fn metric(port: u16, name: &str) -> f64 {
    let text = raw_request(port, "GET", "/metrics", &[], b"").body;
    text.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Starts an `execute_command` call on its own thread, for tests that act
/// on the daemon while the call is in flight.
pub fn execute_in_background(port: u16, command: &str) -> std::thread::JoinHandle<Response> {
    let body = call_body(command);
    std::thread::spawn(move || raw_request(port, "POST", "/mcp", &[("X-MCP-Auth-Token", TOKEN)], body.as_bytes()))
}

/// Opens a connection and sends a `tools/call` of `execute_command` with
/// the token, leaving the connection open so a test can close it, read
/// from it, or act while the call runs.
pub fn open_call(port: u16, id: Value, command: &str, accept: &str, meta: Option<Value>) -> TcpStream {
    let mut params = json!({ "name": "execute_command", "arguments": { "command": command } });
    if let Some(meta) = meta {
        params["_meta"] = meta;
    }
    let body = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params }).to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Auth-Token: {TOKEN}\r\nAccept: {accept}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(format!("{head}{body}").as_bytes()).unwrap();
    stream
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The JSON-RPC error code in the body.
    pub fn error_code(&self) -> i64 {
        self.json()["error"]["code"].as_i64().unwrap_or_else(|| panic!("no error code: {}", self.body))
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the whole
/// response.
pub fn raw_request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (key, value) in headers {
        head.push_str(&format!("{key}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Response { status, headers, body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// Pids of processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) && pid != std::process::id() {
            found.push(pid);
        }
    }
    found
}

/// Whether every process in `pids` has exited (gone, or a zombie awaiting
/// its reaper). Cheap enough to time a kill to the millisecond.
pub fn all_gone(pids: &[u32]) -> bool {
    pids.iter().all(|pid| match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    })
}

/// A marker unique to this test run, to find a command's processes.
pub fn marker(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("mcpmark{name}{}x{nanos}", std::process::id())
}

/// Waits up to `limit` for `condition`.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// Writes a world-readable tokens file in `dir` with one principal per
/// `(name, token, more TOML lines)`, and returns its path.
pub fn tokens_file(dir: &std::path::Path, principals: &[(&str, &str, &str)]) -> std::path::PathBuf {
    use sha2::Digest;
    let text: String = principals
        .iter()
        .map(|(name, token, more)| {
            let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
            format!("[[principal]]\nname = \"{name}\"\ntoken_sha256 = \"{digest}\"\n{more}\n")
        })
        .collect();
    let path = dir.join("tokens.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    path
}
