//! Admission of commands: at most `MCP_MAX_CONCURRENT_COMMANDS` run at
//! once, at most `MCP_COMMAND_QUEUE` more wait (each for at most
//! `MCP_QUEUE_TIMEOUT`), and any call beyond is refused at once as busy.
//! Memory and processes stay bounded however many calls arrive.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::limits::Limits;

/// The slots and the queue. Invariant: `waiting` counts the calls inside
/// [`Admission::enter`] that found no free slot.
#[derive(Debug)]
pub(crate) struct Admission {
    slots: Semaphore,
    max_commands: usize,
    waiting: AtomicUsize,
    queue: usize,
    queue_timeout: Duration,
}

/// Why a call was not admitted; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Busy(pub(crate) String);

/// Seconds a refused client should wait before retrying.
pub(crate) const RETRY_AFTER_SECONDS: u64 = 1;

impl Admission {
    pub(crate) fn new(limits: &Limits) -> Admission {
        Admission {
            slots: Semaphore::new(limits.max_commands),
            max_commands: limits.max_commands,
            waiting: AtomicUsize::new(0),
            queue: limits.command_queue,
            queue_timeout: limits.queue_timeout,
        }
    }

    /// A slot, at once or after waiting in the queue; dropping the permit
    /// frees the slot.
    #[cfg(test)]
    pub(crate) async fn enter(&self) -> Result<SemaphorePermit<'_>, Busy> {
        self.enter_counted(&|_| ()).await
    }

    /// A slot, at once or after waiting in the queue (dropping the permit
    /// frees it); `queued` hears the queue length as it changes.
    pub(crate) async fn enter_counted(&self, queued: &(dyn Fn(usize) + Sync)) -> Result<SemaphorePermit<'_>, Busy> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.waiting, queued);
        if ahead >= self.queue {
            return Err(Busy(format!(
                "server busy: {} commands are running and {} calls are waiting, the most allowed \
                 (MCP_MAX_CONCURRENT_COMMANDS, MCP_COMMAND_QUEUE); retry in {RETRY_AFTER_SECONDS}s",
                self.max_commands, self.queue
            )));
        }
        queued(ahead + 1);
        match tokio::time::timeout(self.queue_timeout, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Busy("server busy: the daemon is shutting down".into())),
            Err(_) => Err(Busy(format!(
                "server busy: no command slot became free within {}s (MCP_QUEUE_TIMEOUT); \
                 {} commands run at once (MCP_MAX_CONCURRENT_COMMANDS); retry in {RETRY_AFTER_SECONDS}s",
                self.queue_timeout.as_secs_f64(),
                self.max_commands
            ))),
        }
    }

    /// Calls waiting for a slot now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// Leaves the queue count on every path out of [`Admission::enter`],
/// including a call dropped while it waits.
struct Leave<'a>(&'a AtomicUsize, &'a (dyn Fn(usize) + Sync));

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let left = self.0.fetch_sub(1, Ordering::AcqRel) - 1;
        (self.1)(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_commands: usize, command_queue: usize, queue_timeout: Duration) -> Limits {
        Limits { max_commands, command_queue, queue_timeout, ..Limits::default() }
    }

    #[tokio::test]
    async fn beyond_the_slots_and_the_queue_calls_are_refused_at_once() {
        let admission = std::sync::Arc::new(Admission::new(&limits(1, 1, Duration::from_secs(5))));
        let first = admission.slots.try_acquire().unwrap();
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter().await.map(drop) })
        };
        while admission.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let refused = admission.enter().await.unwrap_err();
        assert!(refused.0.contains("MCP_COMMAND_QUEUE"), "{}", refused.0);
        first.forget();
        admission.slots.add_permits(1);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(admission.waiting(), 0);
        assert!(admission.enter().await.is_ok());
    }

    #[tokio::test]
    async fn a_queued_call_gives_up_after_the_queue_timeout() {
        let admission = Admission::new(&limits(1, 4, Duration::from_millis(50)));
        let _held = admission.enter().await.unwrap();
        let refused = admission.enter().await.unwrap_err();
        assert!(refused.0.contains("MCP_QUEUE_TIMEOUT"), "{}", refused.0);
        assert_eq!(admission.waiting(), 0);
    }
}
