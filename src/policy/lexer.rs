//! A conservative POSIX shell lexer that finds every simple command in a
//! command string, including those nested in `$(…)`, backticks, `<(…)`,
//! `>(…)`, subshells and brace groups.
//!
//! It does not build a syntax tree. It only has to answer two questions
//! safely: "which programs could this string start?" and "which files does
//! it redirect output to?". Whatever it cannot answer statically (a command
//! word produced by expansion, a function definition, `case`, a here-document
//! that expands) is reported as [`Lexed::unjudgeable`], and the policy
//! refuses such commands when an allowlist is set.

/// One simple command: its words after quote removal, and its redirections.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SimpleCommand {
    /// Leading `NAME=value` assignments.
    pub(crate) assignments: Vec<String>,
    /// The command word and its arguments, quotes removed.
    pub(crate) words: Vec<Word>,
    /// `(operator, target)` pairs such as `(">", "/dev/sda")`.
    pub(crate) redirects: Vec<(String, Word)>,
}

/// A word after quote removal.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) text: String,
    /// The word holds an unquoted or double-quoted expansion (`$x`,
    /// `$(…)`, backticks) or an unquoted glob character, so its run-time
    /// value is unknown.
    pub(crate) dynamic: bool,
}

/// Everything the lexer found.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    pub(crate) commands: Vec<SimpleCommand>,
    /// Constructs that cannot be judged statically, each described for the
    /// refusal message.
    pub(crate) unjudgeable: Vec<String>,
}

/// Words that open or close compound commands; they are not programs.
const RESERVED: &[&str] =
    &["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "in"];

/// Redirection operators the lexer models; anything else is unjudgeable.
const REDIRECTS: &[&str] = &["<", ">", ">>", "<<", "<<-", "<<<", "<&", ">&", "<>", ">|"];

/// One level of nesting: the command being built and the word in progress.
#[derive(Default)]
struct Frame {
    command: SimpleCommand,
    word: Word,
    /// The current word has started (even if empty, as in `''`).
    in_word: bool,
    /// A redirection operator waits for its target word.
    pending_redirect: Option<String>,
    /// What closes this frame: `)` or a backtick.
    closer: Option<char>,
    /// The frame was opened inside double quotes, which resume on close.
    resume_double_quote: bool,
    /// The frame is a substitution, part of a word of its parent (unlike a
    /// subshell, which stands alone).
    substitution: bool,
    /// The words of this command so far are the loop variable and list of a
    /// `for`, not programs.
    in_for_header: bool,
    /// The next word is the loop variable of a `for`.
    for_variable_pending: bool,
}

/// Lexes `input`. Never fails: malformed input (unbalanced quotes) is
/// reported as unjudgeable.
pub(crate) fn lex(input: &str) -> Lexed {
    let mut out = Lexed::default();
    let chars: Vec<char> = input.chars().collect();
    let mut stack: Vec<Frame> = vec![Frame::default()];
    let mut double_quoted = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let in_backticks = stack.iter().any(|f| f.closer == Some('`'));
        let frame = stack.last_mut().expect("the outer frame is never popped");
        if double_quoted {
            match c {
                '"' => double_quoted = false,
                '\\' if matches!(next, Some('$' | '`' | '"' | '\\' | '\n')) => {
                    frame.word.text.push(next.unwrap_or_default());
                    i += 1;
                }
                '$' if next == Some('(') && chars.get(i + 2) != Some(&'(') => {
                    frame.word.dynamic = true;
                    stack.push(Frame {
                        closer: Some(')'),
                        resume_double_quote: true,
                        substitution: true,
                        ..Frame::default()
                    });
                    double_quoted = false;
                    i += 2;
                    continue;
                }
                '`' => {
                    frame.word.dynamic = true;
                    stack.push(Frame {
                        closer: Some('`'),
                        resume_double_quote: true,
                        substitution: true,
                        ..Frame::default()
                    });
                    double_quoted = false;
                }
                '$' => {
                    frame.word.dynamic = true;
                    i = skip_parameter(&chars, i, &mut out);
                    continue;
                }
                _ => frame.word.text.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '\'' => {
                frame.in_word = true;
                match chars[i + 1..].iter().position(|&q| q == '\'') {
                    Some(len) => {
                        frame.word.text.extend(&chars[i + 1..i + 1 + len]);
                        i += len + 2;
                    }
                    None => {
                        out.unjudgeable.push("an unterminated single quote".into());
                        break;
                    }
                }
                continue;
            }
            '"' => {
                frame.in_word = true;
                double_quoted = true;
            }
            '\\' if in_backticks => {
                out.unjudgeable.push("a backslash inside backticks".into());
                frame.in_word = true;
                i += 1;
            }
            '\\' => {
                frame.in_word = true;
                if let Some(n) = next {
                    if n != '\n' {
                        frame.word.text.push(n);
                    }
                    i += 1;
                }
            }
            '#' if !frame.in_word && in_backticks => {
                out.unjudgeable.push("a comment inside backticks".into());
                frame.in_word = true;
                frame.word.text.push(c);
            }
            '#' if !frame.in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '$' if next == Some('(') && chars.get(i + 2) == Some(&'(') => {
                frame.in_word = true;
                frame.word.dynamic = true;
                i = skip_arithmetic(&chars, i + 3, &mut out);
                continue;
            }
            '$' if next == Some('(') => {
                frame.in_word = true;
                frame.word.dynamic = true;
                stack.push(Frame { closer: Some(')'), substitution: true, ..Frame::default() });
                i += 2;
                continue;
            }
            '$' => {
                frame.in_word = true;
                frame.word.dynamic = true;
                i = skip_parameter(&chars, i, &mut out);
                continue;
            }
            '`' if frame.closer == Some('`') => {
                let resume = close_frame(&mut stack, &mut out);
                double_quoted = resume;
            }
            '`' => {
                frame.in_word = true;
                frame.word.dynamic = true;
                stack.push(Frame { closer: Some('`'), substitution: true, ..Frame::default() });
            }
            '<' | '>' if next == Some('(') => {
                frame.in_word = true;
                frame.word.dynamic = true;
                stack.push(Frame { closer: Some(')'), substitution: true, ..Frame::default() });
                i += 2;
                continue;
            }
            '<' | '>' => {
                i = lex_redirect(&chars, i, &mut stack, &mut out);
                continue;
            }
            '(' => {
                end_word(frame, &mut out);
                if frame.command.words.is_empty() && frame.command.assignments.is_empty() {
                    stack.push(Frame { closer: Some(')'), ..Frame::default() });
                } else {
                    out.unjudgeable.push("a function definition".into());
                    end_command(frame, &mut out);
                }
            }
            ')' if frame.closer == Some(')') => {
                let resume = close_frame(&mut stack, &mut out);
                double_quoted = resume;
            }
            ';' | '&' | '|' | '\n' | ')' => {
                end_command(frame, &mut out);
            }
            ' ' | '\t' => end_word(frame, &mut out),
            '*' | '?' | '[' => {
                frame.in_word = true;
                frame.word.dynamic = true;
                frame.word.text.push(c);
            }
            _ => {
                frame.in_word = true;
                frame.word.text.push(c);
            }
        }
        i += 1;
    }
    if double_quoted {
        out.unjudgeable.push("an unterminated double quote".into());
    }
    if stack.len() > 1 {
        out.unjudgeable.push("an unterminated substitution or subshell".into());
    }
    while let Some(mut frame) = stack.pop() {
        end_command(&mut frame, &mut out);
    }
    out
}

/// Closes the innermost frame; returns whether double quotes resume.
fn close_frame(stack: &mut Vec<Frame>, out: &mut Lexed) -> bool {
    let mut frame = stack.pop().expect("only called on a nested frame");
    end_command(&mut frame, out);
    if let Some(parent) = stack.last_mut()
        && frame.substitution
    {
        parent.in_word = true;
    }
    frame.resume_double_quote
}

/// Handles `<`, `>`, `>>`, `>|`, `<>`, `<&`, `>&`, `&>`-less forms and
/// here-documents; an fd number before the operator was already lexed as a
/// word and is dropped here.
fn lex_redirect(chars: &[char], start: usize, stack: &mut [Frame], out: &mut Lexed) -> usize {
    let frame = stack.last_mut().expect("there is always a frame");
    if frame.in_word && frame.word.text.chars().all(|d| d.is_ascii_digit()) && !frame.word.dynamic {
        frame.word = Word::default();
        frame.in_word = false;
    } else {
        end_word(frame, out);
    }
    let mut end = start + 1;
    while end < chars.len() && matches!(chars[end], '<' | '>' | '&' | '|' | '-') && end - start < 3 {
        end += 1;
    }
    let op: String = chars[start..end].iter().collect();
    if !REDIRECTS.contains(&op.as_str()) {
        out.unjudgeable.push(format!("the redirection operator '{op}'"));
    }
    if op.starts_with("<<") && !op.starts_with("<<<") {
        out.unjudgeable.push("a here-document".into());
    }
    frame.pending_redirect = Some(op);
    end
}

fn end_word(frame: &mut Frame, out: &mut Lexed) {
    if !frame.in_word {
        return;
    }
    let word = std::mem::take(&mut frame.word);
    frame.in_word = false;
    if let Some(op) = frame.pending_redirect.take() {
        frame.command.redirects.push((op, word));
        return;
    }
    if frame.in_for_header {
        if std::mem::take(&mut frame.for_variable_pending) {
            frame.command.assignments.push(format!("{}=", word.text));
        } else if !word.dynamic && word.text == "do" {
            frame.in_for_header = false;
        }
        return;
    }
    let command = &mut frame.command;
    if command.words.is_empty() {
        if is_assignment(&word) {
            command.assignments.push(word.text);
            return;
        }
        if !word.dynamic && RESERVED.contains(&word.text.as_str()) {
            return;
        }
        if !word.dynamic && word.text == "for" {
            frame.in_for_header = true;
            frame.for_variable_pending = true;
            return;
        }
        if !word.dynamic && (word.text == "case" || word.text == "select") {
            out.unjudgeable.push(format!("a {} statement", word.text));
        }
    }
    frame.command.words.push(word);
}

fn end_command(frame: &mut Frame, out: &mut Lexed) {
    end_word(frame, out);
    frame.in_for_header = false;
    frame.pending_redirect = None;
    let command = std::mem::take(&mut frame.command);
    if !command.words.is_empty() || !command.redirects.is_empty() || !command.assignments.is_empty() {
        out.commands.push(command);
    }
}

fn is_assignment(word: &Word) -> bool {
    match word.text.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Skips `$name`, `${…}`, `$1`, `$?` and the like; returns the next index.
fn skip_parameter(chars: &[char], dollar: usize, out: &mut Lexed) -> usize {
    let mut i = dollar + 1;
    match chars.get(i) {
        Some('{') => {
            let mut depth = 0;
            while i < chars.len() {
                match chars[i] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    '$' | '`' => out.unjudgeable.push("a substitution inside ${…}".into()),
                    '\'' | '"' | '\\' => out.unjudgeable.push("quoting inside ${…}".into()),
                    _ => {}
                }
                i += 1;
            }
            out.unjudgeable.push("an unterminated ${…}".into());
            i
        }
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            i
        }
        Some(c) if c.is_ascii_digit() || "?#$!@*-".contains(*c) => i + 1,
        _ => i,
    }
}

/// Skips the body of `$((…))`; a substitution inside it is unjudgeable.
fn skip_arithmetic(chars: &[char], start: usize, out: &mut Lexed) -> usize {
    let mut depth = 2;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            '`' => out.unjudgeable.push("a substitution inside $((…))".into()),
            '\'' | '"' | '\\' => out.unjudgeable.push("quoting inside $((…))".into()),
            '$' if chars.get(i + 1) == Some(&'(') => out.unjudgeable.push("a substitution inside $((…))".into()),
            _ => {}
        }
        i += 1;
    }
    out.unjudgeable.push("an unterminated $((…))".into());
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(input: &str) -> Vec<String> {
        lex(input).commands.iter().filter_map(|c| c.words.first().map(|w| w.text.clone())).collect()
    }

    #[test]
    fn every_list_and_pipeline_element_is_a_command() {
        assert_eq!(programs("echox; cat /etc/shadow"), ["echox", "cat"]);
        assert_eq!(programs("a && b || c | d & e\nf"), ["a", "b", "c", "d", "e", "f"]);
    }

    #[test]
    fn substitutions_and_subshells_are_searched() {
        assert_eq!(programs("echo $(id)"), ["id", "echo"]);
        assert_eq!(programs("echo \"x $(id -u) y\""), ["id", "echo"]);
        assert_eq!(programs("echo `whoami`"), ["whoami", "echo"]);
        assert_eq!(programs("(cd /; ls) && { pwd; }"), ["cd", "ls", "pwd"]);
        assert_eq!(programs("diff <(ls a) >(cat)"), ["ls", "cat", "diff"]);
    }

    #[test]
    fn quotes_are_removed_before_matching() {
        assert_eq!(programs("r''m -rf /"), ["rm"]);
        assert_eq!(programs("\"r\"m x"), ["rm"]);
        assert_eq!(programs("\\rm x"), ["rm"]);
        let lexed = lex("echo 'a;b' \"c|d\"");
        assert_eq!(lexed.commands.len(), 1);
        assert_eq!(lexed.commands[0].words[1].text, "a;b");
    }

    #[test]
    fn assignments_reserved_words_and_loops_are_not_programs() {
        assert_eq!(programs("FOO=1 ls"), ["ls"]);
        assert_eq!(programs("if true; then ls; fi"), ["true", "ls"]);
        assert_eq!(programs("for f in a b; do cat $f; done"), ["cat"]);
        assert_eq!(programs("while read x; do echo; done"), ["read", "echo"]);
    }

    #[test]
    fn expansions_in_command_position_are_dynamic() {
        let lexed = lex("$x -rf /");
        assert!(lexed.commands[0].words[0].dynamic);
        let lexed = lex("/bin/l? /");
        assert!(lexed.commands[0].words[0].dynamic);
    }

    #[test]
    fn redirections_are_collected_with_their_targets() {
        let lexed = lex("echo hi > /dev/sda 2>&1");
        let command = &lexed.commands[0];
        assert_eq!(command.words.len(), 2);
        assert_eq!(command.redirects[0].0, ">");
        assert_eq!(command.redirects[0].1.text, "/dev/sda");
        assert_eq!(command.redirects[1].0, ">&");
    }

    #[test]
    fn constructs_where_lexer_and_shell_could_disagree_are_unjudgeable() {
        for input in [
            "echo `echo \\`id\\``",
            "echo ${x-'}'}; id #'",
            "echo hi >-|id",
            "echo hi >-& id",
            "echo `#` ; id\n`",
            "echo $(( '1' ))",
        ] {
            assert!(!lex(input).unjudgeable.is_empty(), "{input}");
        }
        assert_eq!(programs("echo hi\r#;id"), ["echo", "id"], "a carriage return is not a blank");
    }

    #[test]
    fn for_loops_without_in_and_loop_variables_are_seen() {
        assert_eq!(programs("for x do id; done"), ["id"]);
        let lexed = lex("for PATH in /tmp/evil; do ls; done");
        assert!(lexed.commands.iter().any(|c| c.assignments.iter().any(|a| a == "PATH=")));
    }

    #[test]
    fn unjudgeable_constructs_are_reported() {
        assert!(!lex("f() { ls; }").unjudgeable.is_empty());
        assert!(!lex("case x in a) ls;; esac").unjudgeable.is_empty());
        assert!(!lex("cat <<EOF\n$(id)\nEOF").unjudgeable.is_empty());
        assert!(!lex("echo 'open").unjudgeable.is_empty());
        assert!(!lex("echo $((1 + $(id -u)))").unjudgeable.is_empty());
        assert!(lex("echo $((1 + 2))").unjudgeable.is_empty());
    }
}
