//! `list_blocked_commands`: the blocklist in force (defaults plus the
//! operator's entries), with go-mcp-commander's field names.

use serde_json::{Value, json};

use super::tool::{Call, Handled, Tool, always};
use super::{read_only_annotations, structured_result};

pub(super) const TOOL: Tool = Tool { name: NAME, declaration, offered: always, records_job: true, call };

const NAME: &str = "list_blocked_commands";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "List blocked commands",
        "description": "Lists the commands execute_command refuses. Entries match parsed commands, not \
            substrings: 'rm -rf /' also blocks 'rm -r -f /' and '/bin/rm --recursive --force /'.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
        "outputSchema": {
            "type": "object",
            "properties": {
                "blocked_commands": { "type": "array", "items": { "type": "string" } },
                "using_default_blocklist": { "type": "boolean" }
            },
            "required": ["blocked_commands", "using_default_blocklist"]
        },
        "annotations": read_only_annotations("List blocked commands"),
    })
}

/// The blocklist, the same for every principal.
fn call(call: Call<'_>) -> Handled<'_> {
    let result = structured_result(
        json!({
            "blocked_commands": call.context.config.policy.blocked_commands(),
            "using_default_blocklist": true,
        }),
        false,
    );
    Box::pin(call.answer(result))
}
