//! The two ways the product runs, for escape tests that must hold in both:
//!
//! - `Host`: the daemon as root on a host; commands run as `nobody`, each in
//!   a PID namespace, and the daemon mounts what it needs in a mount
//!   namespace of its own;
//! - `Image`: the image's mode, as the ECS task definitions run it: the
//!   daemon as uid 10001 with no capabilities at all (so commands keep its
//!   uid and it can create no namespace), `TMPDIR` on a tmpfs mounted
//!   `noexec,nosuid,nodev`. The test (root) makes that tmpfs in a private
//!   mount namespace, then drops to 10001 with `setpriv`.
//!
//! Attack programs are Python scripts written to a world-readable directory
//! ([`script`]); each prints `OK` when its operation succeeded or `ERR
//! <errno name>` when the kernel refused it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The uid and gid of the image's user.
pub const IMAGE_UID: u32 = 10001;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Host,
    Image,
}

pub const MODES: [Mode; 2] = [Mode::Host, Mode::Image];

impl Mode {
    /// A command running the daemon's binary in this mode (arguments still to
    /// add), with a clean environment holding PATH and HOME.
    pub fn command(self) -> Command {
        match self {
            Mode::Host => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-commander"));
                command.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin").env("HOME", "/root");
                command
            }
            Mode::Image => image_command(IMAGE_UID, None),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Host => "host (root daemon)",
            Mode::Image => "image (uid 10001, no capabilities, noexec /tmp)",
        }
    }
}

/// The image's mode with the daemon as `uid` (a test that exhausts the
/// uid's processes takes one no other test uses), under an nproc limit
/// when given, as the task definition's ulimit sets it.
pub fn image_command(uid: u32, nproc: Option<u64>) -> Command {
    let tmp = scratch_dir("tmp");
    let script = "mount -t tmpfs -o noexec,nosuid,nodev,mode=1777,size=256m tmpfs \"$0\" && \
                  TMPDIR=\"$0\" HOME=\"$0\" exec setpriv --reuid=\"$1\" --regid=\"$1\" --clear-groups \
                  --inh-caps=-all --bounding-set=-all -- \"$2\" \"${@:3}\"";
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "--"]);
    if let Some(limit) = nproc {
        command.args(["prlimit".to_string(), format!("--nproc={limit}:{limit}"), "--".to_string()]);
    }
    command
        .args(["bash", "-c", script])
        .arg(&tmp)
        .arg(uid.to_string())
        .arg(image_binary())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    command
}

/// What one `mcp-commander run` gave.
#[derive(Debug)]
pub struct Outcome {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status == 0
    }

    /// The `OK` / `ERR <errno>` line an attack script printed.
    pub fn verdict(&self) -> &str {
        self.stdout.lines().rev().find(|l| l.starts_with("OK") || l.starts_with("ERR")).unwrap_or("no verdict")
    }
}

/// Runs `command` through `mcp-commander run` in `mode`, with `env` added.
pub fn run(mode: Mode, env: &[(&str, &str)], command: &str) -> Outcome {
    let mut process = mode.command();
    process.args(["run", "--timeout", "20s", "--", command]).env("MCP_LOG_LEVEL", "error");
    for (key, value) in env {
        process.env(key, value);
    }
    let output = process.output().expect("run mcp-commander");
    Outcome {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.starts_with("{\"audit_version\""))
            .map(|l| format!("{l}\n"))
            .collect(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The environment that switches off the socket broker and seccomp (and no
/// longer requires them): a control run that shows an attack is real.
pub const WITHOUT_SECCOMP_AND_BROKER: &[(&str, &str)] =
    &[("MCP_SANDBOX_REQUIRE", "landlock"), ("MCP_SANDBOX_DISABLE", "seccomp,sockets")];

/// Writes a Python attack or twin program where every uid can read it, and
/// returns the command that runs it with `args`.
pub fn script(name: &str, body: &str, args: &[&str]) -> String {
    let dir = shared_dir().join("scripts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join(format!("{name}.py"));
    let program = format!("{PRELUDE}\n{body}\n");
    std::fs::write(&path, program).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut command = format!("/usr/bin/python3 {}", path.display());
    for arg in args {
        command.push_str(&format!(" '{arg}'"));
    }
    command
}

/// Every script's start: `attempt(f)` prints OK or ERR <errno name>.
const PRELUDE: &str = r#"import ctypes, errno, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def attempt(action):
    try:
        result = action()
    except OSError as e:
        print("ERR", errno.errorcode.get(e.errno, e.errno), flush=True)
        return None
    print("OK", flush=True)
    return result
def check(result):
    if result is None or (isinstance(result, int) and result < 0):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return result
"#;

/// A directory shared by every test of this process, readable by all.
pub fn shared_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new("/var/tmp/mcp-commander-tests");
        std::fs::create_dir_all(base).unwrap();
        std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Directories of earlier runs whose process is gone.
        for entry in std::fs::read_dir(base).unwrap().flatten() {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok();
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
    .clone()
}

/// A fresh directory under [`shared_dir`] with `mode`.
pub fn fresh_dir(prefix: &str, mode: u32) -> PathBuf {
    let dir = scratch_dir(prefix);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

fn scratch_dir(prefix: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = shared_dir().join(format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A copy of the binary that uid 10001 can execute wherever the checkout is
/// (a CI clone may sit in a directory only root can enter).
fn image_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let dir = shared_dir().join("bin");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            let path = dir.join("mcp-commander");
            let partial = dir.join("mcp-commander.partial");
            std::fs::copy(env!("CARGO_BIN_EXE_mcp-commander"), &partial).unwrap();
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::rename(&partial, &path).unwrap();
            path
        })
        .clone()
}
