//! The mdwe layer (opt-in): Memory-Deny-Write-Execute, set on the daemon
//! once and inherited by every command (`process.rs`); the seccomp layer
//! also refuses shared executable mappings while it is on.

use super::{Build, Layer, Spec};
use crate::sandbox::process::deny_write_execute;

pub(super) const SPEC: Spec =
    Spec { layer: Layer::Mdwe, name: "mdwe", required_by_default: false, opt_in: Some(without), stages: &[], prepare };

fn without() -> String {
    "opt-in (MCP_SANDBOX_ENABLE=mdwe; JIT compilers such as node's and java's stop working); without it an \
     allowed program that computes machine code (python's ctypes, perl, a JIT) can run it from its own anonymous \
     memory, still under every other layer"
        .into()
}

fn prepare(_: &mut Build) -> Result<String, String> {
    deny_write_execute()
}
