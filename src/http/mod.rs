//! The HTTP front end: listener, connection limits, routes, and graceful
//! shutdown.
//!
//! Routes: `POST /` and `POST /mcp` (behind the guard), any other method
//! there → 405 with `Allow: POST`; `/health` without auth; `GET /metrics`
//! behind the guard (or on a listener of its own, `MCP_METRICS`). Every
//! response carries the request's id in `X-Request-Id`, the id its audit
//! record holds. Each connection
//! is served by hyper with a header-read timeout (also the keep-alive idle
//! limit) and a header size cap. When the shutdown future it is given
//! resolves (SIGTERM or SIGINT), the listener closes, in-flight calls get
//! the grace period, then their commands are killed (`crate::shutdown`).

mod cancel;
mod connection;
mod endpoint;
mod guard;
mod health;
pub(crate) mod healthcheck;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use tokio::net::TcpListener;

use crate::config::audit::MetricsPlace;
use crate::logging::ACCESS_TARGET;
use crate::mcp::dispatch::Server;

/// The peer of a connection, attached to each of its requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// The id of a request: in its audit record and its `X-Request-Id`.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

#[cfg(fuzzing)]
pub(crate) use connection::Connections;

/// Builds the router for a server listening on `port`.
pub(crate) fn router(server: Arc<Server>, port: u16) -> Router {
    let guard_state = Arc::new(guard::GuardState::new(server.tools(), port));
    let mcp = post(endpoint::post).fallback(method_not_allowed);
    let mut protected = Router::new()
        .route("/", mcp.clone())
        .route("/mcp", mcp)
        .layer(Extension(Arc::new(cancel::CancelRegistry::default())));
    if server.tools().config.metrics == MetricsPlace::Main {
        protected = protected.route("/metrics", get(metrics));
    }
    let protected =
        protected.layer(middleware::from_fn_with_state(guard_state, guard::guard)).with_state(server.clone());
    Router::new()
        .route("/health", any(health::health))
        .with_state(server)
        .merge(protected)
        .fallback(not_found)
        .layer(middleware::from_fn(access_log))
}

/// Serves HTTP until `shutdown` resolves (with the name of what asked for
/// it), then drains: the listener closes, calls in flight get the grace
/// period, then their commands are killed.
pub(crate) async fn serve(server: Arc<Server>, shutdown: impl Future<Output = &'static str>) -> Result<(), String> {
    let config = server.tools().config.clone();
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| format!("cannot listen on {} (MCP_HOST/MCP_PORT): {error}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, auth = !config.principals.is_empty(), principals = config.principals.len(), "mcp-commander listening");
    let app = router(server.clone(), local.port());
    if let MetricsPlace::Listen(address) = config.metrics {
        let metrics_listener = TcpListener::bind(address)
            .await
            .map_err(|error| format!("cannot listen on {address} for metrics (MCP_METRICS): {error}"))?;
        tracing::info!(%address, "metrics listening");
        let metrics_app = Router::new().route("/metrics", get(metrics)).with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(metrics_listener, metrics_app).await;
        });
    }
    let connections = connection::Connections::new(server.clone(), app);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            signal = &mut shutdown => {
                tracing::info!(signal, "shutting down: no new connections");
                break;
            }
        };
        let _ = stream.set_nodelay(true);
        connections.accept(stream, peer);
    }
    drop(listener);
    crate::shutdown::drain(connections.close(), server.tools().runner.live_groups(), config.shutdown_grace).await;
    Ok(())
}

async fn method_not_allowed() -> Response {
    let mut response = endpoint::plain_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed: this stateless server accepts only POST on its MCP endpoint (no SSE stream, no sessions)",
    );
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn not_found() -> Response {
    endpoint::plain_error(
        StatusCode::NOT_FOUND,
        "Not Found: the MCP endpoint is POST / or POST /mcp; health is GET /health",
    )
}

/// The Prometheus text exposition.
async fn metrics(State(server): State<Arc<Server>>) -> Response {
    let mut response = server.tools().metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// Gives each request its id (returned as `X-Request-Id`), and writes one
/// line per request at MCP_LOG_LEVEL=access (or debug).
async fn access_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = crate::audit::request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let logged = tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO);
    let method = request.method().clone();
    let path = if logged { request.uri().path().to_string() } else { String::new() };
    let peer = request.extensions().get::<Peer>().map(|p| p.0);
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if !logged {
        return response;
    }
    let peer = peer.map(|p| p.to_string()).unwrap_or_default();
    tracing::info!(
        target: ACCESS_TARGET,
        %peer,
        %method,
        %path,
        request_id = %id,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
