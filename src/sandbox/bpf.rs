//! A small classic-BPF assembler for seccomp programs: labelled jumps
//! resolved into the 8-bit relative offsets the kernel wants, and a search
//! tree over runs of system call numbers, so that an ordinary call walks a
//! handful of comparisons, not one per rule, and the program stays short:
//! the kernel converts, JIT-compiles and pre-evaluates it at every spawn,
//! at a cost that grows with its length.
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

/// A search over the call number, in the accumulator: `rules`, sorted
/// `(number, target)` pairs, become runs of consecutive numbers that share a
/// target (numbers without a rule go to `otherwise`), and a tree of `>=`
/// comparisons on the runs' first numbers jumps straight to each run's
/// target. One instruction per run edge, however many rules a run holds,
/// and a call walks about log2 of the runs.
pub(super) fn search(rules: &[(u32, Label)], otherwise: Label, ops: &mut Vec<Op>, nodes: &mut usize) {
    let regions = regions(rules, otherwise);
    if regions.len() == 1 {
        ops.push(Op::Jump(otherwise));
        return;
    }
    split(&regions, ops, nodes);
}

/// `(first number, target)` of each run, the first at 0, every run lasting
/// until the next one starts.
fn regions(rules: &[(u32, Label)], otherwise: Label) -> Vec<(u32, Label)> {
    let mut regions = vec![(0u32, otherwise)];
    // The first number after the last rule seen.
    let mut end = 0u32;
    for &(number, target) in rules {
        let last = regions.len() - 1;
        if number > end && regions[last].1 != otherwise {
            regions.push((end, otherwise));
        }
        let last = regions.len() - 1;
        if regions[last].1 != target {
            if regions[last].0 == number {
                regions[last].1 = target;
            } else {
                regions.push((number, target));
            }
        }
        end = number + 1;
    }
    if regions[regions.len() - 1].1 != otherwise {
        regions.push((end, otherwise));
    }
    regions
}

/// The comparison tree over two or more runs. Each node sends the lower
/// half to the next instruction (or to its run's target, when the half is
/// one run) and the upper half to its node (or run's target), so no path
/// falls through past the tree.
fn split(regions: &[(u32, Label)], ops: &mut Vec<Op>, nodes: &mut usize) {
    let (low, high) = regions.split_at(regions.len() / 2);
    let high_target = if high.len() == 1 {
        high[0].1
    } else {
        *nodes += 1;
        Label::Node(*nodes)
    };
    let low_target = if low.len() == 1 { low[0].1 } else { Label::Next };
    ops.push(Op::JumpIfGreaterOrEqual(high[0].0, high_target, low_target));
    if low.len() > 1 {
        split(low, ops, nodes);
    }
    if high.len() > 1 {
        ops.push(Op::Mark(high_target));
        split(high, ops, nodes);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A program that returns each run's target as a number: the search,
    /// then `Return(1)` for Allow, `Return(2)` for Deny and `Return(10 + n)`
    /// for `Block(n)`.
    fn program(rules: &[(u32, Label)], blocks: u16) -> Vec<Instruction> {
        let mut ops = vec![Op::Load(OFFSET_NR)];
        search(rules, Label::Allow, &mut ops, &mut 0);
        ops.extend([Op::Mark(Label::Allow), Op::Return(1), Op::Mark(Label::Deny), Op::Return(2)]);
        for n in 0..blocks {
            ops.extend([Op::Mark(Label::Block(n)), Op::Return(10 + u32::from(n))]);
        }
        assemble(&ops).unwrap()
    }

    fn expected(rules: &[(u32, Label)], nr: u32) -> u32 {
        match rules.iter().find(|(number, _)| *number == nr).map(|(_, target)| *target) {
            None | Some(Label::Allow) => 1,
            Some(Label::Deny) => 2,
            Some(Label::Block(n)) => 10 + u32::from(n),
            Some(other) => panic!("unexpected target {other:?}"),
        }
    }

    #[test]
    fn the_search_sends_every_number_to_its_rule_and_the_rest_to_the_default() {
        // Runs, single rules, neighbours with different targets, a rule at
        // 0, gaps of one, and many seeds of a small generator.
        let mut seed = 0x2545_f491_u32;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for round in 0..200 {
            let mut rules = Vec::new();
            let mut nr = if round % 3 == 0 { 0 } else { random() % 5 };
            while rules.len() < (round % 90) + 1 {
                let target = match random() % 4 {
                    0 | 1 => Label::Deny,
                    n => Label::Block((n as u16 + rules.len() as u16) % 6),
                };
                rules.push((nr, target));
                nr += 1 + random() % 3 * (random() % 2);
            }
            let code = program(&rules, 6);
            for number in 0..nr + 20 {
                assert_eq!(evaluate(&code, number.into(), [0; 6]), expected(&rules, number), "round {round}, {number}");
            }
            assert_eq!(evaluate(&code, 0x3fff_ffff, [0; 6]), 1);
        }
        assert_eq!(evaluate(&program(&[], 0), 7, [0; 6]), 1);
    }

    #[test]
    fn a_run_of_rules_costs_one_comparison() {
        let run: Vec<(u32, Label)> = (100..160).map(|nr| (nr, Label::Deny)).collect();
        let mut ops = Vec::new();
        search(&run, Label::Allow, &mut ops, &mut 0);
        assert_eq!(ops.iter().filter(|op| !matches!(op, Op::Mark(_))).count(), 2, "two edges, two comparisons");
    }
}
