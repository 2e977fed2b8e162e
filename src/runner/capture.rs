//! Capture of one output pipe within a byte cap, keeping the head and the
//! tail.
//!
//! The pipe is drained to the end even past the cap, so a chatty command
//! never blocks on a full pipe. Past the cap the first 60% of the cap and
//! the last 40% are kept (a build's first error and its summary are both
//! useful to an agent), and the text shows, between them, a marker stating
//! exactly how many bytes were dropped.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::tap::OutputTap;

/// First and largest read sizes.
const SMALL_READ: usize = 4 * 1024;
const LARGE_READ: usize = 64 * 1024;

/// Share of the cap given to the head; the rest keeps the tail.
const HEAD_PERCENT: usize = 60;

/// Bytes kept from one stream. Invariant: `head.len() + tail.len() <= cap`
/// and `total` counts every byte read, kept or not.
#[derive(Debug)]
pub(crate) struct Capture {
    cap: usize,
    head: Vec<u8>,
    /// The last bytes seen once the head is full; at most `cap - head cap`.
    tail: VecDeque<u8>,
    pub(crate) total: u64,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Capture {
        Capture { cap, head: Vec::new(), tail: VecDeque::new(), total: 0 }
    }

    fn head_cap(&self) -> usize {
        self.cap * HEAD_PERCENT / 100
    }

    pub(crate) fn truncated(&self) -> bool {
        self.total > (self.head.len() + self.tail.len()) as u64
    }

    /// Adds bytes read from the stream.
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_room = self.head_cap().saturating_sub(self.head.len());
        let into_head = bytes.len().min(head_room);
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        let tail_cap = self.cap - self.head_cap();
        if bytes.len() >= tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// Reads `fd`, the read end of a non-blocking pipe, until end of file
    /// or error. Cancel-safe: whatever was read before the future is
    /// dropped stays in `self`.
    pub(crate) async fn fill(&mut self, fd: OwnedFd, tap: Option<&OutputTap>) {
        let Ok(mut receiver) = pipe::Receiver::from_owned_fd_unchecked(fd) else {
            return;
        };
        // Most commands write a few lines: start small, grow for floods.
        // `read_buf` reads into spare capacity, so nothing is zeroed.
        let mut buffer = Vec::with_capacity(SMALL_READ);
        loop {
            buffer.clear();
            match receiver.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    self.push(&buffer[..n]);
                    if let Some(tap) = tap {
                        tap.push(&buffer[..n]);
                    }
                    if n == buffer.capacity() && n < LARGE_READ {
                        buffer = Vec::with_capacity(LARGE_READ);
                    }
                }
            }
        }
    }

    /// The kept bytes as text (invalid UTF-8 replaced), with the marker
    /// between head and tail when bytes were dropped.
    pub(crate) fn text(&self) -> String {
        let mut bytes = self.head.clone();
        if self.truncated() {
            let dropped = self.total - (self.head.len() + self.tail.len()) as u64;
            bytes.extend_from_slice(
                format!(
                    "\n[... {dropped} bytes dropped: output was {} bytes, kept the first {} and the last {} ...]\n",
                    self.total,
                    self.head.len(),
                    self.tail.len()
                )
                .as_bytes(),
            );
        }
        bytes.extend(self.tail.iter());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_within_the_cap_is_kept_whole() {
        let mut capture = Capture::new(100);
        capture.push(b"hello ");
        capture.push(b"world");
        assert!(!capture.truncated());
        assert_eq!(capture.text(), "hello world");
    }

    #[test]
    fn output_past_the_cap_keeps_head_and_tail_with_an_exact_marker() {
        let mut capture = Capture::new(10);
        for chunk in [&b"0123"[..], b"4567", b"89abcdefghij", b"KLMN"] {
            capture.push(chunk);
        }
        assert!(capture.truncated());
        assert_eq!(capture.total, 24);
        assert_eq!(
            capture.text(),
            "012345\n[... 14 bytes dropped: output was 24 bytes, kept the first 6 and the last 4 ...]\nKLMN"
        );
    }

    #[test]
    fn a_single_huge_chunk_is_split_the_same_way() {
        let mut capture = Capture::new(10);
        capture.push(b"abcdefghijklmnopqrstuvwxyz");
        assert!(capture.text().starts_with("abcdef\n[... 16 bytes dropped"));
        assert!(capture.text().ends_with("wxyz"));
    }
}
