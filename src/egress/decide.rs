//! Whether a destination may be reached, and the rule that refuses it.
//!
//! A name must be listed for its port; it is resolved here, once, and
//! every address of the answer must be public or inside a listed range,
//! or the destination is refused. An IP literal (and anything
//! `getaddrinfo` would read as one, such as `127.1` or `0x7f000001`) is
//! reached only inside a listed range. The addresses returned are the
//! ones the proxy then connects to: nothing is looked up twice.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::allow::{AllowList, NameVerdict, normalize_name};
use super::ranges::refused_range;
use super::resolve::Resolver;

/// Why the proxy refused or ended a connection. The names are stable:
/// they are the audit record's `rule`, the metric's label and what a
/// refused client reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Rule {
    NotListed,
    PortNotListed,
    IpLiteral,
    RefusedRange,
    NoAddress,
    Unauthenticated,
    UnknownCall,
    WrongPrincipal,
    ConnectionsPerCall,
    ConnectionsPerPrincipal,
    /// Too many connections have not yet sent their request head.
    PendingHeads,
    BytesPerCall,
    BadRequest,
    ConnectFailed,
    IdleTimeout,
    CallEnded,
}

impl Rule {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rule::NotListed => "not_listed",
            Rule::PortNotListed => "port_not_listed",
            Rule::IpLiteral => "ip_literal",
            Rule::RefusedRange => "refused_range",
            Rule::NoAddress => "no_address",
            Rule::Unauthenticated => "unauthenticated",
            Rule::UnknownCall => "unknown_call",
            Rule::WrongPrincipal => "wrong_principal",
            Rule::ConnectionsPerCall => "connections_per_call",
            Rule::ConnectionsPerPrincipal => "connections_per_principal",
            Rule::PendingHeads => "pending_heads",
            Rule::BytesPerCall => "bytes_per_call",
            Rule::BadRequest => "bad_request",
            Rule::ConnectFailed => "connect_failed",
            Rule::IdleTimeout => "idle_timeout",
            Rule::CallEnded => "call_ended",
        }
    }

    /// The HTTP status a refused request gets.
    pub(crate) fn status(self) -> (u16, &'static str) {
        match self {
            Rule::Unauthenticated | Rule::UnknownCall => (407, "Proxy Authentication Required"),
            Rule::ConnectionsPerCall | Rule::ConnectionsPerPrincipal | Rule::PendingHeads => (429, "Too Many Requests"),
            Rule::BadRequest => (400, "Bad Request"),
            Rule::NoAddress | Rule::ConnectFailed => (502, "Bad Gateway"),
            _ => (403, "Forbidden"),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refusal: its rule and the sentence an operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) rule: Rule,
    pub(crate) reason: String,
}

impl Refusal {
    pub(crate) fn new(rule: Rule, reason: impl Into<String>) -> Refusal {
        Refusal { rule, reason: reason.into() }
    }
}

/// The addresses `host:port` may be reached at under `allow`.
pub(crate) async fn destination(
    allow: &AllowList,
    resolver: &Resolver,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Refusal> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(address) = bare.parse::<IpAddr>() {
        if allow.range(address, port) {
            return Ok(vec![SocketAddr::new(address, port)]);
        }
        return Err(Refusal::new(
            Rule::IpLiteral,
            format!(
                "{host}:{port} is an IP address, and no listed range holds it on that port; only listed names \
                 and ranges may be reached (MCP_EGRESS_ALLOW)"
            ),
        ));
    }
    let Some(name) = normalize_name(bare) else {
        return Err(Refusal::new(Rule::BadRequest, format!("'{host}' is not a host name")));
    };
    if looks_numeric(&name) {
        return Err(Refusal::new(
            Rule::IpLiteral,
            format!("{name}:{port} is an address written as a number; only listed names may be reached"),
        ));
    }
    match allow.name(&name, port) {
        NameVerdict::Allowed => {}
        NameVerdict::NotListed => {
            return Err(Refusal::new(
                Rule::NotListed,
                format!("{name}:{port} is not in this principal's egress allowlist (MCP_EGRESS_ALLOW)"),
            ));
        }
        NameVerdict::PortNotListed => {
            return Err(Refusal::new(
                Rule::PortNotListed,
                format!("{name} is listed, but not for port {port} (MCP_EGRESS_ALLOW: name:port; 443 unless written)"),
            ));
        }
    }
    let addresses = resolver
        .lookup(&name, port)
        .await
        .map_err(|e| Refusal::new(Rule::NoAddress, format!("{name} did not resolve: {e}")))?;
    for address in &addresses {
        if let Some(range) = refused_range(*address).filter(|_| !allow.range(*address, port)) {
            return Err(Refusal::new(
                Rule::RefusedRange,
                format!(
                    "{name} resolves to {address}, in the {range} range, which is refused unless a range holding \
                     it is listed (MCP_EGRESS_ALLOW)"
                ),
            ));
        }
    }
    Ok(addresses.into_iter().map(|address| SocketAddr::new(address, port)).collect())
}

/// A name whose last label is a number: `getaddrinfo` reads `127.1`,
/// `2130706433` and `0x7f.1` as IPv4 addresses, and no top-level domain is
/// numeric.
fn looks_numeric(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(items: &[&str]) -> AllowList {
        AllowList::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "test").unwrap()
    }

    fn map(lines: &str) -> Resolver {
        let path = std::env::temp_dir().join(format!("egress-decide-{}-{}", std::process::id(), lines.len()));
        std::fs::write(&path, lines).unwrap();
        let resolver = Resolver::from_map(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        resolver
    }

    async fn rule(allow: &AllowList, resolver: &Resolver, host: &str, port: u16) -> Rule {
        destination(allow, resolver, host, port).await.unwrap_err().rule
    }

    #[tokio::test]
    async fn a_listed_name_with_public_addresses_is_reached_at_exactly_those() {
        let resolver = map("github.com 140.82.112.3,2606:50c0::1\n");
        let found = destination(&allow(&["github.com"]), &resolver, "GitHub.com.", 443).await.unwrap();
        assert_eq!(found, ["140.82.112.3:443".parse().unwrap(), "[2606:50c0::1]:443".parse().unwrap()]);
    }

    #[tokio::test]
    async fn names_not_listed_ports_not_listed_and_literals_are_refused() {
        let resolver = map("github.com 140.82.112.3\n");
        let list = allow(&["github.com"]);
        assert_eq!(rule(&list, &resolver, "gitlab.com", 443).await, Rule::NotListed);
        assert_eq!(rule(&list, &resolver, "github.com", 22).await, Rule::PortNotListed);
        for literal in ["140.82.112.3", "169.254.169.254", "[fd00:ec2::254]", "::1", "127.1", "2130706433", "0x7f.1"] {
            assert_eq!(rule(&list, &resolver, literal, 443).await, Rule::IpLiteral, "{literal}");
        }
        assert_eq!(rule(&list, &resolver, "bad name", 443).await, Rule::BadRequest);
    }

    #[tokio::test]
    async fn a_listed_name_resolving_into_a_refused_range_is_refused_unless_the_range_is_listed() {
        let resolver = map("meta.test 169.254.169.254\nmixed.test 140.82.112.3,10.0.0.5\nlocal.test 127.0.0.1\n");
        let list = allow(&["meta.test", "mixed.test", "local.test"]);
        assert_eq!(rule(&list, &resolver, "meta.test", 443).await, Rule::RefusedRange);
        assert_eq!(rule(&list, &resolver, "mixed.test", 443).await, Rule::RefusedRange, "one bad address refuses all");
        assert_eq!(rule(&list, &resolver, "local.test", 443).await, Rule::RefusedRange);
        let with_range = allow(&["local.test", "127.0.0.1/32"]);
        assert!(destination(&with_range, &resolver, "local.test", 443).await.is_ok());
        assert!(destination(&with_range, &resolver, "127.0.0.1", 443).await.is_ok(), "a listed range's literal");
        assert_eq!(rule(&with_range, &resolver, "local.test", 8443).await, Rule::PortNotListed);
    }

    #[tokio::test]
    async fn each_connection_is_judged_on_its_own_lookup() {
        let resolver = map("rebind.test 127.0.0.1\nrebind.test 127.0.0.2\n");
        let list = allow(&["rebind.test", "127.0.0.1/32"]);
        assert_eq!(
            destination(&list, &resolver, "rebind.test", 443).await.unwrap(),
            ["127.0.0.1:443".parse().unwrap()]
        );
        assert_eq!(rule(&list, &resolver, "rebind.test", 443).await, Rule::RefusedRange);
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_no_address() {
        assert_eq!(rule(&allow(&["gone.test"]), &map("other.test 1.1.1.1\n"), "gone.test", 443).await, Rule::NoAddress);
    }
}
