//! The Model Context Protocol layer: JSON-RPC framing, protocol eras, the
//! dispatcher, and the stdio transport. Knows tools by name only; knows
//! nothing of HTTP status codes beyond the number it suggests, nor of how
//! commands are run.

pub(crate) mod dispatch;
pub(crate) mod era;
pub(crate) mod jsonrpc;
pub(crate) mod stdio;
