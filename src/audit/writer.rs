//! The audit writer: one thread that owns the chain and the outputs, fed
//! through a bounded queue, so records are numbered and linked in exactly
//! the order they are written and a slow stdout never holds a request
//! longer than the configured deadline.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::chain::Chain;

/// Where sealed lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
    Off,
}

/// Counts kept by the writer, read by `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub(crate) written: AtomicU64,
    pub(crate) write_errors: AtomicU64,
}

/// The emitters' end of the queue, and the writer thread.
type Started = (mpsc::Sender<Map<String, Value>>, std::thread::JoinHandle<()>);

/// Starts the writer thread; it ends when every sender is gone and the
/// queue is drained.
pub(crate) fn start(
    mut chain: Chain,
    stream: Stream,
    file: Option<&Path>,
    capacity: usize,
    stats: Arc<WriterStats>,
) -> Result<Started, String> {
    let mut file = match file {
        Some(path) => Some(open(path)?),
        None => None,
    };
    let (sender, mut queue) = mpsc::channel::<Map<String, Value>>(capacity.max(1));
    let handle = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            while let Some(event) = queue.blocking_recv() {
                let mut line = chain.seal(event);
                line.push('\n');
                let stream_result = match stream {
                    Stream::Stdout => write_all(&mut std::io::stdout().lock(), &line),
                    Stream::Stderr => write_all(&mut std::io::stderr().lock(), &line),
                    Stream::Off => Ok(()),
                };
                let file_result = file.as_mut().map_or(Ok(()), |file| write_all(file, &line));
                let failure = [("stream", stream_result), ("MCP_AUDIT_FILE", file_result)]
                    .into_iter()
                    .find_map(|(place, result)| result.err().map(|error| (place, error)));
                match failure {
                    None => {
                        stats.written.fetch_add(1, Ordering::Relaxed);
                    }
                    Some((place, error)) => {
                        let failed = stats.write_errors.fetch_add(1, Ordering::Relaxed) + 1;
                        // The first failure and then one in a thousand: a
                        // closed stdout must not flood the operational log.
                        if failed == 1 || failed.is_multiple_of(1000) {
                            tracing::error!(
                                %place,
                                %error,
                                failed,
                                "audit records cannot be written; the daemon keeps serving and counts them \
                                 (mcp_commander_audit_write_errors_total)"
                            );
                        }
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the audit writer: {e}"))?;
    Ok((sender, handle))
}

fn write_all(out: &mut impl Write, line: &str) -> std::io::Result<()> {
    out.write_all(line.as_bytes()).and_then(|()| out.flush())
}

/// Opens the audit file for appending, readable by its owner only.
fn open(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("MCP_AUDIT_FILE {}: {e}", path.display()))
}
