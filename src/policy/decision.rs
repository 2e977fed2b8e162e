//! The outcome of a policy check: allowed, or refused by a named [`Rule`]
//! with the refused part and a reason. A rule's text ([`Rule::as_str`])
//! goes into audit records, the `policy_denials` metric's `rule` label and
//! refusal messages, which operators and tests read: each variant keeps
//! the words it has always had.

use std::borrow::Cow;
use std::fmt;

/// The outcome of a policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// `rule` names the configuration entry or built-in rule that refused;
    /// `command` is the part of the command string it refused; `reason` is
    /// a sentence an agent or operator can act on.
    Deny {
        rule: Rule,
        command: String,
        reason: String,
    },
}

/// The rule that refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `input`: a NUL byte, an oversized command, or a check that could
    /// not run (no thread, past its deadline).
    Input,
    /// `syntax`: the command, or a script given to a shell, does not parse.
    Syntax,
    /// `allowlist`: a program the allowlist does not list.
    NotAllowed,
    /// `allowlist: environment`: an assignment or call variable that
    /// changes which program runs.
    Environment,
    /// `allowlist: unjudgeable`: a construct that cannot be checked before
    /// it runs.
    Unjudgeable,
    /// `allowlist: program in a writable root`.
    ProgramInWritableRoot,
    /// `allowlist: wrapper`: what a wrapper runs cannot be known.
    Wrapper,
    /// `allowlist: script file`: a shell runs a file no entry names.
    ScriptFile,
    /// `allowlist: function`: a function shadowing a program or builtin.
    Function,
    /// `escape: PROGRAM TRIGGER`: an escape option no entry grants.
    Escape { program: String, trigger: String },
    /// `escape: unjudgeable`: an escape option's arguments cannot be read.
    EscapeUnjudgeable,
    /// `blocklist: ENTRY`: the blocklist entry, as configured, that matched.
    Blocklist { entry: String },
    /// `writable roots`: an output redirection outside them.
    WritableRoots,
}

impl Rule {
    /// The rule as audit records, metrics and messages name it.
    pub(crate) fn as_str(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Rule::Input => "input",
            Rule::Syntax => "syntax",
            Rule::NotAllowed => "allowlist",
            Rule::Environment => "allowlist: environment",
            Rule::Unjudgeable => "allowlist: unjudgeable",
            Rule::ProgramInWritableRoot => "allowlist: program in a writable root",
            Rule::Wrapper => "allowlist: wrapper",
            Rule::ScriptFile => "allowlist: script file",
            Rule::Function => "allowlist: function",
            Rule::Escape { program, trigger } => return Cow::Owned(format!("escape: {program} {trigger}")),
            Rule::EscapeUnjudgeable => "escape: unjudgeable",
            Rule::Blocklist { entry } => return Cow::Owned(format!("blocklist: {entry}")),
            Rule::WritableRoots => "writable roots",
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl Decision {
    /// The refusal as one message for a tool result or a log line.
    pub(crate) fn message(&self) -> Option<String> {
        self.message_redacted(&|text| text.to_string())
    }

    /// As [`Decision::message`], with `redact` applied to the reason and
    /// to the refused part before it is cut to length (a secret cut in two
    /// would no longer match the redaction pattern).
    pub(crate) fn message_redacted(&self, redact: &dyn Fn(&str) -> String) -> Option<String> {
        match self {
            Decision::Allow => None,
            Decision::Deny { rule, command, reason } => Some(format!(
                "command refused by policy: {} [rule: {rule}; refused: {}]",
                redact(reason),
                shorten(&redact(command))
            )),
        }
    }
}

/// A refusal by `rule` of `command`, the part refused.
pub(super) fn deny(rule: Rule, command: &str, reason: String) -> Decision {
    Decision::Deny { rule, command: command.to_string(), reason }
}

/// The refused part, cut to a readable length.
pub(crate) fn shorten(command: &str) -> String {
    const LIMIT: usize = 200;
    let command = command.trim();
    if command.len() <= LIMIT {
        return command.to_string();
    }
    let mut end = LIMIT;
    while !command.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &command[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_keeps_the_words_audit_records_and_metrics_carry() {
        let escape = Rule::Escape { program: "find".into(), trigger: "-exec".into() };
        for (rule, text) in [
            (Rule::Input, "input"),
            (Rule::Syntax, "syntax"),
            (Rule::NotAllowed, "allowlist"),
            (Rule::Environment, "allowlist: environment"),
            (Rule::Unjudgeable, "allowlist: unjudgeable"),
            (Rule::ProgramInWritableRoot, "allowlist: program in a writable root"),
            (Rule::Wrapper, "allowlist: wrapper"),
            (Rule::ScriptFile, "allowlist: script file"),
            (Rule::Function, "allowlist: function"),
            (escape, "escape: find -exec"),
            (Rule::EscapeUnjudgeable, "escape: unjudgeable"),
            (Rule::Blocklist { entry: "rm -rf /".into() }, "blocklist: rm -rf /"),
            (Rule::WritableRoots, "writable roots"),
        ] {
            assert_eq!(rule.as_str(), text);
            assert_eq!(rule.to_string(), text);
        }
    }

    #[test]
    fn a_refusal_message_names_its_rule_as_text() {
        let denial = deny(Rule::Blocklist { entry: "mkfs".into() }, "mkfs /dev/sda", "it matches".into());
        assert_eq!(
            denial.message().unwrap(),
            "command refused by policy: it matches [rule: blocklist: mkfs; refused: mkfs /dev/sda]"
        );
    }
}
