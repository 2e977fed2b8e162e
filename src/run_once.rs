//! `mcp-commander run -- CMD…`: one command through the same policy,
//! runner and sandbox as the daemon, so an operator can try a
//! configuration before deploying it.

use std::io::Write;
use std::process::ExitCode;

use crate::config::duration::parse_duration;
use crate::mcp::dispatch::Server;
use crate::runner::RunRequest;
use crate::sandbox::Exit;

pub(crate) async fn run(server: &Server, timeout: Option<&str>, command: &str) -> Result<ExitCode, String> {
    let tools = server.tools();
    let config = &tools.config;
    let space = tools.spaces.local();
    let redact = |text: &str| tools.audit.redact_command(text);
    if let Some(message) = tools.check(space, command, &space.workspace).await.message_redacted(&redact) {
        eprintln!("mcp-commander run: {message}");
        return Ok(ExitCode::from(126));
    }
    let timeout = match timeout {
        Some(text) => parse_duration(text).map_err(|e| format!("--timeout: {e}"))?,
        None => config.default_timeout,
    };
    let request = RunRequest {
        cell: space.cell,
        command: command.to_string(),
        cwd: space.workspace.clone(),
        env: Vec::new(),
        timeout,
        max_output_bytes: config.max_output_bytes,
        stdin: None,
        tap: None,
    };
    let outcome = tools.runner.run(request).await.map_err(|e| format!("the command could not start: {e}"))?;
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    if outcome.truncated {
        eprintln!("mcp-commander run: output truncated to MCP_MAX_OUTPUT_BYTES per stream");
    }
    if outcome.timed_out {
        eprintln!("mcp-commander run: timed out; the command and everything it started were killed");
    }
    Ok(match outcome.exit {
        Some(Exit::Code(code)) => ExitCode::from(code.clamp(0, 255) as u8),
        Some(Exit::Signal(signal)) => ExitCode::from(128u8.saturating_add(signal as u8)),
        None => ExitCode::FAILURE,
    })
}
