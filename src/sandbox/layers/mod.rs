//! The enforcement layers, each declared in a file of its own here: its
//! name, whether it is required by default or opt-in, the child's steps
//! whose failure is its, and how it is prepared at start (what the kernel
//! offers, what the settings ask for, and what it then does on this host).
//! [`REGISTRY`] lists them once; configuration names, the start-up log,
//! `doctor`, `get_shell_info`, `/health`, metrics and the probe's verdict
//! all read it.
//!
//! What a layer does in the child, between `clone` and `execve`, stays in
//! `child.rs`: one fixed sequence of raw system calls that must not
//! allocate, kept in one file so its order and its async-signal-safety can
//! be checked at a glance. A layer turns its steps on by setting their bits
//! in [`Build::steps`], and the namespaces a command is cloned into in
//! [`Build::namespaces`].
//!
//! Adding a layer: a file here with its `SPEC` (and its `mod` line), a
//! variant of [`Layer`] and a line in [`REGISTRY`]; if it acts in the
//! child, also its step in `child.rs` (a step bit, the [`Stage`] it reports
//! on failure, and the system call in its place in the sequence).

mod capabilities;
mod landlock;
mod mdwe;
mod no_new_privs;
mod noexec;
mod pid_namespace;
mod private_proc;
mod rlimits;
mod seccomp;
mod sockets;
mod user;

#[cfg(test)]
mod tests;

use std::ffi::c_int;
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;

use super::child::Stage;
use super::error::Error;
use super::process::last_capability;
use super::{Cell, Sandbox, SandboxSettings};

/// One enforcement layer, as named in configuration and reports. Declared
/// in the order operators see the names listed; each has a [`Spec`] in
/// [`REGISTRY`].
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

/// Every layer's declaration, in the order the layers are prepared at start
/// and reported: a layer may use what those before it prepared.
const REGISTRY: [&Spec; 11] = [
    &rlimits::SPEC,
    &no_new_privs::SPEC,
    &user::SPEC,
    &capabilities::SPEC,
    &landlock::SPEC,
    &seccomp::SPEC,
    &sockets::SPEC,
    &noexec::SPEC,
    &pid_namespace::SPEC,
    &private_proc::SPEC,
    &mdwe::SPEC,
];

/// Everything about one layer but its steps in the child.
pub(super) struct Spec {
    pub(super) layer: Layer,
    /// Its name in configuration, logs, `doctor`, `/health` and metrics.
    pub(super) name: &'static str,
    /// In MCP_SANDBOX_REQUIRE's default: its absence stops the start.
    pub(super) required_by_default: bool,
    /// For a layer off unless enabled: what a command has without it.
    /// `None`: on unless disabled.
    pub(super) opt_in: Option<fn() -> String>,
    /// The child's steps whose failure in the start-up probe is this
    /// layer's: the layer is then given up, or the start refused.
    /// `Stage::None` (a failure before the child ran, such as `clone`
    /// refusing a namespace) counts only while the layer is enforced.
    pub(super) stages: &'static [Stage],
    /// Prepares the layer, switched on: `Ok` says what it enforces here,
    /// `Err` why this host does not offer it.
    pub(super) prepare: fn(&mut Build) -> Result<String, String>,
}

/// The registry indexed by [`Layer`]; building it checks, at compile time,
/// that every layer is registered exactly once.
const BY_LAYER: [&Spec; REGISTRY.len()] = {
    let mut slots: [Option<&Spec>; REGISTRY.len()] = [None; REGISTRY.len()];
    let mut i = 0;
    while i < REGISTRY.len() {
        let at = REGISTRY[i].layer as usize;
        assert!(slots[at].is_none(), "a layer is registered twice");
        slots[at] = Some(REGISTRY[i]);
        i += 1;
    }
    let mut by_layer = [REGISTRY[0]; REGISTRY.len()];
    let mut i = 0;
    while i < REGISTRY.len() {
        match slots[i] {
            Some(spec) => by_layer[i] = spec,
            None => panic!("a layer is not registered"),
        }
        i += 1;
    }
    by_layer
};

/// How many layers are required by default.
const REQUIRED_COUNT: usize = {
    let (mut count, mut i) = (0, 0);
    while i < BY_LAYER.len() {
        count += BY_LAYER[i].required_by_default as usize;
        i += 1;
    }
    count
};

const REQUIRED: [Layer; REQUIRED_COUNT] = {
    let mut required = [Layer::Rlimits; REQUIRED_COUNT];
    let (mut next, mut i) = (0, 0);
    while i < BY_LAYER.len() {
        if BY_LAYER[i].required_by_default {
            required[next] = BY_LAYER[i].layer;
            next += 1;
        }
        i += 1;
    }
    required
};

impl Layer {
    /// Every layer, in the order of their declaration.
    pub(crate) const ALL: [Layer; REGISTRY.len()] = {
        let mut all = [Layer::Rlimits; REGISTRY.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = BY_LAYER[i].layer;
            i += 1;
        }
        all
    };

    /// The layers whose absence stops the start unless the operator says
    /// otherwise.
    pub(crate) const REQUIRED_BY_DEFAULT: &[Layer] = &REQUIRED;

    fn spec(self) -> &'static Spec {
        BY_LAYER[self as usize]
    }

    pub(crate) fn name(self) -> &'static str {
        self.spec().name
    }

    /// Layers off unless the operator enables (or requires) them.
    pub(crate) fn is_opt_in(self) -> bool {
        self.spec().opt_in.is_some()
    }

    pub(crate) fn parse(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|layer| layer.name() == name.trim().to_ascii_lowercase())
    }

    /// The layer whose step a spawn failed at, if any; `enforced` says
    /// which layers are.
    pub(super) fn failed_at(stage: Stage, enforced: impl Fn(Layer) -> bool) -> Option<Layer> {
        REGISTRY
            .iter()
            .find(|spec| spec.stages.contains(&stage) && (stage != Stage::None || enforced(spec.layer)))
            .map(|spec| spec.layer)
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

/// The sandbox as the layers prepared so far leave it; each layer's
/// `prepare` reads the settings and what came before it, and adds its part.
pub(super) struct Build<'a> {
    pub(super) settings: &'a SandboxSettings,
    /// Layers switched off: by the operator, or given up after a probe.
    disabled: &'a [Layer],
    /// Child steps every cell performs (bits of `child::STEP_*`).
    pub(super) steps: u32,
    /// `CLONE_NEW*` flags: the namespaces each command is cloned into.
    pub(super) namespaces: c_int,
    /// One per configured cell, in order.
    pub(super) cells: Vec<Cell>,
    /// Applied by the child under `child::STEP_RLIMITS` only.
    pub(super) rlimits: [(c_int, libc::rlimit); 6],
    /// The seccomp program, once prepared.
    pub(super) filter: Option<super::seccomp::Filter>,
}

impl Build<'_> {
    /// Whether `layer` is switched on: not disabled and, if opt-in, enabled
    /// or required.
    pub(super) fn wants(&self, layer: Layer) -> bool {
        self.opted_in(layer) && !self.is_disabled(layer)
    }

    fn is_disabled(&self, layer: Layer) -> bool {
        self.settings.disable.contains(&layer) || self.disabled.contains(&layer)
    }

    fn opted_in(&self, layer: Layer) -> bool {
        !layer.is_opt_in() || self.settings.enable.contains(&layer) || self.settings.require.contains(&layer)
    }

    fn state(&mut self, spec: &Spec) -> LayerState {
        if let Some(without) = spec.opt_in.filter(|_| !self.opted_in(spec.layer)) {
            return LayerState::NotEnabled(without());
        }
        if self.is_disabled(spec.layer) {
            return LayerState::Disabled;
        }
        match (spec.prepare)(self) {
            Ok(detail) => LayerState::Enforced(detail),
            Err(reason) => LayerState::Unavailable(reason),
        }
    }
}

/// Prepares every layer in [`REGISTRY`] order, but those in `disabled`
/// (and the operator's).
pub(super) fn build(settings: &SandboxSettings, disabled: &[Layer]) -> Result<Sandbox, Error> {
    let unset = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    let mut build = Build {
        settings,
        disabled,
        steps: 0,
        namespaces: 0,
        cells: Vec::new(),
        rlimits: [(0, unset); 6],
        filter: None,
    };
    build.cells = user::cells(settings, !build.is_disabled(Layer::User));
    let layers = REGISTRY.iter().map(|spec| (spec.layer, build.state(spec))).collect();
    let Build { steps, namespaces, cells, rlimits, filter, .. } = build;
    let program = match &filter {
        Some(f) => libc::sock_fprog { len: f.program.len() as u16, filter: f.program.as_ptr() as *mut _ },
        None => libc::sock_fprog { len: 0, filter: std::ptr::null_mut() },
    };
    let devnull: OwnedFd =
        nix::fcntl::open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .map_err(Error::DevNull)?;
    Ok(Sandbox {
        steps,
        namespaces,
        _filter: filter,
        program,
        rlimits,
        last_cap: last_capability(),
        devnull,
        layers,
        cells,
    })
}
