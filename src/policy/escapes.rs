//! The programs that run other programs, and the options through which an
//! ordinary program does: the table operators read in
//! `list_allowed_commands` and in the README.
//!
//! It is data, not branches: each row names programs, how they run code
//! and the options (triggers) that make them do it. The policy reads it in
//! two ways. Under an allowlist, a wrapper, shell or interpreter runs only
//! when the operator listed it, and what it wraps is judged like any other
//! command; an escape option of an allowed program (`find -exec`) needs an
//! entry that grants it by name (`find -exec`). For the blocklist, the
//! wrapped command is unwrapped so `sudo rm -rf /` is still `rm -rf /`.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Value, json};

/// How a program runs code that the policy would not otherwise see.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Runs the command formed by its remaining words: skip the options
    /// (`value_options` take the next word as their value) and `skip`
    /// positional words (`timeout 5 …`). `NAME=value` words are
    /// assignments when `assignments`. `refused` options make the command
    /// unjudgeable (`env -S`). `shell_option` takes a shell script
    /// (`flock -c`, `su -c`). When `joins_words`, the remaining words are
    /// joined and run by a shell (`watch`).
    Wrapper {
        value_options: &'static [&'static str],
        skip: usize,
        assignments: bool,
        refused: &'static [&'static str],
        shell_option: Option<&'static str>,
        joins_words: bool,
    },
    /// A shell: `-c` takes a script; without a script file it reads
    /// commands from standard input.
    Shell,
    /// Runs code given by `code_options` or read from standard input when
    /// no script file is named.
    Interpreter { code_options: &'static [&'static str], value_options: &'static [&'static str] },
    /// An ordinary program with options that run commands or write files:
    /// `triggers` anywhere, `global_triggers` only before the first operand
    /// (git's subcommand). `runs_until` lists options followed by a command
    /// ending with `;` or `+` (`find -exec`). When `bundled_first`, a first
    /// argument without a dash is a cluster of option letters (`tar cIf`).
    Options {
        triggers: &'static [&'static str],
        global_triggers: &'static [&'static str],
        runs_until: &'static [&'static str],
        bundled_first: bool,
    },
    /// awk: a program text calling `system()` or opening a pipe.
    Awk,
    /// sed: a script with the `e` (execute) or `w` (write) command or flag.
    Sed,
    /// Pagers and editors: can start a shell from their own command line.
    Interactive,
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Row {
    /// Program names; a trailing `*` matches versioned names (`python3.11`).
    pub(crate) names: &'static [&'static str],
    pub(crate) kind: Kind,
    /// What the row is about, for operators.
    pub(crate) note: &'static str,
}

const fn wrapper(names: &'static [&'static str], value_options: &'static [&'static str], note: &'static str) -> Row {
    Row {
        names,
        kind: Kind::Wrapper {
            value_options,
            skip: 0,
            assignments: false,
            refused: &[],
            shell_option: None,
            joins_words: false,
        },
        note,
    }
}

/// The table. Program names are matched on the basename of the command
/// word after quote removal.
pub(crate) const TABLE: &[Row] = &[
    Row {
        names: &["env"],
        kind: Kind::Wrapper {
            value_options: &["-u", "--unset", "-C", "--chdir"],
            skip: 0,
            assignments: true,
            refused: &["-S", "--split-string"],
            shell_option: None,
            joins_words: false,
        },
        note: "runs a command with a changed environment",
    },
    Row {
        names: &["xargs"],
        kind: Kind::Wrapper {
            value_options: &[
                "-a",
                "--arg-file",
                "-d",
                "--delimiter",
                "-E",
                "-I",
                "-L",
                "-n",
                "--max-args",
                "-P",
                "--max-procs",
                "-s",
                "--max-chars",
                "--process-slot-var",
            ],
            skip: 0,
            assignments: false,
            refused: &[],
            shell_option: None,
            joins_words: false,
        },
        note: "runs a command with arguments read from standard input",
    },
    wrapper(&["nice"], &["-n", "--adjustment"], "runs a command at another priority"),
    wrapper(
        &["nohup", "setsid", "time", "eatmydata", "fakeroot", "catchsegv"],
        &["-f", "--format", "-o", "--output"],
        "runs a command",
    ),
    Row {
        names: &["timeout"],
        kind: Kind::Wrapper {
            value_options: &["-s", "--signal", "-k", "--kill-after"],
            skip: 1,
            assignments: false,
            refused: &[],
            shell_option: None,
            joins_words: false,
        },
        note: "runs a command with a time limit",
    },
    wrapper(&["stdbuf"], &["-i", "-o", "-e", "--input", "--output", "--error"], "runs a command with other buffering"),
    wrapper(
        &["ionice"],
        &["-c", "--class", "-n", "--classdata", "-p", "-P", "-u"],
        "runs a command at another I/O priority",
    ),
    Row {
        names: &["sudo", "doas", "runuser"],
        kind: Kind::Wrapper {
            value_options: &[
                "-u",
                "--user",
                "-g",
                "--group",
                "-h",
                "--host",
                "-p",
                "--prompt",
                "-C",
                "--close-from",
                "-D",
                "--chdir",
                "-r",
                "--role",
                "-t",
                "--type",
                "-U",
                "--other-user",
                "-T",
                "--command-timeout",
            ],
            skip: 0,
            assignments: true,
            refused: &["-s", "--shell", "-i", "--login", "-e", "--edit"],
            shell_option: Some("-c"),
            joins_words: false,
        },
        note: "runs a command as another user",
    },
    Row {
        names: &["command", "builtin", "exec"],
        kind: Kind::Wrapper {
            value_options: &["-a"],
            skip: 0,
            assignments: false,
            refused: &[],
            shell_option: None,
            joins_words: false,
        },
        note: "shell builtins that run the command after them",
    },
    Row {
        names: &["eval"],
        kind: Kind::Wrapper {
            value_options: &[],
            skip: 0,
            assignments: false,
            refused: &[],
            shell_option: None,
            joins_words: true,
        },
        note: "runs its arguments as a shell script",
    },
    Row { names: &["su"], kind: Kind::Shell, note: "runs a shell (or its -c script) as another user" },
    Row {
        names: &["chroot", "taskset", "chrt", "flock"],
        kind: Kind::Wrapper {
            value_options: &["--userspec", "--groups", "-w", "--timeout", "-E", "--conflict-exit-code"],
            skip: 1,
            assignments: false,
            refused: &[],
            shell_option: Some("-c"),
            joins_words: false,
        },
        note: "runs a command after one argument (root, CPU mask, priority, lock file)",
    },
    Row {
        names: &["watch"],
        kind: Kind::Wrapper {
            value_options: &["-n", "--interval", "-d", "--differences", "-q", "--equexit"],
            skip: 0,
            assignments: false,
            refused: &[],
            shell_option: None,
            joins_words: true,
        },
        note: "runs its arguments through sh -c, repeatedly",
    },
    wrapper(
        &[
            "strace",
            "ltrace",
            "valgrind",
            "unshare",
            "nsenter",
            "setpriv",
            "prlimit",
            "busybox",
            "toybox",
            "sg",
            "newgrp",
            "systemd-run",
            "firejail",
            "bwrap",
            "torsocks",
            "proxychains*",
            "parallel",
            "entr",
            "script",
        ],
        &["-o", "-e", "-p", "-s", "-u", "-t", "-c", "-S", "-E"],
        "runs a command (tracers, namespace and privilege tools, multi-call binaries)",
    ),
    Row {
        names: &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "csh", "tcsh", "rbash"],
        kind: Kind::Shell,
        note: "runs the script given with -c, a script file, or commands from standard input",
    },
    Row {
        names: &[
            "python*",
            "perl*",
            "ruby*",
            "node",
            "nodejs",
            "deno",
            "bun",
            "php*",
            "lua*",
            "luajit",
            "tclsh*",
            "wish*",
            "Rscript",
            "R",
            "julia",
            "pwsh",
            "osascript",
            "gdb",
            "expect",
        ],
        kind: Kind::Interpreter {
            code_options: &["-c", "-e", "-E", "--eval", "-r", "--run", "-m", "-p", "--print", "-x", "--command", "-ex"],
            value_options: &["-W", "-X", "-I", "-M", "-C", "--require", "-r"],
        },
        note: "runs code given with -c/-e/-m or read from standard input",
    },
    Row {
        names: &["find"],
        kind: Kind::Options {
            triggers: &["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"],
            global_triggers: &[],
            runs_until: &["-exec", "-execdir", "-ok", "-okdir"],
            bundled_first: false,
        },
        note: "-exec/-execdir/-ok/-okdir run commands; -delete and -fprint*/-fls change files",
    },
    Row {
        names: &["git"],
        kind: Kind::Options {
            triggers: &[
                "--upload-pack",
                "--receive-pack",
                "--extcmd",
                "--open-files-in-pager",
                "-O",
                "--config",
                "--ext-diff",
                "--output",
                "--exec",
                "-x",
                "--textconv",
            ],
            global_triggers: &[
                "-c",
                "--config-env",
                "--exec-path",
                "-C",
                "--git-dir",
                "--work-tree",
                "-p",
                "--paginate",
            ],
            runs_until: &[],
            bundled_first: false,
        },
        note: "before the subcommand, -c/--config-env set hooks, pagers and ssh commands, -C/--git-dir/--work-tree pick a repository whose config runs commands and -p starts the configured pager; --upload-pack, --receive-pack, --extcmd, grep -O/--open-files-in-pager, rebase -x/--exec and textconv run commands, and clone --config sets any of them. A repository's own config (hooks, fsmonitor, filters) still runs what it names: the kernel's EXECUTE list is the wall there",
    },
    Row {
        names: &["tar"],
        kind: Kind::Options {
            triggers: &[
                "--checkpoint-action",
                "--to-command",
                "--use-compress-program",
                "--rsh-command",
                "--info-script",
                "--new-volume-script",
                "-I",
                "-F",
            ],
            global_triggers: &[],
            runs_until: &[],
            bundled_first: true,
        },
        note: "these options run commands",
    },
    Row {
        names: &["sort"],
        kind: Kind::Options {
            triggers: &["--compress-program"],
            global_triggers: &[],
            runs_until: &[],
            bundled_first: false,
        },
        note: "--compress-program runs a command",
    },
    Row {
        names: &["rsync"],
        kind: Kind::Options {
            triggers: &["-e", "--rsh", "--rsync-path"],
            global_triggers: &[],
            runs_until: &[],
            bundled_first: false,
        },
        note: "-e/--rsh/--rsync-path run commands",
    },
    Row {
        names: &["ssh", "scp", "sftp"],
        kind: Kind::Options {
            triggers: &["-o", "-F", "-S"],
            global_triggers: &[],
            runs_until: &[],
            bundled_first: false,
        },
        note: "-o ProxyCommand/LocalCommand, -F (config file) and -S/-D programs run commands",
    },
    Row {
        names: &["zip", "unzip"],
        kind: Kind::Options {
            triggers: &["-TT", "--unzip-command"],
            global_triggers: &[],
            runs_until: &[],
            bundled_first: false,
        },
        note: "-TT runs a command",
    },
    Row {
        names: &["awk", "gawk", "mawk", "nawk", "busybox-awk"],
        kind: Kind::Awk,
        note: "system() and pipes in the program run commands",
    },
    Row { names: &["sed", "gsed"], kind: Kind::Sed, note: "the e command and flag run commands; w writes files" },
    Row {
        names: &[
            "less", "more", "most", "pg", "man", "vi", "vim", "nvim", "view", "ex", "ed", "nano", "emacs", "pico",
            "joe", "mg",
        ],
        kind: Kind::Interactive,
        note: "pagers and editors can start a shell",
    },
];

/// The row for a program word's basename.
pub(crate) fn lookup(name: &str) -> Option<&'static Row> {
    static EXACT: LazyLock<HashMap<&'static str, &'static Row>> = LazyLock::new(|| {
        let mut exact = HashMap::new();
        for row in TABLE {
            for name in row.names.iter().filter(|n| !n.ends_with('*')) {
                exact.entry(*name).or_insert(row);
            }
        }
        exact
    });
    if let Some(row) = EXACT.get(name) {
        return Some(row);
    }
    TABLE.iter().find(|row| row.names.iter().any(|pattern| pattern.ends_with('*') && name_matches(pattern, name)))
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => {
            name.strip_prefix(prefix).is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
        }
        None => pattern == name,
    }
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

/// The table as operators see it in `list_allowed_commands`.
pub(crate) fn describe() -> Value {
    TABLE
        .iter()
        .map(|row| {
            let (kind, triggers): (&str, Vec<&str>) = match &row.kind {
                Kind::Wrapper { refused, shell_option, .. } => {
                    ("wrapper", refused.iter().copied().chain(shell_option.iter().copied()).collect())
                }
                Kind::Shell => ("shell", vec!["-c", "standard input"]),
                Kind::Interpreter { code_options, .. } => ("interpreter", code_options.to_vec()),
                Kind::Options { triggers, global_triggers, .. } => {
                    ("escape options", global_triggers.iter().chain(triggers.iter()).copied().collect())
                }
                Kind::Awk => ("program text", vec!["system"]),
                Kind::Sed => ("script", vec!["e", "w"]),
                Kind::Interactive => ("interactive", vec![]),
            };
            json!({ "programs": row.names, "kind": kind, "triggers": triggers, "note": row.note })
        })
        .collect()
}

/// Whether an awk program text can run commands: `system`, a `|` that is
/// not part of `||` (`print | "cmd"`, `"cmd" | getline`, gawk's `|&`), an
/// indirect call (gawk's `@name()`, which may name `system`) or a gawk
/// directive (`@load`, `@include`). The text is read the way awk reads it
/// ([`awk_code`]); a program it cannot read (an unterminated string,
/// regular expression or bracket expression) counts as running commands.
pub(crate) fn awk_runs_commands(program: &str) -> bool {
    if program.contains("system") {
        return true;
    }
    let Some(code) = awk_code(program) else { return true };
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
pub(crate) fn awk_code(program: &str) -> Option<String> {
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

/// The sed commands of a script that run commands (`e`) or write files
/// (`w`, `W`), including the `e` and `w` flags of `s`. Returns the trigger
/// letter found first. Unusual syntax counts as a trigger.
pub(crate) fn sed_trigger(script: &str) -> Option<char> {
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
    fn versioned_interpreters_are_found() {
        assert!(matches!(lookup("python3.11").unwrap().kind, Kind::Interpreter { .. }));
        assert!(lookup("python3-config").is_none());
        assert!(matches!(lookup("find").unwrap().kind, Kind::Options { .. }));
        assert!(lookup("ls").is_none());
    }

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

    #[test]
    fn awk_programs_that_run_commands_are_told_apart() {
        assert!(awk_runs_commands("BEGIN { system(\"id\") }"));
        assert!(awk_runs_commands("{ print | \"sh\" }"));
        assert!(awk_runs_commands("BEGIN { \"id\" | getline x }"));
        assert!(!awk_runs_commands("{ print $1 }"));
        assert!(!awk_runs_commands("$1 == 1 || $2 == 2 { print }"));
        assert!(!awk_runs_commands("BEGIN { printf \"%s|%s\\n\", \"a\", \"b\" }"));
        assert!(!awk_runs_commands("/foo|bar/ { print $1 \"|\" $2 }"));
        assert!(awk_runs_commands("{ x = 4 / 2; print | \"sh\" }"));
        // Read as awk reads it: comments, brackets, escapes.
        assert!(awk_runs_commands("# a \"quote\nBEGIN { print \"\" | \"id\" }"), "a quote in a comment");
        assert!(awk_runs_commands("/[/]/ { print | \"id\" }"), "a slash in a bracket expression");
        assert!(awk_runs_commands("/[]/]/ { print | \"id\" }"));
        assert!(awk_runs_commands("/[[:alpha:]/]/ { print | \"id\" }"));
        assert!(awk_runs_commands("BEGIN { s = \"\\\"\"; print s | \"id\" }"), "an escaped quote");
        assert!(awk_runs_commands("BEGIN { f = \"sys\" \"tem\"; @f(\"id\") }"), "gawk's indirect call");
        assert!(awk_runs_commands("BEGIN { print \"x\" |& \"id\" }"), "gawk's two-way pipe");
        assert!(awk_runs_commands("BEGIN { print \"unterminated }"), "unreadable");
        assert!(awk_runs_commands("/unterminated { print }"), "unreadable");
        assert!(awk_runs_commands("@load \"x\""));
        assert!(!awk_runs_commands("/^[a-c]+$/ { n++ } $0 ~ /[[:digit:]|]/ { d++ } END { print n, d }"));
        assert!(!awk_runs_commands("{ print $1 / 2, \"a|b\" } # a | in a comment"));
        assert!(!awk_runs_commands("{ a[i] / 2 } (x) / 3 { print \"/\" }"));
        assert!(awk_runs_commands("{ x++ / 2; print | \"id\"; y = 1 / 2 }"), "a postfix increment, then a division");
    }

    #[test]
    fn sed_scripts_that_execute_or_write_are_told_apart() {
        for script in ["e id", "1e id", "s/x/id/e", "s/x/y/w /tmp/o", "w /tmp/o", "/x/ { e id\n}", "s|a|b|ge"] {
            assert!(sed_trigger(script).is_some(), "{script}");
        }
        for script in
            ["s/e/w/g", "s/a/b/", "/end/d", "y/abc/xyz/", "1,3p", "$!N;P;D", "s/\\/e/x/", "/foo/Id", "/a/I,/b/Mp"]
        {
            assert_eq!(sed_trigger(script), None, "{script}");
        }
    }
}
