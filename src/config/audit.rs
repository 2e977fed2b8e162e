//! Resolves the audit and metrics settings: where records go, the HMAC
//! key, redaction, back-pressure, trusted proxies and where `/metrics` is
//! served.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::cli::RawSettings;
use crate::audit::chain::Hasher;
use crate::audit::{AuditSettings, OnFull, Stream, parse_network};

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricsPlace {
    /// On the MCP listener, behind the guard.
    Main,
    /// On a listener of its own, without a token.
    Listen(SocketAddr),
    Off,
}

pub(crate) fn audit_settings(raw: &RawSettings, serving_http: bool) -> Result<AuditSettings, String> {
    let stream = match raw.audit.as_deref().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => {
            if serving_http {
                Stream::Stdout
            } else {
                Stream::Stderr
            }
        }
        Some("stdout") if !serving_http => {
            return Err(
                "--audit / MCP_AUDIT: stdout carries MCP messages with --stdio; use stderr, off or MCP_AUDIT_FILE"
                    .into(),
            );
        }
        Some("stdout") => Stream::Stdout,
        Some("stderr") => Stream::Stderr,
        Some("off") => Stream::Off,
        Some(other) => return Err(format!("--audit / MCP_AUDIT: '{other}' is not one of stdout, stderr, off")),
    };
    let file = raw.audit_file.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(PathBuf::from);
    let redact = match raw.audit_redact.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(pattern) => Some(
            regex::Regex::new(pattern)
                .map_err(|e| format!("--audit-redact / MCP_AUDIT_REDACT: not a regular expression: {e}"))?,
        ),
        None => None,
    };
    let capacity = raw.audit_buffer().get()?.max(1);
    let block_timeout = raw.audit_block_timeout().get()?;
    let on_full = match raw.audit_on_full().get()?.trim().to_ascii_lowercase().as_str() {
        "" | "block" => OnFull::Block,
        "refuse" => OnFull::Refuse,
        other => return Err(format!("--audit-on-full / MCP_AUDIT_ON_FULL: '{other}' is not block or refuse")),
    };
    let trusted_proxies = raw
        .trusted_proxies()
        .get()?
        .iter()
        .map(|text| parse_network(text).map_err(|e| format!("--trusted-proxies / MCP_TRUSTED_PROXIES: {e}")))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(AuditSettings { stream, file, hasher: hasher(raw)?, redact, capacity, on_full, block_timeout, trusted_proxies })
}

/// SHA-256, or HMAC-SHA-256 with the configured key.
pub(crate) fn hasher(raw: &RawSettings) -> Result<Hasher, String> {
    let key = match (raw.audit_hmac_key.as_deref(), raw.audit_hmac_key_file.as_deref()) {
        (Some(_), Some(_)) => {
            return Err("set MCP_AUDIT_HMAC_KEY or MCP_AUDIT_HMAC_KEY_FILE, not both".into());
        }
        (Some(key), None) => key.trim().as_bytes().to_vec(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("--audit-hmac-key-file / MCP_AUDIT_HMAC_KEY_FILE {path}: {e}"))?
            .trim()
            .as_bytes()
            .to_vec(),
        (None, None) => return Ok(Hasher::Sha256),
    };
    if key.len() < 16 {
        return Err("the audit HMAC key must be at least 16 bytes (MCP_AUDIT_HMAC_KEY / _FILE)".into());
    }
    Ok(Hasher::Hmac(key))
}

pub(crate) fn metrics_place(raw: &RawSettings, allow_unauthenticated: bool) -> Result<MetricsPlace, String> {
    match raw.metrics().get()?.trim() {
        "" | "main" => Ok(MetricsPlace::Main),
        "off" => Ok(MetricsPlace::Off),
        address => {
            let address: SocketAddr = address.parse().map_err(|_| {
                format!("--metrics / MCP_METRICS: '{address}' is not main, off or an address such as 127.0.0.1:9464")
            })?;
            if !address.ip().is_loopback() && !allow_unauthenticated {
                return Err(format!(
                    "--metrics / MCP_METRICS: the metrics listener {address} has no token; use a loopback address, \
                     MCP_METRICS=main (behind the token; Prometheus sends it as a bearer credential), or \
                     --allow-unauthenticated"
                ));
            }
            Ok(MetricsPlace::Listen(address))
        }
    }
}
