//! tar: options that run commands, also inside the bundled first
//! argument of the traditional syntax (`tar cIf`).

use super::{Kind, Row};

pub(super) const ROW: Row = Row {
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
};
