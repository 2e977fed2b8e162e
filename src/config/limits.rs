//! Load limits: how many commands run and wait, how many connections are
//! open, how often one address may fail to authenticate, and how deep a
//! JSON-RPC message may nest. Every limit is bounded, so no client can make
//! the daemon hold unbounded memory.

use std::time::Duration;

use super::cli::RawSettings;
use super::resolved::resolved;

resolved! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Limits;
    pub(crate) fn resolve(raw: &RawSettings);

    /// Commands running at once.
    max_commands: usize = raw.max_concurrent_commands().get()?;
    /// Calls waiting for a slot; beyond, refused as busy.
    command_queue: usize = raw.command_queue().get()?;
    /// Longest wait in the queue.
    queue_timeout: Duration = raw.queue_timeout().get()?;
    /// Open HTTP connections.
    max_connections: usize = raw.max_connections().get()?;
    /// Failed authentications per address and window; 0 is no limit.
    auth_failure_limit: u32 = raw.auth_failure_limit().get()?;
    auth_failure_window: Duration = raw.auth_failure_window().get()?;
    /// Deepest nesting of arrays and objects in a message.
    max_json_depth: usize = raw.max_json_depth().get()?.min(128);
}

/// The declared defaults.
impl Default for Limits {
    fn default() -> Limits {
        resolve(&RawSettings::default()).expect("the declared defaults are valid")
    }
}
