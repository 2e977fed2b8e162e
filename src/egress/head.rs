//! A proxy request's head: `CONNECT host:port` or a plain HTTP request
//! with an absolute `http://` URI, its headers, and the credentials of
//! `Proxy-Authorization: Basic`. A forwarded request's head is rewritten
//! to origin form, without the proxy's own headers, with the Host of its
//! URI and `Connection: close` (one request per proxy connection).

use base64::Engine;

/// Largest request head read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A tunnel to `host:port`.
    Connect,
    /// A request forwarded to `host:port`, for `path`.
    Forward { path: String },
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) method: String,
    /// The host as written (brackets kept for IPv6), lower-case.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) target: Target,
    headers: Vec<(String, String)>,
}

/// The end of the head in `buffer` (the index after its blank line).
pub(crate) fn head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

impl Head {
    /// Parses the head (`buffer` up to and including its blank line).
    pub(crate) fn parse(buffer: &[u8]) -> Result<Head, String> {
        let text = std::str::from_utf8(buffer).map_err(|_| "the request head is not text".to_string())?;
        let mut lines = text.split("\r\n");
        let line = lines.next().unwrap_or_default();
        let mut parts = line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("'{}' is not an HTTP request line", crate::policy::shorten(line)));
        };
        if !version.starts_with("HTTP/1.") || method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("'{}' is not an HTTP/1 request line", crate::policy::shorten(line)));
        }
        let mut headers = Vec::new();
        for header in lines.filter(|l| !l.is_empty()) {
            let (name, value) = header.split_once(':').ok_or_else(|| "a header line has no ':'".to_string())?;
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
                return Err("a header name holds white space".into());
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err("a header value holds a bare CR, LF or NUL".into());
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let (authority, target, default_port) = if method == "CONNECT" {
            (target, Target::Connect, None)
        } else {
            let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("HTTP://")).ok_or_else(|| {
                format!(
                    "{method} {}: a proxy request names an absolute http:// URI (https goes through CONNECT)",
                    crate::policy::shorten(target)
                )
            })?;
            let (authority, path) = rest.find(['/', '?']).map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
            let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
            (authority, Target::Forward { path }, Some(80))
        };
        let (host, port) = authority_parts(authority, default_port)?;
        Ok(Head { method: method.to_string(), host, port, target, headers })
    }

    /// The secret of `Proxy-Authorization: Basic` (its password; the user
    /// name is ignored), if any.
    pub(crate) fn secret(&self) -> Option<String> {
        let value = self.header("proxy-authorization")?;
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        Some(text.split_once(':').map_or(text.as_str(), |(_, password)| password).to_string())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The head to send to the origin server of a forwarded request.
    pub(crate) fn forwarded(&self) -> Vec<u8> {
        let Target::Forward { path } = &self.target else { return Vec::new() };
        let hop = ["proxy-authorization", "proxy-connection", "connection", "keep-alive", "host"];
        let mut head = format!("{} {path} HTTP/1.1\r\n", self.method);
        let host = if self.port == 80 { self.host.clone() } else { format!("{}:{}", self.host, self.port) };
        head.push_str(&format!("Host: {host}\r\n"));
        for (name, value) in self.headers.iter().filter(|(n, _)| !hop.iter().any(|h| n.eq_ignore_ascii_case(h))) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }
}

impl Head {
    /// The length of a forwarded request's body: its `Content-Length`, or 0.
    /// A chunked body is refused: its end would have to be parsed to keep
    /// the next request on the connection from following it unchecked.
    pub(crate) fn body_length(&self) -> Result<u64, String> {
        if self.header("transfer-encoding").is_some() {
            return Err(format!(
                "{} http://{}:{}: a chunked request body is not forwarded; send a Content-Length, or use https \
                 (CONNECT)",
                self.method, self.host, self.port
            ));
        }
        let mut lengths = self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        let length = match (lengths.next(), lengths.next()) {
            (None, _) => return Ok(0),
            (Some((_, value)), None) => value,
            (Some(_), Some(_)) => return Err("a request with two Content-Length headers".into()),
        };
        length.parse::<u64>().map_err(|_| format!("Content-Length '{length}' is not a number"))
    }
}

/// A response head with `Connection: close` instead of whatever it said,
/// so the client opens a new connection (checked anew) for its next
/// request. `head` ends with its blank line.
pub(crate) fn closing_response(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(&head[..head.len().saturating_sub(4)]);
    let hop = ["connection", "keep-alive", "proxy-connection"];
    let mut out = String::with_capacity(head.len() + 19);
    for (i, line) in text.split("\r\n").enumerate() {
        let name = line.split(':').next().unwrap_or_default().trim();
        if i > 0 && hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// `host:port`, `[v6]:port`, or a host alone when a default port applies.
fn authority_parts(authority: &str, default_port: Option<u16>) -> Result<(String, u16), String> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host).to_ascii_lowercase();
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority.as_str(), None),
    };
    let port = match (port, default_port) {
        (Some(port), _) => {
            port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("'{authority}': bad port"))?
        }
        (None, Some(default)) => default,
        (None, None) => return Err(format!("CONNECT {authority}: the target must be host:port")),
    };
    if host.is_empty() {
        return Err(format!("'{authority}' names no host"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_names_host_and_port_and_carries_the_secret() {
        let head = Head::parse(
            b"CONNECT GitHub.com:443 HTTP/1.1\r\nHost: github.com:443\r\nProxy-Authorization: Basic bWNwOnMzY3JldA==\r\n\r\n",
        )
        .unwrap();
        assert_eq!((head.host.as_str(), head.port, &head.target), ("github.com", 443, &Target::Connect));
        assert_eq!(head.secret().as_deref(), Some("s3cret"));
        let v6 = Head::parse(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 8443));
    }

    #[test]
    fn a_forwarded_request_goes_out_in_origin_form_without_the_proxy_headers() {
        let head = Head::parse(
            b"GET http://pypi.test:8080/simple/demo/?x=1 HTTP/1.1\r\nHost: evil.test\r\nProxy-Authorization: Basic eDp5\r\n\
              Proxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n",
        )
        .unwrap();
        assert_eq!((head.host.as_str(), head.port), ("pypi.test", 8080));
        assert_eq!(
            String::from_utf8(head.forwarded()).unwrap(),
            "GET /simple/demo/?x=1 HTTP/1.1\r\nHost: pypi.test:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let bare = Head::parse(b"HEAD http://example.com HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!((bare.port, bare.target.clone()), (80, Target::Forward { path: "/".into() }));
        assert_eq!(bare.secret(), None);
    }

    #[test]
    fn a_forwarded_body_is_measured_and_the_response_closes_the_connection() {
        let parse = |text: &str| Head::parse(text.as_bytes()).unwrap();
        assert_eq!(parse("GET http://a/ HTTP/1.1\r\n\r\n").body_length(), Ok(0));
        assert_eq!(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 12\r\n\r\n").body_length(), Ok(12));
        assert!(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").body_length().is_err());
        assert!(
            parse("POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").body_length().is_err()
        );
        let response =
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            String::from_utf8(closing_response(response)).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn malformed_heads_are_refused_with_a_reason() {
        for (bad, says) in [
            (&b"CONNECT github.com HTTP/1.1\r\n\r\n"[..], "host:port"),
            (b"GET /local HTTP/1.1\r\n\r\n", "absolute http:// URI"),
            (b"GET https://github.com/ HTTP/1.1\r\n\r\n", "CONNECT"),
            (b"CONNECT github.com:0 HTTP/1.1\r\n\r\n", "bad port"),
            (b"CONNECT :443 HTTP/1.1\r\n\r\n", "names no host"),
            (b"hello\r\n\r\n", "not an HTTP request line"),
            (b"CONNECT a:1 HTTP/1.1\r\nBad Header: x\r\n\r\n", "white space"),
            (b"GET http://a/ HTTP/1.1\r\nX-A: 1\nInjected: yes\r\n\r\n", "bare CR, LF"),
        ] {
            let error = Head::parse(bad).unwrap_err();
            assert!(error.contains(says), "{}: {error}", String::from_utf8_lossy(bad));
        }
    }
}
