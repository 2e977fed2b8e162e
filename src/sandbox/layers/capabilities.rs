//! The capabilities layer: the child drops the bounding set (where the
//! daemon may, before the uid switch) and clears the ambient, effective,
//! permitted and inheritable sets (after it).

use super::{Build, Layer, Spec};
use crate::sandbox::child::{self, Stage};
use crate::sandbox::process::{CAP_SETPCAP, capability_mask, has_capability};

pub(super) const SPEC: Spec = Spec {
    layer: Layer::Capabilities,
    name: "capabilities",
    required_by_default: false,
    opt_in: None,
    stages: &[Stage::BoundingSet, Stage::Capabilities],
    prepare,
};

fn prepare(build: &mut Build) -> Result<String, String> {
    build.steps |= child::STEP_CAPSET;
    if capability_mask("CapBnd") == Some(0) {
        Ok("effective, permitted, inheritable, ambient and bounding sets empty (the bounding set was emptied in \
            the daemon at start)"
            .to_string())
    } else if has_capability(CAP_SETPCAP) {
        build.steps |= child::STEP_BOUNDING_SET;
        Ok("effective, permitted, inheritable, ambient and bounding sets empty".to_string())
    } else {
        Ok("effective, permitted, inheritable and ambient sets empty; bounding set kept (the daemon lacks \
            CAP_SETPCAP), and no_new_privs keeps it from being used"
            .to_string())
    }
}
