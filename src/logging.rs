//! Operational logging (tracing) to stderr, never stdout: stdout carries
//! MCP messages in stdio mode and audit records in HTTP mode.
//!
//! `MCP_LOG_LEVEL` keeps go-mcp-commander's levels. `access` is `info` plus
//! one line per HTTP request, logged under the target [`ACCESS_TARGET`].

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogLevel};

/// Target of per-request access lines; enabled at `access` and `debug`.
pub(crate) const ACCESS_TARGET: &str = "mcp_commander::access";

pub(crate) fn init(level: LogLevel, format: LogFormat) {
    let directives = match level {
        LogLevel::Off => "off".to_string(),
        LogLevel::Error => "error".to_string(),
        LogLevel::Warn => "warn".to_string(),
        LogLevel::Info => format!("info,{ACCESS_TARGET}=off"),
        LogLevel::Access => "info".to_string(),
        LogLevel::Debug => "debug,hyper=info,h2=info".to_string(),
    };
    let filter = EnvFilter::new(directives);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
