//! `get_shell_info`: how commands are run (shell, timeouts, limits), with
//! go-mcp-commander's field names first.

use serde_json::{Value, json};

use super::{ToolContext, read_only_annotations, structured_result};
use crate::config::duration::format_go_duration;
use crate::sandbox::LayerState;

pub(super) fn declaration() -> Value {
    json!({
        "name": "get_shell_info",
        "title": "Get shell information",
        "description": "Describes how execute_command runs commands: the shell and its argument, the default \
            and maximum timeout, the default working directory, the output cap and the kernel sandbox layers enforced on every command.",
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
                "server_version": { "type": "string" },
                "sandbox_layers": {
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "kernel enforcement layers applied to every command"
                },
                "sandbox": {
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                    "description": "each layer: enforced, unavailable or disabled, with details"
                }
            },
            "required": ["shell", "shell_arg", "default_timeout"]
        },
        "annotations": read_only_annotations("Get shell information"),
    })
}

pub(super) fn call(context: &ToolContext) -> Value {
    let config = &context.config;
    let sandbox = context.runner.sandbox();
    let layers: serde_json::Map<String, Value> = sandbox
        .layers()
        .iter()
        .map(|(layer, state)| {
            let text = match state {
                LayerState::Enforced(detail) => format!("enforced: {detail}"),
                LayerState::Unavailable(reason) => format!("unavailable: {reason}"),
                LayerState::Disabled => "disabled".to_string(),
                LayerState::NotEnabled(reason) => format!("not enabled: {reason}"),
            };
            (layer.name().to_string(), Value::String(text))
        })
        .collect();
    structured_result(
        json!({
            "shell": config.shell.display().to_string(),
            "shell_arg": config.shell_arg,
            "default_timeout": format_go_duration(config.default_timeout),
            "max_timeout": format_go_duration(config.max_timeout),
            "working_directory": context.scratch_dir.display().to_string(),
            "max_output_bytes": config.max_output_bytes,
            "server_version": env!("CARGO_PKG_VERSION"),
            "sandbox_layers": sandbox.enforced(),
            "sandbox": layers,
        }),
        false,
    )
}
