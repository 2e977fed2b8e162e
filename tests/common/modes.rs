//! The ways the product runs, for escape tests that must hold in each:
//!
//! - `Host`: the daemon as root on a host; each principal's commands run
//!   under a uid of their own, each command in a PID namespace, and the
//!   daemon mounts what it needs in a mount namespace of its own;
//! - `Image`: the image's mode, as the ECS task definitions run it: the
//!   daemon as root holding only CAP_CHOWN, CAP_SETUID, CAP_SETGID and
//!   CAP_SYS_PTRACE (so it can give each principal a uid and a workspace,
//!   but create no namespace and mount nothing), `TMPDIR` on a tmpfs
//!   mounted `noexec,nosuid,nodev`;
//! - `SharedUid`: a daemon run as an ordinary user (uid 10001, no
//!   capabilities) with `MCP_SHARED_UID=true`: every command keeps its uid.
//!
//! The test (root) makes the tmpfs in a private mount namespace, then
//! drops what the mode lacks with `setpriv`.
//!
//! With `MCP_TEST_CONTAINER=1` (the container suite sets it), `Image` is the
//! image itself: the daemon runs in a container started by
//! `tests/container/daemon` with the options of the EC2 task definition
//! (read-only root, the four capabilities, noexec tmpfs on /tmp, init,
//! ulimits, no-new-privileges) under Docker's default seccomp profile.
//! `MCP_CONTAINER_IMAGE`, `MCP_CONTAINER_DEFINITION` and `MCP_CONTAINER_LOG`
//! pass through.
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
    SharedUid,
}

pub const MODES: [Mode; 3] = [Mode::Host, Mode::Image, Mode::SharedUid];

/// The capabilities the image's daemon keeps (the task definitions').
const IMAGE_CAPABILITIES: &str = "+chown,+setuid,+setgid,+sys_ptrace";

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
            Mode::Image if in_container() => {
                let mut command = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/container/daemon"));
                command.env_clear().env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
                for name in ["MCP_CONTAINER_IMAGE", "MCP_CONTAINER_DEFINITION", "MCP_CONTAINER_LOG"] {
                    if let Ok(value) = std::env::var(name) {
                        command.env(name, value);
                    }
                }
                command
            }
            Mode::Image => {
                jailed(&format!("--inh-caps=-all,{IMAGE_CAPABILITIES} --bounding-set=-all,{IMAGE_CAPABILITIES}"), None)
            }
            Mode::SharedUid => shared_uid_command(IMAGE_UID, None),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Host => "host (root daemon)",
            Mode::Image if in_container() => {
                "image in a container (docker run with the EC2 task definition's options, Docker's seccomp profile)"
            }
            Mode::Image => "image (root with chown, setuid, setgid and sys_ptrace only, noexec /tmp)",
            Mode::SharedUid => "shared uid (uid 10001, no capabilities, noexec /tmp, MCP_SHARED_UID)",
        }
    }
}

/// Whether `Image` runs the image in a container (`MCP_TEST_CONTAINER=1`);
/// said once on stderr, so a log shows which of the two a run tested.
pub fn in_container() -> bool {
    static CONTAINER: OnceLock<bool> = OnceLock::new();
    *CONTAINER.get_or_init(|| {
        let on = std::env::var("MCP_TEST_CONTAINER").is_ok_and(|v| v == "1");
        if on {
            eprintln!(
                "image mode: the image {} in a container (tests/container/daemon)",
                std::env::var("MCP_CONTAINER_IMAGE").unwrap_or_else(|_| "mcp-commander:test-tools".into())
            );
        }
        on
    })
}

/// The host pid of the daemon that `child` started: `child` itself, or, when
/// `child` is the docker client that tests/container/daemon became, the
/// process beneath the container's init.
pub fn daemon_process(child: u32) -> u32 {
    let argv: Vec<String> = std::fs::read(format!("/proc/{child}/cmdline"))
        .map(|c| c.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect())
        .unwrap_or_default();
    if !argv.first().is_some_and(|a| a.ends_with("docker")) {
        return child;
    }
    let name = argv.iter().skip_while(|a| *a != "--name").nth(1).expect("the container's name").clone();
    for _ in 0..100 {
        let inspect = Command::new("docker").args(["inspect", "--format", "{{.State.Pid}}", &name]).output().unwrap();
        let init = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children"))
            && let Some(daemon) = children.split_whitespace().next()
        {
            return daemon.parse().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no daemon process in the container {name}");
}

/// A process's pids, from the host's PID namespace inwards (`NSpid`).
pub fn namespace_pids(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("NSpid:")).map(str::to_string))
        .map(|l| l.split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default()
}

/// The daemon as `uid` without capabilities and with `MCP_SHARED_UID=true`
/// (a test that exhausts the uid's processes takes one no other test
/// uses), under an nproc limit when given, as a container's ulimit sets it.
pub fn shared_uid_command(uid: u32, nproc: Option<u64>) -> Command {
    let mut command =
        jailed(&format!("--reuid={uid} --regid={uid} --clear-groups --inh-caps=-all --bounding-set=-all"), nproc);
    command.env("MCP_SHARED_UID", "true");
    command
}

/// The binary under `setpriv` with `privileges`, `TMPDIR` on a fresh noexec
/// tmpfs in a private mount namespace, under an nproc limit when given.
fn jailed(privileges: &str, nproc: Option<u64>) -> Command {
    let tmp = scratch_dir("tmp");
    let script = "mount -t tmpfs -o noexec,nosuid,nodev,mode=1777,size=256m tmpfs \"$0\" && \
                  TMPDIR=\"$0\" HOME=\"$0\" exec setpriv $1 -- \"$2\" \"${@:3}\"";
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "--"]);
    if let Some(limit) = nproc {
        command.args(["prlimit".to_string(), format!("--nproc={limit}:{limit}"), "--".to_string()]);
    }
    command
        .args(["bash", "-c", script])
        .arg(&tmp)
        .arg(privileges)
        .arg(image_binary())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    command
}

/// The uid a mode's `run` commands get (the `stdio` principal's).
pub fn command_uid(mode: Mode) -> u32 {
    run(mode, &[], "id -u").stdout.trim().parse().expect("id -u")
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
    let path = shared_dir().join("scripts").join(format!("{name}.py"));
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
        // Made before any daemon starts: a daemon's read rules go around its
        // state directory (inside `jail/`) by listing what exists at its
        // start, so later files must land in directories that existed.
        for sub in ["", "scripts", "dirs", "jail", "bin"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
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
    let parent = if prefix == "tmp" { "jail" } else { "dirs" };
    let dir = shared_dir().join(parent).join(format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
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
            let path = dir.join("mcp-commander");
            let partial = dir.join("mcp-commander.partial");
            std::fs::copy(env!("CARGO_BIN_EXE_mcp-commander"), &partial).unwrap();
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::rename(&partial, &path).unwrap();
            path
        })
        .clone()
}
