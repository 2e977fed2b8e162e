//! `execute_command`: validates the call's input, asks the policy, runs the
//! command through the runner and shapes the result.
//!
//! Every failure the caller can fix (bad input, a refused command, a
//! command that could not start, a timeout, a non-zero exit) is a result
//! with `isError: true` and a readable `error`, never a protocol error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::record::CallRecord;
use super::tool::{Call, Tool, always};
use super::{CallError, Outcome, Progress, ToolContext, structured_result};
use crate::config::duration::{DURATION_FORMS, format_go_duration, parse_duration, seconds_to_duration};
use crate::policy::{Decision, shorten};
use crate::principals::Space;
use crate::runner::{OutputTap, PROGRESS_CAPACITY, RunOutcome, RunRequest, env};
use crate::sandbox::Exit;

/// Shortest time between two progress notifications of one call.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

pub(super) const TOOL: Tool =
    Tool { name: NAME, declaration, offered: always, records_job: false, call: |call| Box::pin(call_tool(call)) };

const NAME: &str = "execute_command";

fn declaration() -> Value {
    json!({
        "name": NAME,
        "title": "Execute shell command",
        "description": "Runs a command with the server's shell (sh -c by default) and returns its stdout, \
            stderr and exit code. The command may use pipes, redirections and lists; every program in it \
            must be allowed by the server's policy. It is killed, with everything it started, when the \
            timeout expires. Output beyond the cap keeps its head and tail, with a marker saying how many bytes \
            were dropped, and is reported as truncated.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "command": { "type": "string", "minLength": 1, "description": "Shell command line to run." },
                "working_directory": {
                    "type": "string",
                    "description": "Directory to run in; default: the server's scratch directory."
                },
                "timeout": {
                    "type": ["string", "number"],
                    "description": "Time limit, as a duration (30s, 1m30s, 500ms) or a number of seconds; \
                        default and maximum are given by get_shell_info."
                },
                "env": {
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                    "description": "Extra environment variables for the command."
                },
                "stdin": {
                    "type": "string",
                    "description": "Text fed to the command's standard input, which is then closed; default: empty."
                },
                "max_output_bytes": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Keep at most this many bytes of stdout and of stderr (the first 60% and the last \
                        40%, with a marker counting what was dropped); can lower, never raise, the server's cap."
                }
            },
            "required": ["command"]
        },
        "outputSchema": output_schema(),
        "annotations": {
            "title": "Execute shell command",
            "readOnlyHint": false,
            "destructiveHint": true,
            "idempotentHint": false,
            "openWorldHint": true
        }
    })
}

fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "stdout": { "type": "string" },
            "stderr": { "type": "string" },
            "exit_code": { "type": ["integer", "null"], "description": "null when the command did not exit by itself" },
            "signal": { "type": ["string", "null"], "description": "signal that ended the command, e.g. SIGKILL" },
            "timed_out": { "type": "boolean" },
            "truncated": { "type": "boolean", "description": "output beyond the cap was dropped" },
            "stdout_bytes": { "type": "integer", "description": "bytes the command wrote to stdout, kept or not" },
            "stderr_bytes": { "type": "integer", "description": "bytes the command wrote to stderr, kept or not" },
            "duration_ms": { "type": "integer" },
            "duration": { "type": "string", "description": "duration in Go syntax, as go-mcp-commander reported it" },
            "error": { "type": "string", "description": "why the command failed, was refused or could not start" }
        },
        "required": ["stdout", "stderr", "exit_code", "signal", "timed_out", "truncated", "duration_ms"]
    })
}

/// A validated call.
#[derive(Debug)]
pub(super) struct Input {
    /// The caller's space: its uid, workspace, policy and sandbox cell.
    pub(super) space: Arc<Space>,
    pub(super) command: String,
    pub(super) cwd: PathBuf,
    pub(super) timeout: Duration,
    pub(super) env: Vec<(String, String)>,
    pub(super) max_output_bytes: usize,
    pub(super) stdin: Option<Vec<u8>>,
}

async fn call_tool(call: Call<'_>) -> Result<Value, CallError> {
    let Call { context, arguments, progress, mut record, .. } = call;
    let input = match admit(context, arguments, &mut record).await {
        Ok(input) => input,
        Err(refusal) => {
            let result = failure(refusal.message.clone());
            record.finish(refusal.outcome, Some(&refusal.message)).await;
            return Ok(result);
        }
    };
    let metrics = &context.metrics;
    let _slot = match context.admission.enter_counted(&|waiting| metrics.set_queued(waiting)).await {
        Ok(slot) => slot,
        Err(busy) => {
            tracing::warn!(reason = %busy.0, "call refused: server busy");
            record.finish(Outcome::Busy, Some(&busy.0)).await;
            return Err(CallError::Busy(busy));
        }
    };
    let _in_flight = context.metrics.command_started();
    let _in_use = input.space.in_use();
    let mut env = input.env;
    let _egress = context.egress_for(&input.space, record.request_id(), &mut env);
    let working_directory = input.cwd.display().to_string();
    let request = RunRequest {
        cell: input.space.cell,
        command: input.command,
        cwd: input.cwd,
        env,
        timeout: input.timeout,
        max_output_bytes: input.max_output_bytes,
        stdin: input.stdin,
        tap: progress.as_ref().map(|_| Arc::new(OutputTap::new(PROGRESS_CAPACITY))),
    };
    let tap = request.tap.clone();
    let run = context.runner.run(request);
    let result = match (progress, tap) {
        (Some(progress), Some(tap)) => report_progress(run, &progress, &tap).await,
        _ => run.await,
    };
    match result {
        Ok(outcome) => {
            let result = success(&outcome, input.timeout);
            record.outcome(&outcome);
            record.finish(Outcome::of_run(&outcome), result["structuredContent"]["error"].as_str()).await;
            Ok(result)
        }
        Err(error) if crate::sandbox::failed_at_working_directory(&error) => {
            let message = format!(
                "working_directory '{working_directory}' does not exist, is not a directory, or cannot be entered \
                 by the command's user"
            );
            record.finish(Outcome::Error, Some(&message)).await;
            Ok(failure(message))
        }
        Err(error) => {
            let message = format!("command could not start: {error}");
            record.finish(Outcome::Error, Some(&message)).await;
            Ok(failure(message))
        }
    }
}

/// Why a call did not get to run its command.
pub(super) struct Refusal {
    pub(super) message: String,
    /// `Denied` (policy or audit back-pressure) or `Error` (bad input).
    pub(super) outcome: Outcome,
}

/// Runs `run` while sending the new output lines as progress
/// notifications, at most one per [`PROGRESS_INTERVAL`], with strictly
/// increasing `progress`; what is left is sent when the command ends.
async fn report_progress<T>(run: impl Future<Output = T>, progress: &Progress, tap: &OutputTap) -> T {
    let mut sent = 0u64;
    let mut notify = |lines: String| {
        sent += 1;
        (progress.notify)(json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": { "progressToken": progress.token, "progress": sent, "message": lines },
        }));
    };
    let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(run);
    let outcome = loop {
        tokio::select! {
            outcome = &mut run => break outcome,
            _ = ticker.tick() => {
                if let Some(lines) = tap.take_lines(false) {
                    notify(lines);
                }
            }
        }
    };
    if let Some(rest) = tap.take_lines(true) {
        notify(rest);
    }
    outcome
}

/// Validates a call's input, asks the policy and, when the operator wants
/// no command without a record, reserves its audit record. Shared with
/// `start_command`.
pub(super) async fn admit(context: &ToolContext, arguments: &Value, record: &mut CallRecord) -> Result<Input, Refusal> {
    let Some(space) = context.spaces.get(record.principal()).cloned() else {
        let message = format!("no space is set up for the principal '{}'", record.principal());
        return Err(Refusal { message, outcome: Outcome::Error });
    };
    record.set("uid", space.uid.into());
    record.set("workspace", space.workspace.display().to_string().into());
    let input = parse_input(context, space, arguments)
        .map_err(|message| Refusal { message: format!("invalid input: {message}"), outcome: Outcome::Error })?;
    record.set("working_directory", input.cwd.display().to_string().into());
    record.set("timeout_ms", (input.timeout.as_millis() as u64).into());
    let decision = context.check(&input.space, &input.command, &input.cwd).await;
    record.decision(&decision);
    let audit = &context.audit;
    if let (Decision::Deny { rule, command, .. }, Some(message)) =
        (&decision, decision.message_redacted(&|text| audit.redact_command(text)))
    {
        tracing::warn!(
            command = %shorten(&audit.redact_command(&input.command)),
            %rule,
            refused = %shorten(&audit.redact_command(command)),
            "command refused by policy"
        );
        return Err(Refusal { message, outcome: Outcome::Denied });
    }
    record.reserve().map_err(|message| Refusal { message, outcome: Outcome::Denied })?;
    Ok(input)
}

fn parse_input(context: &ToolContext, space: Arc<Space>, arguments: &Value) -> Result<Input, String> {
    let empty = Map::new();
    let arguments = match arguments {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err("arguments must be an object".into()),
    };
    let command = match arguments.get("command") {
        Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
        Some(Value::String(_)) => return Err("'command' is empty".into()),
        Some(_) => return Err("'command' must be a string".into()),
        None => return Err("'command' is required".into()),
    };
    let cwd = match arguments.get("working_directory") {
        None | Some(Value::Null) => space.workspace.clone(),
        Some(Value::String(dir)) if dir.is_empty() => space.workspace.clone(),
        Some(Value::String(dir)) => working_directory(&space.workspace, dir)?,
        Some(_) => return Err("'working_directory' must be a string".into()),
    };
    let timeout = parse_timeout(arguments.get("timeout"), context.config.default_timeout, context.config.max_timeout)?;
    let env = match arguments.get("env") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(vars)) if vars.len() > env::MAX_VARS => {
            return Err(format!("'env' sets {} variables; a call may set at most {}", vars.len(), env::MAX_VARS));
        }
        Some(Value::Object(vars)) => vars
            .iter()
            .map(|(name, value)| {
                let Value::String(value) = value else {
                    return Err(format!("env value of '{name}' must be a string"));
                };
                env::validate_request_var(name, value)?;
                if let Decision::Deny { reason, .. } = space.policy.check_env(name) {
                    return Err(reason);
                }
                Ok((name.clone(), value.clone()))
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("'env' must be an object of strings".into()),
    };
    let config = &context.config;
    let max_output_bytes = match arguments.get("max_output_bytes") {
        None | Some(Value::Null) => config.max_output_bytes,
        Some(value) => match value.as_u64() {
            Some(n) if n > 0 => (n as usize).min(config.max_output_bytes),
            _ => return Err("'max_output_bytes' must be a positive integer".into()),
        },
    };
    let stdin = match arguments.get("stdin") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.len() > config.max_stdin_bytes => {
            return Err(format!(
                "'stdin' is {} bytes; the server accepts at most {} (MCP_MAX_STDIN_BYTES)",
                text.len(),
                config.max_stdin_bytes
            ));
        }
        Some(Value::String(text)) => Some(text.clone().into_bytes()),
        Some(_) => return Err("'stdin' must be a string".into()),
    };
    Ok(Input { space, command, cwd, timeout, env, max_output_bytes, stdin })
}

/// Resolves a requested directory (relative ones against the scratch
/// directory). Whether the command can enter it is found by its own
/// `chdir`, as its user: a check here, with the daemon's rights, would tell
/// a caller whether a path it cannot see exists.
fn working_directory(scratch: &Path, requested: &str) -> Result<PathBuf, String> {
    if requested.len() > libc::PATH_MAX as usize {
        return Err(format!(
            "working_directory is {} bytes long; paths are limited to {} bytes",
            requested.len(),
            libc::PATH_MAX
        ));
    }
    Ok(scratch.join(requested))
}

fn parse_timeout(value: Option<&Value>, default: Duration, max: Duration) -> Result<Duration, String> {
    let timeout = match value {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(default),
        Some(Value::String(text)) => parse_duration(text).map_err(|e| format!("'timeout': {e}"))?,
        Some(Value::Number(n)) => {
            let seconds = n.as_f64().unwrap_or(f64::NAN);
            seconds_to_duration(seconds, &n.to_string()).map_err(|e| format!("'timeout': {e}"))?
        }
        Some(_) => return Err(format!("'timeout' must be {DURATION_FORMS}")),
    };
    if timeout.is_zero() {
        return Err("'timeout' must be greater than zero".into());
    }
    if timeout > max {
        return Err(format!(
            "'timeout' {} exceeds the server's maximum of {}",
            format_go_duration(timeout),
            format_go_duration(max)
        ));
    }
    Ok(timeout)
}

fn success(outcome: &RunOutcome, timeout: Duration) -> Value {
    let (exit_code, signal) = match outcome.exit {
        Some(Exit::Code(code)) => (Some(code), None),
        Some(Exit::Signal(signal)) => (None, Some(signal.as_str())),
        None => (None, None),
    };
    let mut result = json!({
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "exit_code": exit_code,
        "signal": signal,
        "timed_out": outcome.timed_out,
        "truncated": outcome.truncated,
        "stdout_bytes": outcome.stdout_bytes,
        "stderr_bytes": outcome.stderr_bytes,
        "duration_ms": outcome.duration.as_millis() as u64,
        "duration": format_go_duration(outcome.duration),
    });
    let error = if outcome.timed_out {
        Some(format!(
            "command timed out after {} and was killed with everything it started",
            format_go_duration(timeout)
        ))
    } else if let Some(signal) = signal {
        Some(format!("command was killed by {signal}"))
    } else if let Some(code) = exit_code.filter(|c| *c != 0) {
        Some(format!("command exited with status {code}"))
    } else if outcome.exit.is_none() {
        Some("the command's exit status could not be collected".to_string())
    } else {
        None
    };
    let is_error = error.is_some();
    if let Some(error) = error {
        result["error"] = Value::String(error);
    }
    structured_result(result, is_error)
}

fn failure(error: String) -> Value {
    structured_result(
        json!({
            "stdout": "",
            "stderr": "",
            "exit_code": null,
            "signal": null,
            "timed_out": false,
            "truncated": false,
            "duration_ms": 0,
            "duration": "0s",
            "error": error,
        }),
        true,
    )
}
