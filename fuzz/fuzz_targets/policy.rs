//! Fuzzes the shell parser and the policy with arbitrary command strings:
//! no input may panic, overflow the stack or give different decisions on
//! two calls. The first byte picks one of several allowlists, so the
//! allowlist paths (wrappers, escapes, functions) are reached too; the
//! input is also tried as an allowlist entry and a blocklist entry.
//! Panics of the parser crate are caught by the policy, which refuses the
//! command; any other panic is a finding.

#![no_main]

#[allow(dead_code, unused_imports)] // the crate's uses of the policy are not compiled here
#[path = "../../src/policy/mod.rs"]
mod policy;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use policy::{Policy, Scope};

const ALLOWLISTS: &[&[&str]] = &[
    &[],
    &["ls", "cat", "echo", "grep", "find", "pwd", "whoami"],
    &["sh", "bash", "env", "timeout", "xargs", "ls", "find -exec", "awk", "sed", "git status"],
    &["python3", "python3 -c", "tar", "sort", "awk system", "sed e", "cat"],
];

static POLICIES: LazyLock<Vec<Policy>> = LazyLock::new(|| {
    // The policy catches the parser's panics and refuses the command;
    // libfuzzer-sys's hook would abort on them even so. A panic that
    // escapes the policy still aborts: libfuzzer-sys checks for it.
    std::panic::set_hook(Box::new(|_| {}));
    ALLOWLISTS
        .iter()
        .map(|list| {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            Policy::new(&list, &[], 64 * 1024).expect("fixed allowlists compile")
        })
        .collect()
});

static ROOTS: LazyLock<Vec<PathBuf>> = LazyLock::new(|| vec![PathBuf::from("/tmp"), PathBuf::from("/dev/null")]);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let command = String::from_utf8_lossy(rest);
    let policy = &POLICIES[selector as usize % POLICIES.len()];
    let scope = Scope { cwd: Path::new("/tmp"), writable_roots: &ROOTS };
    let first = policy.check(&command, scope);
    let second = policy.check(&command, scope);
    assert_eq!(first, second, "the decision changed between two calls");
    if command.len() < 512 {
        let _ = Policy::new(&[command.to_string()], &[command.to_string()], 1024);
    }
});
