//! What the kernel lets a principal's commands execute: the shell, the
//! allowed programs, their loaders and their own helper directories.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::{policy, sandbox};

/// Programs whose own helpers live in a directory of their own, relative
/// to the prefix the program is installed under (`/usr` for `/usr/bin/git`):
/// allowing the program allows them (git runs `git-remote-https`,
/// `git-difftool--helper` and the like from its exec path).
const HELPERS: &[(&str, &[&str])] = &[("git", &["lib/git-core", "libexec/git-core"])];

/// What the kernel lets `policy`'s commands execute: the shell and its
/// loader, and the allowed programs with theirs (the exec dirs when no
/// allowlist is set).
pub(super) fn executables(config: &Config, policy: &policy::Policy) -> Result<Vec<PathBuf>, String> {
    let shell =
        std::fs::canonicalize(&config.shell).map_err(|e| format!("MCP_SHELL {}: {e}", config.shell.display()))?;
    let mut exec_paths = vec![shell.clone()];
    let programs = if policy.allow_all() { config.sandbox.exec_dirs.clone() } else { policy.allowed_programs() };
    for program in std::iter::once(&shell).chain(programs.iter()) {
        exec_paths.push(program.clone());
        exec_paths.extend(sandbox::landlock::elf_interpreter(program));
        let name = program.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let prefix = program.parent().and_then(Path::parent);
        for (_, dirs) in HELPERS.iter().filter(|(owner, _)| *owner == name) {
            let found = dirs.iter().filter_map(|dir| std::fs::canonicalize(prefix?.join(dir)).ok());
            exec_paths.extend(found);
        }
    }
    exec_paths.sort();
    exec_paths.dedup();
    for (binary, names) in policy.shared_binaries() {
        tracing::warn!(
            binary = %binary.display(),
            names = names.join(", "),
            "allowlist entries share one multi-call binary: the kernel lets every program it contains run"
        );
    }
    for program in &programs {
        if let Some(interpreter) = script_interpreter(program).filter(|i| !exec_paths.contains(i)) {
            tracing::warn!(
                program = %program.display(),
                interpreter = %interpreter.display(),
                "an allowed program is a #! script whose interpreter is not allowed: the kernel will refuse to run it"
            );
        }
    }
    Ok(exec_paths)
}

/// The real path of the interpreter named on a script's `#!` line.
fn script_interpreter(program: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let read = std::io::Read::read(&mut std::fs::File::open(program).ok()?, &mut head).ok()?;
    let line = head[..read].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let interpreter = std::str::from_utf8(line).ok()?.split_whitespace().next()?;
    std::fs::canonicalize(interpreter).ok()
}
