//! Which escape option of an allowed program a command uses, if any (awk's
//! `system`, sed's `e` and `w`, find's `-exec`, git's configuration
//! options...), read from the program's arguments.

use super::escapes::{self, Kind};
use super::word::Word;
use super::wrappers::dynamic_argument;

/// The escape option an allowed program uses, if any.
pub(super) fn escape_trigger(name: &str, kind: &Kind, args: &[Word]) -> Result<Option<String>, String> {
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
pub(super) fn awk_trigger(args: &[Word]) -> Result<Option<String>, String> {
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
pub(super) fn sed_trigger(args: &[Word]) -> Result<Option<String>, String> {
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
