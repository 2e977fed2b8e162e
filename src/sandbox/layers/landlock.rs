//! The landlock layer: one ruleset per cell (what its commands may read,
//! write, execute and reach), prepared once here; a cell whose commands
//! run under a uid of their own gets spawning threads already in its
//! domain (`spawner.rs`), else each child restricts itself.

use super::{Build, Layer, Spec};
use crate::sandbox::child::Stage;
use crate::sandbox::{LandlockRules, child, landlock, mounts, spawner};

pub(super) const SPEC: Spec = Spec {
    layer: Layer::Landlock,
    name: "landlock",
    required_by_default: true,
    opt_in: None,
    stages: &[Stage::Landlock],
    prepare,
};

fn prepare(build: &mut Build) -> Result<String, String> {
    let abi = landlock::kernel_abi()?;
    let mut rules = 0;
    let mut out_of_reach = 0;
    let mut executable = usize::MAX;
    let mut searched = None;
    let private_proc = build.wants(Layer::PrivateProc) && mounts::has_private_namespace();
    for (cell, configured) in build.cells.iter_mut().zip(&build.settings.cells) {
        let landlock = LandlockRules { private_proc, ..configured.landlock.clone() };
        let (ruleset, count) = landlock::prepare(&landlock)?;
        // Commands under the daemon's own uid could signal a thread that
        // shares their domain; a private /proc is mounted by each child,
        // which a restricted thread may not do.
        if cell.switch_user && !private_proc {
            cell.spawners = Some(spawner::Pool::new(&ruleset, &configured.name)?);
        }
        cell.ruleset = Some(ruleset);
        rules = rules.max(count);
        if !configured.landlock.hidden_programs.is_empty() {
            out_of_reach = out_of_reach.max(configured.landlock.hidden_programs.len());
            executable = executable.min(configured.landlock.exec_paths.len());
            searched = searched.or(configured.landlock.searched);
        }
    }
    build.steps |= child::STEP_LANDLOCK;
    Ok(format!(
        "ABI {abi}, {} ruleset(s) of up to {rules} rules{}{}",
        build.cells.len(),
        if out_of_reach > 0 {
            let (files, took) = searched.unwrap_or_default();
            format!(
                "; under the allowlist only the shell, its loader, the allowed programs and their helpers may be \
                 executed ({executable} paths at the fewest), and of the programs found among {files} files \
                 searched in {} ms only those may be read: {out_of_reach} others are not, so the loader can \
                 neither run nor copy them{}",
                took.as_millis(),
                if private_proc { " (and /proc with them, under private_proc)" } else { "" }
            )
        } else {
            String::new()
        },
        if abi < 6 { " (no signal or abstract-socket scoping below ABI 6)" } else { "" }
    ))
}
