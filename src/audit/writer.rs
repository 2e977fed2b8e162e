//! The audit writer: one thread that owns the chain and the sinks, fed
//! through a bounded queue, so records are numbered and linked in exactly
//! the order they are written and a slow stdout never holds a request
//! longer than the configured deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::chain::Chain;
use super::sinks::Sink;

/// Counts kept by the writer, read by `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub(crate) written: AtomicU64,
    pub(crate) write_errors: AtomicU64,
}

/// The emitters' end of the queue, and the writer thread.
type Started = (mpsc::Sender<Map<String, Value>>, std::thread::JoinHandle<()>);

/// Starts the writer thread; it ends when every sender is gone and the
/// queue is drained. A record counts as written when every sink took it.
pub(crate) fn start(
    mut chain: Chain,
    mut sinks: Vec<Box<dyn Sink>>,
    capacity: usize,
    stats: Arc<WriterStats>,
) -> Result<Started, String> {
    let (sender, mut queue) = mpsc::channel::<Map<String, Value>>(capacity.max(1));
    let handle = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            while let Some(event) = queue.blocking_recv() {
                let mut line = chain.seal(event);
                line.push('\n');
                let mut failure = None;
                for sink in &mut sinks {
                    if let Err(error) = sink.write(&line) {
                        failure.get_or_insert((sink.place(), error));
                    }
                }
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
