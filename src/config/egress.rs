//! Egress settings: the daemon's allowlist, the proxy's port, its limits,
//! and the test name map. The principals' own lists are narrowed from
//! this one in `principals::plan`.

use std::path::PathBuf;
use std::time::Duration;

use super::cli::RawSettings;
use super::resolved::resolved;
use crate::egress::AllowList;

resolved! {
    #[derive(Debug, Clone)]
    pub(crate) struct EgressConfig;
    pub(crate) fn resolve(raw: &RawSettings);

    /// Where commands may connect through the proxy; empty: no proxy.
    allow: AllowList = AllowList::parse(&raw.egress_allow().get()?, "--egress-allow / MCP_EGRESS_ALLOW")?;
    /// The proxy's port on 127.0.0.1; 0: the kernel's pick.
    port: u16 = raw.egress_port().get()?;
    /// Connections open at once per call, and per principal.
    max_per_call: usize = raw.egress_max_connections_per_call().get()?;
    max_per_principal: usize = raw.egress_max_connections_per_principal().get()?;
    /// Silence after which a connection is closed.
    idle_timeout: Duration = raw.egress_idle_timeout().get()?;
    /// Bytes per call, both ways, over all its connections.
    max_bytes_per_call: u64 = raw.egress_max_bytes_per_call().get()? as u64;
    /// The test name map that replaces the system resolver.
    test_hosts: Option<PathBuf> =
        raw.egress_test_hosts.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from);
}

impl EgressConfig {
    /// Whether the proxy runs.
    pub(crate) fn enabled(&self) -> bool {
        !self.allow.is_empty()
    }
}
