//! The audit record of one tool call, built as the call goes (request,
//! policy decision, outcome) and written when it ends. A call dropped
//! midway (the client cancelled or went away) is recorded from the
//! destructor as `cancelled`, so no call leaves without a record.
//!
//! Redaction: the command text goes through `MCP_AUDIT_REDACT`; of the
//! call's `env` only the names are kept; stdin and output are never
//! recorded, only their sizes.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::tool::Tool;
use super::{Outcome, ToolContext};
use crate::audit::{Caller, Slot, event};
use crate::policy::Decision;
use crate::runner::RunOutcome;
use crate::sandbox::Exit;

/// A tool call's record in the making.
pub(crate) struct CallRecord {
    context: ToolContext,
    /// The tool's registered name.
    tool: &'static str,
    started: Instant,
    /// `None` once written.
    record: Option<Map<String, Value>>,
    /// The queue place reserved under `MCP_AUDIT_ON_FULL=refuse`.
    slot: Option<Slot>,
    /// The policy refused the command.
    denied: bool,
    /// Counted in `tool_calls` (a background job's end record is not).
    counted: bool,
    /// Who called.
    principal: String,
    /// The request's id, which the call's egress connections carry.
    request_id: String,
}

impl CallRecord {
    pub(crate) fn new(context: &ToolContext, caller: &Caller, tool: &Tool, arguments: &Value) -> CallRecord {
        let mut record = event("tool_call", caller);
        record.insert("method".into(), "tools/call".into());
        record.insert("tool".into(), tool.name.into());
        if let Some(command) = arguments.get("command").and_then(Value::as_str) {
            record.insert("command".into(), context.audit.redact_command(command).into());
        }
        if let Some(directory) = arguments.get("working_directory").and_then(Value::as_str) {
            record.insert("working_directory".into(), directory.into());
        }
        if let Some(Value::Object(env)) = arguments.get("env") {
            let names: Map<String, Value> = env.keys().map(|name| (name.clone(), "[REDACTED]".into())).collect();
            record.insert("env".into(), Value::Object(names));
        }
        if let Some(id) = arguments.get("id").filter(|_| tool.records_job) {
            record.insert("job".into(), id.clone());
        }
        CallRecord {
            context: context.clone(),
            tool: tool.name,
            started: Instant::now(),
            record: Some(record),
            slot: None,
            denied: false,
            counted: true,
            principal: caller.principal.clone(),
            request_id: caller.request_id.clone(),
        }
    }

    pub(crate) fn set(&mut self, key: &str, value: Value) {
        if let Some(record) = self.record.as_mut() {
            record.insert(key.into(), value);
        }
    }

    /// The policy's decision; a refusal is also counted by rule.
    pub(crate) fn decision(&mut self, decision: &Decision) {
        match decision {
            Decision::Allow => self.set("decision", json!({ "allowed": true })),
            Decision::Deny { rule, command, reason } => {
                self.denied = true;
                let rule = rule.as_str();
                self.context.metrics.policy_denial(&rule);
                let audit = &self.context.audit;
                let refused = crate::policy::shorten(&audit.redact_command(command));
                let reason = audit.redact_command(reason);
                self.set("decision", json!({ "allowed": false, "rule": rule, "refused": refused, "reason": reason }));
            }
        }
    }

    /// A second record of the same call, for what happens later (the end
    /// of a background job), under event `kind`.
    pub(crate) fn follow_up(&self, kind: &str) -> CallRecord {
        let mut record = self.record.clone().unwrap_or_default();
        record.insert("event".into(), kind.into());
        CallRecord {
            context: self.context.clone(),
            tool: self.tool,
            started: Instant::now(),
            record: Some(record),
            slot: None,
            denied: false,
            counted: false,
            principal: self.principal.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// The name of the tool called.
    pub(crate) fn tool(&self) -> &'static str {
        self.tool
    }

    /// The principal who called.
    pub(crate) fn principal(&self) -> &str {
        &self.principal
    }

    pub(crate) fn request_id(&self) -> &str {
        &self.request_id
    }

    pub(crate) fn denied(&self) -> bool {
        self.denied
    }

    /// Drops the record unwritten: the call was not a tool call after all
    /// (an unknown tool is recorded as a protocol error).
    pub(crate) fn discard(mut self) {
        self.record = None;
    }

    /// Reserves the record's place before a command starts, when the
    /// operator asked for "no record, no command".
    pub(crate) fn reserve(&mut self) -> Result<(), String> {
        self.slot = self.context.audit.admit()?;
        Ok(())
    }

    /// What the command did.
    pub(crate) fn outcome(&mut self, outcome: &RunOutcome) {
        let (exit_code, signal) = match outcome.exit {
            Some(Exit::Code(code)) => (Some(code), None),
            Some(Exit::Signal(signal)) => (None, Some(signal.as_str())),
            None => (None, None),
        };
        self.set("sandbox", json!(self.context.runner.sandbox().enforced()));
        self.set("exit_code", json!(exit_code));
        self.set("signal", json!(signal));
        self.set("timed_out", outcome.timed_out.into());
        self.set("stdout_bytes", outcome.stdout_bytes.into());
        self.set("stderr_bytes", outcome.stderr_bytes.into());
        self.set("truncated", outcome.truncated.into());
        if let Some(usage) = outcome.usage {
            self.set("cpu_user_ms", (usage.user.as_millis() as u64).into());
            self.set("cpu_system_ms", (usage.system.as_millis() as u64).into());
            self.set("max_rss_kib", usage.max_rss_kib.into());
        }
        self.context.metrics.command_finished(outcome.duration.as_secs_f64());
    }

    /// Writes the record with its outcome (the list is [`Outcome`]).
    pub(crate) async fn finish(mut self, outcome: Outcome, error: Option<&str>) {
        let Some(mut record) = self.complete(outcome, error) else { return };
        match self.slot.take() {
            Some(slot) => self.context.audit.emit_into(slot, std::mem::take(&mut record)),
            None => self.context.audit.emit(std::mem::take(&mut record)).await,
        }
    }

    fn complete(&mut self, outcome: Outcome, error: Option<&str>) -> Option<Map<String, Value>> {
        let mut record = self.record.take()?;
        record.insert("outcome".into(), outcome.as_str().into());
        record.insert("cancelled".into(), (outcome == Outcome::Cancelled).into());
        record.insert("duration_ms".into(), (self.started.elapsed().as_millis() as u64).into());
        if let Some(error) = error {
            record.insert("error".into(), error.into());
        }
        if self.counted {
            self.context.metrics.tool_call(self.tool, outcome);
        }
        Some(record)
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        let Some(record) = self.complete(Outcome::Cancelled, Some("the client cancelled the call or went away")) else {
            return;
        };
        match self.slot.take() {
            Some(slot) => self.context.audit.emit_into(slot, record),
            None => self.context.audit.emit_now(record),
        }
    }
}
