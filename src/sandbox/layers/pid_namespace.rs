//! The pid_namespace layer: each command is cloned into a PID namespace of
//! its own (`CLONE_NEWPID`), so when the daemon dies the
//! kernel kills the whole command tree.

use super::{Build, Layer, Spec};
use crate::sandbox::child::{self, Stage};
use crate::sandbox::process::{CAP_SYS_ADMIN, has_capability};

pub(super) const SPEC: Spec = Spec {
    layer: Layer::PidNamespace,
    name: "pid_namespace",
    required_by_default: false,
    opt_in: None,
    // `clone` refusing the namespace fails before the child runs.
    stages: &[Stage::None],
    prepare,
};

fn prepare(build: &mut Build) -> Result<String, String> {
    if !has_capability(CAP_SYS_ADMIN) {
        return Err("the daemon lacks CAP_SYS_ADMIN (usual in containers); a command's background processes \
                    outlive a daemon killed by SIGKILL"
            .into());
    }
    build.steps |= child::STEP_PID_NAMESPACE;
    build.namespaces |= libc::CLONE_NEWPID;
    Ok("one per command: when the daemon dies, the kernel kills the whole command tree".to_string())
}
