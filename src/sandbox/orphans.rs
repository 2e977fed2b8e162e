//! Orphans: the daemon is a child subreaper (and may be PID 1 in a
//! container with no init), so processes whose parent died inside a
//! command's group are re-parented to it and must be reaped here.
//!
//! Command leaders are reaped by their runner, which needs their status.
//! They are told apart by their process group: a leader's group id is its
//! own pid, while an orphan is a member of some leader's group, and the
//! seccomp filter forbids commands to create groups of their own.

use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// Makes the daemon the reaper of its descendants' orphans.
pub(crate) fn become_subreaper() -> Result<(), String> {
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| format!("PR_SET_CHILD_SUBREAPER failed: {e}"))
}

/// Reaps every exited child that is not a command leader (`is_leader`
/// names the listed ones); returns how many were reaped.
pub(crate) fn reap_orphans(is_leader: impl Fn(i32) -> bool) -> usize {
    let mut reaped = 0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    for task in tasks.flatten() {
        let Ok(children) = std::fs::read_to_string(task.path().join("children")) else { continue };
        for pid in children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            if !is_leader(pid)
                && is_orphan(pid)
                && matches!(waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)), Ok(status) if status.pid().is_some())
            {
                reaped += 1;
            }
        }
    }
    reaped
}

/// Whether every child of `pid` has exited (is a zombie) or it has none.
/// For a leader that is its namespace's init, every process of the
/// command is its child or reparented to it, so this says the rest of the
/// command is gone.
pub(crate) fn children_all_exited(pid: i32) -> bool {
    let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) else {
        return true;
    };
    children.split_whitespace().all(|child| {
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .map_or(true, |stat| stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
    })
}

/// A child whose process group is not its own: not a leader we spawned.
fn is_orphan(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // Fields after the parenthesised command name: state ppid pgrp ...
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return false };
    let mut fields = rest.split_whitespace();
    let pgrp = fields.nth(2).and_then(|p| p.parse::<i32>().ok());
    pgrp.is_some_and(|pgrp| pgrp != pid)
}
