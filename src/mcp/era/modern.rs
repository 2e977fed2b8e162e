//! The checks of the 2026-07-28 revision before a request is dispatched:
//! its standard HTTP headers against the body, the `_meta` keys it
//! requires, and the revision it names.

use base64::Engine;
use serde_json::{Value, json};

use super::{Era, META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION, meta_str, supported_versions};
use crate::mcp::jsonrpc::{INVALID_PARAMS, RpcError};

/// A standard header disagrees with the body, or is missing.
pub(crate) const HEADER_MISMATCH: i64 = -32020;
/// The requested revision is not served.
pub(crate) const UNSUPPORTED_VERSION: i64 = -32022;

/// The standard request headers of the 2026-07-28 HTTP transport, as sent.
/// On stdio there are none and `present` is false.
#[derive(Debug, Default, Clone)]
pub(crate) struct StandardHeaders {
    pub(crate) present: bool,
    pub(crate) protocol_version: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) name: Option<String>,
    /// Who sent the request: not a header, but set by the transport and
    /// carried with them to every handler, for the audit trail.
    pub(crate) caller: crate::audit::Caller,
}

/// The checks a 2026-07-28 request must pass before dispatch: a version header
/// naming no served revision is refused first (so a client of an unknown
/// revision learns the supported list), then standard headers against the
/// body, required `_meta` keys, and the header against `_meta`.
pub(super) fn check(headers: &StandardHeaders, method: &str, params: &Value) -> Result<(), RpcError> {
    if let Some(version) = headers.protocol_version.as_deref().filter(|v| !Era::Modern.serves(v)) {
        return Err(unsupported(version));
    }
    if headers.present {
        check_standard_headers(headers, method, params)?;
    }
    let missing: Vec<&str> = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES]
        .into_iter()
        .filter(|key| params.get("_meta").and_then(|m| m.get(*key)).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(RpcError::new(
            INVALID_PARAMS,
            format!("Invalid params: missing _meta keys: {}", missing.join(", ")),
        ));
    }
    let meta_version = meta_str(params, META_PROTOCOL_VERSION).unwrap_or_default();
    let requested = match &headers.protocol_version {
        Some(header) if header != meta_version => {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                format!("MCP-Protocol-Version header '{header}' does not match _meta protocolVersion '{meta_version}'"),
            ));
        }
        Some(header) => header.as_str(),
        None if headers.present => {
            return Err(RpcError::new(HEADER_MISMATCH, "Missing MCP-Protocol-Version header"));
        }
        None => meta_version,
    };
    if !Era::Modern.serves(requested) {
        return Err(unsupported(requested));
    }
    Ok(())
}

fn unsupported(requested: &str) -> RpcError {
    let supported = supported_versions();
    RpcError {
        code: UNSUPPORTED_VERSION,
        message: format!("Unsupported protocol version '{requested}'; supported: {}", supported.join(", ")),
        data: Some(json!({ "supported": supported, "requested": requested })),
    }
}

/// `Mcp-Method` must equal the body's method; `Mcp-Name` must equal the
/// tool name, prompt name or resource URI where the method has one.
fn check_standard_headers(headers: &StandardHeaders, method: &str, params: &Value) -> Result<(), RpcError> {
    match headers.method.as_deref().map(trim_ows) {
        None => {
            return Err(RpcError::new(HEADER_MISMATCH, "Missing Mcp-Method header"));
        }
        Some(value) if decode_header_value(value).as_deref() != Some(method) => {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                format!("Mcp-Method header '{value}' does not match the request method '{method}'"),
            ));
        }
        Some(_) => {}
    }
    let body_name = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" => params.get("uri"),
        _ => return Ok(()),
    };
    let body_name = body_name.and_then(Value::as_str).unwrap_or_default();
    match headers.name.as_deref().map(trim_ows) {
        None => Err(RpcError::new(HEADER_MISMATCH, format!("Missing Mcp-Name header for {method}"))),
        Some(value) if decode_header_value(value).as_deref() != Some(body_name) => Err(RpcError::new(
            HEADER_MISMATCH,
            format!("Mcp-Name header '{value}' does not match '{body_name}' in the request body"),
        )),
        Some(_) => Ok(()),
    }
}

/// Header values may wrap non-ASCII text as `=?base64?…?=`.
fn decode_header_value(value: &str) -> Option<String> {
    match value.strip_prefix("=?base64?").and_then(|v| v.strip_suffix("?=")) {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(value.to_string()),
    }
}

/// Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
fn trim_ows(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}
