//! The audit trail: one JSON line per decision (a tool call and its
//! outcome, a policy refusal, a failed token, a Host or Origin rejection, a
//! protocol error), separate from the operational logs, hash-chained
//! ([`chain`]) and written by one thread ([`writer`]) to every sink the
//! settings open ([`sinks`]).
//!
//! Records go to stdout by default (CloudWatch through the awslogs driver;
//! stderr in stdio mode, where stdout carries MCP) and optionally to a
//! file. A record names who (the principal: a token's name or fingerprint,
//! never the token), from where (the peer, and `X-Forwarded-For` only from
//! a trusted proxy), what (method, tool, command after redaction, the
//! names but not the values of the call's `env`) and what came of it.
//!
//! Back-pressure: the queue holds `MCP_AUDIT_BUFFER` records. When it is
//! full, a record waits up to `MCP_AUDIT_BLOCK_TIMEOUT` and is then dropped
//! (counted, logged), so a stuck stdout never holds a request for longer.
//! With `MCP_AUDIT_ON_FULL=refuse` a command's record is given its place
//! before the command starts, and the command is refused when there is
//! none: no record, no command.

pub(crate) mod chain;
pub(crate) mod sinks;
pub(crate) mod verify;
mod writer;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

pub(crate) use sinks::stream::Stream;

/// What happens to commands when the queue is full. Either way a record
/// waits up to the block timeout for room and is then dropped (counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnFull {
    /// Commands run; their records wait, then may be dropped.
    Block,
    /// A command runs only if its record has a reserved place.
    Refuse,
}

/// The audit settings, resolved.
#[derive(Debug, Clone)]
pub(crate) struct AuditSettings {
    /// The standard stream sink ([`sinks::stream`]).
    pub(crate) stream: Stream,
    /// The file sink ([`sinks::file`]).
    pub(crate) file: Option<PathBuf>,
    pub(crate) hasher: chain::Hasher,
    pub(crate) redact: Option<Regex>,
    pub(crate) capacity: usize,
    pub(crate) on_full: OnFull,
    /// Longest wait for room in the queue.
    pub(crate) block_timeout: Duration,
    /// Peers whose `X-Forwarded-For` is recorded.
    pub(crate) trusted_proxies: Vec<(IpAddr, u8)>,
}

/// Who sent a request, as the audit records it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    /// Unique per request; returned to HTTP clients as `X-Request-Id`.
    pub(crate) request_id: String,
    /// A token's configured name, `token:<fingerprint>`, `anonymous` or
    /// `stdio`; never the token.
    pub(crate) principal: String,
    pub(crate) remote: Option<String>,
    /// `X-Forwarded-For`, kept only when `remote` is a trusted proxy.
    pub(crate) forwarded_for: Option<String>,
}

/// Counters read by `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct AuditStats {
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) refused_commands: AtomicU64,
    writer: Arc<writer::WriterStats>,
}

impl AuditStats {
    pub(crate) fn written(&self) -> u64 {
        self.writer.written.load(Ordering::SeqCst)
    }

    pub(crate) fn write_errors(&self) -> u64 {
        self.writer.write_errors.load(Ordering::Relaxed)
    }
}

/// A reserved place in the queue for a command's record.
pub(crate) type Slot = mpsc::OwnedPermit<Map<String, Value>>;

/// The emitting side. Cheap to share; every method is safe to call from
/// any task.
#[derive(Debug)]
pub(crate) struct Auditor {
    sender: Option<mpsc::Sender<Map<String, Value>>>,
    on_full: OnFull,
    block_timeout: Duration,
    redact: Option<Regex>,
    trusted_proxies: Vec<(IpAddr, u8)>,
    pub(crate) stats: Arc<AuditStats>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Auditor {
    /// Starts the writer into the sinks `settings` ask for; with no sink at
    /// all, records are not built.
    pub(crate) fn start(settings: &AuditSettings) -> Result<Auditor, String> {
        Auditor::start_into(settings, sinks::open(settings)?)
    }

    /// As [`Auditor::start`], into `sinks` whatever the settings' sinks.
    pub(crate) fn start_into(settings: &AuditSettings, sinks: Vec<Box<dyn sinks::Sink>>) -> Result<Auditor, String> {
        let stats = Arc::new(AuditStats::default());
        let (sender, writer) = if sinks.is_empty() {
            (None, None)
        } else {
            let chain = chain::Chain::new(settings.hasher.clone(), random_id(8));
            let (sender, handle) = writer::start(chain, sinks, settings.capacity, stats.writer.clone())?;
            (Some(sender), Some(handle))
        };
        Ok(Auditor {
            sender,
            on_full: settings.on_full,
            block_timeout: settings.block_timeout,
            redact: settings.redact.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
            stats,
            writer: Mutex::new(writer),
        })
    }

    /// An auditor that records nothing (tests, benchmarks).
    pub(crate) fn disabled() -> Auditor {
        Auditor {
            sender: None,
            on_full: OnFull::Block,
            block_timeout: Duration::ZERO,
            redact: None,
            trusted_proxies: Vec::new(),
            stats: Arc::new(AuditStats::default()),
            writer: Mutex::new(None),
        }
    }

    /// Writes `event`, waiting up to the block timeout for room.
    pub(crate) async fn emit(&self, event: Map<String, Value>) {
        let Some(sender) = &self.sender else { return };
        let event = match sender.try_send(event) {
            Ok(()) => return self.count_sent(),
            Err(mpsc::error::TrySendError::Full(event)) => event,
            Err(mpsc::error::TrySendError::Closed(_)) => return self.count_dropped("the writer stopped"),
        };
        match sender.send_timeout(event, self.block_timeout).await {
            Ok(()) => self.count_sent(),
            Err(_) => self.count_dropped("the queue stayed full"),
        }
    }

    /// Writes `event` from a destructor, which cannot wait: now if there is
    /// room, else from a task that waits up to the block timeout.
    pub(crate) fn emit_now(self: &Arc<Self>, event: Map<String, Value>) {
        let Some(sender) = &self.sender else { return };
        let event = match sender.try_send(event) {
            Ok(()) => return self.count_sent(),
            Err(mpsc::error::TrySendError::Full(event)) => event,
            Err(mpsc::error::TrySendError::Closed(_)) => return self.count_dropped("the writer stopped"),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let auditor = self.clone();
                runtime.spawn(async move { auditor.emit(event).await });
            }
            Err(_) => self.count_dropped("the queue was full"),
        }
    }

    /// Writes `event` into a slot reserved before the command ran.
    pub(crate) fn emit_into(&self, slot: Slot, event: Map<String, Value>) {
        slot.send(event);
        self.count_sent();
    }

    /// Under `MCP_AUDIT_ON_FULL=refuse`, reserves the place of a command's
    /// record before it starts; `Err` refuses the command.
    pub(crate) fn admit(&self) -> Result<Option<Slot>, String> {
        let (Some(sender), OnFull::Refuse) = (&self.sender, self.on_full) else {
            return Ok(None);
        };
        sender.clone().try_reserve_owned().map(Some).map_err(|_| {
            self.stats.refused_commands.fetch_add(1, Ordering::Relaxed);
            "the audit log is not keeping up (MCP_AUDIT_BUFFER is full) and MCP_AUDIT_ON_FULL=refuse: \
             no record, no command; retry shortly"
                .to_string()
        })
    }

    /// The command text with the configured patterns replaced.
    pub(crate) fn redact_command(&self, command: &str) -> String {
        match &self.redact {
            Some(pattern) => pattern.replace_all(command, "[REDACTED]").into_owned(),
            None => command.to_string(),
        }
    }

    /// Whether `peer`'s `X-Forwarded-For` is to be believed.
    pub(crate) fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|(network, bits)| in_network(peer, *network, *bits))
    }

    /// Waits (up to `limit`) until every record sent is written, woken by
    /// the writer, then closes the queue. With a `settle` time, it also
    /// waits until no record has been written for that long: during a
    /// shutdown, calls cancelled as their tasks are dropped record
    /// themselves late. A one-shot `run` has no such senders and passes
    /// zero.
    pub(crate) fn flush(&self, limit: Duration, settle: Duration) {
        let deadline = Instant::now() + limit;
        if let Some(sender) = &self.sender {
            // The chain's closing record: a chain followed by another one
            // without it was cut short (daemon killed, or records deleted).
            let caller = Caller { principal: "daemon".into(), ..Caller::default() };
            let mut end = event("chain_end", &caller);
            end.insert("records_dropped".into(), self.stats.dropped.load(Ordering::Relaxed).into());
            if sender.try_send(end).is_ok() {
                self.count_sent();
            }
            let writer = &self.stats.writer;
            loop {
                let sent = self.stats.sent.load(Ordering::SeqCst);
                if !writer.wait(deadline, |handled| handled >= sent) || settle.is_zero() {
                    break;
                }
                // Quiet for `settle` unless a late record is written meanwhile.
                let quiet = (Instant::now() + settle).min(deadline);
                if !writer.wait(quiet, |handled| handled > sent) {
                    break;
                }
            }
        }
        drop(self.writer.lock().map(|mut w| w.take()));
    }

    fn count_sent(&self) {
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
    }

    fn count_dropped(&self, why: &str) {
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::error!(why, "an audit record was dropped");
    }
}

/// The fields every record starts with.
pub(crate) fn event(kind: &str, caller: &Caller) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("ts".into(), timestamp(SystemTime::now()).into());
    event.insert("event".into(), kind.into());
    event.insert("request_id".into(), caller.request_id.clone().into());
    event.insert("principal".into(), caller.principal.clone().into());
    event.insert("remote".into(), caller.remote.clone().map_or(Value::Null, Value::from));
    if let Some(forwarded) = &caller.forwarded_for {
        event.insert("forwarded_for".into(), forwarded.clone().into());
    }
    event
}

/// A request's identifier: 24 hex digits, unique within the daemon's run
/// and unpredictable across runs, made without a system call (SipHash of a
/// counter under keys drawn from the kernel once).
pub(crate) fn request_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: LazyLock<(RandomState, u32)> = LazyLock::new(|| {
        let mut salt = [0u8; 4];
        let _ = getrandom::fill(&mut salt);
        (RandomState::new(), u32::from_le_bytes(salt))
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let serial = NEXT.fetch_add(1, Ordering::Relaxed);
    let (keys, salt) = &*KEYS;
    // The low 32 bits come straight from the counter, so no two ids of a
    // run collide; the rest hides the counter.
    let high = keys.hash_one(serial);
    format!("{high:016x}{:08x}", (serial as u32) ^ salt)
}

/// A random identifier of `bytes` bytes, in hex.
pub(crate) fn random_id(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    if getrandom::fill(&mut buffer).is_err() {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        buffer.iter_mut().zip(nanos.to_le_bytes().iter().cycle()).for_each(|(b, n)| *b = *n);
    }
    hex::encode(buffer)
}

/// RFC 3339 UTC with milliseconds: `2026-11-26T03:04:05.678Z`.
pub(crate) fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// Parses `10.0.0.0/8`, `192.168.1.5` or `::1` into a network.
pub(crate) fn parse_network(text: &str) -> Result<(IpAddr, u8), String> {
    let (address, bits) = match text.split_once('/') {
        Some((address, bits)) => (address, Some(bits)),
        None => (text, None),
    };
    let address: IpAddr =
        address.trim().parse().map_err(|_| format!("'{text}' is not an IP address or CIDR network"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(bits) => bits
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("'{text}': bad prefix length"))?,
        None => max,
    };
    Ok((address, bits))
}

/// Whether `peer` lies in the network; an IPv4-mapped IPv6 address is
/// judged as its IPv4 address. `bits` is within the family's length
/// ([`parse_network`] checks it).
pub(crate) fn in_network(peer: IpAddr, network: IpAddr, bits: u8) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match (peer, network) {
        (IpAddr::V4(p), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(p) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(p), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(p) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_millis(1_795_662_245_678)), "2026-11-26T03:04:05.678Z");
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }

    /// A sink that keeps its lines, 2 ms each, so a flush must wait for them.
    struct Kept(Arc<Mutex<Vec<String>>>);

    impl sinks::Sink for Kept {
        fn place(&self) -> &'static str {
            "kept"
        }

        fn write(&mut self, lines: &str) -> std::io::Result<()> {
            for line in lines.lines() {
                std::thread::sleep(Duration::from_millis(2));
                self.0.lock().unwrap().push(line.to_string());
            }
            Ok(())
        }
    }

    fn auditor_settings() -> AuditSettings {
        AuditSettings {
            stream: Stream::Off,
            file: None,
            hasher: chain::Hasher::Sha256,
            redact: None,
            capacity: 64,
            on_full: OnFull::Block,
            block_timeout: Duration::from_secs(1),
            trusted_proxies: Vec::new(),
        }
    }

    fn kept() -> (Arc<Auditor>, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let auditor = Auditor::start_into(&auditor_settings(), vec![Box::new(Kept(lines.clone()))]).unwrap();
        (Arc::new(auditor), lines)
    }

    #[test]
    fn a_flush_returns_with_every_record_written() {
        let (auditor, lines) = kept();
        for _ in 0..20 {
            auditor.emit_now(event("test", &Caller::default()));
        }
        auditor.flush(Duration::from_secs(10), Duration::ZERO);
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 21, "20 records and the chain's end");
        assert!(lines[20].contains("\"chain_end\""));
    }

    #[test]
    fn a_flush_with_a_settle_time_waits_for_late_records() {
        let (auditor, lines) = kept();
        let late = auditor.clone();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            late.emit_now(event("late", &Caller::default()));
        });
        auditor.flush(Duration::from_secs(10), Duration::from_millis(500));
        sender.join().unwrap();
        let lines = lines.lock().unwrap();
        assert!(lines.iter().any(|l| l.contains("\"late\"")), "{lines:?}");
    }

    /// A sink that keeps each write as it came.
    struct Writes(Arc<Mutex<Vec<String>>>);

    impl sinks::Sink for Writes {
        fn place(&self) -> &'static str {
            "writes"
        }

        fn write(&mut self, lines: &str) -> std::io::Result<()> {
            std::thread::sleep(Duration::from_micros(200));
            self.0.lock().unwrap().push(lines.to_string());
            Ok(())
        }
    }

    #[test]
    fn records_queued_together_are_written_together_as_whole_chained_lines() {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let settings = AuditSettings { capacity: 512, ..auditor_settings() };
        let auditor = Arc::new(Auditor::start_into(&settings, vec![Box::new(Writes(writes.clone()))]).unwrap());
        for _ in 0..300 {
            auditor.emit_now(event("test", &Caller::default()));
        }
        auditor.flush(Duration::from_secs(10), Duration::ZERO);
        let writes = writes.lock().unwrap();
        assert!(writes.len() < 301, "{} writes for 301 records: nothing was batched", writes.len());
        assert!(writes.iter().all(|w| w.ends_with('\n')), "a write ended inside a record");
        let lines: Vec<String> = writes.iter().flat_map(|w| w.lines().map(str::to_string)).collect();
        assert_eq!(lines.len(), 301);
        assert!(
            matches!(
                chain::verify(lines.into_iter(), &chain::Hasher::Sha256),
                chain::Verdict::Intact { records: 301, .. }
            ),
            "the chain does not verify"
        );
    }

    #[test]
    fn a_flush_gives_up_at_its_limit() {
        let (auditor, _lines) = kept();
        let started = Instant::now();
        for _ in 0..60 {
            auditor.emit_now(event("test", &Caller::default()));
        }
        // 61 records at 2 ms each cannot all be written within 20 ms.
        auditor.flush(Duration::from_millis(20), Duration::ZERO);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(auditor.stats.written() < 61);
    }

    #[test]
    fn trusted_proxies_match_by_network() {
        let (net, bits) = parse_network("10.0.0.0/8").unwrap();
        assert!(in_network("10.1.2.3".parse().unwrap(), net, bits));
        assert!(in_network("::ffff:10.1.2.3".parse().unwrap(), net, bits));
        assert!(!in_network("11.0.0.1".parse().unwrap(), net, bits));
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("proxy").is_err());
    }
}
