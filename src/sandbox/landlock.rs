//! Landlock: the kernel's answer to "what may this command read, write,
//! execute and connect to", prepared once as a ruleset fd that each child
//! applies with `landlock_restrict_self`.
//!
//! Rules: read (files and directories) beneath the read paths; read and
//! write beneath the writable roots (no device nodes); EXECUTE only on the
//! listed programs and directories, which is what makes an allowlist hold
//! against `/usr/bin/id`, `find -exec` or `sh -c`; TCP bind and connect only
//! on the listed ports; signals and abstract UNIX sockets scoped to the
//! sandbox (ABI 6), so a command can neither signal the daemon nor reach
//! its abstract sockets.
//!
//! Known debt: TCP rules are per port, not per address; UDP and other
//! socket families are left to seccomp; execution through `mmap(PROT_EXEC)`
//! of a readable file (a dynamic loader trick) is not an EXECUTE access.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

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
    pub(crate) writable_roots: Vec<PathBuf>,
    /// Files or directories beneath which execution is allowed.
    pub(crate) exec_paths: Vec<PathBuf>,
    pub(crate) tcp_connect_ports: Vec<u16>,
    pub(crate) tcp_bind_ports: Vec<u16>,
}

/// The Landlock ABI the running kernel offers (0: none).
pub(crate) fn kernel_abi() -> i64 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // reads no memory and returns the ABI version or -1.
    let version = unsafe {
        libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32 /* VERSION */)
    };
    version.max(0)
}

/// Builds the ruleset and returns its fd (close-on-exec).
pub(crate) fn prepare(rules: &LandlockRules) -> Result<OwnedFd, String> {
    let abi = TARGET_ABI;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let write = (AccessFs::from_all(abi) & !AccessFs::Execute) & !(AccessFs::MakeChar | AccessFs::MakeBlock);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::AbstractUnixSocket | Scope::Signal))
        .and_then(|r| r.create())
        .map_err(|e| format!("cannot create a Landlock ruleset: {e}"))?;
    let add = |paths: &[PathBuf], access, what: &str, mut ruleset: landlock::RulesetCreated| {
        for path in paths {
            let fd = PathFd::new(path).map_err(|e| format!("Landlock {what} path {}: {e}", path.display()))?;
            let access = if path.is_dir() { access } else { access & AccessFs::from_file(abi) };
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, access))
                .map_err(|e| format!("Landlock {what} rule for {}: {e}", path.display()))?;
        }
        Ok::<_, String>(ruleset)
    };
    ruleset = add(&rules.read_paths, read, "read", ruleset)?;
    ruleset = add(&rules.writable_roots, read | write, "writable", ruleset)?;
    ruleset = add(&rules.exec_paths, read | AccessFs::Execute, "execute", ruleset)?;
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
    fd.ok_or_else(|| "the kernel does not support Landlock (no ruleset was created)".to_string())
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
