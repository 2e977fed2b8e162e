//! find: `-exec`, `-execdir`, `-ok` and `-okdir` run the command that
//! follows them up to `;` or `+`; `-delete`, `-fprint*` and `-fls` change
//! files.

use super::super::word::{Dynamic, Word};
use super::{Kind, Row};

pub(super) const ROW: Row = Row {
    names: &["find"],
    kind: Kind::Options {
        triggers: &["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"],
        global_triggers: &[],
        runs_until: &["-exec", "-execdir", "-ok", "-okdir"],
        bundled_first: false,
    },
    note: "-exec/-execdir/-ok/-okdir run commands; -delete and -fprint*/-fls change files",
};

/// The commands of `find -exec … ;`, once per starting point with `{}`
/// standing for it (`find / -exec rm -rf {} +` removes `/`).
pub(crate) fn commands(name: &str, runs_until: &[&str], args: &[Word]) -> Result<Vec<Vec<Word>>, String> {
    let starts: Vec<&Word> = args
        .iter()
        .skip_while(|w| ["-H", "-L", "-P"].contains(&w.text.as_str()))
        .take_while(|w| !w.text.starts_with('-') && w.text != "(" && w.text != "!")
        .collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if runs_until.contains(&args[i].text.as_str()) {
            let end =
                args[i + 1..].iter().position(|w| w.text == ";" || w.text == "+").map_or(args.len(), |p| i + 1 + p);
            let command = &args[i + 1..end];
            if let Some(first) = command.first().filter(|w| !w.is_static()) {
                return Err(format!(
                    "the command of {name} {} is produced by {}",
                    args[i].text,
                    first.dynamic.map_or("", Dynamic::as_str)
                ));
            }
            let dot = Word::literal(".");
            for start in if starts.is_empty() { vec![&dot] } else { starts.clone() } {
                commands.push(command.iter().map(|w| if w.text == "{}" { start.clone() } else { w.clone() }).collect());
            }
            i = end;
        }
        i += 1;
    }
    Ok(commands)
}
