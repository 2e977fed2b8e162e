//! The guard in front of the MCP endpoint, in this order: Host and Origin
//! validation against DNS rebinding (403), then the token (401).
//!
//! A page in a victim's browser can make it POST to `localhost:3000` under
//! a rebound DNS name; the Host and Origin it sends then name the attacker's
//! site, never a loopback name, so both are checked before anything else.
//! The token is compared through SHA-256 digests with a constant-time
//! equality, so neither its content nor its length leaks through timing.
//! A request that passes carries its [`Caller`] (request id, principal,
//! peer) on to the endpoint; a refused one leaves an audit record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Peer, RequestId};
use crate::audit::{Caller, event};
use crate::config::Config;
use crate::config::principals::Principal;
use crate::mcp::jsonrpc::{INVALID_REQUEST, UNAUTHORIZED};
use crate::tools::ToolContext;

/// Host names that are always accepted, with any port.
const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "[::1]", "::1"];

/// What the guard needs, prepared once.
#[derive(Debug)]
pub(crate) struct GuardState {
    config: Arc<Config>,
    tools: ToolContext,
    /// The port actually listened on (`MCP_PORT=0` picks one).
    port: u16,
    failures: FailureLimiter,
}

impl GuardState {
    pub(crate) fn new(tools: &ToolContext, port: u16) -> GuardState {
        let limits = &tools.config.limits;
        GuardState {
            config: tools.config.clone(),
            tools: tools.clone(),
            port,
            failures: FailureLimiter::new(limits.auth_failure_limit, limits.auth_failure_window),
        }
    }
}

/// Most client addresses whose failures are remembered; beyond, the
/// expired windows are dropped first, then all of them.
const MAX_TRACKED_ADDRESSES: usize = 65_536;

/// Failed authentications per client address in fixed windows. Once an
/// address reaches the limit, all its requests get 429 until its window
/// ends, good token or not, so guessing stops.
#[derive(Debug)]
struct FailureLimiter {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureLimiter {
    fn new(limit: u32, window: Duration) -> FailureLimiter {
        FailureLimiter { limit, window, seen: Mutex::new(HashMap::new()) }
    }

    /// The time left before `address` may try again, if it is over the limit.
    fn blocked(&self, address: IpAddr) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let seen = self.seen.lock().expect("failure lock");
        let (start, count) = seen.get(&address)?;
        let left = self.window.checked_sub(start.elapsed())?;
        (*count >= self.limit).then_some(left)
    }

    fn failed(&self, address: IpAddr) {
        if self.limit == 0 {
            return;
        }
        let mut seen = self.seen.lock().expect("failure lock");
        if seen.len() >= MAX_TRACKED_ADDRESSES && !seen.contains_key(&address) {
            seen.retain(|_, (start, _)| start.elapsed() < self.window);
            if seen.len() >= MAX_TRACKED_ADDRESSES {
                tracing::warn!("authentication failures from too many addresses; forgetting them");
                seen.clear();
            }
        }
        let entry = seen.entry(address).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// Middleware: rejects or passes the request on, with its caller.
pub(crate) async fn guard(State(state): State<Arc<GuardState>>, mut request: Request, next: Next) -> Response {
    let mut caller = caller_of(&state, &request);
    let principals = &state.config.principals;
    if let Err(reason) = check_host_and_origin(&state.config, state.port, request.headers()) {
        tracing::warn!(%reason, request_id = %caller.request_id, "request refused: DNS rebinding protection");
        refused(&state, &caller, "request_rejected", "host_origin", &reason, 403).await;
        return forbidden(&reason);
    }
    if !principals.is_empty() {
        let client = client_address(&caller, &request);
        if let Some(left) = client.and_then(|client| state.failures.blocked(client)) {
            let seconds = left.as_secs().max(1);
            let why = format!("more than {} failed authentications; blocked for {seconds}s", state.failures.limit);
            refused(&state, &caller, "auth_failure", "rate_limited", &why, 429).await;
            return too_many(seconds, state.failures.limit);
        }
        match presented_principal(request.headers(), principals) {
            Some(principal) => caller.principal = principal.name.clone(),
            None => {
                tracing::warn!(request_id = %caller.request_id, "request refused: missing or invalid token");
                let why = if presented_token(request.headers()).is_some() { "wrong token" } else { "no token" };
                if let Some(client) = client {
                    state.failures.failed(client);
                }
                refused(&state, &caller, "auth_failure", "token", why, 401).await;
                return unauthorized();
            }
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The address failures are counted against: the peer, or the address a
/// trusted proxy (MCP_TRUSTED_PROXIES, the ALB) says it forwards for (the
/// rightmost entry of the caller's `forwarded_for`, set only for such a
/// proxy), so one client behind the balancer cannot lock out the others.
fn client_address(caller: &Caller, request: &Request) -> Option<IpAddr> {
    let forwarded = caller.forwarded_for.as_deref().and_then(|list| list.rsplit(',').next()?.trim().parse().ok());
    forwarded.or_else(|| Some(request.extensions().get::<Peer>()?.0.ip()))
}

/// The caller as far as the connection tells: request id, peer and, from
/// a trusted proxy only, `X-Forwarded-For`.
fn caller_of(state: &GuardState, request: &Request) -> Caller {
    let request_id = request.extensions().get::<RequestId>().map(|id| id.0.clone()).unwrap_or_default();
    let peer = request.extensions().get::<Peer>().map(|peer| peer.0);
    // Every X-Forwarded-For header, joined; the rightmost entries (those
    // the trusted proxy added) are kept when it is too long.
    let forwarded_for = peer.filter(|peer| state.tools.audit.trusts(peer.ip())).and_then(|_| {
        let all: Vec<&str> =
            request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        let joined = all.join(", ");
        let skip = joined.chars().count().saturating_sub(256);
        (!joined.is_empty()).then(|| joined.chars().skip(skip).collect())
    });
    Caller { request_id, principal: "anonymous".into(), remote: peer.map(|p| p.to_string()), forwarded_for }
}

/// Records and counts a request the guard refused.
async fn refused(state: &GuardState, caller: &Caller, kind: &str, reason: &str, detail: &str, status: u16) {
    state.tools.metrics.auth_failure(reason);
    let mut record = event(kind, caller);
    record.insert("reason".into(), reason.into());
    record.insert("detail".into(), detail.into());
    record.insert("http_status".into(), status.into());
    state.tools.audit.emit(record).await;
}

fn check_host_and_origin(config: &Config, port: u16, headers: &HeaderMap) -> Result<(), String> {
    if headers.get_all(header::HOST).iter().count() > 1 || headers.get_all(header::ORIGIN).iter().count() > 1 {
        return Err("more than one Host or Origin header".to_string());
    }
    if config.check_host {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        let name = strip_port(host).to_ascii_lowercase();
        if !name_allowed(&name, config.allowed_hosts.as_deref()) {
            return Err(format!(
                "Host '{host}' is not allowed; add it to MCP_ALLOWED_HOSTS (--allowed-hosts) if this server is reached under that name"
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().trim_end_matches('/').to_ascii_lowercase();
        let listed = match &config.allowed_origins {
            None => true,
            Some(list) => list.contains(&origin),
        };
        // A loopback origin counts only on this server's own port: a page
        // served by another local program is another site.
        let loopback = origin.split_once("://").is_some_and(|(scheme, rest)| {
            let default_port = if scheme == "https" { 443 } else { 80 };
            let origin_port = rest.strip_prefix(strip_port(rest)).and_then(|p| p.strip_prefix(':'));
            let origin_port = origin_port.map_or(Some(default_port), |p| p.parse::<u16>().ok());
            matches!(scheme, "http" | "https")
                && LOOPBACK_NAMES.contains(&strip_port(rest))
                && origin_port == Some(port)
        });
        if !(listed || loopback) {
            return Err(format!(
                "Origin '{origin}' is not allowed; add it to MCP_ALLOWED_ORIGINS (--allowed-origins) if browsers on that site may call this server"
            ));
        }
    }
    Ok(())
}

fn name_allowed(name: &str, extra: Option<&[String]>) -> bool {
    match extra {
        None => true,
        Some(list) => LOOPBACK_NAMES.contains(&name) || list.iter().any(|allowed| allowed == name),
    }
}

/// `host:port` → `host`; `[::1]:3000` → `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            // Only `:port` may follow the bracketed address.
            Some(end) if host[end + 1..].is_empty() || is_port_suffix(&host[end + 1..]) => &host[..=end],
            _ => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_port_suffix(text: &str) -> bool {
    text.strip_prefix(':').is_some_and(|port| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
}

fn presented_token(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-mcp-auth-token").and_then(|v| v.to_str().ok()).map(str::trim).or_else(|| {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    })
}

/// The principal whose token the request carries. Every digest is
/// compared, in constant time, whichever matches.
fn presented_principal<'a>(headers: &HeaderMap, principals: &'a [Principal]) -> Option<&'a Principal> {
    let presented = digest(presented_token(headers)?);
    let mut found = None;
    for principal in principals {
        if bool::from(presented.ct_eq(&principal.digest)) {
            found = Some(principal);
        }
    }
    found
}

#[cfg(test)]
fn token_matches(headers: &HeaderMap, expected: &[u8; 32]) -> bool {
    let principal = Principal { name: "t".into(), digest: *expected, narrowing: Default::default(), uid: None };
    presented_principal(headers, std::slice::from_ref(&principal)).is_some()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn forbidden(reason: &str) -> Response {
    let body =
        json!({ "jsonrpc": "2.0", "error": { "code": INVALID_REQUEST, "message": format!("Forbidden: {reason}") } });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

fn too_many(seconds: u64, limit: u32) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": UNAUTHORIZED,
            "message": format!(
                "Too Many Requests: more than {limit} failed authentications from this address \
                 (MCP_AUTH_FAILURE_LIMIT); retry after {seconds}s"
            )
        }
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn unauthorized() -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": UNAUTHORIZED,
            "message": "Unauthorized: send the server's token in the X-MCP-Auth-Token header or as Authorization: Bearer <token>"
        }
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"mcp-commander\""));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("localhost:3000"), "localhost");
        assert_eq!(strip_port("[::1]:3000"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("[::1]evil.com"), "[::1]evil.com");
    }

    #[test]
    fn tokens_are_accepted_from_either_header() {
        let expected = digest("s3cret");
        let mut headers = HeaderMap::new();
        headers.insert("x-mcp-auth-token", HeaderValue::from_static("s3cret"));
        assert!(token_matches(&headers, &expected));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer s3cret"));
        assert!(token_matches(&headers, &expected));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic s3cret"));
        assert!(!token_matches(&headers, &expected));
        assert!(!token_matches(&HeaderMap::new(), &expected));
    }
}
