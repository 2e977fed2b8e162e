//! The file sink (`MCP_AUDIT_FILE`): lines appended to a file readable by
//! its owner only, besides (or instead of) the stream.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{Sink, write_all};
use crate::audit::AuditSettings;

/// The file sink, when the settings name a file.
pub(super) fn open(settings: &AuditSettings) -> Result<Option<Box<dyn Sink>>, String> {
    match &settings.file {
        Some(path) => Ok(Some(Box::new(FileSink::open(path)?))),
        None => Ok(None),
    }
}

/// An audit file, open for appending.
pub(crate) struct FileSink(std::fs::File);

impl FileSink {
    /// Opens `path` for appending, creating it with mode 0600.
    pub(crate) fn open(path: &Path) -> Result<FileSink, String> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map(FileSink)
            .map_err(|e| format!("MCP_AUDIT_FILE {}: {e}", path.display()))
    }
}

impl Sink for FileSink {
    fn place(&self) -> &'static str {
        "MCP_AUDIT_FILE"
    }

    fn write(&mut self, lines: &str) -> std::io::Result<()> {
        write_all(&mut self.0, lines)
    }
}
