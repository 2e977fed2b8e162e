//! Mounts: the daemon's own mount namespace, `noexec` on every directory a
//! command can write, and (in the child) a procfs of the command's own PID
//! namespace.
//!
//! A file a command writes must never run: not by `execve` (Landlock grants
//! no EXECUTE there), and not by the routes Landlock does not see: the
//! dynamic loader given its path, `LD_PRELOAD`/`LD_AUDIT`, a `dlopen`, a
//! `mmap(PROT_EXEC)`. All of those map the file executable, which the
//! kernel refuses on a `noexec` mount. So each writable root must be on
//! one: either it already is (a container's tmpfs `/tmp`), or the daemon,
//! when it may mount (root on a host), enters a private mount namespace at
//! start (before any thread exists: the namespace belongs to the calling
//! thread) and bind-mounts each writable root onto itself `noexec,nosuid,
//! nodev`. The host keeps its view; mounts the host makes later still
//! propagate in (the namespace is a slave of the host's).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;

/// Whether the daemon entered a mount namespace of its own at start.
static PRIVATE_NAMESPACE: AtomicBool = AtomicBool::new(false);

/// Enters a private mount namespace (a slave of the host's) when the daemon
/// may: call before any other thread exists. Returns whether it did.
pub(crate) fn enter_private_namespace() -> bool {
    if !super::process::has_capability(super::process::CAP_SYS_ADMIN) {
        return false;
    }
    // SAFETY: unshare takes flags only; on a single-threaded process it moves
    // the whole process into a new mount namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return false;
    }
    // SAFETY: mount with null source, type and data changes propagation
    // only; the target is a static C string.
    let slave = unsafe {
        libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null())
    };
    if slave != 0 {
        tracing::warn!(error = %Errno::last(), "cannot make the daemon's mount namespace a slave of the host's");
        return false;
    }
    PRIVATE_NAMESPACE.store(true, Ordering::SeqCst);
    if !proc_is_own() {
        // Started in a PID namespace without a procfs of it (`unshare --pid`
        // alone): pids in /proc would name other processes.
        // SAFETY: mount reads static C strings; the data is null.
        let mounted = unsafe {
            libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            )
        };
        if mounted != 0 {
            tracing::warn!(error = %Errno::last(), "cannot mount a procfs of the daemon's own PID namespace");
        }
    }
    true
}

/// Whether `/proc` belongs to the daemon's PID namespace (its `self` is the
/// daemon's own pid).
pub(crate) fn proc_is_own() -> bool {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|link| link.to_str()?.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id())
}

/// Whether mounts the daemon makes stay its own (and its commands').
pub(crate) fn has_private_namespace() -> bool {
    PRIVATE_NAMESPACE.load(Ordering::SeqCst)
}

/// What a command sees in `/proc` without a procfs of its own.
pub(crate) fn proc_view() -> &'static str {
    "a command's /proc is the host's (or the container's): every process with its command line and status, \
     by host pid (the daemon wipes its token from its own); of no process outside its own sandbox the \
     environment, memory, cwd or fd targets (Landlock refuses that ptrace access), though the fd numbers of \
     its own uid's processes can be listed; /proc/net lists every socket of the network namespace; in a PID \
     namespace of its own, ps looks itself up by a pid that names another process there"
}

/// Removes a directory the daemon may have bind-mounted onto itself (a
/// scratch directory made noexec): the mount goes first, lazily, or the
/// removal fails with EBUSY.
pub(crate) fn remove_dir(path: &Path) {
    if has_private_namespace()
        && let Ok(target) = CString::new(path.as_os_str().as_bytes())
    {
        // SAFETY: umount2 reads one live C string; MNT_DETACH on a path that
        // is not a mount point fails harmlessly with EINVAL.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
    let _ = std::fs::remove_dir_all(path);
}

/// Makes every directory in `roots` (and every mount beneath it) `noexec`,
/// or confirms it already is; the report names how each is covered.
pub(crate) fn ensure_noexec(roots: &[PathBuf]) -> Result<String, String> {
    let mut mounted = Vec::new();
    let mut already = Vec::new();
    for root in roots.iter().filter(|root| root.is_dir()) {
        let mut points = vec![root.clone()];
        points.extend(mounts_beneath(root));
        for point in &points {
            let flags = mount_flags(point)?;
            if flags & libc::ST_NOEXEC != 0 {
                already.push(point.display().to_string());
                continue;
            }
            if !has_private_namespace() {
                return Err(format!(
                    "{} is writable by commands but its mount allows execution, and the daemon cannot mount a \
                     noexec one itself (it is not root with CAP_SYS_ADMIN on a host). Mount it noexec (a tmpfs \
                     with -o noexec,nosuid,nodev; TMPDIR decides where the scratch directory goes), or accept \
                     that programs written there can run through the dynamic loader with \
                     MCP_SANDBOX_DISABLE=noexec",
                    point.display()
                ));
            }
            remount_noexec(point, point == root, flags)?;
            mounted.push(point.display().to_string());
        }
    }
    let mut parts = Vec::new();
    if !mounted.is_empty() {
        parts.push(format!("made noexec,nosuid,nodev in the daemon's mount namespace: {}", mounted.join(", ")));
    }
    if !already.is_empty() {
        parts.push(format!("already on noexec mounts: {}", already.join(", ")));
    }
    if parts.is_empty() {
        parts.push("no writable directories".into());
    }
    Ok(format!("writable roots cannot hold running code; {}", parts.join("; ")))
}

/// Bind-mounts `point` onto itself (unless it is a mount point already
/// beneath a root) and remounts it with noexec, keeping its other flags.
fn remount_noexec(point: &Path, bind_first: bool, flags: libc::c_ulong) -> Result<(), String> {
    let path = CString::new(point.as_os_str().as_bytes()).map_err(|_| "a path holds a NUL byte".to_string())?;
    let fail = |what: &str| format!("cannot {what} {}: {}", point.display(), Errno::last().desc());
    if bind_first {
        // SAFETY: mount reads the two live C strings; type and data are null.
        if unsafe { libc::mount(path.as_ptr(), path.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) } != 0
        {
            return Err(fail("bind-mount"));
        }
    }
    let mut keep = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if flags & libc::ST_RDONLY != 0 {
        keep |= libc::MS_RDONLY;
    }
    // SAFETY: as above; a bind remount changes only this mount's flags.
    let remount = unsafe {
        libc::mount(
            std::ptr::null(),
            path.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | keep,
            std::ptr::null(),
        )
    };
    if remount != 0 {
        return Err(fail("remount noexec"));
    }
    if mount_flags(point)? & libc::ST_NOEXEC == 0 {
        return Err(format!("{} is still executable after the noexec remount", point.display()));
    }
    Ok(())
}

/// The statvfs flags of the mount holding `path`.
fn mount_flags(path: &Path) -> Result<libc::c_ulong, String> {
    nix::sys::statvfs::statvfs(path)
        .map(|s| s.flags().bits())
        .map_err(|e| format!("cannot inspect the mount of {}: {e}", path.display()))
}

/// Mount points strictly beneath `root`, from this namespace's mountinfo.
fn mounts_beneath(root: &Path) -> Vec<PathBuf> {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(unescape(point)))
        .filter(|point| point != root && point.starts_with(root))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            out.push((bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape(r"/srv/with\040space"), "/srv/with space");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape(r"/end\\"), r"/end\\");
    }
}
