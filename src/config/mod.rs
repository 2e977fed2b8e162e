//! Configuration: raw settings (declared once each in `settings.rs`, read
//! by `cli` and `file`) resolved once into a validated [`Config`] that the
//! rest of the daemon trusts.
//!
//! Every check that can fail happens here, at start, with a message naming
//! the flag and the `MCP_*` variable and listing the accepted forms. After
//! `resolve` returns, nothing downstream re-validates configuration.

pub(crate) mod audit;
pub(crate) mod cli;
pub(crate) mod duration;
pub(crate) mod egress;
mod file;
pub(crate) mod kind;
pub(crate) mod limits;
mod parse;
pub(crate) mod principals;
pub(crate) mod resolved;
pub(crate) mod sandbox;
mod settings;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use cli::RawSettings;
use parse::{parse_bytes, split_list};
use resolved::resolved;

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

resolved! {
    /// The validated configuration. Invariant: every field holds a value that
    /// was checked against its accepted forms; consumers never re-parse.
    #[derive(Debug, Clone)]
    pub(crate) struct Config;
    /// Resolves the fields in this order, so the first bad setting in it is
    /// the one reported.
    pub(crate) fn resolve_fields(raw: &RawSettings, serving_http: bool);

    /// Socket address the HTTP server binds.
    listen: SocketAddr = SocketAddr::new(parse_host(&raw.host().get()?)?, raw.port().get()?);
    let auth_token = raw.auth_token().get()?;
    let allow_unauthenticated = raw.allow_unauthenticated().get()?;
    /// The accepted tokens, by name; empty means no authentication.
    principals: Vec<principals::Principal> = principals::principals(raw, auth_token.as_deref())?;
    /// Uids, the shared-uid opt-out and the workspaces' idle limit.
    separation: principals::Separation = principals::separation(raw)?;
    let () = refuse_open_listener(listen, &principals, serving_http && !allow_unauthenticated)?;
    /// Timeout of a call that names none; never above `max_timeout`.
    default_timeout: Duration = raw.default_timeout().get()?;
    /// Largest timeout a call may request.
    max_timeout: Duration = raw.max_timeout().get()?;
    let () = refuse_default_above_max(default_timeout, max_timeout)?;
    /// Absolute path of the shell; it exists at start.
    shell: PathBuf = parse_shell(raw.shell().get()?)?;
    /// Argument placed between the shell and the command string.
    shell_arg: String = raw.shell_arg().get()?;
    log_level: LogLevel = parse_log_level(Some(&raw.log_level().get()?))?;
    log_format: LogFormat = parse_log_format(&raw.log_format().get()?)?;
    /// Host header values accepted besides the loopback names (lower-case,
    /// without port). `None` means every host is accepted.
    allowed_hosts: Option<Vec<String>> =
        parse_name_list(raw.allowed_hosts.as_deref(), |h| h.trim_end_matches('.').to_string());
    /// Origin values accepted besides loopback origins (lower-case, no
    /// trailing slash). `None` means every origin is accepted.
    allowed_origins: Option<Vec<String>> =
        parse_name_list(raw.allowed_origins.as_deref(), |o| o.trim_end_matches('/').to_string());
    /// Whether the Host header is checked at all: always on a loopback
    /// listener, and on other listeners once hosts are configured.
    check_host: bool =
        listen.ip().is_loopback() || raw.allowed_hosts.as_deref().is_some_and(|h| !h.trim().is_empty());
    max_body_bytes: usize = raw.max_body_bytes().get()?;
    max_output_bytes: usize = raw.max_output_bytes().get()?;
    max_stdin_bytes: usize = raw.max_stdin_bytes().get()?;
    max_line_bytes: usize = {
        let field = raw.max_line_bytes();
        parse_bytes(field.text, max_body_bytes, &field.label())?
    };
    /// Silence on a progress stream before a keep-alive comment.
    sse_keepalive: Duration = raw.sse_keepalive().get()?;
    header_timeout: Duration = raw.header_timeout().get()?;
    body_timeout: Duration = raw.body_timeout().get()?;
    shutdown_grace: Duration = raw.shutdown_grace().get()?;
    kill_grace: Duration = raw.kill_grace().get()?;
    /// Names of daemon variables passed to commands besides the built-in
    /// allowlist; never contains an `MCP_*` name.
    env_passthrough: Vec<String> = parse_env_passthrough(raw.env_passthrough().get()?)?;
    /// Compiled allow and block rules.
    policy: Policy = Policy::new(
        &raw.allowed_commands().get()?,
        &raw.blocked_commands().get()?,
        raw.max_command_bytes().get()?,
    )
    .map_err(|e| {
        format!("--allowed-commands / MCP_ALLOWED_COMMANDS or --blocked-commands / MCP_BLOCKED_COMMANDS: {e}")
    })?
    .for_shell(&shell);
    /// Audit outputs, key, redaction and back-pressure.
    audit: crate::audit::AuditSettings = audit::audit_settings(raw, serving_http)?;
    /// Where `/metrics` is served.
    metrics: audit::MetricsPlace = audit::metrics_place(raw, allow_unauthenticated)?;
    /// The daemon's own files (tokens, HMAC key, audit log, configuration),
    /// canonical: no command may read them.
    daemon_files: Vec<PathBuf> = daemon_files(raw);
    sandbox: sandbox::SandboxConfig = sandbox::resolve(raw)?;
    /// Limits of background commands; `None` when they are off.
    background: Option<crate::runner::JobLimits> = background(raw)?;
    /// Concurrency, queue, connection, authentication-failure and JSON limits.
    limits: limits::Limits = limits::resolve(raw)?;
    /// The egress proxy: allowlist, port, limits.
    egress: egress::EgressConfig = egress::resolve(raw)?;
    let () = refuse_egress_without_broker(&egress, &sandbox)?;
}

/// The proxy is the only way out only while the socket broker checks
/// every connection's address: Landlock alone would let commands reach the
/// proxy's port on any host.
fn refuse_egress_without_broker(egress: &egress::EgressConfig, sandbox: &sandbox::SandboxConfig) -> Result<(), String> {
    if egress.enabled() && sandbox.disable.contains(&crate::sandbox::Layer::Sockets) {
        return Err("MCP_EGRESS_ALLOW needs the sockets layer (MCP_SANDBOX_DISABLE lists it): without the socket \
                    broker, commands could connect to the proxy's port on any address"
            .into());
    }
    Ok(())
}

/// Resolves raw settings, after filling what they leave unset from the
/// configuration file; `serving_http` enables the checks that only make
/// sense for a network listener.
pub(crate) fn resolve(raw: &RawSettings, serving_http: bool) -> Result<Config, String> {
    let mut raw = raw.clone();
    if let Some(path) = raw.config.clone() {
        file::apply(&mut raw, &path)?;
    }
    resolve_fields(&raw, serving_http)
}

/// Without a token, only a loopback listener serves unless the operator
/// said anyone may run commands (`open` is false then).
fn refuse_open_listener(listen: SocketAddr, principals: &[principals::Principal], open: bool) -> Result<(), String> {
    if open && principals.is_empty() && !listen.ip().is_loopback() {
        return Err(format!(
            "refusing to listen on {listen} without authentication: set MCP_AUTH_TOKEN (or --auth-token), \
             listen on a loopback address with MCP_HOST=127.0.0.1, or pass --allow-unauthenticated \
             (MCP_ALLOW_UNAUTHENTICATED=true) if anyone who can reach this port may run commands"
        ));
    }
    Ok(())
}

fn refuse_default_above_max(default_timeout: Duration, max_timeout: Duration) -> Result<(), String> {
    if default_timeout > max_timeout {
        return Err(format!(
            "--default-timeout / MCP_DEFAULT_TIMEOUT ({}) is larger than --max-timeout / MCP_MAX_TIMEOUT ({}); raise MCP_MAX_TIMEOUT or lower MCP_DEFAULT_TIMEOUT",
            duration::format_go_duration(default_timeout),
            duration::format_go_duration(max_timeout)
        ));
    }
    Ok(())
}

fn parse_shell(text: String) -> Result<PathBuf, String> {
    let shell = PathBuf::from(text);
    if !shell.is_absolute() {
        return Err(format!("--shell / MCP_SHELL must be an absolute path, got '{}'", shell.display()));
    }
    if !shell.is_file() {
        return Err(format!("--shell / MCP_SHELL: '{}' does not exist or is not a file", shell.display()));
    }
    Ok(shell)
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("invalid value '{other}' for --log-format / MCP_LOG_FORMAT; expected text or json")),
    }
}

fn parse_env_passthrough(names: Vec<String>) -> Result<Vec<String>, String> {
    if let Some(name) = names.iter().find(|n| n.starts_with("MCP_")) {
        return Err(format!(
            "--env-passthrough / MCP_ENV_PASSTHROUGH names '{name}': the daemon's MCP_* variables never reach commands"
        ));
    }
    Ok(names)
}

fn daemon_files(raw: &RawSettings) -> Vec<PathBuf> {
    [raw.tokens_file.as_deref(), raw.audit_hmac_key_file.as_deref(), raw.audit_file.as_deref(), raw.config.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .filter_map(canonical_even_if_missing)
        .collect()
}

fn background(raw: &RawSettings) -> Result<Option<crate::runner::JobLimits>, String> {
    if !raw.background_commands().get()? {
        return Ok(None);
    }
    Ok(Some(crate::runner::JobLimits {
        max_running: raw.background_max_running().get()?,
        lifetime: raw.background_lifetime().get()?,
        buffer_bytes: raw.background_buffer_bytes().get()?,
        retention: raw.background_retention().get()?,
    }))
}

/// The canonical path of `path`, through its parent when the file does not
/// exist yet (an audit file the daemon creates).
fn canonical_even_if_missing(path: &str) -> Option<PathBuf> {
    let path = std::path::Path::new(path);
    std::fs::canonicalize(path)
        .ok()
        .or_else(|| Some(std::fs::canonicalize(path.parent()?).ok()?.join(path.file_name()?)))
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
    fn mcp_variables_cannot_be_passed_through() {
        let mut settings = raw();
        settings.env_passthrough = Some("GOPATH,MCP_AUTH_TOKEN".into());
        let error = resolve(&settings, true).unwrap_err();
        assert!(error.contains("MCP_AUTH_TOKEN"), "{error}");
    }
}
