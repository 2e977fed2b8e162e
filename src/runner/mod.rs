//! The runner: runs one approved command to completion through the spawner,
//! enforcing the timeout, the output caps and the rule that no process
//! outlives its call.
//!
//! Life of a run: spawn the shell as a process-group leader; drain stdout
//! and stderr while waiting for the leader; on timeout send SIGTERM (and
//! SIGCONT, so stopped processes see it) to the group, wait the kill grace,
//! then SIGKILL the group. When the leader is the init of its own PID
//! namespace it ignores SIGTERM, so it is stopped instead while the others
//! get SIGTERM and the grace. Whether or not it timed out, the group is
//! SIGKILLed before the leader is reaped, so background children (`sleep 30
//! &`) die with the call, and the group id cannot be recycled in between.
//! Pipes still held by an escaped process are drained only until a short
//! deadline. If the caller drops the future (client gone, shutdown), the
//! [`GroupGuard`] kills and reaps the group.

mod capture;
pub(crate) mod env;
mod jobs;
mod tap;

pub(crate) use jobs::{JobEnd, JobLimits, JobState, JobStatus, JobTable};

pub(crate) use tap::{Chunk, OutputTap, PROGRESS_CAPACITY};

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::sync::Notify;

use crate::sandbox::{self, Exit, Sandbox, SpawnSpec};
use capture::Capture;

/// How long pipes are still read after the group was killed. Only a
/// process that left the group can hold them open that long.
const DRAIN_DEADLINE: Duration = Duration::from_millis(500);

/// How often the end of a timed-out command's grace period is checked.
const GRACE_POLL: Duration = Duration::from_millis(10);

/// One command to run, already approved by policy.
#[derive(Debug, Clone)]
pub(crate) struct RunRequest {
    /// The sandbox cell (the principal) the command runs in.
    pub(crate) cell: sandbox::CellId,
    pub(crate) command: String,
    pub(crate) cwd: PathBuf,
    /// Variables from the call, validated.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    /// Bytes kept of stdout and of stderr (the caller applies the
    /// configured cap).
    pub(crate) max_output_bytes: usize,
    /// Fed to the command's stdin, which is then closed; `None`: /dev/null.
    pub(crate) stdin: Option<Vec<u8>>,
    /// Receives a copy of the output as it is read, for progress reports.
    pub(crate) tap: Option<Arc<OutputTap>>,
}

/// What happened. `exit` is `None` only if the leader could not be reaped.
#[derive(Debug, Clone)]
pub(crate) struct RunOutcome {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) exit: Option<Exit>,
    pub(crate) timed_out: bool,
    pub(crate) truncated: bool,
    pub(crate) stdout_bytes: u64,
    pub(crate) stderr_bytes: u64,
    pub(crate) duration: Duration,
    /// CPU time and peak memory, when the leader was reaped.
    pub(crate) usage: Option<sandbox::Usage>,
}

/// Settings shared by every run, fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct RunnerSettings {
    pub(crate) shell: PathBuf,
    pub(crate) shell_arg: String,
    pub(crate) kill_grace: Duration,
    pub(crate) base_env: Vec<(OsString, OsString)>,
    /// The prepared sandbox every command starts under.
    pub(crate) sandbox: Arc<Sandbox>,
}

/// Runs commands. Cheap to clone; clones share the table of live groups.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    settings: Arc<RunnerSettings>,
    live: ProcessTable,
}

impl Runner {
    pub(crate) fn new(settings: RunnerSettings) -> Runner {
        Runner { settings: Arc::new(settings), live: ProcessTable::default() }
    }

    pub(crate) fn sandbox(&self) -> &Sandbox {
        &self.settings.sandbox
    }

    /// The groups of commands still running, for shutdown.
    pub(crate) fn live_groups(&self) -> &ProcessTable {
        &self.live
    }

    /// Runs `request`; an `Err` means the command could not be started.
    pub(crate) async fn run(&self, request: RunRequest) -> std::io::Result<RunOutcome> {
        let settings = &self.settings;
        let spec = SpawnSpec {
            program: settings.shell.clone(),
            args: vec![settings.shell_arg.clone().into(), request.command.into()],
            env: env::merge(&settings.base_env, &request.env),
            cwd: request.cwd,
            stdin_pipe: request.stdin.is_some(),
        };
        let started = Instant::now();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let table = self.live.clone();
        settings.sandbox.start(request.cell, spec, self.live.spawning.clone(), move |launched| {
            // Listed before the spawning lock is released. A command whose
            // caller stopped waiting, now or before taking it from the
            // channel, is killed and reaped by its guard's drop.
            let _ = reply.send(launched.map(|launched| {
                let guard = GroupGuard::new(launched.pid, &table);
                (launched, guard)
            }));
        });
        let (launched, guard) = answer.await.map_err(|_| std::io::Error::other("the spawning thread failed"))??;
        let spawned = sandbox::Spawned::watch(launched)?;
        let exit = &spawned.exit;

        let mut stdout = Capture::new(request.max_output_bytes);
        let mut stderr = Capture::new(request.max_output_bytes);
        let feed = feed_stdin(spawned.stdin, request.stdin);
        let group_dead = Notify::new();
        let drain = async {
            let tap = request.tap.as_deref();
            let readers =
                async { tokio::join!(stdout.fill(spawned.stdout, tap), stderr.fill(spawned.stderr, tap), feed) };
            tokio::select! {
                _ = readers => {}
                _ = async { group_dead.notified().await; tokio::time::sleep(DRAIN_DEADLINE).await } => {}
            }
        };
        let supervise = async {
            let timed_out = tokio::time::timeout(request.timeout, exit.exited()).await.is_err();
            if timed_out && settings.sandbox.leader_is_namespace_init() {
                // The shell is PID 1 of its namespace and ignores SIGTERM:
                // stop it so the script goes no further, let the rest of the
                // group handle SIGTERM during the grace, then kill them all.
                // The grace ends early once the rest of the group is gone.
                sandbox::signal_leader(spawned.pid, Signal::SIGSTOP);
                sandbox::kill_group(spawned.pid, Signal::SIGTERM);
                let leader = spawned.pid.as_raw();
                let _ = tokio::time::timeout(settings.kill_grace, async {
                    while !sandbox::children_all_exited(leader) {
                        tokio::time::sleep(GRACE_POLL).await;
                    }
                })
                .await;
            } else if timed_out {
                sandbox::kill_group(spawned.pid, Signal::SIGTERM);
                sandbox::kill_group(spawned.pid, Signal::SIGCONT);
                let _ = tokio::time::timeout(settings.kill_grace, exit.exited()).await;
            }
            sandbox::kill_group(spawned.pid, Signal::SIGKILL);
            exit.exited().await;
            let reaped = guard.reap();
            group_dead.notify_one();
            (reaped, timed_out)
        };
        let ((), (reaped, timed_out)) = tokio::join!(drain, supervise);
        let (exit, usage) = reaped.map_or((None, None), |(exit, usage)| (Some(exit), Some(usage)));
        Ok(RunOutcome {
            stdout: stdout.text(),
            stderr: stderr.text(),
            exit,
            timed_out,
            truncated: stdout.truncated() || stderr.truncated(),
            stdout_bytes: stdout.total,
            stderr_bytes: stderr.total,
            duration: started.elapsed(),
            usage,
        })
    }
}

/// Writes `data` to the command's stdin (the write end of a non-blocking
/// pipe) and closes it. A command that exits or closes stdin early ends the
/// write (EPIPE), which is fine.
async fn feed_stdin(pipe: Option<std::os::fd::OwnedFd>, data: Option<Vec<u8>>) {
    use tokio::io::AsyncWriteExt;
    let (Some(pipe), Some(data)) = (pipe, data) else { return };
    let Ok(mut sender) = tokio::net::unix::pipe::Sender::from_owned_fd_unchecked(pipe) else { return };
    let _ = sender.write_all(&data).await;
}

/// Process groups of commands in flight. Invariant: a group is listed in
/// `groups` from spawn until just before its leader is reaped, and in
/// `leaders` until just after, so the orphan reaper never takes a leader's
/// exit status.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessTable {
    groups: Arc<Mutex<HashSet<i32>>>,
    leaders: Arc<Mutex<HashSet<i32>>>,
    /// Held shared from spawn until the leader is listed (by the spawning
    /// thread), exclusively by the orphan reaper: it never sees a leader
    /// that is not listed yet.
    spawning: Arc<RwLock<()>>,
    /// When the orphan reaper last scanned, and whether a scan is due.
    scans: Arc<Mutex<ScanState>>,
}

/// Every command's exit raises SIGCHLD, and a scan reads each thread's
/// children from /proc: under load, scans are spaced by
/// [`ORPHAN_SCAN_INTERVAL`], the last one deferred rather than skipped.
#[derive(Debug, Default)]
struct ScanState {
    last: Option<std::time::Instant>,
    deferred: bool,
}

/// Shortest time between two orphan scans.
const ORPHAN_SCAN_INTERVAL: Duration = Duration::from_millis(50);

impl ProcessTable {
    /// Reaps the exited children that are not command leaders, now or (when
    /// the last scan was under [`ORPHAN_SCAN_INTERVAL`] ago) a little later;
    /// returns how many were reaped now.
    pub(crate) fn reap_orphans(&self) -> usize {
        let wait = {
            let mut scans = self.scans.lock().expect("scan lock");
            let since = scans.last.map_or(ORPHAN_SCAN_INTERVAL, |last| last.elapsed());
            if since >= ORPHAN_SCAN_INTERVAL {
                scans.last = Some(std::time::Instant::now());
                None
            } else if scans.deferred {
                return 0;
            } else {
                scans.deferred = true;
                Some(ORPHAN_SCAN_INTERVAL - since)
            }
        };
        match (wait, tokio::runtime::Handle::try_current()) {
            (None, _) | (Some(_), Err(_)) => self.scan_orphans(),
            (Some(wait), Ok(runtime)) => {
                let table = self.clone();
                runtime.spawn(async move {
                    tokio::time::sleep(wait).await;
                    {
                        let mut scans = table.scans.lock().expect("scan lock");
                        scans.deferred = false;
                        scans.last = Some(std::time::Instant::now());
                    }
                    table.scan_orphans();
                });
                0
            }
        }
    }

    fn scan_orphans(&self) -> usize {
        let _exclusive = self.spawning.write().expect("spawn lock");
        let leaders = self.leaders.lock().expect("process table lock").clone();
        sandbox::reap_orphans(|pid| leaders.contains(&pid))
    }

    /// SIGKILLs every listed group; their runs then finish on their own.
    pub(crate) fn kill_all(&self) -> usize {
        let groups = self.groups.lock().expect("process table lock");
        for pgid in groups.iter() {
            sandbox::kill_group(Pid::from_raw(*pgid), Signal::SIGKILL);
        }
        groups.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.groups.lock().expect("process table lock").len()
    }
}

/// Owns one live group. Dropping it before [`GroupGuard::reap`] (the run
/// was cancelled) kills the group and reaps the leader in the background.
struct GroupGuard {
    pid: Pid,
    table: ProcessTable,
    reaped: bool,
}

impl GroupGuard {
    fn new(pid: Pid, table: &ProcessTable) -> GroupGuard {
        table.leaders.lock().expect("process table lock").insert(pid.as_raw());
        table.groups.lock().expect("process table lock").insert(pid.as_raw());
        GroupGuard { pid, table: table.clone(), reaped: false }
    }

    /// Reaps the leader, which must have exited, and unlists the group.
    fn reap(mut self) -> Option<(Exit, sandbox::Usage)> {
        self.reaped = true;
        // Unlisted first: once reaped, the pid may be reused, and shutdown
        // must never signal a stranger's group.
        self.table.groups.lock().expect("process table lock").remove(&self.pid.as_raw());
        let reaped = sandbox::reap_with_usage(self.pid);
        self.table.leaders.lock().expect("process table lock").remove(&self.pid.as_raw());
        match reaped {
            Ok(reaped) => Some(reaped),
            Err(error) => {
                tracing::error!(pid = self.pid.as_raw(), %error, "could not reap command");
                None
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        sandbox::kill_group(self.pid, Signal::SIGKILL);
        let pid = self.pid;
        let table = self.table.clone();
        std::thread::spawn(move || {
            let _ = sandbox::reap(pid);
            table.groups.lock().expect("process table lock").remove(&pid.as_raw());
            table.leaders.lock().expect("process table lock").remove(&pid.as_raw());
        });
    }
}
