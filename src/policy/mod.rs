//! Command policy: decides, before anything runs, whether a command string
//! may run, and says why when it may not.
//!
//! The string is parsed into a full shell tree ([`syntax`]); both lists
//! judge the parsed commands, never substrings of the text. When an
//! allowlist is set, every simple command anywhere in the tree (inside
//! `$(…)`, backticks, `<(…)`, subshells, groups, functions, and the scripts
//! of allowed shells and wrappers) must match an entry; whatever cannot be
//! judged statically is refused; programs that run other programs follow
//! the [`escapes`] table. The blocklist ([`blocklist`]) matches normalized
//! commands, unwrapped from `sudo`, `env`, `sh -c` and the like. Output
//! redirections outside the writable roots are refused early. The kernel
//! enforces the same allowlist (Landlock EXECUTE on [`Policy::allowed_programs`]),
//! so this module explains refusals; it is not the only wall.
//!
//! Along the data flow: [`syntax`] and [`word`] parse; [`judge`] walks the
//! tree, asking [`allowlist`] whether an entry matches, [`wrappers`] what a
//! wrapper or shell runs and [`escapes`] which escape option a program
//! uses (one file per program there); [`blocklist`] and [`paths`] judge
//! normalized commands and redirections; [`names`] is the leaf they share;
//! [`decision`] is what comes out: allowed, or refused by a [`Rule`].
//!
//! To check a new program's escape options, add a file to `escapes/` with
//! its row and a line to `escapes::PROGRAMS`. A new refusal is a [`Rule`]
//! variant with its text in `decision.rs`, given to `deny` where it is
//! decided.
//!
//! The fuzz target (`fuzz/fuzz_targets/policy.rs`) compiles this directory
//! on its own with `#[path]`, without the rest of the crate: nothing here
//! may name `crate::`, only `super::` and the external crates (check with
//! `cd fuzz && cargo check`).

mod allowlist;
mod blocklist;
mod decision;
pub(crate) mod escapes;
mod judge;
pub(crate) mod names;
mod paths;
pub(crate) mod syntax;
pub(crate) mod word;
mod wrappers;

use std::path::{Path, PathBuf};

pub(crate) use allowlist::resolve_program;
use allowlist::{AllowEntry, ProgramWord, compile_entry, entry_matches};
use blocklist::BlockRule;
pub(crate) use blocklist::DEFAULT_BLOCKED;
use decision::deny;
pub(crate) use decision::{Decision, Rule, shorten};
use judge::Judge;
pub(crate) use names::basename;
use names::changes_lookup;
use serde_json::Value;
use word::Word;

/// Default cap on the size of a command string.
pub(crate) const DEFAULT_MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Where a command runs, for relative paths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The working directory the command starts in.
    pub(crate) cwd: &'a Path,
    /// Directories (and files) the sandbox lets commands write.
    pub(crate) writable_roots: &'a [PathBuf],
}

/// Compiled allow and block rules. Invariant: built once at start.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    allowed: Vec<AllowEntry>,
    blocked: Vec<BlockRule>,
    max_command_bytes: usize,
    /// The shell evaluates variables' text in arithmetic and subscripts
    /// (bash, zsh, ksh), not only dash's plain numbers.
    bash_semantics: bool,
}

impl Policy {
    /// Compiles the lists. `extra_blocked` is added to the default blocklist.
    pub(crate) fn new(
        allowed: &[String],
        extra_blocked: &[String],
        max_command_bytes: usize,
    ) -> Result<Policy, String> {
        let allowed = allowed.iter().map(|text| compile_entry(text)).collect::<Result<Vec<_>, String>>()?;
        let blocked = DEFAULT_BLOCKED
            .iter()
            .map(|s| s.to_string())
            .chain(extra_blocked.iter().cloned())
            .map(|text| BlockRule::compile(&text))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Policy { allowed, blocked, max_command_bytes, bash_semantics: true })
    }

    /// Adapts the rules to the shell that runs commands: only for `dash`,
    /// `ash` and the like are bash's evaluation rules left out.
    /// This policy with `allowed` as its allowlist, for one principal: each
    /// entry must be a command this policy allows (an empty allowlist here
    /// allows any), so the result only narrows it. The blocklist, limits and
    /// shell stay.
    pub(crate) fn narrowed(&self, allowed: &[String], scope: Scope<'_>) -> Result<Policy, String> {
        if !self.allow_all() {
            for entry in allowed {
                if let Some(reason) = self.check(entry, scope).message() {
                    return Err(format!("'{entry}' is not allowed by the daemon's own allowlist ({reason})"));
                }
            }
        }
        let allowed = allowed.iter().map(|text| compile_entry(text)).collect::<Result<Vec<_>, String>>()?;
        Ok(Policy { allowed, ..self.clone() })
    }

    pub(crate) fn for_shell(mut self, shell: &Path) -> Policy {
        let real = std::fs::canonicalize(shell).unwrap_or_else(|_| shell.to_path_buf());
        let name = real.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        self.bash_semantics = !["dash", "ash", "posh"].contains(&name);
        self
    }

    /// Allowlist entries as configured; empty means every program not blocked.
    pub(crate) fn allowed_commands(&self) -> Vec<String> {
        self.allowed.iter().map(|e| e.text.clone()).collect()
    }

    /// Every blocklist entry in force, defaults first.
    pub(crate) fn blocked_commands(&self) -> Vec<String> {
        self.blocked.iter().map(|r| r.text().to_string()).collect()
    }

    /// The table of programs that run other programs.
    pub(crate) fn escape_table(&self) -> Value {
        escapes::describe()
    }

    /// Largest command string accepted, in bytes.
    pub(crate) fn max_command_bytes(&self) -> usize {
        self.max_command_bytes
    }

    /// Real paths of the allowed programs that exist on this host: the
    /// kernel's EXECUTE allowlist.
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
        if self.allowed.is_empty() || !changes_lookup(name) {
            return Decision::Allow;
        }
        Decision::Deny {
            rule: Rule::Environment,
            command: format!("env {name}"),
            reason: format!("the allowlist is set and the env variable '{name}' could change which program runs"),
        }
    }

    /// Decides whether `command` may run in `scope`.
    pub(crate) fn check(&self, command: &str, scope: Scope<'_>) -> Decision {
        if let Some(refusal) = self.hygiene(command) {
            return refusal;
        }
        let script = match syntax::parse(command) {
            Ok(script) => script,
            Err(error) => {
                return Decision::Deny {
                    rule: Rule::Syntax,
                    command: command.to_string(),
                    reason: format!("the command cannot be checked because {error}"),
                };
            }
        };
        let judge = Judge { policy: self, scope, functions: &script.functions };
        match judge.script(command, &script, 0) {
            Ok(()) => Decision::Allow,
            Err(denial) => denial,
        }
    }

    /// NUL bytes and oversized strings are refused before parsing.
    fn hygiene(&self, command: &str) -> Option<Decision> {
        let reason = if command.contains('\0') {
            "the command contains a NUL byte, which a shell would silently cut it at".to_string()
        } else if command.len() > self.max_command_bytes {
            format!(
                "the command is {} bytes; the server accepts at most {} (MCP_MAX_COMMAND_BYTES)",
                command.len(),
                self.max_command_bytes
            )
        } else {
            return None;
        };
        Some(Decision::Deny { rule: Rule::Input, command: command.to_string(), reason })
    }

    /// The most specific entry that allows the command (`sh s.sh` before
    /// `sh`), else a grant entry of the same program.
    fn entry_for(&self, program: &Word, args: &[Word]) -> Option<&AllowEntry> {
        let program = ProgramWord::new(&program.text);
        let plain = self.allowed.iter().filter(|entry| entry.grants.is_none() && entry_matches(entry, &program, args));
        plain
            .max_by_key(|entry| entry.leading_args.len())
            .or_else(|| self.allowed.iter().find(|entry| entry.grants.is_some() && entry_matches(entry, &program, &[])))
    }

    fn granted(&self, program: &str, trigger: &str) -> bool {
        self.allowed.iter().any(|entry| {
            entry.grants.as_deref() == Some(trigger)
                && (basename(&entry.program) == basename(program)
                    || (entry.resolved.is_some() && entry.resolved == resolve_program(program)))
        })
    }

    fn allowed_list(&self) -> String {
        self.allowed_commands().join(", ")
    }
}

fn blocked(rule: &BlockRule, command: &str) -> Decision {
    deny(
        Rule::Blocklist { entry: rule.text().to_string() },
        command,
        format!("the command matches the blocklist entry '{}'", rule.text()),
    )
}

#[cfg(test)]
mod tests;
