//! zip and unzip: the command that tests an archive.

use super::{Kind, Row};

pub(super) const ROW: Row = Row {
    names: &["zip", "unzip"],
    kind: Kind::Options {
        triggers: &["-TT", "--unzip-command"],
        global_triggers: &[],
        runs_until: &[],
        bundled_first: false,
    },
    note: "-TT runs a command",
};
