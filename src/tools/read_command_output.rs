//! `read_command_output`: the output of one of the caller's background
//! commands, from an offset or its tail, with its state.

use serde_json::{Value, json};

use super::background::{describe, id, id_schema, missing_id, offered, unknown, with_jobs};
use super::tool::{Call, Handled, Tool};
use super::{read_only_annotations, structured_result};
use crate::runner::JobTable;

/// Largest read.
const MAX_READ_BYTES: u64 = 256 * 1024;

pub(super) const TOOL: Tool = Tool { name: NAME, declaration, offered, records_job: true, call };

const NAME: &str = "read_command_output";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "Read background command output",
        "description": "Output of a background command (stdout and stderr interleaved) from an offset, or its \
            last tail_bytes, with its state. Pass next_offset back to continue; dropped_bytes says how much \
            was lost to the server's buffer.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "id": id_schema(),
                "offset": { "type": "integer", "minimum": 0 },
                "tail_bytes": { "type": "integer", "minimum": 0 },
                "max_bytes": { "type": "integer", "minimum": 1 }
            },
            "required": ["id"]
        },
        "annotations": read_only_annotations("Read background command output"),
    })
}

fn call(call: Call<'_>) -> Handled<'_> {
    let arguments = call.arguments;
    with_jobs(call, |jobs, principal| read(jobs, principal, arguments))
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
