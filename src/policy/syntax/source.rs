//! The text of a simple command for messages: what brush-parser's
//! `Display` writes (the prefix, the command word and the suffix, their
//! items joined by spaces), built by copying the words' text instead of
//! running the formatting machinery once per item. Only redirections and
//! process substitutions, which are rare, go through `Display`.

use std::fmt::Write;

use brush_parser::ast::{CommandPrefixOrSuffixItem, SimpleCommand};

/// `simple.to_string()`, faster.
pub(super) fn source(simple: &SimpleCommand) -> String {
    let mut out = String::with_capacity(64);
    let mut wrote_something = false;
    if let Some(prefix) = &simple.prefix {
        items(&mut out, &prefix.0);
        wrote_something = true;
    }
    if let Some(word) = &simple.word_or_name {
        if wrote_something {
            out.push(' ');
        }
        out.push_str(&word.value);
        wrote_something = true;
    }
    if let Some(suffix) = &simple.suffix {
        if wrote_something {
            out.push(' ');
        }
        items(&mut out, &suffix.0);
    }
    out
}

fn items(out: &mut String, items: &[CommandPrefixOrSuffixItem]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match item {
            CommandPrefixOrSuffixItem::Word(word) | CommandPrefixOrSuffixItem::AssignmentWord(_, word) => {
                out.push_str(&word.value)
            }
            other => drop(write!(out, "{other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use brush_parser::ast::{Command, CompoundCommand, CompoundList};
    use brush_parser::{Parser, ParserOptions};

    use super::*;

    fn simple_commands(list: &CompoundList, out: &mut Vec<SimpleCommand>) {
        for item in &list.0 {
            let and_or = &item.0;
            let pipelines = std::iter::once(&and_or.first).chain(and_or.additional.iter().map(|next| {
                let (brush_parser::ast::AndOr::And(p) | brush_parser::ast::AndOr::Or(p)) = next;
                p
            }));
            for command in pipelines.flat_map(|p| p.seq.iter()) {
                match command {
                    Command::Simple(simple) => out.push(simple.clone()),
                    Command::Compound(CompoundCommand::BraceGroup(group), _) => simple_commands(&group.list, out),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn the_text_is_what_display_writes() {
        let input = "a=1 b=\"x y\" ls -l 'q r' >out 2>&1 <in; echo $(id) `id` <(ls) >(cat) x+=1; \
                     { FOO=bar; >f; 3<>g cat <<< \"s\"; }; arr=(1 2) declare -a z=(3); cat <<EOF\nbody $x\nEOF\n";
        let program = Parser::new(input.as_bytes(), &ParserOptions::default()).parse_program().unwrap();
        let mut commands = Vec::new();
        for list in &program.complete_commands {
            simple_commands(list, &mut commands);
        }
        assert_eq!(commands.len(), 7, "{commands:?}");
        for simple in &commands {
            assert_eq!(source(simple), simple.to_string());
        }
    }
}
