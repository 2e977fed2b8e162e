//! The command line: the subcommands, `--stdio`, and the settings of
//! `settings.rs` flattened in ([`RawSettings`]), exactly as the operator
//! wrote them.
//!
//! clap applies the first precedence rule (a flag, then its `MCP_*`
//! variable) and nothing else; the file fills what is left unset and the
//! declared default what is still unset. Every value stays a string here
//! so that `config::resolve` can reject it with a message naming both the
//! flag and the variable and listing the accepted forms.

use clap::{Parser, Subcommand};

pub(crate) use super::settings::RawSettings;

/// Every option is also read from the environment variable named beside it;
/// a flag wins over its variable, and the variable wins over the default.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-commander",
    version,
    about = "MCP server that runs shell commands for AI agents under kernel-enforced policy",
    long_about = "MCP server that runs shell commands for AI agents.\n\n\
        With no subcommand it serves MCP over Streamable HTTP on MCP_HOST:MCP_PORT \
        (POST / and POST /mcp; GET /health needs no auth). With --stdio it serves MCP \
        over standard input and output, one JSON message per line.\n\n\
        Every option below can also be set by the environment variable shown beside \
        it; a flag wins over its variable, which wins over the default."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    /// Serve MCP over stdin/stdout (one JSON-RPC message per line) instead of HTTP.
    #[arg(long, env = "MCP_STDIO", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub(crate) stdio: bool,

    #[command(flatten)]
    pub(crate) settings: RawSettings,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check an audit log's hash chain (a file, a CloudWatch export, or `-` for stdin);
    /// prints OK or the first broken link and exits non-zero on a broken link. Uses
    /// MCP_AUDIT_HMAC_KEY / MCP_AUDIT_HMAC_KEY_FILE when the daemon did.
    Verify {
        /// The log to check.
        file: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve MCP over HTTP (the default when no subcommand is given).
    Serve,
    /// Print each sandbox layer as enforced, unavailable or disabled, then exit
    /// (non-zero if a required layer is missing).
    Doctor,
    /// Benchmark: per-spawn cost of `sh -c true` by fork+exec, by posix_spawn (the bare
    /// baseline) and by the fully sandboxed spawner, measured in the same run.
    BenchSpawn {
        /// Spawns per round and variant.
        #[arg(long, default_value_t = 3000)]
        count: usize,
        /// Threads spawning concurrently.
        #[arg(long, default_value_t = 8)]
        threads: usize,
    },
    /// Benchmark: the cost of one policy decision for a typical 200-byte command,
    /// against its 50 µs budget and against decoding the call's JSON in the same run.
    BenchPolicy {
        /// Decisions per round.
        #[arg(long, default_value_t = 20000)]
        iterations: usize,
    },
    /// Benchmark: execute_command throughput with the audit trail writing every record
    /// and with it off, in the same run, against a 5% budget.
    BenchAudit {
        /// Calls per round and variant.
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        /// Calls in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Run one command under the same sandbox and policy as the daemon, to try a
    /// configuration before deploying it. Prints its output; exits with its status.
    Run {
        /// Timeout of the command. [default: MCP_DEFAULT_TIMEOUT]
        #[arg(long)]
        timeout: Option<String>,
        /// The command and its arguments, joined with spaces into one shell command line.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Ask a running daemon's /health endpoint whether it is healthy (exit 0) or not (exit 1).
    Healthcheck {
        /// URL to query; default: http://MCP_HOST:MCP_PORT/health (0.0.0.0 is queried as 127.0.0.1).
        #[arg(long)]
        url: Option<String>,
    },
}
