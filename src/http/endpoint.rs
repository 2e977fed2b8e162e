//! The MCP endpoint (`POST /` and `POST /mcp`): reads the body within its
//! size and time limits, frames JSON-RPC (single message or legacy batch),
//! hands each message to the dispatcher and maps the outcome to HTTP.
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
use crate::mcp::jsonrpc::{self, INVALID_REQUEST, Outgoing, PARSE_ERROR};
use crate::tools::Notifier;

/// Most messages in one JSON-RPC batch: each may run a command, and the
/// replies are held until all are done.
const MAX_BATCH: usize = 32;

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Json,
    EventStream,
}

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
    let framing = match framing(request.headers()) {
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
    let event_stream_accepted = accepts_event_stream(request.headers());
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
    let message: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            let message = jsonrpc::parse_error_message(&body, &error);
            let body = jsonrpc::error(Value::Null, PARSE_ERROR, &message, None);
            let mut response = respond(StatusCode::BAD_REQUEST, without_null_id(body, era), framing);
            response.extensions_mut().insert(EarlyError(PARSE_ERROR, message));
            return response;
        }
    };
    if let Err(reason) = jsonrpc::check_shape(&message, config.limits.max_json_depth) {
        let body = jsonrpc::error(Value::Null, INVALID_REQUEST, &reason, None);
        let mut response = respond(StatusCode::BAD_REQUEST, without_null_id(body, era), framing);
        response.extensions_mut().insert(EarlyError(INVALID_REQUEST, reason));
        return response;
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
    if asks_for_progress(&message) && event_stream_accepted {
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
        Value::Array(batch) => handle_batch(server, batch, headers, framing, era).await,
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

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|item| item.split(';').next().unwrap_or_default().trim() == "text/event-stream"))
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
        let _ = progress_events.send(Ok(sse_event(&notification)));
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
                        let _ = events.send(Ok(sse_text(&reply.body.text())));
                    }
                    break;
                }
                _ = events.closed() => break,
                _ = cancelled.notified() => break,
                _ = keep_alive.tick() => {
                    let _ = events.send(Ok(Bytes::from_static(b": keep-alive\n\n")));
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

fn sse_event(message: &Value) -> Bytes {
    sse_text(&message.to_string())
}

fn sse_text(message: &str) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// A JSON-RPC batch: allowed in the revisions that defined it; answered
/// with the array of replies, or 202 when it held only notifications.
async fn handle_batch(
    server: &Server,
    batch: Vec<Value>,
    headers: &StandardHeaders,
    framing: Framing,
    era: Era,
) -> Response {
    if !era.allows_batches() {
        let message = format!(
            "Invalid Request: JSON-RPC batches are not supported in protocol version {}",
            headers.protocol_version.as_deref().unwrap_or_default()
        );
        let body = without_null_id(jsonrpc::error(Value::Null, INVALID_REQUEST, &message, None), era);
        return batch_error(respond(StatusCode::BAD_REQUEST, body, framing), message);
    }
    if batch.len() > MAX_BATCH {
        let message = format!("Invalid Request: a batch may hold at most {MAX_BATCH} messages");
        let body = jsonrpc::error(Value::Null, INVALID_REQUEST, &message, None);
        return batch_error(respond(StatusCode::BAD_REQUEST, body, framing), message);
    }
    if batch.is_empty() {
        let body = jsonrpc::error(Value::Null, INVALID_REQUEST, "Invalid Request: empty batch", None);
        return batch_error(respond(StatusCode::BAD_REQUEST, body, framing), "Invalid Request: empty batch".into());
    }
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

fn batch_error(mut response: Response, message: String) -> Response {
    response.extensions_mut().insert(EarlyError(INVALID_REQUEST, message));
    response
}

/// JSON unless only an event stream is acceptable; `None` if neither is.
fn framing(headers: &HeaderMap) -> Option<Framing> {
    let accept: Vec<String> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|item| item.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect();
    if accept.is_empty() || accept.iter().any(|t| matches!(t.as_str(), "application/json" | "application/*" | "*/*")) {
        return Some(Framing::Json);
    }
    if accept.iter().any(|t| matches!(t.as_str(), "text/event-stream" | "text/*")) {
        return Some(Framing::EventStream);
    }
    None
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

/// `"id": null` taken out where the era forbids it (`Era::forbids_null_id`).
fn without_null_id(mut body: Value, era: Era) -> Value {
    if era.forbids_null_id()
        && let Value::Object(map) = &mut body
        && map.get("id") == Some(&Value::Null)
    {
        map.remove("id");
    }
    body
}

fn respond(status: StatusCode, body: Value, framing: Framing) -> Response {
    respond_text(status, body.to_string(), framing)
}

fn respond_text(status: StatusCode, text: String, framing: Framing) -> Response {
    let (content_type, payload) = match framing {
        Framing::Json => ("application/json", text),
        Framing::EventStream => ("text/event-stream", format!("event: message\ndata: {text}\n\n")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Framing> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        framing(&headers)
    }

    #[test]
    fn missing_or_wildcard_accept_gets_json() {
        assert_eq!(framing(&HeaderMap::new()), Some(Framing::Json));
        assert_eq!(accept("*/*"), Some(Framing::Json));
        assert_eq!(accept("application/json, text/event-stream"), Some(Framing::Json));
        assert_eq!(accept("text/event-stream, application/json;q=0.9"), Some(Framing::Json));
    }

    #[test]
    fn event_stream_only_clients_get_sse_and_others_are_refused() {
        assert_eq!(accept("text/event-stream"), Some(Framing::EventStream));
        assert_eq!(accept("text/html"), None);
    }
}
