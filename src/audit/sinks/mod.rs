//! Where sealed audit lines go: the [`Sink`] trait and the one list of
//! sinks. A sink is one file here, opened from the resolved
//! [`AuditSettings`] when they ask for it, and one line in [`SINKS`]; the
//! writer thread hands every line to every open sink, in the list's order.

pub(crate) mod file;
pub(crate) mod stream;

use std::io::Write;

use super::AuditSettings;

/// One destination of audit lines. Invariant: owned by the writer thread,
/// which alone writes to it.
pub(crate) trait Sink: Send {
    /// Names the sink in the operational log when a write fails.
    fn place(&self) -> &'static str;

    /// Writes sealed lines (each with its newline) in full and flushes them.
    fn write(&mut self, lines: &str) -> std::io::Result<()>;
}

/// Opens a sink if `settings` ask for it; `Err` stops the daemon's start.
type Open = fn(&AuditSettings) -> Result<Option<Box<dyn Sink>>, String>;

/// Every sink, in the order each line is written to them.
const SINKS: &[Open] = &[stream::open, file::open];

/// The sinks `settings` ask for; none means no record is built at all.
pub(crate) fn open(settings: &AuditSettings) -> Result<Vec<Box<dyn Sink>>, String> {
    SINKS.iter().filter_map(|open| open(settings).transpose()).collect()
}

/// Writes `lines` to `out` and flushes them.
fn write_all(out: &mut impl Write, lines: &str) -> std::io::Result<()> {
    out.write_all(lines.as_bytes()).and_then(|()| out.flush())
}
