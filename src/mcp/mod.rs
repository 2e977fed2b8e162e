//! The Model Context Protocol layer: JSON-RPC messages, the framing both
//! transports share (parse, shape, batch limits, Accept, server-sent
//! events), protocol eras, the dispatcher, and the stdio transport. Knows
//! tools by name only; knows nothing of HTTP status codes beyond the number
//! an era suggests, nor of how commands are run.

pub(crate) mod dispatch;
pub(crate) mod era;
pub(crate) mod framing;
pub(crate) mod jsonrpc;
pub(crate) mod stdio;
