//! The crate-level error and the small set of codes the UI, the CLI's exit codes and the HTTP
//! layer branch on. Each module keeps its own detailed error; this is what crosses boundaries.

use serde::Serialize;

/// What kind of failure happened, independent of where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The caller sent something wrong: a bad field, path, row or entry.
    InvalidInput,
    /// A file or format the hub does not accept.
    UnsupportedFormat,
    /// A project, batch, asset or file that does not exist.
    NotFound,
    /// A missing or wrong API key, or a bad signature.
    Unauthorized,
    /// The network failed (connect, timeout, reset) or the server was unavailable.
    Network,
    /// The request conflicts with the current state.
    Conflict,
    /// The user cancelled.
    Cancelled,
    /// A bug or an unexpected failure on our side.
    Internal,
}

/// The crate-level error: a code, a message that names the thing that failed, and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct Error {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What failed and, where possible, how to fix it.
    pub message: String,
    /// The underlying cause.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error without an underlying cause.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// An error that keeps its cause.
    pub fn with_source(
        code: ErrorCode,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}
