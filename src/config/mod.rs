//! Configuration: raw settings (`cli`) resolved once into a validated
//! [`Config`] that the rest of the daemon trusts.
//!
//! Every check that can fail happens here, at start, with a message naming
//! the flag and the `MCP_*` variable and listing the accepted forms. After
//! `resolve` returns, nothing downstream re-validates configuration.

pub(crate) mod audit;
pub(crate) mod cli;
pub(crate) mod duration;
mod file;
pub(crate) mod limits;
pub(crate) mod principals;
pub(crate) mod sandbox;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use cli::RawSettings;
use duration::{DURATION_FORMS, parse_duration};

use crate::policy::Policy;

/// Level of the operational log (stderr). `Access` is `Info` plus one line
/// per HTTP request, as go-mcp-commander's `access` level was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Access,
    Debug,
}

/// Format of the operational log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The validated configuration. Invariant: every field holds a value that
/// was checked against its accepted forms; consumers never re-parse.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Socket address the HTTP server binds.
    pub(crate) listen: SocketAddr,
    /// Compiled allow and block rules.
    pub(crate) policy: Policy,
    /// Timeout of a call that names none; never above `max_timeout`.
    pub(crate) default_timeout: Duration,
    /// Largest timeout a call may request.
    pub(crate) max_timeout: Duration,
    /// Absolute path of the shell; it exists at start.
    pub(crate) shell: PathBuf,
    /// Argument placed between the shell and the command string.
    pub(crate) shell_arg: String,
    pub(crate) log_level: LogLevel,
    pub(crate) log_format: LogFormat,
    /// Host header values accepted besides the loopback names (lower-case,
    /// without port). `None` means every host is accepted.
    pub(crate) allowed_hosts: Option<Vec<String>>,
    /// Origin values accepted besides loopback origins (lower-case, no
    /// trailing slash). `None` means every origin is accepted.
    pub(crate) allowed_origins: Option<Vec<String>>,
    /// Whether the Host header is checked at all: always on a loopback
    /// listener, and on other listeners once hosts are configured.
    pub(crate) check_host: bool,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_output_bytes: usize,
    pub(crate) max_stdin_bytes: usize,
    pub(crate) max_line_bytes: usize,
    /// Silence on a progress stream before a keep-alive comment.
    pub(crate) sse_keepalive: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) kill_grace: Duration,
    /// Names of daemon variables passed to commands besides the built-in
    /// allowlist; never contains an `MCP_*` name.
    pub(crate) env_passthrough: Vec<String>,
    pub(crate) sandbox: sandbox::SandboxConfig,
    /// Limits of background commands; `None` when they are off.
    pub(crate) background: Option<crate::runner::JobLimits>,
    /// Audit outputs, key, redaction and back-pressure.
    pub(crate) audit: crate::audit::AuditSettings,
    /// The accepted tokens, by name; empty means no authentication.
    pub(crate) principals: Vec<principals::Principal>,
    /// Uids, the shared-uid opt-out and the workspaces' idle limit.
    pub(crate) separation: principals::Separation,
    /// The daemon's own files (tokens, HMAC key, audit log, configuration),
    /// canonical: no command may read them.
    pub(crate) daemon_files: Vec<PathBuf>,
    /// Where `/metrics` is served.
    pub(crate) metrics: audit::MetricsPlace,
    /// Concurrency, queue, connection, authentication-failure and JSON limits.
    pub(crate) limits: limits::Limits,
}

/// Resolves raw settings; `serving_http` enables the checks that only make
/// sense for a network listener.
pub(crate) fn resolve(raw: &RawSettings, serving_http: bool) -> Result<Config, String> {
    let mut raw = raw.clone();
    if let Some(path) = raw.config.clone() {
        file::apply(&mut raw, &path)?;
    }
    let raw = &raw;
    let host = raw.host.as_deref().unwrap_or("127.0.0.1");
    let ip = parse_host(host)?;
    let port =
        parse_number::<u16>(raw.port.as_deref(), 3000, "--port / MCP_PORT", "a TCP port number from 0 to 65535")?;
    let listen = SocketAddr::new(ip, port);

    let auth_token = raw.auth_token.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
    let allow_unauthenticated =
        parse_bool(raw.allow_unauthenticated.as_deref(), "--allow-unauthenticated / MCP_ALLOW_UNAUTHENTICATED")?;
    let principals = principals::principals(raw, auth_token.as_deref())?;
    let separation = principals::separation(raw)?;
    if serving_http && principals.is_empty() && !ip.is_loopback() && !allow_unauthenticated {
        return Err(format!(
            "refusing to listen on {listen} without authentication: set MCP_AUTH_TOKEN (or --auth-token), \
             listen on a loopback address with MCP_HOST=127.0.0.1, or pass --allow-unauthenticated \
             (MCP_ALLOW_UNAUTHENTICATED=true) if anyone who can reach this port may run commands"
        ));
    }

    let default_timeout = parse_timeout(
        raw.default_timeout.as_deref(),
        Duration::from_secs(30),
        "--default-timeout / MCP_DEFAULT_TIMEOUT",
    )?;
    let max_timeout =
        parse_timeout(raw.max_timeout.as_deref(), Duration::from_secs(600), "--max-timeout / MCP_MAX_TIMEOUT")?;
    if default_timeout > max_timeout {
        return Err(format!(
            "--default-timeout / MCP_DEFAULT_TIMEOUT ({}) is larger than --max-timeout / MCP_MAX_TIMEOUT ({}); raise MCP_MAX_TIMEOUT or lower MCP_DEFAULT_TIMEOUT",
            duration::format_go_duration(default_timeout),
            duration::format_go_duration(max_timeout)
        ));
    }

    let shell = PathBuf::from(raw.shell.as_deref().unwrap_or("/bin/sh"));
    if !shell.is_absolute() {
        return Err(format!("--shell / MCP_SHELL must be an absolute path, got '{}'", shell.display()));
    }
    if !shell.is_file() {
        return Err(format!("--shell / MCP_SHELL: '{}' does not exist or is not a file", shell.display()));
    }
    let shell_arg = raw.shell_arg.clone().unwrap_or_else(|| "-c".to_string());

    let log_level = parse_log_level(raw.log_level.as_deref())?;
    let log_format = match raw.log_format.as_deref().map(str::trim).map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(format!("invalid value '{other}' for --log-format / MCP_LOG_FORMAT; expected text or json"));
        }
    };

    let allowed_hosts = parse_name_list(raw.allowed_hosts.as_deref(), |h| h.trim_end_matches('.').to_string());
    let allowed_origins = parse_name_list(raw.allowed_origins.as_deref(), |o| o.trim_end_matches('/').to_string());
    let check_host = ip.is_loopback() || raw.allowed_hosts.as_deref().is_some_and(|h| !h.trim().is_empty());

    let max_body_bytes = parse_bytes(raw.max_body_bytes.as_deref(), 1 << 20, "--max-body-bytes / MCP_MAX_BODY_BYTES")?;
    let max_output_bytes =
        parse_bytes(raw.max_output_bytes.as_deref(), 1 << 20, "--max-output-bytes / MCP_MAX_OUTPUT_BYTES")?;
    let max_stdin_bytes =
        parse_bytes(raw.max_stdin_bytes.as_deref(), 1 << 20, "--max-stdin-bytes / MCP_MAX_STDIN_BYTES")?;
    let max_line_bytes =
        parse_bytes(raw.max_line_bytes.as_deref(), max_body_bytes, "--max-line-bytes / MCP_MAX_LINE_BYTES")?;

    let sse_keepalive =
        parse_timeout(raw.sse_keepalive.as_deref(), Duration::from_secs(15), "--sse-keepalive / MCP_SSE_KEEPALIVE")?;
    let header_timeout =
        parse_timeout(raw.header_timeout.as_deref(), Duration::from_secs(10), "--header-timeout / MCP_HEADER_TIMEOUT")?;
    let body_timeout =
        parse_timeout(raw.body_timeout.as_deref(), Duration::from_secs(30), "--body-timeout / MCP_BODY_TIMEOUT")?;
    let shutdown_grace =
        parse_timeout(raw.shutdown_grace.as_deref(), Duration::from_secs(10), "--shutdown-grace / MCP_SHUTDOWN_GRACE")?;
    let kill_grace = parse_timeout(raw.kill_grace.as_deref(), Duration::from_secs(1), "--kill-grace / MCP_KILL_GRACE")?;

    let env_passthrough = split_list(raw.env_passthrough.as_deref());
    if let Some(name) = env_passthrough.iter().find(|n| n.starts_with("MCP_")) {
        return Err(format!(
            "--env-passthrough / MCP_ENV_PASSTHROUGH names '{name}': the daemon's MCP_* variables never reach commands"
        ));
    }

    let max_command_bytes = parse_bytes(
        raw.max_command_bytes.as_deref(),
        crate::policy::DEFAULT_MAX_COMMAND_BYTES,
        "--max-command-bytes / MCP_MAX_COMMAND_BYTES",
    )?;
    let policy = Policy::new(
        &split_list(raw.allowed_commands.as_deref()),
        &split_list(raw.blocked_commands.as_deref()),
        max_command_bytes,
    )
    .map_err(|e| {
        format!("--allowed-commands / MCP_ALLOWED_COMMANDS or --blocked-commands / MCP_BLOCKED_COMMANDS: {e}")
    })?
    .for_shell(&shell);

    let audit = audit::audit_settings(raw, serving_http)?;
    let metrics = audit::metrics_place(raw, allow_unauthenticated)?;
    let daemon_files = [
        raw.tokens_file.as_deref(),
        raw.audit_hmac_key_file.as_deref(),
        raw.audit_file.as_deref(),
        raw.config.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|path| !path.is_empty())
    .filter_map(canonical_even_if_missing)
    .collect();

    Ok(Config {
        listen,
        audit,
        principals,
        separation,
        daemon_files,
        metrics,
        policy,
        default_timeout,
        max_timeout,
        shell,
        shell_arg,
        log_level,
        log_format,
        allowed_hosts,
        allowed_origins,
        check_host,
        max_body_bytes,
        max_output_bytes,
        max_stdin_bytes,
        max_line_bytes,
        sse_keepalive,
        header_timeout,
        body_timeout,
        shutdown_grace,
        kill_grace,
        env_passthrough,
        sandbox: sandbox::resolve(raw)?,
        background: background(raw)?,
        limits: limits::resolve(raw)?,
    })
}

fn background(raw: &RawSettings) -> Result<Option<crate::runner::JobLimits>, String> {
    if !parse_bool(raw.background_commands.as_deref(), "--background-commands / MCP_BACKGROUND_COMMANDS")? {
        return Ok(None);
    }
    let max_running = parse_number(
        raw.background_max_running.as_deref(),
        4usize,
        "--background-max-running / MCP_BACKGROUND_MAX_RUNNING",
        "a whole number",
    )?;
    Ok(Some(crate::runner::JobLimits {
        max_running,
        lifetime: parse_timeout(
            raw.background_lifetime.as_deref(),
            Duration::from_secs(3600),
            "--background-lifetime / MCP_BACKGROUND_LIFETIME",
        )?,
        buffer_bytes: parse_bytes(
            raw.background_buffer_bytes.as_deref(),
            1 << 20,
            "--background-buffer-bytes / MCP_BACKGROUND_BUFFER_BYTES",
        )?,
        retention: parse_timeout(
            raw.background_retention.as_deref(),
            Duration::from_secs(600),
            "--background-retention / MCP_BACKGROUND_RETENTION",
        )?,
    }))
}

/// Splits a comma-separated list, trimming entries and dropping empty ones.
/// The canonical path of `path`, through its parent when the file does not
/// exist yet (an audit file the daemon creates).
fn canonical_even_if_missing(path: &str) -> Option<PathBuf> {
    let path = std::path::Path::new(path);
    std::fs::canonicalize(path)
        .ok()
        .or_else(|| Some(std::fs::canonicalize(path.parent()?).ok()?.join(path.file_name()?)))
}

pub(crate) fn split_list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A list of names compared case-insensitively; `*` anywhere means "any".
fn parse_name_list(text: Option<&str>, normalize: impl Fn(&str) -> String) -> Option<Vec<String>> {
    let entries = split_list(text);
    if entries.iter().any(|e| e == "*") {
        return None;
    }
    Some(entries.iter().map(|e| normalize(&e.to_ascii_lowercase())).collect())
}

fn parse_host(host: &str) -> Result<IpAddr, String> {
    let trimmed = host.trim().trim_start_matches('[').trim_end_matches(']');
    if trimmed.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    trimmed.parse().map_err(|_| {
        format!("invalid value '{host}' for --host / MCP_HOST; expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1, or localhost")
    })
}

fn parse_number<T: std::str::FromStr>(text: Option<&str>, default: T, name: &str, forms: &str) -> Result<T, String> {
    match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some(value) => value.parse().map_err(|_| format!("invalid value '{value}' for {name}; expected {forms}")),
    }
}

fn parse_bool(text: Option<&str>, name: &str) -> Result<bool, String> {
    match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") | Some("no") | Some("off") => Ok(false),
        Some("true") | Some("1") | Some("yes") | Some("on") => Ok(true),
        Some(other) => Err(format!("invalid value '{other}' for {name}; expected true or false")),
    }
}

/// A positive duration with a default.
fn parse_timeout(text: Option<&str>, default: Duration, name: &str) -> Result<Duration, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    let value =
        parse_duration(text).map_err(|_| format!("invalid value '{text}' for {name}; expected {DURATION_FORMS}"))?;
    if value.is_zero() {
        return Err(format!("invalid value '{text}' for {name}; it must be greater than zero"));
    }
    Ok(value)
}

/// A byte count: a plain number, or one with a K/KiB/M/MiB/G/GiB suffix
/// (binary multiples either way).
fn parse_bytes(text: Option<&str>, default: usize, name: &str) -> Result<usize, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let multiplier: usize = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => usize::MAX,
    };
    let value =
        number.parse::<usize>().ok().filter(|_| multiplier != usize::MAX).and_then(|n| n.checked_mul(multiplier));
    match value {
        Some(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(format!(
            "invalid value '{text}' for {name}; expected a positive number of bytes such as 1048576, 512K or 1MiB"
        )),
    }
}

fn parse_log_level(text: Option<&str>) -> Result<LogLevel, String> {
    Ok(match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("info") => LogLevel::Info,
        Some("off") | Some("none") => LogLevel::Off,
        Some("error") => LogLevel::Error,
        Some("warn") | Some("warning") => LogLevel::Warn,
        Some("access") => LogLevel::Access,
        Some("debug") | Some("trace") => LogLevel::Debug,
        Some(other) => {
            return Err(format!(
                "invalid value '{other}' for --log-level / MCP_LOG_LEVEL; expected off, error, warn, info, access or debug"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings::default()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = resolve(&raw(), true).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.default_timeout, Duration::from_secs(30));
        assert_eq!(config.shell, PathBuf::from("/bin/sh"));
        assert_eq!(config.shell_arg, "-c");
        assert_eq!(config.max_body_bytes, 1 << 20);
        assert_eq!(config.log_level, LogLevel::Info);
        assert!(config.principals.is_empty());
    }

    #[test]
    fn bad_values_name_the_variable_and_the_accepted_forms() {
        let mut settings = raw();
        settings.default_timeout = Some("soon".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_DEFAULT_TIMEOUT") && error.contains("1m30s"), "{error}");

        let mut settings = raw();
        settings.port = Some("70000".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_PORT") && error.contains("65535"), "{error}");

        let mut settings = raw();
        settings.log_level = Some("verbose".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_LOG_LEVEL") && error.contains("access"), "{error}");

        let mut settings = raw();
        settings.max_body_bytes = Some("lots".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_MAX_BODY_BYTES") && error.contains("1MiB"), "{error}");
    }

    #[test]
    fn non_loopback_without_token_is_refused_unless_allowed() {
        let mut settings = raw();
        settings.host = Some("0.0.0.0".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_AUTH_TOKEN") && error.contains("--allow-unauthenticated"), "{error}");

        settings.allow_unauthenticated = Some("true".into());
        assert!(resolve(&settings, true).is_ok());

        settings.allow_unauthenticated = None;
        settings.auth_token = Some("secret".into());
        assert!(resolve(&settings, true).is_ok());
    }

    #[test]
    fn default_timeout_above_maximum_is_refused() {
        let mut settings = raw();
        settings.default_timeout = Some("20m".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_MAX_TIMEOUT"), "{error}");
    }

    #[test]
    fn byte_sizes_accept_suffixes() {
        assert_eq!(parse_bytes(Some("512K"), 1, "x"), Ok(512 << 10));
        assert_eq!(parse_bytes(Some("2MiB"), 1, "x"), Ok(2 << 20));
        assert_eq!(parse_bytes(Some("100"), 1, "x"), Ok(100));
        assert!(parse_bytes(Some("0"), 1, "x").is_err());
        assert!(parse_bytes(Some("1T"), 1, "x").is_err());
    }

    #[test]
    fn mcp_variables_cannot_be_passed_through() {
        let mut settings = raw();
        settings.env_passthrough = Some("GOPATH,MCP_AUTH_TOKEN".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_AUTH_TOKEN"), "{error}");
    }
}
