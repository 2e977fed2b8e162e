//! The noexec layer: every writable root and the state directory on a
//! `noexec` mount, so nothing a command writes can be executed or mapped
//! executable. Nothing happens in the child; see `mounts.rs`.

use super::{Build, Layer, Spec};
use crate::sandbox::mounts;

pub(super) const SPEC: Spec =
    Spec { layer: Layer::Noexec, name: "noexec", required_by_default: true, opt_in: None, stages: &[], prepare };

fn prepare(build: &mut Build) -> Result<String, String> {
    mounts::ensure_noexec(&build.settings.noexec)
}
