//! The shutdown signal shared by both transports: the first SIGTERM (what
//! ECS and Docker send on stop) or SIGINT (Ctrl-C).

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
