//! `mcp-commander healthcheck`: asks a running daemon's `/health` and exits
//! 0 when it answers healthy, 1 otherwise. Used as the container
//! HEALTHCHECK, so images need neither curl nor wget.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::cli::RawSettings;

const TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn run(settings: &RawSettings, url: Option<&str>) -> ExitCode {
    match check(settings, url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mcp-commander healthcheck: {message}");
            ExitCode::FAILURE
        }
    }
}

fn check(settings: &RawSettings, url: Option<&str>) -> Result<(), String> {
    let (authority, path) = match url {
        Some(url) => split_url(url)?,
        None => {
            let host = settings.host.as_deref().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
            let ip: IpAddr = host.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let ip = if ip.is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { ip };
            let port = settings.port.as_deref().unwrap_or("3000");
            (
                SocketAddr::new(ip, port.parse().map_err(|_| format!("bad MCP_PORT '{port}'"))?).to_string(),
                "/health".into(),
            )
        }
    };
    let address = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {authority}"))?;
    let mut stream =
        TcpStream::connect_timeout(&address, TIMEOUT).map_err(|e| format!("cannot connect to {address}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| format!("cannot send the request: {e}"))?;
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response).map_err(|e| format!("no answer: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let status_ok = response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200");
    if status_ok && response.contains("\"healthy\"") {
        Ok(())
    } else {
        Err(format!("unhealthy answer: {}", response.lines().next().unwrap_or("(empty)")))
    }
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("only http:// URLs are supported, got '{url}'"))?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/health".to_string()), |(a, p)| (a, format!("/{p}")));
    let authority = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path))
}
