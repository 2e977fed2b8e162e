//! rsync: the remote shell and the remote rsync are commands.

use super::{Kind, Row};

pub(super) const ROW: Row = Row {
    names: &["rsync"],
    kind: Kind::Options {
        triggers: &["-e", "--rsh", "--rsync-path"],
        global_triggers: &[],
        runs_until: &[],
        bundled_first: false,
    },
    note: "-e/--rsh/--rsync-path run commands",
};
