//! One accepted connection: the connection cap (MCP_MAX_CONNECTIONS, past
//! which a connection is answered 503 unread), hyper's HTTP/1.1 limits, the
//! peer attached to each request, a cancelled call closing its connection,
//! and the watch that lets shutdown wait for every connection.
//!
//! [`http::serve`](super::serve) hands each accepted socket to
//! [`Connections::accept`]; the `http` fuzz target hands it in-memory
//! streams, so what it fuzzes is this path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::Peer;
use super::cancel::Cancelled;
use crate::mcp::dispatch::Server;

/// Largest request head (request line and headers) accepted; larger gets 431.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The connections of one listener.
pub(crate) struct Connections {
    server: Arc<Server>,
    /// The whole application, cloned into each connection.
    app: Router,
    /// hyper's settings, the same for every connection.
    builder: hyper::server::conn::http1::Builder,
    /// One permit per open connection; none left means the next is refused.
    slots: Arc<Semaphore>,
    /// Every connection served is watched, so [`Connections::close`] can
    /// tell them to finish and learn when they have.
    graceful: GracefulShutdown,
}

impl Connections {
    pub(crate) fn new(server: Arc<Server>, app: Router) -> Connections {
        let config = &server.tools().config;
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // Also the keep-alive idle limit.
            .header_read_timeout(config.header_timeout)
            .max_header_size(MAX_HEADER_BYTES)
            .max_headers(100);
        let slots = Arc::new(Semaphore::new(config.limits.max_connections));
        Connections { server, app, builder, slots, graceful: GracefulShutdown::new() }
    }

    /// Lets a client that shuts down its sending side still read the
    /// answers to what it sent. `serve` leaves this off (a client that
    /// half-closes loses its connection); the fuzz target, whose input
    /// ends that way, turns it on.
    #[cfg(fuzzing)]
    pub(crate) fn allow_half_close(&mut self) {
        self.builder.half_close(true);
    }

    /// Serves `stream` from `peer` on a task of its own, or, when
    /// MCP_MAX_CONNECTIONS are open, answers it 503 and closes it.
    pub(crate) fn accept<S>(&self, stream: S, peer: SocketAddr) -> JoinHandle<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            self.server.tools().metrics.connection_refused();
            let limit = self.server.tools().config.limits.max_connections;
            tracing::warn!(%peer, limit, "connection refused: MCP_MAX_CONNECTIONS open");
            return tokio::spawn(refuse_connection(stream));
        };
        let open = self.server.tools().metrics.connection_opened();
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(Peer(peer));
            let app = app.clone();
            async move {
                let response = app.oneshot(request.map(axum::body::Body::new)).await.into_response();
                if response.extensions().get::<Cancelled>().is_some() {
                    // A cancelled call gets no reply: hyper closes the connection.
                    return Err(std::io::Error::other("request cancelled by the client"));
                }
                Ok(response)
            }
        });
        let connection = self.graceful.watch(self.builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _held = (slot, open);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        })
    }

    /// Tells every connection to finish its requests in flight and close;
    /// resolves when all have.
    pub(crate) async fn close(self) {
        self.graceful.shutdown().await;
    }
}

/// Answers a connection beyond MCP_MAX_CONNECTIONS with 503 and closes it,
/// without reading its request.
async fn refuse_connection(mut stream: impl AsyncWrite + Unpin) {
    let body = crate::mcp::jsonrpc::error(
        serde_json::Value::Null,
        crate::mcp::jsonrpc::SERVER_BUSY,
        "server busy: too many open connections (MCP_MAX_CONNECTIONS); retry later",
        None,
    )
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {}\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        crate::tools::admission::RETRY_AFTER_SECONDS,
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
