//! The egress allowlist (`MCP_EGRESS_ALLOW`, a principal's `egress_allow`):
//! host names, `*.` suffixes and address ranges, each with a port (443
//! unless written, `*` for any).
//!
//! A listed name says where a command may go by name. A listed range says
//! which addresses may be reached: as IP literals, and as what a listed
//! name resolves to even inside a range the proxy otherwise refuses
//! (loopback, private...). A principal's list narrows the daemon's: each
//! of its entries must be covered by one of the daemon's.

use std::fmt;
use std::net::IpAddr;

use crate::audit::in_network;

/// Port of an entry that writes none.
pub(crate) const DEFAULT_PORT: u16 = 443;

/// What an entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// One name, lower-case, without a trailing dot.
    Exact(String),
    /// Any name strictly beneath this one (`*.example.com` is `example.com`).
    Suffix(String),
    /// Every address of a network: its base address and prefix length.
    Range(IpAddr, u8),
}

/// The ports of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ports {
    One(u16),
    Any,
}

impl Ports {
    fn allows(self, port: u16) -> bool {
        match self {
            Ports::One(one) => one == port,
            Ports::Any => true,
        }
    }

    fn covers(self, other: Ports) -> bool {
        match (self, other) {
            (Ports::Any, _) => true,
            (Ports::One(a), Ports::One(b)) => a == b,
            (Ports::One(_), Ports::Any) => false,
        }
    }
}

/// One entry, as written by the operator (normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    host: Host,
    ports: Ports,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = match self.ports {
            Ports::One(port) => port.to_string(),
            Ports::Any => "*".into(),
        };
        match &self.host {
            Host::Exact(name) => write!(f, "{name}:{port}"),
            Host::Suffix(suffix) => write!(f, "*.{suffix}:{port}"),
            Host::Range(IpAddr::V6(address), bits) => write!(f, "[{address}]/{bits}:{port}"),
            Host::Range(address, bits) => write!(f, "{address}/{bits}:{port}"),
        }
    }
}

impl Entry {
    /// Parses one entry; the error says what is wrong in operator's words.
    pub(crate) fn parse(text: &str) -> Result<Entry, String> {
        let text = text.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err("an empty entry".into());
        }
        // A bare address or network: `10.0.0.0/8`, `::1`, `fd00::/8`.
        if let Some(host) = range(&text) {
            return Ok(Entry { host, ports: Ports::One(DEFAULT_PORT) });
        }
        let (host, ports) = match text.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(port, &text)?),
            None => (text.as_str(), Ports::One(DEFAULT_PORT)),
        };
        let unbracketed = host.strip_prefix('[').map(|h| h.replacen(']', "", 1));
        if let Some(host) = range(unbracketed.as_deref().unwrap_or(host)) {
            return Ok(Entry { host, ports });
        }
        if host.contains(':') || host.contains('[') {
            return Err(format!("'{text}': an IPv6 address with a port is written in brackets, as [::1]:443"));
        }
        let host = match host.strip_prefix("*.") {
            Some(suffix) => Host::Suffix(name(suffix, &text)?),
            None => Host::Exact(name(host, &text)?),
        };
        Ok(Entry { host, ports })
    }

    /// Whether this entry allows everything `other` does.
    fn covers(&self, other: &Entry) -> bool {
        let hosts = match (&self.host, &other.host) {
            (Host::Exact(a), Host::Exact(b)) => a == b,
            (Host::Suffix(a), Host::Exact(b)) => beneath(b, a),
            (Host::Suffix(a), Host::Suffix(b)) => a == b || beneath(b, a),
            (Host::Range(a, abits), Host::Range(b, bbits)) => abits <= bbits && in_network(*b, *a, *abits),
            _ => false,
        };
        hosts && self.ports.covers(other.ports)
    }

    fn matches_name(&self, name: &str) -> bool {
        match &self.host {
            Host::Exact(exact) => exact == name,
            Host::Suffix(suffix) => beneath(name, suffix),
            Host::Range(..) => false,
        }
    }

    fn holds(&self, address: IpAddr) -> bool {
        matches!(self.host, Host::Range(network, bits) if in_network(address, network, bits))
    }
}

/// A list of entries. Empty: no egress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowList {
    entries: Vec<Entry>,
}

/// What the list says of a name and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameVerdict {
    Allowed,
    /// The name is listed, on other ports.
    PortNotListed,
    NotListed,
}

impl AllowList {
    /// Parses the entries of `items`; `label` names the setting in errors.
    pub(crate) fn parse(items: &[String], label: &str) -> Result<AllowList, String> {
        let entries = items
            .iter()
            .filter(|item| !item.trim().is_empty())
            .map(|item| Entry::parse(item).map_err(|e| format!("{label}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { entries })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A principal's own list (`None`: the daemon's), each entry covered
    /// by one of this list's.
    pub(crate) fn narrowed(&self, own: Option<&[String]>, label: &str) -> Result<AllowList, String> {
        let Some(own) = own else { return Ok(self.clone()) };
        let list = AllowList::parse(own, label)?;
        if let Some(entry) = list.entries.iter().find(|entry| !self.entries.iter().any(|d| d.covers(entry))) {
            return Err(format!("{label}: {entry} is not covered by the daemon's MCP_EGRESS_ALLOW"));
        }
        Ok(list)
    }

    /// What the list says of reaching `name` on `port` by name.
    pub(crate) fn name(&self, name: &str, port: u16) -> NameVerdict {
        let mut named = self.entries.iter().filter(|entry| entry.matches_name(name)).peekable();
        if named.peek().is_none() {
            return NameVerdict::NotListed;
        }
        if named.any(|entry| entry.ports.allows(port)) { NameVerdict::Allowed } else { NameVerdict::PortNotListed }
    }

    /// Whether a listed range holds `address` on `port`.
    pub(crate) fn range(&self, address: IpAddr, port: u16) -> bool {
        self.entries.iter().any(|entry| entry.ports.allows(port) && entry.holds(address))
    }

    /// The entries, normalized, as an agent or an operator reads them.
    pub(crate) fn entries(&self) -> Vec<String> {
        self.entries.iter().map(Entry::to_string).collect()
    }
}

/// A host name, as DNS writes it: lower-case labels of letters, digits,
/// `-` and `_`, without a trailing dot.
pub(crate) fn normalize_name(text: &str) -> Option<String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(name)
}

fn name(text: &str, entry: &str) -> Result<String, String> {
    normalize_name(text).ok_or_else(|| {
        format!("'{entry}' is not a host name, a `*.` suffix or an address range (names are letters, digits, '-')")
    })
}

fn parse_port(text: &str, entry: &str) -> Result<Ports, String> {
    if text == "*" {
        return Ok(Ports::Any);
    }
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Ports::One(port)),
        _ => Err(format!("'{entry}': the port must be a number from 1 to 65535, or *")),
    }
}

fn range(text: &str) -> Option<Host> {
    let looks_like_address = text.bytes().all(|b| b.is_ascii_hexdigit() || b".:/".contains(&b));
    if !looks_like_address || !text.bytes().any(|b| b == b'.' || b == b':') {
        return None;
    }
    let (address, bits) = crate::audit::parse_network(text).ok()?;
    Some(Host::Range(address, bits))
}

/// Whether `name` lies strictly beneath `suffix`.
fn beneath(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() + 1 && name.ends_with(suffix) && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> AllowList {
        AllowList::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "test").unwrap()
    }

    #[test]
    fn entries_parse_into_names_suffixes_and_ranges_with_443_by_default() {
        let parsed = list(&["GitHub.com.", "*.githubusercontent.com", "pypi.test:8080", "example.org:*"]);
        assert_eq!(
            parsed.entries(),
            ["github.com:443", "*.githubusercontent.com:443", "pypi.test:8080", "example.org:*"]
        );
        let ranges = list(&["127.0.0.1", "10.0.0.0/8:8443", "::1", "fd00::/8", "[::1]:80", "[fd00::]/8:*"]);
        assert_eq!(
            ranges.entries(),
            ["127.0.0.1/32:443", "10.0.0.0/8:8443", "[::1]/128:443", "[fd00::]/8:443", "[::1]/128:80", "[fd00::]/8:*"]
        );
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        for (bad, says) in [
            ("exa mple.com", "not a host name"),
            ("*.", "not a host name"),
            ("a.*.com", "not a host name"),
            ("example.com:0", "port must be"),
            ("example.com:99999", "port must be"),
            ("example.com:http", "port must be"),
            ("10.0.0.0/33", "not a host name"),
            ("fe80::1%eth0:443", "brackets"),
        ] {
            let error = Entry::parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn a_suffix_matches_names_strictly_beneath_it_and_ports_must_match() {
        let allow = list(&["github.com", "*.githubusercontent.com", "pypi.test:8080"]);
        assert_eq!(allow.name("github.com", 443), NameVerdict::Allowed);
        assert_eq!(allow.name("raw.githubusercontent.com", 443), NameVerdict::Allowed);
        assert_eq!(allow.name("githubusercontent.com", 443), NameVerdict::NotListed);
        assert_eq!(allow.name("evilgithubusercontent.com", 443), NameVerdict::NotListed);
        assert_eq!(allow.name("api.github.com", 443), NameVerdict::NotListed);
        assert_eq!(allow.name("github.com", 80), NameVerdict::PortNotListed);
        assert_eq!(allow.name("pypi.test", 8080), NameVerdict::Allowed);
        assert_eq!(allow.name("pypi.test", 443), NameVerdict::PortNotListed);
    }

    #[test]
    fn a_range_holds_its_addresses_on_its_port_including_mapped_ipv6() {
        let allow = list(&["127.0.0.1:8443", "10.0.0.0/8:*"]);
        assert!(allow.range("127.0.0.1".parse().unwrap(), 8443));
        assert!(!allow.range("127.0.0.1".parse().unwrap(), 443));
        assert!(!allow.range("127.0.0.2".parse().unwrap(), 8443));
        assert!(allow.range("::ffff:127.0.0.1".parse().unwrap(), 8443));
        assert!(allow.range("10.200.1.1".parse().unwrap(), 22));
        assert!(!allow.range("11.0.0.1".parse().unwrap(), 22));
    }

    #[test]
    fn a_principal_list_must_be_covered_by_the_daemons() {
        let daemon = list(&["github.com", "*.example.com:*", "10.0.0.0/8"]);
        let own = |items: &[&str]| daemon.narrowed(Some(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>()), "p");
        assert!(own(&["github.com", "api.example.com:8080", "*.a.example.com", "10.1.0.0/16"]).is_ok());
        assert_eq!(own(&[]).unwrap(), AllowList::default());
        assert!(own(&["github.com:80"]).unwrap_err().contains("github.com:80 is not covered"));
        assert!(own(&["example.com"]).is_err());
        assert!(own(&["*.github.com"]).is_err());
        assert!(own(&["10.0.0.0/7"]).is_err());
        assert!(own(&["10.0.0.0/8:*"]).is_err());
        assert_eq!(daemon.narrowed(None, "p").unwrap(), daemon);
    }
}
