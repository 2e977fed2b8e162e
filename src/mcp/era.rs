//! Protocol eras: which MCP revision a request speaks, and the checks the
//! stateless 2026-07-28 revision requires before a request is dispatched.
//!
//! Both eras are served on the same endpoint, statelessly. A request is
//! *modern* when its `MCP-Protocol-Version` header names a revision outside
//! the legacy set, or when it has no header but carries
//! `_meta["io.modelcontextprotocol/protocolVersion"]`; everything else is
//! *legacy* (2024-11-05 to 2025-11-25), where `initialize` is optional and
//! no session is kept.

use base64::Engine;
use serde_json::{Value, json};

use super::jsonrpc::INVALID_PARAMS;

/// Revisions served with the legacy (initialize-based) rules, newest first.
pub(crate) const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The stateless revision.
pub(crate) const MODERN_VERSION: &str = "2026-07-28";
/// Every revision served, newest first (`server/discover`, -32022 data).
pub(crate) const SUPPORTED_VERSIONS: &[&str] = &["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

pub(crate) const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub(crate) const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub(crate) const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A standard header disagrees with the body, or is missing.
pub(crate) const HEADER_MISMATCH: i64 = -32020;
/// The requested revision is not served.
pub(crate) const UNSUPPORTED_VERSION: i64 = -32022;

/// The revision family of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Era {
    /// `version` is the header value when one was sent.
    Legacy { version: Option<String> },
    /// `version` is what the header (or, on stdio, `_meta`) asked for; it
    /// may be unsupported, which [`check_modern`] reports.
    Modern { version: String },
}

impl Era {
    /// Classifies a request from its version header (absent on stdio) and
    /// its params.
    pub(crate) fn detect(header_version: Option<&str>, params: &Value) -> Era {
        match header_version {
            Some(version) if LEGACY_VERSIONS.contains(&version) => Era::Legacy { version: Some(version.to_string()) },
            Some(version) => Era::Modern { version: version.to_string() },
            None => match meta_str(params, META_PROTOCOL_VERSION) {
                Some(version) => Era::Modern { version: version.to_string() },
                None => Era::Legacy { version: None },
            },
        }
    }

    /// JSON-RPC batches existed in 2024-11-05 and 2025-03-26 only; a
    /// request without a version header is taken as 2025-03-26, as the
    /// specification says.
    pub(crate) fn allows_batches(header_version: Option<&str>) -> bool {
        matches!(header_version, None | Some("2025-03-26") | Some("2024-11-05"))
    }
}

/// A protocol-level refusal with the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
    pub(crate) http_status: u16,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>, http_status: u16) -> RpcError {
        RpcError { code, message: message.into(), data: None, http_status }
    }
}

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

/// The checks a modern request must pass before dispatch: a version header
/// naming no served revision is refused first (so a client of an unknown
/// revision learns the supported list), then standard headers against the
/// body, required `_meta` keys, and the header against `_meta`.
pub(crate) fn check_modern(headers: &StandardHeaders, method: &str, params: &Value) -> Result<(), RpcError> {
    if let Some(version) = headers.protocol_version.as_deref().filter(|v| *v != MODERN_VERSION) {
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
            400,
        ));
    }
    let meta_version = meta_str(params, META_PROTOCOL_VERSION).unwrap_or_default();
    let requested = match &headers.protocol_version {
        Some(header) if header != meta_version => {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                format!("MCP-Protocol-Version header '{header}' does not match _meta protocolVersion '{meta_version}'"),
                400,
            ));
        }
        Some(header) => header.as_str(),
        None if headers.present => {
            return Err(RpcError::new(HEADER_MISMATCH, "Missing MCP-Protocol-Version header", 400));
        }
        None => meta_version,
    };
    if requested != MODERN_VERSION {
        return Err(unsupported(requested));
    }
    Ok(())
}

fn unsupported(requested: &str) -> RpcError {
    RpcError {
        code: UNSUPPORTED_VERSION,
        message: format!("Unsupported protocol version '{requested}'; supported: {}", SUPPORTED_VERSIONS.join(", ")),
        data: Some(json!({ "supported": SUPPORTED_VERSIONS, "requested": requested })),
        http_status: 400,
    }
}

/// `Mcp-Method` must equal the body's method; `Mcp-Name` must equal the
/// tool name, prompt name or resource URI where the method has one.
fn check_standard_headers(headers: &StandardHeaders, method: &str, params: &Value) -> Result<(), RpcError> {
    match headers.method.as_deref().map(trim_ows) {
        None => {
            return Err(RpcError::new(HEADER_MISMATCH, "Missing Mcp-Method header", 400));
        }
        Some(value) if decode_header_value(value).as_deref() != Some(method) => {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                format!("Mcp-Method header '{value}' does not match the request method '{method}'"),
                400,
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
        None => Err(RpcError::new(HEADER_MISMATCH, format!("Missing Mcp-Name header for {method}"), 400)),
        Some(value) if decode_header_value(value).as_deref() != Some(body_name) => Err(RpcError::new(
            HEADER_MISMATCH,
            format!("Mcp-Name header '{value}' does not match '{body_name}' in the request body"),
            400,
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

fn meta_str<'a>(params: &'a Value, key: &str) -> Option<&'a str> {
    params.get("_meta")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(version: &str) -> Value {
        json!({ "_meta": { META_PROTOCOL_VERSION: version, META_CLIENT_CAPABILITIES: {} } })
    }

    fn headers(version: &str, method: &str, name: Option<&str>) -> StandardHeaders {
        StandardHeaders {
            present: true,
            protocol_version: Some(version.into()),
            method: Some(method.into()),
            name: name.map(str::to_owned),
            ..StandardHeaders::default()
        }
    }

    #[test]
    fn era_follows_the_header_then_the_meta() {
        assert_eq!(Era::detect(Some("2025-06-18"), &Value::Null), Era::Legacy { version: Some("2025-06-18".into()) });
        assert_eq!(Era::detect(Some("2026-07-28"), &Value::Null), Era::Modern { version: "2026-07-28".into() });
        assert_eq!(Era::detect(Some("v999"), &Value::Null), Era::Modern { version: "v999".into() });
        assert_eq!(Era::detect(None, &meta("2026-07-28")), Era::Modern { version: "2026-07-28".into() });
        assert_eq!(Era::detect(None, &json!({})), Era::Legacy { version: None });
    }

    #[test]
    fn modern_requests_need_their_meta_keys() {
        let error = check_modern(&headers("2026-07-28", "tools/list", None), "tools/list", &json!({})).unwrap_err();
        assert_eq!((error.code, error.http_status), (INVALID_PARAMS, 400));
        assert!(error.message.contains(META_CLIENT_CAPABILITIES));
    }

    #[test]
    fn header_and_meta_versions_must_agree() {
        let error =
            check_modern(&headers("2026-07-28", "server/discover", None), "server/discover", &meta("v9")).unwrap_err();
        assert_eq!(error.code, HEADER_MISMATCH);
    }

    #[test]
    fn unsupported_versions_list_the_supported_ones() {
        let error = check_modern(&headers("v9", "server/discover", None), "server/discover", &meta("v9")).unwrap_err();
        assert_eq!(error.code, UNSUPPORTED_VERSION);
        let data = error.data.unwrap();
        assert_eq!(data["requested"], "v9");
        assert!(data["supported"].as_array().unwrap().contains(&json!("2026-07-28")));
    }

    #[test]
    fn method_and_name_headers_must_mirror_the_body() {
        let params = |name: &str| {
            let mut p = meta("2026-07-28");
            p["name"] = json!(name);
            p
        };
        let ok = headers("2026-07-28", "tools/call", Some("  execute_command\t"));
        assert!(check_modern(&ok, "tools/call", &params("execute_command")).is_ok());
        let encoded = headers("2026-07-28", "tools/call", Some("=?base64?ZXhlY3V0ZV9jb21tYW5k?="));
        assert!(check_modern(&encoded, "tools/call", &params("execute_command")).is_ok());
        for bad in [
            headers("2026-07-28", "tools/call", Some("other")),
            headers("2026-07-28", "tools/call", None),
            headers("2026-07-28", "TOOLS/CALL", Some("execute_command")),
            StandardHeaders { method: None, ..headers("2026-07-28", "x", Some("execute_command")) },
        ] {
            let error = check_modern(&bad, "tools/call", &params("execute_command")).unwrap_err();
            assert_eq!((error.code, error.http_status), (HEADER_MISMATCH, 400), "{bad:?}");
        }
    }

    #[test]
    fn stdio_requests_are_checked_without_headers() {
        assert!(check_modern(&StandardHeaders::default(), "tools/list", &meta("2026-07-28")).is_ok());
        let error = check_modern(&StandardHeaders::default(), "tools/list", &meta("2030-01-01")).unwrap_err();
        assert_eq!(error.code, UNSUPPORTED_VERSION);
    }
}
