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

mod blocklist;
pub(crate) mod escapes;
mod paths;
pub(crate) mod syntax;
pub(crate) mod word;

use std::path::{Path, PathBuf};

use blocklist::BlockRule;
pub(crate) use blocklist::DEFAULT_BLOCKED;
use escapes::Kind;
use serde_json::Value;
use syntax::{MAX_SCRIPT_DEPTH, Script};
use word::Word;

/// Default cap on the size of a command string.
pub(crate) const DEFAULT_MAX_COMMAND_BYTES: usize = 64 * 1024;

/// The outcome of a policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// `rule` names the configuration entry or built-in rule that refused;
    /// `command` is the part of the command string it refused; `reason` is
    /// a sentence an agent or operator can act on.
    Deny {
        rule: String,
        command: String,
        reason: String,
    },
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

/// Builtins that cannot start another program or change how one is found;
/// they pass an allowlist without being listed.
const HARMLESS_BUILTINS: &[&str] =
    &["cd", "true", "false", ":", "test", "[", "exit", "wait", "break", "continue", "return", "shift", "read"];

/// Builtins that run code or change lookup; refused under an allowlist
/// unless listed explicitly.
const INDIRECT_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    ".",
    "source",
    "alias",
    "unalias",
    "command",
    "builtin",
    "export",
    "unset",
    "set",
    "hash",
    "trap",
    "type",
    "enable",
    "declare",
    "typeset",
    "local",
    "readonly",
    "let",
    "shopt",
    "fc",
    "ulimit",
    "umask",
    "mapfile",
    "readarray",
    "printf",
    "coproc",
];

/// Variables whose assignment changes which program or code runs.
pub(crate) const LOOKUP_VARIABLES: &[&str] = &[
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    "ENV",
    "IFS",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "GCONV_PATH",
    "PROMPT_COMMAND",
    "CDPATH",
    "LESSOPEN",
    "LESSCLOSE",
    "PAGER",
    "MANPAGER",
    "GIT_PAGER",
    "EDITOR",
    "VISUAL",
    "GIT_EDITOR",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_DIR",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "RSYNC_RSH",
    "TAR_OPTIONS",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "BROWSER",
    "TMPDIR",
];

/// Prefixes of variable names that change what runs.
const LOOKUP_PREFIXES: &[&str] = &["LD_", "BASH_FUNC_", "DYLD_", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"];

/// The `GIT_*` variables that only name an identity, a date or how output
/// looks; every other one is refused under an allowlist, as git's
/// documentation adds them: they pick other configuration files
/// (`GIT_CONFIG_*`, `GIT_DIR`, `GIT_COMMON_DIR`), commands (`GIT_SSH*`,
/// `GIT_EXTERNAL_DIFF`, `GIT_*EDITOR`, `GIT_PAGER`, `GIT_ASKPASS`,
/// `GIT_PROXY_COMMAND`), helpers (`GIT_EXEC_PATH`, `GIT_TEMPLATE_DIR`) or
/// transports (`GIT_ALLOW_PROTOCOL`, which can allow `ext::`).
const GIT_HARMLESS: &[&str] = &[
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_TERMINAL_PROMPT",
    "GIT_PROGRESS_DELAY",
    "GIT_FLUSH",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_OPTIONAL_LOCKS",
    "GIT_MERGE_VERBOSITY",
    "GIT_DEFAULT_HASH",
    "GIT_ADVICE",
];

/// Shell words that are not programs.
const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac", "function",
    "select", "time", "!", "{", "}", "[[", "]]",
];

/// An allowlist entry: a program and optional leading arguments, or a
/// grant of one escape option (`find -exec`).
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
    /// The escape option this entry grants; then `leading_args` is empty.
    grants: Option<String>,
}

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
            rule: "allowlist: environment".into(),
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
                    rule: "syntax".into(),
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
        Some(Decision::Deny { rule: "input".into(), command: command.to_string(), reason })
    }

    /// The most specific entry that allows the command (`sh s.sh` before
    /// `sh`), else a grant entry of the same program.
    fn entry_for(&self, program: &Word, args: &[Word]) -> Option<&AllowEntry> {
        let plain =
            self.allowed.iter().filter(|entry| entry.grants.is_none() && entry_matches(entry, &program.text, args));
        plain.max_by_key(|entry| entry.leading_args.len()).or_else(|| {
            self.allowed.iter().find(|entry| entry.grants.is_some() && entry_matches(entry, &program.text, &[]))
        })
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

/// Judges one command string: the policy, the call's scope, and the
/// functions the top-level script defines.
struct Judge<'a> {
    policy: &'a Policy,
    scope: Scope<'a>,
    functions: &'a [String],
}

type Verdict = Result<(), Decision>;

impl Judge<'_> {
    fn script(&self, raw: &str, script: &Script, depth: usize) -> Verdict {
        for rule in &self.policy.blocked {
            if rule.matches_script(raw, script) {
                return Err(blocked(rule, raw));
            }
        }
        let mut cwd = Some(paths::normalize(self.scope.cwd));
        let mut variables: Vec<(String, Option<String>)> = Vec::new();
        for invocation in &script.commands {
            let words = substitute(&invocation.words, &variables);
            self.blocklist(&words, invocation.stdin.as_ref(), cwd.as_deref(), &invocation.source, depth)?;
            cwd = paths::after_cd(cwd, &invocation.words);
            if invocation.words.is_empty() {
                for (name, value) in &invocation.assignments {
                    variables.retain(|(known, _)| known != name);
                    variables.push((name.clone(), value.is_static().then(|| value.text.clone())));
                }
            }
        }
        let moves = script
            .commands
            .iter()
            .any(|c| c.words.first().is_some_and(|w| ["cd", "pushd", "popd"].contains(&w.text.as_str())));
        for redirect in &script.output_redirects {
            let cwd = (!moves).then_some(self.scope.cwd);
            if let Some(rule) = self.policy.blocked.iter().find(|r| r.matches_redirect(&redirect.target, cwd)) {
                return Err(blocked(rule, &redirect.source));
            }
            self.redirect_target(&redirect.target, &redirect.source, cwd)?;
        }
        if self.policy.allow_all() {
            return Ok(());
        }
        let sh_only = script.unjudgeable_in_sh.iter().filter(|_| !self.policy.bash_semantics);
        if let Some(construct) = script.unjudgeable.iter().chain(sh_only).next() {
            return Err(deny(
                "allowlist: unjudgeable",
                raw,
                format!(
                    "the allowlist is set and the command contains {construct}; this cannot be checked before it runs"
                ),
            ));
        }
        if let Some(construct) = script.bash_evaluation.as_ref().filter(|_| self.policy.bash_semantics) {
            return Err(deny(
                "allowlist: unjudgeable",
                raw,
                format!(
                    "the allowlist is set and the shell is bash, which evaluates a variable's text in {construct}, \
                     running any command hidden in an array subscript; compute without variables there"
                ),
            ));
        }
        for name in &script.functions {
            self.function_name(name)?;
        }
        for invocation in &script.commands {
            self.allowlist(
                &invocation.assignments,
                &invocation.words,
                invocation.stdin.as_ref(),
                &invocation.source,
                depth,
            )?;
        }
        Ok(())
    }

    /// Blocklist rules against a command and everything it wraps.
    fn blocklist(
        &self,
        words: &[Word],
        stdin: Option<&Word>,
        cwd: Option<&Path>,
        source: &str,
        depth: usize,
    ) -> Verdict {
        let Some((program, args)) = words.split_first() else {
            return Ok(());
        };
        let name = basename(&program.text);
        if let Some(rule) = self.policy.blocked.iter().find(|r| r.matches_command(name, args, cwd)) {
            return Err(blocked(rule, source));
        }
        if depth >= MAX_SCRIPT_DEPTH {
            return Ok(());
        }
        for inner in wrapped(words, stdin).into_iter().flatten() {
            match inner {
                Inner::Command { words, .. } => self.blocklist(&words, None, cwd, source, depth + 1)?,
                Inner::Script(text) => {
                    if let Ok(script) = syntax::parse_at(&text, depth + 1) {
                        for rule in &self.policy.blocked {
                            if rule.matches_script(&text, &script) {
                                return Err(blocked(rule, source));
                            }
                        }
                        for invocation in &script.commands {
                            self.blocklist(&invocation.words, invocation.stdin.as_ref(), cwd, source, depth + 1)?;
                        }
                    }
                }
                Inner::ScriptFile(_) => {}
            }
        }
        Ok(())
    }

    /// Allowlist rules for one command and everything it wraps.
    fn allowlist(
        &self,
        assignments: &[(String, Word)],
        words: &[Word],
        stdin: Option<&Word>,
        source: &str,
        depth: usize,
    ) -> Verdict {
        if let Some((name, _)) = assignments.iter().find(|(name, _)| changes_lookup(name)) {
            return Err(deny(
                "allowlist: environment",
                source,
                format!("the allowlist is set and assigning {name} changes which program runs"),
            ));
        }
        let Some((program, args)) = words.split_first() else {
            return Ok(());
        };
        if let Some(reason) = program.dynamic {
            return Err(deny(
                "allowlist: unjudgeable",
                source,
                format!(
                    "the allowlist is set and the command name {} is produced by {reason}, so the program cannot be \
                     known before it runs; write the program name literally",
                    program.raw
                ),
            ));
        }
        let name = program.text.as_str();
        if name.starts_with('/') && paths::reaches_into(Path::new(name), self.scope.writable_roots) {
            return Err(deny(
                "allowlist: program in a writable root",
                source,
                format!(
                    "the allowlist is set and {name} lies in a writable root, where a command can replace it between \
                     the check and the run; run the program by its own path"
                ),
            ));
        }
        if name == "read" && args.iter().any(|a| changes_lookup(&a.text)) {
            return Err(deny("allowlist: environment", source, "'read' would change which program runs".into()));
        }
        if !name.contains('/') && self.functions.iter().any(|f| f == name) {
            return Ok(());
        }
        let Some(entry) = self.policy.entry_for(program, args) else {
            if HARMLESS_BUILTINS.contains(&name) {
                return Ok(());
            }
            let allowed = self.policy.allowed_list();
            let what = if INDIRECT_BUILTINS.contains(&name) { " runs or changes other commands and" } else { "" };
            let args_hint =
                if self.policy.allowed.iter().any(|e| e.program == name) { " with these arguments" } else { "" };
            return Err(deny(
                "allowlist",
                source,
                format!("'{name}'{what} is not in the allowlist{args_hint} (allowed: {allowed})"),
            ));
        };
        if depth >= MAX_SCRIPT_DEPTH {
            return Err(deny(
                "allowlist: unjudgeable",
                source,
                "programs wrap each other too deeply to be checked".into(),
            ));
        }
        self.escape(program, args, source)?;
        let inners = wrapped(words, stdin).map_err(|reason| {
            deny(
                "allowlist: wrapper",
                source,
                format!("the allowlist is set and {reason}, so what it runs cannot be checked"),
            )
        })?;
        for inner in inners {
            match inner {
                Inner::Command { assignments, words, appended } => {
                    let inner = words.first().filter(|w| w.is_static()).map(|w| basename(&w.text));
                    if let Some(inner) = inner.filter(|p| appended && escapes::lookup(p).is_some()) {
                        return Err(deny(
                            "allowlist: wrapper",
                            source,
                            format!(
                                "{name} appends arguments read at run time to '{inner}', whose options can run \
                                 other programs, so they cannot be checked"
                            ),
                        ));
                    }
                    self.allowlist(&assignments, &words, None, source, depth + 1)?
                }
                Inner::ScriptFile(file) if entry.leading_args.is_empty() => {
                    return Err(deny(
                        "allowlist: script file",
                        source,
                        format!(
                            "'{name} {file}' runs a script file, which cannot be checked before it runs; an allowlist \
                             entry naming it ('{name} {file}') allows it"
                        ),
                    ));
                }
                Inner::ScriptFile(_) => {}
                Inner::Script(text) => {
                    let script = syntax::parse_at(&text, depth + 1).map_err(|error| {
                        deny("syntax", source, format!("the script given to {name} cannot be checked because {error}"))
                    })?;
                    let nested = Judge { functions: &script.functions, ..*self };
                    nested.script(&text, &script, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Escape options of an allowed program need an entry granting them.
    fn escape(&self, program: &Word, args: &[Word], source: &str) -> Verdict {
        let Some(row) = escapes::lookup(basename(&program.text)) else {
            return Ok(());
        };
        match escape_trigger(basename(&program.text), &row.kind, args) {
            Ok(None) => Ok(()),
            Ok(Some(trigger)) if self.policy.granted(&program.text, &trigger) => Ok(()),
            Ok(Some(trigger)) => Err(deny(
                &format!("escape: {} {trigger}", basename(&program.text)),
                source,
                format!(
                    "'{} {trigger}' can run other programs or write files ({}); it is allowed only by an allowlist \
                     entry '{} {trigger}'",
                    basename(&program.text),
                    row.note,
                    basename(&program.text)
                ),
            )),
            Err(reason) => Err(deny(
                "escape: unjudgeable",
                source,
                format!("the allowlist is set and {reason}, so its options cannot be checked ({})", row.note),
            )),
        }
    }

    /// A function may not take the name of a program or builtin.
    fn function_name(&self, name: &str) -> Verdict {
        let shadows = name.contains('/')
            || HARMLESS_BUILTINS.contains(&name)
            || INDIRECT_BUILTINS.contains(&name)
            || RESERVED.contains(&name)
            || self.policy.allowed.iter().any(|e| basename(&e.program) == name)
            || resolve_program(name).is_some();
        if shadows {
            return Err(deny(
                "allowlist: function",
                &format!("{name}() {{ … }}"),
                format!(
                    "the allowlist is set and the function '{name}' would shadow the program or builtin of that name"
                ),
            ));
        }
        Ok(())
    }

    /// Static output redirections must land in the writable roots.
    fn redirect_target(&self, target: &Word, source: &str, cwd: Option<&Path>) -> Verdict {
        if !target.is_static() {
            return Ok(());
        }
        let path = Path::new(&target.text);
        let absolute = match (path.is_absolute(), cwd) {
            (true, _) => path.to_path_buf(),
            (false, Some(cwd)) => cwd.join(path),
            (false, None) => return Ok(()),
        };
        if paths::within(&absolute, self.scope.writable_roots) {
            return Ok(());
        }
        let roots: Vec<String> = self.scope.writable_roots.iter().map(|r| r.display().to_string()).collect();
        Err(deny(
            "writable roots",
            source,
            format!(
                "the redirection writes {}, outside the directories commands may write ({}); write below the working \
                 directory instead",
                absolute.display(),
                roots.join(", ")
            ),
        ))
    }
}

/// For the blocklist, a word that is only a variable (`$x`, `"${x}"`,
/// `${x:-/}`) takes the literal value an earlier `x=/` gave it, or its
/// default when the variable was never set here.
fn substitute(words: &[Word], variables: &[(String, Option<String>)]) -> Vec<Word> {
    words
        .iter()
        .map(|word| {
            let raw = word.raw.trim_matches('"');
            let inner = raw.strip_prefix("${").and_then(|r| r.strip_suffix('}')).or_else(|| raw.strip_prefix('$'));
            let Some(inner) = inner.filter(|_| !word.is_static()) else {
                return word.clone();
            };
            let (name, default) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return word.clone();
            }
            match variables.iter().rev().find(|(known, _)| known == name) {
                Some((_, Some(value))) => Word::literal(value),
                Some((_, None)) => word.clone(),
                None => {
                    default.filter(|d| !d.contains(['$', '`', '\'', '"'])).map_or_else(|| word.clone(), Word::literal)
                }
            }
        })
        .collect()
}

/// What a wrapper, shell or escape option runs.
enum Inner {
    /// A command. `appended`: the wrapper adds arguments read at run time
    /// (`xargs`), so the command's options cannot all be seen.
    Command { assignments: Vec<(String, Word)>, words: Vec<Word>, appended: bool },
    /// A shell script given as text.
    Script(String),
    /// A script file run by a shell: only an entry naming it allows it.
    ScriptFile(String),
}

fn dynamic_argument(name: &str, arg: &Word) -> String {
    format!("the argument {} of {name} is produced by {}", arg.raw, arg.dynamic.unwrap_or("an expansion"))
}

/// The commands a program runs on behalf of its arguments, per the
/// [`escapes`] table. `Err` when they cannot be known statically.
fn wrapped(words: &[Word], stdin: Option<&Word>) -> Result<Vec<Inner>, String> {
    let Some((program, args)) = words.split_first() else {
        return Ok(Vec::new());
    };
    let Some(row) = program.is_static().then(|| escapes::lookup(basename(&program.text))).flatten() else {
        return Ok(Vec::new());
    };
    let name = basename(&program.text);
    match &row.kind {
        Kind::Wrapper { .. } => wrapped_command(name, &row.kind, args),
        Kind::Shell => shell_script(name, args, stdin).map(|script| script.into_iter().collect()),
        Kind::Options { runs_until, .. } if !runs_until.is_empty() => find_commands(name, runs_until, args),
        _ => Ok(Vec::new()),
    }
}

/// The command behind a wrapper's options (`timeout -s KILL 5 ls`).
fn wrapped_command(name: &str, kind: &Kind, args: &[Word]) -> Result<Vec<Inner>, String> {
    let Kind::Wrapper { value_options, skip, assignments: takes_assignments, refused, shell_option, joins_words } =
        kind
    else {
        return Ok(Vec::new());
    };
    let xargs = name == "xargs";
    let mut replace: Option<String> = None;
    let mut assignments = Vec::new();
    let mut skip = *skip;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !arg.is_static() {
            return Err(dynamic_argument(name, arg));
        }
        let text = arg.text.as_str();
        if text == "--" {
            i += 1;
            break;
        }
        if text.starts_with('-') && text.len() > 1 {
            if refused.iter().any(|o| escapes::uses_option(text, o)) {
                return Err(format!("{name} {text} splits or reads a command line of its own"));
            }
            if shell_option.is_some_and(|o| text == o) {
                let script = args.get(i + 1).ok_or_else(|| format!("{name} {text} has no script"))?;
                if !script.is_static() {
                    return Err(format!("the script of {name} {text} is produced by an expansion"));
                }
                return Ok(vec![Inner::Script(script.text.clone())]);
            }
            if xargs {
                if text == "-I" {
                    replace = args.get(i + 1).map(|w| w.text.clone());
                } else if let Some(value) = text.strip_prefix("--replace") {
                    replace = Some(value.strip_prefix('=').unwrap_or("{}").to_string());
                } else if let Some(value) = text.strip_prefix("-i").or_else(|| text.strip_prefix("-I")) {
                    replace = Some(if value.is_empty() { "{}".into() } else { value.to_string() });
                }
            }
            i += if value_options.contains(&text) { 2 } else { 1 };
            continue;
        }
        if *takes_assignments && is_assignment(text) {
            let (key, value) = text.split_once('=').unwrap_or((text, ""));
            let value = Word { raw: arg.raw.clone(), text: value.to_string(), ..Word::default() };
            assignments.push((key.to_string(), value));
            i += 1;
            continue;
        }
        if skip > 0 {
            skip -= 1;
            i += 1;
            continue;
        }
        break;
    }
    let mut rest = args.get(i..).unwrap_or_default().to_vec();
    if let Some(dynamic) = rest.iter().find(|w| !w.is_static()).filter(|_| *joins_words) {
        return Err(dynamic_argument(name, dynamic));
    }
    if let Some(replace) = replace.filter(|r| !r.is_empty()) {
        for word in rest.iter_mut().filter(|w| w.text.contains(replace.as_str())) {
            word.dynamic = Some("the xargs replacement string");
        }
    }
    if rest.is_empty() {
        return Ok(if assignments.is_empty() && !xargs {
            Vec::new()
        } else {
            vec![Inner::Command { assignments, words: Vec::new(), appended: false }]
        });
    }
    if *joins_words {
        let text: Vec<&str> = rest.iter().map(|w| w.text.as_str()).collect();
        return Ok(vec![Inner::Script(text.join(" "))]);
    }
    Ok(vec![Inner::Command { assignments, words: rest, appended: xargs }])
}

/// The commands of `find -exec … ;`, once per starting point with `{}`
/// standing for it (`find / -exec rm -rf {} +` removes `/`).
fn find_commands(name: &str, runs_until: &[&str], args: &[Word]) -> Result<Vec<Inner>, String> {
    let starts: Vec<&Word> = args
        .iter()
        .skip_while(|w| ["-H", "-L", "-P"].contains(&w.text.as_str()))
        .take_while(|w| !w.text.starts_with('-') && w.text != "(" && w.text != "!")
        .collect();
    let mut inners = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if runs_until.contains(&args[i].text.as_str()) {
            let end =
                args[i + 1..].iter().position(|w| w.text == ";" || w.text == "+").map_or(args.len(), |p| i + 1 + p);
            let command = &args[i + 1..end];
            if let Some(first) = command.first().filter(|w| !w.is_static()) {
                return Err(format!(
                    "the command of {name} {} is produced by {}",
                    args[i].text,
                    first.dynamic.unwrap_or("")
                ));
            }
            let dot = Word::literal(".");
            for start in if starts.is_empty() { vec![&dot] } else { starts.clone() } {
                let words = command.iter().map(|w| if w.text == "{}" { start.clone() } else { w.clone() }).collect();
                inners.push(Inner::Command { assignments: Vec::new(), words, appended: false });
            }
            i = end;
        }
        i += 1;
    }
    Ok(inners)
}

/// Options a shell may take without reading code from somewhere the policy
/// cannot see (`-i` reads a startup file, `--rcfile` names one).
const SAFE_SHELL_LETTERS: &str = "ceuxvfnsCabhmoBEHPT";

/// The script a shell will run: its `-c` string, the literal
/// here-document on its standard input, or a script file.
fn shell_script(name: &str, args: &[Word], stdin: Option<&Word>) -> Result<Option<Inner>, String> {
    let mut takes_command = false;
    let mut reads_stdin = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !arg.is_static() {
            return Err(dynamic_argument(name, arg));
        }
        let text = arg.text.as_str();
        if text == "--" || text == "-" {
            reads_stdin |= text == "-";
            i += 1;
            break;
        }
        if text.starts_with("--") {
            if !["--norc", "--noprofile", "--posix", "--noediting", "--restricted"].contains(&text) {
                return Err(format!("{name} {text} may read commands from a file the policy cannot see"));
            }
            i += 1;
            continue;
        }
        if (text.starts_with('-') || text.starts_with('+')) && text.len() > 1 {
            let letters = &text[1..];
            if let Some(letter) = letters.chars().find(|c| !SAFE_SHELL_LETTERS.contains(*c)) {
                return Err(format!("{name} -{letter} may read commands from a file the policy cannot see"));
            }
            takes_command |= letters.contains('c');
            reads_stdin |= letters.contains('s');
            i += if letters.contains('o') { 2 } else { 1 };
            continue;
        }
        break;
    }
    let operand = args.get(i);
    if takes_command {
        let script = operand.ok_or_else(|| format!("{name} -c has no script"))?;
        if !script.is_static() {
            return Err(dynamic_argument(name, script));
        }
        return Ok(Some(Inner::Script(script.text.clone())));
    }
    let stdin_names = ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"];
    match operand {
        Some(file) if !reads_stdin && !stdin_names.contains(&file.text.as_str()) => {
            return Ok(Some(Inner::ScriptFile(file.text.clone())));
        }
        _ => {}
    }
    match stdin {
        Some(body) if body.is_static() => Ok(Some(Inner::Script(body.text.clone()))),
        Some(_) => Err(format!("the standard input of {name} is expanded or redirected when it runs")),
        None => Err(format!("{name} reads its commands from standard input")),
    }
}

/// The escape option an allowed program uses, if any.
fn escape_trigger(name: &str, kind: &Kind, args: &[Word]) -> Result<Option<String>, String> {
    if let Some(arg) = args
        .iter()
        .find(|a| !a.is_static())
        .filter(|_| !matches!(kind, Kind::Wrapper { .. } | Kind::Shell | Kind::Interactive))
    {
        return Err(dynamic_argument(name, arg));
    }
    match kind {
        Kind::Interpreter { code_options, value_options } => {
            if args.iter().any(|a| ["--version", "-V", "--help", "-h"].contains(&a.text.as_str())) {
                return Ok(None);
            }
            let mut i = 0;
            while i < args.len() {
                let text = args[i].text.as_str();
                if let Some(option) = code_options.iter().find(|o| escapes::uses_option(text, o)) {
                    return Ok(Some(option.to_string()));
                }
                if text == "-" || !text.starts_with('-') {
                    return Ok((text == "-").then(|| "-".into()));
                }
                i += if value_options.contains(&text) { 2 } else { 1 };
            }
            Ok(Some("-".into()))
        }
        Kind::Options { triggers, global_triggers, bundled_first, .. } => {
            let mut operand_seen = false;
            for (i, arg) in args.iter().enumerate() {
                let text = if i == 0 && *bundled_first && !arg.text.starts_with('-') {
                    format!("-{}", arg.text)
                } else {
                    arg.text.clone()
                };
                let globals = global_triggers.iter().filter(|_| !operand_seen);
                if let Some(trigger) = triggers.iter().chain(globals).find(|t| escapes::uses_option(&text, t)) {
                    return Ok(Some(trigger.to_string()));
                }
                operand_seen |= !text.starts_with('-');
            }
            Ok(None)
        }
        Kind::Awk => awk_trigger(args),
        Kind::Sed => sed_trigger(args),
        Kind::Wrapper { .. } | Kind::Shell | Kind::Interactive => Ok(None),
    }
}

/// awk: a program from a file or an extension (`-f`, `-E`, `-W`, `-l`,
/// `-i`, `-e` and their long forms) cannot be read; the program text must
/// not call `system()` or open a pipe.
fn awk_trigger(args: &[Word]) -> Result<Option<String>, String> {
    const CODE_LETTERS: &str = "fEWlie";
    const CODE_LONG: &[&str] = &["--file", "--exec", "--load", "--include", "--source"];
    let system = || Ok(Some("system".to_string()));
    let mut i = 0;
    while i < args.len() {
        let text = args[i].text.as_str();
        if text == "--" {
            i += 1;
            break;
        }
        if text.starts_with("--") {
            if CODE_LONG.iter().any(|o| escapes::uses_option(text, o)) {
                return system();
            }
            i += if ["--assign", "--field-separator"].contains(&text) { 2 } else { 1 };
            continue;
        }
        if text.starts_with('-') && text.len() > 1 {
            for (at, letter) in text[1..].char_indices() {
                if letter == 'F' || letter == 'v' {
                    i += usize::from(text[1 + at + 1..].is_empty());
                    break;
                }
                if CODE_LETTERS.contains(letter) {
                    return system();
                }
            }
            i += 1;
            continue;
        }
        break;
    }
    match args.get(i) {
        Some(program) if escapes::awk_runs_commands(&program.text) => system(),
        _ => Ok(None),
    }
}

/// sed: the scripts given with `-e`, `--expression` or as the first
/// operand must not use `e` or `w`; a script file (`-f`) cannot be read.
fn sed_trigger(args: &[Word]) -> Result<Option<String>, String> {
    let mut scripts: Vec<&str> = Vec::new();
    // GNU getopt reads options after operands too (`sed p -e 'e id' f`):
    // every argument is read, the first operand kept in case no -e is given.
    let mut first_operand = None;
    let mut i = 0;
    while i < args.len() {
        let text = args[i].text.as_str();
        if text == "--" {
            first_operand = first_operand.or(args.get(i + 1).map(|w| w.text.as_str()));
            break;
        }
        if text.starts_with("--") {
            if escapes::uses_option(text, "--file") {
                return Ok(Some("e".into()));
            }
            if escapes::uses_option(text, "--expression") {
                match text.split_once('=') {
                    Some((_, script)) => scripts.push(script),
                    None => {
                        scripts.extend(args.get(i + 1).map(|w| w.text.as_str()));
                        i += 1;
                    }
                }
            } else if escapes::uses_option(text, "--line-length") && !text.contains('=') {
                i += 1;
            }
            i += 1;
            continue;
        }
        if text.starts_with('-') && text.len() > 1 {
            for (at, letter) in text[1..].char_indices() {
                let rest = &text[1 + at + letter.len_utf8()..];
                match letter {
                    'f' => return Ok(Some("e".into())),
                    'e' | 'l' => {
                        let value = if rest.is_empty() {
                            i += 1;
                            args.get(i).map_or("", |w| w.text.as_str())
                        } else {
                            rest
                        };
                        if letter == 'e' {
                            scripts.push(value);
                        }
                        break;
                    }
                    'i' => break,
                    _ => {}
                }
            }
            i += 1;
            continue;
        }
        first_operand = first_operand.or(Some(text));
        i += 1;
    }
    if scripts.is_empty() {
        scripts.extend(first_operand);
    }
    Ok(scripts.iter().find_map(|s| escapes::sed_trigger(s)).map(|letter| letter.to_string()))
}

fn compile_entry(text: &str) -> Result<AllowEntry, String> {
    let malformed = || format!("allowlist entry '{text}' is not a program with optional arguments");
    let script = syntax::parse(text).map_err(|_| malformed())?;
    let words = match script.commands.as_slice() {
        [command]
            if script.unjudgeable.is_empty()
                && script.output_redirects.is_empty()
                && command.assignments.is_empty()
                && command.words.iter().all(Word::is_static) =>
        {
            &command.words
        }
        _ => return Err(malformed()),
    };
    let Some((program, args)) = words.split_first() else {
        return Err(malformed());
    };
    let grants = match (escapes::lookup(basename(&program.text)), args) {
        (Some(row), [trigger]) if grantable(&row.kind, &trigger.text) => Some(trigger.text.clone()),
        _ => None,
    };
    Ok(AllowEntry {
        text: text.to_string(),
        program: program.text.clone(),
        resolved: resolve_program(&program.text),
        leading_args: if grants.is_some() { Vec::new() } else { args.iter().map(|a| a.text.clone()).collect() },
        grants,
    })
}

/// Whether `trigger` names an escape of a row, so that an entry
/// `PROGRAM TRIGGER` grants it.
fn grantable(kind: &Kind, trigger: &str) -> bool {
    match kind {
        Kind::Interpreter { code_options, .. } => trigger == "-" || code_options.contains(&trigger),
        Kind::Options { triggers, global_triggers, .. } => {
            triggers.contains(&trigger) || global_triggers.contains(&trigger)
        }
        Kind::Awk => trigger == "system",
        Kind::Sed => trigger == "e" || trigger == "w",
        Kind::Wrapper { .. } | Kind::Shell | Kind::Interactive => false,
    }
}

/// A program word matches an entry by name, or by real path when it is a
/// path (`/bin/ls` is `ls`, `/tmp/ls` is not); the entry's leading
/// arguments must follow it literally.
fn entry_matches(entry: &AllowEntry, program: &str, args: &[Word]) -> bool {
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
        && entry.leading_args.iter().zip(args).all(|(want, got)| got.is_static() && *want == got.text)
}

/// Resolves a program name through the daemon's `PATH` to its real path.
pub(crate) fn resolve_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return std::fs::canonicalize(program).ok();
    }
    if program.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .and_then(|found| std::fs::canonicalize(found).ok())
}

fn changes_lookup(name: &str) -> bool {
    LOOKUP_VARIABLES.contains(&name)
        || LOOKUP_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        || (name.starts_with("GIT_") && !GIT_HARMLESS.contains(&name))
}

fn is_assignment(text: &str) -> bool {
    text.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

pub(crate) fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn deny(rule: &str, command: &str, reason: String) -> Decision {
    Decision::Deny { rule: rule.to_string(), command: command.to_string(), reason }
}

fn blocked(rule: &BlockRule, command: &str) -> Decision {
    deny(
        &format!("blocklist: {}", rule.text()),
        command,
        format!("the command matches the blocklist entry '{}'", rule.text()),
    )
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
mod tests;
