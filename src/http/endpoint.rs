//! The MCP endpoint (`POST /` and `POST /mcp`): reads the body within its
//! size and time limits, frames JSON-RPC (single message or legacy batch,
//! with `mcp::framing`, as stdio does), hands each message to the
//! dispatcher and maps the outcome to HTTP.
//!
//! Answers are JSON unless the client accepts only `text/event-stream`, in
//! which case the same message is sent as one SSE event. A request without
//! `Accept`, or with `*/*`, gets JSON, so plain curl works.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::Peer;
use super::cancel::{CancelRegistry, Cancelled, Registration};
use crate::audit::Caller;
use crate::mcp::dispatch::{Reply, Server};
use crate::mcp::era::{Era, StandardHeaders};
use crate::mcp::framing::{self, Accept, Framing, Refusal, SSE_KEEP_ALIVE, sse_event, without_null_id};
use crate::mcp::jsonrpc::{self, INVALID_REQUEST, Outgoing};
use crate::tools::Notifier;

/// An error answered before dispatch (406, 408, 413, -32700, batches),
/// marked so that [`post`] records it.
#[derive(Debug, Clone)]
struct EarlyError(i64, String);

/// `POST /` and `POST /mcp`: answers, and records the requests refused
/// before they reached the dispatcher.
pub(crate) async fn post(
    State(server): State<Arc<Server>>,
    Extension(cancels): Extension<Arc<CancelRegistry>>,
    request: Request,
) -> Response {
    let caller = request.extensions().get::<Caller>().cloned().unwrap_or_default();
    let response = answer_post(server.clone(), cancels, request).await;
    if let Some(EarlyError(code, message)) = response.extensions().get::<EarlyError>() {
        server.protocol_error(&caller, None, *code, message, response.status().as_u16()).await;
    }
    response
}

async fn answer_post(server: Arc<Server>, cancels: Arc<CancelRegistry>, request: Request) -> Response {
    let peer = request.extensions().get::<Peer>().map(|peer| peer.0.ip());
    let config = &server.tools().config;
    let accept = Accept::parse(request.headers().get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()));
    let framing = match accept.framing() {
        Some(framing) => framing,
        None => {
            return plain_error(
                StatusCode::NOT_ACCEPTABLE,
                "Not Acceptable: the client must accept application/json or text/event-stream",
            );
        }
    };
    let mut headers = standard_headers(request.headers());
    headers.caller = request.extensions().get::<Caller>().cloned().unwrap_or_default();
    let era = Era::of_header(headers.protocol_version.as_deref());
    if let Some(length) =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && length > config.max_body_bytes as u64
    {
        return too_large(config.max_body_bytes);
    }
    let body = match tokio::time::timeout(
        config.body_timeout,
        axum::body::to_bytes(request.into_body(), config.max_body_bytes),
    )
    .await
    {
        Err(_) => {
            return plain_error(
                StatusCode::REQUEST_TIMEOUT,
                "Request Timeout: the request body was not received in time",
            );
        }
        Ok(Err(error)) if is_length_limit(&error) => return too_large(config.max_body_bytes),
        Ok(Err(_)) => {
            return plain_error(StatusCode::BAD_REQUEST, "Bad Request: the request body could not be read");
        }
        Ok(Ok(body)) => body,
    };
    let message = match framing::read(&body, config.limits.max_json_depth) {
        Ok(message) => message,
        Err(refusal) => return refuse(refusal, era, framing),
    };
    if let Value::Array(batch) = &message
        && let Err(refusal) = framing::check_batch(batch.len(), headers.protocol_version.as_deref())
    {
        return refuse(refusal, era, framing);
    }
    if let (Some(peer), Some(id)) = (peer, jsonrpc::cancelled_request(&message)) {
        let cancelled = cancels.cancel(peer, id.clone());
        tracing::info!(request = %id, cancelled, "notifications/cancelled");
    }
    // Only a tool call runs long enough to be cancelled.
    let is_call = message.get("method").and_then(Value::as_str) == Some("tools/call");
    let registration = match (peer, message.get("id").filter(|_| is_call)) {
        (Some(peer), Some(id)) => Some(cancels.register(peer, id.to_string())),
        _ => None,
    };
    if asks_for_progress(&message) && accept.lists_event_stream() {
        return stream_reply(server, message, headers, registration);
    }
    if let Some(registration) = registration {
        let cancelled = registration.cancelled.clone();
        return tokio::select! {
            response = answer(&server, message, &headers, framing, era) => response,
            _ = cancelled.notified() => cancelled_response(),
        };
    }
    answer(&server, message, &headers, framing, era).await
}

/// The JSON (or single-event) answer to a message or batch.
async fn answer(server: &Server, message: Value, headers: &StandardHeaders, framing: Framing, era: Era) -> Response {
    match message {
        Value::Array(batch) => handle_batch(server, batch, headers, framing).await,
        single => match server.handle(single, headers).await {
            None => StatusCode::ACCEPTED.into_response(),
            Some(Reply { body: Outgoing::Value(body), http_status }) => {
                let status = StatusCode::from_u16(http_status).unwrap_or(StatusCode::OK);
                // An error that says when to retry says it in the header too.
                let retry_after = body.pointer("/error/data/retryAfterSeconds").and_then(Value::as_u64);
                let mut response = respond(status, without_null_id(body, era), framing);
                if let Some(seconds) = retry_after {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
            Some(Reply { body, http_status }) => {
                let status = StatusCode::from_u16(http_status).unwrap_or(StatusCode::OK);
                respond_text(status, body.text(), framing)
            }
        },
    }
}

/// A response the server loop turns into a closed connection.
fn cancelled_response() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(Cancelled);
    response
}

/// A `tools/call` whose `_meta` carries a progress token.
fn asks_for_progress(message: &Value) -> bool {
    message.get("method").and_then(Value::as_str) == Some("tools/call")
        && message.get("params").and_then(|p| p.get("_meta")).and_then(|m| m.get("progressToken")).is_some()
}

/// Answers with an SSE stream: progress notifications as the command
/// writes output, a keep-alive comment through long silences, then the
/// result. If the client goes away, the call is dropped, which kills the
/// command's tree.
fn stream_reply(
    server: Arc<Server>,
    message: Value,
    headers: StandardHeaders,
    registration: Option<Registration>,
) -> Response {
    let (events, stream) = mpsc::unbounded_channel::<Result<Bytes, Infallible>>();
    let progress_events = events.clone();
    let notify: Notifier = Arc::new(move |notification: Value| {
        let _ = progress_events.send(Ok(Bytes::from(sse_event(&notification.to_string()))));
    });
    tokio::spawn(async move {
        let cancelled = registration.as_ref().map(|r| r.cancelled.clone()).unwrap_or_default();
        let call = server.handle_with(message, &headers, Some(notify));
        tokio::pin!(call);
        let period = server.tools().config.sse_keepalive;
        let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                reply = &mut call => {
                    if let Some(reply) = reply {
                        let _ = events.send(Ok(Bytes::from(sse_event(&reply.body.text()))));
                    }
                    break;
                }
                _ = events.closed() => break,
                _ = cancelled.notified() => break,
                _ = keep_alive.tick() => {
                    let _ = events.send(Ok(Bytes::from_static(SSE_KEEP_ALIVE.as_bytes())));
                }
            }
        }
    });
    let mut response = Body::from_stream(UnboundedReceiverStream::new(stream)).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A JSON-RPC batch, already within its limits (`framing::check_batch`):
/// answered with the array of replies, or 202 when it held only
/// notifications.
async fn handle_batch(server: &Server, batch: Vec<Value>, headers: &StandardHeaders, framing: Framing) -> Response {
    let mut replies = Vec::new();
    for message in batch {
        if let Some(reply) = server.handle(message, headers).await {
            replies.push(reply.body.into_value());
        }
    }
    if replies.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    respond(StatusCode::OK, Value::Array(replies), framing)
}

/// A message refused before dispatch: 400, recorded by [`post`].
fn refuse(refusal: Refusal, era: Era, framing: Framing) -> Response {
    let mut response = respond(StatusCode::BAD_REQUEST, refusal.body(era), framing);
    response.extensions_mut().insert(EarlyError(refusal.code, refusal.message));
    response
}

fn standard_headers(headers: &HeaderMap) -> StandardHeaders {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    StandardHeaders {
        present: true,
        protocol_version: text("mcp-protocol-version").map(|v| v.trim().to_string()),
        method: text("mcp-method"),
        name: text("mcp-name"),
        caller: Caller::default(),
    }
}

fn respond(status: StatusCode, body: Value, framing: Framing) -> Response {
    respond_text(status, body.to_string(), framing)
}

fn respond_text(status: StatusCode, text: String, framing: Framing) -> Response {
    let (content_type, payload) = match framing {
        Framing::Json => ("application/json", text),
        Framing::EventStream => ("text/event-stream", sse_event(&text)),
    };
    let mut response = (status, Body::from(Bytes::from(payload))).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if framing == Framing::EventStream {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    response
}

/// An error that precedes JSON-RPC framing, still shaped as JSON-RPC.
pub(crate) fn plain_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "jsonrpc": "2.0", "error": { "code": INVALID_REQUEST, "message": message } });
    let mut response = respond(status, body, Framing::Json);
    response.extensions_mut().insert(EarlyError(INVALID_REQUEST, message.to_string()));
    response
}

fn too_large(limit: usize) -> Response {
    plain_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("Payload Too Large: request bodies are limited to {limit} bytes (MCP_MAX_BODY_BYTES)"),
    )
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}
