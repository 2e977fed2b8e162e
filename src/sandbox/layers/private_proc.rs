//! The private_proc layer (opt-in): each command also gets a mount
//! namespace (`CLONE_NEWNS`) where the child mounts a procfs
//! of its own PID namespace on `/proc`.

use super::{Build, Layer, Spec};
use crate::sandbox::child::{self, Stage};
use crate::sandbox::mounts;

pub(super) const SPEC: Spec = Spec {
    layer: Layer::PrivateProc,
    name: "private_proc",
    required_by_default: false,
    opt_in: Some(without),
    stages: &[Stage::ProcMount],
    prepare,
};

fn without() -> String {
    format!(
        "opt-in (MCP_SANDBOX_ENABLE=private_proc; it costs a mount namespace and a procfs per command); without \
         it {}",
        mounts::proc_view()
    )
}

fn prepare(build: &mut Build) -> Result<String, String> {
    if build.steps & child::STEP_PID_NAMESPACE == 0 {
        return Err("it needs the pid_namespace layer; a command sees the host's /proc (every process, with its \
                    command line)"
            .into());
    }
    if !mounts::has_private_namespace() {
        return Err("the daemon has no mount namespace of its own (it starts one only as root with \
                    CAP_SYS_ADMIN); a command sees the host's /proc"
            .into());
    }
    build.steps |= child::STEP_PRIVATE_PROC;
    build.namespaces |= libc::CLONE_NEWNS;
    Ok("one mount namespace per command with a procfs of its own PID namespace: ps and /proc show only the \
        command's processes"
        .to_string())
}
