//! Who calls, and what each caller's commands may do: the named tokens of
//! `MCP_TOKENS_FILE` (or the single `MCP_AUTH_TOKEN`) with each one's
//! optional policy, the uid range principals' commands run under
//! (`MCP_COMMAND_UIDS`), the shared-uid opt-out (`MCP_SHARED_UID`) and the
//! workspaces' idle limit.
//!
//! A principal's policy only narrows the daemon's: its allowlist entries
//! must each be allowed by the daemon's, its writable roots lie beneath the
//! daemon's, its ports are among the daemon's. That is checked in
//! `principals::plan`, where the daemon's policy is compiled.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::cli::RawSettings;
use super::split_list;

/// The name of the one principal when no token is configured.
pub(crate) const ANONYMOUS: &str = "anonymous";
/// The name of the principal of the stdio transport and of `run`.
pub(crate) const LOCAL: &str = "stdio";

/// A named token: requests carrying it are recorded under `name`, and their
/// commands run in that principal's space.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) name: String,
    /// SHA-256 of the token.
    pub(crate) digest: [u8; 32],
    /// What this principal's commands may do, narrowing the daemon's.
    pub(crate) narrowing: Narrowing,
    /// A uid pinned in the tokens file instead of one drawn from the range.
    pub(crate) uid: Option<u32>,
}

/// A principal's own limits; `None`: the daemon's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Narrowing {
    pub(crate) allowed_commands: Option<Vec<String>>,
    pub(crate) writable_roots: Option<Vec<PathBuf>>,
    pub(crate) tcp_connect_ports: Option<Vec<u16>>,
    pub(crate) tcp_bind_ports: Option<Vec<u16>>,
    /// Where its commands may connect through the egress proxy.
    pub(crate) egress_allow: Option<Vec<String>>,
}

/// How principals' commands are kept apart.
#[derive(Debug, Clone)]
pub(crate) struct Separation {
    /// uids (and the same gids) for principals' commands, inclusive.
    pub(crate) uids: (u32, u32),
    /// Every principal's commands under one uid (`MCP_SHARED_UID`): the
    /// operator gave up separation by uid.
    pub(crate) shared_uid: bool,
    /// A workspace unused this long is emptied; `None`: kept for the
    /// daemon's lifetime.
    pub(crate) idle_limit: Option<Duration>,
}

pub(crate) fn separation(raw: &RawSettings) -> Result<Separation, String> {
    let field = raw.command_uids();
    let (name, text) = (field.label(), field.text_or_default().unwrap_or_default());
    let range = text.split_once('-').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    let uids = match range {
        Some((low, high)) if low > 0 && low <= high => (low, high),
        _ => {
            return Err(format!("invalid value '{text}' for {name}; expected a range such as 20000-20999, above 0"));
        }
    };
    let own = nix::unistd::geteuid().as_raw();
    if (uids.0..=uids.1).contains(&own) {
        return Err(format!("{name}: the range {}-{} holds the daemon's own uid {own}", uids.0, uids.1));
    }
    let idle_limit = raw.workspace_idle_limit().get()?;
    Ok(Separation { uids, shared_uid: raw.shared_uid().get()?, idle_limit })
}

/// The principals of `MCP_TOKENS_FILE`, or the single `MCP_AUTH_TOKEN`
/// under its fingerprint.
pub(crate) fn principals(raw: &RawSettings, auth_token: Option<&str>) -> Result<Vec<Principal>, String> {
    let Some(path) = raw.tokens_file.as_deref().map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(auth_token.map(single).into_iter().collect());
    };
    if auth_token.is_some() {
        return Err("set MCP_AUTH_TOKEN or MCP_TOKENS_FILE, not both".into());
    }
    let name = "--tokens-file / MCP_TOKENS_FILE";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name} {path}: {e}"))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| format!("{name} {path}: {e}"))?;
    let entries = table
        .get("principal")
        .and_then(|p| p.as_array())
        .ok_or_else(|| format!("{name} {path}: expected [[principal]] tables with name and token_sha256"))?;
    let mut principals = Vec::new();
    for entry in entries {
        let field = |key: &str| entry.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
        let (Some(principal), Some(digest)) = (field("name"), field("token_sha256")) else {
            return Err(format!("{name} {path}: every [[principal]] needs name and token_sha256"));
        };
        if [ANONYMOUS, LOCAL].contains(&principal) || principal.starts_with("token:") {
            return Err(format!("{name} {path}: the name '{principal}' is reserved"));
        }
        let digest: [u8; 32] = hex::decode(digest).ok().and_then(|d| d.try_into().ok()).ok_or_else(|| {
            format!("{name} {path}: token_sha256 of '{principal}' is not 64 hex digits (sha256sum of the token)")
        })?;
        if principals.iter().any(|p: &Principal| p.name == principal || p.digest == digest) {
            return Err(format!("{name} {path}: '{principal}' repeats a name or a token"));
        }
        let context = format!("{name} {path}, principal '{principal}'");
        let uid = match entry.get("uid") {
            None => None,
            Some(value) => Some(
                value
                    .as_integer()
                    .and_then(|u| u32::try_from(u).ok())
                    .filter(|u| *u > 0)
                    .ok_or_else(|| format!("{context}: uid must be a number above 0"))?,
            ),
        };
        let narrowing = narrowing(entry, &context)?;
        principals.push(Principal { name: principal.to_string(), digest, narrowing, uid });
    }
    if principals.is_empty() {
        return Err(format!("{name} {path}: no principal is defined"));
    }
    Ok(principals)
}

/// A principal's optional `allowed_commands`, `writable_roots`,
/// `tcp_connect_ports`, `tcp_bind_ports` and `egress_allow`.
fn narrowing(entry: &toml::Value, context: &str) -> Result<Narrowing, String> {
    let strings = |key: &str| -> Result<Option<Vec<String>>, String> {
        match entry.get(key) {
            None => Ok(None),
            Some(toml::Value::String(text)) => Ok(Some(split_list(Some(text)))),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(|s| s.trim().to_string())
                        .ok_or_else(|| format!("{context}: {key} holds a non-string"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("{context}: {key} must be a list of strings")),
        }
    };
    let ports = |key: &str| -> Result<Option<Vec<u16>>, String> {
        match entry.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_integer()
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or_else(|| format!("{context}: {key} holds '{item}', not a port number"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("{context}: {key} must be a list of port numbers")),
        }
    };
    let writable_roots = match strings("writable_roots")? {
        None => None,
        Some(paths) => Some(
            paths
                .iter()
                .map(|p| std::fs::canonicalize(p).map_err(|e| format!("{context}: writable root {p}: {e}")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Narrowing {
        allowed_commands: strings("allowed_commands")?,
        writable_roots,
        tcp_connect_ports: ports("tcp_connect_ports")?,
        tcp_bind_ports: ports("tcp_bind_ports")?,
        egress_allow: strings("egress_allow")?,
    })
}

/// The single token, named by the first 12 hex digits of its digest's
/// digest: stable, and useless to anyone who wants the token.
fn single(token: &str) -> Principal {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let fingerprint = hex::encode(Sha256::digest(digest));
    Principal { name: format!("token:{}", &fingerprint[..12]), digest, narrowing: Narrowing::default(), uid: None }
}
