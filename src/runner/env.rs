//! The environment a command sees: an allowlist of the daemon's variables
//! plus what the call asks for.
//!
//! The daemon's own environment holds its token (`MCP_AUTH_TOKEN`) and, on
//! ECS, the task's credentials endpoint; neither may reach a command. Only
//! the names below pass, plus names the operator lists explicitly.

use std::ffi::OsString;

/// Daemon variables that commands need to behave normally.
const BASE_NAMES: &[&str] = &["PATH", "HOME", "LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME"];

/// Used when the daemon itself has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the base environment once, at start, from the daemon's own.
pub(crate) fn base_environment(passthrough: &[String]) -> Vec<(OsString, OsString)> {
    base_from(std::env::vars_os(), passthrough)
}

fn base_from(vars: impl Iterator<Item = (OsString, OsString)>, passthrough: &[String]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = vars
        .filter(|(name, _)| {
            let Some(name) = name.to_str() else {
                return false;
            };
            if name.starts_with("MCP_") {
                return false;
            }
            BASE_NAMES.contains(&name) || name.starts_with("LC_") || passthrough.iter().any(|p| p == name)
        })
        .collect();
    if !env.iter().any(|(name, _)| name == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    env.sort();
    env
}

/// Most variables one call may set.
pub(crate) const MAX_VARS: usize = 256;
/// Longest name and value of a call's variable (the kernel refuses an
/// `execve` string over 128 KiB).
const MAX_NAME_BYTES: usize = 256;
const MAX_VALUE_BYTES: usize = 32 * 1024;

/// Checks a variable from a call; returns why it is unacceptable.
pub(crate) fn validate_request_var(name: &str, value: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("an env name is {} bytes long; names are limited to {MAX_NAME_BYTES}", name.len()));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "env value of '{name}' is {} bytes long; values are limited to {MAX_VALUE_BYTES}",
            value.len()
        ));
    }
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(format!(
            "env name '{name}' is not a valid variable name (it must be non-empty without '=' or NUL)"
        ));
    }
    if value.contains('\0') {
        return Err(format!("env value of '{name}' contains a NUL byte"));
    }
    Ok(())
}

/// Base environment overlaid with the call's variables (the call wins).
pub(crate) fn merge(base: &[(OsString, OsString)], request: &[(String, String)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> =
        base.iter().filter(|(name, _)| !request.iter().any(|(r, _)| name == r.as_str())).cloned().collect();
    env.extend(request.iter().map(|(k, v)| (k.into(), v.into())));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (OsString, OsString)> {
        pairs.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn only_allowlisted_daemon_variables_pass() {
        let env = base_from(
            vars(&[
                ("PATH", "/bin"),
                ("HOME", "/root"),
                ("LC_ALL", "C"),
                ("MCP_AUTH_TOKEN", "secret"),
                ("AWS_SECRET_ACCESS_KEY", "k"),
                ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"),
                ("SECRET", "s"),
            ]),
            &[],
        );
        let names: Vec<_> = env.iter().map(|(k, _)| k.to_str().unwrap()).collect();
        assert_eq!(names, ["HOME", "LC_ALL", "PATH"]);
    }

    #[test]
    fn operator_named_variables_pass() {
        let env = base_from(vars(&[("GOPATH", "/go"), ("OTHER", "x")]), &["GOPATH".into()]);
        assert!(env.iter().any(|(k, _)| k == "GOPATH"));
        assert!(!env.iter().any(|(k, _)| k == "OTHER"));
        assert!(env.iter().any(|(k, _)| k == "PATH"), "a default PATH is supplied");
    }

    #[test]
    fn request_variables_override_the_base() {
        let base = vec![("PATH".into(), "/bin".into()), ("HOME".into(), "/root".into())];
        let env = merge(&base, &[("HOME".into(), "/tmp".into()), ("FOO".into(), "1".into())]);
        assert!(env.contains(&("HOME".into(), "/tmp".into())));
        assert!(env.contains(&("FOO".into(), "1".into())));
        assert_eq!(env.len(), 3);
    }

    #[test]
    fn malformed_request_variables_are_refused() {
        assert!(validate_request_var("A=B", "x").is_err());
        assert!(validate_request_var("", "x").is_err());
        assert!(validate_request_var("A", "x\0y").is_err());
        assert!(validate_request_var("A", "ok").is_ok());
    }
}
