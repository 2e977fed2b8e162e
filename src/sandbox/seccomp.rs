//! seccomp: the system calls Landlock cannot judge, denied with EPERM (never
//! a kill, so a command sees an ordinary error and its output is kept).
//!
//! Denied: sockets other than UNIX and TCP (UDP, raw, packet, netlink,
//! vsock, MPTCP, SCTP; UDP can be allowed), io_uring (it bypasses the
//! syscall filter), ptrace and cross-process memory and fd access,
//! namespace creation (`unshare`, `setns`, `clone` with namespace flags;
//! `clone3`, whose flags a filter cannot read, gets ENOSYS so libc falls
//! back to `clone`), leaving the process group (`setsid`, `setpgid`), and
//! the administrative calls (mount, pivot_root, kexec, bpf,
//! perf_event_open, keyrings, modules, ...). Foreign-ABI calls (x32, or an
//! unexpected architecture) are denied too.
//!
//! The program is assembled here rather than by a rule compiler: the
//! kernel validates and JIT-compiles it on every spawn, and that cost grows
//! with its length. Measured here: a seccompiler program of 571
//! instructions added about 300 µs to each spawn; this one has about 100,
//! and an allowed call walks a binary search over the denied numbers
//! instead of comparing against each of them.

/// One BPF instruction (`struct sock_filter`).
pub(crate) type Instruction = libc::sock_filter;

/// What the filter lets through beyond the default.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeccompOptions {
    /// Allow UDP sockets (`SOCK_DGRAM` in `AF_INET`/`AF_INET6`).
    pub(crate) allow_udp: bool,
}

/// The compiled program. Invariant: immutable; children read it through a
/// `sock_fprog` pointer.
#[derive(Debug)]
pub(crate) struct Filter {
    pub(crate) program: Vec<Instruction>,
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// x32 system calls on x86_64 carry this bit.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Namespace flags refused in `clone`.
const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP
    | 0x80/* CLONE_NEWTIME */) as u32;

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

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
/// Low 32 bits of argument `n` (little-endian).
const fn offset_arg(n: u32) -> u32 {
    16 + 8 * n
}

/// Where a jump lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Next,
    Allow,
    Deny,
    NoSys,
    Socket,
    Inet,
    Protocol,
    SocketPair,
    Clone,
    /// After the denied-call search.
    Special,
    /// An inner node of the denied-call search tree.
    Node(usize),
}

/// An instruction before jump offsets are resolved.
enum Op {
    Load(u32),
    And(u32),
    JumpIfEqual(u32, Label, Label),
    JumpIfGreaterOrEqual(u32, Label, Label),
    Jump(Label),
    Return(u32),
    Mark(Label),
}

pub(crate) fn prepare(options: SeccompOptions) -> Result<Filter, String> {
    use Label::*;
    let mut ops = vec![
        Op::Load(OFFSET_ARCH),
        Op::JumpIfEqual(AUDIT_ARCH, Next, Deny),
        Op::Load(OFFSET_NR),
        Op::JumpIfGreaterOrEqual(X32_SYSCALL_BIT, Deny, Next),
    ];
    let mut denied: Vec<u32> = DENIED.iter().map(|nr| *nr as u32).collect();
    denied.sort_unstable();
    let mut nodes = 0;
    search_tree(&denied, &mut ops, &mut nodes);
    ops.extend([
        Op::Mark(Special),
        Op::JumpIfEqual(libc::SYS_socket as u32, Socket, Next),
        Op::JumpIfEqual(libc::SYS_socketpair as u32, SocketPair, Next),
        Op::JumpIfEqual(libc::SYS_clone as u32, Clone, Next),
        Op::JumpIfEqual(libc::SYS_clone3 as u32, NoSys, Allow),
        Op::Mark(Socket),
        Op::Load(offset_arg(0)),
        Op::JumpIfEqual(libc::AF_UNIX as u32, Allow, Next),
        Op::JumpIfEqual(libc::AF_INET as u32, Inet, Next),
        Op::JumpIfEqual(libc::AF_INET6 as u32, Inet, Deny),
        Op::Mark(Inet),
        Op::Load(offset_arg(1)),
        Op::And(0xf),
        Op::JumpIfEqual(libc::SOCK_STREAM as u32, Protocol, Next),
        Op::JumpIfEqual(if options.allow_udp { libc::SOCK_DGRAM as u32 } else { u32::MAX }, Protocol, Deny),
        Op::Mark(Protocol),
        Op::Load(offset_arg(2)),
        Op::JumpIfEqual(0, Allow, Next),
        Op::JumpIfEqual(libc::IPPROTO_TCP as u32, Allow, Next),
        Op::JumpIfEqual(if options.allow_udp { libc::IPPROTO_UDP as u32 } else { u32::MAX }, Allow, Deny),
        Op::Mark(SocketPair),
        Op::Load(offset_arg(0)),
        Op::JumpIfEqual(libc::AF_UNIX as u32, Allow, Deny),
        Op::Mark(Clone),
        Op::Load(offset_arg(0)),
        Op::And(NAMESPACE_FLAGS),
        Op::JumpIfEqual(0, Allow, Deny),
        Op::Mark(Allow),
        Op::Return(SECCOMP_RET_ALLOW),
        Op::Mark(Deny),
        Op::Return(SECCOMP_RET_ERRNO | libc::EPERM as u32),
        Op::Mark(NoSys),
        Op::Return(SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]);
    Ok(Filter { program: assemble(&ops)? })
}

/// A binary search over the sorted denied numbers, so an allowed call (the
/// common case) costs a handful of comparisons, not one per denied call.
/// Every path ends in Deny or in a jump to `Special`.
fn search_tree(numbers: &[u32], ops: &mut Vec<Op>, nodes: &mut usize) {
    if numbers.len() <= 4 {
        ops.extend(numbers.iter().map(|nr| Op::JumpIfEqual(*nr, Label::Deny, Label::Next)));
        ops.push(Op::Jump(Label::Special));
        return;
    }
    let middle = numbers.len() / 2;
    *nodes += 1;
    let upper = Label::Node(*nodes);
    ops.push(Op::JumpIfGreaterOrEqual(numbers[middle], upper, Label::Next));
    search_tree(&numbers[..middle], ops, nodes);
    ops.push(Op::Mark(upper));
    search_tree(&numbers[middle..], ops, nodes);
}

/// Resolves labels into the relative jump offsets classic BPF uses.
fn assemble(ops: &[Op]) -> Result<Vec<Instruction>, String> {
    let mut positions = Vec::new();
    let mut index = 0usize;
    for op in ops {
        match op {
            Op::Mark(label) => positions.push((*label, index)),
            _ => index += 1,
        }
    }
    let target = |label: Label, at: usize| -> Result<u8, String> {
        if label == Label::Next {
            return Ok(0);
        }
        let (_, position) =
            positions.iter().find(|(l, _)| *l == label).ok_or_else(|| format!("seccomp label {label:?} missing"))?;
        u8::try_from(position - at - 1).map_err(|_| format!("seccomp jump to {label:?} too long"))
    };
    let mut program = Vec::new();
    for op in ops {
        let at = program.len();
        let instruction = match op {
            Op::Mark(_) => continue,
            Op::Load(offset) => stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, *offset),
            Op::And(mask) => stmt(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, *mask),
            Op::Return(value) => stmt(libc::BPF_RET | libc::BPF_K, *value),
            Op::Jump(label) => stmt(libc::BPF_JMP | libc::BPF_JA, u32::from(target(*label, at)?)),
            Op::JumpIfEqual(value, yes, no) => {
                jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, *value, target(*yes, at)?, target(*no, at)?)
            }
            Op::JumpIfGreaterOrEqual(value, yes, no) => {
                jump(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, *value, target(*yes, at)?, target(*no, at)?)
            }
        };
        program.push(instruction);
    }
    Ok(program)
}

fn stmt(code: u32, k: u32) -> Instruction {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> Instruction {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_small_and_ends_in_returns() {
        let filter = prepare(SeccompOptions::default()).unwrap();
        assert!(filter.program.len() < 128, "{} instructions", filter.program.len());
        let last = filter.program.last().unwrap();
        assert_eq!(last.code as u32, libc::BPF_RET | libc::BPF_K);
    }
}
