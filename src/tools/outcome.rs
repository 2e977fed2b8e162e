//! What came of a tool call: the one list of outcomes. Each is written as
//! the `outcome` field of the call's audit record and counted under the
//! `outcome` label of `mcp_commander_tool_calls_total`, both spelled by
//! [`Outcome::as_str`].

use crate::runner::RunOutcome;
use crate::sandbox::Exit;

/// How a tool call ended. The strings are an interface (audit records,
/// metric labels, dashboards): never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The tool answered; a command exited with status 0.
    Ok,
    /// The command exited with another status or was killed by a signal.
    ExitNonzero,
    /// The command overran its timeout and was killed.
    Timeout,
    /// The policy refused the command, or (`execute_command`) its audit
    /// record had no room under `MCP_AUDIT_ON_FULL=refuse`.
    Denied,
    /// Bad input, a command that could not start, or another failure the
    /// result's `error` explains.
    Error,
    /// No command slot was free, nor room in the queue.
    Busy,
    /// The client cancelled the call or went away before it ended.
    Cancelled,
}

impl Outcome {
    /// The outcome as audit records and metrics spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ExitNonzero => "exit_nonzero",
            Outcome::Timeout => "timeout",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
            Outcome::Busy => "busy",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The outcome of a command that ran to its end.
    pub(crate) fn of_run(outcome: &RunOutcome) -> Outcome {
        match outcome.exit {
            _ if outcome.timed_out => Outcome::Timeout,
            Some(Exit::Code(0)) => Outcome::Ok,
            Some(_) => Outcome::ExitNonzero,
            None => Outcome::Error,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_keep_the_spelling_of_audit_records_and_metric_labels() {
        let all = [
            Outcome::Ok,
            Outcome::ExitNonzero,
            Outcome::Timeout,
            Outcome::Denied,
            Outcome::Error,
            Outcome::Busy,
            Outcome::Cancelled,
        ];
        let spelled: Vec<&str> = all.iter().map(|outcome| outcome.as_str()).collect();
        assert_eq!(spelled, ["ok", "exit_nonzero", "timeout", "denied", "error", "busy", "cancelled"]);
    }

    #[test]
    fn the_audit_record_schema_lists_every_outcome() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/audit-record.schema.json")).expect("the schema is JSON");
        let listed: Vec<&str> = schema["properties"]["outcome"]["enum"]
            .as_array()
            .expect("the schema lists the outcomes")
            .iter()
            .filter_map(|outcome| outcome.as_str())
            .collect();
        assert_eq!(listed, ["ok", "exit_nonzero", "timeout", "denied", "error", "busy", "cancelled"]);
    }
}
