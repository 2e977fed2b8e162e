//! The hash chain that makes an audit log tamper-evident, and its check.
//!
//! Each record is one JSON line ending in `,"hash":"<64 hex>"}`. The hash
//! covers the line's bytes with that suffix replaced by `}`; the line
//! carries the previous record's hash as `prev`, its `chain` (one per
//! daemon start) and `seq`, so a deleted, edited, reordered or inserted
//! line breaks a link. With a key the hash is HMAC-SHA-256, and whoever
//! lacks the key cannot rebuild the chain after editing it. A truncated
//! tail leaves no broken link: ship records off the host (CloudWatch) as
//! they are written.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `prev` of the first record of a chain.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Version of the record schema (`docs/audit-record.schema.json`).
pub(crate) const AUDIT_VERSION: u64 = 1;

const HASH_KEY: &str = ",\"hash\":\"";

/// How records are hashed.
#[derive(Clone)]
pub(crate) enum Hasher {
    Sha256,
    Hmac(Vec<u8>),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hasher::Sha256 => "Sha256",
            Hasher::Hmac(_) => "Hmac(<key>)",
        })
    }
}

impl Hasher {
    fn hash(&self, body: &[u8]) -> String {
        match self {
            Hasher::Sha256 => hex::encode(Sha256::digest(body)),
            Hasher::Hmac(key) => {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
                    return hex::encode(Sha256::digest(body));
                };
                mac.update(body);
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }
}

/// The writer's side: numbers and links records in the order written.
/// Invariant: owned by the one writer thread.
pub(crate) struct Chain {
    hasher: Hasher,
    id: String,
    seq: u64,
    prev: String,
}

impl Chain {
    pub(crate) fn new(hasher: Hasher, id: String) -> Chain {
        Chain { hasher, id, seq: 0, prev: GENESIS.to_string() }
    }

    /// The sealed line for `event` (whose `ts` and fields come first from
    /// the emitter): version, seq, chain and prev lead, hash ends it.
    pub(crate) fn seal(&mut self, event: Map<String, Value>) -> String {
        self.seq += 1;
        let mut record = Map::new();
        record.insert("audit_version".into(), AUDIT_VERSION.into());
        record.insert("seq".into(), self.seq.into());
        record.insert("chain".into(), self.id.clone().into());
        record.insert("prev".into(), self.prev.clone().into());
        record.extend(event);
        let body = Value::Object(record).to_string();
        let hash = self.hasher.hash(body.as_bytes());
        self.prev = hash.clone();
        format!("{}{HASH_KEY}{hash}\"}}", &body[..body.len() - 1])
    }
}

/// The outcome of checking a log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every link holds: `records` in `chains` chains.
    Intact { records: u64, chains: u64 },
    /// The first broken link, at `line` of the input.
    Broken { line: usize, reason: String },
    /// Every link holds, but a chain followed by another one lacks its
    /// closing record: the daemon was killed, or its last records deleted.
    Unclosed { line: usize, chain: String, records: u64 },
}

/// Checks the records found in `lines`; lines that hold no record (other
/// log output, CloudWatch headers) are skipped.
pub(crate) fn verify(lines: impl Iterator<Item = String>, hasher: &Hasher) -> Verdict {
    let mut last: Option<(String, u64, String)> = None; // chain, seq, hash
    let (mut records, mut chains) = (0u64, 0u64);
    let mut closed = true;
    let mut unclosed: Option<(usize, String)> = None;
    for (index, line) in lines.enumerate() {
        let number = index + 1;
        let Some(record) = extract(&line) else { continue };
        let broken = |reason: String| Verdict::Broken { line: number, reason };
        let Some(split) = record.rfind(HASH_KEY) else {
            return broken("the record has no hash".into());
        };
        let claimed = &record[split + HASH_KEY.len()..];
        let claimed = claimed.strip_suffix("\"}").unwrap_or_default();
        let body = format!("{}}}", &record[..split]);
        if claimed.len() != 64 || hasher.hash(body.as_bytes()) != claimed {
            return broken("the record was edited (its hash does not match its content, or the key differs)".into());
        }
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&body) else {
            return broken("the record is not a JSON object".into());
        };
        let chain = fields.get("chain").and_then(Value::as_str).unwrap_or_default().to_string();
        let seq = fields.get("seq").and_then(Value::as_u64).unwrap_or_default();
        let prev = fields.get("prev").and_then(Value::as_str).unwrap_or_default();
        match &last {
            Some((last_chain, last_seq, last_hash)) if *last_chain == chain => {
                if seq != last_seq + 1 {
                    let missing = seq.saturating_sub(last_seq + 1);
                    return broken(if seq > last_seq + 1 {
                        format!("seq jumps from {last_seq} to {seq}: {missing} record(s) deleted before this line")
                    } else {
                        format!("seq {seq} follows {last_seq}: records reordered or inserted")
                    });
                }
                if prev != last_hash {
                    return broken("prev does not match the hash of the record before: a record was inserted, deleted or reordered".into());
                }
            }
            _ => {
                if seq != 1 || prev != GENESIS {
                    return broken(format!(
                        "chain {chain} starts at seq {seq}: its first {} record(s) are missing",
                        seq.saturating_sub(1)
                    ));
                }
                if let (false, Some((previous, _, _)), None) = (closed, &last, &unclosed) {
                    unclosed = Some((number, previous.clone()));
                }
                chains += 1;
            }
        }
        closed = fields.get("event").and_then(Value::as_str) == Some("chain_end");
        records += 1;
        last = Some((chain, seq, claimed.to_string()));
    }
    match unclosed {
        Some((line, chain)) => Verdict::Unclosed { line, chain, records },
        None => Verdict::Intact { records, chains },
    }
}

/// The record in a line: the line itself, a line with a prefix (a
/// timestamp from `aws logs` or an S3 export), or the `message` of a
/// CloudWatch JSON event.
fn extract(line: &str) -> Option<String> {
    let trimmed = line.trim();
    if !trimmed.starts_with("{\"audit_version\":")
        && trimmed.contains("\"message\"")
        && let Ok(Value::Object(event)) = serde_json::from_str::<Value>(trimmed)
        && let Some(Value::String(message)) = event.get("message")
    {
        return extract(message);
    }
    let start = line.find("{\"audit_version\":")?;
    Some(line[start..].trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log(hasher: Hasher, n: u64) -> Vec<String> {
        let mut chain = Chain::new(hasher, "c1".into());
        (0..n)
            .map(|i| {
                let Value::Object(event) = json!({ "ts": "2026-11-26T00:00:00Z", "event": "tool_call", "n": i }) else {
                    unreachable!()
                };
                chain.seal(event)
            })
            .collect()
    }

    fn check(lines: &[String]) -> Verdict {
        verify(lines.iter().cloned(), &Hasher::Sha256)
    }

    fn broken_at(verdict: Verdict) -> usize {
        match verdict {
            Verdict::Broken { line, .. } | Verdict::Unclosed { line, .. } => line,
            Verdict::Intact { .. } => panic!("tampering not detected"),
        }
    }

    #[test]
    fn a_chain_cut_short_before_the_next_one_is_reported() {
        let mut first = Chain::new(Hasher::Sha256, "c1".into());
        let mut second = Chain::new(Hasher::Sha256, "c2".into());
        let event = |kind: &str| {
            let Value::Object(event) = json!({ "ts": "t", "event": kind }) else { unreachable!() };
            event
        };
        let closed =
            vec![first.seal(event("tool_call")), first.seal(event("chain_end")), second.seal(event("tool_call"))];
        assert_eq!(check(&closed), Verdict::Intact { records: 3, chains: 2 });
        let cut = vec![closed[0].clone(), closed[2].clone()];
        assert_eq!(check(&cut), Verdict::Unclosed { line: 2, chain: "c1".into(), records: 2 });
    }

    #[test]
    fn an_untouched_log_verifies_with_other_lines_between() {
        let mut lines = log(Hasher::Sha256, 5);
        lines.insert(2, "2026-11-26T00:00:00Z INFO something else".into());
        lines.insert(0, format!("2026-11-26T00:00:00.000Z {}", lines[0]));
        lines.remove(1);
        assert_eq!(check(&lines), Verdict::Intact { records: 5, chains: 1 });
        let cloudwatch: Vec<String> =
            log(Hasher::Sha256, 3).iter().map(|l| json!({ "timestamp": 1, "message": l }).to_string()).collect();
        assert_eq!(check(&cloudwatch), Verdict::Intact { records: 3, chains: 1 });
    }

    #[test]
    fn deleted_edited_reordered_and_inserted_records_are_found_where_they_are() {
        let lines = log(Hasher::Sha256, 6);
        let mut deleted = lines.clone();
        deleted.remove(3);
        assert_eq!(broken_at(check(&deleted)), 4);
        let mut edited = lines.clone();
        edited[2] = edited[2].replace("\"n\":2", "\"n\":9");
        assert_eq!(broken_at(check(&edited)), 3);
        let mut reordered = lines.clone();
        reordered.swap(1, 2);
        assert_eq!(broken_at(check(&reordered)), 2);
        let mut inserted = lines.clone();
        inserted.insert(4, lines[1].clone());
        assert_eq!(broken_at(check(&inserted)), 5);
        let mut first_gone = lines.clone();
        first_gone.remove(0);
        assert_eq!(broken_at(check(&first_gone)), 1);
    }

    #[test]
    fn with_a_key_a_rebuilt_chain_does_not_verify() {
        let key = Hasher::Hmac(b"secret key".to_vec());
        let lines = log(key.clone(), 3);
        assert_eq!(verify(lines.iter().cloned(), &key), Verdict::Intact { records: 3, chains: 1 });
        let forged = log(Hasher::Sha256, 3);
        assert_eq!(broken_at(verify(forged.iter().cloned(), &key)), 1);
        assert_eq!(broken_at(verify(lines.iter().cloned(), &Hasher::Hmac(b"other".to_vec()))), 1);
    }
}
