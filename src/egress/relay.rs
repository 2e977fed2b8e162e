//! Relaying an allowed connection: both directions at once (for a
//! forwarded request, its body only, then its response, whose head is
//! rewritten to `Connection: close`: each request gets a connection, and a
//! check, of its own), each with a buffer that starts at 64 KiB and
//! doubles, up to 1 MiB, while reads fill it (a bulk transfer moves large
//! chunks, an idle connection holds little). Every chunk is counted
//! against the call's byte budget and marks the connection active; a
//! watchdog closes the connection after the idle timeout or when its call
//! ends.
//!
//! Measured on loopback (BENCHMARKS.md): this beats `splice(2)` through a
//! pipe, whose page-sized pieces made the receiving client do twice the
//! work, and equals a blocking thread per direction.
//!
//! The relay ends when the destination ends (or fails); when the client
//! ends first, the destination's writing side is shut down and its rest
//! still relayed.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::calls::CallState;
use super::decide::{Refusal, Rule};
use super::head::{MAX_HEAD, closing_response, head_end};
use crate::config::egress::EgressConfig;

/// The relay buffer's first and largest size.
const FIRST_BUFFER: usize = 64 << 10;
const LARGEST_BUFFER: usize = 1 << 20;

/// What a relay moved.
#[derive(Debug, Default)]
pub(super) struct Moved {
    /// Client to destination.
    pub(super) sent: u64,
    /// Destination to client.
    pub(super) received: u64,
}

/// Relays between `client` and `upstream` (after sending `first` to
/// `upstream`) until one of the ends above; `Err` names the limit that
/// closed it.
pub(super) async fn relay(
    call: &CallState,
    settings: &EgressConfig,
    client: &TcpStream,
    mut upstream: TcpStream,
    first: &[u8],
    forward: Option<u64>,
    moved: &mut Moved,
) -> Result<(), Refusal> {
    let (budget, idle) = (settings.max_bytes_per_call, settings.idle_timeout);
    let epoch = Instant::now();
    let last_active = AtomicU64::new(0);
    // The client's side has ended: it sends nothing more.
    let client_done = std::sync::atomic::AtomicBool::new(false);
    let (sent, received) = (AtomicU64::new(0), AtomicU64::new(0));
    let counters = Counters { call, budget, epoch, last_active: &last_active };
    let outcome = async {
        if !first.is_empty() {
            if upstream.write_all(first).await.is_err() {
                return Ok(());
            }
            counters.add(&sent, first.len())?;
        }
        let upstream = &upstream;
        let up = async {
            match forward {
                None => pump(client, upstream, &counters, &sent, u64::MAX).await,
                // The rest of the body; what follows (a next request) is
                // read only to learn when the client closes, and dropped.
                Some(rest) => {
                    pump(client, upstream, &counters, &sent, rest).await?;
                    discard(client).await;
                    let _ = socket2::SockRef::from(upstream).shutdown(std::net::Shutdown::Write);
                    Ok(())
                }
            }
        };
        let down = async {
            if forward.is_some() {
                response_head(upstream, client, &counters, &received).await?;
            }
            pump(upstream, client, &counters, &received, u64::MAX).await
        };
        tokio::pin!(up, down);
        let mut up_done = false;
        loop {
            tokio::select! {
                result = &mut up, if !up_done => {
                    result?;
                    up_done = true;
                    client_done.store(true, Ordering::Relaxed);
                }
                result = &mut down => return result,
            }
        }
    };
    let watchdog = async {
        let mut ended = call.ended.clone();
        loop {
            let quiet = epoch.elapsed().saturating_sub(Duration::from_millis(last_active.load(Ordering::Relaxed)));
            if quiet >= idle {
                return Some(Refusal::new(
                    Rule::IdleTimeout,
                    format!("no byte either way for {}s (MCP_EGRESS_IDLE_TIMEOUT)", idle.as_secs_f64()),
                ));
            }
            tokio::select! {
                _ = tokio::time::sleep(idle - quiet) => {}
                // A client that finished (its command may have exited) was
                // only waiting for the destination's close: not cut.
                _ = ended.wait_for(|ended| *ended) => {
                    // Its end may not have been read yet: the command exited
                    // just before its call ended.
                    let finished = client_done.load(Ordering::Relaxed)
                        || matches!(client.try_read(&mut [0u8; 1]), Ok(0));
                    return (!finished)
                        .then(|| Refusal::new(Rule::CallEnded, "the call this connection belongs to ended"));
                }
            }
        }
    };
    let result = tokio::select! {
        result = outcome => result,
        refusal = watchdog => refusal.map_or(Ok(()), Err),
    };
    moved.sent = sent.load(Ordering::Relaxed);
    moved.received = received.load(Ordering::Relaxed);
    result
}

/// Byte counts and activity shared by both directions of a connection.
struct Counters<'a> {
    call: &'a CallState,
    budget: u64,
    epoch: Instant,
    last_active: &'a AtomicU64,
}

impl Counters<'_> {
    fn add(&self, direction: &AtomicU64, bytes: usize) -> Result<(), Refusal> {
        direction.fetch_add(bytes as u64, Ordering::Relaxed);
        self.last_active.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        if self.call.bytes.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64 > self.budget {
            return Err(bytes_refusal(self.budget));
        }
        Ok(())
    }
}

pub(super) fn bytes_refusal(budget: u64) -> Refusal {
    Refusal::new(
        Rule::BytesPerCall,
        format!("this call's commands moved {budget} bytes through the proxy (MCP_EGRESS_MAX_BYTES_PER_CALL)"),
    )
}

/// Relays a forwarded request's response head, rewritten to close the
/// connection (`head::closing_response`), and whatever came with it. A
/// head longer than `MAX_HEAD` is passed on as it is.
async fn response_head(
    from: &TcpStream,
    to: &TcpStream,
    counters: &Counters<'_>,
    direction: &AtomicU64,
) -> Result<(), Refusal> {
    let mut head = Vec::with_capacity(4096);
    let mut buffer = vec![0u8; 4096];
    let out = loop {
        let n: usize = ready(from, Interest::READABLE, || from.try_read(&mut buffer)).await.unwrap_or_default();
        if n == 0 {
            break head;
        }
        counters.add(direction, n)?;
        head.extend_from_slice(&buffer[..n]);
        if let Some(end) = head_end(&head) {
            let mut out = closing_response(&head[..end]);
            out.extend_from_slice(&head[end..]);
            break out;
        }
        if head.len() > MAX_HEAD {
            break head;
        }
    };
    write_all(to, &out).await;
    Ok(())
}

/// Moves bytes from `from` to `to` until `from` ends, then shuts down
/// `to`'s writing; or until `limit` bytes have moved. A side that fails
/// (reset, gone) ends the copy as an end of file would: that is no
/// refusal.
async fn pump(
    from: &TcpStream,
    to: &TcpStream,
    counters: &Counters<'_>,
    direction: &AtomicU64,
    mut limit: u64,
) -> Result<(), Refusal> {
    let mut buffer = vec![0u8; FIRST_BUFFER];
    while limit > 0 {
        let room = buffer.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
        let n: usize = ready(from, Interest::READABLE, || from.try_read(&mut buffer[..room])).await.unwrap_or_default();
        if n == 0 {
            let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
            return Ok(());
        }
        counters.add(direction, n)?;
        limit -= n as u64;
        if !write_all(to, &buffer[..n]).await {
            return Ok(());
        }
        if n == buffer.len() && buffer.len() < LARGEST_BUFFER {
            buffer.resize(buffer.len() * 2, 0);
        }
    }
    Ok(())
}

/// Reads `from` until it ends, keeping nothing.
async fn discard(from: &TcpStream) {
    let mut buffer = vec![0u8; 4096];
    while let Ok(1..) = ready(from, Interest::READABLE, || from.try_read(&mut buffer)).await {}
}

/// Writes all of `bytes`; false when `to` failed.
async fn write_all(to: &TcpStream, bytes: &[u8]) -> bool {
    let mut done = 0;
    while done < bytes.len() {
        match ready(to, Interest::WRITABLE, || to.try_write(&bytes[done..])).await {
            Ok(0) | Err(_) => return false,
            Ok(moved) => done += moved,
        }
    }
    true
}

/// Runs `operation` once `socket` is ready for `interest`, again each time
/// it would block.
async fn ready(
    socket: &TcpStream,
    interest: Interest,
    mut operation: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    loop {
        socket.ready(interest).await?;
        match socket.try_io(interest, &mut operation) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            result => return result,
        }
    }
}
