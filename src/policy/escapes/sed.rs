//! sed: a script with the `e` (execute) command or flag runs commands, one
//! with `w` writes files; a script file (`-f`) cannot be read. The scripts
//! are found the way GNU getopt reads the arguments, then read command by
//! command.

use super::super::word::Word;
use super::{Kind, Row, uses_option};

pub(super) const ROW: Row = Row {
    names: &["sed", "gsed"],
    kind: Kind::Scanned { scan, triggers: &["e", "w"], reads: "script" },
    note: "the e command and flag run commands; w writes files",
};

/// The scripts given with `-e`, `--expression` or as the first
/// operand must not use `e` or `w`; a script file (`-f`) cannot be read.
fn scan(args: &[Word]) -> Result<Option<String>, String> {
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
            if uses_option(text, "--file") {
                return Ok(Some("e".into()));
            }
            if uses_option(text, "--expression") {
                match text.split_once('=') {
                    Some((_, script)) => scripts.push(script),
                    None => {
                        scripts.extend(args.get(i + 1).map(|w| w.text.as_str()));
                        i += 1;
                    }
                }
            } else if uses_option(text, "--line-length") && !text.contains('=') {
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
    Ok(scripts.iter().find_map(|s| trigger(s)).map(|letter| letter.to_string()))
}

/// The sed commands of a script that run commands (`e`) or write files
/// (`w`, `W`), including the `e` and `w` flags of `s`. Returns the trigger
/// letter found first. Unusual syntax counts as a trigger.
fn trigger(script: &str) -> Option<char> {
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let skip_regex = |i: &mut usize, delimiter: char| {
        while *i < chars.len() && chars[*i] != delimiter {
            if chars[*i] == '\\' {
                *i += 1;
            }
            *i += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | ';' | '{' | '}' | '!' | ',' | '$' | '0'..='9' | '~' | '+' => i += 1,
            '/' | '\\' => {
                let delimiter = if c == '/' { '/' } else { *chars.get(i + 1)? };
                i += if c == '/' { 1 } else { 2 };
                skip_regex(&mut i, delimiter);
                while i < chars.len() && matches!(chars[i], 'I' | 'M') {
                    i += 1;
                }
            }
            's' | 'y' => {
                let Some(&delimiter) = chars.get(i + 1) else { return Some(c) };
                if delimiter == '\n' || delimiter == '\\' {
                    return Some(c);
                }
                i += 2;
                skip_regex(&mut i, delimiter);
                skip_regex(&mut i, delimiter);
                while i < chars.len() && !matches!(chars[i], ';' | '\n' | '}') {
                    if c == 's' && matches!(chars[i], 'e' | 'w' | 'W') {
                        return Some(if chars[i] == 'e' { 'e' } else { 'w' });
                    }
                    i += 1;
                }
            }
            'e' => return Some('e'),
            'w' | 'W' => return Some('w'),
            'a' | 'i' | 'c' | 'r' | 'R' | 'b' | 't' | 'T' | ':' | 'q' | 'Q' | 'l' | 'L' | 'v' | 'F' | 'z' | '='
            | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x' | '#' => {
                let takes_rest_of_line = matches!(c, 'a' | 'i' | 'c' | 'r' | 'R' | '#' | ':' | 'b' | 't' | 'T' | 'v');
                i += 1;
                if takes_rest_of_line {
                    while i < chars.len()
                        && chars[i] != '\n'
                        && !(c != 'a' && c != 'i' && c != 'c' && c != '#' && chars[i] == ';')
                    {
                        i += 1;
                    }
                }
            }
            _ => return Some(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_scripts_that_execute_or_write_are_told_apart() {
        for script in ["e id", "1e id", "s/x/id/e", "s/x/y/w /tmp/o", "w /tmp/o", "/x/ { e id\n}", "s|a|b|ge"] {
            assert!(trigger(script).is_some(), "{script}");
        }
        for script in
            ["s/e/w/g", "s/a/b/", "/end/d", "y/abc/xyz/", "1,3p", "$!N;P;D", "s/\\/e/x/", "/foo/Id", "/a/I,/b/Mp"]
        {
            assert_eq!(trigger(script), None, "{script}");
        }
    }
}
