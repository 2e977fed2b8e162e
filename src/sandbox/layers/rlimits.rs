//! The rlimits layer: CPU time, address space, file size, open files and
//! processes per command, soft = hard, and no core dumps. The child sets
//! them before it switches uid (RLIMIT_NPROC is checked there).

use super::{Build, Layer, Spec};
use crate::sandbox::child::{self, Stage};

pub(super) const SPEC: Spec = Spec {
    layer: Layer::Rlimits,
    name: "rlimits",
    required_by_default: true,
    opt_in: None,
    stages: &[Stage::Rlimits],
    prepare,
};

fn prepare(build: &mut Build) -> Result<String, String> {
    let r = build.settings.rlimits;
    let limit = |value: u64| libc::rlimit { rlim_cur: value, rlim_max: value };
    build.rlimits = [
        (libc::RLIMIT_CPU as libc::c_int, limit(r.cpu_seconds)),
        (libc::RLIMIT_AS as libc::c_int, limit(r.address_space_bytes)),
        (libc::RLIMIT_FSIZE as libc::c_int, limit(r.file_size_bytes)),
        (libc::RLIMIT_NOFILE as libc::c_int, limit(r.open_files)),
        (libc::RLIMIT_NPROC as libc::c_int, limit(r.processes)),
        (libc::RLIMIT_CORE as libc::c_int, limit(0)),
    ];
    build.steps |= child::STEP_RLIMITS;
    Ok(format!(
        "cpu {}s, address space {} MiB, file size {} MiB, open files {}, processes {}, core 0",
        r.cpu_seconds,
        r.address_space_bytes >> 20,
        r.file_size_bytes >> 20,
        r.open_files,
        r.processes
    ))
}
