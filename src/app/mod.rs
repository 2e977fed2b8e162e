//! The program: parses the command line, resolves the configuration once,
//! sets up logging (stderr only: stdout belongs to the stdio transport),
//! hardens the process, and starts the HTTP server, the stdio transport or
//! a subcommand. `src/main.rs` only calls [`main_entry`]; the wiring of one
//! server from a configuration is [`wire`].

pub(crate) mod wire;

use std::process::ExitCode;

use clap::Parser;

use crate::config::cli::{Cli, Command};
use crate::config::resolve;
use crate::{audit, bench, config, doctor, http, logging, mcp, run_once, runner, sandbox, shutdown};
use wire::build_server;

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
            _ => Some(tokio::spawn(reap_orphans_forever(
                tools.runner.live_groups().clone(),
                tools.runner.sandbox().leader_is_namespace_init(),
            ))),
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
            _ if serving_http => http::serve(server.clone(), shutdown::signal()).await.map(|()| ExitCode::SUCCESS),
            _ => mcp::stdio::serve(server.clone(), shutdown::signal()).await.map(|()| ExitCode::SUCCESS),
        };
        if let Some(jobs) = &tools.jobs {
            jobs.kill_all();
        }
        reaper.inspect(|task| task.abort());
        sweeper.inspect(|task| task.abort());
        sandbox::remove_dir(tools.spaces.state_dir());
        // A served daemon's cancelled calls may still record themselves;
        // `run` and the benchmarks leave nothing behind.
        let serving =
            !matches!(cli.command, Some(Command::Run { .. } | Command::BenchSpawn { .. } | Command::BenchAudit { .. }));
        let settle = std::time::Duration::from_millis(if serving { 100 } else { 0 });
        tools.audit.flush(std::time::Duration::from_secs(2), settle);
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

/// Reaps re-parented orphans. Without PID namespaces, on every SIGCHLD.
/// With them, a command's orphans are reparented to its leader, the init of
/// its namespace, and die with it, so only processes from outside the
/// commands reach the daemon (it may be a container's PID 1): they are
/// reaped by a scan every [`ORPHAN_BACKSTOP`], and SIGCHLD is left at its
/// default, where the kernel discards it instead of interrupting a thread
/// at every command's end (an exec makes a child's exit signal SIGCHLD
/// whatever `clone` asked for).
async fn reap_orphans_forever(table: runner::ProcessTable, namespaced: bool) {
    if let Err(error) = sandbox::become_subreaper() {
        tracing::warn!(%error, "cannot become a child subreaper; orphans go to init");
    }
    if namespaced {
        let mut ticks = tokio::time::interval(ORPHAN_BACKSTOP);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            table.reap_orphans();
        }
    }
    let Ok(mut children) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()) else {
        tracing::error!("cannot watch SIGCHLD; orphans are not reaped");
        return;
    };
    while children.recv().await.is_some() {
        table.reap_orphans();
    }
}

/// How often orphans are looked for when PID namespaces hold the commands.
const ORPHAN_BACKSTOP: std::time::Duration = std::time::Duration::from_secs(1);
