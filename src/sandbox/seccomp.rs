//! seccomp: the system calls Landlock cannot judge, denied with EPERM (never
//! a kill, so a command sees an ordinary error and its output is kept).
//!
//! Denied: sockets other than UNIX and TCP (UDP, raw, packet, netlink,
//! vsock, MPTCP; UDP can be allowed), io_uring (it bypasses the syscall
//! filter), ptrace and cross-process memory access, namespace creation
//! (`unshare`, `setns`, `clone` with namespace flags; `clone3`, whose flags
//! a filter cannot read, gets ENOSYS so libc falls back to `clone`),
//! leaving the process group (`setsid`, `setpgid`), and the administrative
//! calls (mount, pivot_root, kexec, bpf, perf_event_open, keyrings,
//! modules, ...).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond, SeccompFilter,
    SeccompRule, TargetArch,
};

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// Namespace flags refused in `clone`.
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
    0x80, // CLONE_NEWTIME
];

/// Calls denied outright.
const DENIED: &[libc::c_long] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_setsid,
    libc::SYS_setpgid,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_userfaultfd,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_personality,
    libc::SYS_fanotify_init,
];

/// What the filter lets through beyond the default.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeccompOptions {
    /// Allow UDP sockets (`SOCK_DGRAM` in `AF_INET`/`AF_INET6`).
    pub(crate) allow_udp: bool,
}

/// The two compiled programs: the main EPERM filter and the `clone3`
/// ENOSYS filter. Invariant: immutable; children read them through
/// `sock_fprog` pointers.
#[derive(Debug)]
pub(crate) struct Filters {
    pub(crate) main: BpfProgram,
    pub(crate) clone3: BpfProgram,
}

pub(crate) fn prepare(options: SeccompOptions) -> Result<Filters, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in DENIED {
        rules.insert(*call, Vec::new());
    }
    rules.insert(libc::SYS_socket, socket_rules(options).map_err(|e| e.to_string())?);
    rules.insert(libc::SYS_socketpair, vec![rule(vec![cond(0, Op::Ne, libc::AF_UNIX as u64)?])?]);
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|flag| rule(vec![cond(0, Op::MaskedEq(*flag as u64), *flag as u64)?]))
        .collect::<Result<Vec<_>, String>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    let main = compile(rules, libc::EPERM)?;
    let clone3 = compile(BTreeMap::from([(libc::SYS_clone3, Vec::new())]), libc::ENOSYS)?;
    Ok(Filters { main, clone3 })
}

/// Deny every socket that is not UNIX, or TCP over IPv4/IPv6 (UDP too when
/// allowed): other families, other socket types (the low nibble of the
/// type; SOCK_NONBLOCK and SOCK_CLOEXEC live above it), and protocols other
/// than the default, TCP and UDP (so no MPTCP or SCTP, which Landlock's TCP
/// rules do not cover).
fn socket_rules(options: SeccompOptions) -> Result<Vec<SeccompRule>, String> {
    let (unix, inet, inet6) = (libc::AF_UNIX as u64, libc::AF_INET as u64, libc::AF_INET6 as u64);
    let mut rules = vec![rule(vec![cond(0, Op::Ne, unix)?, cond(0, Op::Ne, inet)?, cond(0, Op::Ne, inet6)?])?];
    let mut kinds = vec![libc::SOCK_STREAM as u64];
    let mut protocols = vec![0, libc::IPPROTO_TCP as u64];
    if options.allow_udp {
        kinds.push(libc::SOCK_DGRAM as u64);
        protocols.push(libc::IPPROTO_UDP as u64);
    }
    for family in [inet, inet6] {
        for kind in (0..16u64).filter(|k| !kinds.contains(k)) {
            rules.push(rule(vec![cond(0, Op::Eq, family)?, cond(1, Op::MaskedEq(0xf), kind)?])?);
        }
        let mut other_protocol = vec![cond(0, Op::Eq, family)?];
        for protocol in &protocols {
            other_protocol.push(cond(2, Op::Ne, *protocol)?);
        }
        rules.push(rule(other_protocol)?);
    }
    Ok(rules)
}

fn cond(arg: u8, op: Op, value: u64) -> Result<Cond, String> {
    Cond::new(arg, Len::Dword, op, value).map_err(|e| e.to_string())
}

fn rule(conditions: Vec<Cond>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| e.to_string())
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: libc::c_int) -> Result<BpfProgram, String> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno as u32), ARCH)
        .map_err(|e| format!("cannot build the seccomp filter: {e}"))?;
    filter.try_into().map_err(|e: seccompiler::BackendError| format!("cannot compile the seccomp filter: {e}"))
}
