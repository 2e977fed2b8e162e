//! Shared names of the policy, a leaf the other policy modules read: the
//! builtins that are harmless or run code, the variables and prefixes that
//! change which program runs, git's harmless variables, shell reserved
//! words, the small word helpers, and the guard around the third-party
//! shell parser.

/// Builtins that cannot start another program or change how one is found;
/// they pass an allowlist without being listed.
pub(crate) const HARMLESS_BUILTINS: &[&str] =
    &["cd", "true", "false", ":", "test", "[", "exit", "wait", "break", "continue", "return", "shift", "read"];

/// Builtins that run code or change lookup; refused under an allowlist
/// unless listed explicitly.
pub(crate) const INDIRECT_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    ".",
    "source",
    "alias",
    "unalias",
    "command",
    "builtin",
    "export",
    "unset",
    "set",
    "hash",
    "trap",
    "type",
    "enable",
    "declare",
    "typeset",
    "local",
    "readonly",
    "let",
    "shopt",
    "fc",
    "ulimit",
    "umask",
    "mapfile",
    "readarray",
    "printf",
    "coproc",
];

/// Variables whose assignment changes which program or code runs.
pub(crate) const LOOKUP_VARIABLES: &[&str] = &[
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    "ENV",
    "IFS",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "GCONV_PATH",
    "PROMPT_COMMAND",
    "CDPATH",
    "LESSOPEN",
    "LESSCLOSE",
    "PAGER",
    "MANPAGER",
    "GIT_PAGER",
    "EDITOR",
    "VISUAL",
    "GIT_EDITOR",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_DIR",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "RSYNC_RSH",
    "TAR_OPTIONS",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "BROWSER",
    "TMPDIR",
];

/// Prefixes of variable names that change what runs.
pub(crate) const LOOKUP_PREFIXES: &[&str] = &["LD_", "BASH_FUNC_", "DYLD_", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"];

/// The `GIT_*` variables that only name an identity, a date or how output
/// looks; every other one is refused under an allowlist, as git's
/// documentation adds them: they pick other configuration files
/// (`GIT_CONFIG_*`, `GIT_DIR`, `GIT_COMMON_DIR`), commands (`GIT_SSH*`,
/// `GIT_EXTERNAL_DIFF`, `GIT_*EDITOR`, `GIT_PAGER`, `GIT_ASKPASS`,
/// `GIT_PROXY_COMMAND`), helpers (`GIT_EXEC_PATH`, `GIT_TEMPLATE_DIR`) or
/// transports (`GIT_ALLOW_PROTOCOL`, which can allow `ext::`).
pub(crate) const GIT_HARMLESS: &[&str] = &[
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_TERMINAL_PROMPT",
    "GIT_PROGRESS_DELAY",
    "GIT_FLUSH",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_OPTIONAL_LOCKS",
    "GIT_MERGE_VERBOSITY",
    "GIT_DEFAULT_HASH",
    "GIT_ADVICE",
];

/// Shell words that are not programs.
pub(crate) const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac", "function",
    "select", "time", "!", "{", "}", "[[", "]]",
];

pub(crate) fn changes_lookup(name: &str) -> bool {
    LOOKUP_VARIABLES.contains(&name)
        || LOOKUP_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        || (name.starts_with("GIT_") && !GIT_HARMLESS.contains(&name))
}

pub(crate) fn is_assignment(text: &str) -> bool {
    text.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

pub(crate) fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Runs the third-party parser, turning its panics into errors: it
/// unwraps numbers it cannot hold, such as a 20-digit file descriptor.
pub(crate) fn guarded<T>(parse: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse))
        .unwrap_or_else(|_| Err("the shell parser failed on it (a number too large?)".into()))
}
