//! Background command tools, offered only when `MCP_BACKGROUND_COMMANDS` is
//! on: `start_command` returns an id at once; `read_command_output` reads
//! from an offset or the tail; `list_commands`; `kill_command`. Same input
//! validation, policy and sandbox as `execute_command`.

use serde_json::{Value, json};

use super::execute_command::admit;
use super::record::{CallRecord, outcome_label};
use super::{ToolContext, read_only_annotations, structured_result};
use crate::runner::{JobEnd, JobState, JobStatus, JobTable, RunRequest};
use crate::sandbox::Exit;

/// Largest read of `read_command_output`.
const MAX_READ_BYTES: u64 = 256 * 1024;

pub(super) fn declarations() -> Vec<Value> {
    let id = json!({ "type": "string", "description": "Id returned by start_command." });
    vec![
        json!({
            "name": "start_command",
            "title": "Start a background command",
            "description": "Starts a command in the background under the same policy and sandbox as execute_command \
                and returns its id at once. Read its output with read_command_output; it is killed when its \
                timeout (at most the server's background lifetime) expires.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "command": { "type": "string", "minLength": 1 },
                    "working_directory": { "type": "string" },
                    "timeout": { "type": ["string", "number"] },
                    "env": { "type": "object", "additionalProperties": { "type": "string" } },
                    "stdin": { "type": "string" }
                },
                "required": ["command"]
            },
            "annotations": { "title": "Start a background command", "readOnlyHint": false, "destructiveHint": true,
                "idempotentHint": false, "openWorldHint": true }
        }),
        json!({
            "name": "read_command_output",
            "title": "Read background command output",
            "description": "Output of a background command (stdout and stderr interleaved) from an offset, or its \
                last tail_bytes, with its state. Pass next_offset back to continue; dropped_bytes says how much \
                was lost to the server's buffer.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "id": id,
                    "offset": { "type": "integer", "minimum": 0 },
                    "tail_bytes": { "type": "integer", "minimum": 0 },
                    "max_bytes": { "type": "integer", "minimum": 1 }
                },
                "required": ["id"]
            },
            "annotations": read_only_annotations("Read background command output"),
        }),
        json!({
            "name": "list_commands",
            "title": "List background commands",
            "description": "Background commands of this server, running or recently finished.",
            "inputSchema": { "type": "object", "properties": {} },
            "annotations": read_only_annotations("List background commands"),
        }),
        json!({
            "name": "kill_command",
            "title": "Kill a background command",
            "description": "Kills a background command and everything it started.",
            "inputSchema": { "type": "object", "properties": { "id": id }, "required": ["id"] },
            "annotations": { "title": "Kill a background command", "readOnlyHint": false, "destructiveHint": true,
                "idempotentHint": true, "openWorldHint": false }
        }),
    ]
}

/// Runs background tool `name`; `None` if it is not one of them.
pub(super) async fn call(
    context: &ToolContext,
    jobs: &JobTable,
    name: &str,
    arguments: &Value,
    record: &mut CallRecord,
) -> Option<Value> {
    Some(match name {
        "start_command" => start(context, jobs, arguments, record).await,
        "read_command_output" => read(jobs, record.principal(), arguments),
        "list_commands" => {
            let commands: Vec<Value> = jobs.list(record.principal()).iter().map(describe).collect();
            structured_result(json!({ "commands": commands }), false)
        }
        "kill_command" => match id(arguments).map(|id| (id, jobs.kill(Some(record.principal()), id))) {
            Some((id, Some(killed))) => structured_result(json!({ "id": id, "killed": killed }), false),
            Some((id, None)) => unknown(id),
            None => missing_id(),
        },
        _ => return None,
    })
}

async fn start(context: &ToolContext, jobs: &JobTable, arguments: &Value, record: &mut CallRecord) -> Value {
    let input = match admit(context, arguments, record).await {
        Ok(input) => input,
        Err(refusal) => return structured_result(json!({ "error": refusal.message }), true),
    };
    let request = RunRequest {
        cell: input.space.cell,
        command: input.command,
        cwd: input.cwd,
        env: input.env,
        timeout: if arguments.get("timeout").is_some() { input.timeout } else { jobs.limits().lifetime },
        max_output_bytes: 4096,
        stdin: input.stdin,
        tap: None,
    };
    let mut end = record.follow_up("job_end");
    let in_flight = context.metrics.command_started();
    let in_use = input.space.in_use();
    let on_end: JobEnd = Box::new(move |job, result| {
        Box::pin(async move {
            let _in_flight = in_flight;
            let _in_use = in_use;
            end.set("job", json!(job));
            match result {
                Ok(outcome) => {
                    end.outcome(&outcome);
                    end.finish(outcome_label(&outcome), None).await;
                }
                Err(error) => end.finish("error", Some(&format!("command could not start: {error}"))).await,
            }
        })
    });
    match jobs.start(record.principal(), request, on_end) {
        Ok(id) => {
            record.set("job", json!(id));
            structured_result(json!({ "id": id, "running": true }), false)
        }
        Err(reason) => structured_result(json!({ "error": reason }), true),
    }
}

fn read(jobs: &JobTable, owner: &str, arguments: &Value) -> Value {
    let Some(id) = id(arguments) else { return missing_id() };
    let number = |key: &str| arguments.get(key).and_then(Value::as_u64);
    let max = number("max_bytes").unwrap_or(MAX_READ_BYTES).clamp(1, MAX_READ_BYTES) as usize;
    match jobs.read(owner, id, number("offset"), number("tail_bytes"), max) {
        Some((chunk, status)) => {
            let mut result = describe(&status);
            result["output"] = json!(chunk.text);
            result["offset"] = json!(chunk.offset);
            result["next_offset"] = json!(chunk.next_offset);
            result["dropped_bytes"] = json!(chunk.dropped);
            structured_result(result, false)
        }
        None => unknown(id),
    }
}

fn describe(job: &JobStatus) -> Value {
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

fn id(arguments: &Value) -> Option<&str> {
    arguments.get("id").and_then(Value::as_str)
}

fn missing_id() -> Value {
    structured_result(json!({ "error": "'id' (a string from start_command) is required" }), true)
}

fn unknown(id: &str) -> Value {
    structured_result(
        json!({ "error": format!("no background command '{id}' (it may have expired; see list_commands)") }),
        true,
    )
}
