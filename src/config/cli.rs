//! Raw command-line and environment settings, exactly as the operator wrote
//! them.
//!
//! clap applies the single precedence rule (flag, then `MCP_*` variable,
//! then default) and nothing else: every value stays a string here so that
//! `config::resolve` can reject it with a message naming both the flag and
//! the variable and listing the accepted forms.

use clap::{Args, Parser, Subcommand};

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

/// The settings shared by every mode, as unvalidated text.
#[derive(Debug, Clone, Args, Default)]
pub(crate) struct RawSettings {
    /// Address to listen on. [default: 127.0.0.1]
    #[arg(long, env = "MCP_HOST", value_name = "ADDR")]
    pub(crate) host: Option<String>,

    /// TCP port to listen on. [default: 3000]
    #[arg(long, env = "MCP_PORT", value_name = "PORT")]
    pub(crate) port: Option<String>,

    /// Token clients must send as `X-MCP-Auth-Token: T` or `Authorization: Bearer T`.
    /// Prefer the variable (a flag is visible in the process list). [default: unset = no auth]
    #[arg(long, env = "MCP_AUTH_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub(crate) auth_token: Option<String>,

    /// Allow listening on a non-loopback address without MCP_AUTH_TOKEN (anyone who can
    /// reach the port can then run commands).
    #[arg(long, env = "MCP_ALLOW_UNAUTHENTICATED", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(crate) allow_unauthenticated: Option<String>,

    /// Comma-separated programs allowed to run, optionally with leading arguments
    /// (`ls,cat,git status`). [default: empty = every program not blocked]
    #[arg(long, env = "MCP_ALLOWED_COMMANDS", value_name = "LIST")]
    pub(crate) allowed_commands: Option<String>,

    /// Comma-separated commands to refuse, added to the default blocklist
    /// (`rm -rf /`, `mkfs`, `shutdown`, ...).
    #[arg(long, env = "MCP_BLOCKED_COMMANDS", value_name = "LIST")]
    pub(crate) blocked_commands: Option<String>,

    /// Timeout of a command whose call gives none. Go duration (30s, 1m30s, 500ms) or seconds. [default: 30s]
    #[arg(long, env = "MCP_DEFAULT_TIMEOUT", value_name = "DURATION")]
    pub(crate) default_timeout: Option<String>,

    /// Largest timeout a call may ask for; larger requests are refused. [default: 10m]
    #[arg(long, env = "MCP_MAX_TIMEOUT", value_name = "DURATION")]
    pub(crate) max_timeout: Option<String>,

    /// Shell that runs each command. [default: /bin/sh]
    #[arg(long, env = "MCP_SHELL", value_name = "PATH")]
    pub(crate) shell: Option<String>,

    /// Argument that tells the shell to run the command string. [default: -c]
    #[arg(long, env = "MCP_SHELL_ARG", value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) shell_arg: Option<String>,

    /// Log level: off, error, warn, info, access (info plus one line per HTTP request), debug. [default: info]
    #[arg(long, env = "MCP_LOG_LEVEL", value_name = "LEVEL")]
    pub(crate) log_level: Option<String>,

    /// Log format on stderr: text or json. [default: text]
    #[arg(long, env = "MCP_LOG_FORMAT", value_name = "FORMAT")]
    pub(crate) log_format: Option<String>,

    /// Extra Host header values accepted besides the loopback names (comma-separated,
    /// e.g. an ALB hostname; `*` accepts any host). [default: localhost, 127.0.0.1, [::1]]
    #[arg(long, env = "MCP_ALLOWED_HOSTS", value_name = "LIST")]
    pub(crate) allowed_hosts: Option<String>,

    /// Extra Origin header values accepted besides loopback origins (comma-separated,
    /// e.g. https://tools.example.com; `*` accepts any). Requests without Origin are accepted.
    #[arg(long, env = "MCP_ALLOWED_ORIGINS", value_name = "LIST")]
    pub(crate) allowed_origins: Option<String>,

    /// Largest request body accepted, in bytes (larger: HTTP 413). [default: 1048576]
    #[arg(long, env = "MCP_MAX_BODY_BYTES", value_name = "BYTES")]
    pub(crate) max_body_bytes: Option<String>,

    /// Bytes of stdout and of stderr kept per command (the first 60% and the last 40%);
    /// the rest is drained, counted and dropped, and the result says `truncated`. [default: 1048576]
    #[arg(long, env = "MCP_MAX_OUTPUT_BYTES", value_name = "BYTES")]
    pub(crate) max_output_bytes: Option<String>,

    /// Largest `stdin` a call may feed to its command, in bytes. [default: 1048576]
    #[arg(long, env = "MCP_MAX_STDIN_BYTES", value_name = "BYTES")]
    pub(crate) max_stdin_bytes: Option<String>,

    /// Largest command string accepted, in bytes; longer ones are refused with a reason. [default: 65536]
    #[arg(long, env = "MCP_MAX_COMMAND_BYTES", value_name = "BYTES")]
    pub(crate) max_command_bytes: Option<String>,

    /// Longest silence on a progress (SSE) stream before a keep-alive comment. [default: 15s]
    #[arg(long, env = "MCP_SSE_KEEPALIVE", value_name = "DURATION")]
    pub(crate) sse_keepalive: Option<String>,

    /// Time a client has to send its request headers, also the keep-alive idle limit. [default: 10s]
    #[arg(long, env = "MCP_HEADER_TIMEOUT", value_name = "DURATION")]
    pub(crate) header_timeout: Option<String>,

    /// Time a client has to send its request body (slower: HTTP 408). [default: 30s]
    #[arg(long, env = "MCP_BODY_TIMEOUT", value_name = "DURATION")]
    pub(crate) body_timeout: Option<String>,

    /// On SIGTERM/SIGINT, time in-flight calls get to finish before their commands are killed. [default: 10s]
    #[arg(long, env = "MCP_SHUTDOWN_GRACE", value_name = "DURATION")]
    pub(crate) shutdown_grace: Option<String>,

    /// After a timeout, time between SIGTERM and SIGKILL to the command's process group. [default: 1s]
    #[arg(long, env = "MCP_KILL_GRACE", value_name = "DURATION")]
    pub(crate) kill_grace: Option<String>,

    /// Names of extra daemon environment variables passed to commands (comma-separated),
    /// besides PATH, HOME, LANG, LC_*, TERM, TZ, USER. MCP_* variables never pass.
    #[arg(long, env = "MCP_ENV_PASSTHROUGH", value_name = "LIST")]
    pub(crate) env_passthrough: Option<String>,

    /// Offer background commands (start_command, read_command_output, list_commands,
    /// kill_command). Jobs live in this daemon only: behind a load balancer use one task
    /// or sticky routing. [default: false]
    #[arg(long, env = "MCP_BACKGROUND_COMMANDS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(crate) background_commands: Option<String>,

    /// Background commands running at once. [default: 4]
    #[arg(long, env = "MCP_BACKGROUND_MAX_RUNNING", value_name = "COUNT")]
    pub(crate) background_max_running: Option<String>,

    /// Longest a background command may run before it is killed. [default: 1h]
    #[arg(long, env = "MCP_BACKGROUND_LIFETIME", value_name = "DURATION")]
    pub(crate) background_lifetime: Option<String>,

    /// Output kept per background command (the newest bytes). [default: 1048576]
    #[arg(long, env = "MCP_BACKGROUND_BUFFER_BYTES", value_name = "BYTES")]
    pub(crate) background_buffer_bytes: Option<String>,

    /// How long a finished background command stays readable. [default: 10m]
    #[arg(long, env = "MCP_BACKGROUND_RETENTION", value_name = "DURATION")]
    pub(crate) background_retention: Option<String>,

    /// Commands (execute_command calls) running at once; more wait in the queue. [default: 64]
    #[arg(long, env = "MCP_MAX_CONCURRENT_COMMANDS", value_name = "COUNT")]
    pub(crate) max_concurrent_commands: Option<String>,

    /// Calls that may wait for a command slot; beyond it a call is refused at once with
    /// "server busy" (HTTP 503 and Retry-After in protocol 2026-07-28). [default: 256]
    #[arg(long, env = "MCP_COMMAND_QUEUE", value_name = "COUNT")]
    pub(crate) command_queue: Option<String>,

    /// Longest a call waits in the queue before it is refused as busy. [default: 30s]
    #[arg(long, env = "MCP_QUEUE_TIMEOUT", value_name = "DURATION")]
    pub(crate) queue_timeout: Option<String>,

    /// Open HTTP connections; one more is answered 503 and closed. [default: 1024]
    #[arg(long, env = "MCP_MAX_CONNECTIONS", value_name = "COUNT")]
    pub(crate) max_connections: Option<String>,

    /// Failed authentications one client address may make per window before its requests
    /// get 429 until the window ends; 0 turns the limit off. [default: 20]
    #[arg(long, env = "MCP_AUTH_FAILURE_LIMIT", value_name = "COUNT")]
    pub(crate) auth_failure_limit: Option<String>,

    /// The window of MCP_AUTH_FAILURE_LIMIT. [default: 1m]
    #[arg(long, env = "MCP_AUTH_FAILURE_WINDOW", value_name = "DURATION")]
    pub(crate) auth_failure_window: Option<String>,

    /// Deepest nesting of arrays and objects accepted in a JSON-RPC message. [default: 32]
    #[arg(long, env = "MCP_MAX_JSON_DEPTH", value_name = "COUNT")]
    pub(crate) max_json_depth: Option<String>,

    /// Where audit records go: stdout, stderr or off. [default: stdout; stderr with --stdio]
    #[arg(long, env = "MCP_AUDIT", value_name = "STREAM")]
    pub(crate) audit: Option<String>,

    /// File audit records are also appended to (mode 0600).
    #[arg(long, env = "MCP_AUDIT_FILE", value_name = "FILE")]
    pub(crate) audit_file: Option<String>,

    /// Key for HMAC-SHA-256 audit hashes, so the chain cannot be rebuilt without it.
    /// Prefer MCP_AUDIT_HMAC_KEY_FILE (e.g. a mounted secret).
    #[arg(long, env = "MCP_AUDIT_HMAC_KEY", value_name = "KEY", hide_env_values = true)]
    pub(crate) audit_hmac_key: Option<String>,

    /// File holding the audit HMAC key.
    #[arg(long, env = "MCP_AUDIT_HMAC_KEY_FILE", value_name = "FILE")]
    pub(crate) audit_hmac_key_file: Option<String>,

    /// Regular expression whose matches are replaced by [REDACTED] in the command text
    /// of audit records and logs (e.g. `--password[= ]\S+|AKIA[0-9A-Z]{16}`).
    #[arg(long, env = "MCP_AUDIT_REDACT", value_name = "REGEX")]
    pub(crate) audit_redact: Option<String>,

    /// Audit records queued for writing before back-pressure applies. [default: 4096]
    #[arg(long, env = "MCP_AUDIT_BUFFER", value_name = "RECORDS")]
    pub(crate) audit_buffer: Option<String>,

    /// When the audit queue is full: `block` (wait up to MCP_AUDIT_BLOCK_TIMEOUT, then
    /// drop the record and count it) or `refuse` (refuse commands: no record, no command).
    /// [default: block]
    #[arg(long, env = "MCP_AUDIT_ON_FULL", value_name = "MODE")]
    pub(crate) audit_on_full: Option<String>,

    /// Longest wait for room in the audit queue in `block` mode. [default: 2s]
    #[arg(long, env = "MCP_AUDIT_BLOCK_TIMEOUT", value_name = "DURATION")]
    pub(crate) audit_block_timeout: Option<String>,

    /// Proxies (IPs or CIDR networks, comma list) whose X-Forwarded-For is recorded,
    /// e.g. the ALB's subnets.
    #[arg(long, env = "MCP_TRUSTED_PROXIES", value_name = "LIST")]
    pub(crate) trusted_proxies: Option<String>,

    /// TOML file of named tokens ([[principal]] name = "...", token_sha256 = "hex", and
    /// optionally allowed_commands, writable_roots, tcp_connect_ports, tcp_bind_ports and uid),
    /// so audit records say who ran what and each principal's commands run apart;
    /// replaces MCP_AUTH_TOKEN's single token.
    #[arg(long, env = "MCP_TOKENS_FILE", value_name = "FILE")]
    pub(crate) tokens_file: Option<String>,

    /// uids (and gids) principals' commands run under, one each, stable by name.
    /// [default: 20000-29999]
    #[arg(long, env = "MCP_COMMAND_UIDS", value_name = "LOW-HIGH")]
    pub(crate) command_uids: Option<String>,

    /// Run every principal's commands under one uid (MCP_RUN_AS as root, else the daemon's
    /// own): gives up keeping principals apart, and from the daemon, by uid. [default: false]
    #[arg(long, env = "MCP_SHARED_UID", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(crate) shared_uid: Option<String>,

    /// Empty a principal's workspace after this long without a call (`off`: keep it for
    /// the daemon's lifetime). [default: 24h]
    #[arg(long, env = "MCP_WORKSPACE_IDLE_LIMIT", value_name = "DURATION")]
    pub(crate) workspace_idle_limit: Option<String>,

    /// Where /metrics (Prometheus text) is served: `main` (the MCP listener, behind the
    /// token), an address such as 127.0.0.1:9464 (a listener of its own, no token), or
    /// `off`. [default: main]
    #[arg(long, env = "MCP_METRICS", value_name = "WHERE")]
    pub(crate) metrics: Option<String>,

    /// TOML file with any of these settings (keys are the long option names with
    /// underscores; sandbox settings may sit in a [sandbox] table). Flags and
    /// variables win over the file.
    #[arg(long, env = "MCP_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<String>,

    /// Sandbox layers whose absence stops the start (comma list of rlimits, no_new_privs,
    /// capabilities, user, landlock, seccomp, sockets, noexec, pid_namespace, private_proc).
    /// [default: landlock,seccomp,no_new_privs,rlimits,sockets,noexec]
    #[arg(long, env = "MCP_SANDBOX_REQUIRE", value_name = "LIST")]
    pub(crate) sandbox_require: Option<String>,

    /// Sandbox layers to switch off (same names). Never needed on a supported kernel.
    #[arg(long, env = "MCP_SANDBOX_DISABLE", value_name = "LIST")]
    pub(crate) sandbox_disable: Option<String>,

    /// Opt-in sandbox layers to switch on (comma list): private_proc (each command gets a
    /// mount namespace and a procfs of its own PID namespace), mdwe (no memory both writable
    /// and executable: computed machine code never runs; JIT compilers stop working).
    /// [default: none]
    #[arg(long, env = "MCP_SANDBOX_ENABLE", value_name = "LIST")]
    pub(crate) sandbox_enable: Option<String>,

    /// User (and group) commands run as when the daemon runs as root: name or uid,
    /// optionally `user:group`. [default: nobody:nogroup]
    #[arg(long, env = "MCP_RUN_AS", value_name = "USER[:GROUP]")]
    pub(crate) run_as: Option<String>,

    /// Paths commands may read (comma list). [default: /]
    #[arg(long, env = "MCP_READ_PATHS", value_name = "LIST")]
    pub(crate) read_paths: Option<String>,

    /// Directories commands may write beneath, besides the scratch directory (comma list).
    #[arg(long, env = "MCP_WRITABLE_ROOTS", value_name = "LIST")]
    pub(crate) writable_roots: Option<String>,

    /// Directories whose programs may be executed when no allowlist is set (comma list).
    /// With an allowlist, only the allowed programs may be executed.
    /// [default: /usr/local/sbin,/usr/local/bin,/usr/sbin,/usr/bin,/sbin,/bin]
    #[arg(long, env = "MCP_EXEC_DIRS", value_name = "LIST")]
    pub(crate) exec_dirs: Option<String>,

    /// TCP ports commands may connect to (comma list). [default: none]
    #[arg(long, env = "MCP_TCP_CONNECT_PORTS", value_name = "LIST")]
    pub(crate) tcp_connect_ports: Option<String>,

    /// TCP ports commands may bind (comma list). [default: none]
    #[arg(long, env = "MCP_TCP_BIND_PORTS", value_name = "LIST")]
    pub(crate) tcp_bind_ports: Option<String>,

    /// UNIX socket files commands may connect to outside their writable roots (comma
    /// list; a host service's socket allowed on purpose). [default: none]
    #[arg(long, env = "MCP_ALLOWED_SOCKETS", value_name = "LIST")]
    pub(crate) allowed_sockets: Option<String>,

    /// Allow commands to use UDP sockets. [default: false]
    #[arg(long, env = "MCP_ALLOW_UDP", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(crate) allow_udp: Option<String>,

    /// CPU seconds per command (RLIMIT_CPU). [default: 900]
    #[arg(long, env = "MCP_RLIMIT_CPU", value_name = "SECONDS")]
    pub(crate) rlimit_cpu: Option<String>,

    /// Address space per process (RLIMIT_AS). [default: 8G]
    #[arg(long, env = "MCP_RLIMIT_AS", value_name = "BYTES")]
    pub(crate) rlimit_as: Option<String>,

    /// Largest file a command may write (RLIMIT_FSIZE). [default: 1G]
    #[arg(long, env = "MCP_RLIMIT_FSIZE", value_name = "BYTES")]
    pub(crate) rlimit_fsize: Option<String>,

    /// Open files per process (RLIMIT_NOFILE). [default: 1024]
    #[arg(long, env = "MCP_RLIMIT_NOFILE", value_name = "COUNT")]
    pub(crate) rlimit_nofile: Option<String>,

    /// Processes of the command user (RLIMIT_NPROC). [default: 512]
    #[arg(long, env = "MCP_RLIMIT_NPROC", value_name = "COUNT")]
    pub(crate) rlimit_nproc: Option<String>,

    /// Longest stdio line accepted, in bytes (longer: a JSON-RPC error reply). [default: MCP_MAX_BODY_BYTES]
    #[arg(long, env = "MCP_MAX_LINE_BYTES", value_name = "BYTES")]
    pub(crate) max_line_bytes: Option<String>,
}
