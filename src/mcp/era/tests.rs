//! The eras' rules, one by one.

use serde_json::{Value, json};

use super::*;
use crate::mcp::jsonrpc::INVALID_PARAMS;

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
    assert_eq!(Era::detect(Some("2025-06-18"), &Value::Null), Era::Legacy);
    assert_eq!(Era::detect(Some("2025-03-26"), &meta("2026-07-28")), Era::LegacyBatching);
    assert_eq!(Era::detect(Some("2026-07-28"), &Value::Null), Era::Modern);
    assert_eq!(Era::detect(Some("v999"), &Value::Null), Era::Modern);
    assert_eq!(Era::detect(None, &meta("2026-07-28")), Era::Modern);
    assert_eq!(Era::detect(None, &meta("2025-06-18")), Era::Modern);
    assert_eq!(Era::detect(None, &json!({})), Era::LegacyBatching);
}

#[test]
fn modern_requests_need_their_meta_keys() {
    let error = Era::Modern.check(&headers("2026-07-28", "tools/list", None), "tools/list", &json!({})).unwrap_err();
    assert_eq!((error.code, Era::Modern.error_status(error.code)), (INVALID_PARAMS, 400));
    assert!(error.message.contains(META_CLIENT_CAPABILITIES));
}

#[test]
fn header_and_meta_versions_must_agree() {
    let error =
        Era::Modern.check(&headers("2026-07-28", "server/discover", None), "server/discover", &meta("v9")).unwrap_err();
    assert_eq!(error.code, HEADER_MISMATCH);
}

#[test]
fn unsupported_versions_list_the_supported_ones() {
    let error = Era::Modern.check(&headers("v9", "server/discover", None), "server/discover", &meta("v9")).unwrap_err();
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
    assert!(Era::Modern.check(&ok, "tools/call", &params("execute_command")).is_ok());
    let encoded = headers("2026-07-28", "tools/call", Some("=?base64?ZXhlY3V0ZV9jb21tYW5k?="));
    assert!(Era::Modern.check(&encoded, "tools/call", &params("execute_command")).is_ok());
    for bad in [
        headers("2026-07-28", "tools/call", Some("other")),
        headers("2026-07-28", "tools/call", None),
        headers("2026-07-28", "TOOLS/CALL", Some("execute_command")),
        StandardHeaders { method: None, ..headers("2026-07-28", "x", Some("execute_command")) },
    ] {
        let error = Era::Modern.check(&bad, "tools/call", &params("execute_command")).unwrap_err();
        assert_eq!((error.code, Era::Modern.error_status(error.code)), (HEADER_MISMATCH, 400), "{bad:?}");
    }
}

#[test]
fn stdio_requests_are_checked_without_headers() {
    assert!(Era::Modern.check(&StandardHeaders::default(), "tools/list", &meta("2026-07-28")).is_ok());
    let error = Era::Modern.check(&StandardHeaders::default(), "tools/list", &meta("2030-01-01")).unwrap_err();
    assert_eq!(error.code, UNSUPPORTED_VERSION);
}

#[test]
fn batches_belong_to_the_revisions_that_defined_them_and_to_requests_without_a_version() {
    for (header, allowed) in [
        (None, true),
        (Some("2024-11-05"), true),
        (Some("2025-03-26"), true),
        (Some("2025-06-18"), false),
        (Some("2025-11-25"), false),
        (Some("2026-07-28"), false),
        (Some("v999"), false),
    ] {
        assert_eq!(Era::of_header(header).allows_batches(), allowed, "{header:?}");
    }
}

#[test]
fn legacy_errors_travel_with_200_and_modern_ones_with_their_status() {
    use crate::mcp::jsonrpc::{METHOD_NOT_FOUND, SERVER_BUSY};
    for code in [INVALID_PARAMS, METHOD_NOT_FOUND, SERVER_BUSY] {
        assert_eq!(Era::Legacy.error_status(code), 200);
        assert_eq!(Era::LegacyBatching.error_status(code), 200);
    }
    assert_eq!(Era::Modern.error_status(INVALID_PARAMS), 400);
    assert_eq!(Era::Modern.error_status(METHOD_NOT_FOUND), 404);
    assert_eq!(Era::Modern.error_status(SERVER_BUSY), 503);
    assert_eq!(Era::Modern.error_status(UNSUPPORTED_VERSION), 400);
}

#[test]
fn each_era_serves_its_own_methods() {
    assert_eq!(Era::Legacy.method("initialize"), Some(Method::Initialize));
    assert_eq!(Era::Modern.method("initialize"), None);
    assert_eq!(Era::Modern.method("server/discover"), Some(Method::Discover));
    assert_eq!(Era::LegacyBatching.method("server/discover"), None);
    assert_eq!(Era::Modern.method("ping"), None);
    for era in Era::ALL {
        assert_eq!(era.method("tools/call"), Some(Method::CallTool));
        assert!(era.serves(era.newest_version()));
    }
}

#[test]
fn initialize_echoes_a_legacy_revision_and_otherwise_offers_the_newest() {
    assert_eq!(initialize_version("2024-11-05"), "2024-11-05");
    assert_eq!(initialize_version("2026-07-28"), "2025-11-25");
    assert_eq!(initialize_version(""), "2025-11-25");
}
