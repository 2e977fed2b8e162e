//! `mcp-commander bench-policy`: the cost of one policy decision for a
//! typical 200-byte command, against the budget of 50 µs and against a
//! baseline every call pays anyway, measured in the same run: decoding the
//! `tools/call` JSON body that carries the command.
//!
//! Every command differs from the previous one in a file name, so the
//! parser's word cache cannot turn the measurement into a cache lookup.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::policy::{DEFAULT_MAX_COMMAND_BYTES, Decision, Policy, Scope};

/// Budget for one decision.
const BUDGET: Duration = Duration::from_micros(50);

/// The allowlist of the deployment guide, plus a few common tools.
const ALLOWLIST: &[&str] = &[
    "ls",
    "cat",
    "grep",
    "find",
    "echo",
    "pwd",
    "whoami",
    "head",
    "tail",
    "wc",
    "sort",
    "xargs",
    "git status",
    "git log",
    "sed",
    "awk",
];

fn command(i: usize) -> String {
    format!(
        "cd src && grep -rn \"fn main\" --include='*.rs' . | head -20 && find . -maxdepth 2 -name '*.toml' | \
         xargs wc -l | sort -n | tail -5; echo \"done: $(ls -1 | wc -l) files in $(pwd)\" > summary-{i:05}.txt 2>&1"
    )
}

pub(crate) fn run(iterations: usize) -> ExitCode {
    let allowed: Vec<String> = ALLOWLIST.iter().map(|s| s.to_string()).collect();
    let policy = match Policy::new(&allowed, &[], DEFAULT_MAX_COMMAND_BYTES) {
        Ok(policy) => policy,
        Err(error) => {
            eprintln!("bench-policy: {error}");
            return ExitCode::FAILURE;
        }
    };
    let roots = [std::env::temp_dir()];
    let cwd: PathBuf = std::env::temp_dir();
    let scope = Scope { cwd: Path::new(&cwd), writable_roots: &roots };
    let commands: Vec<String> = (0..iterations).map(command).collect();
    let bodies: Vec<String> = commands
        .iter()
        .map(|c| {
            serde_json::json!({
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": { "name": "execute_command", "arguments": { "command": c, "timeout": "30s" } }
            })
            .to_string()
        })
        .collect();
    if policy.check(&commands[0], scope) != Decision::Allow {
        eprintln!("bench-policy: the benchmark command is refused: {:?}", policy.check(&commands[0], scope));
        return ExitCode::FAILURE;
    }
    println!(
        "policy benchmark: {iterations} decisions per round, {}-byte commands, allowlist of {} entries",
        commands[0].len(),
        ALLOWLIST.len()
    );
    let (mut decide_best, mut decode_best) = (Duration::MAX, Duration::MAX);
    for round in 1..=5 {
        let start = Instant::now();
        for body in &bodies {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(body)).ok());
        }
        let decode = start.elapsed() / iterations as u32;
        let start = Instant::now();
        for command in &commands {
            black_box(policy.check(black_box(command), scope));
        }
        let decide = start.elapsed() / iterations as u32;
        let start = Instant::now();
        for command in &commands {
            black_box(crate::policy::syntax::parse(black_box(command)).ok());
        }
        let parse = start.elapsed() / iterations as u32;
        println!(
            "round {round}: decision {:>6.1} µs (parsing {:>6.1} µs)   JSON decode of the call {:>6.1} µs",
            micros(decide),
            micros(parse),
            micros(decode)
        );
        decide_best = decide_best.min(decide);
        decode_best = decode_best.min(decode);
    }
    let ratio = decide_best.as_secs_f64() / decode_best.as_secs_f64();
    let verdict = if decide_best <= BUDGET { "within" } else { "OVER" };
    println!(
        "best: decision {:.1} µs ({verdict} the {} µs budget); {ratio:.1}x the JSON decode of the same call",
        micros(decide_best),
        BUDGET.as_micros()
    );
    if decide_best <= BUDGET { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
