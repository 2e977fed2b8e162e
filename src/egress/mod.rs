//! Egress by name: an HTTP proxy inside the daemon (outside the commands'
//! sandbox) that is their only way out, with an allowlist per principal.
//!
//! The data flow: `allow` (the lists), `head` (a proxy request), `calls`
//! (which running call a connection belongs to), `decide` (may it go
//! there; `ranges` and `resolve` under it), `proxy` (limits, record),
//! `relay` (the bytes, by `splice`).
//!
//! Contact points: [`bind`] before the sandbox is prepared (the cells need
//! the proxy's port: Landlock and the socket broker let commands connect
//! to it on 127.0.0.1 and nowhere else); [`Egress::start`] once the
//! audit and metrics exist; [`Egress::register`] for each call that runs a
//! command, which gives the command its proxy variables and closes its
//! tunnels when dropped.
//!
//! A connection is tied to its call twice: by the secret in the proxy URL
//! (`Proxy-Authorization`), and by the socket broker, which records the
//! cell of every command socket it connects to the proxy; a secret
//! presented from another cell is refused.

mod allow;
mod calls;
mod decide;
mod head;
mod proxy;
mod ranges;
mod relay;
mod resolve;

use std::sync::Arc;

pub(crate) use allow::AllowList;
pub(crate) use calls::Registration;
pub(crate) use decide::Rule;
pub(crate) use ranges::REFUSED;

use crate::audit::Auditor;
use crate::config::egress::EgressConfig;
use crate::metrics::Metrics;
use calls::Calls;
use resolve::Resolver;

/// What every proxy connection uses.
#[derive(Debug)]
struct Shared {
    calls: Arc<Calls>,
    resolver: Resolver,
    settings: EgressConfig,
    audit: Arc<Auditor>,
    metrics: Arc<Metrics>,
    /// Connections whose request head is still awaited, by cell.
    pending: std::sync::Mutex<std::collections::HashMap<usize, usize>>,
}

/// The running proxy.
#[derive(Debug)]
pub(crate) struct Egress {
    port: u16,
    shared: Arc<Shared>,
}

/// The proxy's listening socket, bound before the sandbox is prepared.
#[derive(Debug)]
pub(crate) struct Bound(std::net::TcpListener);

impl Bound {
    pub(crate) fn port(&self) -> u16 {
        self.0.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// Binds the proxy's port on 127.0.0.1, when egress is on.
pub(crate) fn bind(settings: &EgressConfig) -> Result<Option<Bound>, String> {
    if !settings.enabled() {
        return Ok(None);
    }
    let listener = std::net::TcpListener::bind(("127.0.0.1", settings.port))
        .map_err(|e| format!("the egress proxy cannot listen on 127.0.0.1:{} (MCP_EGRESS_PORT): {e}", settings.port))?;
    listener.set_nonblocking(true).map_err(|e| format!("egress proxy: {e}"))?;
    Ok(Some(Bound(listener)))
}

/// A call's use of the proxy: the variables its command gets, and its
/// registration, which ends its tunnels when dropped.
#[derive(Debug)]
pub(crate) struct CallEgress {
    env: Vec<(String, String)>,
    _registration: Registration,
}

impl CallEgress {
    /// Sets the proxy variables in a command's `env`, over any the call
    /// gave.
    pub(crate) fn apply(&self, env: &mut Vec<(String, String)>) {
        env.retain(|(name, _)| !self.env.iter().any(|(own, _)| own == name));
        env.extend(self.env.iter().cloned());
    }
}

impl Egress {
    /// Serves `bound` from now on.
    pub(crate) fn start(
        bound: Bound,
        settings: &EgressConfig,
        audit: Arc<Auditor>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Egress>, String> {
        let port = bound.port();
        let resolver = match &settings.test_hosts {
            Some(path) => {
                tracing::warn!(path = %path.display(), "egress: names resolve from a TEST name map, not DNS");
                Resolver::from_map(path)?
            }
            None => Resolver::System,
        };
        let listener = tokio::net::TcpListener::from_std(bound.0).map_err(|e| format!("egress proxy: {e}"))?;
        let shared = Arc::new(Shared {
            calls: Arc::default(),
            resolver,
            settings: settings.clone(),
            audit,
            metrics,
            pending: Default::default(),
        });
        tokio::spawn(accept(listener, shared.clone()));
        tracing::info!(port, allow = %settings.allow.entries().join(","), "egress proxy listening on 127.0.0.1");
        Ok(Arc::new(Egress { port, shared }))
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn settings(&self) -> &EgressConfig {
        &self.shared.settings
    }

    /// The proxy URL a command of this call uses, with its secret.
    fn url(&self, secret: &str) -> String {
        format!("http://mcp:{secret}@127.0.0.1:{}", self.port)
    }

    /// Registers a call of the principal `principal` (its cell `owner`,
    /// its list `allow`); `None` when that list is empty.
    pub(crate) fn register(
        &self,
        principal: &str,
        owner: usize,
        request_id: &str,
        allow: &Arc<AllowList>,
    ) -> Option<CallEgress> {
        if allow.is_empty() {
            return None;
        }
        let (secret, registration) = self.shared.calls.register(principal, owner, request_id, allow.clone());
        let url = self.url(&secret);
        let mut env: Vec<(String, String)> = ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"]
            .iter()
            .flat_map(|name| [(name.to_string(), url.clone()), (name.to_ascii_lowercase(), url.clone())])
            .collect();
        env.extend([("NO_PROXY".to_string(), String::new()), ("no_proxy".to_string(), String::new())]);
        Some(CallEgress { env, _registration: registration })
    }
}

async fn accept(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Taken at once: the broker registered the port just before
                // the command's connect, and the next user of the port must
                // not inherit it.
                let owner = crate::sandbox::egress_peer(peer);
                tokio::spawn(proxy::serve(shared.clone(), stream, owner));
            }
            Err(error) => {
                tracing::warn!(%error, "egress proxy: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
