//! `mcp-commander bench-spawn`: the cost of the sandbox, measured in one run
//! against a baseline taken in the same run (these machines are noisy).
//!
//! Three ways to start `sh -c true`, from the same number of threads, in
//! alternating rounds: `fork` + `execve` (what xargs does; `std::process::
//! Command` takes this path when it must change the uid), glibc's
//! `posix_spawn` (`clone(CLONE_VM | CLONE_VFORK)`, the fastest unsandboxed
//! spawn, the baseline), and the daemon's spawner (the same clone, then
//! every layer this host enforces). The per-spawn cost of each and the
//! ratio of the sandboxed spawn to the baseline are printed.

use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::sandbox::{Sandbox, SpawnSpec};

/// Largest acceptable ratio of the sandboxed spawn to the bare one.
const BUDGET: f64 = 1.15;

pub(crate) fn run(sandbox: &Sandbox, shell: &Path, count: usize, threads: usize) -> ExitCode {
    let threads = threads.max(1);
    let per_thread = (count / threads).max(1);
    let total = per_thread * threads;
    let spec = SpawnSpec {
        program: shell.to_path_buf(),
        args: vec!["-c".into(), "true".into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        cwd: "/".into(),
        stdin_pipe: false,
    };
    let forked = || {
        use std::os::unix::process::CommandExt;
        // Setting the uid (to our own) makes std fork and exec instead of
        // using posix_spawn.
        let status = std::process::Command::new(shell)
            .args(["-c", "true"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir("/")
            .uid(nix::unistd::getuid().as_raw())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "fork spawn failed");
    };
    let bare = || {
        let status = std::process::Command::new(shell)
            .args(["-c", "true"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "bare spawn failed");
    };
    let sandboxed = || {
        let exit = sandbox.run_blocking(crate::sandbox::CellId(0), &spec);
        assert!(matches!(exit, Ok(crate::sandbox::Exit::Code(0))), "sandboxed spawn failed: {exit:?}");
    };
    println!("spawn benchmark: {total} spawns of `{} -c true` per round, {threads} threads", shell.display());
    println!("sandbox layers: {}", sandbox.enforced().join(", "));
    let mut fork_best = Duration::MAX;
    let mut bare_best = Duration::MAX;
    let mut sandboxed_best = Duration::MAX;
    for round in 1..=3 {
        let f = timed(threads, per_thread, forked);
        let b = timed(threads, per_thread, bare);
        let s = timed(threads, per_thread, sandboxed);
        println!(
            "round {round}: fork+exec {:>6.1} µs ({:>5.0}/s)   posix_spawn {:>6.1} µs ({:>5.0}/s)   \
             sandboxed {:>6.1} µs ({:>5.0}/s)",
            micros(f, total),
            total as f64 / f.as_secs_f64(),
            micros(b, total),
            total as f64 / b.as_secs_f64(),
            micros(s, total),
            total as f64 / s.as_secs_f64()
        );
        fork_best = fork_best.min(f);
        bare_best = bare_best.min(b);
        sandboxed_best = sandboxed_best.min(s);
    }
    let ratio = sandboxed_best.as_secs_f64() / bare_best.as_secs_f64();
    println!(
        "best rounds: fork+exec {:.1} µs/spawn, posix_spawn (bare) {:.1} µs/spawn, sandboxed {:.1} µs/spawn, \
         ratio sandboxed/bare = {ratio:.2} (target <= {BUDGET:.2})",
        micros(fork_best, total),
        micros(bare_best, total),
        micros(sandboxed_best, total)
    );
    ExitCode::SUCCESS
}

/// Wall time for `threads` threads each calling `spawn` `per_thread` times.
fn timed(threads: usize, per_thread: usize, spawn: impl Fn() + Sync) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| (0..per_thread).for_each(|_| spawn()));
        }
    });
    started.elapsed()
}

fn micros(elapsed: Duration, spawns: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / spawns as f64
}
