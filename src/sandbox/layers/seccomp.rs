//! The seccomp layer: the EPERM filter (`seccomp.rs`), compiled once here
//! and installed by the child last, since it denies calls the steps before
//! it make.

use super::{Build, Layer, Spec};
use crate::sandbox::child::Stage;
use crate::sandbox::{SeccompOptions, child, seccomp};

pub(super) const SPEC: Spec = Spec {
    layer: Layer::Seccomp,
    name: "seccomp",
    required_by_default: true,
    opt_in: None,
    stages: &[Stage::Seccomp],
    prepare,
};

fn prepare(build: &mut Build) -> Result<String, String> {
    let options = build.settings.seccomp;
    let no_shared_exec = build.wants(Layer::Mdwe);
    let prepared = seccomp::prepare(SeccompOptions { no_shared_exec, ..options })?;
    let detail = format!(
        "EPERM filter, {} instructions{}",
        prepared.program.len(),
        if options.allow_udp { ", UDP allowed" } else { "" }
    );
    build.filter = Some(prepared);
    build.steps |= child::STEP_SECCOMP;
    Ok(detail)
}
