//! Principals at run time: each caller's space, made once at start. A space
//! is the uid and gid its commands run under (one per principal, from
//! `MCP_COMMAND_UIDS`), its workspace, its policy (the daemon's, narrowed
//! by the tokens file), and its cell of the sandbox, whose Landlock ruleset
//! writes only to that workspace and its writable roots and reads nothing
//! of the daemon's: not its files (tokens, HMAC key, audit log,
//! configuration) and not its state directory, which holds every other
//! workspace.
//!
//! The contact points: [`plan`] before the sandbox is prepared (it needs
//! the cells), [`Spaces::new`] after it, and [`Spaces::get`] for each call.

mod executables;
mod uids;
pub(crate) mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::config::principals::{ANONYMOUS, LOCAL, Narrowing};
use crate::egress::AllowList;
use crate::policy::{Policy, Scope};
use crate::sandbox::{CellId, CellSettings, LandlockRules, Layer, Sandbox, SpawnSpec};
use workspaces::Activity;

/// One principal's space. Invariant: its workspace exists for the daemon's
/// lifetime and is its own (mode 0700, its uid).
#[derive(Debug)]
pub(crate) struct Space {
    pub(crate) name: String,
    pub(crate) cell: CellId,
    /// The uid and gid its commands run under.
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) workspace: PathBuf,
    pub(crate) policy: Policy,
    /// Where its commands may write: its workspace first, then its
    /// writable roots and a few devices (for the policy's redirection
    /// checks).
    pub(crate) writable_roots: Arc<Vec<PathBuf>>,
    pub(crate) tcp_connect_ports: Vec<u16>,
    pub(crate) tcp_bind_ports: Vec<u16>,
    /// Where its commands may connect through the egress proxy (the
    /// daemon's list, narrowed); empty: no egress.
    pub(crate) egress: Arc<AllowList>,
    pub(crate) activity: Activity,
}

/// A call using its space's workspace, until dropped (the workspace is not
/// emptied meanwhile).
pub(crate) struct InUse(Arc<Space>);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.activity.end();
    }
}

impl Space {
    /// Marks a call as using this space's workspace.
    pub(crate) fn in_use(self: &Arc<Self>) -> InUse {
        self.activity.begin();
        InUse(self.clone())
    }

    /// The policy's scope for a command of this space run in `cwd`.
    pub(crate) fn scope<'a>(&'a self, cwd: &'a Path) -> Scope<'a> {
        Scope { cwd, writable_roots: &self.writable_roots }
    }
}

/// Every principal's space.
#[derive(Debug)]
pub(crate) struct Spaces {
    spaces: Vec<Arc<Space>>,
    state_dir: PathBuf,
    /// Whether commands of different principals run under different uids.
    pub(crate) separate_uids: bool,
}

/// What [`plan`] decided, before the sandbox exists.
pub(crate) struct Plan {
    spaces: Vec<Space>,
    pub(crate) cells: Vec<CellSettings>,
    /// Files and directories no command may read (checked at start).
    hidden: Vec<PathBuf>,
    separate_uids: bool,
}

/// The names of the principals the daemon serves: the tokens file's, or
/// the single token's, or `anonymous` without a token; and `stdio`, the
/// principal of the stdio transport and of `run`.
fn names(config: &Config) -> Vec<(String, Option<u32>, Narrowing)> {
    let mut names: Vec<_> = config.principals.iter().map(|p| (p.name.clone(), p.uid, p.narrowing.clone())).collect();
    if names.is_empty() {
        names.push((ANONYMOUS.to_string(), None, Narrowing::default()));
    }
    names.push((LOCAL.to_string(), None, Narrowing::default()));
    names
}

/// Decides every principal's uid, creates its workspace in `state_dir`,
/// narrows its policy and builds its cell of the sandbox; a cell with
/// egress may connect to the proxy on `egress_port`.
pub(crate) fn plan(config: &Config, state_dir: &Path, egress_port: Option<u16>) -> Result<Plan, String> {
    let sandbox = &config.sandbox;
    let separation = &config.separation;
    let uid_layer_off = sandbox.disable.contains(&Layer::User);
    let separate_uids = !separation.shared_uid && !uid_layer_off;
    if separate_uids && !crate::sandbox::can_switch_users() {
        return Err("refusing to start: commands cannot run under a uid of their own, because the daemon cannot \
                    switch uids (it is not root, and lacks CAP_SETUID and CAP_SETGID). Run it as root, or in the \
                    container with those capabilities (deploy/README.md); or accept that every caller's commands \
                    run under the daemon's uid, apart only by Landlock, with MCP_SHARED_UID=true"
            .into());
    }
    if !separate_uids && sandbox.enable.contains(&Layer::PrivateProc) {
        return Err(
            "MCP_SANDBOX_ENABLE=private_proc needs a uid per principal (not MCP_SHARED_UID): with a procfs of \
                    their own, commands are kept from the daemon's files and each other's workspaces by uid"
                .into(),
        );
    }
    let names = names(config);
    let pinned: Vec<(String, Option<u32>)> = names.iter().map(|(name, uid, _)| (name.clone(), *uid)).collect();
    let uids = uids::assign(&pinned, separation.uids)?;
    let own = nix::unistd::geteuid().as_raw();
    if let Some((name, _, _)) = names.iter().zip(&uids).find(|(_, uid)| **uid == own || **uid == 0).map(|(n, _)| n) {
        return Err(format!("the principal '{name}' would run as root or as the daemon's own uid {own}"));
    }
    let mut hidden = config.daemon_files.clone();
    hidden.push(state_dir.to_path_buf());
    let devices: Vec<PathBuf> =
        ["/dev/null", "/dev/zero", "/dev/full"].iter().map(PathBuf::from).filter(|p| p.exists()).collect();
    // Searched once, and only when some principal has an allowlist, for
    // what the commands' uids may read.
    let mut census = None;
    let readers = if separate_uids {
        uids.iter().map(|uid| (*uid, vec![*uid])).collect()
    } else if let Some((uid, gid)) = sandbox.run_as.filter(|_| nix::unistd::geteuid().is_root() && !uid_layer_off) {
        vec![(uid, vec![gid])]
    } else {
        let mut groups: Vec<u32> = nix::unistd::getgroups().unwrap_or_default().iter().map(|g| g.as_raw()).collect();
        groups.push(nix::unistd::getegid().as_raw());
        vec![(own, groups)]
    };
    let readers = crate::sandbox::programs::Readers { identities: readers };
    let mut spaces = Vec::new();
    let mut cells = Vec::new();
    for (index, ((name, _, narrowing), uid)) in names.into_iter().zip(uids).enumerate() {
        let run_as = if separate_uids {
            Some((uid, uid))
        } else if nix::unistd::geteuid().is_root() && !uid_layer_off {
            sandbox.run_as
        } else {
            None
        };
        let workspace = workspaces::create(state_dir, index, run_as)?;
        let roots = narrow_roots(&name, narrowing.writable_roots.as_deref(), &sandbox.writable_roots)?;
        let connect =
            narrow_ports(&name, "tcp_connect_ports", narrowing.tcp_connect_ports, &sandbox.tcp_connect_ports)?;
        let bind = narrow_ports(&name, "tcp_bind_ports", narrowing.tcp_bind_ports, &sandbox.tcp_bind_ports)?;
        let egress = config.egress.allow.narrowed(
            narrowing.egress_allow.as_deref(),
            &format!("MCP_TOKENS_FILE, principal '{name}', egress_allow"),
        )?;
        let egress_proxy = egress_port.filter(|_| !egress.is_empty());
        let mut landlock_connect = connect.clone();
        landlock_connect.extend(egress_proxy.filter(|port| !connect.contains(port)));
        let mut writable = vec![workspace.clone()];
        writable.extend(roots);
        writable.extend(devices.iter().cloned());
        let policy = match &narrowing.allowed_commands {
            None => config.policy.clone(),
            Some(list) => config
                .policy
                .narrowed(list, Scope { cwd: &workspace, writable_roots: &writable })
                .map_err(|e| format!("MCP_TOKENS_FILE, principal '{name}': {e}"))?,
        };
        let exec_paths = executables::executables(config, &policy)?;
        check_reach(&name, &hidden, &writable, &exec_paths)?;
        let mut searched = None;
        let hidden_programs = if policy.allow_all() {
            Vec::new()
        } else {
            let census = census.get_or_insert_with(|| {
                let skip: Vec<PathBuf> = hidden.iter().chain(&sandbox.writable_roots).cloned().collect();
                let found = crate::sandbox::programs::census(&sandbox.read_paths, &skip, &readers);
                tracing::info!(
                    programs = found.programs.len(),
                    files = found.files,
                    took_ms = found.took.as_millis() as u64,
                    "allowlist: programs beneath the read paths found; commands may read only the allowed ones"
                );
                found
            });
            searched = Some((census.files, census.took));
            census.programs.iter().filter(|p| !exec_paths.iter().any(|e| p.starts_with(e))).cloned().collect()
        };
        cells.push(CellSettings {
            name: name.clone(),
            run_as,
            landlock: LandlockRules {
                read_paths: sandbox.read_paths.clone(),
                hidden: hidden.clone(),
                hidden_programs,
                searched,
                writable_roots: writable.clone(),
                exec_paths,
                tcp_connect_ports: landlock_connect,
                tcp_bind_ports: bind.clone(),
                private_proc: false,
            },
            allowed_sockets: sandbox.allowed_sockets.clone(),
            egress_proxy,
        });
        spaces.push(Space {
            name,
            cell: CellId(index),
            uid,
            gid: uid,
            workspace,
            policy,
            writable_roots: Arc::new(writable),
            tcp_connect_ports: connect,
            tcp_bind_ports: bind,
            egress: Arc::new(egress),
            activity: Activity::default(),
        });
    }
    Ok(Plan { spaces, cells, hidden, separate_uids })
}

/// A principal's writable roots: its own, each beneath one of the
/// daemon's, or the daemon's.
fn narrow_roots(name: &str, own: Option<&[PathBuf]>, daemon: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let Some(own) = own else { return Ok(daemon.to_vec()) };
    for root in own {
        if !daemon.iter().any(|d| root.starts_with(d)) {
            return Err(format!(
                "MCP_TOKENS_FILE, principal '{name}': writable root {} is not beneath one of the daemon's \
                 (MCP_WRITABLE_ROOTS)",
                root.display()
            ));
        }
    }
    Ok(own.to_vec())
}

fn narrow_ports(name: &str, key: &str, own: Option<Vec<u16>>, daemon: &[u16]) -> Result<Vec<u16>, String> {
    let Some(own) = own else { return Ok(daemon.to_vec()) };
    if let Some(port) = own.iter().find(|port| !daemon.contains(port)) {
        return Err(format!("MCP_TOKENS_FILE, principal '{name}': {key} holds {port}, which the daemon does not list"));
    }
    Ok(own)
}

/// Refuses a writable root or an executable path that holds one of the
/// daemon's own files or its state directory: Landlock would grant them.
fn check_reach(name: &str, hidden: &[PathBuf], writable: &[PathBuf], exec: &[PathBuf]) -> Result<(), String> {
    for path in hidden {
        let own_workspace = |root: &PathBuf| root.starts_with(path);
        if let Some(root) = writable.iter().chain(exec).find(|root| path.starts_with(root) && !own_workspace(root)) {
            return Err(format!(
                "refusing to start: {} (the daemon's own) lies beneath {}, which principal '{name}' may write or \
                 execute from; move it (TMPDIR decides where the state directory goes) or narrow that path",
                path.display(),
                root.display()
            ));
        }
    }
    Ok(())
}

impl Spaces {
    /// The spaces of `plan`, with the uids the prepared sandbox runs them
    /// under; then proves, as each space's commands, that none of the
    /// daemon's files can be read.
    pub(crate) fn new(plan: Plan, sandbox: &Sandbox, shell: &Path, state_dir: &Path) -> Result<Spaces, String> {
        // Like every other workspace's files: another uid's, in a 0711 parent.
        let probe = state_dir.join(".unreadable");
        std::fs::write(&probe, "").map_err(|e| format!("{}: {e}", probe.display()))?;
        std::fs::set_permissions(&probe, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", probe.display()))?;
        let mut spaces = Vec::new();
        for mut space in plan.spaces {
            (space.uid, space.gid) = sandbox.identity(space.cell);
            for file in plan.hidden.iter().map(|h| if h == state_dir { &probe } else { h }) {
                if readable_by(sandbox, space.cell, shell, file) {
                    return Err(format!(
                        "refusing to start: {} can be read by the commands of principal '{}' (uid {}); keep the \
                         daemon's files outside the read paths' reach, or report this",
                        file.display(),
                        space.name,
                        space.uid
                    ));
                }
            }
            // Under an allowlist, a program left out of the read rules.
            let left_out = plan.cells.get(space.cell.0).and_then(|cell| cell.landlock.hidden_programs.first());
            if let Some(program) = left_out.filter(|program| readable_by(sandbox, space.cell, shell, program)) {
                return Err(format!(
                    "refusing to start: {} (a program the allowlist leaves out) can be read by the commands of \
                     principal '{}', so the loader could run it; report this",
                    program.display(),
                    space.name
                ));
            }
            spaces.push(Arc::new(space));
        }
        Ok(Spaces { spaces, state_dir: state_dir.to_path_buf(), separate_uids: plan.separate_uids })
    }

    /// The space of the principal called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Space>> {
        self.spaces.iter().find(|space| space.name == name)
    }

    /// The space of the stdio transport and of `run`.
    pub(crate) fn local(&self) -> &Arc<Space> {
        self.get(LOCAL).expect("the local space exists")
    }

    pub(crate) fn all(&self) -> &[Arc<Space>] {
        &self.spaces
    }

    pub(crate) fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Empties, every so often, the workspaces unused for `limit`.
    pub(crate) async fn empty_idle_workspaces(self: Arc<Self>, limit: Duration) {
        let every = (limit / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            tokio::time::sleep(every).await;
            let spaces = self.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for space in spaces.all() {
                    if workspaces::empty_if_idle(&space.workspace, &space.activity, limit) {
                        tracing::info!(principal = %space.name, "emptied a workspace idle for MCP_WORKSPACE_IDLE_LIMIT");
                    }
                }
            })
            .await;
        }
    }
}

/// Whether a command of `cell` can open `file` for reading.
fn readable_by(sandbox: &Sandbox, cell: CellId, shell: &Path, file: &Path) -> bool {
    let spec = SpawnSpec {
        program: shell.to_path_buf(),
        args: vec!["-c".into(), ": < \"$1\"".into(), "probe".into(), file.as_os_str().to_owned()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        cwd: PathBuf::from("/"),
        stdin_pipe: false,
    };
    matches!(sandbox.run_blocking(cell, &spec), Ok(crate::sandbox::Exit::Code(0)))
}
