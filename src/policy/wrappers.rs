//! What wrappers run: the commands a wrapper, shell or program with an
//! escape option (per the [`escapes`] table) runs on behalf of its
//! arguments, or why that cannot be known statically.

use super::escapes::{self, Kind, dynamic_argument};
use super::names::{basename, is_assignment};
use super::word::{Dynamic, Word};

/// What a wrapper, shell or escape option runs.
pub(super) enum Inner {
    /// A command. `appended`: the wrapper adds arguments read at run time
    /// (`xargs`), so the command's options cannot all be seen.
    Command { assignments: Vec<(String, Word)>, words: Vec<Word>, appended: bool },
    /// A shell script given as text.
    Script(String),
    /// A script file run by a shell: only an entry naming it allows it.
    ScriptFile(String),
}

/// The commands a program runs on behalf of its arguments, per the
/// [`escapes`] table. `Err` when they cannot be known statically.
pub(super) fn wrapped(words: &[Word], stdin: Option<&Word>) -> Result<Vec<Inner>, String> {
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
        Kind::Options { .. } => Ok(row
            .option_commands(name, args)?
            .into_iter()
            .map(|words| Inner::Command { assignments: Vec::new(), words, appended: false })
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// The command behind a wrapper's options (`timeout -s KILL 5 ls`).
pub(super) fn wrapped_command(name: &str, kind: &Kind, args: &[Word]) -> Result<Vec<Inner>, String> {
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
            word.dynamic = Some(Dynamic::XargsReplacement);
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

/// Options a shell may take without reading code from somewhere the policy
/// cannot see (`-i` reads a startup file, `--rcfile` names one).
pub(super) const SAFE_SHELL_LETTERS: &str = "ceuxvfnsCabhmoBEHPT";

/// The script a shell will run: its `-c` string, the literal
/// here-document on its standard input, or a script file.
pub(super) fn shell_script(name: &str, args: &[Word], stdin: Option<&Word>) -> Result<Option<Inner>, String> {
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
