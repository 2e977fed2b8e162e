//! The scanners shared by many programs: an interpreter's code options
//! (`python3 -c`, `perl -e`, a script read from standard input) and the
//! escape options of a [`super::Kind::Options`] row, both read the way GNU getopt
//! reads options ([`uses_option`]).

use super::super::word::Word;

/// The code option an interpreter is given, `-` when it reads its code
/// from standard input, nothing when it runs a script file or only
/// prints its version or help.
pub(super) fn interpreter(args: &[Word], code_options: &[&str], value_options: &[&str]) -> Option<String> {
    if args.iter().any(|a| ["--version", "-V", "--help", "-h"].contains(&a.text.as_str())) {
        return None;
    }
    let mut i = 0;
    while i < args.len() {
        let text = args[i].text.as_str();
        if let Some(option) = code_options.iter().find(|o| uses_option(text, o)) {
            return Some(option.to_string());
        }
        if text == "-" || !text.starts_with('-') {
            return (text == "-").then(|| "-".into());
        }
        i += if value_options.contains(&text) { 2 } else { 1 };
    }
    Some("-".into())
}

/// The first escape option used: `triggers` anywhere, `global_triggers`
/// before the first operand; with `bundled_first`, a first argument
/// without a dash is read as a cluster of option letters.
pub(super) fn options(
    args: &[Word],
    triggers: &[&str],
    global_triggers: &[&str],
    bundled_first: bool,
) -> Option<String> {
    let mut operand_seen = false;
    for (i, arg) in args.iter().enumerate() {
        let text = if i == 0 && bundled_first && !arg.text.starts_with('-') {
            format!("-{}", arg.text)
        } else {
            arg.text.clone()
        };
        let globals = global_triggers.iter().filter(|_| !operand_seen);
        if let Some(trigger) = triggers.iter().chain(globals).find(|t| uses_option(&text, t)) {
            return Some(trigger.to_string());
        }
        operand_seen |= !text.starts_with('-');
    }
    None
}

/// Whether `arg` may use `option`, read the way GNU getopt reads it: a
/// long option also as `--option=value` and as any abbreviation
/// (`--to-comm` is `--to-command`); a one-letter option anywhere in a
/// cluster (`-iSid` holds `-S`), since what follows a value-taking letter
/// cannot be told apart from more letters without each program's table.
pub(crate) fn uses_option(arg: &str, option: &str) -> bool {
    if arg == option {
        return true;
    }
    if let Some(long) = option.strip_prefix("--") {
        let Some(given) = arg.strip_prefix("--") else {
            return false;
        };
        let name = given.split('=').next().unwrap_or(given);
        return !name.is_empty() && long.starts_with(name);
    }
    match option.as_bytes() {
        [b'-', letter] => {
            arg.len() > 1 && arg.starts_with('-') && !arg.starts_with("--") && arg.as_bytes()[1..].contains(letter)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_match_attached_values_but_not_lookalikes() {
        assert!(uses_option("-cprint(1)", "-c"));
        assert!(uses_option("-iSid", "-S"));
        assert!(uses_option("--to-command=id", "--to-command"));
        assert!(uses_option("--to-comm=id", "--to-command"));
        assert!(uses_option("--split", "--split-string"));
        assert!(!uses_option("--to-commander", "--to-command"));
        assert!(!uses_option("--color", "-c"));
        assert!(!uses_option("-", "-c"));
    }
}
