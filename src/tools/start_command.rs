//! `start_command`: starts a command in the background, under the same
//! input validation, policy and sandbox as `execute_command`, and returns
//! its id at once; the command's end is recorded as a `job_end` record.

use serde_json::{Value, json};

use super::background::offered;
use super::execute_command::admit;
use super::record::CallRecord;
use super::tool::{Call, Tool};
use super::{Outcome, ToolContext, structured_result};
use crate::runner::{JobEnd, JobTable, RunRequest};

pub(super) const TOOL: Tool =
    Tool { name: NAME, declaration, offered, records_job: true, call: |call| Box::pin(call_tool(call)) };

const NAME: &str = "start_command";

fn declaration() -> Value {
    json!({
        "name": NAME,
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
    })
}

async fn call_tool(mut call: Call<'_>) -> Result<Value, super::CallError> {
    let Some(jobs) = &call.context.jobs else { return Err(call.unknown()) };
    let result = start(call.context, jobs, call.arguments, &mut call.record).await;
    call.answer(result).await
}

async fn start(context: &ToolContext, jobs: &JobTable, arguments: &Value, record: &mut CallRecord) -> Value {
    let input = match admit(context, arguments, record).await {
        Ok(input) => input,
        Err(refusal) => return structured_result(json!({ "error": refusal.message }), true),
    };
    let mut env = input.env;
    let egress = context.egress_for(&input.space, record.request_id(), &mut env);
    let request = RunRequest {
        cell: input.space.cell,
        command: input.command,
        cwd: input.cwd,
        env,
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
            let _egress = egress;
            end.set("job", json!(job));
            match result {
                Ok(outcome) => {
                    end.outcome(&outcome);
                    end.finish(Outcome::of_run(&outcome), None).await;
                }
                Err(error) => end.finish(Outcome::Error, Some(&format!("command could not start: {error}"))).await,
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
