//! The MCP dispatcher: turns one JSON-RPC message into at most one
//! response, for either protocol era. Transports (HTTP, stdio) own framing
//! and status codes; this module owns methods, results and error codes.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::era::{Era, LEGACY_VERSIONS, META_SERVER_INFO, RpcError, SUPPORTED_VERSIONS, StandardHeaders, check_modern};
use super::jsonrpc::{self, INVALID_PARAMS, INVALID_REQUEST, Incoming, METHOD_NOT_FOUND, Outgoing, SERVER_BUSY};
use crate::audit::Caller;
use crate::tools::admission::RETRY_AFTER_SECONDS;
use crate::tools::{self, CallError, Notifier, Progress, ToolContext};

/// How long clients may cache `tools/list` and `server/discover`: the tool
/// set never changes while a daemon runs.
const LIST_TTL_MS: u64 = 300_000;

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
    /// The whole `tools/list` result of each era, serialized once: it is
    /// the most frequent request of some clients.
    legacy_tool_list: Arc<str>,
    modern_tool_list: Arc<str>,
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
        let mut server = Server {
            legacy_tool_list: json!({ "tools": tool_list }).to_string().into(),
            modern_tool_list: Arc::from(""),
            tool_list,
            tools,
            server_info: json!({ "name": "mcp-commander", "title": "mcp-commander", "version": env!("CARGO_PKG_VERSION") }),
        };
        let modern = json!({ "tools": server.tool_list, "ttlMs": LIST_TTL_MS, "cacheScope": "private" });
        server.modern_tool_list = server.decorate_modern(modern).to_string().into();
        server
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
        let outcome = match &era {
            Era::Legacy { .. } => self.legacy(&method, &params, notify, caller).await,
            Era::Modern { .. } => match check_modern(headers, &method, &params) {
                Ok(()) => self.modern(&method, &params, notify, caller).await.map(|answer| match answer {
                    Answer::Value(result) => Answer::Value(self.decorate_modern(result)),
                    cached => cached,
                }),
                Err(error) => Err(error),
            },
        };
        Some(match outcome {
            Ok(answer) => {
                self.tools.metrics.request(&method, 200);
                let body = match answer {
                    Answer::Value(result) => Outgoing::Value(jsonrpc::result(id, result)),
                    Answer::Cached(result) => Outgoing::Cached { id, result },
                };
                Reply { body, http_status: 200 }
            }
            Err(error) => {
                self.tools.metrics.request(&method, error.http_status);
                self.protocol_error(caller, Some(&method), error.code, &error.message, error.http_status).await;
                Reply {
                    body: Outgoing::Value(jsonrpc::error(id, error.code, &error.message, error.data)),
                    http_status: error.http_status,
                }
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

    /// 2024-11-05 to 2025-11-25: `initialize` optional, no session.
    /// JSON-RPC errors travel with HTTP 200 in this era (SDK clients drop
    /// the body of a non-2xx answer).
    async fn legacy(
        &self,
        method: &str,
        params: &Value,
        notify: Option<Notifier>,
        caller: &Caller,
    ) -> Result<Answer, RpcError> {
        match method {
            "initialize" => Ok(Answer::Value(self.initialize(params))),
            "ping" => Ok(Answer::Value(json!({}))),
            "tools/list" => Ok(Answer::Cached(self.legacy_tool_list.clone())),
            "tools/call" => self.call_tool(params, 200, notify, caller).await.map(Answer::Value),
            "logging/setLevel" => match params.get("level").and_then(Value::as_str) {
                Some(level) if LOG_LEVELS.contains(&level) => Ok(Answer::Value(json!({}))),
                _ => Err(RpcError::new(
                    INVALID_PARAMS,
                    format!("Invalid params: 'level' must be one of {}", LOG_LEVELS.join(", ")),
                    200,
                )),
            },
            _ => Err(RpcError::new(METHOD_NOT_FOUND, format!("Method not found: {method}"), 200)),
        }
    }

    /// 2026-07-28: stateless, `server/discover` instead of `initialize`;
    /// an unknown method is HTTP 404.
    async fn modern(
        &self,
        method: &str,
        params: &Value,
        notify: Option<Notifier>,
        caller: &Caller,
    ) -> Result<Answer, RpcError> {
        match method {
            "server/discover" => Ok(Answer::Value(json!({
                "supportedVersions": SUPPORTED_VERSIONS,
                "capabilities": { "tools": {} },
                "instructions": INSTRUCTIONS,
                "ttlMs": LIST_TTL_MS,
                "cacheScope": "private",
            }))),
            "tools/list" => Ok(Answer::Cached(self.modern_tool_list.clone())),
            "tools/call" => self.call_tool(params, 400, notify, caller).await.map(Answer::Value),
            _ => Err(RpcError::new(METHOD_NOT_FOUND, format!("Method not found: {method}"), 404)),
        }
    }

    /// The names of the tools offered, for error messages.
    fn tool_names(&self) -> String {
        let names: Vec<&str> =
            self.tool_list.as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
        names.join(", ")
    }

    /// Every 2026-07-28 result says it is complete and who answered.
    fn decorate_modern(&self, mut result: Value) -> Value {
        if let Value::Object(map) = &mut result {
            map.insert("resultType".into(), "complete".into());
            let meta = map.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(meta) = meta {
                meta.insert(META_SERVER_INFO.into(), self.server_info.clone());
            }
        }
        result
    }

    /// Echoes a requested legacy revision, else offers the newest legacy
    /// one (never 2026-07-28, which has no `initialize`).
    fn initialize(&self, params: &Value) -> Value {
        let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or_default();
        let version = if LEGACY_VERSIONS.contains(&requested) { requested } else { LEGACY_VERSIONS[0] };
        json!({
            "protocolVersion": version,
            "capabilities": { "tools": {}, "logging": {} },
            "serverInfo": self.server_info,
            "instructions": INSTRUCTIONS,
        })
    }

    async fn call_tool(
        &self,
        params: &Value,
        invalid_status: u16,
        notify: Option<Notifier>,
        caller: &Caller,
    ) -> Result<Value, RpcError> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(RpcError::new(
                INVALID_PARAMS,
                "Invalid params: tools/call needs 'name' (a string)",
                invalid_status,
            ));
        };
        let arguments = params.get("arguments").unwrap_or(&Value::Null);
        if !matches!(arguments, Value::Object(_) | Value::Null) {
            return Err(RpcError::new(INVALID_PARAMS, "Invalid params: 'arguments' must be an object", invalid_status));
        }
        let token =
            params.get("_meta").and_then(|meta| meta.get("progressToken")).filter(|t| t.is_string() || t.is_i64());
        let progress = match (token, notify) {
            (Some(token), Some(notify)) => Some(Progress { token: token.clone(), notify }),
            _ => None,
        };
        tools::call(&self.tools, name, arguments, progress, caller).await.map_err(|error| match error {
            CallError::UnknownTool(unknown) => RpcError::new(
                INVALID_PARAMS,
                format!("Unknown tool: '{unknown}'. Tools: {}", self.tool_names()),
                invalid_status,
            ),
            // 503 in the era whose errors carry HTTP statuses; legacy
            // clients read JSON-RPC errors only from a 200.
            CallError::Busy(busy) => RpcError {
                code: SERVER_BUSY,
                message: busy.0,
                data: Some(json!({ "retryAfterSeconds": RETRY_AFTER_SECONDS })),
                http_status: if invalid_status == 400 { 503 } else { 200 },
            },
        })
    }
}
