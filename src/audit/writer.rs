//! The audit writer: one thread that owns the chain and the sinks, fed
//! through a bounded queue, so records are numbered and linked in exactly
//! the order they are written and a slow stdout never holds a request
//! longer than the configured deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::chain::Chain;
use super::sinks::Sink;

/// Counts kept by the writer, read by `/metrics`, and the signal a
/// [`WriterStats::wait`] sleeps on.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub(crate) written: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    /// Set while someone waits, so the writer signals only then.
    watched: AtomicBool,
    progress: Mutex<()>,
    advanced: Condvar,
}

impl WriterStats {
    /// Records handled so far, written or failed.
    pub(crate) fn handled(&self) -> u64 {
        self.written.load(Ordering::SeqCst) + self.write_errors.load(Ordering::SeqCst)
    }

    /// Sleeps until `done` holds of [`WriterStats::handled`] or `deadline`
    /// passes, woken by the writer as it handles each record; says whether
    /// `done` holds.
    pub(crate) fn wait(&self, deadline: Instant, done: impl Fn(u64) -> bool) -> bool {
        // The writer counts, then reads `watched`; this sets `watched`, then
        // reads the count under the lock the writer signals under: either
        // the count is seen here or the writer's signal wakes the wait.
        self.watched.store(true, Ordering::SeqCst);
        let mut guard = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let met = loop {
            if done(self.handled()) {
                break true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            guard = match self.advanced.wait_timeout(guard, left.min(Duration::from_secs(1))) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        drop(guard);
        self.watched.store(false, Ordering::SeqCst);
        met
    }

    /// Wakes a [`WriterStats::wait`], if there is one.
    fn signal(&self) {
        if self.watched.load(Ordering::SeqCst) {
            let _guard = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            self.advanced.notify_all();
        }
    }
}

/// Records written together at most, and the size a batch stops growing at.
const MAX_BATCH: u64 = 64;
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The emitters' end of the queue, and the writer thread.
type Started = (mpsc::Sender<Map<String, Value>>, std::thread::JoinHandle<()>);

/// Starts the writer thread; it ends when every sender is gone and the
/// queue is drained. Records waiting together are sealed in order and
/// written in one piece; a record counts as written when every sink took
/// the piece that holds it.
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
            let mut lines = String::new();
            while let Some(event) = queue.blocking_recv() {
                // What else is queued goes out in the same write, so a busy
                // daemon pays one system call per batch, not per record.
                lines.clear();
                let mut batch = 0u64;
                let mut next = Some(event);
                while let Some(event) = next.take() {
                    lines.push_str(&chain.seal(event));
                    lines.push('\n');
                    batch += 1;
                    if batch < MAX_BATCH && lines.len() < MAX_BATCH_BYTES {
                        next = queue.try_recv().ok();
                    }
                }
                let mut failure = None;
                for sink in &mut sinks {
                    if let Err(error) = sink.write(&lines) {
                        failure.get_or_insert((sink.place(), error));
                    }
                }
                match failure {
                    None => {
                        stats.written.fetch_add(batch, Ordering::SeqCst);
                    }
                    Some((place, error)) => {
                        let before = stats.write_errors.fetch_add(batch, Ordering::SeqCst);
                        let failed = before + batch;
                        // The first failure and then one in a thousand: a
                        // closed stdout must not flood the operational log.
                        if before == 0 || before / 1000 != failed / 1000 {
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
                stats.signal();
            }
        })
        .map_err(|e| format!("cannot start the audit writer: {e}"))?;
    Ok((sender, handle))
}
