//! Fuzzes the MCP dispatcher with JSON messages: each input that parses as
//! JSON goes to `Server::handle` (each element too, when it is an array)
//! as over stdio, under a legacy `MCP-Protocol-Version` and under
//! 2026-07-28 with `Mcp-Method` / `Mcp-Name` mirroring the body, on a
//! server whose allowlist is just `true`. A finding is a panic, or a reply
//! that is not a JSON-RPC 2.0 response (exactly one of `result` and
//! `error`, an integer error code, the request's id or null), a reply to a
//! notification, or no reply to a request. Inputs that are not JSON are
//! skipped: the HTTP target covers the parse errors.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: mcp_commander::fuzzing::init(),
    |data: &[u8]| mcp_commander::fuzzing::jsonrpc_message(data)
);
