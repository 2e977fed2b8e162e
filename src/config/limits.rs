//! Load limits: how many commands run and wait, how many connections are
//! open, how often one address may fail to authenticate, and how deep a
//! JSON-RPC message may nest. Every limit is bounded, so no client can make
//! the daemon hold unbounded memory.

use std::time::Duration;

use super::cli::RawSettings;
use super::{parse_number, parse_timeout};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Commands running at once.
    pub(crate) max_commands: usize,
    /// Calls waiting for a slot; beyond, refused as busy.
    pub(crate) command_queue: usize,
    /// Longest wait in the queue.
    pub(crate) queue_timeout: Duration,
    /// Open HTTP connections.
    pub(crate) max_connections: usize,
    /// Failed authentications per address and window; 0 is no limit.
    pub(crate) auth_failure_limit: u32,
    pub(crate) auth_failure_window: Duration,
    /// Deepest nesting of arrays and objects in a message.
    pub(crate) max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_commands: 64,
            command_queue: 256,
            queue_timeout: Duration::from_secs(30),
            max_connections: 1024,
            auth_failure_limit: 20,
            auth_failure_window: Duration::from_secs(60),
            max_json_depth: 32,
        }
    }
}

pub(crate) fn resolve(raw: &RawSettings) -> Result<Limits, String> {
    let default = Limits::default();
    let positive = |text: Option<&str>, default: usize, name: &str| -> Result<usize, String> {
        let value = parse_number(text, default, name, "a whole number of at least 1")?;
        if value == 0 {
            return Err(format!("invalid value '0' for {name}; expected a whole number of at least 1"));
        }
        Ok(value)
    };
    Ok(Limits {
        max_commands: positive(
            raw.max_concurrent_commands.as_deref(),
            default.max_commands,
            "--max-concurrent-commands / MCP_MAX_CONCURRENT_COMMANDS",
        )?,
        command_queue: parse_number(
            raw.command_queue.as_deref(),
            default.command_queue,
            "--command-queue / MCP_COMMAND_QUEUE",
            "a whole number (0: no queue)",
        )?,
        queue_timeout: parse_timeout(
            raw.queue_timeout.as_deref(),
            default.queue_timeout,
            "--queue-timeout / MCP_QUEUE_TIMEOUT",
        )?,
        max_connections: positive(
            raw.max_connections.as_deref(),
            default.max_connections,
            "--max-connections / MCP_MAX_CONNECTIONS",
        )?,
        auth_failure_limit: parse_number(
            raw.auth_failure_limit.as_deref(),
            default.auth_failure_limit,
            "--auth-failure-limit / MCP_AUTH_FAILURE_LIMIT",
            "a whole number (0: no limit)",
        )?,
        auth_failure_window: parse_timeout(
            raw.auth_failure_window.as_deref(),
            default.auth_failure_window,
            "--auth-failure-window / MCP_AUTH_FAILURE_WINDOW",
        )?,
        max_json_depth: positive(
            raw.max_json_depth.as_deref(),
            default.max_json_depth,
            "--max-json-depth / MCP_MAX_JSON_DEPTH",
        )?
        .min(128),
    })
}
