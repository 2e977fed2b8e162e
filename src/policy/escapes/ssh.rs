//! ssh, scp and sftp: configuration options and files that name local
//! commands (`ProxyCommand`, `LocalCommand`), and helper programs.

use super::{Kind, Row};

pub(super) const ROW: Row = Row {
    names: &["ssh", "scp", "sftp"],
    kind: Kind::Options { triggers: &["-o", "-F", "-S"], global_triggers: &[], runs_until: &[], bundled_first: false },
    note: "-o ProxyCommand/LocalCommand, -F (config file) and -S/-D programs run commands",
};
