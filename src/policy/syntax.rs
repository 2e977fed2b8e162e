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

use brush_parser::ast::{
    self, Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList, ExtendedTestExpr, IoFileRedirectTarget,
    IoRedirect, SeparatorOperator,
};
use brush_parser::{Parser, ParserOptions};

use super::word::{Word, analyze, analyze_heredoc};

/// Deepest bracket nesting parsed; deeper input is refused before the
/// recursive-descent parser could exhaust the stack.
const MAX_NESTING: usize = 48;

/// Deepest nesting of parentheses: the parser backtracks between `((`
/// arithmetic and nested subshells, in time doubling with each unclosed
/// level (24 take 0.3 s, 16 take 6 ms), so the bound is what keeps one command from
/// holding a CPU.
const MAX_PAREN_NESTING: usize = 12;

/// Deepest nesting of array subscripts inside `${...}` expansions (see
/// [`subscript_nesting`]).
const MAX_SUBSCRIPT_NESTING: usize = 2;

/// Deepest nesting of command substitutions and `sh -c` strings.
pub(crate) const MAX_SCRIPT_DEPTH: usize = 8;

/// One simple command.
#[derive(Debug, Clone, Default)]
pub(crate) struct Invocation {
    /// Leading `NAME=value` words.
    pub(crate) assignments: Vec<(String, Word)>,
    /// The command word and its arguments.
    pub(crate) words: Vec<Word>,
    /// The body of a here-document or here-string on its standard input.
    pub(crate) stdin: Option<Word>,
    /// The command as written, for messages.
    pub(crate) source: String,
}

/// A redirection that opens a file for writing.
#[derive(Debug, Clone)]
pub(crate) struct OutputRedirect {
    pub(crate) target: Word,
    /// The redirection as written, for messages.
    pub(crate) source: String,
}

/// Everything a command string can do, as far as it can be known
/// before it runs.
#[derive(Debug, Default)]
pub(crate) struct Script {
    /// Every simple command, in source order, substitutions and function
    /// bodies included.
    pub(crate) commands: Vec<Invocation>,
    /// Every redirection that writes a file.
    pub(crate) output_redirects: Vec<OutputRedirect>,
    /// Names of the functions the script defines.
    pub(crate) functions: Vec<String>,
    /// Constructs that cannot be judged statically, described for the
    /// refusal message.
    pub(crate) unjudgeable: Vec<String>,
    /// Bash-only constructs that `sh` (dash) reads differently: judged
    /// as parsed when the shell is bash, unjudgeable otherwise.
    pub(crate) unjudgeable_in_sh: Vec<String>,
    /// The first construct through which bash evaluates a variable's text
    /// as an expression (arithmetic on variables, `${!x}`, `[[ -eq ]]`,
    /// `read 'a[…]'`), running any `$(…)` hidden in an array subscript.
    pub(crate) bash_evaluation: Option<String>,
    /// Calls made inside function bodies: (caller, callee, whether in a
    /// pipeline or in the background).
    calls: Vec<(String, String, bool)>,
}

impl Script {
    /// A function that, directly or through others, calls itself in a
    /// pipeline or in the background: a fork bomb, whatever its name.
    pub(crate) fn fork_bomb(&self) -> Option<&str> {
        let reaches = |from: &str, to: &str| {
            let mut seen = vec![from];
            let mut index = 0;
            while index < seen.len() {
                if seen[index] == to {
                    return true;
                }
                for (caller, callee, _) in &self.calls {
                    if caller == seen[index] && !seen.contains(&callee.as_str()) {
                        seen.push(callee);
                    }
                }
                index += 1;
            }
            false
        };
        self.calls
            .iter()
            .find(|(caller, callee, spawned)| *spawned && self.functions.contains(callee) && reaches(callee, caller))
            .map(|(caller, _, _)| caller.as_str())
    }
}

/// Builtins through which bash evaluates a name that may carry an array
/// subscript (`read 'a[$(id)]'`).
const NAME_EVALUATING_BUILTINS: &[&str] =
    &["read", "printf", "unset", "mapfile", "readarray", "declare", "typeset", "local", "export", "readonly", "let"];

/// Parses `input` (which must already be size-checked).
pub(crate) fn parse(input: &str) -> Result<Script, String> {
    parse_at(input, 0)
}

pub(crate) fn parse_at(input: &str, depth: usize) -> Result<Script, String> {
    let mut walker = Walker { options: ParserOptions::default(), script: Script::default(), depth, function: None };
    walker.parse_into(input)?;
    Ok(walker.script)
}

struct Walker {
    options: ParserOptions,
    script: Script,
    /// Nesting of the script being walked inside command substitutions.
    depth: usize,
    /// The function whose body is being walked.
    function: Option<String>,
}

/// Where a command sits, for fork-bomb detection.
#[derive(Clone, Copy, Default)]
struct Place {
    in_pipeline: bool,
    in_background: bool,
}

impl Walker {
    fn parse_into(&mut self, input: &str) -> Result<(), String> {
        if self.depth > MAX_SCRIPT_DEPTH {
            return Err(format!("command substitutions are nested more than {MAX_SCRIPT_DEPTH} deep"));
        }
        let lone_cr = input.match_indices('\r').any(|(at, _)| !input[at + 1..].starts_with('\n'));
        let control = input.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
        if let Some(control) = control.or(lone_cr.then_some('\r')) {
            return Err(format!(
                "it contains the control character U+{:04X}, which terminals do not show and the shell parser \
                 mishandles; write it with printf or $'\\x{:02x}' instead",
                control as u32, control as u32
            ));
        }
        let (brackets, parens) = nesting(input);
        if brackets > MAX_NESTING || parens > MAX_PAREN_NESTING {
            return Err(format!(
                "brackets are nested more than {MAX_NESTING} deep, or parentheses more than {MAX_PAREN_NESTING} (counting unclosed ones)"
            ));
        }
        if subscript_nesting(input) > MAX_SUBSCRIPT_NESTING {
            return Err(format!(
                "array subscripts are nested more than {MAX_SUBSCRIPT_NESTING} deep inside ${{...}} expansions \
                 (counting unclosed ones); split the command"
            ));
        }
        let program = super::names::guarded(|| {
            Parser::new(std::io::Cursor::new(input.as_bytes()), &self.options)
                .parse_program()
                .map_err(|e| format!("it is not valid shell syntax ({})", describe_parse_error(&e)))
        })?;
        for list in &program.complete_commands {
            self.list(list, Place::default())?;
        }
        Ok(())
    }

    fn nested(&mut self, sources: Vec<String>) -> Result<(), String> {
        for source in sources {
            self.depth += 1;
            let result = self.parse_into(&source);
            self.depth -= 1;
            result?;
        }
        Ok(())
    }

    fn word(&mut self, raw: &str) -> Result<Word, String> {
        let mut nested = Vec::new();
        let word = analyze(raw, &self.options, &mut nested)?;
        if let Some(construct) = &word.ambiguous {
            self.script.unjudgeable.push(construct.clone());
        }
        if let Some(construct) = &word.bash_only {
            self.script.unjudgeable_in_sh.push(construct.clone());
        }
        if let Some(construct) = &word.evaluates {
            self.script.bash_evaluation.get_or_insert_with(|| construct.clone());
        }
        if raw.contains("$[") {
            self.script.bash_evaluation.get_or_insert_with(|| format!("the arithmetic {raw}"));
        }
        self.nested(nested)?;
        Ok(word)
    }

    fn list(&mut self, list: &CompoundList, place: Place) -> Result<(), String> {
        for ast::CompoundListItem(and_or, separator) in &list.0 {
            let place =
                Place { in_background: place.in_background || matches!(separator, SeparatorOperator::Async), ..place };
            self.pipeline(&and_or.first, place)?;
            for next in &and_or.additional {
                let (ast::AndOr::And(pipeline) | ast::AndOr::Or(pipeline)) = next;
                self.pipeline(pipeline, place)?;
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, pipeline: &ast::Pipeline, place: Place) -> Result<(), String> {
        let place = Place { in_pipeline: place.in_pipeline || pipeline.seq.len() > 1, ..place };
        for command in &pipeline.seq {
            self.command(command, place)?;
        }
        Ok(())
    }

    fn command(&mut self, command: &Command, place: Place) -> Result<(), String> {
        match command {
            Command::Simple(simple) => self.simple(simple, place),
            Command::Compound(compound, redirects) => {
                self.compound(compound, place)?;
                for redirect in redirects.iter().flat_map(|r| r.0.iter()) {
                    self.redirect(redirect, &mut None)?;
                }
                Ok(())
            }
            Command::Function(definition) => {
                let name = definition.fname.value.clone();
                self.script.functions.push(name.clone());
                let outer = self.function.replace(name);
                let result = self.compound(&definition.body.0, Place::default());
                self.function = outer;
                result?;
                for redirect in definition.body.1.iter().flat_map(|r| r.0.iter()) {
                    self.redirect(redirect, &mut None)?;
                }
                Ok(())
            }
            Command::ExtendedTest(test, redirects) => {
                self.extended_test(&test.expr)?;
                for redirect in redirects.iter().flat_map(|r| r.0.iter()) {
                    self.redirect(redirect, &mut None)?;
                }
                Ok(())
            }
        }
    }

    fn extended_test(&mut self, expr: &ExtendedTestExpr) -> Result<(), String> {
        match expr {
            ExtendedTestExpr::And(a, b) | ExtendedTestExpr::Or(a, b) => {
                self.extended_test(a)?;
                self.extended_test(b)
            }
            ExtendedTestExpr::Not(inner) | ExtendedTestExpr::Parenthesized(inner) => self.extended_test(inner),
            ExtendedTestExpr::UnaryTest(predicate, word) => {
                use ast::UnaryPredicate as Unary;
                if matches!(predicate, Unary::ShellVariableIsSetAndAssigned | Unary::ShellVariableIsSetAndNameRef) {
                    self.script.bash_evaluation.get_or_insert_with(|| format!("[[ {predicate} {word} ]]"));
                }
                self.word(&word.value).map(drop)
            }
            ExtendedTestExpr::BinaryTest(predicate, left, right) => {
                use ast::BinaryPredicate as Binary;
                let arithmetic = matches!(
                    predicate,
                    Binary::ArithmeticEqualTo
                        | Binary::ArithmeticNotEqualTo
                        | Binary::ArithmeticLessThan
                        | Binary::ArithmeticLessThanOrEqualTo
                        | Binary::ArithmeticGreaterThan
                        | Binary::ArithmeticGreaterThanOrEqualTo
                );
                if arithmetic {
                    self.script.bash_evaluation.get_or_insert_with(|| format!("[[ {left} {predicate} {right} ]]"));
                }
                self.word(&left.value)?;
                self.word(&right.value).map(drop)
            }
        }
    }

    fn compound(&mut self, compound: &CompoundCommand, place: Place) -> Result<(), String> {
        match compound {
            CompoundCommand::Arithmetic(arithmetic) => {
                self.script.unjudgeable_in_sh.push(format!(
                    "(({})), which bash evaluates as arithmetic but sh runs as commands in nested subshells",
                    arithmetic.expr.value
                ));
                self.word(&format!("$(({}))", arithmetic.expr.value)).map(drop)
            }
            CompoundCommand::ArithmeticForClause(clause) => {
                for expr in [&clause.initializer, &clause.condition, &clause.updater].into_iter().flatten() {
                    self.word(&format!("$(({}))", expr.value))?;
                }
                self.list(&clause.body.list, place)
            }
            CompoundCommand::BraceGroup(group) => self.list(&group.list, place),
            CompoundCommand::Subshell(subshell) => self.list(&subshell.list, place),
            CompoundCommand::ForClause(clause) => {
                self.script.unjudgeable.extend(
                    super::names::LOOKUP_VARIABLES
                        .contains(&clause.variable_name.as_str())
                        .then(|| format!("a for loop that assigns {}", clause.variable_name)),
                );
                for value in clause.values.iter().flatten() {
                    self.word(&value.value)?;
                }
                self.list(&clause.body.list, place)
            }
            CompoundCommand::CaseClause(clause) => {
                self.word(&clause.value.value)?;
                for item in &clause.cases {
                    for pattern in &item.patterns {
                        self.word(&pattern.value)?;
                    }
                    if let Some(body) = &item.cmd {
                        self.list(body, place)?;
                    }
                }
                Ok(())
            }
            CompoundCommand::IfClause(clause) => {
                self.list(&clause.condition, place)?;
                self.list(&clause.then, place)?;
                for branch in clause.elses.iter().flatten() {
                    if let Some(condition) = &branch.condition {
                        self.list(condition, place)?;
                    }
                    self.list(&branch.body, place)?;
                }
                Ok(())
            }
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                self.list(&clause.0, place)?;
                self.list(&clause.1.list, place)
            }
            CompoundCommand::Coprocess(coprocess) => {
                if let Some(name) = &coprocess.name {
                    self.word(&name.value)?;
                }
                self.command(&coprocess.body, Place { in_background: true, ..place })
            }
        }
    }

    fn simple(&mut self, simple: &ast::SimpleCommand, place: Place) -> Result<(), String> {
        let mut invocation = Invocation { source: simple.to_string(), ..Invocation::default() };
        for item in simple.prefix.iter().flat_map(|p| p.0.iter()) {
            self.item(item, true, &mut invocation)?;
        }
        if let Some(name) = &simple.word_or_name {
            let word = self.word(&name.value)?;
            invocation.words.push(word);
        }
        for item in simple.suffix.iter().flat_map(|s| s.0.iter()) {
            self.item(item, false, &mut invocation)?;
        }
        if let (Some(function), Some(program)) = (&self.function, invocation.words.first()) {
            let callee = if program.raw.contains("FUNCNAME") { function.clone() } else { program.text.clone() };
            self.script.calls.push((function.clone(), callee, place.in_pipeline || place.in_background));
        }
        if let Some((program, args)) = invocation.words.split_first() {
            let names = NAME_EVALUATING_BUILTINS.contains(&program.text.as_str())
                && args.iter().any(|a| a.text.contains('[') && !a.text.starts_with('-'));
            let tests_a_name =
                ["test", "["].contains(&program.text.as_str()) && args.iter().any(|a| a.text == "-v" || a.text == "-R");
            if names || tests_a_name {
                self.script.bash_evaluation.get_or_insert_with(|| invocation.source.clone());
            }
        }
        self.script.commands.push(invocation);
        Ok(())
    }

    /// One prefix or suffix item of a simple command.
    fn item(
        &mut self,
        item: &CommandPrefixOrSuffixItem,
        in_prefix: bool,
        invocation: &mut Invocation,
    ) -> Result<(), String> {
        match item {
            CommandPrefixOrSuffixItem::IoRedirect(redirect) => self.redirect(redirect, &mut invocation.stdin)?,
            CommandPrefixOrSuffixItem::Word(word) => {
                let word = self.word(&word.value)?;
                invocation.words.push(word);
            }
            CommandPrefixOrSuffixItem::AssignmentWord(assignment, _) if in_prefix => {
                let value = self.assignment(assignment)?;
                invocation.assignments.push((assignment_name(&assignment.name), value));
            }
            CommandPrefixOrSuffixItem::AssignmentWord(_, raw) => {
                let word = self.word(&raw.value)?;
                invocation.words.push(word);
            }
            CommandPrefixOrSuffixItem::ProcessSubstitution(_, subshell) => {
                self.list(&subshell.list, Place::default())?;
                invocation.words.push(Word {
                    raw: "<(…)".into(),
                    text: "<(…)".into(),
                    dynamic: Some("process substitution"),
                    ..Word::default()
                });
            }
        }
        Ok(())
    }

    fn assignment(&mut self, assignment: &ast::Assignment) -> Result<Word, String> {
        if let ast::AssignmentName::ArrayElementName(name, index) = &assignment.name {
            if super::word::names_a_variable(index) {
                self.script.bash_evaluation.get_or_insert_with(|| format!("the subscript {name}[{index}]"));
            }
            self.word(index)?;
        }
        match &assignment.value {
            ast::AssignmentValue::Scalar(value) => self.word(&value.value),
            ast::AssignmentValue::Array(elements) => {
                for (key, value) in elements {
                    if let Some(key) = key {
                        self.word(&key.value)?;
                    }
                    self.word(&value.value)?;
                }
                Ok(Word { raw: "(…)".into(), text: "(…)".into(), dynamic: Some("an array"), ..Word::default() })
            }
        }
    }

    fn redirect(&mut self, redirect: &IoRedirect, stdin: &mut Option<Word>) -> Result<(), String> {
        match redirect {
            IoRedirect::File(fd, kind, target) => {
                use ast::IoFileRedirectKind as Kind;
                let writes = matches!(kind, Kind::Write | Kind::Append | Kind::ReadAndWrite | Kind::Clobber);
                let replaces_stdin = matches!(kind, Kind::Read | Kind::DuplicateInput | Kind::ReadAndWrite)
                    && fd.is_none_or(|fd| fd == 0);
                if replaces_stdin {
                    // The last redirection of standard input wins; a file's
                    // content is not known here.
                    *stdin =
                        Some(Word { raw: redirect.to_string(), dynamic: Some("a redirection"), ..Word::default() });
                }
                match target {
                    IoFileRedirectTarget::Filename(word) => {
                        let word = self.word(&word.value)?;
                        if writes {
                            self.script
                                .output_redirects
                                .push(OutputRedirect { source: redirect.to_string(), target: word });
                        }
                    }
                    IoFileRedirectTarget::Duplicate(word) => {
                        let word = self.word(&word.value)?;
                        let is_fd = word.is_static() && (word.text == "-" || word.text.parse::<u32>().is_ok());
                        if !is_fd && matches!(kind, Kind::DuplicateOutput) {
                            self.script
                                .output_redirects
                                .push(OutputRedirect { source: redirect.to_string(), target: word });
                        }
                    }
                    IoFileRedirectTarget::Fd(_) => {}
                    IoFileRedirectTarget::ProcessSubstitution(_, subshell) => {
                        self.list(&subshell.list, Place::default())?
                    }
                }
            }
            IoRedirect::HereDocument(fd, heredoc) => {
                let body = if heredoc.requires_expansion {
                    let mut nested = Vec::new();
                    let word = analyze_heredoc(&heredoc.doc.value, &self.options, &mut nested)?;
                    self.nested(nested)?;
                    word
                } else {
                    Word { raw: heredoc.doc.value.clone(), text: heredoc.doc.value.clone(), ..Word::default() }
                };
                if fd.is_none_or(|fd| fd == 0) {
                    *stdin = Some(body);
                }
            }
            IoRedirect::HereString(fd, word) => {
                let word = self.word(&word.value)?;
                if fd.is_none_or(|fd| fd == 0) {
                    *stdin = Some(word);
                }
            }
            IoRedirect::OutputAndError(word, _) => {
                let word = self.word(&word.value)?;
                self.script.output_redirects.push(OutputRedirect { source: redirect.to_string(), target: word });
            }
        }
        Ok(())
    }
}

fn assignment_name(name: &ast::AssignmentName) -> String {
    match name {
        ast::AssignmentName::VariableName(name) | ast::AssignmentName::ArrayElementName(name, _) => name.clone(),
    }
}

/// Deepest nesting of array subscripts opened inside `${` expansions
/// (`${a[${b[0]}]}` is 2), counting unclosed ones, quotes not considered.
/// The shell parser's word grammar backtracks on such nestings in time
/// growing about twentyfold per level (measured: 0.2 ms at 2, 4 ms at 3,
/// 76 ms at 4, 1.4 s at 5, 28 s at 6 for a 100-byte command), so deeper
/// ones are refused before parsing.
fn subscript_nesting(input: &str) -> usize {
    #[derive(PartialEq)]
    enum Open {
        Expansion,
        Brace,
        Subscript,
        Bracket,
        Paren,
    }
    let bytes = input.as_bytes();
    let (mut stack, mut deepest, mut at) = (Vec::new(), 0usize, 0usize);
    while at < bytes.len() {
        let byte = bytes[at];
        at += 1;
        match byte {
            b'$' if bytes.get(at) == Some(&b'{') => {
                stack.push(Open::Expansion);
                at += 1;
            }
            b'{' => stack.push(Open::Brace),
            b'(' => stack.push(Open::Paren),
            b'[' if stack.contains(&Open::Expansion) => {
                stack.push(Open::Subscript);
                deepest = deepest.max(stack.iter().filter(|open| **open == Open::Subscript).count());
            }
            b'[' => stack.push(Open::Bracket),
            b'}' if matches!(stack.last(), Some(Open::Expansion | Open::Brace)) => drop(stack.pop()),
            b']' if matches!(stack.last(), Some(Open::Subscript | Open::Bracket)) => drop(stack.pop()),
            b')' if stack.last() == Some(&Open::Paren) => drop(stack.pop()),
            _ => {}
        }
    }
    deepest
}

/// The deepest nesting of all brackets and of parentheses alone, counted
/// without regard to quoting (so an over-estimate).
fn nesting(input: &str) -> (usize, usize) {
    let (mut depth, mut deepest, mut parens, mut deepest_parens) = (0usize, 0usize, 0usize, 0usize);
    for byte in input.bytes() {
        match byte {
            b'(' | b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
                if byte == b'(' {
                    parens += 1;
                    deepest_parens = deepest_parens.max(parens);
                }
            }
            b')' | b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if byte == b')' {
                    parens = parens.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
    (deepest, deepest_parens)
}

fn describe_parse_error(error: &brush_parser::ParseError) -> String {
    let text = error.to_string();
    let text = text.trim();
    if text.is_empty() { "syntax error".into() } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(input: &str) -> Vec<String> {
        let script = parse(input).unwrap();
        script.commands.iter().filter_map(|c| c.words.first()).map(|w| w.text.clone()).collect()
    }

    #[test]
    fn every_simple_command_in_the_tree_is_found() {
        for (input, expected) in [
            ("a; b && c || d | e & f", vec!["a", "b", "c", "d", "e", "f"]),
            ("echo \"$(a `b`)\"", vec!["echo", "a", "b"]),
            ("(a) && { b; }", vec!["a", "b"]),
            ("diff <(a) >(b)", vec!["diff", "a", "b"]),
            ("if a; then b; elif c; then d; else e; fi", vec!["a", "b", "c", "d", "e"]),
            ("for x in $(a); do b; done", vec!["a", "b"]),
            ("while a; do b; done; until c; do d; done", vec!["a", "b", "c", "d"]),
            ("case $(a) in x) b;; esac", vec!["a", "b"]),
            ("f() { a; }; f", vec!["a", "f"]),
            ("coproc a", vec!["a"]),
            ("x=$(a) b", vec!["a", "b"]),
            ("cat <<EOF\n$(a)\nEOF\n", vec!["a", "cat"]),
            ("echo $((1 + $(a)))", vec!["a", "echo"]),
            ("[[ $(a) ]]", vec!["a"]),
        ] {
            let mut found = programs(input);
            found.sort();
            let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
            expected.sort();
            assert_eq!(found, expected, "{input}");
        }
    }

    #[test]
    fn here_documents_and_strings_feed_standard_input() {
        let script = parse("sh <<'EOF'\nid\nEOF\n").unwrap();
        assert_eq!(script.commands[0].stdin.as_ref().unwrap().text, "id\n");
        let script = parse("sh <<< 'id'").unwrap();
        assert_eq!(script.commands[0].stdin.as_ref().unwrap().text, "id");
    }

    #[test]
    fn output_redirections_are_collected() {
        let script = parse("echo a > x; { echo b; } >> /y 2>&1; echo c &> z; cat < r").unwrap();
        let targets: Vec<&str> = script.output_redirects.iter().map(|r| r.target.text.as_str()).collect();
        assert_eq!(targets, vec!["x", "/y", "z"]);
    }

    #[test]
    fn constructs_sh_reads_differently_are_unjudgeable() {
        assert!(!parse("((id))").unwrap().unjudgeable_in_sh.is_empty());
        assert!(!parse("for PATH in /tmp; do ls; done").unwrap().unjudgeable.is_empty());
    }

    #[test]
    fn renamed_fork_bombs_are_recognized() {
        assert_eq!(parse(":(){ :|:& };:").unwrap().fork_bomb(), Some(":"));
        assert_eq!(parse("bomb() { bomb | bomb & }; bomb").unwrap().fork_bomb(), Some("bomb"));
        assert!(parse("a(){ b|b& }; b(){ a|a& }; a").unwrap().fork_bomb().is_some());
        assert!(parse("f(){ $FUNCNAME|$FUNCNAME& }; f").unwrap().fork_bomb().is_some());
        assert!(parse("f() { echo hi; }; f | cat").unwrap().fork_bomb().is_none());
        assert!(parse("f() { g | cat; }; g() { echo; }; f").unwrap().fork_bomb().is_none());
    }

    #[test]
    fn deep_nesting_and_bad_syntax_are_errors_not_crashes() {
        assert!(parse(&"(".repeat(10_000)).is_err());
        assert!(parse(&"((1\n".repeat(9)).is_err(), "unclosed parentheses add up");
        assert!(parse(&"((1))\n".repeat(1000)).is_ok());
        assert!(parse(&"$(".repeat(100)).is_err());
        assert!(parse("echo 'unterminated").is_err());
        assert!(parse("if then fi").is_err());
        assert!(parse("99999999999999999999>x").is_err());
        assert!(parse("<<\u{c}<#<<").is_err(), "a form feed sends the tokenizer into an endless loop");
        assert!(parse("x<<\r\t").is_err(), "so does a carriage return");
        assert!(parse("echo a\r\necho b\r\n").is_ok(), "CRLF line ends are fine");
        assert!(parse("cat <<EOF\nline $((0 $((0 $((0 $((0 x\nEOF\n").is_err(), "unclosed $(( backtracks");
        assert!(parse("echo \"$((0 $((0 $((0 $((0\"").is_err());
        assert!(parse("echo \"$(echo \")\")\"").is_ok());
        assert!(parse("echo \"${x[${x[}}${x[${x[}}\"").is_err(), "unclosed subscripts backtrack");
        // Found by the fuzzer: closings in a later word do not help; each
        // level multiplied the parse time by twenty, 28 s at six.
        let nested = format!("echo a |exportx[no{} {}", "{p$$~${x[d".repeat(6), "]}".repeat(7));
        let started = std::time::Instant::now();
        assert!(parse(&nested).is_err(), "nested subscripts backtrack");
        assert!(started.elapsed() < std::time::Duration::from_millis(50), "{:?}", started.elapsed());
        for fine in ["echo \"${a[${b[0]}]}\"", "echo ${arr[$((i+1))]} ${arr[@]}", "[[ ${a[0]} == x ]] && echo [x]"] {
            assert!(parse(fine).is_ok(), "{fine}");
        }
        assert!(parse("echo ~+99999999999999999999").is_err());
        assert_eq!(programs("echo ~+1 2>x"), vec!["echo"], "the parser still works after a panic");
    }
}
