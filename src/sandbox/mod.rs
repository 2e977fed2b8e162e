//! The spawner: every command starts here, under kernel enforcement, as the
//! leader of a new process group.
//!
//! `Sandbox::prepare` builds everything that allocates once, at start: the
//! Landlock ruleset fd, the seccomp programs, the rlimits, the uid/gid.
//! It then proves the sandbox works by spawning a probe under it, so a
//! layer the kernel refuses is known before the first call (fail closed:
//! a required layer that is missing stops the start). `Sandbox::spawn`
//! clones a child with `CLONE_VM | CLONE_VFORK` on its own stack, from one
//! of the principal's spawning threads, already in its Landlock domain
//! ([`spawner`]), where it can; the child ([`child`]) applies the other
//! layers with raw system calls and execs. Each layer is declared in a file
//! of its own under [`layers`]; every failure, of a spawn or of the
//! preparation, is an [`Error`] (`error.rs`).
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
mod error;
pub(crate) mod landlock;
mod layers;
mod mounts;
mod notify;
mod orphans;
mod process;
pub(crate) mod programs;
mod seccomp;
mod sockets;
mod spawn;
mod spawner;

use std::ffi::c_int;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use error::Error;
pub(crate) use landlock::LandlockRules;
pub(crate) use layers::{Layer, LayerState};
pub(crate) use mounts::{enter_private_namespace, remove_dir};
pub(crate) use orphans::{become_subreaper, children_all_exited, reap_orphans};
#[cfg(fuzzing)]
pub(crate) use process::{at_exit, ignore_sigpipe};
pub(crate) use process::{can_switch_users, empty_bounding_set, protect_daemon, release_free_memory, scrub_secrets};
pub(crate) use seccomp::SeccompOptions;
use sockets::SocketRules;
pub(crate) use sockets::egress_peer;
pub(crate) use spawn::{
    Exit, SpawnSpec, Spawned, Usage, failed_at_working_directory, kill_group, reap, reap_with_usage, signal_leader,
};

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
    pub(crate) rlimits: Rlimits,
    pub(crate) seccomp: SeccompOptions,
    /// Directories that must be on noexec mounts: every writable root, and
    /// the state directory that holds the workspaces.
    pub(crate) noexec: Vec<PathBuf>,
    /// One per principal, in the order [`CellId`]s name them; never empty.
    pub(crate) cells: Vec<CellSettings>,
}

/// What differs between principals: who their commands run as, what they
/// may read, write, execute and reach.
#[derive(Debug, Clone)]
pub(crate) struct CellSettings {
    /// The principal, for reports.
    pub(crate) name: String,
    /// uid and gid its commands run as; `None`, or a daemon that cannot
    /// switch uids: the daemon's own.
    pub(crate) run_as: Option<(u32, u32)>,
    pub(crate) landlock: LandlockRules,
    /// UNIX socket files its commands may connect to outside their
    /// writable roots.
    pub(crate) allowed_sockets: Vec<PathBuf>,
    /// The egress proxy's port on 127.0.0.1, when its commands may use it
    /// (also in `landlock.tcp_connect_ports`).
    pub(crate) egress_proxy: Option<u16>,
}

/// Names one cell of a prepared sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CellId(pub(crate) usize);

/// The prepared sandbox. Invariant: immutable after `prepare`; the fds and
/// programs it holds outlive every spawn that points at them.
#[derive(Debug)]
pub(crate) struct Sandbox {
    /// Steps every cell's child performs (a cell adds its uid switch).
    steps: u32,
    /// `CLONE_NEW*` flags: the namespaces each command is cloned into.
    namespaces: c_int,
    /// Owns the instructions `program` points into.
    _filter: Option<seccomp::Filter>,
    program: libc::sock_fprog,
    rlimits: [(c_int, libc::rlimit); 6],
    last_cap: u32,
    devnull: OwnedFd,
    layers: Vec<(Layer, LayerState)>,
    cells: Vec<Cell>,
}

/// One principal's part of the prepared sandbox.
#[derive(Debug)]
struct Cell {
    uid: u32,
    gid: u32,
    /// Whether the child switches to `uid`/`gid` (else it keeps the
    /// daemon's, which they then equal).
    switch_user: bool,
    ruleset: Option<OwnedFd>,
    /// Threads already in this cell's Landlock domain, which its commands
    /// are cloned from (see `spawner`); `None`: each child restricts itself.
    spawners: Option<spawner::Pool>,
    /// What the socket broker allows this cell's commands, when it runs.
    sockets: Option<Arc<SocketRules>>,
}

// SAFETY: the raw pointer in `program` points into `filter`, which the
// Sandbox owns and never mutates; sharing them read-only across threads is
// sound.
unsafe impl Send for Sandbox {}
// SAFETY: as above; `spawn` only reads the Sandbox.
unsafe impl Sync for Sandbox {}

impl Sandbox {
    /// Prepares every layer the settings ask for and the kernel offers,
    /// proves it with a probe spawn of `probe_program` in every cell, and
    /// refuses a configuration whose required layers are not all enforced.
    pub(crate) fn prepare(settings: &SandboxSettings, probe_program: &Path) -> Result<Sandbox, Error> {
        if settings.cells.is_empty() {
            return Err(Error::NoCells);
        }
        let mut disabled: Vec<Layer> = settings.disable.clone();
        loop {
            let sandbox = layers::build(settings, &disabled)?;
            let Err(failure) = sandbox.probe(probe_program) else {
                sandbox.check_required(settings)?;
                return Ok(sandbox);
            };
            match sandbox.failed_layer(&failure) {
                Some(layer) if !disabled.contains(&layer) => {
                    if settings.require.contains(&layer) {
                        return Err(Error::Refused { layer, probe: Box::new(failure) });
                    }
                    let reason = failure.reason();
                    tracing::warn!(layer = layer.name(), %reason, "sandbox layer unavailable; continuing without it");
                    disabled.push(layer);
                }
                _ => return Err(Error::Probe(Box::new(failure))),
            }
        }
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

    /// The uid and gid a cell's commands run as.
    pub(crate) fn identity(&self, cell: CellId) -> (u32, u32) {
        let cell = &self.cells[cell.0];
        (cell.uid, cell.gid)
    }

    fn check_required(&self, settings: &SandboxSettings) -> Result<(), Error> {
        for (layer, state) in &self.layers {
            if !settings.require.contains(layer) {
                continue;
            }
            match state {
                LayerState::Enforced(_) => {}
                LayerState::Unavailable(reason) => {
                    return Err(Error::Unavailable { layer: *layer, reason: reason.clone() });
                }
                LayerState::Disabled | LayerState::NotEnabled(_) => return Err(Error::RequiredAndDisabled(*layer)),
            }
        }
        Ok(())
    }

    /// Spawns `probe_program -c 'exit 0'` in every cell.
    fn probe(&self, probe_program: &Path) -> Result<(), Error> {
        let spec = SpawnSpec {
            program: probe_program.to_path_buf(),
            args: vec!["-c".into(), "exit 0".into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: PathBuf::from("/"),
            stdin_pipe: false,
        };
        for cell in (0..self.cells.len()).map(CellId) {
            match self.run_blocking(cell, &spec)? {
                Exit::Code(0) => {}
                other => return Err(Error::ProbeExit(other)),
            }
        }
        Ok(())
    }

    /// The layer whose step a probe failed at, if any.
    fn failed_layer(&self, failure: &Error) -> Option<Layer> {
        let enforced = |layer| self.layers.iter().any(|(l, s)| *l == layer && matches!(s, LayerState::Enforced(_)));
        Layer::failed_at(failure.stage()?, enforced)
    }
}
