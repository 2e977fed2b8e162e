//! Every setting, declared once: its field (also the TOML key; the flag is
//! the field with dashes), its `MCP_*` variable, its value name and help,
//! its kind (how the text parses) and, when it is a plain value, its
//! default, which is what the help shows as `[default: ...]` and what an
//! unset or blank setting becomes. A default that depends on something
//! else (another setting, the host, the transport) is written in the help
//! instead, and resolved where the setting is.
//!
//! To add a setting: one entry here, then one resolved field in `Config`
//! (`mod.rs`) or in the struct of its area (`limits.rs`, `sandbox.rs`...),
//! computed with `raw.<name>().get()?`. The machinery is `kind.rs`.

use super::kind::{Bool, Bytes, List, Number, Positive, Secret, Text, Timeout, TimeoutOrOff, settings};

settings! {
    /// Address to listen on.
    host: Text { env: "MCP_HOST", value: "ADDR", default: "127.0.0.1" },

    /// TCP port to listen on.
    port: Number<u16> { env: "MCP_PORT", value: "PORT", default: "3000", forms: "a TCP port number from 0 to 65535" },

    /// Token clients must send as `X-MCP-Auth-Token: T` or `Authorization: Bearer T`.
    /// Prefer the variable (a flag is visible in the process list). [default: unset = no auth]
    auth_token: Secret { env: "MCP_AUTH_TOKEN", value: "TOKEN" },

    /// Allow listening on a non-loopback address without MCP_AUTH_TOKEN (anyone who can
    /// reach the port can then run commands).
    allow_unauthenticated: Bool { env: "MCP_ALLOW_UNAUTHENTICATED", value: "BOOL" },

    /// Comma-separated programs allowed to run, optionally with leading arguments
    /// (`ls,cat,git status`). [default: empty = every program not blocked]
    allowed_commands: List { env: "MCP_ALLOWED_COMMANDS", value: "LIST" },

    /// Comma-separated commands to refuse, added to the default blocklist
    /// (`rm -rf /`, `mkfs`, `shutdown`, ...).
    blocked_commands: List { env: "MCP_BLOCKED_COMMANDS", value: "LIST" },

    /// Timeout of a command whose call gives none. Go duration (30s, 1m30s, 500ms) or seconds.
    default_timeout: Timeout { env: "MCP_DEFAULT_TIMEOUT", value: "DURATION", default: "30s" },

    /// Largest timeout a call may ask for; larger requests are refused.
    max_timeout: Timeout { env: "MCP_MAX_TIMEOUT", value: "DURATION", default: "10m" },

    /// Shell that runs each command.
    shell: Text { env: "MCP_SHELL", value: "PATH", default: "/bin/sh" },

    /// Argument that tells the shell to run the command string.
    #[arg(allow_hyphen_values = true)]
    shell_arg: Text { env: "MCP_SHELL_ARG", value: "ARG", default: "-c" },

    /// Log level: off, error, warn, info, access (info plus one line per HTTP request), debug.
    log_level: Text { env: "MCP_LOG_LEVEL", value: "LEVEL", default: "info" },

    /// Log format on stderr: text or json.
    log_format: Text { env: "MCP_LOG_FORMAT", value: "FORMAT", default: "text" },

    /// Extra Host header values accepted besides the loopback names (comma-separated,
    /// e.g. an ALB hostname; `*` accepts any host). [default: localhost, 127.0.0.1, [::1]]
    allowed_hosts: Text { env: "MCP_ALLOWED_HOSTS", value: "LIST" },

    /// Extra Origin header values accepted besides loopback origins (comma-separated,
    /// e.g. https://tools.example.com; `*` accepts any). Requests without Origin are accepted.
    allowed_origins: Text { env: "MCP_ALLOWED_ORIGINS", value: "LIST" },

    /// Largest request body accepted, in bytes (larger: HTTP 413).
    max_body_bytes: Bytes { env: "MCP_MAX_BODY_BYTES", value: "BYTES", default: "1048576" },

    /// Bytes of stdout and of stderr kept per command (the first 60% and the last 40%);
    /// the rest is drained, counted and dropped, and the result says `truncated`.
    max_output_bytes: Bytes { env: "MCP_MAX_OUTPUT_BYTES", value: "BYTES", default: "1048576" },

    /// Largest `stdin` a call may feed to its command, in bytes.
    max_stdin_bytes: Bytes { env: "MCP_MAX_STDIN_BYTES", value: "BYTES", default: "1048576" },

    /// Largest command string accepted, in bytes; longer ones are refused with a reason.
    max_command_bytes: Bytes { env: "MCP_MAX_COMMAND_BYTES", value: "BYTES", default: "65536" },

    /// Longest silence on a progress (SSE) stream before a keep-alive comment.
    sse_keepalive: Timeout { env: "MCP_SSE_KEEPALIVE", value: "DURATION", default: "15s" },

    /// Time a client has to send its request headers, also the keep-alive idle limit.
    header_timeout: Timeout { env: "MCP_HEADER_TIMEOUT", value: "DURATION", default: "10s" },

    /// Time a client has to send its request body (slower: HTTP 408).
    body_timeout: Timeout { env: "MCP_BODY_TIMEOUT", value: "DURATION", default: "30s" },

    /// On SIGTERM/SIGINT, time in-flight calls get to finish before their commands are killed.
    shutdown_grace: Timeout { env: "MCP_SHUTDOWN_GRACE", value: "DURATION", default: "10s" },

    /// After a timeout, time between SIGTERM and SIGKILL to the command's process group.
    kill_grace: Timeout { env: "MCP_KILL_GRACE", value: "DURATION", default: "1s" },

    /// Names of extra daemon environment variables passed to commands (comma-separated),
    /// besides PATH, HOME, LANG, LC_*, TERM, TZ, USER. MCP_* variables never pass.
    env_passthrough: List { env: "MCP_ENV_PASSTHROUGH", value: "LIST" },

    /// Offer background commands (start_command, read_command_output, list_commands,
    /// kill_command). Jobs live in this daemon only: behind a load balancer use one task
    /// or sticky routing.
    background_commands: Bool { env: "MCP_BACKGROUND_COMMANDS", value: "BOOL", default: "false" },

    /// Background commands running at once.
    background_max_running: Number<usize> { env: "MCP_BACKGROUND_MAX_RUNNING", value: "COUNT", default: "4" },

    /// Longest a background command may run before it is killed.
    background_lifetime: Timeout { env: "MCP_BACKGROUND_LIFETIME", value: "DURATION", default: "1h" },

    /// Output kept per background command (the newest bytes).
    background_buffer_bytes: Bytes { env: "MCP_BACKGROUND_BUFFER_BYTES", value: "BYTES", default: "1048576" },

    /// How long a finished background command stays readable.
    background_retention: Timeout { env: "MCP_BACKGROUND_RETENTION", value: "DURATION", default: "10m" },

    /// Commands (execute_command calls) running at once; more wait in the queue.
    max_concurrent_commands: Positive { env: "MCP_MAX_CONCURRENT_COMMANDS", value: "COUNT", default: "64" },

    /// Calls that may wait for a command slot; beyond it a call is refused at once with
    /// "server busy" (HTTP 503 and Retry-After in protocol 2026-07-28).
    command_queue: Number<usize> {
        env: "MCP_COMMAND_QUEUE", value: "COUNT", default: "256", forms: "a whole number (0: no queue)",
    },

    /// Longest a call waits in the queue before it is refused as busy.
    queue_timeout: Timeout { env: "MCP_QUEUE_TIMEOUT", value: "DURATION", default: "30s" },

    /// Open HTTP connections; one more is answered 503 and closed.
    max_connections: Positive { env: "MCP_MAX_CONNECTIONS", value: "COUNT", default: "1024" },

    /// Failed authentications one client address may make per window before its requests
    /// get 429 until the window ends; 0 turns the limit off.
    auth_failure_limit: Number<u32> {
        env: "MCP_AUTH_FAILURE_LIMIT", value: "COUNT", default: "20", forms: "a whole number (0: no limit)",
    },

    /// The window of MCP_AUTH_FAILURE_LIMIT.
    auth_failure_window: Timeout { env: "MCP_AUTH_FAILURE_WINDOW", value: "DURATION", default: "1m" },

    /// Deepest nesting of arrays and objects accepted in a JSON-RPC message.
    max_json_depth: Positive { env: "MCP_MAX_JSON_DEPTH", value: "COUNT", default: "32" },

    /// Where audit records go: stdout, stderr or off. [default: stdout; stderr with --stdio]
    audit: Text { env: "MCP_AUDIT", value: "STREAM" },

    /// File audit records are also appended to (mode 0600).
    audit_file: Text { env: "MCP_AUDIT_FILE", value: "FILE" },

    /// Key for HMAC-SHA-256 audit hashes, so the chain cannot be rebuilt without it.
    /// Prefer MCP_AUDIT_HMAC_KEY_FILE (e.g. a mounted secret).
    audit_hmac_key: Secret { env: "MCP_AUDIT_HMAC_KEY", value: "KEY" },

    /// File holding the audit HMAC key.
    audit_hmac_key_file: Text { env: "MCP_AUDIT_HMAC_KEY_FILE", value: "FILE" },

    /// Regular expression whose matches are replaced by [REDACTED] in the command text
    /// of audit records and logs (e.g. `--password[= ]\S+|AKIA[0-9A-Z]{16}`).
    audit_redact: Text { env: "MCP_AUDIT_REDACT", value: "REGEX" },

    /// Audit records queued for writing before back-pressure applies.
    audit_buffer: Number<usize> {
        env: "MCP_AUDIT_BUFFER", value: "RECORDS", default: "4096", forms: "a number of records from 1 upwards",
    },

    /// When the audit queue is full: `block` (wait up to MCP_AUDIT_BLOCK_TIMEOUT, then
    /// drop the record and count it) or `refuse` (refuse commands: no record, no command).
    audit_on_full: Text { env: "MCP_AUDIT_ON_FULL", value: "MODE", default: "block" },

    /// Longest wait for room in the audit queue in `block` mode.
    audit_block_timeout: Timeout { env: "MCP_AUDIT_BLOCK_TIMEOUT", value: "DURATION", default: "2s" },

    /// Proxies (IPs or CIDR networks, comma list) whose X-Forwarded-For is recorded,
    /// e.g. the ALB's subnets.
    trusted_proxies: List { env: "MCP_TRUSTED_PROXIES", value: "LIST" },

    /// TOML file of named tokens ([[principal]] name = "...", token_sha256 = "hex", and
    /// optionally allowed_commands, writable_roots, tcp_connect_ports, tcp_bind_ports and uid),
    /// so audit records say who ran what and each principal's commands run apart;
    /// replaces MCP_AUTH_TOKEN's single token.
    tokens_file: Text { env: "MCP_TOKENS_FILE", value: "FILE" },

    /// uids (and gids) principals' commands run under, one each, stable by name.
    command_uids: Text { env: "MCP_COMMAND_UIDS", value: "LOW-HIGH", default: "20000-29999" },

    /// Run every principal's commands under one uid (MCP_RUN_AS as root, else the daemon's
    /// own): gives up keeping principals apart, and from the daemon, by uid.
    shared_uid: Bool { env: "MCP_SHARED_UID", value: "BOOL", default: "false" },

    /// Empty a principal's workspace after this long without a call (`off`: keep it for
    /// the daemon's lifetime).
    workspace_idle_limit: TimeoutOrOff { env: "MCP_WORKSPACE_IDLE_LIMIT", value: "DURATION", default: "24h" },

    /// Where /metrics (Prometheus text) is served: `main` (the MCP listener, behind the
    /// token), an address such as 127.0.0.1:9464 (a listener of its own, no token), or
    /// `off`.
    metrics: Text { env: "MCP_METRICS", value: "WHERE", default: "main" },

    /// TOML file with any of these settings (keys are the long option names with
    /// underscores; sandbox settings may sit in a [sandbox] table). Flags and
    /// variables win over the file.
    config: Text { env: "MCP_CONFIG", value: "FILE", file: false },

    /// Sandbox layers whose absence stops the start (comma list of rlimits, no_new_privs,
    /// capabilities, user, landlock, seccomp, sockets, noexec, pid_namespace, private_proc).
    /// [default: landlock,seccomp,no_new_privs,rlimits,sockets,noexec]
    sandbox_require: Text { env: "MCP_SANDBOX_REQUIRE", value: "LIST" },

    /// Sandbox layers to switch off (same names). Never needed on a supported kernel.
    sandbox_disable: Text { env: "MCP_SANDBOX_DISABLE", value: "LIST" },

    /// Opt-in sandbox layers to switch on (comma list): private_proc (each command gets a
    /// mount namespace and a procfs of its own PID namespace), mdwe (no memory both writable
    /// and executable: computed machine code never runs; JIT compilers stop working).
    /// [default: none]
    sandbox_enable: Text { env: "MCP_SANDBOX_ENABLE", value: "LIST" },

    /// User (and group) commands run as when the daemon runs as root: name or uid,
    /// optionally `user:group`. [default: nobody:nogroup]
    run_as: Text { env: "MCP_RUN_AS", value: "USER[:GROUP]" },

    /// Paths commands may read (comma list). [default: /]
    read_paths: Text { env: "MCP_READ_PATHS", value: "LIST" },

    /// Directories commands may write beneath, besides the scratch directory (comma list).
    writable_roots: Text { env: "MCP_WRITABLE_ROOTS", value: "LIST" },

    /// Directories whose programs may be executed when no allowlist is set (comma list).
    /// With an allowlist, only the allowed programs may be executed.
    /// [default: /usr/local/sbin,/usr/local/bin,/usr/sbin,/usr/bin,/sbin,/bin]
    exec_dirs: Text { env: "MCP_EXEC_DIRS", value: "LIST" },

    /// TCP ports commands may connect to (comma list). [default: none]
    tcp_connect_ports: Text { env: "MCP_TCP_CONNECT_PORTS", value: "LIST" },

    /// TCP ports commands may bind (comma list). [default: none]
    tcp_bind_ports: Text { env: "MCP_TCP_BIND_PORTS", value: "LIST" },

    /// UNIX socket files commands may connect to outside their writable roots (comma
    /// list; a host service's socket allowed on purpose). [default: none]
    allowed_sockets: Text { env: "MCP_ALLOWED_SOCKETS", value: "LIST" },

    /// Allow commands to use UDP sockets.
    allow_udp: Bool { env: "MCP_ALLOW_UDP", value: "BOOL", default: "false" },

    /// Where commands may connect through the daemon's egress proxy (comma list): host
    /// names, `*.` suffixes and address ranges, each with an optional port (443 unless
    /// written; `*` any), e.g. `github.com,*.githubusercontent.com,pypi.org`. Commands get
    /// HTTPS_PROXY and friends; names resolving into loopback, link-local, private, CGNAT or
    /// multicast ranges are refused unless such a range is listed. [default: empty = no egress]
    egress_allow: List { env: "MCP_EGRESS_ALLOW", value: "LIST" },

    /// The egress proxy's port on 127.0.0.1 (0: one the kernel picks at start).
    egress_port: Number<u16> { env: "MCP_EGRESS_PORT", value: "PORT", default: "0", forms: "a TCP port number from 0 to 65535" },

    /// Proxy connections one call's commands may hold open at once.
    egress_max_connections_per_call: Positive { env: "MCP_EGRESS_MAX_CONNECTIONS_PER_CALL", value: "COUNT", default: "32" },

    /// Proxy connections one principal's commands may hold open at once.
    egress_max_connections_per_principal: Positive { env: "MCP_EGRESS_MAX_CONNECTIONS_PER_PRINCIPAL", value: "COUNT", default: "128" },

    /// A proxy connection with no byte either way for this long is closed.
    egress_idle_timeout: Timeout { env: "MCP_EGRESS_IDLE_TIMEOUT", value: "DURATION", default: "60s" },

    /// Bytes one call's commands may move through the proxy, both ways, over all its
    /// connections; the connection that passes it is closed.
    egress_max_bytes_per_call: Bytes { env: "MCP_EGRESS_MAX_BYTES_PER_CALL", value: "BYTES", default: "1G" },

    /// Test only: a name map file used instead of the system resolver.
    #[arg(hide = true)]
    egress_test_hosts: Text { env: "MCP_EGRESS_TEST_HOSTS", value: "PATH" },

    /// CPU seconds per command (RLIMIT_CPU).
    rlimit_cpu: Number<u64> { env: "MCP_RLIMIT_CPU", value: "SECONDS", default: "900" },

    /// Address space per process (RLIMIT_AS).
    rlimit_as: Bytes { env: "MCP_RLIMIT_AS", value: "BYTES", default: "8G" },

    /// Largest file a command may write (RLIMIT_FSIZE).
    rlimit_fsize: Bytes { env: "MCP_RLIMIT_FSIZE", value: "BYTES", default: "1G" },

    /// Open files per process (RLIMIT_NOFILE).
    rlimit_nofile: Number<u64> { env: "MCP_RLIMIT_NOFILE", value: "COUNT", default: "1024" },

    /// Processes of the command user (RLIMIT_NPROC).
    rlimit_nproc: Number<u64> { env: "MCP_RLIMIT_NPROC", value: "COUNT", default: "512" },

    /// Longest stdio line accepted, in bytes (longer: a JSON-RPC error reply). [default: MCP_MAX_BODY_BYTES]
    max_line_bytes: Bytes { env: "MCP_MAX_LINE_BYTES", value: "BYTES" },
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::CommandFactory;

    use super::{RawSettings, SETTINGS};
    use crate::config::cli::Cli;
    use crate::config::limits::Limits;

    #[test]
    fn every_variable_is_mcp_and_the_field_name() {
        for spec in SETTINGS {
            assert_eq!(spec.env, format!("MCP_{}", spec.name.to_ascii_uppercase()));
        }
    }

    #[test]
    fn the_help_ends_in_the_declared_default() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("TCP port to listen on. [default: 3000]"), "{help}");
        assert!(help.contains("Shell that runs each command. [default: /bin/sh]"), "{help}");
        assert!(help.contains("Allow commands to use UDP sockets. [default: false]"), "{help}");
        assert!(help.contains("[env: MCP_AUTH_TOKEN]\n"), "secrets hide their value: {help}");
    }

    #[test]
    fn declared_defaults_are_the_values_other_modules_assume() {
        let raw = RawSettings::default();
        assert_eq!(raw.max_command_bytes().get(), Ok(crate::policy::DEFAULT_MAX_COMMAND_BYTES));
        let config = crate::config::resolve(&raw, true).unwrap();
        assert_eq!(config.sandbox.rlimits, crate::sandbox::Rlimits::default());
        let limits = Limits {
            max_commands: 64,
            command_queue: 256,
            queue_timeout: Duration::from_secs(30),
            max_connections: 1024,
            auth_failure_limit: 20,
            auth_failure_window: Duration::from_secs(60),
            max_json_depth: 32,
        };
        assert_eq!(config.limits, limits);
        assert_eq!(Limits::default(), limits);
        assert_eq!(config.separation.uids, (20000, 29999));
        assert_eq!(config.separation.idle_limit, Some(Duration::from_secs(24 * 3600)));
        assert_eq!(config.max_timeout, Duration::from_secs(600));
        assert!(config.background.is_none());

        let raw = RawSettings { background_commands: Some("yes".into()), ..RawSettings::default() };
        let jobs = crate::config::resolve(&raw, true).unwrap().background.unwrap();
        assert_eq!((jobs.max_running, jobs.buffer_bytes), (4, 1 << 20));
        assert_eq!((jobs.lifetime, jobs.retention), (Duration::from_secs(3600), Duration::from_secs(600)));
    }

    #[test]
    fn blank_settings_take_their_default_and_bad_ones_name_flag_and_variable() {
        let raw = RawSettings {
            port: Some(" ".into()),
            workspace_idle_limit: Some("off".into()),
            max_json_depth: Some("0".into()),
            ..RawSettings::default()
        };
        assert_eq!(raw.port().get(), Ok(3000));
        assert_eq!(raw.workspace_idle_limit().get(), Ok(None));
        assert_eq!(
            raw.max_json_depth().get(),
            Err("invalid value '0' for --max-json-depth / MCP_MAX_JSON_DEPTH; expected a whole number of at least 1"
                .to_string())
        );
        assert!(raw.max_line_bytes().get().unwrap_err().contains("declares no default"));
    }
}
