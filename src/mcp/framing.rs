//! Framing shared by both transports: bytes to one JSON-RPC message or
//! batch (parse, then shape), the limits of a batch, and what is refused
//! before the dispatcher sees it; and for HTTP the `Accept` negotiation and
//! the format of a server-sent event.
//!
//! `mcp::stdio` reads a line, `http::endpoint` a body; both hand the bytes
//! to [`read`] and a batch to [`check_batch`], and answer a [`Refusal`] with
//! [`Refusal::body`].

use serde_json::Value;

use super::era::Era;
use super::jsonrpc::{self, INVALID_REQUEST, PARSE_ERROR};

/// Most messages in one JSON-RPC batch: each may run a command, and the
/// replies are held until all are done.
pub(crate) const MAX_BATCH: usize = 32;

/// The comment an event stream sends through long silences.
pub(crate) const SSE_KEEP_ALIVE: &str = ": keep-alive\n\n";

/// A message refused before dispatch: answered with a JSON-RPC error
/// without an id, and recorded as a protocol error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// [`PARSE_ERROR`] or [`INVALID_REQUEST`].
    pub(crate) code: i64,
    pub(crate) message: String,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Refusal {
        Refusal { code: INVALID_REQUEST, message: message.into() }
    }

    /// The JSON-RPC error answering it, in the request's era.
    pub(crate) fn body(&self, era: Era) -> Value {
        without_null_id(jsonrpc::error(Value::Null, self.code, &self.message, None), era)
    }
}

/// One message or batch from `bytes`: a -32700 for what is not one JSON
/// value, a -32600 for a value nested deeper than `max_depth` or with an
/// overlong method or id (`jsonrpc::check_shape`).
pub(crate) fn read(bytes: &[u8], max_depth: usize) -> Result<Value, Refusal> {
    let message: Value = serde_json::from_slice(bytes)
        .map_err(|error| Refusal { code: PARSE_ERROR, message: jsonrpc::parse_error_message(bytes, &error) })?;
    jsonrpc::check_shape(&message, max_depth).map_err(Refusal::invalid)?;
    Ok(message)
}

/// A batch of `len` messages under the version header `version` (absent on
/// stdio): refused where its era has no batches, beyond [`MAX_BATCH`], or
/// empty.
pub(crate) fn check_batch(len: usize, version: Option<&str>) -> Result<(), Refusal> {
    if !Era::of_header(version).allows_batches() {
        return Err(Refusal::invalid(format!(
            "Invalid Request: JSON-RPC batches are not supported in protocol version {}",
            version.unwrap_or_default()
        )));
    }
    if len > MAX_BATCH {
        return Err(Refusal::invalid(format!("Invalid Request: a batch may hold at most {MAX_BATCH} messages")));
    }
    if len == 0 {
        return Err(Refusal::invalid("Invalid Request: empty batch"));
    }
    Ok(())
}

/// `body` without `"id": null` where the era forbids it
/// (`Era::forbids_null_id`).
pub(crate) fn without_null_id(mut body: Value, era: Era) -> Value {
    if era.forbids_null_id()
        && let Value::Object(map) = &mut body
        && map.get("id") == Some(&Value::Null)
    {
        map.remove("id");
    }
    body
}

/// One serialized message as a server-sent event.
pub(crate) fn sse_event(message: &str) -> String {
    format!("event: message\ndata: {message}\n\n")
}

/// How an answer is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Json,
    EventStream,
}

/// The media ranges of a request's `Accept` headers, parameters dropped.
#[derive(Debug, Default)]
pub(crate) struct Accept(Vec<String>);

impl Accept {
    /// From the values of every `Accept` header.
    pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Accept {
        Accept(
            values
                .into_iter()
                .flat_map(|value| value.split(','))
                .map(|item| item.split(';').next().unwrap_or_default().trim().to_string())
                .collect(),
        )
    }

    /// JSON unless only an event stream is acceptable; `None` if neither
    /// is. No `Accept`, or `*/*`, gets JSON, so plain curl works.
    pub(crate) fn framing(&self) -> Option<Framing> {
        let accept: Vec<String> =
            self.0.iter().map(|item| item.to_ascii_lowercase()).filter(|item| !item.is_empty()).collect();
        if accept.is_empty()
            || accept.iter().any(|t| matches!(t.as_str(), "application/json" | "application/*" | "*/*"))
        {
            return Some(Framing::Json);
        }
        if accept.iter().any(|t| matches!(t.as_str(), "text/event-stream" | "text/*")) {
            return Some(Framing::EventStream);
        }
        None
    }

    /// Whether `text/event-stream` is listed, whatever else is: a call
    /// asking for progress is then answered with a stream.
    pub(crate) fn lists_event_stream(&self) -> bool {
        self.0.iter().any(|item| item == "text/event-stream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Framing> {
        Accept::parse([value]).framing()
    }

    #[test]
    fn missing_or_wildcard_accept_gets_json() {
        assert_eq!(Accept::parse([]).framing(), Some(Framing::Json));
        assert_eq!(accept("*/*"), Some(Framing::Json));
        assert_eq!(accept("application/json, text/event-stream"), Some(Framing::Json));
        assert_eq!(accept("text/event-stream, application/json;q=0.9"), Some(Framing::Json));
    }

    #[test]
    fn event_stream_only_clients_get_sse_and_others_are_refused() {
        assert_eq!(accept("text/event-stream"), Some(Framing::EventStream));
        assert_eq!(accept("text/html"), None);
        assert!(Accept::parse(["application/json", "text/event-stream;q=0.5"]).lists_event_stream());
        assert!(!Accept::parse(["application/json"]).lists_event_stream());
    }

    #[test]
    fn bytes_are_parsed_then_shaped() {
        assert_eq!(read(b"{", 8).unwrap_err().code, PARSE_ERROR);
        assert_eq!(read(b"[[[[1]]]]", 2).unwrap_err().code, INVALID_REQUEST);
        assert!(read(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, 8).is_ok());
    }

    #[test]
    fn batches_are_refused_out_of_their_era_beyond_the_cap_and_empty() {
        assert!(check_batch(1, None).is_ok());
        assert!(check_batch(MAX_BATCH, Some("2025-03-26")).is_ok());
        let too_many = check_batch(MAX_BATCH + 1, None).unwrap_err();
        assert_eq!(too_many.message, "Invalid Request: a batch may hold at most 32 messages");
        assert_eq!(check_batch(0, None).unwrap_err().message, "Invalid Request: empty batch");
        let modern = check_batch(1, Some("2026-07-28")).unwrap_err();
        assert!(modern.message.ends_with("protocol version 2026-07-28"));
        assert!(modern.body(Era::Modern).get("id").is_none());
        assert_eq!(too_many.body(Era::LegacyBatching)["id"], Value::Null);
    }
}
