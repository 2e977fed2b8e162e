//! The walk over brush-parser's tree: each list, pipeline, compound and
//! simple command is visited, its words analysed ([`super::super::word`])
//! and what it does added to the [`Script`]; command substitutions are
//! parsed and walked in turn, one level deeper.

use brush_parser::ast::{
    self, Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList, ExtendedTestExpr, IoFileRedirectTarget,
    IoRedirect, SeparatorOperator,
};
use brush_parser::{Parser, ParserOptions};

use super::super::names::{LOOKUP_VARIABLES, guarded};
use super::super::word::{Dynamic, Word, analyze, analyze_heredoc, names_a_variable};
use super::limits;
use super::script::{Invocation, OutputRedirect, Script};
use super::source::source;

/// Builtins through which bash evaluates a name that may carry an array
/// subscript (`read 'a[$(id)]'`).
const NAME_EVALUATING_BUILTINS: &[&str] =
    &["read", "printf", "unset", "mapfile", "readarray", "declare", "typeset", "local", "export", "readonly", "let"];

/// Parses and walks `input`, the script at `depth` substitutions deep.
pub(super) fn walk(input: &str, depth: usize) -> Result<Script, String> {
    let mut walker = Walker { options: ParserOptions::default(), script: Script::default(), depth, function: None };
    walker.parse_into(input)?;
    Ok(walker.script)
}

/// Walks one command string and the scripts nested in it.
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
        limits::check(input, self.depth)?;
        let program = guarded(|| {
            Parser::new(input.as_bytes(), &self.options)
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
        if raw.as_bytes().windows(2).any(|pair| pair == b"$[") {
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
                    LOOKUP_VARIABLES
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
        let mut invocation = Invocation { source: source(simple), ..Invocation::default() };
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
                    dynamic: Some(Dynamic::ProcessSubstitution),
                    ..Word::default()
                });
            }
        }
        Ok(())
    }

    fn assignment(&mut self, assignment: &ast::Assignment) -> Result<Word, String> {
        if let ast::AssignmentName::ArrayElementName(name, index) = &assignment.name {
            if names_a_variable(index) {
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
                Ok(Word { raw: "(…)".into(), text: "(…)".into(), dynamic: Some(Dynamic::Array), ..Word::default() })
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
                    *stdin = Some(Word {
                        raw: redirect.to_string(),
                        dynamic: Some(Dynamic::Redirection),
                        ..Word::default()
                    });
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

fn describe_parse_error(error: &brush_parser::ParseError) -> String {
    let text = error.to_string();
    let text = text.trim();
    if text.is_empty() { "syntax error".into() } else { text.to_string() }
}
