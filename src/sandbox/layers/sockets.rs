//! The sockets layer: the broker (`broker.rs`) performs every connect and
//! listen of a command on its own copy of the address, under the rules of
//! the command's cell prepared here. Nothing happens in the child but the
//! seccomp notification that hands the call over.

use std::sync::Arc;

use super::{Build, Layer, Spec};
use crate::sandbox::process::{CAP_SYS_PTRACE, has_capability};
use crate::sandbox::sockets::SocketRules;
use crate::sandbox::{CellSettings, broker};

pub(super) const SPEC: Spec =
    Spec { layer: Layer::Sockets, name: "sockets", required_by_default: true, opt_in: None, stages: &[], prepare };

fn prepare(build: &mut Build) -> Result<String, String> {
    broker::start()?;
    if build.cells.iter().any(|cell| cell.switch_user) && !has_capability(CAP_SYS_PTRACE) {
        return Err("the daemon lacks CAP_SYS_PTRACE, which it needs to take the sockets of commands running \
                    under other uids (list SYS_PTRACE in the container's capabilities)"
            .into());
    }
    for (owner, (cell, configured)) in build.cells.iter_mut().zip(&build.settings.cells).enumerate() {
        let credentials = cell.switch_user.then_some((cell.uid, cell.gid));
        cell.sockets = Some(Arc::new(socket_rules(configured, credentials, owner)));
    }
    Ok(describe(build.cells.first().and_then(|c| c.sockets.as_deref())))
}

/// What the broker lets commands of one cell reach.
fn socket_rules(settings: &CellSettings, credentials: Option<(u32, u32)>, owner: usize) -> SocketRules {
    let (unix_dirs, unix_sockets) =
        SocketRules::unix_reach(&settings.landlock.writable_roots, &settings.allowed_sockets);
    SocketRules {
        // Landlock's list holds the egress proxy's port too; the broker
        // lets that port through only at the proxy's address.
        tcp_connect_ports: settings
            .landlock
            .tcp_connect_ports
            .iter()
            .copied()
            .filter(|port| Some(*port) != settings.egress_proxy)
            .collect(),
        tcp_bind_ports: settings.landlock.tcp_bind_ports.clone(),
        unix_dirs,
        unix_sockets,
        credentials,
        owner,
        egress_proxy: settings.egress_proxy,
    }
}

fn describe(rules: Option<&SocketRules>) -> String {
    let Some(rules) = rules else { return "no cell".into() };
    let ports = |ports: &[u16]| {
        if ports.is_empty() {
            "none".to_string()
        } else {
            ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
        }
    };
    let listed = if rules.unix_sockets.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = rules.unix_sockets.iter().map(|p| p.display().to_string()).collect();
        format!(" and {}", names.join(", "))
    };
    format!(
        "connect and listen performed by the daemon on its copy of the address: TCP connect to ports {}, TCP \
         listen on ports {} (never on an unbound socket), UNIX sockets only beneath the writable roots{listed} \
         (checked as the command's user), abstract UNIX sockets refused",
        ports(&rules.tcp_connect_ports),
        ports(&rules.tcp_bind_ports)
    )
}
