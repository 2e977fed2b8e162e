//! What can go wrong in the sandbox, typed: the step of a spawn that failed
//! ([`Stage`], declared with the child's steps in `child.rs`: written by
//! the child into its shared `ChildArgs`, or set by the parent before the
//! child existed) with its errno, and why a sandbox
//! could not be prepared. Code that needs to know what failed matches on
//! these; only `Display` turns them into the texts operators and tests read.

use std::fmt;

use nix::errno::Errno;

use super::child::Stage;
use super::{Exit, Layer};

/// A failure of the sandbox: of one spawn, or of its preparation.
#[derive(Debug)]
pub(crate) enum Error {
    /// A step of a spawn failed, in the child or (`Stage::None`) before it
    /// existed.
    Spawn { stage: Stage, errno: Errno },
    /// The start-up probe ran and ended other than with status 0.
    ProbeExit(Exit),
    /// The probe failed (a [`Error::Spawn`] or [`Error::ProbeExit`]) at a
    /// step no layer left to give up owns.
    Probe(Box<Error>),
    /// A required layer's step failed in the probe.
    Refused { layer: Layer, probe: Box<Error> },
    /// A required layer this host does not offer, and why.
    Unavailable { layer: Layer, reason: String },
    /// A layer both required and switched off.
    RequiredAndDisabled(Layer),
    /// Settings without a single cell.
    NoCells,
    /// `/dev/null`, every command's stdin by default, did not open.
    DevNull(Errno),
}

impl Error {
    /// A spawn step that failed with `errno`.
    pub(crate) fn spawn(stage: Stage, errno: Errno) -> Error {
        Error::Spawn { stage, errno }
    }

    /// The stage a spawn failed at, if this is a spawn failure.
    pub(crate) fn stage(&self) -> Option<Stage> {
        match self {
            Error::Spawn { stage, .. } => Some(*stage),
            _ => None,
        }
    }

    /// As an `io::Error` of the errno's kind, for the runner.
    pub(crate) fn into_io(self) -> std::io::Error {
        let kind = match &self {
            Error::Spawn { errno, .. } => std::io::Error::from_raw_os_error(*errno as i32).kind(),
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self)
    }

    /// The text of a probe's failure, as logged when a layer is given up
    /// for it: a spawn step is always named.
    pub(crate) fn reason(&self) -> ProbeReason<'_> {
        ProbeReason(self)
    }
}

/// A failure as the probe reports it: a spawn step is always named (the
/// working-directory wording is for callers, not for the probe).
pub(crate) struct ProbeReason<'a>(&'a Error);

impl fmt::Display for ProbeReason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Error::Spawn { stage, errno } => write!(f, "{} failed: {}", stage.describe(), errno.desc()),
            other => other.fmt(f),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // One message whatever the errno: "no such file" against
            // "permission denied" would tell a caller what exists where the
            // command user cannot look.
            Error::Spawn { stage: Stage::WorkingDirectory, .. } => f.write_str(WORKING_DIRECTORY_UNUSABLE),
            Error::Spawn { .. } => self.reason().fmt(f),
            Error::ProbeExit(exit) => write!(f, "the probe command ended with {exit:?}"),
            Error::Probe(failure) => write!(f, "the sandbox probe failed: {}", failure.reason()),
            Error::Refused { layer, probe } => refusal(f, *layer, &probe.reason()),
            Error::Unavailable { layer, reason } => refusal(f, *layer, reason),
            Error::RequiredAndDisabled(layer) => write!(
                f,
                "sandbox layer '{}' is both required and disabled; remove it from one of \
                 MCP_SANDBOX_REQUIRE / MCP_SANDBOX_DISABLE",
                layer.name()
            ),
            Error::NoCells => f.write_str("the sandbox needs at least one principal"),
            Error::DevNull(errno) => write!(f, "cannot open /dev/null: {errno}"),
        }
    }
}

impl std::error::Error for Error {}

/// For callers whose errors are the operator's text.
impl From<Error> for String {
    fn from(error: Error) -> String {
        error.to_string()
    }
}

/// The error of a working directory the command cannot enter, for any cause.
const WORKING_DIRECTORY_UNUSABLE: &str =
    "the working directory does not exist, is not a directory, or cannot be entered by the command's user";

fn refusal(f: &mut fmt::Formatter<'_>, layer: Layer, reason: &dyn fmt::Display) -> fmt::Result {
    write!(
        f,
        "refusing to start: sandbox layer '{}' is required but unavailable: {reason}. Commands would run \
         without it. To accept that, remove '{}' from MCP_SANDBOX_REQUIRE (--sandbox-require) or set it \
         in MCP_SANDBOX_DISABLE; `mcp-commander doctor` shows every layer",
        layer.name(),
        layer.name()
    )
}

#[cfg(test)]
mod tests {
    use std::ffi::c_int;

    use super::*;

    #[test]
    fn every_stage_the_child_stores_is_read_back_as_itself() {
        for raw in 0..=14 {
            assert_eq!(Stage::from_raw(raw) as c_int, raw);
        }
        assert_eq!(Stage::from_raw(15), Stage::None);
        assert_eq!(Stage::from_raw(-1), Stage::None);
    }

    #[test]
    fn a_failed_step_is_named_with_its_errno() {
        let error = Error::spawn(Stage::Rlimits, Errno::EPERM);
        assert_eq!(error.to_string(), "setrlimit (resource limits) failed: Operation not permitted");
        assert_eq!(Error::spawn(Stage::None, Errno::EAGAIN).to_string(), "unknown step failed: Try again");
    }

    #[test]
    fn a_working_directory_failure_says_the_same_whatever_the_errno() {
        for errno in [Errno::ENOENT, Errno::EACCES, Errno::ENOTDIR] {
            assert_eq!(Error::spawn(Stage::WorkingDirectory, errno).to_string(), WORKING_DIRECTORY_UNUSABLE);
        }
        let io = Error::spawn(Stage::WorkingDirectory, Errno::ENOENT).into_io();
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert!(super::super::failed_at_working_directory(&io));
        assert!(!super::super::failed_at_working_directory(&Error::spawn(Stage::Exec, Errno::ENOENT).into_io()));
    }

    #[test]
    fn the_probe_names_the_step_even_the_working_directory() {
        let probe = Error::Probe(Box::new(Error::spawn(Stage::WorkingDirectory, Errno::EACCES)));
        assert_eq!(
            probe.to_string(),
            "the sandbox probe failed: chdir to the working directory failed: Permission denied"
        );
        let exit = Error::Probe(Box::new(Error::ProbeExit(Exit::Code(2))));
        assert_eq!(exit.to_string(), "the sandbox probe failed: the probe command ended with Code(2)");
    }

    #[test]
    fn a_required_layer_is_refused_with_how_to_accept_its_absence() {
        let refused =
            Error::Refused { layer: Layer::Seccomp, probe: Box::new(Error::spawn(Stage::Seccomp, Errno::EINVAL)) };
        assert_eq!(
            refused.to_string(),
            "refusing to start: sandbox layer 'seccomp' is required but unavailable: seccomp filter failed: Invalid \
             argument. Commands would run without it. To accept that, remove 'seccomp' from MCP_SANDBOX_REQUIRE \
             (--sandbox-require) or set it in MCP_SANDBOX_DISABLE; `mcp-commander doctor` shows every layer"
        );
        let unavailable = Error::Unavailable { layer: Layer::Noexec, reason: "no mount".into() };
        assert!(
            unavailable
                .to_string()
                .starts_with("refusing to start: sandbox layer 'noexec' is required but unavailable: no mount. ")
        );
        assert_eq!(
            Error::RequiredAndDisabled(Layer::Mdwe).to_string(),
            "sandbox layer 'mdwe' is both required and disabled; remove it from one of MCP_SANDBOX_REQUIRE / \
             MCP_SANDBOX_DISABLE"
        );
    }
}
