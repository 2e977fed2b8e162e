//! `mcp-commander audit verify FILE`: checks an audit log's hash chain and
//! reports OK or the first broken link: exit 0 when intact, 1 for a broken
//! link, 2 for an unreadable log, 3 when a chain (a daemon run) stops
//! without its closing record before the next one starts. `-` reads standard input. The HMAC key, when the
//! daemon used one, comes from the same `MCP_AUDIT_HMAC_KEY` or
//! `MCP_AUDIT_HMAC_KEY_FILE`.

use std::io::BufRead;
use std::process::ExitCode;

use super::chain::{Hasher, Verdict, verify};

pub(crate) fn run(path: &str, hasher: &Hasher) -> ExitCode {
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(file) => Box::new(std::io::BufReader::new(file)),
            Err(error) => {
                eprintln!("mcp-commander audit verify: cannot read {path}: {error}");
                return ExitCode::from(2);
            }
        }
    };
    let keyed = matches!(hasher, Hasher::Hmac(_));
    let mut read_error = None;
    let lines = reader.split(b'\n').map_while(|line| match line {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(error) => {
            read_error = Some(error);
            None
        }
    });
    let verdict = verify(lines, hasher);
    if let Some(error) = read_error {
        eprintln!("mcp-commander audit verify: reading {path} failed: {error}");
        return ExitCode::from(2);
    }
    match verdict {
        Verdict::Intact { records, chains } => {
            let key = if keyed { "HMAC-SHA-256 with the given key" } else { "SHA-256" };
            println!("OK: {records} records in {chains} chain(s), every link intact ({key})");
            if records == 0 {
                println!("note: no audit record was found in {path}");
            }
            ExitCode::SUCCESS
        }
        Verdict::Broken { line, reason } => {
            println!("BROKEN at line {line}: {reason}");
            ExitCode::FAILURE
        }
        Verdict::Unclosed { line, chain, records } => {
            println!(
                "UNCLOSED: {records} records, every link intact, but chain {chain} ends before line {line} without \
                 its chain_end record: the daemon was killed, or that chain's last records were deleted"
            );
            ExitCode::from(3)
        }
    }
}
