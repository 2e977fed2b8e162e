//! `kill_command`: kills one of the caller's background commands and
//! everything it started.

use serde_json::{Value, json};

use super::background::{id, id_schema, missing_id, offered, unknown, with_jobs};
use super::structured_result;
use super::tool::{Call, Handled, Tool};

pub(super) const TOOL: Tool = Tool { name: NAME, declaration, offered, records_job: true, call };

const NAME: &str = "kill_command";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "Kill a background command",
        "description": "Kills a background command and everything it started.",
        "inputSchema": { "type": "object", "properties": { "id": id_schema() }, "required": ["id"] },
        "annotations": { "title": "Kill a background command", "readOnlyHint": false, "destructiveHint": true,
            "idempotentHint": true, "openWorldHint": false }
    })
}

fn call(call: Call<'_>) -> Handled<'_> {
    let arguments = call.arguments;
    with_jobs(call, |jobs, principal| match id(arguments).map(|id| (id, jobs.kill(Some(principal), id))) {
        Some((id, Some(killed))) => structured_result(json!({ "id": id, "killed": killed }), false),
        Some((id, None)) => unknown(id),
        None => missing_id(),
    })
}
