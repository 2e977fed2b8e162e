//! The MCP dispatcher: turns one JSON-RPC message into at most one
//! response, in the protocol era of the request. Transports (HTTP, stdio)
//! own framing; this module carries out the methods, and the era
//! (`super::era`) says which it serves, how results look and which HTTP
//! status an error has.

use std::sync::Arc;

use serde_json::{Value, json};

use super::era::{self, Era, Method, StandardHeaders};
use super::jsonrpc::{
    self, INVALID_PARAMS, INVALID_REQUEST, Incoming, METHOD_NOT_FOUND, Outgoing, RpcError, SERVER_BUSY,
};
use crate::audit::Caller;
use crate::tools::admission::RETRY_AFTER_SECONDS;
use crate::tools::{self, CallError, Notifier, Progress, ToolContext};

/// The syslog levels of `logging/setLevel`.
const LOG_LEVELS: &[&str] = &["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

const INSTRUCTIONS: &str = "Runs shell commands on this host. Call get_shell_info for the shell, timeouts and \
    working directory, and list_allowed_commands / list_blocked_commands for the policy; a refused command's \
    result says which rule refused it.";

/// One answered message: the JSON-RPC response and the HTTP status that
/// goes with it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) body: Outgoing,
    pub(crate) http_status: u16,
}

/// The MCP server, shared by every connection. Invariant: immutable after
/// construction; per-request state lives on the stack.
#[derive(Debug)]
pub(crate) struct Server {
    tools: ToolContext,
    /// `tools/list`'s `tools` array, built once.
    tool_list: Value,
    /// The whole `tools/list` result of each era (in the order of
    /// `Era::ALL`), serialized once: it is the most frequent request of
    /// some clients.
    tool_lists: [Arc<str>; Era::ALL.len()],
    server_info: Value,
}

/// What a method returns: a result to serialize, or one serialized at start.
enum Answer {
    Value(Value),
    Cached(Arc<str>),
}

impl Server {
    pub(crate) fn new(tools: ToolContext) -> Server {
        let tool_list = tools::declarations(&tools);
        let server_info =
            json!({ "name": "mcp-commander", "title": "mcp-commander", "version": env!("CARGO_PKG_VERSION") });
        let tool_lists = Era::ALL.map(|era| era.decorate(era.tool_list(&tool_list), &server_info).to_string().into());
        Server { tool_lists, tool_list, tools, server_info }
    }

    pub(crate) fn tools(&self) -> &ToolContext {
        &self.tools
    }

    /// Handles one message; `None` for notifications and responses, which
    /// are never answered.
    pub(crate) async fn handle(&self, message: Value, headers: &StandardHeaders) -> Option<Reply> {
        self.handle_with(message, headers, None).await
    }

    /// As [`Server::handle`]; a `tools/call` that carries
    /// `_meta.progressToken` also reports progress through `notify`.
    pub(crate) async fn handle_with(
        &self,
        message: Value,
        headers: &StandardHeaders,
        notify: Option<Notifier>,
    ) -> Option<Reply> {
        let (id, method, params) = match jsonrpc::classify(message) {
            Incoming::Request { id, method, params } => (id, method, params),
            Incoming::Notification { method, .. } => {
                tracing::debug!(%method, "notification");
                return None;
            }
            Incoming::Response => return None,
            Incoming::Invalid { id, reason } => {
                let message = format!("Invalid Request: {reason}");
                self.protocol_error(&headers.caller, None, INVALID_REQUEST, &message, 400).await;
                let body = Outgoing::Value(jsonrpc::error(id, INVALID_REQUEST, &message, None));
                return Some(Reply { body, http_status: 400 });
            }
        };
        let era = Era::detect(headers.protocol_version.as_deref(), &params);
        let caller = &headers.caller;
        let outcome = match era.check(headers, &method, &params) {
            Ok(()) => self.answer(era, &method, &params, notify, caller).await,
            Err(error) => Err(error),
        };
        Some(match outcome {
            Ok(answer) => {
                self.tools.metrics.request(&method, 200);
                let body = match answer {
                    Answer::Value(result) => {
                        Outgoing::Value(jsonrpc::result(id, era.decorate(result, &self.server_info)))
                    }
                    Answer::Cached(result) => Outgoing::Cached { id, result },
                };
                Reply { body, http_status: 200 }
            }
            Err(error) => {
                let http_status = era.error_status(error.code);
                self.tools.metrics.request(&method, http_status);
                self.protocol_error(caller, Some(&method), error.code, &error.message, http_status).await;
                Reply { body: Outgoing::Value(jsonrpc::error(id, error.code, &error.message, error.data)), http_status }
            }
        })
    }

    /// Records a request answered with a JSON-RPC error.
    pub(crate) async fn protocol_error(
        &self,
        caller: &Caller,
        method: Option<&str>,
        code: i64,
        message: &str,
        status: u16,
    ) {
        let mut record = crate::audit::event("protocol_error", caller);
        record.insert("method".into(), method.map_or(Value::Null, Value::from));
        record.insert("code".into(), code.into());
        record.insert("message".into(), message.chars().take(500).collect::<String>().into());
        record.insert("http_status".into(), status.into());
        self.tools.audit.emit(record).await;
    }

    /// Carries out `method` as `era` names it.
    async fn answer(
        &self,
        era: Era,
        method: &str,
        params: &Value,
        notify: Option<Notifier>,
        caller: &Caller,
    ) -> Result<Answer, RpcError> {
        let Some(operation) = era.method(method) else {
            return Err(RpcError::new(METHOD_NOT_FOUND, format!("Method not found: {method}")));
        };
        match operation {
            Method::Initialize => Ok(Answer::Value(self.initialize(params))),
            Method::Ping => Ok(Answer::Value(json!({}))),
            Method::Discover => Ok(Answer::Value(era.discover(INSTRUCTIONS))),
            Method::ListTools => {
                let index = Era::ALL.iter().position(|e| *e == era).unwrap_or_default();
                Ok(Answer::Cached(self.tool_lists[index].clone()))
            }
            Method::CallTool => self.call_tool(params, notify, caller).await.map(Answer::Value),
            Method::SetLogLevel => match params.get("level").and_then(Value::as_str) {
                Some(level) if LOG_LEVELS.contains(&level) => Ok(Answer::Value(json!({}))),
                _ => Err(RpcError::new(
                    INVALID_PARAMS,
                    format!("Invalid params: 'level' must be one of {}", LOG_LEVELS.join(", ")),
                )),
            },
        }
    }

    /// The names of the tools offered, for error messages.
    fn tool_names(&self) -> String {
        let names: Vec<&str> =
            self.tool_list.as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
        names.join(", ")
    }

    /// Echoes a requested revision that has `initialize`, else offers the
    /// newest one (`era::initialize_version`).
    fn initialize(&self, params: &Value) -> Value {
        let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or_default();
        let version = era::initialize_version(requested);
        json!({
            "protocolVersion": version,
            "capabilities": { "tools": {}, "logging": {} },
            "serverInfo": self.server_info,
            "instructions": INSTRUCTIONS,
        })
    }

    async fn call_tool(&self, params: &Value, notify: Option<Notifier>, caller: &Caller) -> Result<Value, RpcError> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(RpcError::new(INVALID_PARAMS, "Invalid params: tools/call needs 'name' (a string)"));
        };
        let arguments = params.get("arguments").unwrap_or(&Value::Null);
        if !matches!(arguments, Value::Object(_) | Value::Null) {
            return Err(RpcError::new(INVALID_PARAMS, "Invalid params: 'arguments' must be an object"));
        }
        let token =
            params.get("_meta").and_then(|meta| meta.get("progressToken")).filter(|t| t.is_string() || t.is_i64());
        let progress = match (token, notify) {
            (Some(token), Some(notify)) => Some(Progress { token: token.clone(), notify }),
            _ => None,
        };
        tools::call(&self.tools, name, arguments, progress, caller).await.map_err(|error| match error {
            CallError::UnknownTool(unknown) => {
                RpcError::new(INVALID_PARAMS, format!("Unknown tool: '{unknown}'. Tools: {}", self.tool_names()))
            }
            CallError::Busy(busy) => RpcError {
                code: SERVER_BUSY,
                message: busy.0,
                data: Some(json!({ "retryAfterSeconds": RETRY_AFTER_SECONDS })),
            },
        })
    }
}
