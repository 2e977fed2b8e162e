//! Protocol eras: which MCP revision a request speaks, and everything that
//! differs between revisions, decided here and nowhere else: the methods
//! served, the checks before dispatch, the shape of results, the HTTP
//! status of an error, batches, and `"id": null`.
//!
//! Every era is served on the same endpoint, statelessly. A request is
//! *modern* when its `MCP-Protocol-Version` header names a revision no
//! other era claims, or when it has no header but carries
//! `_meta["io.modelcontextprotocol/protocolVersion"]`; everything else is
//! *legacy* (2024-11-05 to 2025-11-25), where `initialize` is optional and
//! no session is kept.
//!
//! A new revision is a row of [`REVISIONS`]; a new era is a variant of
//! [`Era`], an arm in each of its methods, and (if it checks requests in a
//! way of its own) a module beside [`modern`].

mod modern;

use serde_json::{Map, Value, json};

use super::jsonrpc::{METHOD_NOT_FOUND, RpcError, SERVER_BUSY};
pub(crate) use modern::StandardHeaders;
#[cfg(test)]
use modern::{HEADER_MISMATCH, UNSUPPORTED_VERSION};

/// How long clients may cache `tools/list` and `server/discover`: the tool
/// set never changes while a daemon runs.
const LIST_TTL_MS: u64 = 300_000;

const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// Every revision served, newest first (`server/discover`, -32022 data),
/// with the era that answers it.
const REVISIONS: &[(&str, Era)] = &[
    ("2026-07-28", Era::Modern),
    ("2025-11-25", Era::Legacy),
    ("2025-06-18", Era::Legacy),
    ("2025-03-26", Era::LegacyBatching),
    ("2024-11-05", Era::LegacyBatching),
];

/// The revision family of one request: how it is checked and answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2024-11-05 and 2025-03-26: `initialize` optional, no session,
    /// JSON-RPC batches. Also a request that names no revision, which the
    /// specification takes as 2025-03-26.
    LegacyBatching,
    /// 2025-06-18 and 2025-11-25: as [`Era::LegacyBatching`], without
    /// batches.
    Legacy,
    /// 2026-07-28: stateless, `server/discover` instead of `initialize`,
    /// the request's revision and capabilities in `_meta`, standard headers
    /// mirroring the body, errors carried by HTTP statuses.
    Modern,
}

/// An operation of the dispatcher, as an era names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Initialize,
    Ping,
    Discover,
    ListTools,
    CallTool,
    SetLogLevel,
}

impl Era {
    /// Every era, for what is built once per era (the cached `tools/list`).
    pub(crate) const ALL: [Era; 3] = [Era::LegacyBatching, Era::Legacy, Era::Modern];

    /// The era of a request as its version header alone says (absent on
    /// stdio): what a transport knows before the body is read. A revision
    /// not served belongs to the newest era, whose checks refuse it with
    /// the list of those served.
    pub(crate) fn of_header(header_version: Option<&str>) -> Era {
        match header_version {
            None => Era::LegacyBatching,
            Some(version) => REVISIONS.iter().find(|(v, _)| *v == version).map_or(Era::Modern, |(_, era)| *era),
        }
    }

    /// The era of a request from its version header and, without one, its
    /// params: only the modern era names its revision in `_meta`.
    pub(crate) fn detect(header_version: Option<&str>, params: &Value) -> Era {
        match (header_version, meta_str(params, META_PROTOCOL_VERSION)) {
            (None, Some(_)) => Era::Modern,
            (header, _) => Era::of_header(header),
        }
    }

    /// Whether `version` is a revision this era answers.
    pub(crate) fn serves(self, version: &str) -> bool {
        REVISIONS.contains(&(version, self))
    }

    /// The newest revision of this era, as a client would send it (the
    /// fuzz target tries each era's).
    #[cfg(any(test, fuzzing))]
    pub(crate) fn newest_version(self) -> &'static str {
        REVISIONS.iter().find(|(_, era)| *era == self).map(|(version, _)| *version).unwrap_or_default()
    }

    /// Whether a JSON-RPC batch may carry this era's messages: batches
    /// existed in 2024-11-05 and 2025-03-26 only.
    pub(crate) fn allows_batches(self) -> bool {
        self == Era::LegacyBatching
    }

    /// The 2026-07-28 schema forbids `"id": null`; earlier revisions follow
    /// JSON-RPC 2.0, which requires it when the id could not be read.
    pub(crate) fn forbids_null_id(self) -> bool {
        self == Era::Modern
    }

    /// The operation a method name stands for in this era, if it has one.
    pub(crate) fn method(self, name: &str) -> Option<Method> {
        let method = match (self, name) {
            (Era::Legacy | Era::LegacyBatching, "initialize") => Method::Initialize,
            (Era::Legacy | Era::LegacyBatching, "ping") => Method::Ping,
            (Era::Legacy | Era::LegacyBatching, "logging/setLevel") => Method::SetLogLevel,
            (Era::Modern, "server/discover") => Method::Discover,
            (_, "tools/list") => Method::ListTools,
            (_, "tools/call") => Method::CallTool,
            _ => return None,
        };
        Some(method)
    }

    /// The checks a request must pass before dispatch.
    pub(crate) fn check(self, headers: &StandardHeaders, method: &str, params: &Value) -> Result<(), RpcError> {
        match self {
            Era::Legacy | Era::LegacyBatching => Ok(()),
            Era::Modern => modern::check(headers, method, params),
        }
    }

    /// The HTTP status of a JSON-RPC error. Legacy errors travel with 200
    /// (SDK clients drop the body of a non-2xx answer); modern ones say
    /// 404 for an unknown method, 503 when busy, else 400.
    pub(crate) fn error_status(self, code: i64) -> u16 {
        match (self, code) {
            (Era::Legacy | Era::LegacyBatching, _) => 200,
            (Era::Modern, METHOD_NOT_FOUND) => 404,
            (Era::Modern, SERVER_BUSY) => 503,
            (Era::Modern, _) => 400,
        }
    }

    /// The `tools/list` result, undecorated.
    pub(crate) fn tool_list(self, tools: &Value) -> Value {
        match self {
            Era::Legacy | Era::LegacyBatching => json!({ "tools": tools }),
            Era::Modern => json!({ "tools": tools, "ttlMs": LIST_TTL_MS, "cacheScope": "private" }),
        }
    }

    /// The `server/discover` result, undecorated.
    pub(crate) fn discover(self, instructions: &str) -> Value {
        json!({
            "supportedVersions": supported_versions(),
            "capabilities": { "tools": {} },
            "instructions": instructions,
            "ttlMs": LIST_TTL_MS,
            "cacheScope": "private",
        })
    }

    /// Every result of this era as sent: a 2026-07-28 result says it is
    /// complete and who answered.
    pub(crate) fn decorate(self, mut result: Value, server_info: &Value) -> Value {
        if self == Era::Modern
            && let Value::Object(map) = &mut result
        {
            map.insert("resultType".into(), "complete".into());
            let meta = map.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(meta) = meta {
                meta.insert(META_SERVER_INFO.into(), server_info.clone());
            }
        }
        result
    }
}

/// The revision `initialize` answers with: the one requested if an era
/// with `initialize` serves it, else the newest such (never 2026-07-28,
/// which has no `initialize`).
pub(crate) fn initialize_version(requested: &str) -> &'static str {
    let mut initializing = REVISIONS.iter().filter(|(_, era)| era.method("initialize").is_some());
    let newest = initializing.clone().next().map(|(version, _)| *version).unwrap_or_default();
    initializing.find(|(version, _)| *version == requested).map_or(newest, |(version, _)| *version)
}

/// Every revision served, newest first.
fn supported_versions() -> Vec<&'static str> {
    REVISIONS.iter().map(|(version, _)| *version).collect()
}

fn meta_str<'a>(params: &'a Value, key: &str) -> Option<&'a str> {
    params.get("_meta")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests;
