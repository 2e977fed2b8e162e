//! mcp-commander: an MCP server that runs shell commands for AI agents
//! under policy.
//!
//! The daemon is this library; `src/main.rs` only calls [`main_entry`],
//! which parses the command line, resolves the configuration once, sets up
//! logging (stderr only: stdout belongs to the stdio transport), and starts
//! the HTTP server, the stdio transport or a subcommand. Nothing else is
//! public but `fuzzing`, the entry points of the cargo-fuzz targets.
//!
//! `unsafe` is the compiler's to refuse everywhere but `sandbox`, where each
//! block carries a `// SAFETY:` reason.

#![deny(unsafe_code)]

mod audit;
mod bench;
mod config;
mod doctor;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod logging;
mod mcp;
mod metrics;
mod policy;
mod principals;
mod run_once;
mod runner;
#[allow(unsafe_code)]
mod sandbox;
mod shutdown;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use config::cli::{Cli, Command};
use config::{Config, resolve};
use mcp::dispatch::Server;
use runner::{Runner, RunnerSettings};
use sandbox::{Sandbox, SandboxSettings, SeccompOptions};
use tools::ToolContext;

/// The whole program: `src/main.rs` only calls this.
pub fn main_entry() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = &cli.command {
        return http::healthcheck::run(&cli.settings, url.as_deref());
    }
    let serving_http = !cli.stdio && cli.command.is_none() || matches!(cli.command, Some(Command::Serve));
    if let Some(Command::Audit { action: config::cli::AuditCommand::Verify { file } }) = &cli.command {
        return match config::audit::hasher(&cli.settings) {
            Ok(hasher) => audit::verify::run(file, &hasher),
            Err(message) => {
                eprintln!("mcp-commander audit verify: {message}");
                ExitCode::from(2)
            }
        };
    }
    let config = match resolve(&cli.settings, serving_http) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("mcp-commander: configuration error: {message}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log_level, config.log_format);
    // A token or key passed on the command line (or in the environment)
    // must not stay readable in /proc/<pid>/cmdline or environ.
    let secrets = [cli.settings.auth_token.as_deref(), cli.settings.audit_hmac_key.as_deref()];
    sandbox::scrub_secrets(&secrets.iter().flatten().map(|s| s.trim().as_bytes()).collect::<Vec<_>>());
    if !config.sandbox.disable.contains(&sandbox::Layer::Capabilities) {
        // Before any thread exists, so every thread and command inherits it.
        sandbox::empty_bounding_set();
    }
    // Also before any thread exists: a mount namespace belongs to the thread
    // that enters it. Only the daemon's own mounts (noexec writable roots,
    // per-command /proc) live there; the host's view is unchanged.
    sandbox::enter_private_namespace();
    if let Some(Command::Doctor) = &cli.command {
        return doctor::run(&config);
    }
    if let Some(Command::BenchPolicy { iterations }) = &cli.command {
        return bench::policy::run((*iterations).max(1));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mcp-commander: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let server = build_server(config)?;
        let tools = server.tools();
        // The benchmark reaps its own children, so it runs before the orphan reaper.
        let reaper = match &cli.command {
            Some(Command::BenchSpawn { .. }) => None,
            _ => Some(tokio::spawn(reap_orphans_forever(tools.runner.live_groups().clone()))),
        };
        let sweeper = tools
            .config
            .separation
            .idle_limit
            .map(|limit| tokio::spawn(tools.spaces.clone().empty_idle_workspaces(limit)));
        let outcome = match &cli.command {
            Some(Command::BenchSpawn { count, threads }) => {
                Ok(bench::spawn::run(tools.runner.sandbox(), &tools.config.shell, *count, *threads))
            }
            Some(Command::BenchAudit { calls, concurrency }) => {
                Ok(bench::audit::run(tools, *calls, *concurrency).await)
            }
            Some(Command::Run { timeout, command }) => {
                run_once::run(&server, timeout.as_deref(), &command.join(" ")).await
            }
            _ if serving_http => http::serve(server.clone()).await.map(|()| ExitCode::SUCCESS),
            _ => mcp::stdio::serve(server.clone()).await.map(|()| ExitCode::SUCCESS),
        };
        if let Some(jobs) = &tools.jobs {
            jobs.kill_all();
        }
        reaper.inspect(|task| task.abort());
        sweeper.inspect(|task| task.abort());
        sandbox::remove_dir(tools.spaces.state_dir());
        tools.audit.flush(std::time::Duration::from_secs(2));
        outcome
    });
    match result {
        Ok(code) => code,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("mcp-commander: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Wires configuration, sandbox, runner and tools into one MCP server.
fn build_server(config: Config) -> Result<Arc<Server>, String> {
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
    let plan = principals::plan(&config, state_dir)?;
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
    let context = ToolContext { config: Arc::new(config), runner, spaces, jobs, audit, metrics, admission };
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

/// Programs whose own helpers live in a directory of their own, relative
/// to the prefix the program is installed under (`/usr` for `/usr/bin/git`):
/// allowing the program allows them (git runs `git-remote-https`,
/// `git-difftool--helper` and the like from its exec path).
const HELPERS: &[(&str, &[&str])] = &[("git", &["lib/git-core", "libexec/git-core"])];

/// What the kernel lets `policy`'s commands execute: the shell and its
/// loader, and the allowed programs with theirs (the exec dirs when no
/// allowlist is set).
pub(crate) fn executables(config: &Config, policy: &policy::Policy) -> Result<Vec<PathBuf>, String> {
    let shell =
        std::fs::canonicalize(&config.shell).map_err(|e| format!("MCP_SHELL {}: {e}", config.shell.display()))?;
    let mut exec_paths = vec![shell.clone()];
    let programs = if policy.allow_all() { config.sandbox.exec_dirs.clone() } else { policy.allowed_programs() };
    for program in std::iter::once(&shell).chain(programs.iter()) {
        exec_paths.push(program.clone());
        exec_paths.extend(sandbox::landlock::elf_interpreter(program));
        let name = program.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let prefix = program.parent().and_then(Path::parent);
        for (_, dirs) in HELPERS.iter().filter(|(owner, _)| *owner == name) {
            let found = dirs.iter().filter_map(|dir| std::fs::canonicalize(prefix?.join(dir)).ok());
            exec_paths.extend(found);
        }
    }
    exec_paths.sort();
    exec_paths.dedup();
    for (binary, names) in policy.shared_binaries() {
        tracing::warn!(
            binary = %binary.display(),
            names = names.join(", "),
            "allowlist entries share one multi-call binary: the kernel lets every program it contains run"
        );
    }
    for program in &programs {
        if let Some(interpreter) = script_interpreter(program).filter(|i| !exec_paths.contains(i)) {
            tracing::warn!(
                program = %program.display(),
                interpreter = %interpreter.display(),
                "an allowed program is a #! script whose interpreter is not allowed: the kernel will refuse to run it"
            );
        }
    }
    Ok(exec_paths)
}

/// The real path of the interpreter named on a script's `#!` line.
fn script_interpreter(program: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let read = std::io::Read::read(&mut std::fs::File::open(program).ok()?, &mut head).ok()?;
    let line = head[..read].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let interpreter = std::str::from_utf8(line).ok()?.split_whitespace().next()?;
    std::fs::canonicalize(interpreter).ok()
}

/// Reaps re-parented orphans whenever a child exits.
async fn reap_orphans_forever(table: runner::ProcessTable) {
    if let Err(error) = sandbox::become_subreaper() {
        tracing::warn!(%error, "cannot become a child subreaper; orphans go to init");
    }
    let Ok(mut children) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()) else {
        tracing::error!("cannot watch SIGCHLD; orphans are not reaped");
        return;
    };
    while children.recv().await.is_some() {
        table.reap_orphans();
    }
}
