//! The proxy's connections: read the head, find the call by its secret and
//! check that the connection came through that call's sandbox cell, count
//! it against the limits, judge the destination, connect to the checked
//! address, then hand it to the relay (`relay.rs`). Every connection
//! leaves one audit record and one metric, allowed or not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Shared;
use super::calls::CallState;
use super::decide::{Refusal, Rule, destination};
use super::head::{Head, MAX_HEAD, Target, head_end};
use super::relay::{self, Moved, relay};

/// Longest wait for a request head, and for the destination to accept.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections of one principal (one sandbox cell; those of no cell count
/// as one more) whose head is still awaited: before its head a connection
/// belongs to no call, so no call's limit holds it, and one principal must
/// not starve the others.
pub(super) const MAX_PENDING_HEADS: usize = 32;

/// One connection counted among its cell's awaited heads, until dropped.
struct Pending<'a> {
    counts: &'a std::sync::Mutex<std::collections::HashMap<usize, usize>>,
    cell: usize,
}

impl<'a> Pending<'a> {
    fn enter(counts: &'a std::sync::Mutex<std::collections::HashMap<usize, usize>>, cell: usize) -> Option<Self> {
        let mut map = counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(cell).or_default();
        if *count >= MAX_PENDING_HEADS {
            return None;
        }
        *count += 1;
        Some(Pending { counts, cell })
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.counts.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&self.cell) {
            *count = count.saturating_sub(1);
        }
    }
}

/// What the record of one connection says.
struct Report {
    call: Option<Arc<CallState>>,
    head: Option<Head>,
    address: Option<SocketAddr>,
    /// `None`: allowed and ended normally.
    rule: Option<Refusal>,
    allowed: bool,
    sent: u64,
    received: u64,
}

/// Serves one accepted connection from `peer`, which the socket broker
/// registered as coming from the cell `owner` (or `None`).
pub(super) async fn serve(shared: Arc<Shared>, mut client: TcpStream, owner: Option<usize>) {
    let started = Instant::now();
    let mut report = Report { call: None, head: None, address: None, rule: None, allowed: false, sent: 0, received: 0 };
    if let Err(refusal) = handle(&shared, &mut client, owner, &mut report).await {
        if !report.allowed {
            let _ = refuse(&mut client, &refusal).await;
        }
        report.rule = Some(refusal);
    }
    record(&shared, report, started).await;
}

async fn handle(
    shared: &Arc<Shared>,
    client: &mut TcpStream,
    owner: Option<usize>,
    report: &mut Report,
) -> Result<(), Refusal> {
    // Connections the socket broker did not make (processes outside the
    // sandbox) wait for their head under one count of their own.
    let (head, early) = {
        let Some(_waiting) = Pending::enter(&shared.pending, owner.unwrap_or(usize::MAX)) else {
            return Err(Refusal::new(
                Rule::PendingHeads,
                format!(
                    "{MAX_PENDING_HEADS} proxy connections of this principal are waiting for their request head \
                     already"
                ),
            ));
        };
        read_head(client).await?
    };
    report.head = Some(head.clone());
    // Only a command's connection, made by the socket broker, is served.
    let Some(owner) = owner else {
        return Err(Refusal::new(
            Rule::WrongPrincipal,
            "this connection did not come from a sandboxed command (the socket broker made no such connection)",
        ));
    };
    let Some(secret) = head.secret() else {
        return Err(Refusal::new(
            Rule::Unauthenticated,
            "the proxy needs the credentials of the HTTPS_PROXY variable the daemon set for this command",
        ));
    };
    let Some(call) = shared.calls.get(&secret) else {
        return Err(Refusal::new(
            Rule::UnknownCall,
            "these proxy credentials belong to no running call (they end with the call that received them)",
        ));
    };
    report.call = Some(call.clone());
    if owner != call.owner {
        return Err(Refusal::new(
            Rule::WrongPrincipal,
            format!("this connection did not come from a command of principal '{}'", call.principal),
        ));
    }
    let settings = &shared.settings;
    let _open = shared.calls.open(&call, settings.max_per_call, settings.max_per_principal).map_err(|rule| {
        let (limit, setting) = match rule {
            Rule::ConnectionsPerCall => (settings.max_per_call, "MCP_EGRESS_MAX_CONNECTIONS_PER_CALL"),
            _ => (settings.max_per_principal, "MCP_EGRESS_MAX_CONNECTIONS_PER_PRINCIPAL"),
        };
        Refusal::new(rule, format!("{limit} proxy connections are open already ({setting})"))
    })?;
    if call.bytes.load(Ordering::Relaxed) >= settings.max_bytes_per_call {
        return Err(relay::bytes_refusal(settings.max_bytes_per_call));
    }
    let body_length = match head.target {
        Target::Connect => 0,
        Target::Forward { .. } => head.body_length().map_err(|e| Refusal::new(Rule::BadRequest, e))?,
    };
    // The body still to come after what arrived with the head.
    let forward = match head.target {
        Target::Connect => None,
        Target::Forward { .. } => Some(body_length.saturating_sub(early.len() as u64)),
    };
    let addresses = destination(&call.allow, &shared.resolver, &head.host, head.port).await?;
    let upstream = connect(&addresses).await.map_err(|e| {
        Refusal::new(Rule::ConnectFailed, format!("{}:{} could not be reached: {e}", head.host, head.port))
    })?;
    report.address = upstream.peer_addr().ok();
    report.allowed = true;
    let mut first = Vec::new();
    match &head.target {
        Target::Connect => {
            if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
                return Ok(());
            }
        }
        Target::Forward { .. } => first = head.forwarded(),
    }
    // A forwarded request is relayed up to the end of its body; what
    // follows (a next request) is never sent.
    let early_length = match forward {
        None => early.len(),
        Some(_) => early.len().min(usize::try_from(body_length).unwrap_or(usize::MAX)),
    };
    first.extend_from_slice(&early[..early_length]);
    let mut moved = Moved::default();
    let result = relay(&call, settings, client, upstream, &first, forward, &mut moved).await;
    (report.sent, report.received) = (moved.sent, moved.received);
    result
}

/// Reads up to the end of the head; returns it with what followed it.
async fn read_head(client: &mut TcpStream) -> Result<(Head, Vec<u8>), Refusal> {
    let mut buffer = Vec::with_capacity(1024);
    let read = async {
        loop {
            if let Some(end) = head_end(&buffer) {
                return Ok(end);
            }
            if buffer.len() >= MAX_HEAD {
                return Err(format!("the request head is over {MAX_HEAD} bytes"));
            }
            let mut chunk = [0u8; 4096];
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err("the connection ended before the request head did".into()),
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let end = match tokio::time::timeout(HEAD_TIMEOUT, read).await {
        Ok(result) => result,
        Err(_) => Err(format!("no request head within {}s", HEAD_TIMEOUT.as_secs())),
    }
    .map_err(|e| Refusal::new(Rule::BadRequest, e))?;
    let head = Head::parse(&buffer[..end]).map_err(|e| Refusal::new(Rule::BadRequest, e))?;
    Ok((head, buffer[end..].to_vec()))
}

/// Connects to the first of `addresses` that accepts.
async fn connect(addresses: &[SocketAddr]) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for address in addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                return Ok(stream);
            }
            Ok(Err(error)) => last = format!("{address}: {error}"),
            Err(_) => last = format!("{address}: no answer within {}s", CONNECT_TIMEOUT.as_secs()),
        }
    }
    Err(last)
}

/// Answers a refused request with its status and a body naming the rule.
async fn refuse(client: &mut TcpStream, refusal: &Refusal) -> std::io::Result<()> {
    let (status, text) = refusal.rule.status();
    let body = format!("mcp-commander egress refused ({}): {}\n", refusal.rule, refusal.reason);
    let authenticate = if status == 407 { "Proxy-Authenticate: Basic realm=\"mcp-commander egress\"\r\n" } else { "" };
    let response = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         {authenticate}X-Egress-Rule: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        refusal.rule
    );
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

/// Writes the connection's audit record and counts it.
async fn record(shared: &Shared, report: Report, started: Instant) {
    let rule = report.rule;
    let outcome = rule.as_ref().map_or("allowed", |r| r.rule.name());
    let principal = report.call.as_ref().map_or("", |c| c.principal.as_str());
    shared.metrics.egress_connection(principal, outcome, report.sent, report.received);
    if rule.is_some() {
        tracing::info!(
            principal,
            outcome,
            host = report.head.as_ref().map(|h| h.host.as_str()),
            "egress refused or cut"
        );
    }
    let caller = crate::audit::Caller {
        request_id: report.call.as_ref().map(|c| c.request_id.clone()).unwrap_or_default(),
        principal: principal.to_string(),
        remote: None,
        forwarded_for: None,
    };
    let mut event = crate::audit::event("egress", &caller);
    let head = report.head.as_ref();
    event.insert("host".into(), head.map_or(Value::Null, |h| h.host.clone().into()));
    event.insert("port".into(), head.map_or(Value::Null, |h| h.port.into()));
    event.insert("method".into(), head.map_or(Value::Null, |h| h.method.clone().into()));
    event.insert("address".into(), report.address.map_or(Value::Null, |a| a.to_string().into()));
    event.insert("allowed".into(), report.allowed.into());
    if let Some(rule) = &rule {
        event.insert("rule".into(), rule.rule.name().into());
        event.insert("reason".into(), rule.reason.clone().into());
    }
    event.insert("bytes_sent".into(), json!(report.sent));
    event.insert("bytes_received".into(), json!(report.received));
    event.insert("duration_ms".into(), json!(started.elapsed().as_millis() as u64));
    shared.audit.emit(event).await;
}
