//! Cloud import (reference §4): a JSON array of `{"data", "externalId", ...}` entries naming
//! assets that already live somewhere else. [`CloudReader`] streams the array one entry at a
//! time into domain [`CloudAsset`]s, with every [`Problem`] placed at its entry's index and
//! line:column; [`check`] probes the URLs before anything is imported. Ango's field names live
//! only in the private wire code ([`CloudAsset::to_wire`] writes them back).
//!
//! ```no_run
//! use assetdrop::cloud::{CloudReader, ReadConfig};
//! # fn main() -> Result<(), assetdrop::Error> {
//! let mut wire = Vec::new();
//! for entry in CloudReader::open("assets.json".as_ref(), ReadConfig::default())? {
//!     for p in &entry.problems {
//!         eprintln!("{}:{} {:?} {}: {}", p.line, p.column, p.severity, p.code.as_str(), p.message);
//!     }
//!     if let Some(asset) = entry.asset {
//!         wire.push(asset.to_wire()); // only entries without errors get here
//!     }
//! }
//! # Ok(()) }
//! ```

mod asset;
pub mod check;
mod edit;
mod import;
mod parse;
mod reader;
mod rules;
mod scan;

use serde::Serialize;

pub use crate::media::Severity;
pub use asset::{
    Attachment, AttachmentKind, Classification, CloudAsset, Data, EditorType, Metadata,
};
pub use check::{CheckConfig, CheckReport, Checker, Target};
pub use edit::{read_for_editing, MAX_EDIT_BYTES};
pub use import::{
    import, import_reporting, import_with_events, ImportConfig, ImportEvent, ImportReport, Phase,
    Summarised, DEFAULT_PROBLEMS_PER_CODE,
};
pub use reader::{
    read_path, CloudReader, DuplicatePolicy, Entry, ExternalIds, ReadConfig, ReadReport,
    ReadSummary, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENTRY_BYTES,
};
pub use rules::{expected_kind, fix_url, Plus};

use crate::error::{Error, ErrorCode};

/// Machine-readable problem codes; stable `kebab-case` strings in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemCode {
    // ---- the file as a whole ----
    /// The file is empty or holds only whitespace.
    EmptyFile,
    /// The top level is not a JSON array.
    NotArray,
    /// The array has no entries.
    EmptyArray,
    /// The file ends before the array (or an entry in it) is closed.
    Truncated,
    /// Something other than whitespace follows the closing `]`.
    TrailingGarbage,
    /// A comma before the closing `]` (JSON does not allow it; Ango's importer refuses it).
    TrailingComma,
    /// Not valid JSON: a bad token inside an entry, or a missing comma between entries.
    InvalidJson,
    /// Bytes that are not UTF-8.
    NotUtf8,
    /// The file could not be read.
    Unreadable,
    // ---- one entry ----
    /// The entry nests arrays/objects deeper than the limit.
    TooDeep,
    /// The entry's text is larger than the limit.
    EntryTooLarge,
    /// The entry is not a JSON object.
    NotObject,
    /// Neither `data` nor `dataset` is given (or `data` is empty).
    MissingData,
    /// `externalId` is missing.
    MissingExternalId,
    /// `externalId` is empty or only whitespace.
    EmptyExternalId,
    /// A field has the wrong JSON type.
    WrongType,
    /// A field has the right type but a value that cannot be right (zero width, empty batch name).
    BadValue,
    /// A required part of an attachment or classification is missing.
    MissingField,
    /// A field Ango's cloud import does not know; it is not sent.
    UnknownField,
    /// Both `data` and `dataset` are given.
    DataAndDataset,
    /// `dataset` is an empty array.
    EmptyDataset,
    /// A `dataset` page whose extension says it is not an image.
    DatasetNotImage,
    /// Not an absolute `http(s)` URL.
    BadUrl,
    /// A URL scheme the hub cannot fetch (`s3://`, `gs://`, `file://`, `ftp://`, `data:`...).
    UnsupportedScheme,
    /// A URL that is not percent-encoded (a space, a non-ASCII character, a stray `%`...).
    UrlNotEncoded,
    /// A `+` in a URL path, where Ango reads a plus sign and a space must be `%20`.
    UrlPlus,
    /// Percent-escapes that do not decode to UTF-8 (Latin-1, say).
    UrlNotUtf8,
    /// A URL with a user name or password in it.
    UrlHasCredentials,
    /// Inline markdown/HTML with line breaks or double quotes (Ango's importer advice).
    InlineNotFlat,
    /// `width`/`height` given both at the top level and in `metadata`, with different values.
    ConflictingSize,
    /// An attachment `type` other than `IMAGE`, `TEXT`, `VIDEO` or `HTML`.
    UnknownAttachmentType,
    /// An `editorType` other than `pct`.
    UnknownEditorType,
    /// An `externalId` that an earlier entry of the file already has.
    DuplicateExternalId,
    /// An `externalId` that the project already has.
    ExistingExternalId,
    /// A batch the entry names that the project does not have (and is not to be created).
    MissingBatch,
    // ---- checks before import ----
    /// The URL could not be fetched (error status, connection failure, timeout).
    Unreachable,
    /// The server's `Content-Type` does not fit the asset kind.
    ContentTypeMismatch,
    /// The server says the file has zero bytes.
    EmptyContent,
    /// The URL (or a redirect) leads to loopback, a private network or a metadata endpoint,
    /// which are checked only when asked.
    PrivateAddress,
}

impl ProblemCode {
    /// The stable string, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmptyFile => "empty-file",
            Self::NotArray => "not-array",
            Self::EmptyArray => "empty-array",
            Self::Truncated => "truncated",
            Self::TrailingGarbage => "trailing-garbage",
            Self::TrailingComma => "trailing-comma",
            Self::InvalidJson => "invalid-json",
            Self::NotUtf8 => "not-utf8",
            Self::Unreadable => "unreadable",
            Self::TooDeep => "too-deep",
            Self::EntryTooLarge => "entry-too-large",
            Self::NotObject => "not-object",
            Self::MissingData => "missing-data",
            Self::MissingExternalId => "missing-external-id",
            Self::EmptyExternalId => "empty-external-id",
            Self::WrongType => "wrong-type",
            Self::BadValue => "bad-value",
            Self::MissingField => "missing-field",
            Self::UnknownField => "unknown-field",
            Self::DataAndDataset => "data-and-dataset",
            Self::EmptyDataset => "empty-dataset",
            Self::DatasetNotImage => "dataset-not-image",
            Self::BadUrl => "bad-url",
            Self::UnsupportedScheme => "unsupported-scheme",
            Self::UrlNotEncoded => "url-not-encoded",
            Self::UrlPlus => "url-plus",
            Self::UrlNotUtf8 => "url-not-utf8",
            Self::UrlHasCredentials => "url-has-credentials",
            Self::InlineNotFlat => "inline-not-flat",
            Self::ConflictingSize => "conflicting-size",
            Self::UnknownAttachmentType => "unknown-attachment-type",
            Self::UnknownEditorType => "unknown-editor-type",
            Self::DuplicateExternalId => "duplicate-external-id",
            Self::ExistingExternalId => "existing-external-id",
            Self::MissingBatch => "missing-batch",
            Self::Unreachable => "unreachable",
            Self::ContentTypeMismatch => "content-type-mismatch",
            Self::EmptyContent => "empty-content",
            Self::PrivateAddress => "private-address",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A replacement that fixes a problem: put `replacement` in `field` (same path syntax as
/// [`Problem::field`]). Signed URLs appear redacted in messages but whole here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Where, e.g. `data`, `dataset[2]`, `attachments[0].value`, `attachments[1].type`.
    pub field: String,
    /// The corrected value.
    pub replacement: String,
}

/// One thing wrong with (or worth knowing about) an entry or the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The entry's position in the array (0-based; messages name entries by where they are,
    /// not by this number); `None` for the file as a whole (not an array, empty, trailing
    /// garbage, a missing comma between entries).
    pub index: Option<usize>,
    /// 1-based line where the entry starts, or where the parser stopped.
    pub line: u64,
    /// 1-based column (in characters) on that line.
    pub column: u64,
    /// Whether this keeps the entry out of the import.
    pub severity: Severity,
    /// Stable code to branch on.
    pub code: ProblemCode,
    /// What is wrong and how to fix it, for people.
    pub message: String,
    /// The field it is about, e.g. `data`, `metadata.width`, `dataset[3]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A replacement that fixes it, where one is certain enough to offer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// The entry's `externalId`, when it has one (a string, or a number written as one), so
    /// that people can tell which entry is meant.
    #[serde(rename = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Problem {
    /// Whether this keeps the entry out of the import.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {severity} [{}]",
            self.line, self.column, self.code
        )?;
        // Entries are counted from 1, as lines are (the JSON report keeps the 0-based index).
        if let Some(i) = self.index {
            write!(f, " entry {}", i + 1)?;
        }
        // The message names the field already.
        write!(f, ": {}", self.message)
    }
}

/// Failures of the cloud reader and checker themselves (a bad entry is a [`Problem`], not this).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// The file could not be opened (the message names it).
    #[error("{source}")]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client for the checks could not be built.
    #[error("cannot set up the URL checker: {0}")]
    Client(#[source] reqwest::Error),
}

impl From<CloudError> for Error {
    fn from(e: CloudError) -> Self {
        let code = match &e {
            CloudError::Open { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorCode::NotFound
            }
            CloudError::Open { .. } => ErrorCode::InvalidInput,
            CloudError::Client(_) => ErrorCode::Internal,
        };
        Error::with_source(code, e.to_string(), e)
    }
}
