//! The user layer: each principal's commands run under a uid and gid of
//! their own, with no supplementary groups; the child switches with raw
//! `setgroups`, `setresgid`, `setresuid` (`child::STEP_SWITCH_USER`, set per
//! cell at spawn).

use super::{Build, Layer, Spec};
use crate::sandbox::child::Stage;
use crate::sandbox::process::{can_switch_users, warn_if_commands_can_starve_the_daemon};
use crate::sandbox::{Cell, CellSettings, SandboxSettings};

pub(super) const SPEC: Spec = Spec {
    layer: Layer::User,
    name: "user",
    required_by_default: false,
    opt_in: None,
    stages: &[Stage::SwitchUser],
    prepare,
};

/// Every configured cell, running as its own uid where `switching` is on
/// and the daemon can switch; else as the daemon's.
pub(super) fn cells(settings: &SandboxSettings, switching: bool) -> Vec<Cell> {
    let switching = switching && can_switch_users();
    let cells: Vec<Cell> = settings.cells.iter().map(|cell| Cell::new(cell, switching)).collect();
    if cells.iter().any(|cell| !cell.switch_user) {
        warn_if_commands_can_starve_the_daemon(settings.rlimits.processes);
    }
    cells
}

impl Cell {
    fn new(settings: &CellSettings, switching: bool) -> Cell {
        let own = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        let (switch_user, (uid, gid)) = match settings.run_as {
            Some(ids) if switching && ids != own => (true, ids),
            _ => (false, own),
        };
        Cell { uid, gid, switch_user, ruleset: None, spawners: None, sockets: None }
    }
}

/// Enforced when every cell's commands run under a uid of their own.
fn prepare(build: &mut Build) -> Result<String, String> {
    let (settings, cells) = (&build.settings.cells, &build.cells);
    let own = nix::unistd::geteuid().as_raw();
    if let Some(cell) = cells.iter().find(|cell| !cell.switch_user) {
        return Err(if can_switch_users() {
            "no uid of their own is configured for commands".to_string()
        } else {
            format!(
                "the daemon cannot switch uids (it lacks CAP_SETUID and CAP_SETGID), so every principal's commands \
                 share its uid {} (MCP_SHARED_UID)",
                cell.uid.max(own)
            )
        });
    }
    if cells.len() > 1 && cells.iter().all(|cell| (cell.uid, cell.gid) == (cells[0].uid, cells[0].gid)) {
        return Ok(format!(
            "every principal's commands share uid and gid {}:{} (MCP_SHARED_UID): only Landlock keeps them apart",
            cells[0].uid, cells[0].gid
        ));
    }
    let mut names: Vec<String> =
        settings.iter().zip(cells).take(4).map(|(s, c)| format!("{} as {}:{}", s.name, c.uid, c.gid)).collect();
    if cells.len() > 4 {
        names.push(format!("and {} more", cells.len() - 4));
    }
    Ok(format!("a uid and gid per principal, no supplementary groups: {}", names.join(", ")))
}
