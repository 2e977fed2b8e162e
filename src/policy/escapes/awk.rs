//! awk: a program text that calls `system()` or opens a pipe runs
//! commands; a program from a file or an extension cannot be read. The
//! text is read the way awk reads it, so `system` or `|` inside a string,
//! a regular expression or a comment does not count.

use super::super::word::Word;
use super::{Kind, Row, uses_option};

pub(super) const ROW: Row = Row {
    names: &["awk", "gawk", "mawk", "nawk", "busybox-awk"],
    kind: Kind::Scanned { scan, triggers: &["system"], reads: "program text" },
    note: "system() and pipes in the program run commands",
};

/// A program from a file or an extension (`-f`, `-E`, `-W`, `-l`, `-i`,
/// `-e` and their long forms) cannot be read; the program text must not
/// call `system()` or open a pipe.
fn scan(args: &[Word]) -> Result<Option<String>, String> {
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
            if CODE_LONG.iter().any(|o| uses_option(text, o)) {
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
        Some(program) if runs_commands(&program.text) => system(),
        _ => Ok(None),
    }
}

/// Whether an awk program text can run commands: `system`, a `|` that is
/// not part of `||` (`print | "cmd"`, `"cmd" | getline`, gawk's `|&`), an
/// indirect call (gawk's `@name()`, which may name `system`) or a gawk
/// directive (`@load`, `@include`). The text is read the way awk reads it
/// ([`code`]); a program it cannot read (an unterminated string,
/// regular expression or bracket expression) counts as running commands.
pub(super) fn runs_commands(program: &str) -> bool {
    if program.contains("system") {
        return true;
    }
    let Some(code) = code(program) else { return true };
    let bytes = code.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'@' || (b == b'|' && bytes.get(i + 1) != Some(&b'|') && (i == 0 || bytes[i - 1] != b'|')))
}

/// An awk program with its comments removed and its string literals and
/// regular expressions blanked (`""`), following awk's lexical rules: a
/// `#` outside a literal starts a comment to the end of the line; a `"`
/// starts a string, `\` escaping the next character; a `/` starts a
/// regular expression where an operand may begin (after an operator, an
/// opening bracket, a comma, a newline or a keyword such as `print`), and
/// inside it a bracket expression (`[/]`, `[]/]`, `[[:alpha:]/]`) does not
/// end it. `None` when a literal does not end.
fn code(program: &str) -> Option<String> {
    const OPERAND_KEYWORDS: &[&str] = &["print", "printf", "return", "case", "in", "getline", "do", "else"];
    let chars: Vec<char> = program.chars().collect();
    let mut out = String::with_capacity(program.len());
    let mut i = 0;
    // Whether a `/` here would start a regular expression.
    let mut operand_expected = true;
    let mut word = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            out.push(c);
            i += 1;
            operand_expected = false;
            continue;
        }
        if !word.is_empty() {
            operand_expected = OPERAND_KEYWORDS.contains(&word.as_str());
            word.clear();
        }
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i)? {
                        '\\' => i += 2,
                        '"' => break,
                        '\n' => return None,
                        _ => i += 1,
                    }
                }
                i += 1;
                out.push_str("\"\"");
                operand_expected = false;
            }
            '/' if operand_expected => {
                i += 1;
                loop {
                    match chars.get(i)? {
                        '\\' => i += 2,
                        '/' => break,
                        '\n' => return None,
                        '[' => i = bracket_end(&chars, i)?,
                        _ => i += 1,
                    }
                }
                i += 1;
                out.push_str("\"\"");
                operand_expected = false;
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2, // a continued line
            '+' | '-' if !operand_expected && chars.get(i + 1) == Some(&c) => {
                // `x++ / 2`: a postfix increment leaves an operand.
                out.push(c);
                out.push(c);
                i += 2;
            }
            _ => {
                if !c.is_whitespace() || c == '\n' {
                    // After `)` or `]` (the end of an operand) a `/`
                    // divides; after anything else an operand begins.
                    operand_expected = !matches!(c, ')' | ']');
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The index just past the `]` that closes the bracket expression opening
/// at `start` in a regular expression: a `]` first (after an optional `^`)
/// is literal, `[:class:]`, `[.x.]` and `[=x=]` are skipped whole.
fn bracket_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    loop {
        match *chars.get(i)? {
            ']' => return Some(i + 1),
            '\n' => return None,
            '[' if matches!(chars.get(i + 1), Some(':' | '.' | '=')) => {
                let delimiter = chars[i + 1];
                i += 2;
                while !(chars.get(i)? == &delimiter && chars.get(i + 1) == Some(&']')) {
                    i += 1;
                }
                i += 2;
            }
            '\\' => i += 2,
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awk_programs_that_run_commands_are_told_apart() {
        assert!(runs_commands("BEGIN { system(\"id\") }"));
        assert!(runs_commands("{ print | \"sh\" }"));
        assert!(runs_commands("BEGIN { \"id\" | getline x }"));
        assert!(!runs_commands("{ print $1 }"));
        assert!(!runs_commands("$1 == 1 || $2 == 2 { print }"));
        assert!(!runs_commands("BEGIN { printf \"%s|%s\\n\", \"a\", \"b\" }"));
        assert!(!runs_commands("/foo|bar/ { print $1 \"|\" $2 }"));
        assert!(runs_commands("{ x = 4 / 2; print | \"sh\" }"));
        // Read as awk reads it: comments, brackets, escapes.
        assert!(runs_commands("# a \"quote\nBEGIN { print \"\" | \"id\" }"), "a quote in a comment");
        assert!(runs_commands("/[/]/ { print | \"id\" }"), "a slash in a bracket expression");
        assert!(runs_commands("/[]/]/ { print | \"id\" }"));
        assert!(runs_commands("/[[:alpha:]/]/ { print | \"id\" }"));
        assert!(runs_commands("BEGIN { s = \"\\\"\"; print s | \"id\" }"), "an escaped quote");
        assert!(runs_commands("BEGIN { f = \"sys\" \"tem\"; @f(\"id\") }"), "gawk's indirect call");
        assert!(runs_commands("BEGIN { print \"x\" |& \"id\" }"), "gawk's two-way pipe");
        assert!(runs_commands("BEGIN { print \"unterminated }"), "unreadable");
        assert!(runs_commands("/unterminated { print }"), "unreadable");
        assert!(runs_commands("@load \"x\""));
        assert!(!runs_commands("/^[a-c]+$/ { n++ } $0 ~ /[[:digit:]|]/ { d++ } END { print n, d }"));
        assert!(!runs_commands("{ print $1 / 2, \"a|b\" } # a | in a comment"));
        assert!(!runs_commands("{ a[i] / 2 } (x) / 3 { print \"/\" }"));
        assert!(runs_commands("{ x++ / 2; print | \"id\"; y = 1 / 2 }"), "a postfix increment, then a division");
    }
}
