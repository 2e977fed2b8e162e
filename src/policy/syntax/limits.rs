//! What is refused before the shell parser runs: input it mishandles
//! (control characters) and nestings that would exhaust its stack or make
//! it backtrack for seconds. Counted on the raw bytes, quotes not
//! considered, so the counts over-estimate and never miss.

/// Deepest bracket nesting parsed; deeper input is refused before the
/// recursive-descent parser could exhaust the stack.
const MAX_NESTING: usize = 48;

/// Deepest nesting of parentheses: the parser backtracks between `((`
/// arithmetic and nested subshells, in time doubling with each unclosed
/// level (24 take 0.3 s, 16 take 6 ms), so the bound is what keeps one command from
/// holding a CPU.
const MAX_PAREN_NESTING: usize = 12;

/// Deepest nesting of array subscripts inside `${...}` expansions (see
/// [`subscript_nesting`]).
const MAX_SUBSCRIPT_NESTING: usize = 2;

/// Deepest nesting of command substitutions and `sh -c` strings.
pub(crate) const MAX_SCRIPT_DEPTH: usize = 8;

/// Refuses `input`, the script at `depth` substitutions deep, when the
/// parser could not be trusted with it; the error says why.
pub(super) fn check(input: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_SCRIPT_DEPTH {
        return Err(format!("command substitutions are nested more than {MAX_SCRIPT_DEPTH} deep"));
    }
    let lone_cr = input.match_indices('\r').any(|(at, _)| !input[at + 1..].starts_with('\n'));
    let control = may_hold_control(input)
        .then(|| input.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')))
        .flatten();
    if let Some(control) = control.or(lone_cr.then_some('\r')) {
        return Err(format!(
            "it contains the control character U+{:04X}, which terminals do not show and the shell parser \
                 mishandles; write it with printf or $'\\x{:02x}' instead",
            control as u32, control as u32
        ));
    }
    let (brackets, parens) = nesting(input);
    if brackets > MAX_NESTING || parens > MAX_PAREN_NESTING {
        return Err(format!(
            "brackets are nested more than {MAX_NESTING} deep, or parentheses more than {MAX_PAREN_NESTING} (counting unclosed ones)"
        ));
    }
    if subscript_nesting(input) > MAX_SUBSCRIPT_NESTING {
        return Err(format!(
            "array subscripts are nested more than {MAX_SUBSCRIPT_NESTING} deep inside ${{...}} expansions \
                 (counting unclosed ones); split the command"
        ));
    }
    Ok(())
}

/// Whether `input` may hold a control character other than a tab, a
/// newline or a carriage return, judged on bytes: the C0 controls and DEL
/// are single bytes, and every C1 control (U+0080 to U+009F) is encoded
/// with the lead byte 0xC2, so text without these bytes holds none.
fn may_hold_control(input: &str) -> bool {
    input.bytes().any(|byte| (byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r')) || byte == 0x7f || byte == 0xc2)
}

/// Deepest nesting of array subscripts opened inside `${` expansions
/// (`${a[${b[0]}]}` is 2), counting unclosed ones, quotes not considered.
/// The shell parser's word grammar backtracks on such nestings in time
/// growing about twentyfold per level (measured: 0.2 ms at 2, 4 ms at 3,
/// 76 ms at 4, 1.4 s at 5, 28 s at 6 for a 100-byte command), so deeper
/// ones are refused before parsing.
fn subscript_nesting(input: &str) -> usize {
    #[derive(PartialEq)]
    enum Open {
        Expansion,
        Brace,
        Subscript,
        Bracket,
        Paren,
    }
    let bytes = input.as_bytes();
    let (mut stack, mut deepest, mut at) = (Vec::new(), 0usize, 0usize);
    while at < bytes.len() {
        let byte = bytes[at];
        at += 1;
        match byte {
            b'$' if bytes.get(at) == Some(&b'{') => {
                stack.push(Open::Expansion);
                at += 1;
            }
            b'{' => stack.push(Open::Brace),
            b'(' => stack.push(Open::Paren),
            b'[' if stack.contains(&Open::Expansion) => {
                stack.push(Open::Subscript);
                deepest = deepest.max(stack.iter().filter(|open| **open == Open::Subscript).count());
            }
            b'[' => stack.push(Open::Bracket),
            b'}' if matches!(stack.last(), Some(Open::Expansion | Open::Brace)) => drop(stack.pop()),
            b']' if matches!(stack.last(), Some(Open::Subscript | Open::Bracket)) => drop(stack.pop()),
            b')' if stack.last() == Some(&Open::Paren) => drop(stack.pop()),
            _ => {}
        }
    }
    deepest
}

/// The deepest nesting of all brackets and of parentheses alone, counted
/// without regard to quoting (so an over-estimate).
fn nesting(input: &str) -> (usize, usize) {
    let (mut depth, mut deepest, mut parens, mut deepest_parens) = (0usize, 0usize, 0usize, 0usize);
    for byte in input.bytes() {
        match byte {
            b'(' | b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
                if byte == b'(' {
                    parens += 1;
                    deepest_parens = deepest_parens.max(parens);
                }
            }
            b')' | b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if byte == b')' {
                    parens = parens.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
    (deepest, deepest_parens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_test_never_misses_a_control_character() {
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let control = c.is_control() && !matches!(c, '\t' | '\n' | '\r');
            assert!(!control || may_hold_control(&text), "U+{:04X}", c as u32);
        }
        assert!(!may_hold_control("ls -l\té\n"));
    }
}
