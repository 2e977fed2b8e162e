//! Parses a command string into every simple command it can run, wherever
//! it sits in the tree, with its words, assignments, redirections and the
//! here-document or here-string fed to it.
//!
//! The parser is `brush-parser`, the parser of the brush shell: maintained,
//! MIT-licensed, synchronous, and it builds the full bash tree (lists,
//! pipelines, subshells, brace groups, `if`/`case`/loops, functions,
//! `coproc`, `[[ ]]`, arithmetic, process substitution, here-documents).
//! `yash-syntax` is POSIX-only, GPL-3.0 and asynchronous; `conch-parser`
//! has been unmaintained since 2018. Parsing the bash superset matters
//! because `MCP_SHELL` may be bash; where `sh` (dash) reads the same text
//! differently, the difference is reported as unjudgeable (`((…))` is
//! arithmetic in bash but two subshells in sh) or the word is dynamic
//! (`$'…'`), so the policy refuses rather than guess.
//!
//! Command substitutions are parsed recursively and their commands join
//! the list; so do the functions' bodies. Nothing here decides anything:
//! [`super`] judges what [`Script`] describes.
//!
//! Along the way: [`limits`] refuses what the parser cannot be trusted
//! with, [`walker`] walks the parser's tree into a [`Script`] ([`script`]),
//! [`source`] writes a command's text for messages, and [`super::word`]
//! reads each word; no piece reaches back.

mod limits;
mod script;
mod source;
mod walker;

pub(crate) use limits::MAX_SCRIPT_DEPTH;
pub(crate) use script::Script;

/// Parses `input` (which must already be size-checked).
pub(crate) fn parse(input: &str) -> Result<Script, String> {
    parse_at(input, 0)
}

/// Parses `input`, a script nested `depth` levels deep in substitutions
/// or `sh -c` strings.
pub(crate) fn parse_at(input: &str, depth: usize) -> Result<Script, String> {
    walker::walk(input, depth)
}

#[cfg(test)]
mod tests;
