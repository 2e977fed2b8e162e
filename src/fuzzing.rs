//! Entry points of the cargo-fuzz targets in `fuzz/`, compiled only when
//! cargo fuzz builds the crate (`--cfg fuzzing`): they drive the real
//! connection service (what `http::serve` runs per connection) and the
//! real dispatcher in process, without a network, and panic when an
//! invariant breaks.
//!
//! Both share one server, configured as an operator might: a token, an
//! allowlist of just `true` (a fuzzed `tools/call` can at most run `true`,
//! under the full sandbox where the kernel offers it), no audit output,
//! background commands on so their tools are reachable, and short timeouts.
//! Each input gets [`INPUT_TIME`]; running out of it is no finding, a panic
//! is.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::cli::RawSettings;
use crate::http::Connections;
use crate::mcp::dispatch::Server;
use crate::mcp::era::{Era, StandardHeaders};
use crate::mcp::framing::MAX_BATCH;

/// The token of the fuzzed server; the seed corpus sends it.
pub const TOKEN: &str = "fuzz-token-0123456789";

/// The port the fuzzed server believes it listens on (Origin checks use it).
pub const PORT: u16 = 3000;

/// Longest time one input may take; longer is given up, not reported.
pub const INPUT_TIME: Duration = Duration::from_secs(2);

/// Every input runs on this thread: a current-thread runtime, so spawned
/// tasks (background commands, event streams) progress only while an input
/// runs.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("the fuzzing runtime starts")
});

/// `MCP_FUZZ_SHOW=1` prints what each input got back, for triage.
static SHOW: LazyLock<bool> = LazyLock::new(|| std::env::var_os("MCP_FUZZ_SHOW").is_some());

/// The last bits of the next input's client address, in 127.0.0.0/8.
static NEXT_PEER: AtomicU32 = AtomicU32::new(1);

/// Where the server's scratch directory is, removed when the process exits.
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// The requests the router saw of the input being run.
static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

/// The server and the connection service of its listener, built once.
static HARNESS: LazyLock<(Arc<Server>, Connections)> = LazyLock::new(|| {
    // libFuzzer's `main` replaces Rust's, which would ignore SIGPIPE.
    crate::sandbox::ignore_sigpipe();
    let _entered = RUNTIME.enter();
    let server = crate::app::wire::wire_server(config()).expect("the fuzzing server starts");
    let _ = SCRATCH.set(server.tools().spaces.state_dir().to_path_buf());
    crate::sandbox::at_exit(remove_scratch);
    let router = crate::http::router(server.clone(), PORT).layer(middleware::from_fn(record));
    let mut connections = Connections::new(server.clone(), router);
    // The client closes its side once the input is sent; the answers to
    // what it sent must still come.
    connections.allow_half_close();
    (server, connections)
});

extern "C" fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        crate::sandbox::remove_dir(dir);
    }
}

fn config() -> crate::config::Config {
    let text = |value: &str| Some(value.to_string());
    let raw = RawSettings {
        host: text("127.0.0.1"),
        port: Some(PORT.to_string()),
        auth_token: text(TOKEN),
        allowed_commands: text("true"),
        default_timeout: text("1s"),
        max_timeout: text("1s"),
        kill_grace: text("100ms"),
        audit: text("off"),
        background_commands: text("true"),
        background_lifetime: text("1s"),
        background_retention: text("1s"),
        background_buffer_bytes: text("4096"),
        // Whatever this host's kernel offers: a missing layer is no finding here.
        sandbox_require: text(""),
        ..RawSettings::default()
    };
    crate::config::resolve(&raw, true).expect("the fuzzing configuration is valid")
}

/// Forces the shared server into being, so the first input's time is its own.
pub fn init() {
    LazyLock::force(&HARNESS);
}

/// What the service saw of one request, in order.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// A HEAD request: its response has no body whatever it says.
    head: bool,
    /// `/health`, whose JSON is not JSON-RPC.
    health: bool,
    /// An HTTP/1.0 request.
    http10: bool,
}

/// Feeds `bytes` to the daemon's connection service (the cap, hyper with
/// the daemon's limits, the router) as one HTTP/1.1 connection whose client
/// then closes its sending side, and checks what comes back: no panic;
/// every response starts with `HTTP/1.1 ` (`HTTP/1.0 ` to an HTTP/1.0
/// request); its framing holds; JSON bodies and event-stream messages (but
/// `/health`'s) are JSON-RPC 2.0 messages; at most one response (an error
/// of hyper's) answers no request the router saw.
pub fn http_request(bytes: &[u8]) {
    let (_, connections) = &*HARNESS;
    SEEN.lock().expect("seen lock").clear();
    // Each input comes from an address of its own, so what the guard counts
    // against an address (failed authentications) is the input's own doing
    // and the input behaves the same whenever it runs.
    let peer = Ipv4Addr::from(0x7f00_0000 | NEXT_PEER.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff);
    let peer = SocketAddr::from((peer, 40000));
    let (client, server_side) = tokio::io::duplex(64 * 1024);
    let (mut from_server, mut to_server) = tokio::io::split(client);
    let mut output = Vec::new();
    let finished = RUNTIME.block_on(async {
        let connection = connections.accept(server_side, peer);
        let abort = connection.abort_handle();
        let send = async {
            // The server may stop reading at an error: the rest is not sent.
            if to_server.write_all(bytes).await.is_ok() {
                let _ = to_server.shutdown().await;
            }
        };
        let receive = from_server.read_to_end(&mut output);
        let finished =
            tokio::time::timeout(INPUT_TIME, async { tokio::join!(connection, send, receive) }).await.is_ok();
        // An input given up leaves no connection (nor its slot) behind.
        abort.abort();
        finished
    });
    let seen = SEEN.lock().expect("seen lock").clone();
    if *SHOW {
        eprintln!("-- {} requests, finished {finished}:\n{}", seen.len(), String::from_utf8_lossy(&output));
    }
    check_responses(&output, &seen, finished);
}

/// Notes what the router is asked, for [`check_responses`].
async fn record(request: Request, next: Next) -> Response {
    SEEN.lock().expect("seen lock").push(Seen {
        head: request.method() == axum::http::Method::HEAD,
        health: request.uri().path() == "/health",
        http10: request.version() == axum::http::Version::HTTP_10,
    });
    next.run(request).await
}

/// Checks the bytes a connection sent back; `complete` when the connection
/// ended (rather than running out of time), so nothing may be cut short.
fn check_responses(output: &[u8], seen: &[Seen], complete: bool) {
    let mut rest = output;
    let mut answered = 0;
    while !rest.is_empty() {
        let request = seen.get(answered).copied();
        // hyper answers an HTTP/1.0 request in HTTP/1.0, as it should.
        let version_ok =
            rest.starts_with(b"HTTP/1.1 ") || request.is_some_and(|r| r.http10) && rest.starts_with(b"HTTP/1.0 ");
        assert!(version_ok, "a response does not start with HTTP/1.1: {:?}", shown(rest));
        let Some(end) = find(rest, b"\r\n\r\n") else {
            assert!(!complete, "the connection ended inside a response head: {:?}", shown(rest));
            return;
        };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status code in {status_line:?}"));
        assert!((100..600).contains(&status), "status {status} out of range");
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("malformed header line {line:?}"));
                (name.to_ascii_lowercase(), value.trim().to_string())
            })
            .collect();
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        if status < 200 {
            continue;
        }
        answered += 1;
        if request.is_some_and(|r| r.head) || status == 204 || status == 304 {
            // No body, whatever Content-Type and Content-Length say.
            continue;
        }
        let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body: Vec<u8> = if chunked {
            let Some((body, used)) = dechunk(rest) else {
                assert!(!complete, "the connection ended inside a chunked body: {:?}", shown(rest));
                return;
            };
            rest = &rest[used..];
            body
        } else if let Some(length) = header("content-length") {
            let length: usize = length.parse().unwrap_or_else(|_| panic!("bad Content-Length {length:?}"));
            if rest.len() < length {
                assert!(!complete, "the connection ended {} bytes into a {length}-byte body", rest.len());
                return;
            }
            let (body, after) = rest.split_at(length);
            rest = after;
            body.to_vec()
        } else {
            std::mem::take(&mut rest).to_vec()
        };
        let media = header("content-type").unwrap_or_default().split(';').next().unwrap_or_default().trim();
        match media.to_ascii_lowercase().as_str() {
            "application/json" if request.is_some_and(|r| r.health) => {}
            "application/json" => {
                let value: Value = serde_json::from_slice(&body)
                    .unwrap_or_else(|e| panic!("a {status} JSON body is not JSON ({e}): {:?}", shown(&body)));
                check_json_body(&value, false);
            }
            "text/event-stream" => check_event_stream(&body),
            _ => {}
        }
    }
    assert!(answered <= seen.len() + 1, "{answered} responses to {} requests", seen.len());
}

/// Every `data:` of an event stream is one JSON-RPC message, or a batch
/// of responses (2025-03-26 lets a stream carry them batched).
fn check_event_stream(body: &[u8]) {
    let text = std::str::from_utf8(body).expect("an event stream is UTF-8");
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let value: Value = serde_json::from_str(data.trim_start())
                .unwrap_or_else(|e| panic!("an event's data is not JSON ({e}): {data:?}"));
            check_json_body(&value, true);
        }
    }
}

/// A JSON body or event: one message, or a non-empty batch of responses.
fn check_json_body(value: &Value, notifications: bool) {
    match value {
        Value::Array(batch) => {
            assert!(!batch.is_empty(), "an empty batch answer");
            batch.iter().for_each(|message| check_outgoing(message, false));
        }
        message => check_outgoing(message, notifications),
    }
}

/// A JSON-RPC 2.0 message from the server: a response (exactly one of
/// `result` or `error`, whose `code` is an integer and `message` a string)
/// or, where `notifications` may come (event streams), a notification.
fn check_outgoing(message: &Value, notifications: bool) {
    let object = message.as_object().unwrap_or_else(|| panic!("a message that is not an object: {message}"));
    assert_eq!(object.get("jsonrpc"), Some(&Value::from("2.0")), "'jsonrpc' is not \"2.0\" in {message}");
    if notifications && object.contains_key("method") {
        assert!(object["method"].is_string(), "a notification without a string method: {message}");
        assert!(!object.contains_key("id"), "a notification with an id: {message}");
        return;
    }
    match (object.get("result"), object.get("error")) {
        (Some(result), None) => assert!(result.is_object(), "a result that is not an object: {message}"),
        (None, Some(error)) => {
            assert!(error["code"].is_i64(), "an error code that is not an integer: {message}");
            assert!(error["message"].is_string(), "an error message that is not a string: {message}");
        }
        _ => panic!("not exactly one of result and error: {message}"),
    }
    if let Some(id) = object.get("id") {
        assert!(id.is_null() || valid_id(id), "an id that is no request id: {message}");
    }
}

/// The body of a chunked message and the bytes it took; `None` if cut short.
fn dechunk(mut bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let total = bytes.len();
    let mut body = Vec::new();
    loop {
        let line_end = find(bytes, b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {size_text:?}"));
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let end = find(bytes, b"\r\n")?;
                bytes = &bytes[end + 2..];
                if end == 0 {
                    return Some((body, total - bytes.len()));
                }
            }
        }
        if bytes.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&bytes[..size]);
        assert_eq!(&bytes[size..size + 2], b"\r\n", "a chunk not followed by CRLF");
        bytes = &bytes[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()
}

/// A JSON-RPC request id: a string or an integer.
fn valid_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}

/// Parses `bytes` as JSON and, if it parses, hands it to the dispatcher
/// (each element too, when it is an array, as a batch would be) as it
/// comes over stdio (no headers), and under the newest revision of each
/// era with `Mcp-Method` / `Mcp-Name` mirroring the body.
/// Checks: no panic; a reply is a JSON-RPC 2.0 response (exactly one of
/// `result` or `error`, an integer `code`) carrying the request's id when
/// it had a valid one (else null); notifications and responses get none,
/// and only they.
pub fn jsonrpc_message(bytes: &[u8]) {
    let Ok(message) = serde_json::from_slice::<Value>(bytes) else { return };
    let (server, _) = &*HARNESS;
    let mut messages = vec![message.clone()];
    if let Value::Array(batch) = &message {
        messages.extend(batch.iter().take(MAX_BATCH).cloned());
    }
    for message in messages {
        for headers in header_sets(&message) {
            let reply = RUNTIME
                .block_on(async { tokio::time::timeout(INPUT_TIME, server.handle(message.clone(), &headers)).await });
            if *SHOW {
                eprintln!(
                    "-- {:?}: {:?}",
                    headers.protocol_version,
                    reply.as_ref().map(|r| r.as_ref().map(|r| r.body.text()))
                );
            }
            if let Ok(reply) = reply {
                check_reply(&message, reply.map(|r| (r.body.text(), r.http_status)));
            }
        }
    }
}

/// No headers (stdio), then the newest revision of each era in
/// `MCP-Protocol-Version`, with `Mcp-Method` and `Mcp-Name` mirroring the
/// body (which only the eras that check them read).
fn header_sets(message: &Value) -> Vec<StandardHeaders> {
    let method = message.get("method").and_then(Value::as_str).map(str::to_owned);
    let params = message.get("params").unwrap_or(&Value::Null);
    let name = params.get("name").or_else(|| params.get("uri")).and_then(Value::as_str).map(str::to_owned);
    let mut sets = vec![StandardHeaders::default()];
    sets.extend(Era::ALL.map(|era| StandardHeaders {
        present: true,
        protocol_version: Some(era.newest_version().into()),
        method: method.clone(),
        name: name.clone(),
        ..StandardHeaders::default()
    }));
    sets
}

fn check_reply(message: &Value, reply: Option<(String, u16)>) {
    let object = message.as_object();
    let version_ok = object.is_some_and(|o| o.get("jsonrpc") == Some(&Value::from("2.0")));
    let has = |key: &str| object.is_some_and(|o| o.contains_key(key));
    let params_ok = object.is_some_and(|o| o.get("params").is_none_or(|p| p.is_object() || p.is_array()));
    let notification = version_ok && !has("id") && message["method"].is_string() && params_ok;
    let Some((text, status)) = reply else {
        assert!(version_ok && !(has("id") && has("method")), "no reply to {message}");
        return;
    };
    assert!(!notification, "a reply to the notification {message}: {text}");
    assert!((100..600).contains(&status), "HTTP status {status} for {message}");
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("a reply that is not JSON ({e}): {text}"));
    check_outgoing(&value, false);
    let expected = message.get("id").filter(|id| valid_id(id)).cloned().unwrap_or(Value::Null);
    assert_eq!(value.get("id"), Some(&expected), "the reply to {message} has the wrong id: {text}");
}
