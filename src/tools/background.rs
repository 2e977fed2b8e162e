//! What the background command tools share. They are offered only when
//! `MCP_BACKGROUND_COMMANDS` is on: `start_command` returns an id at once;
//! `read_command_output` reads from an offset or the tail; `list_commands`;
//! `kill_command`. Same input validation, policy and sandbox as
//! `execute_command`; a principal sees and kills only its own commands.

use serde_json::{Value, json};

use super::tool::{Call, Handled};
use super::{ToolContext, structured_result};
use crate::runner::{JobState, JobStatus, JobTable};
use crate::sandbox::Exit;

/// [`super::tool::Tool::offered`] of the background tools: with a job table.
pub(super) fn offered(context: &ToolContext) -> bool {
    context.jobs.is_some()
}

/// Answers `call` with what `answer` makes of the job table; a daemon
/// without one does not know the tool.
pub(super) fn with_jobs<'a>(call: Call<'a>, answer: impl FnOnce(&JobTable, &str) -> Value) -> Handled<'a> {
    let Some(jobs) = &call.context.jobs else {
        return Box::pin(std::future::ready(Err(call.unknown())));
    };
    let result = answer(jobs, call.record.principal());
    Box::pin(call.answer(result))
}

/// The input schema of a job's `id`.
pub(super) fn id_schema() -> Value {
    json!({ "type": "string", "description": "Id returned by start_command." })
}

/// A job as `list_commands` and `read_command_output` report it.
pub(super) fn describe(job: &JobStatus) -> Value {
    let mut value = json!({
        "id": job.id,
        "command": job.command,
        "running": job.state == JobState::Running,
        "runtime_ms": job.runtime.as_millis() as u64,
        "output_bytes": job.output_bytes,
    });
    match &job.state {
        JobState::Running => {}
        JobState::Exited { exit, timed_out } => {
            value["timed_out"] = json!(timed_out);
            match exit {
                Some(Exit::Code(code)) => value["exit_code"] = json!(code),
                Some(Exit::Signal(signal)) => value["signal"] = json!(signal.as_str()),
                None => {}
            }
        }
        JobState::Killed => value["killed"] = json!(true),
        JobState::FailedToStart(error) => value["error"] = json!(error),
    }
    value
}

/// The call's `id` argument.
pub(super) fn id(arguments: &Value) -> Option<&str> {
    arguments.get("id").and_then(Value::as_str)
}

pub(super) fn missing_id() -> Value {
    structured_result(json!({ "error": "'id' (a string from start_command) is required" }), true)
}

pub(super) fn unknown(id: &str) -> Value {
    structured_result(
        json!({ "error": format!("no background command '{id}' (it may have expired; see list_commands)") }),
        true,
    )
}
