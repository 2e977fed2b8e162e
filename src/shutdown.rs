//! Shutdown as a value: the signal a transport is handed (the first
//! SIGTERM, what ECS and Docker send on stop, or SIGINT, Ctrl-C), and the
//! one drain both transports end with.
//!
//! `app` passes [`signal`] to `http::serve` or `mcp::stdio::serve`, which
//! stop taking work when it resolves (stdio also when stdin closes), then
//! [`drain`] what they have in flight.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::runner::ProcessTable;

/// Time left for calls to return their results after their commands were
/// killed at the end of the grace period.
const AFTER_KILL: Duration = Duration::from_secs(2);

/// Resolves with the name of the first SIGTERM or SIGINT received; never
/// resolves if the handlers cannot be installed.
pub(crate) async fn signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers; only SIGKILL stops this process");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Lets `in_flight` (what a transport still has running) finish within
/// `grace`, then kills the commands still running in `live` and gives
/// `in_flight` [`AFTER_KILL`] more to report it.
pub(crate) async fn drain(in_flight: impl Future<Output = ()>, live: &ProcessTable, grace: Duration) {
    let started = Instant::now();
    tokio::pin!(in_flight);
    if tokio::time::timeout(grace, &mut in_flight).await.is_ok() {
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "all calls in flight finished");
        return;
    }
    let killed = live.kill_all();
    tracing::warn!(killed, "grace period over: killed the commands still running");
    if tokio::time::timeout(AFTER_KILL, &mut in_flight).await.is_err() {
        tracing::warn!("calls still in flight after the grace period; dropping them");
    }
}
