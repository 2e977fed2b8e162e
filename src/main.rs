//! mcp-commander: an MCP server that runs shell commands for AI agents
//! under policy.
//!
//! Entry point: parses the command line, resolves the configuration once,
//! sets up logging (stderr only: stdout belongs to the stdio transport), and
//! starts the HTTP server, the stdio transport or a subcommand.

mod config;
mod http;
mod logging;
mod mcp;
mod policy;
mod runner;
mod sandbox;
mod shutdown;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use config::cli::{Cli, Command};
use config::{Config, resolve};
use mcp::dispatch::Server;
use runner::{Runner, RunnerSettings};
use tools::ToolContext;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = &cli.command {
        return http::healthcheck::run(&cli.settings, url.as_deref());
    }
    let serving_http = !cli.stdio;
    let config = match resolve(&cli.settings, serving_http) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("mcp-commander: configuration error: {message}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log_level, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mcp-commander: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let server = build_server(config)?;
        if serving_http { http::serve(server).await } else { mcp::stdio::serve(server).await }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("mcp-commander: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Wires configuration, runner and tools into one MCP server.
fn build_server(config: Config) -> Result<Arc<Server>, String> {
    let scratch_dir = create_scratch_dir()?;
    let runner = Runner::new(RunnerSettings {
        shell: config.shell.clone(),
        shell_arg: config.shell_arg.clone(),
        max_output_bytes: config.max_output_bytes,
        kill_grace: config.kill_grace,
        base_env: runner::env::base_environment(&config.env_passthrough),
    });
    let context = ToolContext { config: Arc::new(config), runner, scratch_dir };
    Ok(Arc::new(Server::new(context)))
}

/// Creates the default working directory of commands, private to this
/// daemon (mode 0700), under the system temporary directory.
fn create_scratch_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("mcp-commander-{}", std::process::id()));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => Ok(dir),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(dir),
        Err(error) => Err(format!(
            "cannot create the scratch directory {}: {error} (set TMPDIR to a writable directory, e.g. a tmpfs)",
            dir.display()
        )),
    }
}
