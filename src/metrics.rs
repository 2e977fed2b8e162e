//! Prometheus metrics (`/metrics`, text format), with the
//! `prometheus-client` crate: requests by method and status, tool calls by
//! tool and outcome, authentication failures, policy denials by rule,
//! command duration, commands in flight, egress proxy connections and
//! bytes, the sandbox layers enforced and the audit writer's counts. Label
//! values come from closed sets (the tool registry, [`Outcome`], the egress
//! rules) or from the operator's configuration (rule and principal names),
//! never from request text.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::audit::AuditStats;
use crate::tools::Outcome;

type Labels = Vec<(&'static str, String)>;

/// Every metric the daemon keeps. Cheap to share.
#[derive(Debug)]
pub(crate) struct Metrics {
    requests: Family<Labels, Counter>,
    tool_calls: Family<Labels, Counter>,
    auth_failures: Family<Labels, Counter>,
    policy_denials: Family<Labels, Counter>,
    command_seconds: Histogram,
    in_flight: Gauge<i64, AtomicI64>,
    queued: Gauge<i64, AtomicI64>,
    connections: Gauge<i64, AtomicI64>,
    connections_refused: Counter,
    egress_connections: Family<Labels, Counter>,
    egress_bytes: Family<Labels, Counter>,
    layers: Vec<(String, bool)>,
    audit: Arc<AuditStats>,
}

impl Metrics {
    pub(crate) fn new(layers: Vec<(String, bool)>, audit: Arc<AuditStats>) -> Metrics {
        Metrics {
            requests: Family::default(),
            tool_calls: Family::default(),
            auth_failures: Family::default(),
            policy_denials: Family::default(),
            command_seconds: Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]),
            in_flight: Gauge::default(),
            queued: Gauge::default(),
            connections: Gauge::default(),
            connections_refused: Counter::default(),
            egress_connections: Family::default(),
            egress_bytes: Family::default(),
            layers,
            audit,
        }
    }

    /// One answered MCP request.
    pub(crate) fn request(&self, method: &str, status: u16) {
        self.requests.get_or_create(&vec![("method", method_label(method)), ("status", status.to_string())]).inc();
    }

    /// One call of `tool`, a name from the tool registry (a call of an
    /// unknown tool is a protocol error, counted in `requests` only), by
    /// how it ended.
    pub(crate) fn tool_call(&self, tool: &'static str, outcome: Outcome) {
        self.tool_calls
            .get_or_create(&vec![("tool", tool.to_string()), ("outcome", outcome.as_str().to_string())])
            .inc();
    }

    /// A request refused before dispatch: `reason` is token, host_origin
    /// or rate_limited.
    pub(crate) fn auth_failure(&self, reason: &str) {
        self.auth_failures.get_or_create(&vec![("reason", reason.to_string())]).inc();
    }

    /// A command refused by the policy's `rule`.
    pub(crate) fn policy_denial(&self, rule: impl std::fmt::Display) {
        self.policy_denials.get_or_create(&vec![("rule", rule.to_string())]).inc();
    }

    pub(crate) fn command_finished(&self, seconds: f64) {
        self.command_seconds.observe(seconds);
    }

    /// Counts a running command until the returned guard drops.
    pub(crate) fn command_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.inc();
        InFlight(self.clone())
    }

    /// Calls waiting for a command slot now.
    pub(crate) fn set_queued(&self, waiting: usize) {
        self.queued.set(waiting as i64);
    }

    /// Counts an open HTTP connection until the returned guard drops.
    pub(crate) fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        self.connections.inc();
        OpenConnection(self.clone())
    }

    /// A connection answered 503 because MCP_MAX_CONNECTIONS were open.
    pub(crate) fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// One egress proxy connection of `principal` (empty: not known),
    /// `allowed` or refused by the rule named, and the bytes it moved.
    pub(crate) fn egress_connection(&self, principal: &str, outcome: &'static str, sent: u64, received: u64) {
        let labels = vec![("principal", principal.to_string()), ("outcome", outcome.to_string())];
        self.egress_connections.get_or_create(&labels).inc();
        self.egress_bytes.get_or_create(&vec![("direction", "sent".to_string())]).inc_by(sent);
        self.egress_bytes.get_or_create(&vec![("direction", "received".to_string())]).inc_by(received);
    }

    /// The text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut registry = Registry::with_prefix("mcp_commander");
        registry.register(
            "requests",
            "MCP requests answered, by JSON-RPC method and HTTP status",
            self.requests.clone(),
        );
        registry.register("tool_calls", "Tool calls by tool and outcome", self.tool_calls.clone());
        registry.register(
            "auth_failures",
            "Requests refused by the token or Host/Origin check",
            self.auth_failures.clone(),
        );
        registry.register("policy_denials", "Commands refused by the policy, by rule", self.policy_denials.clone());
        registry.register("command_duration_seconds", "Wall time of commands", self.command_seconds.clone());
        registry.register("commands_in_flight", "Commands running now", self.in_flight.clone());
        registry.register("commands_queued", "Calls waiting for a command slot", self.queued.clone());
        registry.register("connections_open", "Open HTTP connections", self.connections.clone());
        registry.register(
            "connections_refused",
            "Connections answered 503 because MCP_MAX_CONNECTIONS were open",
            self.connections_refused.clone(),
        );
        registry.register(
            "egress_connections",
            "Egress proxy connections by principal and outcome (allowed, or the rule that refused or ended one)",
            self.egress_connections.clone(),
        );
        registry.register(
            "egress_bytes",
            "Bytes through the egress proxy: sent by commands, received from destinations",
            self.egress_bytes.clone(),
        );
        let enforced = Family::<Labels, Gauge>::default();
        for (layer, on) in &self.layers {
            enforced.get_or_create(&vec![("layer", layer.clone())]).set(i64::from(*on));
        }
        registry.register("sandbox_layer_enforced", "1 when the sandbox layer is enforced for every command", enforced);
        let audit = &self.audit;
        let load = |counter: &AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
        registry.register("audit_records_written", "Audit records written", ConstCounter::new(audit.written()));
        registry.register(
            "audit_write_errors",
            "Audit records that could not be written",
            ConstCounter::new(audit.write_errors()),
        );
        registry.register(
            "audit_records_dropped",
            "Audit records dropped because the queue stayed full",
            ConstCounter::new(load(&audit.dropped)),
        );
        registry.register(
            "audit_refused_commands",
            "Commands refused because their audit record had no room",
            ConstCounter::new(load(&audit.refused_commands)),
        );
        let mut text = String::new();
        let _ = encode(&mut text, &registry);
        text
    }
}

/// Keeps a command counted in `commands_in_flight`.
pub(crate) struct InFlight(Arc<Metrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

/// Keeps a connection counted in `connections_open`.
pub(crate) struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.dec();
    }
}

/// Methods outside the protocol are counted together, so a client cannot
/// grow the label set.
fn method_label(method: &str) -> String {
    const KNOWN: &[&str] = &[
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "server/discover",
        "logging/setLevel",
        "notifications/initialized",
        "notifications/cancelled",
    ];
    if KNOWN.contains(&method) { method.to_string() } else { "other".to_string() }
}
