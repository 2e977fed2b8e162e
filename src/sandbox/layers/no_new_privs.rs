//! The no_new_privs layer: `PR_SET_NO_NEW_PRIVS` in the child, so no setuid
//! program or file capability raises a command's privileges (and Landlock
//! and seccomp may be applied without CAP_SYS_ADMIN).

use super::{Build, Layer, Spec};
use crate::sandbox::child::{self, Stage};

pub(super) const SPEC: Spec = Spec {
    layer: Layer::NoNewPrivs,
    name: "no_new_privs",
    required_by_default: true,
    opt_in: None,
    stages: &[Stage::NoNewPrivs],
    prepare,
};

fn prepare(build: &mut Build) -> Result<String, String> {
    build.steps |= child::STEP_NO_NEW_PRIVS;
    Ok("set".to_string())
}
