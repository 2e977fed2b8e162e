//! Code that does not arrive by `execve` of an allowed file, tried in both
//! modes: a file written into a writable root (the scratch directory, a
//! configured root) run by the dynamic loader, `LD_PRELOAD`, `LD_AUDIT`,
//! `dlopen`, `mmap(PROT_EXEC)` or `mprotect`; a program written to a
//! memfd (sealed against exec or not) and run through `/proc/self/fd`, the
//! loader or `execveat`; writing one's own memory through `/proc/self/mem`.
//! Each has its legitimate twin; the control runs show the loader route and
//! the memfd route are real without the layer that stops them.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Daemon, MODES, Mode, fresh_dir, run, script};

const LOADER: &str = "/lib64/ld-linux-x86-64.so.2";
const LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/libz.so.1";

const MAPS: &str = r#"
import mmap, shutil
kind = sys.argv[1]
shutil.copy(sys.argv[2], "written.so")
if kind == "dlopen":
    attempt(lambda: ctypes.CDLL("./written.so"))
elif kind == "dlopen-system":
    attempt(lambda: ctypes.CDLL(sys.argv[2]))
elif kind == "mmap-exec":
    with open("written.so", "rb") as f:
        attempt(lambda: mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC))
elif kind == "mmap-read":
    with open("written.so", "rb") as f:
        attempt(lambda: mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ))
elif kind == "mprotect":
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fd = os.open("written.so", os.O_RDONLY)
    address = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
    attempt(lambda: check(libc.mprotect(address, 4096, mmap.PROT_READ | mmap.PROT_EXEC)))
elif kind == "proc-self-mem":
    attempt(lambda: os.open("/proc/self/mem", os.O_RDWR))
"#;

const MEMFD: &str = r#"
kind = sys.argv[1]
MFD_NOEXEC_SEAL = 8
if kind in ("memfd", "memfd-sealed"):
    fd = attempt(lambda: os.memfd_create("payload", MFD_NOEXEC_SEAL if kind == "memfd-sealed" else 0))
    if fd is not None:
        os.write(fd, open("/usr/bin/id", "rb").read())
        import subprocess
        for argv in (["/proc/self/fd/%d" % fd], [sys.argv[2], "/proc/self/fd/%d" % fd]):
            try:
                r = subprocess.run(argv, capture_output=True, text=True, pass_fds=(fd,))
                print("ran:", r.stdout.strip(), r.stderr.strip())
            except OSError as e:
                print("refused:", argv[0], e)
elif kind in ("execveat-copy", "execveat-system", "execveat-path"):
    import shutil
    shutil.copy("/usr/bin/id", "copy-of-id")
    target = {"execveat-copy": "copy-of-id", "execveat-system": "/usr/bin/id", "execveat-path": "/usr/bin/id"}[kind]
    fd = os.open(target, os.O_RDONLY)
    path, flags = (b"/usr/bin/id", 0) if kind == "execveat-path" else (b"", 0x1000)  # AT_EMPTY_PATH
    pid = os.fork()
    if pid == 0:
        argv = (ctypes.c_char_p * 2)(b"id", None)
        envp = (ctypes.c_char_p * 1)(None)
        libc.syscall(322, -100 if kind == "execveat-path" else fd, path, argv, envp, flags)
        os._exit(100 + ctypes.get_errno())
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print("OK" if code == 0 else "ERR " + errno.errorcode.get(code - 100, str(code)))
"#;

#[test]
fn files_written_by_a_command_never_run_by_any_route() {
    for mode in MODES {
        let loader = run(mode, &[], &format!("cp /usr/bin/id ./copy-of-id && {LOADER} ./copy-of-id"));
        assert!(!loader.stdout.contains("uid="), "{}: the loader ran a written file: {loader:?}", mode.name());
        assert!(loader.stderr.contains("failed to map segment"), "{}: {loader:?}", mode.name());
        let preload = run(
            mode,
            &[],
            &format!(
                "cp {LIBRARY} ./written.so && printf 'LD_PRELOAD=./written.so /bin/true\\nLD_AUDIT=./written.so \
                 /bin/true\\n' > s.sh && sh s.sh"
            ),
        );
        assert!(preload.stderr.contains("cannot be preloaded (failed to map segment"), "{}: {preload:?}", mode.name());
        assert!(preload.stderr.contains("cannot be loaded as audit interface"), "{}: {preload:?}", mode.name());
        for (kind, expected) in
            [("dlopen", "ERR"), ("mmap-exec", "ERR EPERM"), ("mprotect", "ERR EACCES"), ("proc-self-mem", "ERR EACCES")]
        {
            let outcome = run(mode, &[], &script("maps", MAPS, &[kind, LIBRARY]));
            assert!(outcome.verdict().starts_with(expected), "{}: {kind}: {outcome:?}", mode.name());
        }
        let copy = run(mode, &[], "cp /bin/true ./t && ./t; printf '#!/bin/sh\\necho ran\\n' > s && chmod +x s && ./s");
        assert_eq!(copy.stderr.matches("Permission denied").count(), 2, "{}: {copy:?}", mode.name());
        // Twins: the system's own libraries and programs load and run; a
        // written file can be read, mapped for reading, and interpreted.
        for (kind, expected) in [("dlopen-system", "OK"), ("mmap-read", "OK")] {
            let outcome = run(mode, &[], &script("maps", MAPS, &[kind, LIBRARY]));
            assert_eq!(outcome.verdict(), expected, "{}: {kind}: {outcome:?}", mode.name());
        }
        let twin = run(
            mode,
            &[],
            &format!("{LOADER} /usr/bin/id -u && printf 'echo interpreted\\n' > s.sh && sh s.sh && LD_BIND_NOW=1 true"),
        );
        assert!(twin.ok() && twin.stdout.contains("interpreted"), "{}: {twin:?}", mode.name());
    }
    // Control: the same loader route without the noexec mount runs `id`.
    let control = run(
        Mode::Host,
        &[("MCP_SANDBOX_REQUIRE", "landlock,seccomp"), ("MCP_SANDBOX_DISABLE", "noexec")],
        &format!("cp /usr/bin/id ./copy-of-id && {LOADER} ./copy-of-id"),
    );
    assert!(control.stdout.contains("uid="), "the control should show the route is real: {control:?}");
}

#[test]
fn programs_in_memory_files_or_descriptors_never_run() {
    for mode in MODES {
        for kind in ["memfd", "memfd-sealed"] {
            let outcome = run(mode, &[], &script("memfd", MEMFD, &[kind, LOADER]));
            assert_eq!(outcome.verdict(), "ERR EPERM", "{}: {kind}: {outcome:?}", mode.name());
            assert!(!outcome.stdout.contains("uid="), "{}: {kind}: {outcome:?}", mode.name());
        }
        for (kind, expected) in
            [("execveat-copy", "ERR EPERM"), ("execveat-system", "ERR EPERM"), ("execveat-path", "OK")]
        {
            let outcome = run(mode, &[], &script("memfd", MEMFD, &[kind, LOADER]));
            assert_eq!(outcome.verdict(), expected, "{}: {kind}: {outcome:?}", mode.name());
        }
    }
    // Control: without seccomp a sealed memfd (no exec permission) still
    // runs through the loader, which maps it executable.
    let control = run(
        Mode::Host,
        &[("MCP_SANDBOX_REQUIRE", "landlock"), ("MCP_SANDBOX_DISABLE", "seccomp")],
        &script("memfd", MEMFD, &["memfd-sealed", LOADER]),
    );
    assert!(control.stdout.contains("ran: uid="), "the control should show the route is real: {control:?}");
}

#[test]
fn configured_writable_roots_are_noexec_too_or_the_daemon_does_not_start() {
    // On the host the daemon bind-mounts the root noexec in its own mount
    // namespace; the host's view of it is unchanged.
    let root = fresh_dir("exec-root", 0o777);
    let path = root.display().to_string();
    let host =
        run(Mode::Host, &[("MCP_WRITABLE_ROOTS", &path)], &format!("cp /usr/bin/id {path}/id && {LOADER} {path}/id"));
    assert!(!host.stdout.contains("uid=") && host.stderr.contains("failed to map segment"), "{host:?}");
    let on_host = std::process::Command::new(LOADER).arg(root.join("id")).output().unwrap();
    assert!(String::from_utf8_lossy(&on_host.stdout).contains("uid="), "the host's own mount was changed");
    std::fs::set_permissions(root.join("id"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // The image's daemon cannot mount: a writable root on an exec mount
    // stops the start, naming it, unless the operator accepts the risk.
    let refused = run(Mode::Image, &[("MCP_WRITABLE_ROOTS", &path)], "true");
    assert_eq!(refused.status, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(&format!("{path} is writable by commands but its mount allows execution"))
            && refused.stderr.contains("MCP_SANDBOX_DISABLE=noexec"),
        "{refused:?}"
    );
    let accepted = run(
        Mode::Image,
        &[
            ("MCP_WRITABLE_ROOTS", &path),
            ("MCP_SANDBOX_REQUIRE", "landlock,seccomp,sockets"),
            ("MCP_SANDBOX_DISABLE", "noexec"),
        ],
        "true",
    );
    assert!(accepted.ok(), "{accepted:?}");
}

#[test]
fn doctor_health_and_shell_info_report_the_noexec_layer() {
    for mode in MODES {
        let mut doctor = mode.command();
        let report = doctor.arg("doctor").output().unwrap();
        let text = String::from_utf8_lossy(&report.stdout);
        assert!(report.status.success(), "{}: {text}", mode.name());
        assert!(text.contains("noexec        enforced"), "{}: {text}", mode.name());
        assert!(text.contains("sockets       enforced"), "{}: {text}", mode.name());
        let daemon = Daemon::start_in(mode, &[]);
        let health = daemon.request("GET", "/health", &[], "").json();
        let layers: Vec<&str> = health["sandbox"].as_array().unwrap().iter().filter_map(|l| l.as_str()).collect();
        assert!(layers.contains(&"noexec") && layers.contains(&"sockets"), "{}: {health}", mode.name());
        let info = daemon.call_tool("get_shell_info", serde_json::json!({}))["structuredContent"].clone();
        assert!(info["sandbox"]["noexec"].as_str().unwrap().starts_with("enforced"), "{}: {info}", mode.name());
    }
}

const COMPUTED: &str = r#"
import mmap
kind = sys.argv[1]
open("code.bin", "wb").write(b"\xb8\x2a\x00\x00\x00\xc3")  # mov eax, 42; ret
code = open("code.bin", "rb").read()
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
anonymous = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
shared = mmap.MAP_SHARED | mmap.MAP_ANONYMOUS
libc.mremap.restype = ctypes.c_void_p
libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
def mapped(address):
    return check(-1 if address in (None, ctypes.c_void_p(-1).value) else 0) or address
def run():
    if kind == "shared-exec-view":
        # One executable view of shared memory, one writable view of it.
        executable = mapped(libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_EXEC, shared, -1, 0))
        writable = mapped(libc.mremap(executable, 0, 4096, 1))  # MREMAP_MAYMOVE, old_size 0: a duplicate
        check(libc.mprotect(writable, 4096, mmap.PROT_READ | mmap.PROT_WRITE))
        ctypes.memmove(writable, code, len(code))
        print("ran", ctypes.CFUNCTYPE(ctypes.c_int)(executable)())
        return
    if kind == "shared-write-view":
        writable = mapped(libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_WRITE, shared, -1, 0))
        executable = mapped(libc.mremap(writable, 0, 4096, 1))
        check(libc.mprotect(executable, 4096, mmap.PROT_READ | mmap.PROT_EXEC))
        ctypes.memmove(writable, code, len(code))
        print("ran", ctypes.CFUNCTYPE(ctypes.c_int)(executable)())
        return
    if kind == "write-and-execute":
        address = libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC, anonymous, -1, 0)
        check(-1 if address in (None, ctypes.c_void_p(-1).value) else 0)
    else:
        address = libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_WRITE, anonymous, -1, 0)
    ctypes.memmove(address, code, len(code))
    if kind == "write-then-protect":
        check(libc.mprotect(address, 4096, mmap.PROT_READ | mmap.PROT_EXEC))
    print("ran", ctypes.CFUNCTYPE(ctypes.c_int)(address)())
attempt(run)
"#;

#[test]
fn with_mdwe_machine_code_a_program_computes_never_runs() {
    for mode in MODES {
        for (kind, refusal) in [
            ("write-and-execute", "ERR EACCES"),
            ("write-then-protect", "ERR EACCES"),
            ("shared-exec-view", "ERR EPERM"),
            ("shared-write-view", "ERR EPERM"),
        ] {
            let strict = run(mode, &[("MCP_SANDBOX_ENABLE", "mdwe")], &script("computed", COMPUTED, &[kind]));
            assert_eq!(strict.verdict(), refusal, "{}: {kind}: {strict:?}", mode.name());
            // Without the opt-in layer an allowed interpreter runs what it is
            // given (SECURITY.md): the test shows the route is real.
            let default = run(mode, &[], &script("computed", COMPUTED, &[kind]));
            assert!(default.stdout.contains("ran 42"), "{}: {kind}: {default:?}", mode.name());
        }
        let twin = run(
            mode,
            &[("MCP_SANDBOX_ENABLE", "mdwe")],
            "ls / >/dev/null && /usr/bin/python3 -c 'import json, ctypes; print(json.dumps(sum(range(10))))' && sh -c 'echo sh'",
        );
        assert_eq!(twin.stdout, "45\nsh\n", "{}: {twin:?}", mode.name());
    }
}
