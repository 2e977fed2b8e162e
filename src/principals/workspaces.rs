//! Where principals' files live: the daemon's state directory (mode 0711,
//! the daemon's), and in it one workspace per principal (mode 0700, owned
//! by the principal's uid), the default working directory of its calls,
//! kept across them. A workspace unused for the idle limit is emptied; the
//! whole state directory goes when the daemon exits.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Creates the state directory under the system temporary directory, with
/// an unpredictable name: principals may pass through it to their own
/// workspace, but not list it.
pub(crate) fn create_state_dir() -> Result<PathBuf, String> {
    let template = std::env::temp_dir().join("mcp-commander-XXXXXX");
    let dir = nix::unistd::mkdtemp(&template).map_err(|error| {
        format!(
            "cannot create the daemon's state directory in {}: {error} (set TMPDIR to a writable directory, e.g. a \
             noexec tmpfs)",
            std::env::temp_dir().display()
        )
    })?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| format!("cannot set the mode of {}: {e}", dir.display()))?;
    std::fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Creates the workspace of principal number `index`, owned by `owner`
/// (when commands do not run as the daemon).
pub(super) fn create(state_dir: &Path, index: usize, owner: Option<(u32, u32)>) -> Result<PathBuf, String> {
    let dir = state_dir.join(format!("w{index}"));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create the workspace {}: {e}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot set the mode of {}: {e}", dir.display()))?;
    if let Some((uid, gid)) = owner {
        nix::unistd::chown(&dir, Some(uid.into()), Some(gid.into())).map_err(|e| {
            format!("cannot give the workspace {} to uid {uid}: {e} (the daemon needs CAP_CHOWN)", dir.display())
        })?;
    }
    Ok(dir)
}

/// When a workspace was last used, and how many calls use it now. One lock
/// covers both and the emptying, so no call starts while its workspace is
/// being emptied.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<(Instant, usize)>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity { state: Mutex::new((Instant::now(), 0)) }
    }
}

impl Activity {
    /// A call starts using the workspace.
    pub(super) fn begin(&self) {
        let mut state = self.state.lock().expect("activity");
        *state = (Instant::now(), state.1 + 1);
    }

    /// A call stops using it.
    pub(super) fn end(&self) {
        let mut state = self.state.lock().expect("activity");
        *state = (Instant::now(), state.1 - 1);
    }
}

/// Empties `workspace` when its principal has not used it for `limit`:
/// what is in it goes, the directory stays. Returns whether it did.
pub(super) fn empty_if_idle(workspace: &Path, activity: &Activity, limit: Duration) -> bool {
    let state = activity.state.lock().expect("activity");
    if state.1 > 0 || state.0.elapsed() < limit {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(workspace) else { return false };
    let mut emptied = false;
    for entry in entries.flatten() {
        let path = entry.path();
        // remove_dir_all does not follow symbolic links, so a link a command
        // planted cannot point the removal elsewhere.
        let removed = match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        emptied |= removed.is_ok();
    }
    emptied
}
