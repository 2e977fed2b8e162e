//! A tap on a command's output for progress reports: the capture pushes
//! what it reads, a reporter takes it in coalesced batches.
//!
//! Bounded: only the newest bytes wait (a flood between two reports is cut
//! to its end), so a slow client never makes the daemon buffer without
//! limit. Stdout and stderr share one tap, in arrival order.

use std::sync::Mutex;

/// Most bytes waiting between two reports.
const PENDING_CAP: usize = 16 * 1024;

/// Output not yet reported. Invariant: `pending.len() <= PENDING_CAP`.
#[derive(Debug, Default)]
pub(crate) struct OutputTap {
    pending: Mutex<Vec<u8>>,
}

impl OutputTap {
    pub(crate) fn push(&self, bytes: &[u8]) {
        let mut pending = self.pending.lock().expect("tap lock");
        pending.extend_from_slice(bytes);
        if pending.len() > PENDING_CAP {
            let excess = pending.len() - PENDING_CAP;
            pending.drain(..excess);
        }
    }

    /// Takes the complete lines waiting (all of it when `everything`), as
    /// text; `None` when there is nothing to report.
    pub(crate) fn take_lines(&self, everything: bool) -> Option<String> {
        let mut pending = self.pending.lock().expect("tap lock");
        let end = if everything { pending.len() } else { pending.iter().rposition(|&b| b == b'\n')? + 1 };
        if end == 0 {
            return None;
        }
        let lines: Vec<u8> = pending.drain(..end).collect();
        Some(String::from_utf8_lossy(&lines).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_are_reported_and_partial_ones_wait() {
        let tap = OutputTap::default();
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
        let tap = OutputTap::default();
        tap.push(&vec![b'x'; 100_000]);
        tap.push(b"\n");
        assert_eq!(tap.take_lines(false).unwrap().len(), PENDING_CAP);
    }
}
