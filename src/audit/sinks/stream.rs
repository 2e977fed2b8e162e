//! The standard stream sink (`MCP_AUDIT`): stdout by default, which the
//! awslogs driver ships to CloudWatch; stderr in stdio mode, where stdout
//! carries MCP.

use super::{Sink, write_all};
use crate::audit::AuditSettings;

/// Which standard stream audit lines go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
    Off,
}

/// The stream sink, unless the settings turned it off.
pub(super) fn open(settings: &AuditSettings) -> Result<Option<Box<dyn Sink>>, String> {
    Ok(match settings.stream {
        Stream::Off => None,
        stream => Some(Box::new(StreamSink(stream))),
    })
}

/// Invariant: never [`Stream::Off`].
struct StreamSink(Stream);

impl Sink for StreamSink {
    fn place(&self) -> &'static str {
        "stream"
    }

    fn write(&mut self, lines: &str) -> std::io::Result<()> {
        match self.0 {
            Stream::Stdout => write_all(&mut std::io::stdout().lock(), lines),
            Stream::Stderr => write_all(&mut std::io::stderr().lock(), lines),
            Stream::Off => Ok(()),
        }
    }
}
