//! Wiring: configuration, sandbox, runner, audit and tools into one MCP
//! server, and the sandbox settings every principal's cell shares.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::mcp::dispatch::Server;
use crate::runner::{self, Runner, RunnerSettings};
use crate::sandbox::{self, Sandbox, SandboxSettings, SeccompOptions};
use crate::tools::{self, ToolContext};
use crate::{audit, egress, metrics, principals};

/// Wires configuration, sandbox, runner and tools into one MCP server.
pub(super) fn build_server(config: Config) -> Result<Arc<Server>, String> {
    sandbox::protect_daemon()?;
    wire_server(config)
}

/// [`build_server`] without hardening the daemon process itself (the fuzz
/// targets keep their process debuggable).
pub(crate) fn wire_server(config: Config) -> Result<Arc<Server>, String> {
    let state_dir = principals::workspaces::create_state_dir()?;
    let built = wire(config, &state_dir);
    if built.is_err() {
        sandbox::remove_dir(&state_dir);
    }
    built
}

fn wire(config: Config, state_dir: &Path) -> Result<Arc<Server>, String> {
    let proxy = egress::bind(&config.egress)?;
    if proxy.is_some() && !config.sandbox.tcp_connect_ports.is_empty() {
        tracing::warn!(
            ports = ?config.sandbox.tcp_connect_ports,
            "egress: MCP_TCP_CONNECT_PORTS lets commands connect on those ports to any address, past the proxy"
        );
    }
    if proxy.is_some() && config.sandbox.allow_udp {
        tracing::warn!("egress: MCP_ALLOW_UDP lets commands send datagrams (DNS, QUIC) to any address, past the proxy");
    }
    let plan = principals::plan(&config, state_dir, proxy.as_ref().map(egress::Bound::port))?;
    let settings = sandbox_settings(&config, plan.cells.clone(), state_dir);
    let sandbox = Sandbox::prepare(&settings, &config.shell)?;
    for (layer, state) in sandbox.layers() {
        tracing::info!(layer = layer.name(), state = ?state, "sandbox layer");
    }
    let spaces = Arc::new(principals::Spaces::new(plan, &sandbox, &config.shell, state_dir)?);
    sandbox::release_free_memory();
    let runner = Runner::new(RunnerSettings {
        shell: config.shell.clone(),
        shell_arg: config.shell_arg.clone(),
        kill_grace: config.kill_grace,
        base_env: runner::env::base_environment(&config.env_passthrough),
        sandbox: Arc::new(sandbox),
    });
    let jobs = config.background.map(|limits| runner::JobTable::new(runner.clone(), limits));
    let audit = Arc::new(audit::Auditor::start(&config.audit)?);
    let layers = runner
        .sandbox()
        .layers()
        .iter()
        .map(|(layer, state)| (layer.name().to_string(), matches!(state, sandbox::LayerState::Enforced(_))))
        .collect();
    let metrics = Arc::new(metrics::Metrics::new(layers, audit.stats.clone()));
    let admission = Arc::new(tools::admission::Admission::new(&config.limits));
    let egress = match proxy {
        Some(bound) => Some(egress::Egress::start(bound, &config.egress, audit.clone(), metrics.clone())?),
        None => None,
    };
    let context = ToolContext { config: Arc::new(config), runner, spaces, jobs, audit, metrics, admission, egress };
    Ok(Arc::new(Server::new(context)))
}

/// The sandbox for every principal's cell: the layers and limits all share,
/// and the state directory (every workspace) with the writable roots as the
/// directories that must not hold running code.
pub(crate) fn sandbox_settings(
    config: &Config,
    cells: Vec<sandbox::CellSettings>,
    state_dir: &Path,
) -> SandboxSettings {
    let sandbox = &config.sandbox;
    let mut noexec = vec![state_dir.to_path_buf()];
    noexec.extend(cells.iter().flat_map(|cell| cell.landlock.writable_roots.iter().skip(1).cloned()));
    noexec.sort();
    noexec.dedup();
    SandboxSettings {
        require: sandbox.require.clone(),
        disable: sandbox.disable.clone(),
        enable: sandbox.enable.clone(),
        rlimits: sandbox.rlimits,
        seccomp: SeccompOptions { allow_udp: sandbox.allow_udp, no_shared_exec: false },
        noexec,
        cells,
    }
}
