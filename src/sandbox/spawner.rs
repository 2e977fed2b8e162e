//! Spawning threads that already carry a cell's Landlock domain.
//!
//! `landlock_restrict_self` copies every rule of the ruleset into a new
//! domain, so a child that restricts itself pays for each rule: about
//! 0.1 µs a rule, and read paths expanded around the daemon's files can
//! make hundreds (one per entry of a busy `/tmp`). A child cloned from a
//! thread that is in the domain already inherits it by reference at no
//! cost, so each cell gets a small pool of daemon threads, each restricted
//! once with that cell's ruleset, and its commands are cloned from them.
//!
//! A thread of the daemon then shares its commands' domain, which within
//! Landlock's scoping lets those commands signal or trace it. Only the uid
//! keeps them out, so pools serve only cells whose commands run under a uid
//! other than the daemon's (a command may signal or trace a process only of
//! its own uid, and holds no capability); the others restrict each child.
//! A restricted thread also may not mount, so a private `/proc` (mounted by
//! each child) restricts each child too.
//!
//! Threads start on demand, up to [`MAX_THREADS`] per cell, and live as long
//! as the sandbox: `PR_SET_PDEATHSIG` fires when the thread that cloned a
//! command exits.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};

use nix::errno::Errno;

/// Threads per cell at most; each blocks only while its child runs up to
/// `execve`, so a few cover the cores.
const MAX_THREADS: usize = 8;

/// Stack of each spawning thread; it only builds a child's arguments.
const THREAD_STACK_BYTES: usize = 256 * 1024;

/// A job for a spawning thread, told whether the thread could enter the
/// domain (else the errno of `landlock_restrict_self`).
pub(super) type Job = Box<dyn FnOnce(Result<(), Errno>) + Send + 'static>;

/// The spawning threads of one cell.
#[derive(Debug)]
pub(super) struct Pool {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Each thread's own copy of the ruleset is duplicated from this one.
    ruleset: OwnedFd,
    name: String,
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    closed: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("jobs", &self.jobs.len()).field("threads", &self.threads).finish()
    }
}

impl Pool {
    /// A pool whose threads restrict themselves with `ruleset`.
    pub(super) fn new(ruleset: &OwnedFd, name: &str) -> Result<Pool, String> {
        let ruleset = ruleset.try_clone().map_err(|e| format!("cannot duplicate the Landlock ruleset: {e}"))?;
        let shared = Shared { ruleset, name: name.to_string(), state: Mutex::default(), work: Condvar::new() };
        Ok(Pool { shared: Arc::new(shared) })
    }

    /// Runs `job` on one of the pool's threads and returns its result, or
    /// the errno that kept the job from running (no thread could start, or
    /// the thread could not enter the domain).
    pub(super) fn run<R: Send>(&self, job: impl FnOnce() -> R + Send) -> Result<R, Errno> {
        let (reply, answer) = std::sync::mpsc::sync_channel::<Result<R, Errno>>(1);
        let wrapped: Box<dyn FnOnce(Result<(), Errno>) + Send + '_> = Box::new(move |ready| {
            let result =
                ready.and_then(|()| std::panic::catch_unwind(AssertUnwindSafe(job)).map_err(|_| Errno::EFAULT));
            let _ = reply.send(result);
        });
        // SAFETY: only the lifetime is erased. This call returns only once
        // `answer` yields, that is once the job has sent its reply (its
        // last use of anything borrowed: panics are caught before it) or
        // has been dropped without running (the sender goes with it). So
        // nothing the job borrows is used after this function returns.
        let wrapped: Job =
            unsafe { std::mem::transmute::<Box<dyn FnOnce(Result<(), Errno>) + Send + '_>, Job>(wrapped) };
        self.submit(wrapped).map_err(|(errno, _job)| errno)?;
        answer.recv().unwrap_or(Err(Errno::EPIPE))
    }

    /// Queues `job` for one of the pool's threads and returns at once; when
    /// no thread can take it, hands it back with the errno.
    pub(super) fn submit(&self, job: Job) -> Result<(), (Errno, Job)> {
        let shared = &self.shared;
        let mut state = shared.state.lock().expect("spawner state");
        state.jobs.push_back(job);
        if state.idle == 0 && state.threads < MAX_THREADS {
            state.threads += 1;
            let worker = shared.clone();
            let started = std::thread::Builder::new()
                .name(format!("spawn-{}", shared.name))
                .stack_size(THREAD_STACK_BYTES)
                .spawn(move || work(worker));
            if let Err(error) = started {
                state.threads -= 1;
                if let (0, Some(job)) = (state.threads, state.jobs.pop_back()) {
                    // No thread will ever take it: back to the caller.
                    return Err((error.raw_os_error().map_or(Errno::EAGAIN, Errno::from_raw), job));
                }
            }
        }
        shared.work.notify_one();
        Ok(())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.state.lock().expect("spawner state").closed = true;
        self.shared.work.notify_all();
    }
}

/// A spawning thread: enter the domain once, then take jobs until the pool
/// closes.
fn work(shared: Arc<Shared>) {
    let ready = enter_domain(&shared.ruleset);
    let mut state = shared.state.lock().expect("spawner state");
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job(ready);
            state = shared.state.lock().expect("spawner state");
            continue;
        }
        if state.closed {
            state.threads -= 1;
            return;
        }
        state.idle += 1;
        state = shared.work.wait(state).expect("spawner state");
        state.idle -= 1;
    }
}

/// Restricts the calling thread (only it: no TSYNC) with a copy of
/// `ruleset`.
fn enter_domain(ruleset: &OwnedFd) -> Result<(), Errno> {
    let own = ruleset.try_clone().map_err(|e| e.raw_os_error().map_or(Errno::EBADF, Errno::from_raw))?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integers and affects this
    // thread, which never execs; Landlock requires it without
    // CAP_SYS_ADMIN.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(Errno::last());
    }
    // SAFETY: landlock_restrict_self takes a ruleset fd, open for the call,
    // and flags 0; it restricts the calling thread only.
    if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, own.as_raw_fd(), 0u32) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}
