//! Command policy: decides, before anything runs, whether a command string
//! may run, and says why when it may not.
//!
//! Both lists match *parsed* commands (see [`lexer`]), never substrings of
//! the raw text: `echox; cat /etc/shadow` does not pass an `echo`
//! allowlist, `r''m -rf /` is still `rm -rf /`, and `echo halting` is not
//! `halt`. When an allowlist is set, every simple command anywhere in the
//! string (inside `$(…)`, backticks, subshells, pipelines) must match an
//! entry, and whatever cannot be judged statically is refused.

mod blocklist;
pub(crate) mod lexer;

use std::path::{Path, PathBuf};

use blocklist::BlockRule;
pub(crate) use blocklist::DEFAULT_BLOCKED;
use lexer::{SimpleCommand, lex};

/// The outcome of a policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// `rule` names the configuration entry or built-in rule that refused;
    /// `reason` is a sentence an agent or operator can act on.
    Deny {
        rule: String,
        reason: String,
    },
}

/// Builtins that cannot start another program or change how one is found;
/// they pass an allowlist without being listed.
const HARMLESS_BUILTINS: &[&str] =
    &["cd", "true", "false", ":", "test", "[", "exit", "wait", "break", "continue", "return", "shift", "read"];

/// Builtins that run code or change lookup; refused under an allowlist
/// unless listed explicitly.
const INDIRECT_BUILTINS: &[&str] =
    &["eval", "exec", ".", "source", "alias", "command", "builtin", "export", "unset", "set", "hash", "trap", "type"];

/// Variables whose assignment changes which program runs.
const LOOKUP_VARIABLES: &[&str] = &["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV", "ENV", "IFS"];

/// An allowlist entry: a program and optional leading arguments.
#[derive(Debug, Clone)]
struct AllowEntry {
    /// As the operator wrote it, for listings and messages.
    text: String,
    /// Program name as written (`ls` or `/usr/bin/ls`).
    program: String,
    /// Real path the name resolves to on this host, when it resolves.
    resolved: Option<PathBuf>,
    /// Arguments that must follow the program word exactly.
    leading_args: Vec<String>,
}

/// Compiled allow and block rules. Invariant: built once at start;
/// checking never allocates more than the lexed command.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    allowed: Vec<AllowEntry>,
    blocked: Vec<BlockRule>,
}

impl Policy {
    /// Compiles the lists. `extra_blocked` is added to the default blocklist.
    pub(crate) fn new(allowed: &[String], extra_blocked: &[String]) -> Result<Policy, String> {
        let allowed = allowed
            .iter()
            .map(|text| {
                let lexed = lex(text);
                let words: Vec<&str> = match lexed.commands.as_slice() {
                    [command] if lexed.unjudgeable.is_empty() && command.assignments.is_empty() => {
                        command.words.iter().map(|w| w.text.as_str()).collect()
                    }
                    _ => Vec::new(),
                };
                let Some((program, args)) = words.split_first() else {
                    return Err(format!("allowlist entry '{text}' is not a program with optional arguments"));
                };
                Ok(AllowEntry {
                    text: text.clone(),
                    program: program.to_string(),
                    resolved: resolve_program(program),
                    leading_args: args.iter().map(|a| a.to_string()).collect(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let blocked = DEFAULT_BLOCKED
            .iter()
            .map(|s| s.to_string())
            .chain(extra_blocked.iter().cloned())
            .map(|text| BlockRule::compile(&text))
            .collect();
        Ok(Policy { allowed, blocked })
    }

    /// Allowlist entries as configured; empty means every program not blocked.
    pub(crate) fn allowed_commands(&self) -> Vec<String> {
        self.allowed.iter().map(|e| e.text.clone()).collect()
    }

    /// Every blocklist entry in force, defaults first.
    pub(crate) fn blocked_commands(&self) -> Vec<String> {
        self.blocked.iter().map(|r| r.text().to_string()).collect()
    }

    /// Real paths of the allowed programs that exist on this host.
    pub(crate) fn allowed_programs(&self) -> Vec<PathBuf> {
        let mut programs: Vec<PathBuf> = self.allowed.iter().filter_map(|e| e.resolved.clone()).collect();
        programs.sort();
        programs.dedup();
        programs
    }

    /// Allowlist entries that resolve to the same binary under different
    /// names (a multi-call binary such as busybox): executing one allows all.
    pub(crate) fn shared_binaries(&self) -> Vec<(PathBuf, Vec<String>)> {
        let mut shared: Vec<(PathBuf, Vec<String>)> = Vec::new();
        for entry in &self.allowed {
            let Some(path) = &entry.resolved else { continue };
            match shared.iter_mut().find(|(p, _)| p == path) {
                Some((_, names)) if !names.contains(&entry.program) => names.push(entry.program.clone()),
                Some(_) => {}
                None => shared.push((path.clone(), vec![entry.program.clone()])),
            }
        }
        shared.retain(|(_, names)| names.len() > 1);
        shared
    }

    pub(crate) fn allow_all(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Whether a call may set environment variable `name`: under an
    /// allowlist, nothing that changes which program or code runs.
    pub(crate) fn check_env(&self, name: &str) -> Decision {
        let dangerous = LOOKUP_VARIABLES.contains(&name)
            || ["LD_", "BASH_FUNC_", "DYLD_"].iter().any(|prefix| name.starts_with(prefix))
            || ["SHELLOPTS", "BASHOPTS", "PS4", "GCONV_PATH", "PROMPT_COMMAND", "CDPATH"].contains(&name);
        if self.allowed.is_empty() || !dangerous {
            return Decision::Allow;
        }
        deny_allowlist(format!("the allowlist is set and the env variable '{name}' could change which program runs"))
    }

    /// Decides whether `command` may run.
    pub(crate) fn check(&self, command: &str) -> Decision {
        let lexed = lex(command);
        for rule in &self.blocked {
            if rule.matches(command, &lexed.commands) {
                return Decision::Deny {
                    rule: format!("blocked: {}", rule.text()),
                    reason: format!("the command matches the blocklist entry '{}'", rule.text()),
                };
            }
        }
        if self.allowed.is_empty() {
            return Decision::Allow;
        }
        if let Some(construct) = lexed.unjudgeable.first() {
            return Decision::Deny {
                rule: "allowlist: unjudgeable".into(),
                reason: format!(
                    "the allowlist is set and the command contains {construct}, which cannot be checked before it runs; \
                     write the command without it"
                ),
            };
        }
        lexed.commands.iter().map(|c| self.check_allowed(c)).find(|d| *d != Decision::Allow).unwrap_or(Decision::Allow)
    }

    fn check_allowed(&self, command: &SimpleCommand) -> Decision {
        if let Some(assignment) = command
            .assignments
            .iter()
            .find(|a| LOOKUP_VARIABLES.iter().any(|v| a.split_once('=').is_some_and(|(n, _)| n == *v)))
        {
            return deny_allowlist(format!("the allowlist is set and '{assignment}' changes which program runs"));
        }
        let Some((program, args)) = command.words.split_first() else {
            return Decision::Allow;
        };
        if program.dynamic {
            return deny_allowlist(format!(
                "the allowlist is set and the command name '{}' comes from an expansion or a glob, \
                 so the program cannot be known before it runs",
                program.text
            ));
        }
        if program.text == "read" && args.iter().any(|a| LOOKUP_VARIABLES.contains(&a.text.as_str())) {
            return deny_allowlist("the allowlist is set and 'read' would change which program runs".into());
        }
        if self.allowed.iter().any(|entry| entry_matches(entry, &program.text, args)) {
            return Decision::Allow;
        }
        if HARMLESS_BUILTINS.contains(&program.text.as_str()) {
            return Decision::Allow;
        }
        let allowed = self.allowed_commands().join(", ");
        if INDIRECT_BUILTINS.contains(&program.text.as_str()) {
            return deny_allowlist(format!(
                "'{}' can run or redirect to other programs and is not in the allowlist (allowed: {allowed})",
                program.text
            ));
        }
        deny_allowlist(format!("'{}' is not in the allowlist (allowed: {allowed})", program.text))
    }
}

fn deny_allowlist(reason: String) -> Decision {
    Decision::Deny { rule: "allowlist".into(), reason }
}

/// A program word matches an entry by name, or by real path when it is a
/// path (`/bin/ls` is `ls`, `/tmp/ls` is not); the entry's leading
/// arguments must follow it literally.
fn entry_matches(entry: &AllowEntry, program: &str, args: &[lexer::Word]) -> bool {
    let same_program = if program.contains('/') && !program.starts_with('/') {
        false // relative to a directory the policy cannot know
    } else if program.contains('/') {
        let real = std::fs::canonicalize(program).ok();
        real.is_some() && (real == entry.resolved || Path::new(program) == Path::new(&entry.program))
    } else {
        program == entry.program
    };
    same_program
        && entry.leading_args.len() <= args.len()
        && entry.leading_args.iter().zip(args).all(|(want, got)| !got.dynamic && *want == got.text)
}

/// Resolves a program name through the daemon's `PATH` to its real path.
pub(crate) fn resolve_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return std::fs::canonicalize(program).ok();
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .and_then(|found| std::fs::canonicalize(found).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> Policy {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        Policy::new(&allowed, &[]).unwrap()
    }

    fn denied(policy: &Policy, command: &str) -> bool {
        matches!(policy.check(command), Decision::Deny { .. })
    }

    #[test]
    fn allowlist_is_matched_per_word_not_per_prefix() {
        let p = policy(&["echo"]);
        assert!(!denied(&p, "echo hi"));
        assert!(denied(&p, "echox; cat /etc/shadow"));
        assert!(denied(&p, "echo hi; cat /etc/shadow"));
        assert!(denied(&p, "echo hi && id"));
        assert!(denied(&p, "echo hi | sh"));
        assert!(denied(&p, "echo $(id)"));
        assert!(denied(&p, "echo `id`"));
        assert!(denied(&p, "(id)"));
    }

    #[test]
    fn allowlist_entries_with_arguments_match_leading_words() {
        let p = policy(&["git status", "ls"]);
        assert!(!denied(&p, "git status --short"));
        assert!(denied(&p, "git push"));
        assert!(denied(&p, "git"));
    }

    #[test]
    fn allowlist_matches_programs_by_real_path() {
        let p = policy(&["ls"]);
        let real = resolve_program("ls").unwrap();
        assert!(!denied(&p, &format!("{} -l", real.display())));
        assert!(denied(&p, "/tmp/ls"));
    }

    #[test]
    fn allowlist_refuses_what_it_cannot_judge() {
        let p = policy(&["ls", "echo"]);
        for command in [
            "$x /",
            "${x} /",
            "l? /",
            "eval ls",
            "exec ls",
            ". ./x",
            "source x",
            "f() { ls; }",
            "PATH=/tmp ls",
            "command id",
        ] {
            assert!(denied(&p, command), "{command}");
        }
        assert!(!denied(&p, "cd /tmp && ls"));
        for command in ["for PATH in /tmp/evil; do ls; done", "read PATH < p; ls", "bin/ls", "./ls"] {
            assert!(denied(&p, command), "{command}");
        }
    }

    #[test]
    fn call_environment_cannot_change_program_lookup_under_an_allowlist() {
        let p = policy(&["ls"]);
        for name in ["PATH", "LD_PRELOAD", "BASH_ENV", "ENV", "BASH_FUNC_echo%%", "IFS"] {
            assert!(matches!(p.check_env(name), Decision::Deny { .. }), "{name}");
        }
        assert_eq!(p.check_env("GREETING"), Decision::Allow);
        assert_eq!(policy(&[]).check_env("PATH"), Decision::Allow);
    }

    #[test]
    fn refusals_explain_themselves() {
        let p = policy(&["ls", "cat"]);
        let Decision::Deny { rule, reason } = p.check("id") else { panic!("id allowed") };
        assert_eq!(rule, "allowlist");
        assert!(reason.contains("'id'") && reason.contains("ls, cat"), "{reason}");
    }

    #[test]
    fn empty_allowlist_allows_what_is_not_blocked() {
        let p = policy(&[]);
        assert!(!denied(&p, "echo hi; id"));
        assert!(p.allow_all());
    }

    #[test]
    fn bad_allowlist_entries_are_reported() {
        let error = Policy::new(&["ls; id".to_string()], &[]).unwrap_err();
        assert!(error.contains("ls; id"));
    }
}
