//! The kernel side of the socket broker: a seccomp filter that sends every
//! `connect` and `listen` of a command to the daemon (user notification),
//! and the calls the broker uses to answer one: receive, check that the
//! caller still waits, take the caller's socket (`pidfd_getfd`), copy an
//! argument out of its memory, and reply.
//!
//! The filter is installed on each daemon thread that spawns commands, not
//! in each child: a command inherits its spawning thread's filter (and its
//! one listener fd, which stays in the daemon), so a spawn costs nothing
//! more. The filter also applies to that daemon thread, whose own calls the
//! broker recognises and lets through.

use std::cell::Cell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

use super::bpf::{self, Label, Op};

/// One notification as the kernel delivers it.
pub(super) type Notification = libc::seccomp_notif;

thread_local! {
    /// Whether this thread is covered: its own filter, or one inherited
    /// from the thread that created it.
    static COVERED: Cell<bool> = const { Cell::new(false) };
}

/// Sends this thread's (and so its future children's) `connect` and
/// `listen` calls to a new listener, returned for the broker to serve; or
/// `None` when the thread is already covered by a filter it inherited.
pub(super) fn cover_this_thread() -> Result<Option<OwnedFd>, Errno> {
    if COVERED.get() {
        return Ok(None);
    }
    let filter = program().map_err(|_| Errno::EINVAL)?;
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integers only. It affects
    // this thread, which never execs; it lets a non-root daemon install the
    // filter.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(Errno::last());
    }
    let mut flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    loop {
        // SAFETY: `prog` points into `filter`, alive for the call; without
        // SECCOMP_FILTER_FLAG_TSYNC the filter attaches to this thread only.
        let fd = unsafe {
            libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &prog as *const libc::sock_fprog)
        };
        if fd >= 0 {
            COVERED.set(true);
            // SAFETY: the kernel returned a new fd that nothing else owns.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }));
        }
        match Errno::last() {
            // A filter with a listener is already on this thread's chain
            // (inherited from the daemon thread that created it): commands
            // spawned here report to that one.
            Errno::EBUSY => {
                COVERED.set(true);
                return Ok(None);
            }
            // Kernels before 5.19 lack WAIT_KILLABLE_RECV.
            Errno::EINVAL if flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 => {
                flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
            }
            errno => return Err(errno),
        }
    }
}

/// `connect` and `listen` to the listener; everything else allowed (other
/// architectures too: the command's own filter refuses them).
fn program() -> Result<Vec<bpf::Instruction>, String> {
    use Label::{Allow, Block, Next};
    let notify = Block(0);
    let ops = vec![
        Op::Load(bpf::OFFSET_ARCH),
        Op::JumpIfEqual(bpf::AUDIT_ARCH, Next, Allow),
        Op::Load(bpf::OFFSET_NR),
        Op::JumpIfEqual(libc::SYS_connect as u32, notify, Next),
        Op::JumpIfEqual(libc::SYS_listen as u32, notify, Allow),
        Op::Mark(notify),
        Op::Return(bpf::RET_USER_NOTIF),
        Op::Mark(Allow),
        Op::Return(bpf::RET_ALLOW),
    ];
    bpf::assemble(&ops)
}

/// Whether the kernel's notification structures have the layout compiled
/// here (they are versioned by size).
pub(super) fn sizes_match() -> bool {
    let mut sizes = libc::seccomp_notif_sizes { seccomp_notif: 0, seccomp_notif_resp: 0, seccomp_data: 0 };
    // SAFETY: SECCOMP_GET_NOTIF_SIZES writes exactly one seccomp_notif_sizes.
    let result = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_NOTIF_SIZES, 0, &mut sizes as *mut libc::seccomp_notif_sizes)
    };
    result == 0
        && sizes.seccomp_notif as usize == std::mem::size_of::<Notification>()
        && sizes.seccomp_notif_resp as usize == std::mem::size_of::<libc::seccomp_notif_resp>()
}

/// Takes the next notification from `listener`.
pub(super) fn receive(listener: RawFd) -> Result<Notification, Errno> {
    // SAFETY: an all-zero seccomp_notif is valid, and the kernel requires it.
    let mut notification: Notification = unsafe { std::mem::zeroed() };
    // SAFETY: NOTIF_RECV writes one seccomp_notif into `notification`.
    let result = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut notification) };
    if result == 0 { Ok(notification) } else { Err(Errno::last()) }
}

/// Whether the caller of notification `id` still waits for its answer (so
/// its pid still names it).
pub(super) fn still_waiting(listener: RawFd, id: u64) -> bool {
    // SAFETY: NOTIF_ID_VALID reads one u64.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _, &id) == 0 }
}

/// The caller's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// The call returns this value.
    Value(i64),
    /// The call fails with this errno.
    Fail(Errno),
    /// The kernel performs the call as made (only for the daemon's own).
    Continue,
}

/// Replies to notification `id`. A caller that gave up (killed) is no
/// error.
pub(super) fn reply(listener: RawFd, id: u64, answer: Answer) {
    let (val, error, flags) = match answer {
        Answer::Value(value) => (value, 0, 0),
        Answer::Fail(errno) => (0, -(errno as i32), 0),
        Answer::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
    };
    let response = libc::seccomp_notif_resp { id, val, error, flags };
    // SAFETY: NOTIF_SEND reads one seccomp_notif_resp.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &response) };
}

/// A pidfd for the task `tid` (any thread of a process).
pub(super) fn pidfd(tid: u32) -> Result<OwnedFd, Errno> {
    const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let mut fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid as libc::pid_t, PIDFD_THREAD) };
    if fd < 0 && Errno::last() == Errno::EINVAL {
        // Before 6.9 only a process's leader has a pidfd: a call from another
        // thread fails closed rather than guessing its process.
        // SAFETY: as above.
        fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid as libc::pid_t, 0) };
    }
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A duplicate of the caller's descriptor `fd`: the same open file (the
/// same socket), so what the broker does to it the caller sees.
pub(super) fn take_descriptor(pidfd: &OwnedFd, fd: u64) -> Result<OwnedFd, Errno> {
    // The kernel reads an `int` descriptor: the low 32 bits.
    let fd = fd as u32 as i32;
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: pidfd_getfd takes a pidfd, a target fd number and flags and
    // returns a new fd (close-on-exec) or -1.
    let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if copy < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy as RawFd) })
}

/// Copies `length` bytes at `address` out of task `tid`'s memory. What the
/// broker decides on is this copy, never the caller's memory, which its
/// other threads could change after the check.
pub(super) fn copy_from(tid: u32, address: u64, length: usize) -> Result<Vec<u8>, Errno> {
    let mut buffer = vec![0u8; length];
    if length == 0 {
        return Ok(buffer);
    }
    let local = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: length };
    let remote = libc::iovec { iov_base: address as *mut libc::c_void, iov_len: length };
    // SAFETY: writes at most `length` bytes into `buffer`, which is that
    // long; the remote address is only read, in the other process.
    let read = unsafe { libc::process_vm_readv(tid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if read < 0 {
        return Err(Errno::last());
    }
    if read as usize != length {
        return Err(Errno::EFAULT);
    }
    Ok(buffer)
}

/// Whether the broker may take a process's descriptors and read its memory
/// here (a container's seccomp profile may forbid `pidfd_getfd` or
/// `process_vm_readv`): tried on the daemon itself.
pub(super) fn can_inspect_processes() -> Result<(), String> {
    let me = std::process::id();
    let own = pidfd(me).map_err(|e| format!("pidfd_open is refused here: {}", e.desc()))?;
    take_descriptor(&own, 0).map_err(|e| {
        format!(
            "pidfd_getfd is refused here ({}); a container runtime's default seccomp profile allows it only \
             with CAP_SYS_PTRACE in the container's capability list",
            e.desc()
        )
    })?;
    let probe = 0x5a5a_u64;
    copy_from(me, &probe as *const u64 as u64, 8)
        .map_err(|e| format!("process_vm_readv is refused here: {}", e.desc()))?;
    Ok(())
}
