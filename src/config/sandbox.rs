//! Sandbox settings from flags, variables and the file, validated: layer
//! names, the user commands run as, paths, ports and rlimits.

use std::path::PathBuf;

use super::cli::RawSettings;
use super::split_list;
use crate::sandbox::{Layer, Rlimits};

/// Programs run from these directories when no allowlist narrows them.
const DEFAULT_EXEC_DIRS: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// Layers whose absence stops the start unless the operator says otherwise.
pub(crate) const DEFAULT_REQUIRED: &[Layer] = Layer::REQUIRED_BY_DEFAULT;

/// Validated sandbox configuration; paths exist and are canonical.
#[derive(Debug, Clone)]
pub(crate) struct SandboxConfig {
    pub(crate) require: Vec<Layer>,
    pub(crate) disable: Vec<Layer>,
    /// Opt-in layers switched on.
    pub(crate) enable: Vec<Layer>,
    /// uid and gid for commands when the daemon runs as root.
    pub(crate) run_as: Option<(u32, u32)>,
    pub(crate) read_paths: Vec<PathBuf>,
    pub(crate) writable_roots: Vec<PathBuf>,
    pub(crate) exec_dirs: Vec<PathBuf>,
    pub(crate) tcp_connect_ports: Vec<u16>,
    pub(crate) tcp_bind_ports: Vec<u16>,
    /// UNIX socket files reachable outside the writable roots.
    pub(crate) allowed_sockets: Vec<PathBuf>,
    pub(crate) allow_udp: bool,
    pub(crate) rlimits: Rlimits,
}

pub(crate) fn resolve(raw: &RawSettings) -> Result<SandboxConfig, String> {
    let require = match raw.sandbox_require.as_deref() {
        None => DEFAULT_REQUIRED.to_vec(),
        Some(list) => layers(list, "--sandbox-require / MCP_SANDBOX_REQUIRE")?,
    };
    let disable = layers(raw.sandbox_disable.as_deref().unwrap_or(""), "--sandbox-disable / MCP_SANDBOX_DISABLE")?;
    let enable = layers(raw.sandbox_enable.as_deref().unwrap_or(""), "--sandbox-enable / MCP_SANDBOX_ENABLE")?;
    if let Some(layer) = enable.iter().find(|layer| !layer.is_opt_in()) {
        return Err(format!(
            "invalid layer '{}' in --sandbox-enable / MCP_SANDBOX_ENABLE: it is on unless disabled; only opt-in \
             layers ({}) are enabled here",
            layer.name(),
            Layer::ALL.iter().filter(|l| l.is_opt_in()).map(|l| l.name()).collect::<Vec<_>>().join(", ")
        ));
    }
    let rlimits = Rlimits {
        cpu_seconds: raw.rlimit_cpu().get()?,
        address_space_bytes: raw.rlimit_as().get()? as u64,
        file_size_bytes: raw.rlimit_fsize().get()? as u64,
        open_files: raw.rlimit_nofile().get()?,
        processes: raw.rlimit_nproc().get()?,
    };
    Ok(SandboxConfig {
        require,
        disable,
        enable,
        run_as: run_as(raw.run_as.as_deref())?,
        read_paths: paths(raw.read_paths.as_deref(), &["/"], "--read-paths / MCP_READ_PATHS", true)?,
        writable_roots: paths(raw.writable_roots.as_deref(), &[], "--writable-roots / MCP_WRITABLE_ROOTS", true)?,
        exec_dirs: paths(raw.exec_dirs.as_deref(), DEFAULT_EXEC_DIRS, "--exec-dirs / MCP_EXEC_DIRS", false)?,
        tcp_connect_ports: ports(raw.tcp_connect_ports.as_deref(), "--tcp-connect-ports / MCP_TCP_CONNECT_PORTS")?,
        tcp_bind_ports: ports(raw.tcp_bind_ports.as_deref(), "--tcp-bind-ports / MCP_TCP_BIND_PORTS")?,
        allowed_sockets: paths(raw.allowed_sockets.as_deref(), &[], "--allowed-sockets / MCP_ALLOWED_SOCKETS", true)?,
        allow_udp: raw.allow_udp().get()?,
        rlimits,
    })
}

fn layers(list: &str, name: &str) -> Result<Vec<Layer>, String> {
    split_list(Some(list))
        .iter()
        .map(|entry| {
            Layer::parse(entry).ok_or_else(|| {
                let known: Vec<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
                format!("invalid layer '{entry}' in {name}; expected some of {}", known.join(", "))
            })
        })
        .collect()
}

/// `nobody`, `nobody:nogroup`, `65534:65534`; default nobody with its group
/// (`nogroup` where it exists), or none when the host has no such user.
fn run_as(text: Option<&str>) -> Result<Option<(u32, u32)>, String> {
    let name = "--run-as / MCP_RUN_AS";
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        let user = nix::unistd::User::from_name("nobody").ok().flatten();
        let group = nix::unistd::Group::from_name("nogroup").ok().flatten().map(|g| g.gid.as_raw());
        return Ok(user.map(|u| (u.uid.as_raw(), group.unwrap_or(u.gid.as_raw()))));
    };
    let (user, group) = text.split_once(':').map_or((text, None), |(u, g)| (u, Some(g)));
    let (uid, primary_gid) = match user.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => {
            let found = nix::unistd::User::from_name(user)
                .ok()
                .flatten()
                .ok_or_else(|| format!("invalid value '{text}' for {name}: no user '{user}' on this host"))?;
            (found.uid.as_raw(), found.gid.as_raw())
        }
    };
    let gid = match group {
        None => primary_gid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => nix::unistd::Group::from_name(group)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw())
                .ok_or_else(|| format!("invalid value '{text}' for {name}: no group '{group}' on this host"))?,
        },
    };
    if uid == 0 {
        return Err(format!("invalid value '{text}' for {name}: commands must not run as root"));
    }
    Ok(Some((uid, gid)))
}

/// Canonical existing paths; missing ones are an error when `must_exist`,
/// else skipped (a default exec dir absent on this distribution).
fn paths(text: Option<&str>, default: &[&str], name: &str, must_exist: bool) -> Result<Vec<PathBuf>, String> {
    let entries: Vec<String> = match text {
        Some(t) => split_list(Some(t)),
        None => default.iter().map(|s| s.to_string()).collect(),
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for entry in entries {
        if !entry.starts_with('/') {
            return Err(format!("invalid path '{entry}' in {name}: paths must be absolute"));
        }
        match std::fs::canonicalize(&entry) {
            Ok(path) if !out.contains(&path) => out.push(path),
            Ok(_) => {}
            Err(error) if must_exist || text.is_some() => {
                return Err(format!("invalid path '{entry}' in {name}: {error}"));
            }
            Err(_) => {}
        }
    }
    Ok(out)
}

fn ports(text: Option<&str>, name: &str) -> Result<Vec<u16>, String> {
    split_list(text)
        .iter()
        .map(|p| {
            p.parse::<u16>().map_err(|_| format!("invalid port '{p}' in {name}; expected numbers from 0 to 65535"))
        })
        .collect()
}
