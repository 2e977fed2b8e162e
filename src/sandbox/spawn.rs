//! Starting one command: the `clone(CLONE_VM | CLONE_VFORK)` call on a
//! private stack, the pipes, the pidfd that says when the leader exits, and
//! the signals and reaping the runner uses afterwards.

use std::ffi::{CString, OsString, c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::child::{self, ChildArgs, Stage};
use super::error::Error;
use super::{CellId, Sandbox, as_user};

/// Size of each child's stack; the child's frames are tiny.
const CHILD_STACK_BYTES: usize = 64 * 1024;

/// Everything needed to start one command. Invariant: `env` is the complete
/// environment of the child; nothing of the daemon's leaks in.
#[derive(Debug, Clone)]
pub(crate) struct SpawnSpec {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) cwd: PathBuf,
    /// Give the command a pipe on stdin (else /dev/null).
    pub(crate) stdin_pipe: bool,
}

/// A started command. The process is the leader of group `pid` and has not
/// been reaped.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: Pid,
    /// Resolves when the leader exits.
    pub(crate) exit: ExitWatch,
    /// The write end of the command's stdin, when a pipe was asked for.
    /// This end and the two below are non-blocking pipes, ready for the
    /// runtime (the command's ends are blocking, as programs expect).
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
}

/// A cloned child: its pid, and the daemon's ends of its stdin (when
/// piped), stdout and stderr.
type Launched = (Pid, Option<OwnedFd>, OwnedFd, OwnedFd);

/// A started command before the runtime watches it: the leader of its own
/// group, not reaped, its pidfd, and the daemon's (non-blocking) pipe ends.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) pid: Pid,
    pidfd: OwnedFd,
    stdin: Option<OwnedFd>,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

impl Spawned {
    /// Watches `started` from the runtime, which must be current. On an
    /// error the command is left to the caller to kill and reap.
    pub(crate) fn watch(started: Started) -> io::Result<Spawned> {
        let Started { pid, pidfd, stdin, stdout, stderr } = started;
        ExitWatch::new(pidfd).map(|exit| Spawned { pid, exit, stdin, stdout, stderr })
    }
}

/// How the leader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(Signal),
}

impl Sandbox {
    /// Runs `spec` to completion on the calling thread, output discarded
    /// (the start-up probe and the spawn benchmark).
    pub(crate) fn run_blocking(&self, cell: CellId, spec: &SpawnSpec) -> Result<Exit, Error> {
        let (pid, _stdin, _stdout, _stderr) = self.spawn_raw(cell, spec)?;
        reap(pid).map_err(|error| Error::spawn(Stage::None, Errno::from_raw(error.raw_os_error().unwrap_or(0))))
    }

    /// Starts `spec` with stdin at /dev/null (or a pipe) and stdout/stderr
    /// on fresh pipes, in a new process group, under every prepared layer,
    /// and hands the result to `done`, both while holding `spawning` shared
    /// (the orphan reaper takes it exclusively, so it never sees a leader
    /// that `done` has not listed yet).
    ///
    /// A cell with spawning threads starts the command on one of them and
    /// this call returns at once: the caller's thread (a runtime worker) is
    /// not held while the child sets itself up. A cell without them starts
    /// it on this thread before returning; PR_SET_PDEATHSIG fires when the
    /// *thread* that cloned the child exits, so call this from long-lived
    /// threads (the runtime's workers), never from `spawn_blocking`, whose
    /// idle threads exit.
    pub(crate) fn start(
        self: &Arc<Self>,
        cell: CellId,
        spec: SpawnSpec,
        spawning: Arc<RwLock<()>>,
        done: impl FnOnce(io::Result<Started>) + Send + 'static,
    ) {
        let sandbox = self.clone();
        let job = move |ready: Result<bool, Errno>| {
            let _spawning = spawning.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let started = ready
                .map_err(|errno| Error::spawn(Stage::Landlock, errno).into_io())
                .and_then(|in_domain| sandbox.start_here(cell, &spec, in_domain));
            done(started);
        };
        let Some(pool) = &self.cells[cell.0].spawners else {
            return job(Ok(false));
        };
        // A panic in the job (it has none to raise) must not take the
        // pool's thread with it: `done`, unrun, is dropped and its caller
        // sees the command as not started.
        let job = move |ready: Result<(), Errno>| {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(ready.map(|()| true))));
        };
        if let Err((errno, job)) = pool.submit(Box::new(job)) {
            job(Err(errno));
        }
    }

    /// Clones the child from this thread (`in_domain`: it is in the cell's
    /// Landlock domain already) and opens its pidfd.
    fn start_here(&self, cell: CellId, spec: &SpawnSpec, in_domain: bool) -> io::Result<Started> {
        let (pid, stdin, stdout, stderr) = self.launch(&self.cells[cell.0], spec, in_domain).map_err(Error::into_io)?;
        match pidfd_open(pid) {
            Ok(pidfd) => Ok(Started { pid, pidfd, stdin, stdout, stderr }),
            Err(error) => {
                kill_group(pid, Signal::SIGKILL);
                let _ = reap(pid);
                Err(error)
            }
        }
    }

    /// Starts `spec` in `cell`: from one of the cell's spawning threads,
    /// whose Landlock domain the child inherits, or else from this thread
    /// with the child restricting itself.
    fn spawn_raw(&self, cell: CellId, spec: &SpawnSpec) -> Result<Launched, Error> {
        let cell = &self.cells[cell.0];
        match &cell.spawners {
            Some(pool) => pool
                .run(|| self.launch(cell, spec, true))
                .unwrap_or_else(|errno| Err(Error::spawn(Stage::Landlock, errno))),
            None => self.launch(cell, spec, false),
        }
    }

    /// Builds the child's arguments and clones it; `in_domain`: this thread
    /// is in the cell's Landlock domain already.
    fn launch(&self, cell: &super::Cell, spec: &SpawnSpec, in_domain: bool) -> Result<Launched, Error> {
        let os_error = |errno: Errno| Error::spawn(Stage::None, errno);
        let c_string = |bytes: &[u8]| CString::new(bytes).map_err(|_| os_error(Errno::EINVAL));
        let path = c_string(spec.program.as_os_str().as_bytes())?;
        let cwd = c_string(spec.cwd.as_os_str().as_bytes())?;
        let mut argv_owned = vec![c_string(spec.program.as_os_str().as_bytes())?];
        for arg in &spec.args {
            argv_owned.push(c_string(arg.as_bytes())?);
        }
        let mut env_owned = Vec::with_capacity(spec.env.len());
        for (key, value) in &spec.env {
            let mut entry = key.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            env_owned.push(c_string(&entry)?);
        }
        let argv: Vec<*const libc::c_char> =
            argv_owned.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let envp: Vec<*const libc::c_char> =
            env_owned.iter().map(|e| e.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let (stdin_read, stdin_write) = if spec.stdin_pipe {
            pipe().and_then(|(r, w)| non_blocking(w).map(|w| (Some(r), Some(w))))?
        } else {
            (None, None)
        };
        let (stdout_read, stdout_write) = pipe()?;
        let (stderr_read, stderr_write) = pipe()?;
        let (stdout_read, stderr_read) = (non_blocking(stdout_read)?, non_blocking(stderr_read)?);
        let stack = STACK.with(|cached| match cached.take() {
            Some(stack) => Ok(stack),
            None => Stack::new(),
        });
        let stack = stack.map_err(os_error)?;
        if cell.sockets.is_some() {
            super::broker::cover_this_thread().map_err(os_error)?;
        }
        let mut steps = self.steps;
        if cell.switch_user {
            steps |= child::STEP_SWITCH_USER;
        }
        let ruleset = if in_domain { None } else { cell.ruleset.as_ref() };
        if ruleset.is_none() {
            steps &= !child::STEP_LANDLOCK;
        }
        let mut args = ChildArgs {
            steps,
            path: path.as_ptr(),
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            cwd: cwd.as_ptr(),
            stdio: [
                stdin_read.as_ref().unwrap_or(&self.devnull).as_raw_fd(),
                stdout_write.as_raw_fd(),
                stderr_write.as_raw_fd(),
            ],
            ruleset_fd: ruleset.map_or(-1, |fd| fd.as_raw_fd()),
            filter: &raw const self.program,
            rlimits: self.rlimits,
            uid: cell.uid,
            gid: cell.gid,
            parent_pid: daemon_pid(),
            last_cap: self.last_cap,
            stage: 0,
            errno: 0,
        };
        let pid = clone_vfork(&stack, &mut args, self.namespaces);
        // The child has exec'd or exited: the stack is free for the next one.
        STACK.with(|cached| cached.set(Some(stack)));
        let pid = pid.map_err(os_error)?;
        if let Some(rules) = &cell.sockets {
            super::broker::register(pid.as_raw(), rules.clone());
        }
        drop((stdin_read, stdout_write, stderr_write));
        // SAFETY: the child has exec'd or exited (CLONE_VFORK), so nothing
        // writes `args` any more; volatile because the write came from
        // another process sharing the memory.
        let (stage, errno) =
            unsafe { (std::ptr::read_volatile(&raw const args.stage), std::ptr::read_volatile(&raw const args.errno)) };
        if stage != 0 {
            let _ = reap(pid);
            return Err(Error::spawn(Stage::from_raw(stage), Errno::from_raw(errno)));
        }
        Ok((pid, stdin_write, stdout_read, stderr_read))
    }
}

/// The daemon's pid, read once (glibc does not cache it).
fn daemon_pid() -> c_int {
    static PID: std::sync::OnceLock<c_int> = std::sync::OnceLock::new();
    *PID.get_or_init(|| std::process::id() as c_int)
}

/// Whether a spawn failed because the command could not enter its working
/// directory (checked by the command's own `chdir`, as its user).
pub(crate) fn failed_at_working_directory(error: &io::Error) -> bool {
    error.get_ref().and_then(|e| e.downcast_ref::<Error>()).is_some_and(|e| e.stage() == Some(Stage::WorkingDirectory))
}

/// Clones the child on `stack` with all signals blocked in this thread, so
/// no daemon signal handler can run on the child's side of shared memory.
fn clone_vfork(stack: &Stack, args: &mut ChildArgs, namespaces: c_int) -> Result<Pid, Errno> {
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut previous = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises `all`; pthread_sigmask only touches this
    // thread's mask and writes `previous`. clone runs `child_main` on a
    // private stack with `args`, which outlives the call: with CLONE_VFORK
    // this thread is suspended until the child execs or exits.
    unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), previous.as_mut_ptr());
        let pid = libc::clone(
            child::child_main,
            stack.top(),
            // Exit signal 0 (reaped with __WALL): the runner learns of the
            // exit from the pidfd. A child that fails before its exec sends
            // nothing; an exec makes the exit signal SIGCHLD again, which
            // the daemon leaves at its default (discarded) when PID
            // namespaces hold the commands.
            libc::CLONE_VM | libc::CLONE_VFORK | namespaces,
            args as *mut ChildArgs as *mut c_void,
        );
        let errno = Errno::last();
        libc::pthread_sigmask(libc::SIG_SETMASK, previous.as_ptr(), std::ptr::null_mut());
        if pid < 0 { Err(errno) } else { Ok(Pid::from_raw(pid)) }
    }
}

thread_local! {
    /// Each thread's child stack, kept between spawns (mapping one per spawn
    /// costs a guard-page split and a TLB shootdown on every core).
    static STACK: std::cell::Cell<Option<Stack>> = const { std::cell::Cell::new(None) };
}

/// A child stack with a guard page at its low end, unmapped on drop.
struct Stack {
    base: *mut c_void,
}

impl Stack {
    fn new() -> Result<Stack, Errno> {
        // SAFETY: an anonymous private mapping; its address is checked
        // before use and the guard page lies inside it.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                CHILD_STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(Errno::last());
            }
            if libc::mprotect(base, 4096, libc::PROT_NONE) != 0 {
                let errno = Errno::last();
                libc::munmap(base, CHILD_STACK_BYTES);
                return Err(errno);
            }
            Ok(Stack { base })
        }
    }

    /// The stack grows down: the child starts at the aligned top.
    fn top(&self) -> *mut c_void {
        ((self.base as usize + CHILD_STACK_BYTES) & !15) as *mut c_void
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; the child that
        // used it has exec'd or exited.
        unsafe {
            libc::munmap(self.base, CHILD_STACK_BYTES);
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|errno| Error::spawn(Stage::None, errno))
}

/// `end`, made non-blocking: one `fcntl`, as a fresh pipe end has no other
/// status flag to keep.
fn non_blocking(end: OwnedFd) -> Result<OwnedFd, Error> {
    use nix::fcntl::{FcntlArg, fcntl};
    fcntl(&end, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|errno| Error::spawn(Stage::None, errno))?;
    Ok(end)
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

/// Sends `signal` to every process in group `pgid`. A group that is already
/// empty is not an error.
pub(crate) fn kill_group(pgid: Pid, signal: Signal) {
    match as_owner_if_refused(pgid, || killpg(pgid, signal)) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => tracing::warn!(pgid = pgid.as_raw(), %signal, %error, "could not signal process group"),
    }
}

/// Sends `signal` to the leader alone.
pub(crate) fn signal_leader(pid: Pid, signal: Signal) {
    match as_owner_if_refused(pid, || nix::sys::signal::kill(pid, signal)) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => tracing::warn!(pid = pid.as_raw(), %signal, %error, "could not signal command"),
    }
}

/// Runs `send`; if the kernel refuses it (a daemon that is root without
/// CAP_KILL, as in the image's task definitions, may not signal another
/// uid's processes), runs it again with this thread's effective uid and gid
/// those of `leader`, the command's group leader (alive or not yet reaped,
/// so its owner is known): the sender's effective uid then matches the
/// command's real uid, which is all `kill` asks. Never as root.
fn as_owner_if_refused(leader: Pid, send: impl Fn() -> nix::Result<()>) -> nix::Result<()> {
    match send() {
        Err(Errno::EPERM) => match owner(leader) {
            Some((uid, gid)) if uid != 0 => as_user::as_user(Some((uid, gid)), send).unwrap_or_else(Err),
            _ => Err(Errno::EPERM),
        },
        other => other,
    }
}

/// The real uid and gid of process `pid`, from `/proc/<pid>/status`.
fn owner(pid: Pid) -> Option<(u32, u32)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let real = |key: &str| -> Option<u32> {
        status.lines().find_map(|line| line.strip_prefix(key))?.split_whitespace().next()?.parse().ok()
    };
    Some((real("Uid:")?, real("Gid:")?))
}

/// CPU time and peak memory of a reaped command: the leader and every
/// descendant it waited for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) user: std::time::Duration,
    pub(crate) system: std::time::Duration,
    /// Largest resident set of any one process, in KiB.
    pub(crate) max_rss_kib: u64,
}

/// As [`reap`], and the command's resource usage (`wait4`).
pub(crate) fn reap_with_usage(pid: Pid) -> io::Result<(Exit, Usage)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes only the status and rusage we pass, both
        // live locals of the right types.
        let reaped = unsafe { libc::wait4(pid.as_raw(), &mut status, libc::__WALL, &mut usage) };
        if reaped < 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(error);
        }
        let exit = if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            match Signal::try_from(libc::WTERMSIG(status)) {
                Ok(signal) => Exit::Signal(signal),
                Err(_) => Exit::Code(128 + libc::WTERMSIG(status)),
            }
        } else {
            continue;
        };
        let time = |t: libc::timeval| {
            std::time::Duration::from_secs(t.tv_sec.max(0) as u64)
                + std::time::Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        super::broker::unregister(pid.as_raw());
        let usage = Usage {
            user: time(usage.ru_utime),
            system: time(usage.ru_stime),
            max_rss_kib: usage.ru_maxrss.max(0) as u64,
        };
        return Ok((exit, usage));
    }
}

/// Reaps the exited leader `pid`. Call only after its pidfd became readable
/// (or after SIGKILL), since this blocks until the leader is gone.
pub(crate) fn reap(pid: Pid) -> io::Result<Exit> {
    loop {
        let status = waitpid(pid, Some(nix::sys::wait::WaitPidFlag::__WALL));
        if matches!(status, Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..))) {
            super::broker::unregister(pid.as_raw());
        }
        match status {
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
