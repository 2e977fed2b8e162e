//! The spawner: starts one command as the leader of a new process group and
//! hands back what the runner needs to supervise it (pid, pidfd, output
//! pipes).
//!
//! This module knows nothing about MCP. It is the only place allowed to use
//! `unsafe`, each block with a `// SAFETY:` line. The group id equals the
//! leader's pid, and the leader stays unreaped (a zombie) until
//! [`reap`] is called, so the group id cannot be reused while the runner
//! still signals it.

use std::ffi::OsString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Everything needed to start one command. Invariant: `env` is the complete
/// environment of the child; nothing of the daemon's leaks in.
#[derive(Debug, Clone)]
pub(crate) struct SpawnSpec {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) cwd: PathBuf,
}

/// A started command. The process is the leader of group `pid` and has not
/// been reaped.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: Pid,
    /// Resolves when the leader exits.
    pub(crate) exit: ExitWatch,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

/// Watches a pidfd, which becomes readable once the process has exited
/// (and stays so: readiness is never cleared).
#[derive(Debug)]
pub(crate) struct ExitWatch(AsyncFd<OwnedFd>);

impl ExitWatch {
    fn new(pidfd: OwnedFd) -> io::Result<ExitWatch> {
        // SAFETY: `OwnedFd` holds a valid open fd, returns the same raw fd
        // for its whole life, and is dropped only together with the AsyncFd.
        let registered = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) };
        registered.map(ExitWatch).map_err(io::Error::from)
    }

    /// Resolves once the process has exited.
    pub(crate) async fn exited(&self) {
        let _ = self.0.readable().await;
    }
}

/// How the leader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(Signal),
}

/// Starts `spec` with stdin at /dev/null and stdout/stderr on fresh pipes,
/// in a new process group.
pub(crate) fn spawn(spec: &SpawnSpec) -> io::Result<Spawned> {
    let mut child = std::process::Command::new(&spec.program)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        unreachable!("both pipes were requested");
    };
    let exit = match pidfd_open(pid).and_then(ExitWatch::new) {
        Ok(exit) => exit,
        Err(error) => {
            kill_group(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            return Err(error);
        }
    };
    // `child` is dropped without waiting: std never reaps on drop, so the
    // leader stays ours to reap through `reap`.
    Ok(Spawned { pid, exit, stdout: stdout.into(), stderr: stderr.into() })
}

/// Sends `signal` to every process in group `pgid`. A group that is already
/// empty is not an error.
pub(crate) fn kill_group(pgid: Pid, signal: Signal) {
    match killpg(pgid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => {
            tracing::warn!(pgid = pgid.as_raw(), %signal, %error, "could not signal process group")
        }
    }
}

/// Reaps the exited leader `pid`. Call only after its pidfd became readable
/// (or after SIGKILL), since this blocks until the leader is gone.
pub(crate) fn reap(pid: Pid) -> io::Result<Exit> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Exit::Code(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(Exit::Signal(signal)),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // it reads and writes no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), libc::PIDFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
