//! Acting as a command's user on one thread of the daemon, for the socket
//! calls the broker performs on a command's behalf: a UNIX path resolved
//! and connected to with the command's uid, gid and (no) supplementary
//! groups meets the command's file permissions, and a socket listened on or
//! connected this way carries the command's uid in its peer credentials,
//! never the daemon's root. Also for signalling a command's group where the
//! daemon is root without CAP_KILL (the image's), which only the command's
//! own uid may do.
//!
//! Credentials are per thread in the kernel: raw system calls change only
//! the calling thread's (glibc's wrappers would change every thread of the
//! daemon). [`as_user`] switches the effective ids only, keeping root as
//! the real and saved ids so that it can switch back, and switches back
//! before returning; a failure to switch back stops the daemon rather than
//! leave a thread of it under the wrong identity. [`become_user`] switches
//! for good, on a helper thread that ends afterwards.

use nix::errno::Errno;

/// Runs `action` with the effective uid and gid `credentials` (and no
/// supplementary groups), then restores the thread's own; `None` runs it
/// unchanged (the command has the daemon's uid).
pub(super) fn as_user<T>(credentials: Option<(u32, u32)>, action: impl FnOnce() -> T) -> Result<T, Errno> {
    let Some((uid, gid)) = credentials else { return Ok(action()) };
    let groups = own_groups()?;
    // SAFETY: getegid takes nothing and cannot fail.
    let own_gid = unsafe { libc::getegid() };
    // SAFETY: setgroups(0, NULL), setresgid and setresuid take integers
    // (and a null list) and change this thread's credentials only; -1 keeps
    // an id as it is.
    let switched = unsafe {
        raw(libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()))
            .and_then(|()| raw(libc::syscall(libc::SYS_setresgid, -1, gid, -1)))
            .and_then(|()| raw(libc::syscall(libc::SYS_setresuid, -1, uid, -1)))
    };
    let result = switched.map(|()| action());
    // SAFETY: as above; the real and saved uid are still root's, so the
    // effective uid may return to 0, after which gid and groups may too.
    let restored = unsafe {
        raw(libc::syscall(libc::SYS_setresuid, -1, 0, -1))
            .and_then(|()| raw(libc::syscall(libc::SYS_setresgid, -1, own_gid, -1)))
            .and_then(|()| raw(libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr())))
    };
    if let Err(errno) = restored {
        eprintln!("mcp-commander: cannot restore the socket broker's credentials ({errno}); stopping");
        std::process::abort();
    }
    result
}

/// Takes the command's uid and gid, with no supplementary groups, for good
/// on this thread (a helper that ends afterwards).
pub(super) fn become_user(credentials: Option<(u32, u32)>) -> Result<(), Errno> {
    let Some((uid, gid)) = credentials else { return Ok(()) };
    // SAFETY: as in `as_user`, this thread's credentials only.
    unsafe {
        raw(libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()))?;
        raw(libc::syscall(libc::SYS_setresgid, gid, gid, gid))?;
        raw(libc::syscall(libc::SYS_setresuid, uid, uid, uid))
    }
}

/// This thread's supplementary groups.
fn own_groups() -> Result<Vec<libc::gid_t>, Errno> {
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: getgroups writes at most `groups.len()` ids into the buffer.
    let count = unsafe { libc::syscall(libc::SYS_getgroups, groups.len(), groups.as_mut_ptr()) };
    if count < 0 {
        return Err(Errno::last());
    }
    groups.truncate(count as usize);
    Ok(groups)
}

fn raw(result: libc::c_long) -> Result<(), Errno> {
    if result == 0 { Ok(()) } else { Err(Errno::last()) }
}
