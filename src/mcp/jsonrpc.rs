//! JSON-RPC 2.0 framing: classifying incoming messages and building
//! responses. Transport-independent.

use serde_json::{Map, Value, json};

pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// Missing or wrong token (go-mcp-commander's code, kept for its clients).
pub(crate) const UNAUTHORIZED: i64 = -32001;
/// No command slot and no room in the queue: retry later.
pub(crate) const SERVER_BUSY: i64 = -32003;

/// A refusal of a request by the dispatcher; the era of the request says
/// which HTTP status carries it (`Era::error_status`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError { code, message: message.into(), data: None }
    }
}

/// One incoming JSON value, classified.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// Has `method` and `id`: must be answered.
    Request { id: Value, method: String, params: Value },
    /// Has `method`, no `id`: never answered.
    Notification { method: String },
    /// A response to a request we never send; accepted and ignored.
    Response,
    /// Not a valid JSON-RPC 2.0 message; `id` is echoed when readable.
    Invalid { id: Value, reason: String },
}

/// Classifies one message (an element of a batch, or a whole body).
pub(crate) fn classify(value: Value) -> Incoming {
    let Value::Object(mut object) = value else {
        return Incoming::Invalid { id: Value::Null, reason: "a JSON-RPC message must be an object".into() };
    };
    let id = object.remove("id");
    let valid_id = |id: &Value| matches!(id, Value::String(_)) || id.as_i64().is_some() || id.as_u64().is_some();
    let shown_id = match &id {
        Some(id) if valid_id(id) => id.clone(),
        _ => Value::Null,
    };
    if object.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Incoming::Invalid { id: shown_id, reason: "'jsonrpc' must be \"2.0\"".into() };
    }
    let is_response = !object.contains_key("method") && (object.contains_key("result") || object.contains_key("error"));
    if is_response {
        return Incoming::Response;
    }
    if let Some(id) = &id
        && !valid_id(id)
    {
        return Incoming::Invalid { id: Value::Null, reason: "'id' must be a string or an integer".into() };
    }
    let params = object.remove("params").unwrap_or(Value::Null);
    if !matches!(params, Value::Object(_) | Value::Array(_) | Value::Null) {
        return Incoming::Invalid { id: shown_id, reason: "'params' must be an object or an array".into() };
    }
    match (object.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Incoming::Request { id, method, params },
        (Some(Value::String(method)), None) => Incoming::Notification { method },
        (Some(_), _) => Incoming::Invalid { id: shown_id, reason: "'method' must be a string".into() },
        (None, _) => Incoming::Invalid { id: shown_id, reason: "a request needs 'method'".into() },
    }
}

/// The request id named by a `notifications/cancelled`, JSON-encoded (the
/// key both transports use to find the call).
pub(crate) fn cancelled_request(message: &Value) -> Option<String> {
    if message.get("method")?.as_str()? != "notifications/cancelled" || message.get("id").is_some() {
        return None;
    }
    message.get("params")?.get("requestId").map(Value::to_string)
}

/// The message of a -32700 answer to bytes that are not one JSON value;
/// text that is not UTF-8 (a command in Latin-1, say) is named as such.
pub(crate) fn parse_error_message(bytes: &[u8], error: &serde_json::Error) -> String {
    match std::str::from_utf8(bytes) {
        Err(invalid) => format!(
            "Parse error: the message is not valid UTF-8 (byte {} is not); JSON text, and every command and \
             argument in it, must be UTF-8",
            invalid.valid_up_to()
        ),
        Ok(_) => format!("Parse error: {error}"),
    }
}

/// A successful response.
pub(crate) fn result(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// Longest `method` name and string `id` accepted.
pub(crate) const MAX_NAME_BYTES: usize = 256;

/// Refuses a message (or batch) nested deeper than `max_depth` arrays and
/// objects, or whose `method` or string `id` is longer than
/// [`MAX_NAME_BYTES`]; the reason names the limit. Iterative, so depth
/// costs no stack.
pub(crate) fn check_shape(message: &Value, max_depth: usize) -> Result<(), String> {
    let mut stack = vec![(message, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(members) => Box::new(members.values()),
            _ => continue,
        };
        if depth > max_depth {
            return Err(format!(
                "Invalid Request: the message nests arrays and objects deeper than {max_depth} levels (MCP_MAX_JSON_DEPTH)"
            ));
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    let messages: Vec<&Value> = match message {
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    for message in messages {
        for member in ["method", "id"] {
            if let Some(Value::String(text)) = message.get(member)
                && text.len() > MAX_NAME_BYTES
            {
                return Err(format!(
                    "Invalid Request: '{member}' is {} bytes long, longer than the {MAX_NAME_BYTES} accepted",
                    text.len()
                ));
            }
        }
    }
    Ok(())
}

/// A response on its way out: a JSON value, or a result that never changes
/// while the daemon runs (`tools/list`), serialized once at start.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Value(Value),
    Cached { id: Value, result: std::sync::Arc<str> },
}

impl Outgoing {
    /// The serialized message.
    pub(crate) fn text(&self) -> String {
        match self {
            Outgoing::Value(value) => value.to_string(),
            Outgoing::Cached { id, result } => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#),
        }
    }

    /// The message as a value, for batches.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Outgoing::Value(value) => value,
            cached => serde_json::from_str(&cached.text()).unwrap_or(Value::Null),
        }
    }
}

/// An error response; `data` is omitted when `None`.
pub(crate) fn error(id: Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = Map::new();
    error.insert("code".into(), code.into());
    error.insert("message".into(), message.into());
    if let Some(data) = data {
        error.insert("data".into(), data);
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified_by_their_members() {
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":1,"method":"ping"})),
            Incoming::Request { method, .. } if method == "ping"
        ));
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","method":"notifications/initialized"})),
            Incoming::Notification { .. }
        ));
        assert!(matches!(classify(json!({"jsonrpc":"2.0","id":1,"result":{}})), Incoming::Response));
    }

    #[test]
    fn malformed_messages_are_invalid_with_a_reason() {
        for bad in [
            json!([1]),
            json!({"id":1,"method":"ping"}),
            json!({"jsonrpc":"1.0","id":1,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":{},"method":"ping"}),
            json!({"jsonrpc":"2.0","id":1,"method":7}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","id":1,"method":"x","params":3}),
            json!({"jsonrpc":"2.0","id":1.5,"method":"ping"}),
        ] {
            assert!(matches!(classify(bad.clone()), Incoming::Invalid { .. }), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_and_long_names_are_refused_with_the_limit() {
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        let message = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":deep}});
        assert!(check_shape(&message, 32).unwrap_err().contains("MCP_MAX_JSON_DEPTH"));
        assert!(check_shape(&message, 64).is_ok());
        let long = json!({"jsonrpc":"2.0","id":1,"method":"x".repeat(300)});
        assert!(check_shape(&long, 32).unwrap_err().contains("'method' is 300 bytes"));
        let batch = json!([{"jsonrpc":"2.0","id":"y".repeat(257),"method":"ping"}]);
        assert!(check_shape(&batch, 32).unwrap_err().contains("'id'"));
        assert!(check_shape(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}), 2).is_ok());
    }

    #[test]
    fn the_id_of_an_invalid_request_is_echoed_when_usable() {
        let Incoming::Invalid { id, .. } = classify(json!({"jsonrpc":"1.0","id":"a","method":"ping"})) else {
            panic!()
        };
        assert_eq!(id, json!("a"));
    }
}
