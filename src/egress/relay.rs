//! Relaying an allowed connection: both directions at once, each through a
//! pipe with `splice(2)`, so the bytes move from socket to socket inside
//! the kernel and are never copied through the daemon. Every chunk is
//! counted against the call's byte budget and marks the connection
//! active; a watchdog closes it after the idle timeout or when its call
//! ends.
//!
//! The relay ends when the destination ends (or fails); when the client
//! ends first, the destination's writing side is shut down and its rest
//! still relayed.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, SpliceFFlags, splice};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::calls::CallState;
use super::decide::{Refusal, Rule};

/// Most bytes moved by one `splice` (the pipe is grown to this).
const CHUNK: usize = 1 << 20;

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
    budget: u64,
    idle: Duration,
    client: &TcpStream,
    mut upstream: TcpStream,
    first: &[u8],
    moved: &mut Moved,
) -> Result<(), Refusal> {
    let epoch = Instant::now();
    let last_active = AtomicU64::new(0);
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
        let up = pump(client, upstream, &counters, &sent);
        let down = pump(upstream, client, &counters, &received);
        tokio::pin!(up, down);
        let mut up_done = false;
        loop {
            tokio::select! {
                result = &mut up, if !up_done => { result?; up_done = true; }
                result = &mut down => return result,
            }
        }
    };
    let watchdog = async {
        let mut ended = call.ended.clone();
        loop {
            let quiet = epoch.elapsed().saturating_sub(Duration::from_millis(last_active.load(Ordering::Relaxed)));
            if quiet >= idle {
                return Refusal::new(
                    Rule::IdleTimeout,
                    format!("no byte either way for {}s (MCP_EGRESS_IDLE_TIMEOUT)", idle.as_secs_f64()),
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(idle - quiet) => {}
                _ = ended.wait_for(|ended| *ended) => {
                    return Refusal::new(Rule::CallEnded, "the call this connection belongs to ended");
                }
            }
        }
    };
    let result = tokio::select! {
        result = outcome => result,
        refusal = watchdog => Err(refusal),
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

/// Moves bytes from `from` to `to` until `from` ends, then shuts down
/// `to`'s writing. A side that fails (reset, gone) ends the copy as an end
/// of file would: that is no refusal.
async fn pump(from: &TcpStream, to: &TcpStream, counters: &Counters<'_>, direction: &AtomicU64) -> Result<(), Refusal> {
    let Ok((pipe_out, pipe_in)) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) else {
        return Ok(());
    };
    // A larger pipe moves more per call; the default (64 KiB) still works.
    let _ = nix::fcntl::fcntl(&pipe_in, nix::fcntl::FcntlArg::F_SETPIPE_SZ(CHUNK as i32));
    loop {
        let n: usize =
            splice_ready(from, Interest::READABLE, || move_bytes(from, &pipe_in, CHUNK)).await.unwrap_or_default();
        if n == 0 {
            let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
            return Ok(());
        }
        counters.add(direction, n)?;
        let mut left = n;
        while left > 0 {
            match splice_ready(to, Interest::WRITABLE, || move_bytes(&pipe_out, to, left)).await {
                Ok(0) | Err(_) => return Ok(()),
                Ok(moved) => left -= moved,
            }
        }
    }
}

/// Runs `operation` once `socket` is ready for `interest`, again each time
/// it would block.
async fn splice_ready(
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

fn move_bytes(from: impl AsFd, to: impl AsFd, length: usize) -> io::Result<usize> {
    let flags = SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE;
    splice(from, None, to, None, length, flags).map_err(io::Error::from)
}
