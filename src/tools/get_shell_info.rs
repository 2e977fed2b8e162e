//! `get_shell_info`: how commands are run (shell, timeouts, limits), with
//! go-mcp-commander's field names first.

use serde_json::{Value, json};

use super::{ToolContext, read_only_annotations, structured_result};
use crate::config::duration::format_go_duration;

pub(super) fn declaration() -> Value {
    json!({
        "name": "get_shell_info",
        "title": "Get shell information",
        "description": "Describes how execute_command runs commands: the shell and its argument, the default \
            and maximum timeout, the default working directory and the output cap.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
        "outputSchema": {
            "type": "object",
            "properties": {
                "shell": { "type": "string" },
                "shell_arg": { "type": "string" },
                "default_timeout": { "type": "string" },
                "max_timeout": { "type": "string" },
                "working_directory": { "type": "string" },
                "max_output_bytes": { "type": "integer" },
                "server_version": { "type": "string" }
            },
            "required": ["shell", "shell_arg", "default_timeout"]
        },
        "annotations": read_only_annotations("Get shell information"),
    })
}

pub(super) fn call(context: &ToolContext) -> Value {
    let config = &context.config;
    structured_result(
        json!({
            "shell": config.shell.display().to_string(),
            "shell_arg": config.shell_arg,
            "default_timeout": format_go_duration(config.default_timeout),
            "max_timeout": format_go_duration(config.max_timeout),
            "working_directory": context.scratch_dir.display().to_string(),
            "max_output_bytes": config.max_output_bytes,
            "server_version": env!("CARGO_PKG_VERSION"),
        }),
        false,
    )
}
