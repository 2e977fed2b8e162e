//! The programs that run other programs, and the options through which an
//! ordinary program does: the table operators read in
//! `list_allowed_commands` and in the README.
//!
//! It is data, not branches: each row names programs, how they run code
//! and the options (triggers) that make them do it. The policy reads it in
//! two ways. Under an allowlist, a wrapper, shell or interpreter runs only
//! when the operator listed it, and what it wraps is judged like any other
//! command; an escape option of an allowed program (`find -exec`) needs an
//! entry that grants it by name (`find -exec`). For the blocklist, the
//! wrapped command is unwrapped so `sudo rm -rf /` is still `rm -rf /`.
//!
//! [`runners`] holds the wrappers, shells, interpreters and pagers; each
//! program with escape options of its own has a file here (`find.rs`,
//! `git.rs`, `awk.rs`...) with its row and, when its options are more than
//! a list ([`Kind::Scanned`]), the scanner that reads them; [`options`]
//! reads the lists. A new program is a file with its `ROW`, declared
//! below and listed in [`PROGRAMS`], its tests beside its scanner.

mod awk;
mod find;
mod git;
mod options;
mod rsync;
mod runners;
mod sed;
mod sort;
mod ssh;
mod tar;
mod zip;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::word::{Dynamic, Word};
pub(crate) use options::uses_option;

/// The programs with escape options of their own, each row in its file,
/// in the order operators read them (after [`runners::RUNNERS`]).
const PROGRAMS: &[Row] =
    &[find::ROW, git::ROW, tar::ROW, sort::ROW, rsync::ROW, ssh::ROW, zip::ROW, awk::ROW, sed::ROW];

/// How a program runs code that the policy would not otherwise see.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Runs the command formed by its remaining words: skip the options
    /// (`value_options` take the next word as their value) and `skip`
    /// positional words (`timeout 5 …`). `NAME=value` words are
    /// assignments when `assignments`. `refused` options make the command
    /// unjudgeable (`env -S`). `shell_option` takes a shell script
    /// (`flock -c`, `su -c`). When `joins_words`, the remaining words are
    /// joined and run by a shell (`watch`).
    Wrapper {
        value_options: &'static [&'static str],
        skip: usize,
        assignments: bool,
        refused: &'static [&'static str],
        shell_option: Option<&'static str>,
        joins_words: bool,
    },
    /// A shell: `-c` takes a script; without a script file it reads
    /// commands from standard input.
    Shell,
    /// Runs code given by `code_options` or read from standard input when
    /// no script file is named.
    Interpreter { code_options: &'static [&'static str], value_options: &'static [&'static str] },
    /// An ordinary program with options that run commands or write files:
    /// `triggers` anywhere, `global_triggers` only before the first operand
    /// (git's subcommand). `runs_until` lists options followed by a command
    /// ending with `;` or `+` (`find -exec`). When `bundled_first`, a first
    /// argument without a dash is a cluster of option letters (`tar cIf`).
    Options {
        triggers: &'static [&'static str],
        global_triggers: &'static [&'static str],
        runs_until: &'static [&'static str],
        bundled_first: bool,
    },
    /// A program whose arguments a scanner of its own reads (awk's program
    /// text, sed's script): `scan` returns the trigger used, one of
    /// `triggers`, which an allowlist entry may grant; `reads` names what
    /// it reads, for operators. `Err` when an argument cannot be judged.
    Scanned {
        scan: fn(&[Word]) -> Result<Option<String>, String>,
        triggers: &'static [&'static str],
        reads: &'static str,
    },
    /// Pagers and editors: can start a shell from their own command line.
    Interactive,
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Row {
    /// Program names; a trailing `*` matches versioned names (`python3.11`).
    pub(crate) names: &'static [&'static str],
    pub(crate) kind: Kind,
    /// What the row is about, for operators.
    pub(crate) note: &'static str,
}

impl Row {
    /// The escape option `args` use, if any; `name` is the program's
    /// basename, for messages. `Err` when it cannot be known statically.
    pub(crate) fn trigger(&self, name: &str, args: &[Word]) -> Result<Option<String>, String> {
        let runs_others = matches!(self.kind, Kind::Wrapper { .. } | Kind::Shell | Kind::Interactive);
        if let Some(arg) = args.iter().find(|a| !a.is_static()).filter(|_| !runs_others) {
            return Err(dynamic_argument(name, arg));
        }
        match &self.kind {
            Kind::Interpreter { code_options, value_options } => {
                Ok(options::interpreter(args, code_options, value_options))
            }
            Kind::Options { triggers, global_triggers, bundled_first, .. } => {
                Ok(options::options(args, triggers, global_triggers, *bundled_first))
            }
            Kind::Scanned { scan, .. } => scan(args),
            Kind::Wrapper { .. } | Kind::Shell | Kind::Interactive => Ok(None),
        }
    }

    /// Whether `trigger` names an escape of this row, so that an allowlist
    /// entry `PROGRAM TRIGGER` grants it.
    pub(crate) fn grants(&self, trigger: &str) -> bool {
        match &self.kind {
            Kind::Interpreter { code_options, .. } => trigger == "-" || code_options.contains(&trigger),
            Kind::Options { triggers, global_triggers, .. } => {
                triggers.contains(&trigger) || global_triggers.contains(&trigger)
            }
            Kind::Scanned { triggers, .. } => triggers.contains(&trigger),
            Kind::Wrapper { .. } | Kind::Shell | Kind::Interactive => false,
        }
    }

    /// The commands this row's options run (`find -exec … ;`), each as its
    /// words; `Err` when one cannot be known statically.
    pub(crate) fn option_commands(&self, name: &str, args: &[Word]) -> Result<Vec<Vec<Word>>, String> {
        match &self.kind {
            Kind::Options { runs_until, .. } if !runs_until.is_empty() => find::commands(name, runs_until, args),
            _ => Ok(Vec::new()),
        }
    }
}

/// Every row: the runners, the programs, then the pagers and editors.
fn rows() -> impl Iterator<Item = &'static Row> {
    runners::RUNNERS.iter().chain(PROGRAMS).chain([&runners::INTERACTIVE])
}

/// Why an argument of `name` cannot be judged.
pub(crate) fn dynamic_argument(name: &str, arg: &Word) -> String {
    format!("the argument {} of {name} is produced by {}", arg.raw, arg.dynamic.map_or("an expansion", Dynamic::as_str))
}

/// The rows by program name: the exact names (the first row naming one
/// wins), then the versioned patterns (`python*`) in table order, each as
/// its prefix.
struct Index {
    exact: HashMap<&'static str, &'static Row, BuildHasherDefault<Fnv>>,
    versioned: Vec<(&'static str, &'static Row)>,
}

/// FNV-1a: program names are short and not chosen to collide (a collision
/// costs a comparison, never a wrong row), so SipHash's cost buys nothing.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3));
    }
}

/// The row for a program word's basename.
pub(crate) fn lookup(name: &str) -> Option<&'static Row> {
    static INDEX: LazyLock<Index> = LazyLock::new(|| {
        let mut index = Index { exact: HashMap::default(), versioned: Vec::new() };
        for row in rows() {
            for pattern in row.names {
                match pattern.strip_suffix('*') {
                    Some(prefix) => index.versioned.push((prefix, row)),
                    None => drop(index.exact.entry(*pattern).or_insert(row)),
                }
            }
        }
        index
    });
    if let Some(row) = INDEX.exact.get(name) {
        return Some(row);
    }
    INDEX.versioned.iter().find(|(prefix, _)| versioned_name(prefix, name)).map(|(_, row)| *row)
}

/// Whether `name` is `prefix` followed by a version (`python3.11`).
fn versioned_name(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The table as operators see it in `list_allowed_commands`.
pub(crate) fn describe() -> Value {
    rows()
        .map(|row| {
            let (kind, triggers): (&str, Vec<&str>) = match &row.kind {
                Kind::Wrapper { refused, shell_option, .. } => {
                    ("wrapper", refused.iter().copied().chain(shell_option.iter().copied()).collect())
                }
                Kind::Shell => ("shell", vec!["-c", "standard input"]),
                Kind::Interpreter { code_options, .. } => ("interpreter", code_options.to_vec()),
                Kind::Options { triggers, global_triggers, .. } => {
                    ("escape options", global_triggers.iter().chain(triggers.iter()).copied().collect())
                }
                Kind::Scanned { triggers, reads, .. } => (reads, triggers.to_vec()),
                Kind::Interactive => ("interactive", vec![]),
            };
            json!({ "programs": row.names, "kind": kind, "triggers": triggers, "note": row.note })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_interpreters_are_found() {
        assert!(matches!(lookup("python3.11").unwrap().kind, Kind::Interpreter { .. }));
        assert!(lookup("python3-config").is_none());
        assert!(matches!(lookup("find").unwrap().kind, Kind::Options { .. }));
        assert!(lookup("ls").is_none());
    }

    #[test]
    fn no_program_is_named_by_two_rows() {
        let mut seen = std::collections::HashSet::new();
        for name in rows().flat_map(|row| row.names.iter()) {
            assert!(seen.insert(name), "{name} is in two rows; only the first would be read");
        }
    }
}
