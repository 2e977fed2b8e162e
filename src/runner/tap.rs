//! A tap on a command's output: the capture pushes what it reads; progress
//! reports take it in coalesced batches, and background commands read it
//! by offset.
//!
//! Bounded: only the newest `capacity` bytes are kept, and offsets count
//! every byte ever written, so a reader learns exactly how much it missed.
//! Stdout and stderr share one tap, in arrival order.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Capacity of a progress tap: output waiting between two reports.
pub(crate) const PROGRESS_CAPACITY: usize = 16 * 1024;

/// The kept bytes and where they start. Invariant: `data.len() <= capacity`
/// and `start + data.len()` is the total written.
#[derive(Debug, Default)]
struct Log {
    capacity: usize,
    /// Offset of `data[0]` in the whole output.
    start: u64,
    data: VecDeque<u8>,
    /// Offset up to which progress reports have taken the output.
    reported: u64,
}

/// A bounded, shared log of output.
#[derive(Debug)]
pub(crate) struct OutputTap {
    log: Mutex<Log>,
}

/// A slice of the output read by offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) text: String,
    /// Offset of the first byte of `text`.
    pub(crate) offset: u64,
    /// Offset to ask for next.
    pub(crate) next_offset: u64,
    /// Bytes between the requested offset and `offset` that were dropped.
    pub(crate) dropped: u64,
}

impl OutputTap {
    pub(crate) fn new(capacity: usize) -> OutputTap {
        OutputTap { log: Mutex::new(Log { capacity, ..Log::default() }) }
    }

    pub(crate) fn push(&self, bytes: &[u8]) {
        let mut log = self.log.lock().expect("tap lock");
        log.data.extend(bytes);
        if log.data.len() > log.capacity {
            let excess = log.data.len() - log.capacity;
            log.data.drain(..excess);
            log.start += excess as u64;
        }
    }

    /// Total bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        let log = self.log.lock().expect("tap lock");
        log.start + log.data.len() as u64
    }

    /// The complete lines not yet reported (all of it when `everything`),
    /// as text; `None` when there is nothing to report.
    pub(crate) fn take_lines(&self, everything: bool) -> Option<String> {
        let mut log = self.log.lock().expect("tap lock");
        let from = log.reported.max(log.start);
        let skip = (from - log.start) as usize;
        let unreported = log.data.range(skip..);
        let length = if everything { unreported.len() } else { unreported.clone().rposition(|&b| b == b'\n')? + 1 };
        if length == 0 {
            return None;
        }
        let lines: Vec<u8> = log.data.range(skip..skip + length).copied().collect();
        log.reported = from + length as u64;
        Some(String::from_utf8_lossy(&lines).into_owned())
    }

    /// Up to `max` bytes from `offset` (clamped to what is kept).
    pub(crate) fn read(&self, offset: u64, max: usize) -> Chunk {
        let log = self.log.lock().expect("tap lock");
        let end = log.start + log.data.len() as u64;
        let from = offset.clamp(log.start, end);
        let skip = (from - log.start) as usize;
        let length = (log.data.len() - skip).min(max);
        let bytes: Vec<u8> = log.data.range(skip..skip + length).copied().collect();
        Chunk {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            offset: from,
            next_offset: from + length as u64,
            dropped: from.saturating_sub(offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_are_reported_and_partial_ones_wait() {
        let tap = OutputTap::new(PROGRESS_CAPACITY);
        tap.push(b"one\ntw");
        assert_eq!(tap.take_lines(false).as_deref(), Some("one\n"));
        assert_eq!(tap.take_lines(false), None);
        tap.push(b"o\n");
        assert_eq!(tap.take_lines(false).as_deref(), Some("two\n"));
        tap.push(b"tail");
        assert_eq!(tap.take_lines(true).as_deref(), Some("tail"));
    }

    #[test]
    fn a_flood_keeps_only_its_newest_bytes() {
        let tap = OutputTap::new(PROGRESS_CAPACITY);
        tap.push(&vec![b'x'; 100_000]);
        tap.push(b"\n");
        assert_eq!(tap.take_lines(false).unwrap().len(), PROGRESS_CAPACITY);
    }

    #[test]
    fn reads_by_offset_say_what_was_dropped() {
        let tap = OutputTap::new(10);
        tap.push(b"0123456789abcdef");
        assert_eq!(tap.written(), 16);
        let chunk = tap.read(0, 4);
        assert_eq!((chunk.text.as_str(), chunk.offset, chunk.next_offset, chunk.dropped), ("6789", 6, 10, 6));
        let chunk = tap.read(10, 100);
        assert_eq!((chunk.text.as_str(), chunk.next_offset, chunk.dropped), ("abcdef", 16, 0));
        assert_eq!(tap.read(16, 100).text, "");
    }
}
