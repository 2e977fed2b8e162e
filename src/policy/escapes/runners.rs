//! The programs that run other programs: wrappers (`env`, `sudo`,
//! `timeout`, `xargs`...), shells and interpreters, whose inner command or
//! code the policy judges in turn, and the pagers and editors, which can
//! start a shell from their own command line.

use super::{Kind, Row};

/// A wrapper that only skips its options, `value_options` with their value.
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

/// Wrappers, shells and interpreters, in the order operators read them.
pub(super) const RUNNERS: &[Row] = &[
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
];

/// Pagers and editors.
pub(super) const INTERACTIVE: Row = Row {
    names: &[
        "less", "more", "most", "pg", "man", "vi", "vim", "nvim", "view", "ex", "ed", "nano", "emacs", "pico", "joe",
        "mg",
    ],
    kind: Kind::Interactive,
    note: "pagers and editors can start a shell",
};
