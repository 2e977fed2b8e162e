//! git: options before the subcommand that pick configuration or a
//! repository, and subcommand options that run commands.

use super::{Kind, Row};

pub(super) const ROW: Row = Row {
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
        global_triggers: &["-c", "--config-env", "--exec-path", "-C", "--git-dir", "--work-tree", "-p", "--paginate"],
        runs_until: &[],
        bundled_first: false,
    },
    note: "before the subcommand, -c/--config-env set hooks, pagers and ssh commands, -C/--git-dir/--work-tree pick a repository whose config runs commands and -p starts the configured pager; --upload-pack, --receive-pack, --extcmd, grep -O/--open-files-in-pager, rebase -x/--exec and textconv run commands, and clone --config sets any of them. A repository's own config (hooks, fsmonitor, filters) still runs what it names: the kernel's EXECUTE list is the wall there",
};
