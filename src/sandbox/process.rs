//! The daemon's own process: what it sets on itself (an empty capability
//! bounding set, not dumpable, its secrets wiped from `/proc`), and the
//! capability and limit facts the layers are prepared from.

use nix::errno::Errno;

pub(super) const CAP_SETPCAP: u32 = 8;
pub(super) const CAP_SETUID: u32 = 7;
pub(super) const CAP_SETGID: u32 = 6;
pub(super) const CAP_SYS_ADMIN: u32 = 21;
pub(super) const CAP_SYS_PTRACE: u32 = 19;

/// Highest capability number the kernel knows.
pub(super) fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// One capability set of the calling thread (`CapEff`, `CapBnd`, ...).
pub(super) fn capability_mask(set: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let hex = status.lines().find_map(|line| line.strip_prefix(set)?.strip_prefix(':'))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Empties the capability bounding set of the calling thread, which every
/// thread created afterwards (and so every command) inherits: called in
/// `main` before the runtime starts its threads, it saves each spawn about
/// 40 system calls. The daemon keeps the capabilities it has; only what an
/// `execve` could grant is gone. Returns false without CAP_SETPCAP.
pub(crate) fn empty_bounding_set() -> bool {
    if !has_capability(CAP_SETPCAP) {
        return false;
    }
    for capability in 0..=last_capability() {
        // SAFETY: PR_CAPBSET_DROP takes a capability number and touches no memory.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability as libc::c_ulong, 0, 0, 0) } != 0 {
            return false;
        }
    }
    true
}

/// Makes the daemon's memory, `/proc/<pid>/environ` and ptrace off limits
/// to processes of its own uid (commands that keep the daemon's uid).
pub(crate) fn protect_daemon() -> Result<(), String> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE failed: {e}"))
}

/// Returns to the system the memory that start-up freed (the search for
/// programs and the read rules allocate much of it, in several threads'
/// allocator arenas), so that the idle daemon does not carry it.
pub(crate) fn release_free_memory() {
    // SAFETY: malloc_trim only gives free memory back to the system.
    unsafe { libc::malloc_trim(0) };
}

/// Overwrites every occurrence of each secret in the process's original
/// argument and environment blocks, which `/proc/<pid>/cmdline` and
/// `/proc/<pid>/environ` show: a token given as `--auth-token` (or in
/// `MCP_AUTH_TOKEN`) is then readable from no `/proc` file. Call once the
/// configuration is resolved; later reads of the arguments see `*`s.
pub(crate) fn scrub_secrets(secrets: &[&[u8]]) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the command name, which is in parentheses and may hold
    // spaces: field 3 (state) is the first after ')'.
    let Some(tail) = stat.rsplit_once(')').map(|(_, tail)| tail) else { return };
    let fields: Vec<usize> = tail.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // arg_start, arg_end, env_start, env_end are fields 48-51.
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    for (start, end) in [(field(48), field(49)), (field(50), field(51))] {
        if start == 0 || end <= start {
            continue;
        }
        // SAFETY: [start, end) is this process's own argument (or
        // environment) block on its initial stack, mapped writable for the
        // whole life of the process; the kernel reports its bounds. Nothing
        // else writes it, and only bytes inside it are changed.
        let block = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            let mut at = 0;
            while let Some(found) = block[at..].windows(secret.len()).position(|w| w == *secret) {
                block[at + found..at + found + secret.len()].fill(b'*');
                at += found + secret.len();
            }
        }
    }
}

/// Ignores SIGPIPE, as the Rust runtime does before `main`, for a process
/// whose `main` is not Rust's (the fuzz targets'): a write to a command
/// that closed its stdin then fails with EPIPE instead of killing us.
#[cfg(fuzzing)]
pub(crate) fn ignore_sigpipe() {
    // SAFETY: sets a signal disposition to SIG_IGN; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Runs `cleanup` when the process exits through `exit` (the fuzz
/// targets' way out, which runs no destructors of statics).
#[cfg(fuzzing)]
pub(crate) fn at_exit(cleanup: extern "C" fn()) {
    // SAFETY: registers a function without arguments; atexit has no other
    // precondition, and `cleanup` is a plain function that lives forever.
    unsafe { libc::atexit(cleanup) };
}

/// Whether the calling thread holds `capability` in its effective set.
pub(super) fn has_capability(capability: u32) -> bool {
    capability_mask("CapEff").is_some_and(|mask| mask & (1 << capability) != 0)
}

/// Whether the daemon may run commands under other uids and gids.
pub(crate) fn can_switch_users() -> bool {
    has_capability(CAP_SETUID) && has_capability(CAP_SETGID)
}

/// Commands that keep the daemon's uid count their processes against the
/// same per-uid total as the daemon's threads; the kernel checks each
/// forking task's own RLIMIT_NPROC, so the daemon's must stay well above
/// the commands' or one call's fork loop leaves the daemon no thread.
pub(super) fn warn_if_commands_can_starve_the_daemon(command_limit: u64) {
    let mut own = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut own) } != 0 || own.rlim_cur == libc::RLIM_INFINITY {
        return;
    }
    if own.rlim_cur < 2 * command_limit {
        tracing::warn!(
            daemon = own.rlim_cur,
            commands = command_limit,
            "commands share the daemon's uid and its process limit is not well above theirs \
             (MCP_RLIMIT_NPROC): one call's processes can leave the daemon unable to start threads; raise the \
             daemon's nproc limit (the container's ulimit) or lower MCP_RLIMIT_NPROC"
        );
    }
}

/// Memory-Deny-Write-Execute (Linux 6.3) for the daemon's memory and so for
/// every command, which inherits it through `clone` and keeps it across
/// `execve`: no mapping both writable and executable, none made executable
/// later. Set on the daemon itself, once: the spawner's children share the
/// daemon's memory until they exec, so a child could not set it alone.
pub(super) fn deny_write_execute() -> Result<String, String> {
    let refuse_exec_gain = libc::PR_MDWE_REFUSE_EXEC_GAIN as libc::c_ulong;
    // SAFETY: prctl(PR_SET_MDWE) takes integers and touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_MDWE, refuse_exec_gain, 0, 0, 0) } != 0 {
        return Err(format!("the kernel refuses PR_SET_MDWE (Linux 6.3 or later): {}", Errno::last().desc()));
    }
    Ok("no command maps memory both writable and executable, or makes any executable later: machine code a \
        program computes or copies never runs; JIT compilers fail or fall back"
        .into())
}
