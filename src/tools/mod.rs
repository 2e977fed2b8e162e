//! The tools: their declarations (`tools/list`) and their calls
//! (`tools/call`), independent of the transport and protocol era.
//!
//! Names and inputs are those of go-mcp-commander, so existing agents and
//! prompts keep working. A call's input errors are tool results with
//! `isError` (the model can read and fix them); only an unknown tool name
//! is a protocol error.
//!
//! Each tool is one file declaring a [`Tool`] (`pub(super) const TOOL`),
//! listed once in the registry below; `tools/list`, dispatch, the audit
//! record's `tool` and the metrics' `tool` label all come from that list.

pub(crate) mod admission;
mod background;
mod outcome;
mod record;
mod tool;

/// Declares each tool's module and lists its [`Tool`] in [`TOOLS`].
macro_rules! registry {
    ($($tool:ident),* $(,)?) => {
        $(mod $tool;)*
        /// Every tool, in `tools/list` order.
        const TOOLS: &[&Tool] = &[$(&$tool::TOOL),*];
    };
}

// The registry: a new tool is its own file and one name here.
registry![
    execute_command,
    list_allowed_commands,
    list_blocked_commands,
    get_shell_info,
    get_network_policy,
    start_command,
    read_command_output,
    list_commands,
    kill_command,
];

use std::sync::Arc;

use serde_json::{Value, json};

pub(crate) use self::outcome::Outcome;
use self::record::CallRecord;
use self::tool::{Call, Tool};
use crate::audit::Caller;
use crate::config::Config;
use crate::principals::Space;
use crate::runner::{JobTable, Runner};

/// What every tool may use. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct ToolContext {
    pub(crate) config: Arc<Config>,
    pub(crate) runner: Runner,
    /// Every principal's uid, workspace, policy and sandbox cell.
    pub(crate) spaces: Arc<crate::principals::Spaces>,
    /// Background commands, when the operator enabled them.
    pub(crate) jobs: Option<JobTable>,
    /// Where decisions are recorded.
    pub(crate) audit: Arc<crate::audit::Auditor>,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// Command slots and the queue for them.
    pub(crate) admission: Arc<admission::Admission>,
    /// The egress proxy, when egress is on.
    pub(crate) egress: Option<Arc<crate::egress::Egress>>,
}

/// Longest a policy decision may take. The third-party shell parser has
/// shown exponential backtracking on some malformed nestings (each known
/// one is refused before parsing); should another exist, the command is
/// refused at the deadline instead of holding the call.
const CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

impl ToolContext {
    /// Asks `space`'s policy about `command`, run in `cwd`, on a blocking
    /// thread and within [`CHECK_DEADLINE`].
    pub(crate) async fn check(
        &self,
        space: &Arc<Space>,
        command: &str,
        cwd: &std::path::Path,
    ) -> crate::policy::Decision {
        if is_flat(command) {
            return space.policy.check(command, space.scope(cwd));
        }
        let (space, command, cwd) = (space.clone(), command.to_string(), cwd.to_path_buf());
        // tokio panics when the system refuses it a new thread (the process
        // limit of the daemon's uid reached, which commands sharing that uid
        // can do): the call is refused instead of dropped.
        let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tokio::task::spawn_blocking(move || space.policy.check(&command, space.scope(&cwd)))
        }));
        let reason = match spawned {
            Err(_) => {
                tracing::error!("no thread for a policy check: the daemon's process limit is reached");
                "the daemon cannot start a thread to check this command: its uid has reached its process limit \
                 (RLIMIT_NPROC); retry once commands have ended"
                    .to_string()
            }
            Ok(check) => match tokio::time::timeout(CHECK_DEADLINE, check).await {
                Ok(Ok(decision)) => return decision,
                Ok(Err(_)) => "the policy check failed on this command".to_string(),
                Err(_) => {
                    tracing::error!("a policy check overran its deadline; the command was refused");
                    format!(
                        "the command could not be checked within {}s (its nesting makes the shell parser \
                         backtrack); simplify it",
                        CHECK_DEADLINE.as_secs()
                    )
                }
            },
        };
        crate::policy::Decision::Deny { rule: crate::policy::Rule::Input, command: String::new(), reason }
    }
}

impl ToolContext {
    /// Registers a call of `space` with the egress proxy, when it has
    /// egress, and sets its command's proxy variables in `env`; the tunnels
    /// end when the value returned is dropped.
    pub(crate) fn egress_for(
        &self,
        space: &Space,
        request_id: &str,
        env: &mut Vec<(String, String)>,
    ) -> Option<crate::egress::CallEgress> {
        let egress = self.egress.as_ref()?.register(&space.name, space.cell.0, request_id, &space.egress)?;
        egress.apply(env);
        Some(egress)
    }
}

/// A short command of words and plain punctuation only: no quotes,
/// brackets, expansions, redirections or escapes, so nothing nests and the
/// parser's time is linear. Such a command is judged on the calling thread
/// (a hand-off to a blocking thread would cost more than the decision).
fn is_flat(command: &str) -> bool {
    command.len() <= 256 && command.bytes().all(|b| b.is_ascii_alphanumeric() || b" _-./=,:@%+".contains(&b))
}

/// Delivers one JSON-RPC notification to the client of a call.
pub(crate) type Notifier = Arc<dyn Fn(Value) + Send + Sync>;

/// Where a call's progress notifications go, and the token they carry.
#[derive(Clone)]
pub(crate) struct Progress {
    pub(crate) token: Value,
    pub(crate) notify: Notifier,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").field("token", &self.token).finish_non_exhaustive()
    }
}

/// A call that gets a protocol error instead of a result.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The call named a tool this server does not offer.
    UnknownTool(String),
    /// No command slot was free, nor room in the queue.
    Busy(admission::Busy),
}

/// The `tools` array of a `tools/list` result, built once at start.
pub(crate) fn declarations(context: &ToolContext) -> Value {
    Value::Array(offered(context).map(|tool| (tool.declaration)()).collect())
}

/// The tools this daemon offers, in `tools/list` order.
fn offered(context: &ToolContext) -> impl Iterator<Item = &'static Tool> + '_ {
    TOOLS.iter().copied().filter(|tool| (tool.offered)(context))
}

/// Runs tool `name` with `arguments` for `caller` and returns a
/// `CallToolResult`; every call of an offered tool leaves an audit record.
pub(crate) async fn call(
    context: &ToolContext,
    name: &str,
    arguments: &Value,
    progress: Option<Progress>,
    caller: &Caller,
) -> Result<Value, CallError> {
    let Some(tool) = offered(context).find(|tool| tool.name == name) else {
        return Err(CallError::UnknownTool(name.to_string()));
    };
    let record = CallRecord::new(context, caller, tool, arguments);
    (tool.call)(Call { context, arguments, progress, caller, record }).await
}

/// A result carrying `structured` both as `structuredContent` and as one
/// text block holding the same JSON (for clients that read only text).
pub(crate) fn structured_result(structured: Value, is_error: bool) -> Value {
    let text = structured.to_string();
    json!({
        "content": [{ "type": "text", "text": text }],
        "structuredContent": structured,
        "isError": is_error,
    })
}

/// Annotations of a tool that only reads the daemon's configuration.
fn read_only_annotations(title: &str) -> Value {
    json!({
        "title": title,
        "readOnlyHint": true,
        "destructiveHint": false,
        "idempotentHint": true,
        "openWorldHint": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_declared_under_its_own_name_once() {
        let names: Vec<&str> = TOOLS.iter().map(|tool| tool.name).collect();
        for (index, tool) in TOOLS.iter().enumerate() {
            assert_eq!((tool.declaration)()["name"], tool.name);
            assert!(!names[..index].contains(&tool.name), "{} is listed twice", tool.name);
        }
    }
}
