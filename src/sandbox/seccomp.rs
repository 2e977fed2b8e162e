//! seccomp: the system calls Landlock cannot judge, denied with EPERM (never
//! a kill, so a command sees an ordinary error and its output is kept).
//!
//! Denied outright: io_uring (it bypasses the syscall filter), ptrace and
//! every cross-process memory, fd and comparison call (`process_vm_*`,
//! `pidfd_getfd`, `process_madvise`, `process_mrelease`, `kcmp`),
//! namespace creation (`unshare`, `setns`), leaving the process group
//! (`setsid`, `setpgid`), the administrative calls (mount and the new mount
//! API, pivot_root, kexec, bpf, perf_event_open, keyrings, modules, ...),
//! host IPC (every SysV shared memory, semaphore and message queue call, and
//! POSIX message queues), and `memfd_create`/`memfd_secret`: a memfd lives
//! on no mount a noexec flag could cover, and the dynamic loader maps one
//! executable even when it is sealed without exec permission.
//!
//! Denied by argument:
//! - sockets other than UNIX stream/seqpacket and TCP (UDP, raw, packet,
//!   netlink, vsock, MPTCP, SCTP; UDP can be allowed), and every other UNIX
//!   type (also from `socketpair`): a datagram socket sends to any path
//!   named in `sendto`/`sendmsg` without a `connect` the daemon sees, and
//!   the kernel makes `SOCK_RAW` (or any unknown type it maps) one, so only
//!   the two listed types pass;
//! - `MSG_FASTOPEN` in `sendto`, `sendmsg` and `sendmmsg`: TCP Fast Open
//!   opens a connection without `connect()`, where Landlock looks;
//! - `clone` with namespace flags (`clone3`, whose flags sit in memory a
//!   filter cannot read, gets ENOSYS so libc falls back to `clone`);
//! - `execveat` of a file descriptor (`AT_EMPTY_PATH`), the fexecve route;
//! - limits, priority, affinity, scheduling, I/O priority and memory
//!   placement of any process but the caller (`prlimit64`, `setpriority`,
//!   `sched_set*`, `ioprio_set`, `migrate_pages`, `move_pages` with a pid
//!   other than 0, and the per-user forms), so `prlimit --pid $PPID` cannot
//!   starve the daemon while `nice`, `ulimit` and `taskset cmd` still work;
//! - `prctl(PR_SET_DUMPABLE, 0)`: a command stays inspectable by the socket
//!   broker, which takes its sockets and reads its addresses with the same
//!   access checks as ptrace (a daemon without CAP_SYS_PTRACE could not
//!   otherwise broker an ssh-agent). Between commands the flag would guard
//!   nothing: Landlock already refuses ptrace access (`/proc/<pid>/mem`,
//!   `environ`, `fd`) across sandboxes.
//!
//! Foreign-ABI calls (x32, or an unexpected architecture) are denied too.
//!
//! The program is assembled here ([`super::bpf`]) rather than by a rule
//! compiler: the kernel validates and JIT-compiles it on every spawn, and
//! that cost grows with its length. An allowed call walks a binary search
//! over the numbers with a rule, a handful of comparisons.

use super::bpf::{self, Instruction, Label, Op};

/// What the filter lets through beyond the default, or refuses beyond it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeccompOptions {
    /// Allow UDP sockets (`SOCK_DGRAM` in `AF_INET`/`AF_INET6`).
    pub(crate) allow_udp: bool,
    /// With Memory-Deny-Write-Execute: refuse what keeps two views of the
    /// same memory, one executable and one writable, which the kernel's
    /// per-mapping check does not see: `mmap` of shared memory with
    /// `PROT_EXEC`, and `mremap` duplicating a mapping (`old_size` 0).
    pub(crate) no_shared_exec: bool,
}

/// The compiled program. Invariant: immutable; children read it through a
/// `sock_fprog` pointer.
#[derive(Debug)]
pub(crate) struct Filter {
    pub(crate) program: Vec<Instruction>,
}

/// Namespace flags refused in `clone`.
const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP
    | 0x80/* CLONE_NEWTIME */) as u32;

const MSG_FASTOPEN: u32 = 0x2000_0000;
const AT_EMPTY_PATH: u32 = 0x1000;
const PRIO_USER: u32 = 2;
const IOPRIO_WHO_USER: u32 = 3;

/// Calls denied outright.
const DENIED: &[libc::c_long] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_process_madvise,
    libc::SYS_process_mrelease,
    libc::SYS_kcmp,
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
    libc::SYS_memfd_create,
    libc::SYS_memfd_secret,
    // Host IPC: SysV shared memory, semaphores, message queues.
    libc::SYS_shmget,
    libc::SYS_shmat,
    libc::SYS_shmctl,
    libc::SYS_shmdt,
    libc::SYS_semget,
    libc::SYS_semop,
    libc::SYS_semtimedop,
    libc::SYS_semctl,
    libc::SYS_msgget,
    libc::SYS_msgsnd,
    libc::SYS_msgrcv,
    libc::SYS_msgctl,
    // POSIX message queues.
    libc::SYS_mq_open,
    libc::SYS_mq_unlink,
    libc::SYS_mq_timedsend,
    libc::SYS_mq_timedreceive,
    libc::SYS_mq_notify,
    libc::SYS_mq_getsetattr,
];

/// Blocks that judge a call by its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
enum Check {
    Socket,
    SocketPair,
    Clone,
    Clone3,
    /// `MSG_FASTOPEN` in the flags, argument 2 (`sendmsg`) or 3.
    FastOpenArg2,
    FastOpenArg3,
    ExecveatEmptyPath,
    /// The first argument is a pid that must be 0 (the caller).
    SelfOnly,
    /// `(which, who)`: no per-user form, and `who` must be 0.
    SelfWhoPriority,
    SelfWhoIoprio,
    /// `prctl(PR_SET_DUMPABLE, 0)`.
    Undumpable,
    /// `mmap` with `PROT_EXEC` of shared memory (with `no_shared_exec`).
    SharedExec,
    /// `mremap` with `old_size` 0 (with `no_shared_exec`).
    DuplicateMapping,
}

impl Check {
    fn label(self) -> Label {
        Label::Block(self as u16)
    }
}

/// Which calls get which block.
fn checks() -> Vec<(libc::c_long, Check)> {
    vec![
        (libc::SYS_socket, Check::Socket),
        (libc::SYS_socketpair, Check::SocketPair),
        (libc::SYS_clone, Check::Clone),
        (libc::SYS_clone3, Check::Clone3),
        (libc::SYS_sendto, Check::FastOpenArg3),
        (libc::SYS_sendmsg, Check::FastOpenArg2),
        (libc::SYS_sendmmsg, Check::FastOpenArg3),
        (libc::SYS_execveat, Check::ExecveatEmptyPath),
        (libc::SYS_prlimit64, Check::SelfOnly),
        (libc::SYS_sched_setaffinity, Check::SelfOnly),
        (libc::SYS_sched_setscheduler, Check::SelfOnly),
        (libc::SYS_sched_setparam, Check::SelfOnly),
        (libc::SYS_sched_setattr, Check::SelfOnly),
        (libc::SYS_migrate_pages, Check::SelfOnly),
        (libc::SYS_move_pages, Check::SelfOnly),
        (libc::SYS_setpriority, Check::SelfWhoPriority),
        (libc::SYS_ioprio_set, Check::SelfWhoIoprio),
        (libc::SYS_prctl, Check::Undumpable),
    ]
}

pub(crate) fn prepare(options: SeccompOptions) -> Result<Filter, String> {
    use Label::{Allow, Deny, Next};
    let deny = bpf::RET_ERRNO | libc::EPERM as u32;
    let mut rules: Vec<(u32, Label)> = DENIED.iter().map(|nr| (*nr as u32, Deny)).collect();
    rules.extend(checks().into_iter().map(|(nr, check)| (nr as u32, check.label())));
    if options.no_shared_exec {
        rules.push((libc::SYS_mmap as u32, Check::SharedExec.label()));
        rules.push((libc::SYS_mremap as u32, Check::DuplicateMapping.label()));
    }
    rules.sort_unstable_by_key(|(nr, _)| *nr);
    if let Some(pair) = rules.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(format!("seccomp: system call {} has two rules", pair[0].0));
    }
    let mut ops = bpf::prologue();
    let mut nodes = 0;
    bpf::search(&rules, Allow, &mut ops, &mut nodes);
    ops.extend(bpf::returns(bpf::RET_ALLOW, deny));
    let udp = |value: u32| if options.allow_udp { value } else { u32::MAX };
    let inet = Label::Block(100);
    let unix = Label::Block(101);
    let protocol = Label::Block(102);
    // The blocks share the returns at the program's end, which every one
    // of them reaches within a jump's range.
    let block = |check: Check, body: Vec<Op>| -> Vec<Op> {
        let mut ops = vec![Op::Mark(check.label())];
        ops.extend(body);
        ops
    };
    let self_only = |arg: u32| vec![Op::Load(bpf::offset_arg(arg)), Op::JumpIfEqual(0, Allow, Deny)];
    let fast_open = |arg: u32| vec![Op::Load(bpf::offset_arg(arg)), Op::JumpIfAnySet(MSG_FASTOPEN, Deny, Allow)];
    ops.extend(block(
        Check::Socket,
        vec![
            Op::Load(bpf::offset_arg(0)),
            Op::JumpIfEqual(libc::AF_UNIX as u32, unix, Next),
            Op::JumpIfEqual(libc::AF_INET as u32, inet, Next),
            Op::JumpIfEqual(libc::AF_INET6 as u32, inet, Deny),
            Op::Mark(unix),
            Op::Load(bpf::offset_arg(1)),
            Op::And(0xf),
            Op::JumpIfEqual(libc::SOCK_STREAM as u32, Allow, Next),
            Op::JumpIfEqual(libc::SOCK_SEQPACKET as u32, Allow, Deny),
            Op::Mark(inet),
            Op::Load(bpf::offset_arg(1)),
            Op::And(0xf),
            Op::JumpIfEqual(libc::SOCK_STREAM as u32, protocol, Next),
            Op::JumpIfEqual(udp(libc::SOCK_DGRAM as u32), protocol, Deny),
            Op::Mark(protocol),
            Op::Load(bpf::offset_arg(2)),
            Op::JumpIfEqual(0, Allow, Next),
            Op::JumpIfEqual(libc::IPPROTO_TCP as u32, Allow, Next),
            Op::JumpIfEqual(udp(libc::IPPROTO_UDP as u32), Allow, Deny),
        ],
    ));
    ops.extend(block(
        Check::SocketPair,
        vec![
            Op::Load(bpf::offset_arg(0)),
            Op::JumpIfEqual(libc::AF_UNIX as u32, Next, Deny),
            Op::Load(bpf::offset_arg(1)),
            Op::And(0xf),
            Op::JumpIfEqual(libc::SOCK_STREAM as u32, Allow, Next),
            Op::JumpIfEqual(libc::SOCK_SEQPACKET as u32, Allow, Deny),
        ],
    ));
    ops.extend(block(
        Check::Clone,
        vec![Op::Load(bpf::offset_arg(0)), Op::And(NAMESPACE_FLAGS), Op::JumpIfEqual(0, Allow, Deny)],
    ));
    ops.extend(block(Check::Clone3, vec![Op::Return(bpf::RET_ERRNO | libc::ENOSYS as u32)]));
    ops.extend(block(Check::FastOpenArg2, fast_open(2)));
    ops.extend(block(Check::FastOpenArg3, fast_open(3)));
    ops.extend(block(
        Check::ExecveatEmptyPath,
        vec![Op::Load(bpf::offset_arg(4)), Op::JumpIfAnySet(AT_EMPTY_PATH, Deny, Allow)],
    ));
    ops.extend(block(Check::SelfOnly, self_only(0)));
    let self_who = |per_user: u32| {
        let mut body = vec![Op::Load(bpf::offset_arg(0)), Op::JumpIfEqual(per_user, Deny, Next)];
        body.extend(self_only(1));
        body
    };
    ops.extend(block(Check::SelfWhoPriority, self_who(PRIO_USER)));
    ops.extend(block(Check::SelfWhoIoprio, self_who(IOPRIO_WHO_USER)));
    ops.extend(block(
        Check::SharedExec,
        vec![
            Op::Load(bpf::offset_arg(2)),
            Op::JumpIfAnySet(libc::PROT_EXEC as u32, Next, Allow),
            Op::Load(bpf::offset_arg(3)),
            // MAP_SHARED and MAP_SHARED_VALIDATE both set bit 0.
            Op::JumpIfAnySet(libc::MAP_SHARED as u32, Deny, Allow),
        ],
    ));
    ops.extend(block(Check::DuplicateMapping, vec![Op::Load(bpf::offset_arg(1)), Op::JumpIfEqual(0, Deny, Allow)]));
    ops.extend(block(
        Check::Undumpable,
        vec![
            Op::Load(bpf::offset_arg(0)),
            Op::JumpIfEqual(libc::PR_SET_DUMPABLE as u32, Next, Allow),
            Op::Load(bpf::offset_arg(1)),
            Op::JumpIfEqual(0, Deny, Allow),
        ],
    ));
    ops.extend(bpf::returns(bpf::RET_ALLOW, deny));
    Ok(Filter { program: bpf::assemble(&ops)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: u32 = bpf::RET_ALLOW;
    const EPERM: u32 = bpf::RET_ERRNO | libc::EPERM as u32;

    fn decide(nr: libc::c_long, args: [u64; 6]) -> u32 {
        let filter = prepare(SeccompOptions::default()).unwrap();
        bpf::evaluate(&filter.program, nr, args)
    }

    #[test]
    fn the_program_is_small_and_ends_in_returns() {
        let filter = prepare(SeccompOptions::default()).unwrap();
        assert!(filter.program.len() < 256, "{} instructions", filter.program.len());
        let last = filter.program.last().unwrap();
        assert_eq!(last.code as u32, libc::BPF_RET | libc::BPF_K);
    }

    #[test]
    fn ordinary_calls_pass_and_every_denied_call_is_denied() {
        for nr in [libc::SYS_read, libc::SYS_write, libc::SYS_openat, libc::SYS_execve, libc::SYS_connect] {
            assert_eq!(decide(nr, [0; 6]), ALLOW, "call {nr}");
        }
        for nr in DENIED {
            assert_eq!(decide(*nr, [0; 6]), EPERM, "call {nr}");
        }
    }

    #[test]
    fn fast_open_is_denied_in_every_send_call() {
        let flags = MSG_FASTOPEN as u64 | libc::MSG_NOSIGNAL as u64;
        assert_eq!(decide(libc::SYS_sendto, [3, 0, 1, flags, 8, 16]), EPERM);
        assert_eq!(decide(libc::SYS_sendmsg, [3, 0, flags, 0, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_sendmmsg, [3, 0, 1, flags, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_sendto, [3, 0, 1, libc::MSG_NOSIGNAL as u64, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_sendmsg, [3, 0, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn unix_datagrams_are_denied_and_unix_streams_pass() {
        let unix = libc::AF_UNIX as u64;
        let cloexec = libc::SOCK_CLOEXEC as u64;
        assert_eq!(decide(libc::SYS_socket, [unix, libc::SOCK_DGRAM as u64 | cloexec, 0, 0, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_socketpair, [unix, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]), EPERM);
        for kind in [libc::SOCK_RAW, libc::SOCK_RDM, 0, 7, 15] {
            assert_eq!(decide(libc::SYS_socket, [unix, kind as u64, 0, 0, 0, 0]), EPERM, "UNIX type {kind}");
            assert_eq!(decide(libc::SYS_socketpair, [unix, kind as u64, 0, 0, 0, 0]), EPERM, "UNIX pair type {kind}");
        }
        assert_eq!(decide(libc::SYS_socket, [unix, libc::SOCK_STREAM as u64 | cloexec, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_socket, [unix, libc::SOCK_SEQPACKET as u64, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_socketpair, [unix, libc::SOCK_STREAM as u64, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_socket, [libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_socket, [libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn other_processes_limits_and_scheduling_are_denied_and_ones_own_are_not() {
        for nr in [libc::SYS_prlimit64, libc::SYS_sched_setaffinity, libc::SYS_sched_setattr, libc::SYS_move_pages] {
            assert_eq!(decide(nr, [0, 7, 0, 0, 0, 0]), ALLOW, "call {nr} on itself");
            assert_eq!(decide(nr, [4242, 7, 0, 0, 0, 0]), EPERM, "call {nr} on another process");
        }
        let process = libc::PRIO_PROCESS as u64;
        assert_eq!(decide(libc::SYS_setpriority, [process, 0, 5, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_setpriority, [process, 4242, 5, 0, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_setpriority, [PRIO_USER as u64, 0, 5, 0, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_ioprio_set, [1, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_ioprio_set, [1, 4242, 0, 0, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_ioprio_set, [IOPRIO_WHO_USER as u64, 0, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn with_no_shared_exec_executable_shared_memory_and_duplicate_mappings_are_denied() {
        let strict = prepare(SeccompOptions { no_shared_exec: true, ..SeccompOptions::default() }).unwrap();
        let decide = |nr, args| bpf::evaluate(&strict.program, nr, args);
        let exec = (libc::PROT_READ | libc::PROT_EXEC) as u64;
        let shared_anonymous = (libc::MAP_SHARED | libc::MAP_ANONYMOUS) as u64;
        assert_eq!(decide(libc::SYS_mmap, [0, 4096, exec, shared_anonymous, u64::MAX, 0]), EPERM);
        assert_eq!(decide(libc::SYS_mmap, [0, 4096, exec, 3, 5, 0]), EPERM, "MAP_SHARED_VALIDATE");
        assert_eq!(decide(libc::SYS_mmap, [0, 4096, exec, libc::MAP_PRIVATE as u64, 5, 0]), ALLOW, "a library");
        assert_eq!(decide(libc::SYS_mmap, [0, 4096, libc::PROT_READ as u64, shared_anonymous, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_mremap, [0x1000, 0, 4096, 1, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_mremap, [0x1000, 4096, 8192, 1, 0, 0]), ALLOW);
        assert_eq!(
            bpf::evaluate(
                &prepare(SeccompOptions::default()).unwrap().program,
                libc::SYS_mremap,
                [0x1000, 0, 4096, 1, 0, 0]
            ),
            ALLOW
        );
    }

    #[test]
    fn a_command_cannot_make_itself_undumpable_but_prctl_otherwise_works() {
        let dumpable = libc::PR_SET_DUMPABLE as u64;
        assert_eq!(decide(libc::SYS_prctl, [dumpable, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_prctl, [dumpable, 1, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_prctl, [libc::PR_SET_NAME as u64, 0, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn execveat_of_a_descriptor_and_namespace_clones_are_denied() {
        assert_eq!(decide(libc::SYS_execveat, [3, 0, 0, 0, AT_EMPTY_PATH as u64, 0]), EPERM);
        assert_eq!(decide(libc::SYS_execveat, [3, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_clone, [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(decide(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(decide(libc::SYS_clone3, [0; 6]), bpf::RET_ERRNO | libc::ENOSYS as u32);
    }
}
