//! `list_commands`: the caller's background commands, running or recently
//! finished.

use serde_json::{Value, json};

use super::background::{describe, offered, with_jobs};
use super::tool::{Call, Handled, Tool};
use super::{read_only_annotations, structured_result};

pub(super) const TOOL: Tool = Tool { name: NAME, declaration, offered, records_job: true, call };

const NAME: &str = "list_commands";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "List background commands",
        "description": "Background commands of this server, running or recently finished.",
        "inputSchema": { "type": "object", "properties": {} },
        "annotations": read_only_annotations("List background commands"),
    })
}

fn call(call: Call<'_>) -> Handled<'_> {
    with_jobs(call, |jobs, principal| {
        let commands: Vec<Value> = jobs.list(principal).iter().map(describe).collect();
        structured_result(json!({ "commands": commands }), false)
    })
}
