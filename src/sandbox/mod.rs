//! The spawner: every command starts here, under kernel enforcement, as the
//! leader of a new process group.
//!
//! `Sandbox::prepare` builds everything that allocates once, at start: the
//! Landlock ruleset fd, the seccomp programs, the rlimits, the uid/gid.
//! It then proves the sandbox works by spawning a probe under it, so a
//! layer the kernel refuses is known before the first call (fail closed:
//! a required layer that is missing stops the start). `Sandbox::spawn`
//! clones a child with `CLONE_VM | CLONE_VFORK` on its own stack; the child
//! ([`child`]) applies the layers with raw system calls and execs.
//!
//! This module knows nothing about MCP, and it is the only place allowed to
//! use `unsafe`, each block with a `// SAFETY:` line. The group id equals
//! the leader's pid, and the leader stays unreaped (a zombie) until
//! [`reap`] is called, so the group id cannot be reused while the runner
//! still signals it.

mod as_user;
mod bpf;
mod broker;
mod child;
pub(crate) mod landlock;
mod mounts;
mod notify;
mod orphans;
mod seccomp;
mod sockets;
mod spawn;

use std::ffi::c_int;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use child::Stage;
pub(crate) use landlock::LandlockRules;
pub(crate) use mounts::{enter_private_namespace, remove_dir};
pub(crate) use orphans::{become_subreaper, children_all_exited, reap_orphans};
pub(crate) use seccomp::SeccompOptions;
use sockets::SocketRules;
use spawn::SpawnError;
pub(crate) use spawn::{
    Exit, SpawnSpec, Usage, failed_at_working_directory, kill_group, reap, reap_with_usage, signal_leader,
};

const CAP_SETPCAP: u32 = 8;
const CAP_SYS_ADMIN: u32 = 21;

/// One enforcement layer, as named in configuration and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Layer {
    Rlimits,
    NoNewPrivs,
    Capabilities,
    User,
    Landlock,
    Seccomp,
    Sockets,
    Noexec,
    PidNamespace,
    PrivateProc,
    Mdwe,
}

impl Layer {
    pub(crate) const ALL: [Layer; 11] = [
        Layer::Rlimits,
        Layer::NoNewPrivs,
        Layer::Capabilities,
        Layer::User,
        Layer::Landlock,
        Layer::Seccomp,
        Layer::Sockets,
        Layer::Noexec,
        Layer::PidNamespace,
        Layer::PrivateProc,
        Layer::Mdwe,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Layer::Rlimits => "rlimits",
            Layer::NoNewPrivs => "no_new_privs",
            Layer::Capabilities => "capabilities",
            Layer::User => "user",
            Layer::Landlock => "landlock",
            Layer::Seccomp => "seccomp",
            Layer::Sockets => "sockets",
            Layer::Noexec => "noexec",
            Layer::PidNamespace => "pid_namespace",
            Layer::PrivateProc => "private_proc",
            Layer::Mdwe => "mdwe",
        }
    }

    /// Layers off unless the operator enables (or requires) them: one costs
    /// more than the spawn budget, the other breaks JIT compilers.
    pub(crate) fn is_opt_in(self) -> bool {
        matches!(self, Layer::PrivateProc | Layer::Mdwe)
    }

    pub(crate) fn parse(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|layer| layer.name() == name.trim().to_ascii_lowercase())
    }
}

/// What a layer does on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayerState {
    Enforced(String),
    Unavailable(String),
    Disabled,
    /// An opt-in layer the operator did not enable; the text says what a
    /// command has without it.
    NotEnabled(String),
}

/// Resource limits applied to every command (soft = hard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rlimits {
    pub(crate) cpu_seconds: u64,
    pub(crate) address_space_bytes: u64,
    pub(crate) file_size_bytes: u64,
    pub(crate) open_files: u64,
    pub(crate) processes: u64,
}

impl Default for Rlimits {
    fn default() -> Rlimits {
        Rlimits {
            cpu_seconds: 900,
            address_space_bytes: 8 << 30,
            file_size_bytes: 1 << 30,
            open_files: 1024,
            processes: 512,
        }
    }
}

/// The sandbox as configured, before it is prepared.
#[derive(Debug, Clone)]
pub(crate) struct SandboxSettings {
    /// Layers whose absence stops the start.
    pub(crate) require: Vec<Layer>,
    /// Layers switched off by the operator.
    pub(crate) disable: Vec<Layer>,
    /// Opt-in layers switched on by the operator.
    pub(crate) enable: Vec<Layer>,
    /// uid and gid commands run as when the daemon is root.
    pub(crate) run_as: Option<(u32, u32)>,
    pub(crate) rlimits: Rlimits,
    pub(crate) landlock: LandlockRules,
    pub(crate) seccomp: SeccompOptions,
    /// UNIX socket files commands may connect to outside their writable
    /// roots.
    pub(crate) allowed_sockets: Vec<PathBuf>,
}

/// The prepared sandbox. Invariant: immutable after `prepare`; the fds and
/// programs it holds outlive every spawn that points at them.
#[derive(Debug)]
pub(crate) struct Sandbox {
    steps: u32,
    ruleset: Option<OwnedFd>,
    /// Owns the instructions `program` points into.
    _filter: Option<seccomp::Filter>,
    program: libc::sock_fprog,
    /// What the socket broker allows this sandbox's commands, when it runs.
    sockets: Option<Arc<SocketRules>>,
    rlimits: [(c_int, libc::rlimit); 6],
    uid: u32,
    gid: u32,
    last_cap: u32,
    devnull: OwnedFd,
    layers: Vec<(Layer, LayerState)>,
}

// SAFETY: the raw pointer in `program` points into `filter`, which the
// Sandbox owns and never mutates; sharing them read-only across threads is
// sound.
unsafe impl Send for Sandbox {}
// SAFETY: as above; `spawn` only reads the Sandbox.
unsafe impl Sync for Sandbox {}

impl Sandbox {
    /// Prepares every layer the settings ask for and the kernel offers,
    /// proves it with a probe spawn of `probe_program`, and refuses a
    /// configuration whose required layers are not all enforced.
    pub(crate) fn prepare(settings: &SandboxSettings, probe_program: &Path) -> Result<Sandbox, String> {
        let mut disabled: Vec<Layer> = settings.disable.clone();
        loop {
            let sandbox = Sandbox::build(settings, &disabled)?;
            match sandbox.probe(probe_program) {
                Ok(()) => {
                    sandbox.check_required(settings)?;
                    return Ok(sandbox);
                }
                Err((Some(layer), reason)) if !disabled.contains(&layer) => {
                    if settings.require.contains(&layer) {
                        return Err(refusal(layer, &reason));
                    }
                    tracing::warn!(layer = layer.name(), %reason, "sandbox layer unavailable; continuing without it");
                    disabled.push(layer);
                }
                Err((_, reason)) => return Err(format!("the sandbox probe failed: {reason}")),
            }
        }
    }

    fn build(settings: &SandboxSettings, disabled: &[Layer]) -> Result<Sandbox, String> {
        let on = |layer: Layer| !settings.disable.contains(&layer) && !disabled.contains(&layer);
        let opted_in =
            |layer: Layer| !layer.is_opt_in() || settings.enable.contains(&layer) || settings.require.contains(&layer);
        let mut layers = Vec::new();
        let mut steps = 0;
        let r = settings.rlimits;
        let limit = |value: u64| libc::rlimit { rlim_cur: value, rlim_max: value };
        let rlimits = [
            (libc::RLIMIT_CPU as c_int, limit(r.cpu_seconds)),
            (libc::RLIMIT_AS as c_int, limit(r.address_space_bytes)),
            (libc::RLIMIT_FSIZE as c_int, limit(r.file_size_bytes)),
            (libc::RLIMIT_NOFILE as c_int, limit(r.open_files)),
            (libc::RLIMIT_NPROC as c_int, limit(r.processes)),
            (libc::RLIMIT_CORE as c_int, limit(0)),
        ];
        layers.push((
            Layer::Rlimits,
            state(on(Layer::Rlimits), || {
                steps |= child::STEP_RLIMITS;
                Ok(format!(
                    "cpu {}s, address space {} MiB, file size {} MiB, open files {}, processes {}, core 0",
                    r.cpu_seconds,
                    r.address_space_bytes >> 20,
                    r.file_size_bytes >> 20,
                    r.open_files,
                    r.processes
                ))
            }),
        ));
        layers.push((
            Layer::NoNewPrivs,
            state(on(Layer::NoNewPrivs), || {
                steps |= child::STEP_NO_NEW_PRIVS;
                Ok("set".to_string())
            }),
        ));
        let daemon_is_root = nix::unistd::geteuid().is_root();
        let (uid, gid) = match settings.run_as {
            Some((uid, gid)) if daemon_is_root => (uid, gid),
            _ => (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw()),
        };
        layers.push((
            Layer::User,
            state(on(Layer::User), || match settings.run_as {
                Some(_) if daemon_is_root => {
                    steps |= child::STEP_SWITCH_USER;
                    Ok(format!("uid {uid}, gid {gid}, no supplementary groups"))
                }
                Some(_) => Err(format!("the daemon is not root, so commands keep its uid {uid}")),
                None => Err("no unprivileged user is configured".to_string()),
            }),
        ));
        if steps & child::STEP_SWITCH_USER == 0 {
            warn_if_commands_can_starve_the_daemon(r.processes);
        }
        let bounding_set_empty = capability_mask("CapBnd") == Some(0);
        let can_drop_bounding_set = capability_mask("CapEff").is_some_and(|mask| mask & (1 << CAP_SETPCAP) != 0);
        layers.push((
            Layer::Capabilities,
            state(on(Layer::Capabilities), || {
                steps |= child::STEP_CAPSET;
                if bounding_set_empty {
                    Ok("effective, permitted, inheritable, ambient and bounding sets empty (the bounding set \
                        was emptied in the daemon at start)"
                        .to_string())
                } else if can_drop_bounding_set {
                    steps |= child::STEP_BOUNDING_SET;
                    Ok("effective, permitted, inheritable, ambient and bounding sets empty".to_string())
                } else {
                    Ok("effective, permitted, inheritable and ambient sets empty; bounding set kept (the daemon \
                    lacks CAP_SETPCAP), and no_new_privs keeps it from being used"
                        .to_string())
                }
            }),
        ));
        let mut ruleset = None;
        layers.push((
            Layer::Landlock,
            state(on(Layer::Landlock), || {
                let abi = landlock::kernel_abi();
                if abi == 0 {
                    return Err(
                        "the kernel does not offer Landlock (not built in, or not in the lsm= boot list)".into()
                    );
                }
                ruleset = Some(landlock::prepare(&settings.landlock)?);
                steps |= child::STEP_LANDLOCK;
                Ok(format!(
                    "ABI {abi}{}",
                    if abi < 6 { " (no signal or abstract-socket scoping below ABI 6)" } else { "" }
                ))
            }),
        ));
        let mut filter = None;
        layers.push((
            Layer::Seccomp,
            state(on(Layer::Seccomp), || {
                let prepared = seccomp::prepare(settings.seccomp)?;
                let detail = format!(
                    "EPERM filter, {} instructions{}",
                    prepared.program.len(),
                    if settings.seccomp.allow_udp { ", UDP allowed" } else { "" }
                );
                filter = Some(prepared);
                steps |= child::STEP_SECCOMP;
                Ok(detail)
            }),
        ));
        let mut sockets = None;
        layers.push((
            Layer::Sockets,
            state(on(Layer::Sockets), || {
                broker::start()?;
                let rules = socket_rules(settings, (steps & child::STEP_SWITCH_USER != 0).then_some((uid, gid)));
                let detail = describe_sockets(&rules);
                sockets = Some(Arc::new(rules));
                Ok(detail)
            }),
        ));
        layers.push((
            Layer::Noexec,
            state(on(Layer::Noexec), || mounts::ensure_noexec(&settings.landlock.writable_roots)),
        ));
        layers.push((
            Layer::PidNamespace,
            state(on(Layer::PidNamespace), || {
                if !has_capability(CAP_SYS_ADMIN) {
                    return Err("the daemon lacks CAP_SYS_ADMIN (usual in containers); a command's background \
                            processes outlive a daemon killed by SIGKILL"
                        .into());
                }
                steps |= child::STEP_PID_NAMESPACE;
                Ok("one per command: when the daemon dies, the kernel kills the whole command tree".to_string())
            }),
        ));
        layers.push((
            Layer::PrivateProc,
            if !opted_in(Layer::PrivateProc) {
                LayerState::NotEnabled(format!(
                    "opt-in (MCP_SANDBOX_ENABLE=private_proc; it costs a mount namespace and a procfs per command); \
                     without it {}",
                    mounts::proc_view()
                ))
            } else {
                state(on(Layer::PrivateProc), || {
                    if steps & child::STEP_PID_NAMESPACE == 0 {
                        return Err("it needs the pid_namespace layer; a command sees the host's /proc (every \
                                process, with its command line)"
                            .into());
                    }
                    if !mounts::has_private_namespace() {
                        return Err("the daemon has no mount namespace of its own (it starts one only as root \
                                with CAP_SYS_ADMIN); a command sees the host's /proc"
                            .into());
                    }
                    steps |= child::STEP_PRIVATE_PROC;
                    Ok("one mount namespace per command with a procfs of its own PID namespace: ps and /proc \
                        show only the command's processes"
                        .to_string())
                })
            },
        ));
        layers.push((
            Layer::Mdwe,
            if !opted_in(Layer::Mdwe) {
                LayerState::NotEnabled(
                    "opt-in (MCP_SANDBOX_ENABLE=mdwe; JIT compilers such as node's and java's stop working); \
                     without it an allowed program that computes machine code (python's ctypes, perl, a JIT) \
                     can run it from its own anonymous memory, still under every other layer"
                        .into(),
                )
            } else {
                state(on(Layer::Mdwe), deny_write_execute)
            },
        ));
        let program = match &filter {
            Some(f) => libc::sock_fprog { len: f.program.len() as u16, filter: f.program.as_ptr() as *mut _ },
            None => libc::sock_fprog { len: 0, filter: std::ptr::null_mut() },
        };
        let devnull = nix::fcntl::open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .map_err(|e| format!("cannot open /dev/null: {e}"))?;
        Ok(Sandbox {
            steps,
            ruleset,
            _filter: filter,
            program,
            sockets,
            rlimits,
            uid,
            gid,
            last_cap: last_capability(),
            devnull,
            layers,
        })
    }

    /// Whether each command's leader is the init of a new PID namespace
    /// (it then ignores SIGTERM from the daemon).
    pub(crate) fn leader_is_namespace_init(&self) -> bool {
        self.steps & child::STEP_PID_NAMESPACE != 0
    }

    /// Each layer and what it does here.
    pub(crate) fn layers(&self) -> &[(Layer, LayerState)] {
        &self.layers
    }

    /// Names of the enforced layers.
    pub(crate) fn enforced(&self) -> Vec<&'static str> {
        self.layers.iter().filter(|(_, s)| matches!(s, LayerState::Enforced(_))).map(|(l, _)| l.name()).collect()
    }

    fn check_required(&self, settings: &SandboxSettings) -> Result<(), String> {
        for (layer, state) in &self.layers {
            if !settings.require.contains(layer) {
                continue;
            }
            match state {
                LayerState::Enforced(_) => {}
                LayerState::Unavailable(reason) => return Err(refusal(*layer, reason)),
                LayerState::Disabled | LayerState::NotEnabled(_) => {
                    return Err(format!(
                        "sandbox layer '{}' is both required and disabled; remove it from one of \
                         MCP_SANDBOX_REQUIRE / MCP_SANDBOX_DISABLE",
                        layer.name()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Spawns `probe_program -c 'exit 0'` under the sandbox; on failure names
    /// the layer whose step failed.
    fn probe(&self, probe_program: &Path) -> Result<(), (Option<Layer>, String)> {
        let spec = SpawnSpec {
            program: probe_program.to_path_buf(),
            args: vec!["-c".into(), "exit 0".into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: PathBuf::from("/"),
            stdin_pipe: false,
        };
        match self.run_blocking(&spec) {
            Ok(Exit::Code(0)) => Ok(()),
            Ok(other) => Err((None, format!("the probe command ended with {other:?}"))),
            Err(SpawnError { stage, errno }) => {
                let layer = match stage {
                    Stage::Rlimits => Some(Layer::Rlimits),
                    Stage::BoundingSet | Stage::Capabilities => Some(Layer::Capabilities),
                    Stage::SwitchUser => Some(Layer::User),
                    Stage::NoNewPrivs => Some(Layer::NoNewPrivs),
                    Stage::Landlock => Some(Layer::Landlock),
                    Stage::Seccomp => Some(Layer::Seccomp),
                    Stage::ProcMount => Some(Layer::PrivateProc),
                    Stage::None if self.steps & child::STEP_PID_NAMESPACE != 0 => Some(Layer::PidNamespace),
                    _ => None,
                };
                Err((layer, format!("{} failed: {}", stage.describe(), Errno::from_raw(errno).desc())))
            }
        }
    }
}

fn state(enabled: bool, enable: impl FnOnce() -> Result<String, String>) -> LayerState {
    if !enabled {
        return LayerState::Disabled;
    }
    match enable() {
        Ok(detail) => LayerState::Enforced(detail),
        Err(reason) => LayerState::Unavailable(reason),
    }
}

fn refusal(layer: Layer, reason: &str) -> String {
    format!(
        "refusing to start: sandbox layer '{}' is required but unavailable: {reason}. Commands would run \
         without it. To accept that, remove '{}' from MCP_SANDBOX_REQUIRE (--sandbox-require) or set it \
         in MCP_SANDBOX_DISABLE; `mcp-commander doctor` shows every layer",
        layer.name(),
        layer.name()
    )
}

/// What the broker lets commands of these settings reach.
fn socket_rules(settings: &SandboxSettings, credentials: Option<(u32, u32)>) -> SocketRules {
    let (unix_dirs, unix_sockets) =
        SocketRules::unix_reach(&settings.landlock.writable_roots, &settings.allowed_sockets);
    SocketRules {
        tcp_connect_ports: settings.landlock.tcp_connect_ports.clone(),
        tcp_bind_ports: settings.landlock.tcp_bind_ports.clone(),
        unix_dirs,
        unix_sockets,
        credentials,
    }
}

fn describe_sockets(rules: &SocketRules) -> String {
    let ports = |ports: &[u16]| {
        if ports.is_empty() {
            "none".to_string()
        } else {
            ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
        }
    };
    let listed = if rules.unix_sockets.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = rules.unix_sockets.iter().map(|p| p.display().to_string()).collect();
        format!(" and {}", names.join(", "))
    };
    format!(
        "connect and listen performed by the daemon on its copy of the address: TCP connect to ports {}, TCP \
         listen on ports {} (never on an unbound socket), UNIX sockets only beneath the writable roots{listed} \
         (checked as the command's user), abstract UNIX sockets refused",
        ports(&rules.tcp_connect_ports),
        ports(&rules.tcp_bind_ports)
    )
}

/// Memory-Deny-Write-Execute (Linux 6.3) for the daemon's memory and so for
/// every command, which inherits it through `clone` and keeps it across
/// `execve`: no mapping both writable and executable, none made executable
/// later. Set on the daemon itself, once: the spawner's children share the
/// daemon's memory until they exec, so a child could not set it alone.
fn deny_write_execute() -> Result<String, String> {
    let refuse_exec_gain = libc::PR_MDWE_REFUSE_EXEC_GAIN as libc::c_ulong;
    // SAFETY: prctl(PR_SET_MDWE) takes integers and touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_MDWE, refuse_exec_gain, 0, 0, 0) } != 0 {
        return Err(format!("the kernel refuses PR_SET_MDWE (Linux 6.3 or later): {}", Errno::last().desc()));
    }
    Ok("no command maps memory both writable and executable, or makes any executable later: machine code a \
        program computes or copies never runs; JIT compilers fail or fall back"
        .into())
}

/// Commands that keep the daemon's uid count their processes against the
/// same per-uid total as the daemon's threads; the kernel checks each
/// forking task's own RLIMIT_NPROC, so the daemon's must stay well above
/// the commands' or one call's fork loop leaves the daemon no thread.
fn warn_if_commands_can_starve_the_daemon(command_limit: u64) {
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

/// Whether the calling thread holds `capability` in its effective set.
fn has_capability(capability: u32) -> bool {
    capability_mask("CapEff").is_some_and(|mask| mask & (1 << capability) != 0)
}

/// Highest capability number the kernel knows.
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// One capability set of the calling thread (`CapEff`, `CapBnd`, ...).
fn capability_mask(set: &str) -> Option<u64> {
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
    if capability_mask("CapEff").is_none_or(|mask| mask & (1 << CAP_SETPCAP) == 0) {
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
pub(crate) fn ignore_sigpipe() {
    // SAFETY: sets a signal disposition to SIG_IGN; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Runs `cleanup` when the process exits through `exit` (the fuzz
/// targets' way out, which runs no destructors of statics).
pub(crate) fn at_exit(cleanup: extern "C" fn()) {
    // SAFETY: registers a function without arguments; atexit has no other
    // precondition, and `cleanup` is a plain function that lives forever.
    unsafe { libc::atexit(cleanup) };
}
