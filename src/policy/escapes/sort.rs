//! sort: `--compress-program` runs a command on its temporary files.

use super::{Kind, Row};

pub(super) const ROW: Row = Row {
    names: &["sort"],
    kind: Kind::Options {
        triggers: &["--compress-program"],
        global_triggers: &[],
        runs_until: &[],
        bundled_first: false,
    },
    note: "--compress-program runs a command",
};
