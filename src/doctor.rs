//! `mcp-commander doctor`: what the sandbox enforces on this host, layer by
//! layer, with the Landlock ABI; exits non-zero when a required layer is
//! missing, so it can gate a deployment.

use std::process::ExitCode;

use crate::config::Config;
use crate::sandbox::{LayerState, Sandbox};

pub(crate) fn run(config: &Config) -> ExitCode {
    let state_dir = match crate::principals::workspaces::create_state_dir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("mcp-commander doctor: {error}");
            return ExitCode::FAILURE;
        }
    };
    let report = crate::principals::plan(config, &state_dir, None).and_then(|plan| {
        let mut settings = crate::app::wire::sandbox_settings(config, plan.cells, &state_dir);
        settings.require.clear();
        Sandbox::prepare(&settings, &config.shell).map_err(String::from)
    });
    crate::sandbox::remove_dir(&state_dir);
    let sandbox = match report {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("mcp-commander doctor: the sandbox cannot be prepared: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("mcp-commander {} sandbox on this host:", env!("CARGO_PKG_VERSION"));
    let mut missing = Vec::new();
    for (layer, state) in sandbox.layers() {
        let required = config.sandbox.require.contains(layer);
        let (word, detail) = match state {
            LayerState::Enforced(detail) => ("enforced", detail.as_str()),
            LayerState::Unavailable(reason) => ("unavailable", reason.as_str()),
            LayerState::Disabled => ("disabled", "switched off by MCP_SANDBOX_DISABLE"),
            LayerState::NotEnabled(reason) => ("off", reason.as_str()),
        };
        if required && !matches!(state, LayerState::Enforced(_)) {
            missing.push(layer.name());
        }
        let flag = if required { " (required)" } else { "" };
        println!("  {:<13} {:<11} {detail}{flag}", layer.name(), word);
    }
    println!("  process group enforced    new group per command, killed as a whole; PR_SET_PDEATHSIG");
    println!(
        "  cgroup        not used    no per-command cgroup; the group kill, the seccomp ban on setsid/setpgid \
         and the PID namespace bound the tree"
    );
    if missing.is_empty() {
        println!("all required layers are enforced");
        ExitCode::SUCCESS
    } else {
        println!("MISSING required layers: {} (the daemon would refuse to start)", missing.join(", "));
        ExitCode::FAILURE
    }
}
