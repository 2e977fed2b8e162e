//! Capture of one output pipe with a byte cap.
//!
//! The pipe is drained to the end even past the cap, so a chatty command
//! never blocks on a full pipe; bytes beyond the cap are counted and
//! dropped.

use std::os::fd::OwnedFd;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

/// Bytes kept from one stream. Invariant: `kept.len() <= cap` and
/// `kept.len() <= total`.
#[derive(Debug)]
pub(crate) struct Capture {
    cap: usize,
    pub(crate) kept: Vec<u8>,
    /// Every byte read, kept or not.
    pub(crate) total: u64,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Capture {
        Capture { cap, kept: Vec::new(), total: 0 }
    }

    pub(crate) fn truncated(&self) -> bool {
        self.total > self.kept.len() as u64
    }

    /// Reads `fd` until end of file or error. Cancel-safe: whatever was read
    /// before the future is dropped stays in `self`.
    pub(crate) async fn fill(&mut self, fd: OwnedFd) {
        let Ok(mut receiver) = pipe::Receiver::from_owned_fd(fd) else {
            return;
        };
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match receiver.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    self.total += n as u64;
                    let room = self.cap.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&buffer[..n.min(room)]);
                }
            }
        }
    }

    /// The kept bytes as text, invalid UTF-8 replaced.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}
