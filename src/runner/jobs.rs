//! Background commands: started by one call, read and killed by later ones.
//!
//! Each job runs through the same runner (so the same sandbox, timeout and
//! tree kill) on its own task, and writes its output into a bounded tap
//! read by offset. Limits: how many run at once, how long one may run (its
//! timeout), how much output is kept, and how long a finished job stays
//! readable. Jobs live in this daemon's memory only: behind a load
//! balancer they need a single task or sticky routing, and a restart ends
//! them (their processes die with the daemon).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

use super::{Chunk, OutputTap, RunRequest, Runner};
use crate::sandbox::Exit;

/// Limits on background commands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobLimits {
    pub(crate) max_running: usize,
    pub(crate) lifetime: Duration,
    pub(crate) buffer_bytes: usize,
    /// How long a finished job stays readable.
    pub(crate) retention: Duration,
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JobState {
    Running,
    Exited { exit: Option<Exit>, timed_out: bool },
    Killed,
    FailedToStart(String),
}

/// What `list_commands` and `read_command_output` report of a job.
#[derive(Debug, Clone)]
pub(crate) struct JobStatus {
    pub(crate) id: String,
    pub(crate) command: String,
    pub(crate) state: JobState,
    pub(crate) runtime: Duration,
    pub(crate) output_bytes: u64,
}

#[derive(Debug)]
struct Job {
    /// The principal who started it: only it may read, list or kill it.
    owner: String,
    command: String,
    started: Instant,
    /// Set when the job stops running.
    ended: Arc<Mutex<Option<(Instant, JobState)>>>,
    tap: Arc<OutputTap>,
    task: AbortHandle,
}

/// Every background job of this daemon. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct JobTable {
    jobs: Arc<Mutex<HashMap<String, Job>>>,
    next_id: Arc<AtomicU64>,
    limits: JobLimits,
    runner: Runner,
}

/// Called when a job ends, with its id and outcome (for its audit record).
pub(crate) type JobEnd = Box<
    dyn FnOnce(String, std::io::Result<super::RunOutcome>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send,
>;

impl JobTable {
    pub(crate) fn new(runner: Runner, limits: JobLimits) -> JobTable {
        JobTable { jobs: Arc::default(), next_id: Arc::new(AtomicU64::new(1)), limits, runner }
    }

    pub(crate) fn limits(&self) -> JobLimits {
        self.limits
    }

    /// Starts `request` in the background; its timeout is capped by the
    /// job lifetime. Returns the job id.
    pub(crate) fn start(&self, owner: &str, mut request: RunRequest, on_end: JobEnd) -> Result<String, String> {
        let mut jobs = self.jobs.lock().expect("job table lock");
        purge(&mut jobs, self.limits.retention);
        let running = jobs.values().filter(|job| job.ended.lock().expect("job lock").is_none()).count();
        if running >= self.limits.max_running {
            return Err(format!(
                "{running} background commands are running, the most allowed (MCP_BACKGROUND_MAX_RUNNING); \
                 wait for one or kill one with kill_command"
            ));
        }
        let id = format!("cmd-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let tap = Arc::new(OutputTap::new(self.limits.buffer_bytes));
        request.timeout = request.timeout.min(self.limits.lifetime);
        request.tap = Some(tap.clone());
        let command = request.command.clone();
        let ended = Arc::new(Mutex::new(None));
        let runner = self.runner.clone();
        let finish = ended.clone();
        let job = id.clone();
        let task = tokio::spawn(async move {
            let result = runner.run(request).await;
            let state = match &result {
                Ok(outcome) => JobState::Exited { exit: outcome.exit, timed_out: outcome.timed_out },
                Err(error) => JobState::FailedToStart(error.to_string()),
            };
            finish.lock().expect("job lock").get_or_insert((Instant::now(), state));
            on_end(job, result).await;
        });
        let owner = owner.to_string();
        jobs.insert(id.clone(), Job { owner, command, started: Instant::now(), ended, tap, task: task.abort_handle() });
        Ok(id)
    }

    /// Output of `owner`'s job `id` from `offset`, or its last `tail` bytes.
    pub(crate) fn read(
        &self,
        owner: &str,
        id: &str,
        offset: Option<u64>,
        tail: Option<u64>,
        max: usize,
    ) -> Option<(Chunk, JobStatus)> {
        let mut jobs = self.jobs.lock().expect("job table lock");
        purge(&mut jobs, self.limits.retention);
        let job = jobs.get(id).filter(|job| job.owner == owner)?;
        let from = match (offset, tail) {
            (Some(offset), _) => offset,
            (None, Some(tail)) => job.tap.written().saturating_sub(tail),
            (None, None) => 0,
        };
        Some((job.tap.read(from, max), status(id, job)))
    }

    /// `owner`'s jobs.
    pub(crate) fn list(&self, owner: &str) -> Vec<JobStatus> {
        let mut jobs = self.jobs.lock().expect("job table lock");
        purge(&mut jobs, self.limits.retention);
        let mut list: Vec<JobStatus> =
            jobs.iter().filter(|(_, job)| job.owner == owner).map(|(id, job)| status(id, job)).collect();
        list.sort_by_key(|job| job.id.trim_start_matches("cmd-").parse::<u64>().unwrap_or(0));
        list
    }

    /// Kills `owner`'s job `id` with its whole tree (`None` as owner: any
    /// job, at shutdown); `None` if there is no such job, `Some(false)` if
    /// it had already ended.
    pub(crate) fn kill(&self, owner: Option<&str>, id: &str) -> Option<bool> {
        let jobs = self.jobs.lock().expect("job table lock");
        let job = jobs.get(id).filter(|job| owner.is_none_or(|owner| job.owner == owner))?;
        let mut ended = job.ended.lock().expect("job lock");
        if ended.is_some() {
            return Some(false);
        }
        // Dropping the run kills the process group and reaps it.
        job.task.abort();
        *ended = Some((Instant::now(), JobState::Killed));
        Some(true)
    }

    /// Kills every running job (daemon shutdown).
    pub(crate) fn kill_all(&self) {
        let ids: Vec<String> = self.jobs.lock().expect("job table lock").keys().cloned().collect();
        for id in ids {
            self.kill(None, &id);
        }
    }
}

fn status(id: &str, job: &Job) -> JobStatus {
    let ended = job.ended.lock().expect("job lock").clone();
    let (state, runtime) = match ended {
        Some((at, state)) => (state, at - job.started),
        None => (JobState::Running, job.started.elapsed()),
    };
    JobStatus { id: id.to_string(), command: job.command.clone(), state, runtime, output_bytes: job.tap.written() }
}

/// Forgets jobs that ended more than `retention` ago.
fn purge(jobs: &mut HashMap<String, Job>, retention: Duration) {
    jobs.retain(|_, job| job.ended.lock().expect("job lock").as_ref().is_none_or(|(at, _)| at.elapsed() < retention));
}
