//! `mcp-commander bench-audit`: what writing audit records costs
//! `execute_command` throughput, measured in one run: the same calls
//! through the same server, with the audit trail writing every record to a
//! file (hashed, and HMAC-keyed when configured) and with it switched off,
//! in alternating rounds. The budget is 5%.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::audit::sinks::file::FileSink;
use crate::audit::{Auditor, Caller};
use crate::config::principals::LOCAL;
use crate::mcp::dispatch::Server;
use crate::mcp::era::StandardHeaders;
use crate::tools::ToolContext;

/// Largest acceptable slowdown.
const BUDGET: f64 = 0.05;

pub(crate) async fn run(tools: &ToolContext, calls: usize, concurrency: usize) -> ExitCode {
    let directory = std::env::temp_dir().join(format!("mcp-commander-bench-audit-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&directory) {
        eprintln!("bench-audit: cannot create {}: {error}", directory.display());
        return ExitCode::FAILURE;
    }
    let file = directory.join("audit.log");
    let settings = &tools.config.audit;
    let audited = match FileSink::open(&file).and_then(|sink| Auditor::start_into(settings, vec![Box::new(sink)])) {
        Ok(auditor) => Arc::new(auditor),
        Err(error) => {
            eprintln!("bench-audit: {error}");
            return ExitCode::FAILURE;
        }
    };
    let with_audit = Arc::new(Server::new(ToolContext { audit: audited.clone(), ..tools.clone() }));
    let without = Arc::new(Server::new(ToolContext { audit: Arc::new(Auditor::disabled()), ..tools.clone() }));
    println!(
        "audit benchmark: {calls} execute_command calls of `echo hi` per round, {concurrency} at a time; \
         records hashed with {:?} into {}",
        settings.hasher,
        file.display()
    );
    let (mut best_with, mut best_without) = (Duration::MAX, Duration::MAX);
    for round in 1..=3 {
        let measured = match timed(&without, calls, concurrency).await {
            Ok(plain) => timed(&with_audit, calls, concurrency).await.map(|recorded| (plain, recorded)),
            Err(error) => Err(error),
        };
        let (plain, recorded) = match measured {
            Ok(times) => times,
            Err(error) => {
                eprintln!("bench-audit: {error}");
                let _ = std::fs::remove_dir_all(&directory);
                return ExitCode::FAILURE;
            }
        };
        println!(
            "round {round}: without audit {:>6.0} calls/s   with audit {:>6.0} calls/s",
            calls as f64 / plain.as_secs_f64(),
            calls as f64 / recorded.as_secs_f64()
        );
        best_with = best_with.min(recorded);
        best_without = best_without.min(plain);
    }
    audited.flush(Duration::from_secs(5), Duration::ZERO);
    let written = audited.stats.written();
    let _ = std::fs::remove_dir_all(&directory);
    let cost = best_with.as_secs_f64() / best_without.as_secs_f64() - 1.0;
    let verdict = if cost <= BUDGET { "within" } else { "OVER" };
    println!(
        "best: audit costs {:+.1}% of throughput ({verdict} the {:.0}% budget); {written} records written",
        cost * 100.0,
        BUDGET * 100.0
    );
    if cost <= BUDGET { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The time `calls` calls take, `concurrency` at a time, as the stdio
/// transport's principal; the first call that fails ends the measurement.
async fn timed(server: &Arc<Server>, calls: usize, concurrency: usize) -> Result<Duration, String> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = calls.div_ceil(concurrency.max(1));
    for _ in 0..concurrency.max(1) {
        let server = server.clone();
        tasks.spawn(async move {
            let caller = Caller { principal: LOCAL.into(), ..Caller::default() };
            let headers = StandardHeaders { caller, ..StandardHeaders::default() };
            for i in 0..per_task {
                let message = json!({
                    "jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": { "name": "execute_command", "arguments": { "command": "echo hi" } }
                });
                let reply = server.handle(message, &headers).await.map(|r| r.body.into_value());
                if reply.as_ref().is_none_or(|r| r["result"]["isError"] != false) {
                    return Err(format!("a benchmark call failed: {}", reply.unwrap_or_default()));
                }
            }
            Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|error| format!("a benchmark task failed: {error}"))??;
    }
    Ok(started.elapsed())
}
