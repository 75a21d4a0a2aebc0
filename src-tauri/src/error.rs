//! Errors as they cross to the page: a code to branch on and a message for people.

use assetdrop::ErrorCode;
use serde::Serialize;

/// What a failed command returns to the page.
#[derive(Debug, Serialize)]
pub struct IpcError {
    /// Stable code (`invalidInput`, `notFound`, `network`...).
    pub code: ErrorCode,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl IpcError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<assetdrop::Error> for IpcError {
    fn from(e: assetdrop::Error) -> Self {
        // The message and its causes, once each: the page shows one line per cause.
        let mut message = e.message.clone();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        Self {
            code: e.code,
            message,
        }
    }
}

impl From<assetdrop::builder::TableError> for IpcError {
    fn from(e: assetdrop::builder::TableError) -> Self {
        assetdrop::Error::from(e).into()
    }
}

impl From<std::io::Error> for IpcError {
    fn from(e: std::io::Error) -> Self {
        Self::new(ErrorCode::Internal, e.to_string())
    }
}

impl From<tauri::Error> for IpcError {
    fn from(e: tauri::Error) -> Self {
        Self::new(ErrorCode::Internal, e.to_string())
    }
}

/// The result of a command.
pub type Result<T> = std::result::Result<T, IpcError>;
