//! The judge: walks a parsed command string's tree and decides each
//! simple command against the policy (allowlist, blocklist, lookup
//! variables, redirections, wrappers and escape options).

use std::borrow::Cow;
use std::path::Path;

use super::names::{HARMLESS_BUILTINS, INDIRECT_BUILTINS, RESERVED, basename, changes_lookup};
use super::syntax::{MAX_SCRIPT_DEPTH, Script};
use super::word::Word;
use super::wrappers::{Inner, wrapped};
use super::{Decision, Policy, Rule, Scope, blocked, deny, resolve_program};
use super::{escapes, paths, syntax};

/// Judges one command string: the policy, the call's scope, and the
/// functions the top-level script defines.
pub(super) struct Judge<'a> {
    pub(super) policy: &'a Policy,
    pub(super) scope: Scope<'a>,
    pub(super) functions: &'a [String],
}

pub(super) type Verdict = Result<(), Decision>;

impl Judge<'_> {
    pub(super) fn script(&self, raw: &str, script: &Script, depth: usize) -> Verdict {
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
                Rule::Unjudgeable,
                raw,
                format!(
                    "the allowlist is set and the command contains {construct}; this cannot be checked before it runs"
                ),
            ));
        }
        if let Some(construct) = script.bash_evaluation.as_ref().filter(|_| self.policy.bash_semantics) {
            return Err(deny(
                Rule::Unjudgeable,
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
    pub(super) fn blocklist(
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
    pub(super) fn allowlist(
        &self,
        assignments: &[(String, Word)],
        words: &[Word],
        stdin: Option<&Word>,
        source: &str,
        depth: usize,
    ) -> Verdict {
        if let Some((name, _)) = assignments.iter().find(|(name, _)| changes_lookup(name)) {
            return Err(deny(
                Rule::Environment,
                source,
                format!("the allowlist is set and assigning {name} changes which program runs"),
            ));
        }
        let Some((program, args)) = words.split_first() else {
            return Ok(());
        };
        if let Some(reason) = program.dynamic {
            return Err(deny(
                Rule::Unjudgeable,
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
                Rule::ProgramInWritableRoot,
                source,
                format!(
                    "the allowlist is set and {name} lies in a writable root, where a command can replace it between \
                     the check and the run; run the program by its own path"
                ),
            ));
        }
        if name == "read" && args.iter().any(|a| changes_lookup(&a.text)) {
            return Err(deny(Rule::Environment, source, "'read' would change which program runs".into()));
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
                Rule::NotAllowed,
                source,
                format!("'{name}'{what} is not in the allowlist{args_hint} (allowed: {allowed})"),
            ));
        };
        if depth >= MAX_SCRIPT_DEPTH {
            return Err(deny(Rule::Unjudgeable, source, "programs wrap each other too deeply to be checked".into()));
        }
        self.escape(program, args, source)?;
        let inners = wrapped(words, stdin).map_err(|reason| {
            deny(Rule::Wrapper, source, format!("the allowlist is set and {reason}, so what it runs cannot be checked"))
        })?;
        for inner in inners {
            match inner {
                Inner::Command { assignments, words, appended } => {
                    let inner = words.first().filter(|w| w.is_static()).map(|w| basename(&w.text));
                    if let Some(inner) = inner.filter(|p| appended && escapes::lookup(p).is_some()) {
                        return Err(deny(
                            Rule::Wrapper,
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
                        Rule::ScriptFile,
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
                        deny(
                            Rule::Syntax,
                            source,
                            format!("the script given to {name} cannot be checked because {error}"),
                        )
                    })?;
                    let nested = Judge { functions: &script.functions, ..*self };
                    nested.script(&text, &script, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Escape options of an allowed program need an entry granting them.
    pub(super) fn escape(&self, program: &Word, args: &[Word], source: &str) -> Verdict {
        let name = basename(&program.text);
        let Some(row) = escapes::lookup(name) else {
            return Ok(());
        };
        match row.trigger(name, args) {
            Ok(None) => Ok(()),
            Ok(Some(trigger)) if self.policy.granted(&program.text, &trigger) => Ok(()),
            Ok(Some(trigger)) => {
                let reason = format!(
                    "'{name} {trigger}' can run other programs or write files ({}); it is allowed only by an allowlist \
                     entry '{name} {trigger}'",
                    row.note
                );
                Err(deny(Rule::Escape { program: name.to_string(), trigger }, source, reason))
            }
            Err(reason) => Err(deny(
                Rule::EscapeUnjudgeable,
                source,
                format!("the allowlist is set and {reason}, so its options cannot be checked ({})", row.note),
            )),
        }
    }

    /// A function may not take the name of a program or builtin.
    pub(super) fn function_name(&self, name: &str) -> Verdict {
        let shadows = name.contains('/')
            || HARMLESS_BUILTINS.contains(&name)
            || INDIRECT_BUILTINS.contains(&name)
            || RESERVED.contains(&name)
            || self.policy.allowed.iter().any(|e| basename(&e.program) == name)
            || resolve_program(name).is_some();
        if shadows {
            return Err(deny(
                Rule::Function,
                &format!("{name}() {{ … }}"),
                format!(
                    "the allowlist is set and the function '{name}' would shadow the program or builtin of that name"
                ),
            ));
        }
        Ok(())
    }

    /// Static output redirections must land in the writable roots.
    pub(super) fn redirect_target(&self, target: &Word, source: &str, cwd: Option<&Path>) -> Verdict {
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
            Rule::WritableRoots,
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
/// Static words are returned as they are, without a copy.
pub(super) fn substitute<'w>(words: &'w [Word], variables: &[(String, Option<String>)]) -> Cow<'w, [Word]> {
    if words.iter().all(Word::is_static) {
        return Cow::Borrowed(words);
    }
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
        .collect::<Vec<_>>()
        .into()
}
