//! Fuzzes the HTTP front end with raw bytes: each input is one HTTP/1.1
//! connection (pipelined requests, chunked or not) served in process by
//! hyper with the daemon's header limits and the real router (guard,
//! endpoint, dispatcher, tools), of a server with a token and an allowlist
//! of just `true`. A finding is a panic anywhere (hyper, axum, the guard,
//! the endpoint, the dispatcher, a tool) or a broken invariant of what the
//! connection sends back: a response that does not start with `HTTP/1.1 `,
//! broken framing, a JSON body or event that is not a JSON-RPC 2.0 message
//! (`/health` aside), more responses than requests. An input that runs out
//! of its two seconds is given up, not reported.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: mcp_commander::fuzzing::init(),
    |data: &[u8]| mcp_commander::fuzzing::http_request(data)
);
