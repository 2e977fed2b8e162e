//! What a tool is: a [`Tool`] descriptor, declared in the tool's own file,
//! that carries everything the rest of the daemon needs of it (its name,
//! its `tools/list` entry, when it is offered, what its record keeps and
//! how a call runs), and the [`Call`] its handler receives.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Value, json};

use super::record::CallRecord;
use super::{CallError, Outcome, Progress, ToolContext, structured_result};
use crate::audit::Caller;
use crate::principals::Space;

/// One tool. Each tool's file declares one as `pub(super) const TOOL`, and
/// the registry in `tools/mod.rs` lists them in `tools/list` order.
pub(crate) struct Tool {
    /// The name `tools/call` asks for, and the `tool` of the call's audit
    /// record and metrics. Invariant: equal to the declaration's `name`.
    pub(crate) name: &'static str,
    /// The `tools/list` entry: name, title, description, input and output
    /// schemas, annotations.
    pub(crate) declaration: fn() -> Value,
    /// Whether this daemon offers the tool; one it does not offer is an
    /// unknown tool to its clients.
    pub(crate) offered: fn(&ToolContext) -> bool,
    /// Whether an `id` argument is recorded as the call's `job` (the
    /// background command it is about).
    pub(crate) records_job: bool,
    /// Runs one call; the handler finishes the call's record.
    pub(crate) call: for<'a> fn(Call<'a>) -> Handled<'a>,
}

/// What a handler returns: the `CallToolResult`, or a protocol error.
pub(crate) type Handled<'a> = Pin<Box<dyn Future<Output = Result<Value, CallError>> + Send + 'a>>;

/// [`Tool::offered`] of a tool every daemon offers.
pub(crate) fn always(_: &ToolContext) -> bool {
    true
}

/// One call of a tool, as its handler receives it.
pub(crate) struct Call<'a> {
    pub(crate) context: &'a ToolContext,
    /// An object, or `Null` when the call carried none.
    pub(crate) arguments: &'a Value,
    /// Where progress goes, when the client asked for it.
    pub(crate) progress: Option<Progress>,
    pub(crate) caller: &'a Caller,
    /// The call's audit record, opened with the request's fields; written
    /// as `cancelled` if dropped unfinished.
    pub(crate) record: CallRecord,
}

impl<'a> Call<'a> {
    /// The caller's space (what its principal may do), or the error result
    /// for a principal that has none.
    pub(crate) fn space(&self) -> Result<&'a Arc<Space>, Value> {
        self.context.spaces.get(&self.caller.principal).ok_or_else(|| {
            structured_result(
                json!({ "error": format!("no space is set up for the principal '{}'", self.caller.principal) }),
                true,
            )
        })
    }

    /// Finishes the record of a call that answered `result`: `denied` when
    /// the policy refused its command, else `error` or `ok` as the result
    /// says, with the result's `error`.
    pub(crate) async fn answer(self, result: Value) -> Result<Value, CallError> {
        let outcome = match (self.record.denied(), result["isError"] == true) {
            (true, _) => Outcome::Denied,
            (false, true) => Outcome::Error,
            (false, false) => Outcome::Ok,
        };
        self.record.finish(outcome, result["structuredContent"]["error"].as_str()).await;
        Ok(result)
    }

    /// The protocol error of a call this daemon cannot serve after all;
    /// it leaves no record.
    pub(crate) fn unknown(self) -> CallError {
        let name = self.record.tool();
        self.record.discard();
        CallError::UnknownTool(name.to_string())
    }
}
