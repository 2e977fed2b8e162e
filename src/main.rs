//! mcp-commander: an MCP server that runs shell commands for AI agents
//! under policy.
//!
//! Entry point: the program lives in the library (`src/lib.rs`), so the
//! fuzz targets in `fuzz/` drive the same code; this only calls it.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    mcp_commander::main_entry()
}
