//! Allowlist entries: compiled from the operator's text (a program and
//! leading arguments, or the grant of one escape option such as
//! `find -exec`), and matched against a command's program and arguments.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use super::escapes;
use super::names::basename;
use super::syntax;
use super::word::Word;

/// An allowlist entry: a program and optional leading arguments, or a
/// grant of one escape option (`find -exec`).
#[derive(Debug, Clone)]
pub(super) struct AllowEntry {
    /// As the operator wrote it, for listings and messages.
    pub(super) text: String,
    /// Program name as written (`ls` or `/usr/bin/ls`).
    pub(super) program: String,
    /// Real path the name resolves to on this host, when it resolves.
    pub(super) resolved: Option<PathBuf>,
    /// Arguments that must follow the program word exactly.
    pub(super) leading_args: Vec<String>,
    /// The escape option this entry grants; then `leading_args` is empty.
    pub(super) grants: Option<String>,
}

pub(super) fn compile_entry(text: &str) -> Result<AllowEntry, String> {
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
        (Some(row), [trigger]) if row.grants(&trigger.text) => Some(trigger.text.clone()),
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

/// A command's program word as entries are matched against it: the real
/// path of an absolute one is looked up once, on first need, not once per
/// entry.
pub(super) struct ProgramWord<'a> {
    text: &'a str,
    real: OnceCell<Option<PathBuf>>,
}

impl<'a> ProgramWord<'a> {
    pub(super) fn new(text: &'a str) -> ProgramWord<'a> {
        ProgramWord { text, real: OnceCell::new() }
    }

    fn real(&self) -> Option<&PathBuf> {
        self.real.get_or_init(|| std::fs::canonicalize(self.text).ok()).as_ref()
    }
}

/// A program word matches an entry by name, or by real path when it is a
/// path (`/bin/ls` is `ls`, `/tmp/ls` is not); the entry's leading
/// arguments must follow it literally.
pub(super) fn entry_matches(entry: &AllowEntry, program: &ProgramWord<'_>, args: &[Word]) -> bool {
    let text = program.text;
    let same_program = if !text.contains('/') {
        text == entry.program
    } else if !text.starts_with('/') {
        false // relative to a directory the policy cannot know
    } else {
        let real = program.real();
        real.is_some() && (real == entry.resolved.as_ref() || Path::new(text) == Path::new(&entry.program))
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
