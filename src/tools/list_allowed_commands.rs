//! `list_allowed_commands`: the allowlist in force, with go-mcp-commander's
//! field names (`allowed_commands`, `allow_all`).

use serde_json::{Value, json};

use super::tool::{Call, Handled, Tool, always};
use super::{read_only_annotations, structured_result};
use crate::principals::Space;

pub(super) const TOOL: Tool = Tool { name: NAME, declaration, offered: always, records_job: true, call };

const NAME: &str = "list_allowed_commands";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "List allowed commands",
        "description": "Lists the programs (optionally with leading arguments) that execute_command may run. \
            allow_all is true when no allowlist is set, in which case every command not blocked may run.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
        "outputSchema": {
            "type": "object",
            "properties": {
                "allowed_commands": { "type": "array", "items": { "type": "string" } },
                "allow_all": { "type": "boolean" },
                "wrappers": {
                    "type": "array",
                    "description": "Programs that run other programs, and the options through which ordinary \
                        programs do. Under an allowlist, a wrapper, shell or interpreter runs only when listed, and \
                        what it runs must be allowed too; an escape option needs an entry 'PROGRAM OPTION' \
                        (e.g. 'find -exec').",
                    "items": {
                        "type": "object",
                        "properties": {
                            "programs": { "type": "array", "items": { "type": "string" } },
                            "kind": { "type": "string" },
                            "triggers": { "type": "array", "items": { "type": "string" } },
                            "note": { "type": "string" }
                        }
                    }
                },
                "max_command_bytes": { "type": "integer" }
            },
            "required": ["allowed_commands", "allow_all"]
        },
        "annotations": read_only_annotations("List allowed commands"),
    })
}

/// The allowlist of the caller's own space.
fn call(call: Call<'_>) -> Handled<'_> {
    let result = match call.space() {
        Ok(space) => allowed(space),
        Err(no_space) => no_space,
    };
    Box::pin(call.answer(result))
}

fn allowed(space: &Space) -> Value {
    let policy = &space.policy;
    structured_result(
        json!({
            "allowed_commands": policy.allowed_commands(),
            "allow_all": policy.allow_all(),
            "wrappers": policy.escape_table(),
            "max_command_bytes": policy.max_command_bytes(),
        }),
        false,
    )
}
