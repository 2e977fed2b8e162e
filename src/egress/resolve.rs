//! Name resolution for the proxy: the system's resolver, or, in tests, a
//! name map (`MCP_EGRESS_TEST_HOSTS`) that points test names at loopback
//! listeners and can change its answer from one lookup to the next, as a
//! rebinding DNS server would.
//!
//! The proxy resolves once per connection and connects only to an address
//! of that answer, so what it checked is what it reaches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

/// Where names are looked up.
#[derive(Debug)]
pub(crate) enum Resolver {
    System,
    /// Test names only: each name's answers in order, the last repeating;
    /// and how many lookups of each name were made.
    Map {
        answers: HashMap<String, Vec<Vec<IpAddr>>>,
        lookups: Mutex<HashMap<String, usize>>,
    },
}

impl Resolver {
    /// The name map in `path`: lines of `name addr[,addr...]`, `#`
    /// comments; a name on several lines answers with each line in turn.
    pub(crate) fn from_map(path: &Path) -> Result<Resolver, String> {
        let label = format!("MCP_EGRESS_TEST_HOSTS {}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| format!("{label}: {e}"))?;
        let mut answers: HashMap<String, Vec<Vec<IpAddr>>> = HashMap::new();
        for line in text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()) {
            let (name, addresses) =
                line.split_once(char::is_whitespace).ok_or_else(|| format!("{label}: '{line}' has no address"))?;
            let name = super::allow::normalize_name(name).ok_or_else(|| format!("{label}: '{name}' is not a name"))?;
            let addresses = addresses
                .split(',')
                .map(|a| a.trim().parse().map_err(|_| format!("{label}: '{a}' is not an IP address")))
                .collect::<Result<Vec<IpAddr>, _>>()?;
            answers.entry(name).or_default().push(addresses);
        }
        Ok(Resolver::Map { answers, lookups: Mutex::new(HashMap::new()) })
    }

    /// The addresses of `name` (already normalized), in the resolver's order.
    pub(crate) async fn lookup(&self, name: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        match self {
            Resolver::System => {
                let found = tokio::net::lookup_host((name, port)).await.map_err(|e| e.to_string())?;
                let mut addresses: Vec<IpAddr> = found.map(|a| a.ip()).collect();
                addresses.dedup();
                if addresses.is_empty() {
                    return Err("no address".into());
                }
                Ok(addresses)
            }
            Resolver::Map { answers, lookups } => {
                let Some(lines) = answers.get(name) else { return Err("not in the test name map".into()) };
                let mut lookups = lookups.lock().unwrap_or_else(|p| p.into_inner());
                let count = lookups.entry(name.to_string()).or_default();
                let answer = lines[(*count).min(lines.len() - 1)].clone();
                *count += 1;
                Ok(answer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Resolver;

    #[tokio::test]
    async fn a_name_on_two_lines_answers_each_in_turn_then_repeats_the_last() {
        let path = std::env::temp_dir().join(format!("egress-map-{}", std::process::id()));
        std::fs::write(&path, "# test names\nok.test 127.0.0.1\nrebind.test 127.0.0.1\nrebind.test 127.0.0.2, ::1\n")
            .unwrap();
        let resolver = Resolver::from_map(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let ip = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(resolver.lookup("ok.test", 443).await.unwrap(), [ip("127.0.0.1")]);
        assert_eq!(resolver.lookup("rebind.test", 443).await.unwrap(), [ip("127.0.0.1")]);
        assert_eq!(resolver.lookup("rebind.test", 443).await.unwrap(), [ip("127.0.0.2"), ip("::1")]);
        assert_eq!(resolver.lookup("rebind.test", 443).await.unwrap(), [ip("127.0.0.2"), ip("::1")]);
        assert!(resolver.lookup("other.test", 443).await.is_err());
    }

    #[test]
    fn a_bad_map_line_is_refused() {
        let path = std::env::temp_dir().join(format!("egress-bad-map-{}", std::process::id()));
        std::fs::write(&path, "ok.test not-an-address\n").unwrap();
        let error = Resolver::from_map(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains("'not-an-address' is not an IP address"), "{error}");
    }
}
