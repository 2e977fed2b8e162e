//! Preparing each layer once, at start: what the kernel offers, what the
//! settings ask for, and what each layer does here, in the order the child
//! applies them. Per-principal parts (uid, Landlock ruleset, socket rules)
//! are prepared for every cell; the rest is shared.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use nix::fcntl::OFlag;

use super::error::Error;
use super::process::{
    CAP_SETPCAP, CAP_SYS_ADMIN, CAP_SYS_PTRACE, can_switch_users, capability_mask, deny_write_execute, has_capability,
    last_capability, warn_if_commands_can_starve_the_daemon,
};
use super::sockets::SocketRules;
use super::{
    Cell, CellSettings, LandlockRules, Layer, LayerState, Sandbox, SandboxSettings, broker, child, landlock, mounts,
    seccomp,
};

pub(super) fn build(settings: &SandboxSettings, disabled: &[Layer]) -> Result<Sandbox, Error> {
    let on = |layer: Layer| !settings.disable.contains(&layer) && !disabled.contains(&layer);
    let opted_in =
        |layer: Layer| !layer.is_opt_in() || settings.enable.contains(&layer) || settings.require.contains(&layer);
    let mut layers = Vec::new();
    let mut steps = 0;
    let r = settings.rlimits;
    let limit = |value: u64| libc::rlimit { rlim_cur: value, rlim_max: value };
    let rlimits = [
        (libc::RLIMIT_CPU as libc::c_int, limit(r.cpu_seconds)),
        (libc::RLIMIT_AS as libc::c_int, limit(r.address_space_bytes)),
        (libc::RLIMIT_FSIZE as libc::c_int, limit(r.file_size_bytes)),
        (libc::RLIMIT_NOFILE as libc::c_int, limit(r.open_files)),
        (libc::RLIMIT_NPROC as libc::c_int, limit(r.processes)),
        (libc::RLIMIT_CORE as libc::c_int, limit(0)),
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
    let switching = on(Layer::User) && can_switch_users();
    let mut cells: Vec<Cell> = settings.cells.iter().map(|cell| Cell::new(cell, switching)).collect();
    layers.push((Layer::User, state(on(Layer::User), || describe_users(&settings.cells, &cells))));
    if cells.iter().any(|cell| !cell.switch_user) {
        warn_if_commands_can_starve_the_daemon(r.processes);
    }
    let bounding_set_empty = capability_mask("CapBnd") == Some(0);
    let can_drop_bounding_set = has_capability(CAP_SETPCAP);
    layers.push((
        Layer::Capabilities,
        state(on(Layer::Capabilities), || {
            steps |= child::STEP_CAPSET;
            if bounding_set_empty {
                Ok("effective, permitted, inheritable, ambient and bounding sets empty (the bounding set was \
                    emptied in the daemon at start)"
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
    layers.push((
        Layer::Landlock,
        state(on(Layer::Landlock), || {
            let abi = landlock::kernel_abi()?;
            let mut rules = 0;
            let mut out_of_reach = 0;
            let mut executable = usize::MAX;
            let mut searched = None;
            let private_proc =
                opted_in(Layer::PrivateProc) && on(Layer::PrivateProc) && mounts::has_private_namespace();
            for (cell, configured) in cells.iter_mut().zip(&settings.cells) {
                let landlock = LandlockRules { private_proc, ..configured.landlock.clone() };
                let (ruleset, count) = landlock::prepare(&landlock)?;
                // Commands under the daemon's own uid could signal a thread
                // that shares their domain; a private /proc is mounted by
                // each child, which a restricted thread may not do.
                if cell.switch_user && !private_proc {
                    cell.spawners = Some(super::spawner::Pool::new(&ruleset, &configured.name)?);
                }
                cell.ruleset = Some(ruleset);
                rules = rules.max(count);
                if !configured.landlock.hidden_programs.is_empty() {
                    out_of_reach = out_of_reach.max(configured.landlock.hidden_programs.len());
                    executable = executable.min(configured.landlock.exec_paths.len());
                    searched = searched.or(configured.landlock.searched);
                }
            }
            steps |= child::STEP_LANDLOCK;
            Ok(format!(
                "ABI {abi}, {} ruleset(s) of up to {rules} rules{}{}",
                cells.len(),
                if out_of_reach > 0 {
                    let (files, took) = searched.unwrap_or_default();
                    format!(
                        "; under the allowlist only the shell, its loader, the allowed programs and their helpers \
                         may be executed ({executable} paths at the fewest), and of the programs found among \
                         {files} files searched in {} ms only those may be read: {out_of_reach} others are not, \
                         so the loader can neither run nor copy them{}",
                        took.as_millis(),
                        if private_proc { " (and /proc with them, under private_proc)" } else { "" }
                    )
                } else {
                    String::new()
                },
                if abi < 6 { " (no signal or abstract-socket scoping below ABI 6)" } else { "" }
            ))
        }),
    ));
    let mut filter = None;
    layers.push((
        Layer::Seccomp,
        state(on(Layer::Seccomp), || {
            let no_shared_exec = opted_in(Layer::Mdwe) && on(Layer::Mdwe);
            let prepared = seccomp::prepare(seccomp::SeccompOptions { no_shared_exec, ..settings.seccomp })?;
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
    layers.push((
        Layer::Sockets,
        state(on(Layer::Sockets), || {
            broker::start()?;
            if cells.iter().any(|cell| cell.switch_user) && !has_capability(CAP_SYS_PTRACE) {
                return Err("the daemon lacks CAP_SYS_PTRACE, which it needs to take the sockets of commands \
                            running under other uids (list SYS_PTRACE in the container's capabilities)"
                    .into());
            }
            for (owner, (cell, configured)) in cells.iter_mut().zip(&settings.cells).enumerate() {
                let credentials = cell.switch_user.then_some((cell.uid, cell.gid));
                cell.sockets = Some(Arc::new(socket_rules(configured, credentials, owner)));
            }
            Ok(describe_sockets(cells.first().and_then(|c| c.sockets.as_deref())))
        }),
    ));
    layers.push((Layer::Noexec, state(on(Layer::Noexec), || mounts::ensure_noexec(&settings.noexec))));
    layers.push((
        Layer::PidNamespace,
        state(on(Layer::PidNamespace), || {
            if !has_capability(CAP_SYS_ADMIN) {
                return Err("the daemon lacks CAP_SYS_ADMIN (usual in containers); a command's background processes \
                            outlive a daemon killed by SIGKILL"
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
                    return Err("it needs the pid_namespace layer; a command sees the host's /proc (every process, \
                                with its command line)"
                        .into());
                }
                if !mounts::has_private_namespace() {
                    return Err("the daemon has no mount namespace of its own (it starts one only as root with \
                                CAP_SYS_ADMIN); a command sees the host's /proc"
                        .into());
                }
                steps |= child::STEP_PRIVATE_PROC;
                Ok("one mount namespace per command with a procfs of its own PID namespace: ps and /proc show \
                    only the command's processes"
                    .to_string())
            })
        },
    ));
    layers.push((
        Layer::Mdwe,
        if !opted_in(Layer::Mdwe) {
            LayerState::NotEnabled(
                "opt-in (MCP_SANDBOX_ENABLE=mdwe; JIT compilers such as node's and java's stop working); without \
                 it an allowed program that computes machine code (python's ctypes, perl, a JIT) can run it from \
                 its own anonymous memory, still under every other layer"
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
    let devnull: OwnedFd =
        nix::fcntl::open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .map_err(Error::DevNull)?;
    Ok(Sandbox { steps, _filter: filter, program, rlimits, last_cap: last_capability(), devnull, layers, cells })
}

impl Cell {
    fn new(settings: &CellSettings, switching: bool) -> Cell {
        let own = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        let (switch_user, (uid, gid)) = match settings.run_as {
            Some(ids) if switching && ids != own => (true, ids),
            _ => (false, own),
        };
        Cell { uid, gid, switch_user, ruleset: None, spawners: None, sockets: None }
    }
}

/// The user layer: enforced when every cell's commands run under a uid of
/// their own.
fn describe_users(settings: &[CellSettings], cells: &[Cell]) -> Result<String, String> {
    let own = nix::unistd::geteuid().as_raw();
    if let Some(cell) = cells.iter().find(|cell| !cell.switch_user) {
        return Err(if can_switch_users() {
            "no uid of their own is configured for commands".to_string()
        } else {
            format!(
                "the daemon cannot switch uids (it lacks CAP_SETUID and CAP_SETGID), so every principal's commands \
                 share its uid {} (MCP_SHARED_UID)",
                cell.uid.max(own)
            )
        });
    }
    if cells.len() > 1 && cells.iter().all(|cell| (cell.uid, cell.gid) == (cells[0].uid, cells[0].gid)) {
        return Ok(format!(
            "every principal's commands share uid and gid {}:{} (MCP_SHARED_UID): only Landlock keeps them apart",
            cells[0].uid, cells[0].gid
        ));
    }
    let mut names: Vec<String> =
        settings.iter().zip(cells).take(4).map(|(s, c)| format!("{} as {}:{}", s.name, c.uid, c.gid)).collect();
    if cells.len() > 4 {
        names.push(format!("and {} more", cells.len() - 4));
    }
    Ok(format!("a uid and gid per principal, no supplementary groups: {}", names.join(", ")))
}

pub(super) fn state(enabled: bool, enable: impl FnOnce() -> Result<String, String>) -> LayerState {
    if !enabled {
        return LayerState::Disabled;
    }
    match enable() {
        Ok(detail) => LayerState::Enforced(detail),
        Err(reason) => LayerState::Unavailable(reason),
    }
}

/// What the broker lets commands of one cell reach.
fn socket_rules(settings: &CellSettings, credentials: Option<(u32, u32)>, owner: usize) -> SocketRules {
    let (unix_dirs, unix_sockets) =
        SocketRules::unix_reach(&settings.landlock.writable_roots, &settings.allowed_sockets);
    SocketRules {
        tcp_connect_ports: settings.landlock.tcp_connect_ports.clone(),
        tcp_bind_ports: settings.landlock.tcp_bind_ports.clone(),
        unix_dirs,
        unix_sockets,
        credentials,
        owner,
    }
}

fn describe_sockets(rules: Option<&SocketRules>) -> String {
    let Some(rules) = rules else { return "no cell".into() };
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
