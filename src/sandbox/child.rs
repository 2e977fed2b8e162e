//! The code that runs in the child between `clone(CLONE_VM | CLONE_VFORK)`
//! and `execve`.
//!
//! The child shares the daemon's memory and runs on a private stack while
//! the cloning thread is suspended. It may therefore not allocate, take a
//! lock, touch thread-local state or call a libc wrapper (glibc's
//! `setuid` signals every thread of the process): every step is one raw
//! system call on data the parent prepared in [`ChildArgs`]. On failure the
//! child records the step and errno in `ChildArgs` (shared memory) and
//! exits with 127; the parent reads them once `clone` returns.
//!
//! Order matters and is fixed here:
//! 1. reset every signal disposition (handlers are the daemon's code);
//! 2. `setpgid(0, 0)`: the command leads its own process group;
//!    with a private procfs, mount one of the new PID namespace on `/proc`
//!    (the child is in a new mount namespace; needs CAP_SYS_ADMIN, so
//!    before the uid switch);
//! 3. rlimits, before the uid switch (RLIMIT_NPROC is checked there);
//! 4. drop the capability bounding set and ambient set (needs CAP_SETPCAP,
//!    so before the uid switch);
//! 5. `setgroups(0)`, `setresgid`, `setresuid` when running as another user;
//! 6. `capset` to zero (after the switch, which needed CAP_SETUID);
//! 7. `PR_SET_PDEATHSIG` (a credential change clears it, so after 5) and a
//!    check that the daemon did not die before it took effect;
//! 8. `PR_SET_NO_NEW_PRIVS` (required by Landlock and seccomp as non-root);
//! 9. `chdir`, then stdio onto 0-2 and `close_range` of everything else but
//!    the Landlock ruleset fd;
//! 10. `landlock_restrict_self`, then close the ruleset fd (unless the
//!     child was cloned from a thread already in the domain, `spawner`);
//! 11. the seccomp filter, last, since it denies calls the steps above make;
//! 12. unblock signals and `execve`.

use std::ffi::{c_char, c_int, c_long, c_void};

/// Steps to perform; bits of [`ChildArgs::steps`].
pub(super) const STEP_RLIMITS: u32 = 1 << 0;
pub(super) const STEP_BOUNDING_SET: u32 = 1 << 1;
pub(super) const STEP_SWITCH_USER: u32 = 1 << 2;
pub(super) const STEP_CAPSET: u32 = 1 << 3;
pub(super) const STEP_NO_NEW_PRIVS: u32 = 1 << 4;
pub(super) const STEP_LANDLOCK: u32 = 1 << 5;
pub(super) const STEP_SECCOMP: u32 = 1 << 6;
/// The child is the first process of a new PID namespace: its parent is
/// outside it, so `getppid` answers 0.
pub(super) const STEP_PID_NAMESPACE: u32 = 1 << 7;
/// The child is in a new mount namespace too, and mounts a procfs of its
/// own PID namespace on `/proc`.
pub(super) const STEP_PRIVATE_PROC: u32 = 1 << 8;

/// Where a spawn failed. The values are the child's protocol: it stores
/// one in `ChildArgs::stage` on failure, 0 meaning none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Stage {
    /// Before the child ran (pipes, stack, `clone`), or not known.
    None = 0,
    ProcessGroup = 1,
    Rlimits = 2,
    BoundingSet = 3,
    SwitchUser = 4,
    Capabilities = 5,
    ParentDeathSignal = 6,
    NoNewPrivs = 7,
    WorkingDirectory = 8,
    Stdio = 9,
    CloseFds = 10,
    Landlock = 11,
    Seccomp = 12,
    Exec = 13,
    ProcMount = 14,
}

impl Stage {
    /// The stage the child stored; an unknown value is `None`.
    pub(crate) fn from_raw(raw: c_int) -> Stage {
        use Stage::*;
        [
            None,
            ProcessGroup,
            Rlimits,
            BoundingSet,
            SwitchUser,
            Capabilities,
            ParentDeathSignal,
            NoNewPrivs,
            WorkingDirectory,
            Stdio,
            CloseFds,
            Landlock,
            Seccomp,
            Exec,
            ProcMount,
        ]
        .get(raw as usize)
        .copied()
        .unwrap_or(None)
    }

    /// The layer or step named for an operator.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Stage::None => "unknown step",
            Stage::ProcessGroup => "setpgid (new process group)",
            Stage::Rlimits => "setrlimit (resource limits)",
            Stage::BoundingSet => "capability bounding set drop",
            Stage::SwitchUser => "switch to the unprivileged uid/gid",
            Stage::Capabilities => "capset (drop capabilities)",
            Stage::ParentDeathSignal => "PR_SET_PDEATHSIG (the daemon exited during the spawn)",
            Stage::NoNewPrivs => "PR_SET_NO_NEW_PRIVS",
            Stage::WorkingDirectory => "chdir to the working directory",
            Stage::Stdio => "stdio setup",
            Stage::CloseFds => "close_range (closing inherited fds)",
            Stage::Landlock => "landlock_restrict_self",
            Stage::Seccomp => "seccomp filter",
            Stage::Exec => "execve",
            Stage::ProcMount => "mount of the command's own /proc",
        }
    }
}

/// Everything the child reads, prepared by the parent. Invariant: every
/// pointer stays valid until `clone` returns in the parent, which, with
/// CLONE_VFORK, is after the child's `execve` or exit.
#[repr(C)]
pub(super) struct ChildArgs {
    pub(super) steps: u32,
    pub(super) path: *const c_char,
    pub(super) argv: *const *const c_char,
    pub(super) envp: *const *const c_char,
    pub(super) cwd: *const c_char,
    /// Become 0, 1 and 2; all are >= 3.
    pub(super) stdio: [c_int; 3],
    /// Landlock ruleset, or -1.
    pub(super) ruleset_fd: c_int,
    /// The seccomp program.
    pub(super) filter: *const libc::sock_fprog,
    pub(super) rlimits: [(c_int, libc::rlimit); 6],
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) parent_pid: c_int,
    pub(super) last_cap: u32,
    /// Written by the child on failure only.
    pub(super) stage: c_int,
    pub(super) errno: c_int,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: usize = 1 << 2;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The kernel's `struct sigaction` for `rt_sigaction` (not libc's layout).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// One system call with up to four arguments; returns the raw result
/// (negative errno on failure). Inline assembly, so the child never writes
/// `errno`, which lives in the suspended parent thread's TLS.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sys(number: c_long, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret: isize;
    // SAFETY: a raw Linux system call; the caller guarantees the arguments
    // are valid for `number`. rcx and r11 are clobbered by `syscall`.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") number as isize => ret,
            in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4,
            in("r8") 0usize, in("r9") 0usize,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
unsafe fn sys(number: c_long, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret: isize;
    // SAFETY: a raw Linux system call; the caller guarantees the arguments
    // are valid for `number`.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") number,
            inlateout("x0") a1 as isize => ret,
            in("x1") a2, in("x2") a3, in("x3") a4, in("x4") 0usize, in("x5") 0usize,
            options(nostack),
        );
    }
    ret
}

/// Records the failed stage and exits; never returns.
#[inline(always)]
unsafe fn fail(args: *mut ChildArgs, stage: Stage, errno: isize) -> ! {
    // SAFETY: `args` points to the parent's live ChildArgs (see its invariant).
    unsafe {
        std::ptr::write_volatile(&raw mut (*args).stage, stage as c_int);
        std::ptr::write_volatile(&raw mut (*args).errno, (-errno) as c_int);
        loop {
            sys(libc::SYS_exit_group, 127, 0, 0, 0);
        }
    }
}

macro_rules! check {
    ($args:expr, $stage:expr, $call:expr) => {{
        let result = $call;
        if result < 0 {
            fail($args, $stage, result);
        }
    }};
}

/// The child's entry point, passed to `clone`.
pub(super) extern "C" fn child_main(arg: *mut c_void) -> c_int {
    let args = arg as *mut ChildArgs;
    // SAFETY: `arg` is the parent's ChildArgs, valid until this process
    // execs or exits; every call below is a raw system call on memory the
    // parent prepared, with no allocation or locking.
    unsafe {
        let steps = (*args).steps;
        let mut signal = 1usize;
        while signal <= 64 {
            if signal != libc::SIGKILL as usize && signal != libc::SIGSTOP as usize {
                let default = KernelSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 };
                sys(libc::SYS_rt_sigaction, signal, &raw const default as usize, 0, 8);
            }
            signal += 1;
        }
        check!(args, Stage::ProcessGroup, sys(libc::SYS_setpgid, 0, 0, 0, 0));
        if steps & STEP_PRIVATE_PROC != 0 {
            let flags = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as usize;
            let (proc, target) = (c"proc".as_ptr() as usize, c"/proc".as_ptr() as usize);
            // The fifth argument (data) is the zero `sys` always passes.
            check!(args, Stage::ProcMount, sys(libc::SYS_mount, proc, target, proc, flags));
        }
        if steps & STEP_RLIMITS != 0 {
            for (resource, limit) in (*args).rlimits.iter() {
                check!(
                    args,
                    Stage::Rlimits,
                    sys(libc::SYS_setrlimit, *resource as usize, limit as *const _ as usize, 0, 0)
                );
            }
        }
        if steps & STEP_BOUNDING_SET != 0 {
            let mut capability = 0usize;
            while capability <= (*args).last_cap as usize {
                check!(
                    args,
                    Stage::BoundingSet,
                    sys(libc::SYS_prctl, libc::PR_CAPBSET_DROP as usize, capability, 0, 0)
                );
                capability += 1;
            }
        }
        if steps & STEP_SWITCH_USER != 0 {
            check!(args, Stage::SwitchUser, sys(libc::SYS_setgroups, 0, 0, 0, 0));
            let gid = (*args).gid as usize;
            check!(args, Stage::SwitchUser, sys(libc::SYS_setresgid, gid, gid, gid, 0));
            let uid = (*args).uid as usize;
            check!(args, Stage::SwitchUser, sys(libc::SYS_setresuid, uid, uid, uid, 0));
        }
        if steps & STEP_CAPSET != 0 {
            let clear_ambient = libc::PR_CAP_AMBIENT_CLEAR_ALL as usize;
            check!(args, Stage::Capabilities, sys(libc::SYS_prctl, libc::PR_CAP_AMBIENT as usize, clear_ambient, 0, 0));
            let header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
            let data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
            check!(
                args,
                Stage::Capabilities,
                sys(libc::SYS_capset, &raw const header as usize, data.as_ptr() as usize, 0, 0)
            );
        }
        let sigkill = libc::SIGKILL as usize;
        check!(args, Stage::ParentDeathSignal, sys(libc::SYS_prctl, libc::PR_SET_PDEATHSIG as usize, sigkill, 0, 0));
        let expected_parent = if steps & STEP_PID_NAMESPACE != 0 { 0 } else { (*args).parent_pid };
        if sys(libc::SYS_getppid, 0, 0, 0, 0) as c_int != expected_parent {
            fail(args, Stage::ParentDeathSignal, -(libc::ESRCH as isize));
        }
        if steps & STEP_NO_NEW_PRIVS != 0 {
            check!(args, Stage::NoNewPrivs, sys(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS as usize, 1, 0, 0));
        }
        check!(args, Stage::WorkingDirectory, sys(libc::SYS_chdir, (*args).cwd as usize, 0, 0, 0));
        let mut target = 0usize;
        while target < 3 {
            check!(args, Stage::Stdio, sys(libc::SYS_dup2, (*args).stdio[target] as usize, target, 0, 0));
            target += 1;
        }
        let ruleset = (*args).ruleset_fd;
        if ruleset >= 3 {
            if ruleset > 3 {
                check!(args, Stage::CloseFds, sys(libc::SYS_close_range, 3, ruleset as usize - 1, 0, 0));
            }
            check!(args, Stage::CloseFds, sys(libc::SYS_close_range, ruleset as usize + 1, u32::MAX as usize, 0, 0));
        } else {
            check!(args, Stage::CloseFds, sys(libc::SYS_close_range, 3, u32::MAX as usize, 0, 0));
        }
        if steps & STEP_LANDLOCK != 0 {
            check!(args, Stage::Landlock, sys(libc::SYS_landlock_restrict_self, ruleset as usize, 0, 0, 0));
        }
        if ruleset >= 3 {
            sys(libc::SYS_close, ruleset as usize, 0, 0, 0);
        }
        if steps & STEP_SECCOMP != 0 {
            // SPEC_ALLOW: leave speculative-store-bypass handling as for any
            // other process rather than forcing SSBD on every command.
            let (mode, flags) = (libc::SECCOMP_SET_MODE_FILTER as usize, SECCOMP_FILTER_FLAG_SPEC_ALLOW);
            check!(args, Stage::Seccomp, sys(libc::SYS_seccomp, mode, flags, (*args).filter as usize, 0));
        }
        let empty: u64 = 0;
        sys(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as usize, &raw const empty as usize, 0, 8);
        let result = sys(libc::SYS_execve, (*args).path as usize, (*args).argv as usize, (*args).envp as usize, 0);
        fail(args, Stage::Exec, result)
    }
}
