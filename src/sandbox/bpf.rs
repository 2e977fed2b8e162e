//! A small classic-BPF assembler for seccomp programs: labelled jumps
//! resolved into the 8-bit relative offsets the kernel wants, and a binary
//! search over system call numbers so that an ordinary call walks a handful
//! of comparisons, not one per rule.
//!
//! A label may be marked more than once; a jump goes to the nearest mark at
//! or after it. Returns for Allow and Deny are therefore repeated after each
//! argument check, which keeps every jump short (classic BPF jumps only
//! forward, by at most 255 instructions).

/// One BPF instruction (`struct sock_filter`).
pub(crate) type Instruction = libc::sock_filter;

#[cfg(target_arch = "x86_64")]
pub(super) const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
pub(super) const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// x32 system calls on x86_64 carry this bit.
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(super) const RET_ALLOW: u32 = 0x7fff_0000;
pub(super) const RET_ERRNO: u32 = 0x0005_0000;
pub(super) const RET_USER_NOTIF: u32 = 0x7fc0_0000;

/// Offsets in `struct seccomp_data`.
pub(super) const OFFSET_NR: u32 = 0;
pub(super) const OFFSET_ARCH: u32 = 4;

/// Low 32 bits of argument `n` (little-endian). Every argument checked here
/// is an `int` or `unsigned int` in the kernel, which ignores the high half.
pub(super) const fn offset_arg(n: u32) -> u32 {
    16 + 8 * n
}

/// Where a jump lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Label {
    /// The next instruction.
    Next,
    Allow,
    Deny,
    /// A caller-defined block.
    Block(u16),
    /// An inner node of a number search tree.
    Node(usize),
}

/// An instruction before jump offsets are resolved.
pub(super) enum Op {
    Load(u32),
    And(u32),
    JumpIfEqual(u32, Label, Label),
    JumpIfGreaterOrEqual(u32, Label, Label),
    /// Jumps to the first label when any bit of the mask is set.
    JumpIfAnySet(u32, Label, Label),
    Jump(Label),
    Return(u32),
    Mark(Label),
}

/// The shared opening: refuse foreign architectures and x32 calls, then
/// load the call number.
pub(super) fn prologue() -> Vec<Op> {
    vec![
        Op::Load(OFFSET_ARCH),
        Op::JumpIfEqual(AUDIT_ARCH, Label::Next, Label::Deny),
        Op::Load(OFFSET_NR),
        Op::JumpIfGreaterOrEqual(X32_SYSCALL_BIT, Label::Deny, Label::Next),
    ]
}

/// `Mark(Allow) Return(allow) Mark(Deny) Return(deny)`: the nearest targets
/// for the jumps before them.
pub(super) fn returns(allow: u32, deny: u32) -> [Op; 4] {
    [Op::Mark(Label::Allow), Op::Return(allow), Op::Mark(Label::Deny), Op::Return(deny)]
}

/// A binary search over `(number, target)` pairs sorted by number, with the
/// call number in the accumulator: a matching call jumps to its target, any
/// other jumps to `otherwise`.
pub(super) fn search(rules: &[(u32, Label)], otherwise: Label, ops: &mut Vec<Op>, nodes: &mut usize) {
    if rules.len() <= 4 {
        ops.extend(rules.iter().map(|(nr, target)| Op::JumpIfEqual(*nr, *target, Label::Next)));
        ops.push(Op::Jump(otherwise));
        return;
    }
    let middle = rules.len() / 2;
    *nodes += 1;
    let upper = Label::Node(*nodes);
    ops.push(Op::JumpIfGreaterOrEqual(rules[middle].0, upper, Label::Next));
    search(&rules[..middle], otherwise, ops, nodes);
    ops.push(Op::Mark(upper));
    search(&rules[middle..], otherwise, ops, nodes);
}

/// Resolves labels into the relative jump offsets classic BPF uses.
pub(super) fn assemble(ops: &[Op]) -> Result<Vec<Instruction>, String> {
    let mut marks: Vec<(Label, usize)> = Vec::new();
    let mut index = 0usize;
    for op in ops {
        match op {
            Op::Mark(label) => marks.push((*label, index)),
            _ => index += 1,
        }
    }
    let target = |label: Label, at: usize| -> Result<u8, String> {
        if label == Label::Next {
            return Ok(0);
        }
        let (_, position) = marks
            .iter()
            .find(|(l, position)| *l == label && *position > at)
            .ok_or_else(|| format!("seccomp label {label:?} has no mark after instruction {at}"))?;
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
            Op::JumpIfAnySet(mask, yes, no) => {
                jump(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K, *mask, target(*yes, at)?, target(*no, at)?)
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

/// Runs `program` on one `seccomp_data` the way the kernel would, for tests
/// of what a filter decides without installing it.
#[cfg(test)]
pub(super) fn evaluate(program: &[Instruction], nr: i64, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&(nr as u32).to_le_bytes());
    data[4..8].copy_from_slice(&AUDIT_ARCH.to_le_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
    }
    let (mut accumulator, mut pc) = (0u32, 0usize);
    loop {
        let i = program[pc];
        let code = i.code as u32;
        pc += 1;
        match code {
            c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                let k = i.k as usize;
                accumulator = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
            }
            c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => accumulator &= i.k,
            c if c == libc::BPF_RET | libc::BPF_K => return i.k,
            c if c == libc::BPF_JMP | libc::BPF_JA => pc += i.k as usize,
            _ => {
                let taken = match code & 0xf0 {
                    0x10 => accumulator == i.k, // JEQ
                    0x30 => accumulator >= i.k, // JGE
                    0x40 => accumulator & i.k != 0,
                    other => panic!("unexpected BPF jump {other:#x}"),
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
        }
    }
}
