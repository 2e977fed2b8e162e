//! mcp-commander: an MCP server that runs shell commands for AI agents
//! under policy.
//!
//! The daemon is this library; `src/main.rs` only calls [`main_entry`]
//! (in `app`, with the wiring). Nothing else is public but `fuzzing`, the
//! entry points of the cargo-fuzz targets, which exists only when cargo
//! fuzz builds the crate (`--cfg fuzzing`), never in the daemon.
//!
//! `unsafe` is the compiler's to refuse everywhere but `sandbox`, where each
//! block carries a `// SAFETY:` reason.

#![deny(unsafe_code)]

mod app;
mod audit;
mod bench;
mod config;
mod doctor;
mod egress;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod logging;
mod mcp;
mod metrics;
mod policy;
mod principals;
mod run_once;
mod runner;
#[allow(unsafe_code)]
mod sandbox;
mod shutdown;
mod tools;

pub use app::main_entry;
