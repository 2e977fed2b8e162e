//! Landlock: the kernel's answer to "what may this command read, write,
//! execute and connect to", prepared once as a ruleset fd per principal,
//! which the principal's spawning threads ([`super::spawner`]) or else
//! each child apply with `landlock_restrict_self`.
//!
//! Rules: directories listable beneath the read paths, files readable
//! beneath them except the hidden paths (the daemon's own files, other
//! principals' workspaces: Landlock has no deny rule, so the read paths are
//! expanded into rules for everything around them); read and write beneath
//! the writable roots (no device nodes); EXECUTE only on the
//! listed programs and directories, which is what makes an allowlist hold
//! against `/usr/bin/id`, `find -exec` or `sh -c`; TCP bind and connect only
//! on the listed ports; signals and abstract UNIX sockets scoped to the
//! sandbox (ABI 6), so a command can neither signal the daemon nor reach
//! its abstract sockets.
//!
//! Under an allowlist the read rules also go around every program that is
//! not allowed ([`super::programs`]): running a readable file through the
//! loader (`ld.so /usr/bin/id`, an `mmap(PROT_EXEC)`) is not an EXECUTE
//! access, so only what cannot be read cannot be run that way.
//!
//! Known debt: TCP rules are per port, not per address; UDP and other
//! socket families are left to seccomp; a program placed beneath the read
//! paths (outside the writable roots) after start stays readable until
//! the next start.

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};

/// The ABI the rules are written for; older kernels get the subset they
/// support (reported by [`kernel_abi`]).
const TARGET_ABI: ABI = ABI::V7;

/// What the ruleset grants.
#[derive(Debug, Clone, Default)]
pub(crate) struct LandlockRules {
    pub(crate) read_paths: Vec<PathBuf>,
    /// Beneath the read paths, what no file may be read from (canonical):
    /// left out of the read rules.
    pub(crate) hidden: Vec<PathBuf>,
    /// Beneath the read paths, the programs that are not allowed
    /// (canonical, [`super::programs`]): left out of the read rules too,
    /// so that the loader can neither map nor copy them. Empty without an
    /// allowlist.
    pub(crate) hidden_programs: Vec<PathBuf>,
    /// How many files the search for programs read, and in how long (for
    /// reports).
    pub(crate) searched: Option<(usize, std::time::Duration)>,
    pub(crate) writable_roots: Vec<PathBuf>,
    /// Files or directories beneath which execution is allowed.
    pub(crate) exec_paths: Vec<PathBuf>,
    pub(crate) tcp_connect_ports: Vec<u16>,
    pub(crate) tcp_bind_ports: Vec<u16>,
    /// Commands mount a procfs of their own on `/proc`. Landlock ignores
    /// rules on a directory a mount covers, so only a rule on an ancestor
    /// (`/`) grants reading it: the read paths are then not expanded around
    /// the hidden paths, which stay out of reach by uid (checked at start);
    /// only around `hidden_programs`, if any, and `/proc` is then
    /// unreadable.
    pub(crate) private_proc: bool,
}

/// The Landlock ABI the running kernel offers, or why there is none, in
/// words an operator can act on.
pub(crate) fn kernel_abi() -> Result<i64, String> {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // reads no memory and returns the ABI version or -1.
    let version = unsafe {
        libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32 /* VERSION */)
    };
    if version > 0 {
        return Ok(version);
    }
    Err(match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EOPNOTSUPP) => "the kernel has Landlock but it is off (not in the lsm= boot list)".to_string(),
        // The version query never fails with EPERM: a seccomp filter
        // (a container runtime's profile) refused the call.
        Some(libc::EPERM) => "a seccomp filter refuses the Landlock system calls: a container runtime's \
                              profile older than the calls (Docker's and containerd's default profiles allow them \
                              since 2022) or a custom profile that leaves them out"
            .to_string(),
        Some(libc::ENOSYS) => "the kernel does not offer Landlock (older than 5.13 or built without it), or a \
                               seccomp filter (a container runtime's profile that does not know the Landlock \
                               calls) refuses them with ENOSYS"
            .to_string(),
        other => format!("the Landlock version query failed (errno {other:?})"),
    })
}

/// Builds the ruleset and returns its fd (close-on-exec) and its number of
/// rules.
pub(crate) fn prepare(rules: &LandlockRules) -> Result<(OwnedFd, usize), String> {
    let abi = TARGET_ABI;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let mut count = 0usize;
    let write = (AccessFs::from_all(abi) & !AccessFs::Execute) & !(AccessFs::MakeChar | AccessFs::MakeBlock);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::AbstractUnixSocket | Scope::Signal))
        .and_then(|r| r.create())
        .map_err(|e| format!("cannot create a Landlock ruleset: {e}"))?;
    // `expanded`: entries found by listing a directory, which another
    // process may remove before they are opened here (skipped then).
    let mut add = |paths: &[PathBuf], access, what: &str, expanded: bool, mut ruleset: landlock::RulesetCreated| {
        for path in paths {
            let fd = match PathFd::new(path) {
                Ok(fd) => fd,
                Err(_) if expanded && std::fs::symlink_metadata(path).is_err() => continue,
                Err(e) => return Err(format!("Landlock {what} path {}: {e}", path.display())),
            };
            count += 1;
            let access = if path.is_dir() { access } else { access & AccessFs::from_file(abi) };
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, access))
                .map_err(|e| format!("Landlock {what} rule for {}: {e}", path.display()))?;
        }
        Ok::<_, String>(ruleset)
    };
    // With a private /proc, the daemon's files are kept by uid and only
    // programs are gone around (then /proc, which a mount covers, is
    // unreadable: see `private_proc`).
    let hidden = Hidden::new(if rules.private_proc { &[] } else { &rules.hidden }, &rules.hidden_programs);
    let mut readable = Vec::new();
    for path in &rules.read_paths {
        if hidden.is_empty() {
            readable.push(path.clone());
            continue;
        }
        readable_beneath(path, &hidden, &mut readable)
            .map_err(|e| format!("Landlock read path {}: {e}", path.display()))?;
    }
    ruleset = add(&rules.read_paths, AccessFs::ReadDir.into(), "read", false, ruleset)?;
    ruleset = add(&readable, read, "read", !hidden.is_empty(), ruleset)?;
    ruleset = add(&rules.writable_roots, read | write, "writable", false, ruleset)?;
    ruleset = add(&rules.exec_paths, read | AccessFs::Execute, "execute", false, ruleset)?;
    for port in &rules.tcp_connect_ports {
        ruleset = ruleset
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .map_err(|e| format!("Landlock TCP connect rule for port {port}: {e}"))?;
    }
    for port in &rules.tcp_bind_ports {
        ruleset = ruleset
            .add_rule(NetPort::new(*port, AccessNet::BindTcp))
            .map_err(|e| format!("Landlock TCP bind rule for port {port}: {e}"))?;
    }
    let fd: Option<OwnedFd> = ruleset.into();
    fd.map(|fd| (fd, count)).ok_or_else(|| "the kernel does not support Landlock (no ruleset was created)".to_string())
}

/// The real paths no command may read, and every directory above one.
struct Hidden {
    paths: HashSet<PathBuf>,
    above: HashSet<PathBuf>,
}

impl Hidden {
    fn new(daemon: &[PathBuf], programs: &[PathBuf]) -> Hidden {
        let paths: HashSet<PathBuf> = daemon.iter().chain(programs).cloned().collect();
        let above = paths.iter().flat_map(|p| p.ancestors().skip(1)).map(Path::to_path_buf).collect();
        Hidden { paths, above }
    }

    fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// `real` is hidden or lies beneath a hidden path.
    fn covers(&self, real: &Path) -> bool {
        real.ancestors().any(|a| self.paths.contains(a))
    }

    /// Something hidden lies strictly beneath `real`.
    fn holds(&self, real: &Path) -> bool {
        self.above.contains(real)
    }
}

/// The paths beneath `path` to grant reading on so that nothing under a
/// hidden path is readable: `path` itself when nothing hidden lies beneath
/// it, else each of its entries, expanded the same way. A symbolic link is
/// granted only when what it leads to hides nothing (its target is reached
/// by its own path anyway).
fn readable_beneath(path: &Path, hidden: &Hidden, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let real = std::fs::canonicalize(path)?;
    if hidden.covers(&real) {
        return Ok(());
    }
    if !hidden.holds(&real) {
        out.push(path.to_path_buf());
        return Ok(());
    }
    if path.is_symlink() {
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?.path();
        match readable_beneath(&entry, hidden, out) {
            // Vanished meanwhile, a dangling link, or unreadable by the
            // daemon: nothing to grant.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied) => {}
            other => other?,
        }
    }
    Ok(())
}

/// The dynamic loader named in an ELF executable's PT_INTERP, if any.
pub(crate) fn elf_interpreter(executable: &std::path::Path) -> Option<PathBuf> {
    let data = std::fs::read(executable).ok()?;
    if data.get(..4)? != b"\x7fELF" || data.get(4)? != &2 || data.get(5)? != &1 {
        return None; // only 64-bit little-endian ELF
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?));
    let table = u64_at(0x20)? as usize;
    let entry_size = u16_at(0x36)? as usize;
    let count = u16_at(0x38)? as usize;
    (0..count).find_map(|i| {
        let header = table + i * entry_size;
        if u32_at(header)? != 3 {
            return None; // not PT_INTERP
        }
        let offset = u64_at(header + 8)? as usize;
        let size = u64_at(header + 32)? as usize;
        let raw = data.get(offset..offset + size)?;
        let text = std::str::from_utf8(raw).ok()?.trim_end_matches('\0');
        std::fs::canonicalize(text).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_rules_go_around_hidden_paths_and_links_into_them() {
        let root = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(root.path()).unwrap();
        std::fs::create_dir_all(base.join("etc/app")).unwrap();
        for file in ["etc/app/tokens", "etc/app/other", "etc/hosts", "top"] {
            std::fs::write(base.join(file), "x").unwrap();
        }
        std::os::unix::fs::symlink(base.join("etc"), base.join("link-to-etc")).unwrap();
        std::os::unix::fs::symlink(base.join("top"), base.join("link-to-top")).unwrap();
        let mut out = Vec::new();
        readable_beneath(&base, &Hidden::new(&[base.join("etc/app/tokens")], &[]), &mut out).unwrap();
        out.sort();
        let names: Vec<String> = out.iter().map(|p| p.strip_prefix(&base).unwrap().display().to_string()).collect();
        assert_eq!(names, ["etc/app/other", "etc/hosts", "link-to-top", "top"]);
        let mut all = Vec::new();
        readable_beneath(&base, &Hidden::new(&[PathBuf::from("/elsewhere")], &[]), &mut all).unwrap();
        assert_eq!(all, std::slice::from_ref(&base), "nothing hidden beneath: one rule");
    }
}
