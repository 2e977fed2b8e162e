//! Blocklist rules, matched against lexed commands after normalization.
//!
//! An entry such as `rm -rf /` becomes "program `rm` with the flags `-r`,
//! `-f` and the argument `/`", so `/bin/rm -r -f /`, `rm --recursive
//! --force //` and `r''m -fr /` all match it, while `echo halting` and `git
//! add .` match nothing. Entries that are not a simple command (the fork
//! bomb) are matched against the command text with whitespace removed;
//! entries that are only a redirection (`> /dev/sda`) match redirection
//! targets.

use super::lexer::{SimpleCommand, Word, lex};

/// go-mcp-commander's default blocklist, which existing deployments rely on,
/// plus the obvious siblings of its entries.
pub(crate) const DEFAULT_BLOCKED: &[&str] = &[
    "rm -rf /",
    "rm -rf /*",
    "mkfs",
    "dd if=",
    ":(){:|:&};:",
    "chmod -R 777 /",
    "chown -R",
    "> /dev/sda",
    "> /dev/nvme",
    "shutdown",
    "reboot",
    "halt",
    "poweroff",
    "init 0",
    "init 6",
];

/// Long options that mean the same as a short flag, per program.
const FLAG_ALIASES: &[(&str, &str, &str)] = &[
    ("rm", "--recursive", "-r"),
    ("rm", "-R", "-r"),
    ("rm", "--force", "-f"),
    ("chmod", "--recursive", "-R"),
    ("chown", "--recursive", "-R"),
];

#[derive(Debug, Clone)]
enum Matcher {
    /// A program, the flags it must carry and the other arguments it must
    /// have (a trailing `=` makes an argument a prefix).
    Command { program: String, args: Vec<String> },
    /// An output redirection whose target starts with this path.
    Redirect { target: String },
    /// Text compared with the whitespace-free command.
    Text { compact: String },
}

/// One compiled blocklist entry.
#[derive(Debug, Clone)]
pub(crate) struct BlockRule {
    text: String,
    matcher: Matcher,
}

impl BlockRule {
    pub(crate) fn compile(text: &str) -> BlockRule {
        let lexed = lex(text);
        let matcher = match lexed.commands.as_slice() {
            [command] if lexed.unjudgeable.is_empty() && command.assignments.is_empty() => {
                match (command.words.split_first(), command.redirects.as_slice()) {
                    (Some((program, args)), []) => {
                        let program = basename(&program.text).to_string();
                        let args = normalize_args(&program, args);
                        Matcher::Command { program, args }
                    }
                    (None, [(op, target)]) if op.contains('>') => {
                        Matcher::Redirect { target: normalize_path(&target.text) }
                    }
                    _ => Matcher::Text { compact: compact(text) },
                }
            }
            _ => Matcher::Text { compact: compact(text) },
        };
        BlockRule { text: text.to_string(), matcher }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether any command in the lexed string matches this rule.
    pub(crate) fn matches(&self, raw: &str, commands: &[SimpleCommand]) -> bool {
        match &self.matcher {
            Matcher::Text { compact: needle } => compact(raw).contains(needle.as_str()),
            Matcher::Redirect { target } => commands.iter().any(|c| {
                c.redirects
                    .iter()
                    .any(|(op, t)| op.contains('>') && normalize_path(&t.text).starts_with(target.as_str()))
            }),
            Matcher::Command { program, args } => commands.iter().any(|c| command_matches(program, args, c)),
        }
    }
}

/// Programs that run the command given in their arguments.
const WRAPPERS: &[&str] = &[
    "sudo", "doas", "env", "nohup", "nice", "ionice", "timeout", "xargs", "stdbuf", "time", "exec", "command",
    "builtin", "chroot", "setsid", "busybox",
];

/// Positions checked behind a wrapper; bounds the work per command, which
/// is otherwise quadratic in its length.
const MAX_WRAPPED_CANDIDATES: usize = 8;

/// Matches the command itself and, behind a wrapper such as `sudo` or
/// `env`, every later word that could be the wrapped program.
fn command_matches(program: &str, wanted: &[String], command: &SimpleCommand) -> bool {
    let words = &command.words;
    let wrapped = words.first().is_some_and(|w| WRAPPERS.contains(&basename(&w.text)));
    (0..words.len())
        .filter(|&start| {
            start == 0 || (wrapped && !words[start].text.starts_with('-') && !words[start].text.contains('='))
        })
        .take(MAX_WRAPPED_CANDIDATES)
        .any(|start| words_match(program, wanted, &words[start..]))
}

fn words_match(program: &str, wanted: &[String], words: &[Word]) -> bool {
    let Some((word, args)) = words.split_first() else {
        return false;
    };
    let name = basename(&word.text);
    let same_program = name == program || name.strip_prefix(program).is_some_and(|rest| rest.starts_with('.'));
    if !same_program {
        return false;
    }
    let have = normalize_args(program, args);
    wanted.iter().all(|want| match want.strip_suffix('=') {
        Some(_) => have.iter().any(|h| h.starts_with(want.as_str())),
        None => have.contains(want),
    })
}

/// Splits combined short flags (`-rf` → `-r`, `-f`), maps long options to
/// their short form and normalizes path arguments.
fn normalize_args(program: &str, args: &[Word]) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        let text = arg.text.as_str();
        let is_short_cluster = text.len() > 2
            && text.starts_with('-')
            && !text.starts_with("--")
            && text[1..].chars().all(|c| c.is_ascii_alphabetic());
        if is_short_cluster {
            out.extend(text[1..].chars().map(|c| alias(program, &format!("-{c}"))));
        } else if text.starts_with('/') {
            out.push(normalize_path(text));
        } else {
            out.push(alias(program, text));
        }
    }
    out
}

fn alias(program: &str, flag: &str) -> String {
    FLAG_ALIASES
        .iter()
        .find(|(p, from, _)| *p == program && *from == flag)
        .map_or_else(|| flag.to_string(), |(_, _, to)| to.to_string())
}

/// Collapses repeated slashes and drops a trailing one (`//` → `/`).
fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::Policy;

    fn blocked(command: &str) -> bool {
        let policy = Policy::new(&[], &[]).unwrap();
        matches!(policy.check(command), super::super::Decision::Deny { .. })
    }

    #[test]
    fn spellings_of_rm_rf_root_are_one_command() {
        for command in [
            "rm -rf /",
            "rm -fr /",
            "rm -r -f /",
            "rm  -rf /",
            "/bin/rm --recursive --force /",
            "rm -rf //",
            "r''m -rf /",
            "\"rm\" -Rf /",
            "echo ok; rm -rf /",
            "echo $(rm -rf /)",
        ] {
            assert!(blocked(command), "{command}");
        }
        assert!(!blocked("rm -rf /tmp/build"));
        assert!(!blocked("rm -f /tmp/x"));
    }

    #[test]
    fn harmless_lookalikes_are_not_blocked() {
        for command in ["echo halting", "git add .", "echo shutdown is scheduled", "ls /dev/sda"] {
            assert!(!blocked(command), "{command}");
        }
    }

    #[test]
    fn default_entries_match_their_commands() {
        for command in [
            "mkfs.ext4 /dev/sdb",
            "dd if=/dev/zero of=/dev/sda",
            ":(){ :|:& };:",
            "chmod -R 777 /",
            "chown -R nobody /srv",
            "echo x > /dev/sda",
            "cat img >/dev/sda1",
            "sudo shutdown -h now",
            "/sbin/reboot",
            "init 0",
        ] {
            assert!(blocked(command), "{command}");
        }
    }

    #[test]
    fn operator_entries_are_added_to_the_defaults() {
        let policy = Policy::new(&[], &["curl".to_string()]).unwrap();
        assert!(matches!(policy.check("curl http://x"), super::super::Decision::Deny { .. }));
        assert!(policy.blocked_commands().contains(&"rm -rf /".to_string()));
    }
}
