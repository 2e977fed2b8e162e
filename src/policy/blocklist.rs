//! Blocklist rules, matched against parsed commands after normalization.
//!
//! An entry such as `rm -rf /` becomes "program `rm` with the flags `-r`,
//! `-f` and the argument `/`", so `/bin/rm -r -f /`, `rm --recursive
//! --force //`, `r''m -fr /.` and `cd / && rm -rf .` all match it, while
//! `echo halting` and `git add .` match nothing. An argument ending in `*`
//! or `=` matches by prefix (`of=/dev/sd*`; `/*` is literal). An entry that is only a
//! redirection (`> /dev/sda`) matches redirection targets; an entry that
//! defines a self-calling function in a pipeline matches every fork bomb,
//! whatever its name; anything else is matched against the command text
//! with whitespace removed. The policy applies the rules to every command
//! and to what wrappers and shells run (`sudo`, `env`, `sh -c`).

use std::path::Path;

use super::paths::normalize;
use super::syntax::{Script, parse};
use super::word::{Dynamic, Word};

/// go-mcp-commander's default blocklist, which existing deployments rely on,
/// then the obvious rest.
pub(crate) const DEFAULT_BLOCKED: &[&str] = &[
    "rm -rf /",
    "rm -rf /*",
    "mkfs",
    "dd if=",
    ":(){ :|:& };:",
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
    "telinit 0",
    "telinit 6",
    "systemctl poweroff",
    "systemctl reboot",
    "systemctl halt",
    "rm -rf ~",
    "find / -delete",
    "chmod -R 777 /*",
    "dd of=/dev/sd*",
    "dd of=/dev/nvme*",
    "dd of=/dev/xvd*",
    "dd of=/dev/vd*",
    "dd of=/dev/hd*",
    "dd of=/dev/mmcblk*",
    "> /dev/xvd",
    "> /dev/vd",
    "> /dev/hd",
    "> /dev/mmcblk",
    "mke2fs",
    "tee /dev/sd*",
    "tee /dev/nvme*",
    "tee /dev/xvd*",
    "cp * /dev/sd*",
    "cp * /dev/nvme*",
    "cp * /dev/xvd*",
    "wipefs",
    "mkswap",
    "fdisk",
    "sfdisk",
    "parted",
];

/// Long options that mean the same as a short flag, per program.
const FLAG_ALIASES: &[(&str, &str, &str)] = &[
    ("rm", "--recursive", "-r"),
    ("rm", "-R", "-r"),
    ("rm", "--force", "-f"),
    ("chmod", "--recursive", "-R"),
    ("chown", "--recursive", "-R"),
    ("shutdown", "--poweroff", "-P"),
];

#[derive(Debug, Clone)]
enum Matcher {
    /// A program and the arguments it must carry, in any order; `*` in
    /// the program or an argument matches anything after the prefix.
    Command { program: String, args: Vec<String> },
    /// An output redirection whose target starts with this path.
    Redirect { target: String },
    /// A function calling itself in a pipeline or the background.
    ForkBomb,
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
    pub(crate) fn compile(text: &str) -> Result<BlockRule, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("a blocklist entry is empty".into());
        }
        let matcher = match parse(trimmed) {
            Ok(script) if script.fork_bomb().is_some() => Matcher::ForkBomb,
            Ok(script) => match (script.commands.as_slice(), script.output_redirects.as_slice()) {
                ([command], []) if command.assignments.is_empty() && !command.words.is_empty() => {
                    let (program, args) = command.words.split_first().unwrap_or((&command.words[0], &[]));
                    let program = super::names::basename(&program.text).to_string();
                    let args = normalize_args(&program, args, None);
                    Matcher::Command { program, args }
                }
                ([command], [redirect]) if command.words.is_empty() && redirect.target.is_static() => {
                    Matcher::Redirect { target: normalize(Path::new(&redirect.target.text)).display().to_string() }
                }
                _ => Matcher::Text { compact: compact(trimmed) },
            },
            Err(_) => Matcher::Text { compact: compact(trimmed) },
        };
        Ok(BlockRule { text: trimmed.to_string(), matcher })
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Rules that look at a whole script (its text or its functions).
    pub(crate) fn matches_script(&self, raw: &str, script: &Script) -> bool {
        match &self.matcher {
            Matcher::Text { compact: needle } => compact(raw).contains(needle.as_str()),
            Matcher::ForkBomb => script.fork_bomb().is_some(),
            _ => false,
        }
    }

    /// Whether one command matches; relative path arguments are resolved
    /// against `cwd` when it is known.
    /// `name` is the basename of the command word, `args` the rest.
    pub(crate) fn matches_command(&self, name: &str, args: &[Word], cwd: Option<&Path>) -> bool {
        let Matcher::Command { program, args: wanted } = &self.matcher else {
            return false;
        };
        let same_program =
            name == program || name.strip_prefix(program.as_str()).is_some_and(|rest| rest.starts_with('.'));
        if !same_program {
            return false;
        }
        let have = normalize_args(program, args, cwd);
        wanted.iter().all(|want| have.iter().any(|h| pattern_matches(want, h)))
    }

    /// Whether an output redirection's target matches.
    pub(crate) fn matches_redirect(&self, target: &Word, cwd: Option<&Path>) -> bool {
        let Matcher::Redirect { target: wanted } = &self.matcher else {
            return false;
        };
        let path = Path::new(&target.text);
        let absolute = match cwd {
            Some(cwd) if !path.is_absolute() => cwd.join(path),
            _ => path.to_path_buf(),
        };
        let target = normalize(&absolute).to_string_lossy().into_owned();
        if target.starts_with(wanted.as_str()) {
            return true;
        }
        // A glob (`/dev/sd?`) may name the device: compare up to its first
        // pattern character.
        let literal = target.split(['*', '?', '[']).next().unwrap_or_default();
        target.len() != literal.len() && wanted.starts_with(literal) && literal.len() > 1
    }
}

fn pattern_matches(pattern: &str, value: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*').filter(|p| !p.ends_with('/')) {
        return value.starts_with(prefix);
    }
    if pattern.ends_with('=') {
        return value.starts_with(pattern);
    }
    pattern == value
}

/// Splits combined short flags (`-rf` → `-r`, `-f`), maps long options to
/// their short form and normalizes path arguments (relative ones against
/// `cwd`, when known).
fn normalize_args(program: &str, args: &[Word], cwd: Option<&Path>) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        let text = arg.text.as_str();
        let is_short_cluster = text.len() > 2
            && text.starts_with('-')
            && !text.starts_with("--")
            && text[1..].chars().all(|c| c.is_ascii_alphabetic());
        if let Some(mode) = normalize_mode(program, text) {
            out.push(mode);
        } else if is_short_cluster {
            out.extend(text[1..].chars().map(|c| alias(program, String::from_iter(['-', c]))));
        } else if let Some(root) = root_glob(arg) {
            out.push(root);
        } else if home(arg) {
            out.push("~".into());
        } else if text.starts_with('/') {
            out.push(normalize_path(text));
        } else if let (Some(cwd), true) = (cwd, looks_like_relative_path(text)) {
            out.push(normalize_path(&cwd.join(text).to_string_lossy()));
        } else {
            out.push(alias(program, text.to_string()));
        }
    }
    out
}

/// A glob that matches entries of `/` itself (`/*`, `/[a-z]*`, `/?*/`)
/// stands for `/*`.
fn root_glob(arg: &Word) -> Option<String> {
    let rest = arg.text.strip_prefix('/')?.trim_start_matches('/');
    let first = rest.split('/').next().unwrap_or_default();
    let globbing = arg.dynamic == Some(Dynamic::Glob) && first.contains(['*', '?', '[']);
    globbing.then(|| "/*".to_string())
}

/// The home directory however written: `~`, `~user`, `$HOME`, `${HOME}`.
fn home(arg: &Word) -> bool {
    let raw = arg.raw.trim_matches('"').trim_end_matches('/');
    (raw.starts_with('~') && !raw.contains('/')) || raw == "$HOME" || raw == "${HOME}"
}

fn looks_like_relative_path(text: &str) -> bool {
    text.starts_with('.') || text.starts_with('*') || (text.contains('/') && !text.contains('='))
}

/// The short form of a flag; a long option may be abbreviated
/// (`--recur` is `--recursive`), as GNU programs accept.
fn alias(program: &str, flag: String) -> String {
    let abbreviates = |from: &str| {
        from == flag || (flag.len() > 3 && flag.starts_with("--") && from.starts_with("--") && from.starts_with(&flag))
    };
    match FLAG_ALIASES.iter().find(|(p, from, _)| *p == program && abbreviates(from)) {
        Some((_, _, to)) => to.to_string(),
        None => flag,
    }
}

/// `chmod` modes that grant everything to everyone, spelled `777`.
fn normalize_mode(program: &str, arg: &str) -> Option<String> {
    if program != "chmod" {
        return None;
    }
    let octal = arg.trim_start_matches('0') == "777" && arg.chars().all(|c| c.is_ascii_digit());
    let symbolic = ["a+rwx", "ugo+rwx", "+rwx", "a=rwx", "ugo=rwx", "=rwx"].contains(&arg);
    (octal || symbolic).then(|| "777".to_string())
}

/// `//`, `/.` and `/tmp/..` are `/`; a trailing `*` survives (`/*`).
fn normalize_path(path: &str) -> String {
    match path.strip_suffix("/*") {
        Some(dir) => {
            let dir = normalize(Path::new(if dir.is_empty() { "/" } else { dir })).to_string_lossy().into_owned();
            if dir == "/" { "/*".into() } else { format!("{dir}/*") }
        }
        None => normalize(Path::new(path)).to_string_lossy().into_owned(),
    }
}

fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::{Decision, Policy, Scope};

    fn blocked_in(command: &str, cwd: &str) -> bool {
        let policy = Policy::new(&[], &[], 65536).unwrap();
        let roots = [PathBuf::from("/")];
        matches!(
            policy.check(command, Scope { cwd: std::path::Path::new(cwd), writable_roots: &roots }),
            Decision::Deny { .. }
        )
    }

    fn blocked(command: &str) -> bool {
        blocked_in(command, "/tmp")
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
            "rm -rf /.",
            "rm -rf /tmp/../",
            "r''m -rf /",
            "\"rm\" -Rf /",
            "\\rm -rf /",
            "echo ok; rm -rf /",
            "echo $(rm -rf /)",
            "cd / && rm -rf *",
            "cd /; rm -rf .",
            "rm -rf ../../../../../../..",
            "sudo rm -rf /",
            "env -i rm -rf /",
            "timeout -s KILL 5 rm -rf /",
            "sh -c 'rm -rf /'",
            "bash -c \"echo; rm -fr /\"",
            "find / -exec rm -rf / \\;",
            "xargs rm -rf / < /dev/null",
            "command rm -rf /",
            "exec rm -rf /",
            "eval 'rm -rf /'",
            "find / -exec rm -rf {} +",
            "rm --recur --force /",
            "rm -rf /[a-z]*",
            "x=/; rm -rf $x",
            "rm -rf ${x:-/}",
            "rm -rf \"${target:-/}\"",
        ] {
            assert!(blocked(command), "{command}");
        }
        assert!(!blocked("rm -rf /tmp/build"));
        assert!(!blocked("rm -f /tmp/x"));
        assert!(!blocked("rm -rf *"));
        assert!(!blocked("rm -rf ./build"));
        assert!(!blocked("x=/tmp/build; rm -rf $x"));
        assert!(!blocked("rm -rf \"$dir\""));
        assert!(!blocked("find . -name '*.o' -exec rm -f {} +"));
    }

    #[test]
    fn harmless_lookalikes_are_not_blocked() {
        for command in [
            "echo halting",
            "git add .",
            "echo shutdown is scheduled",
            "ls /dev/sda",
            "timeout 5 echo halt",
            "echo 'rm -rf /'",
            "grep -r reboot /var/log",
            "cat init",
            "man shutdown",
        ] {
            assert!(!blocked(command), "{command}");
        }
    }

    #[test]
    fn default_entries_match_their_commands() {
        for command in [
            "mkfs.ext4 /dev/sdb",
            "dd if=/dev/zero of=/dev/sda",
            "dd of=/dev/nvme0n1 bs=1M",
            ":(){ :|:& };:",
            "bomb(){ bomb|bomb& };bomb",
            "f() { f & f; }; f",
            "chmod -R 777 /",
            "chmod --recursive 777 //",
            "chown -R nobody /srv",
            "echo x > /dev/sda",
            "cat img >/dev/sda1",
            "cat img > /dev/nvme0n1",
            "sudo shutdown -h now",
            "/sbin/reboot",
            "init 0",
            "halt",
            "poweroff",
            "find / -delete",
            "find / -name '*.log' -delete",
            "rm -rf ~",
            "rm -rf $HOME",
            "rm -rf \"$HOME\"",
            "rm -rf ~root",
            "mke2fs /dev/sda",
            "echo x > /dev/sd?",
            "cp /dev/zero /dev/sda",
            "tee /dev/sda < /dev/zero",
            "chmod -R a+rwx /",
            "chmod --recursive 0777 /",
            "a(){ b|b& }; b(){ a|a& }; a",
            "f(){ $FUNCNAME|$FUNCNAME& }; f",
            "false && { rm -rf /; }",
        ] {
            assert!(blocked(command), "{command}");
        }
    }

    #[test]
    fn operator_entries_are_added_to_the_defaults() {
        let policy = Policy::new(&[], &["curl".to_string()], 65536).unwrap();
        let roots = [PathBuf::from("/")];
        let scope = Scope { cwd: std::path::Path::new("/tmp"), writable_roots: &roots };
        assert!(matches!(policy.check("curl http://x", scope), Decision::Deny { .. }));
        assert!(policy.blocked_commands().contains(&"rm -rf /".to_string()));
    }
}
