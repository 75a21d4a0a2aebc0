//! Shapes the page lists: validated files (with thumbnails served only for files the user
//! handed over), a table's first rows, rendered previews.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assetdrop::builder::{
    CheckError, ConfigError, FieldProblem, RowAsset, RowError, Table, TableError, TemplateError,
};
use assetdrop::media::{Format, Kind, ProbeConfig, Problem, Verdict};
use assetdrop::progress::EventSink;
use assetdrop::upload::{self, CancellationToken, Failed, Skipped, Validated};
use assetdrop::ErrorCode;
use serde::Serialize;
use tauri::ipc::Channel;

use crate::access::{Access, Refused, Via};
use crate::error::{IpcError, Result};

/// Largest image shown as a thumbnail: the page scales it down, so reading more is waste.
const MAX_THUMB_BYTES: u64 = 32 << 20;

/// Files the page may show as thumbnails, by ID: images among the files the user handed over.
/// The page names an ID, never a path.
#[derive(Default)]
pub struct Thumbs {
    next: AtomicU64,
    allowed: Mutex<HashMap<u64, (PathBuf, &'static str)>>,
}

impl Thumbs {
    fn allow(&self, path: &Path, mime: &'static str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut m) = self.allowed.lock() {
            m.insert(id, (path.to_path_buf(), mime));
        }
        id
    }

    /// The bytes and type of thumbnail `id`: `None` for an ID never given out or a file that
    /// cannot be read, a refusal for a file the page may no longer have read.
    pub fn read(
        &self,
        id: u64,
        access: &Access,
    ) -> std::result::Result<Option<(Vec<u8>, &'static str)>, Refused> {
        let found = self.allowed.lock().ok().and_then(|m| m.get(&id).cloned());
        let Some((path, mime)) = found else {
            return Ok(None);
        };
        access.check(&path, Via::Upload)?;
        Ok(fs_err::read(path).ok().map(|bytes| (bytes, mime)))
    }
}

/// The URL the page loads thumbnail `id` from (the `thumb` protocol registered in `lib.rs`).
fn thumb_url(id: u64) -> String {
    if cfg!(windows) {
        format!("http://thumb.localhost/{id}")
    } else {
        format!("thumb://localhost/{id}")
    }
}

/// One file as the upload view lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRow {
    /// The file and its external ID.
    #[serde(flatten)]
    pub file: upload::PlannedFile,
    /// Its kind by content.
    pub kind: Option<Kind>,
    /// Its format by content.
    pub format: Option<Format>,
    /// Ok, warn or reject; `None` while the file is still being checked.
    pub verdict: Option<Verdict>,
    /// What validation found, worst first, each with its fix.
    pub problems: Vec<Problem>,
    /// Whether the upload converts it to WAV.
    pub convert: bool,
    /// A thumbnail URL, for images the webview can show.
    pub thumb: Option<String>,
}

/// What adding paths found besides the files it sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    /// Files validated.
    pub files: usize,
    /// Paths left out (hidden files inside folders, special files).
    pub skipped: Vec<Skipped>,
    /// Paths that could not be read.
    pub failed: Vec<Failed>,
}

/// Sends rows in bundles (up to 500, or every 100 ms): ten thousand files are a few dozen
/// messages, not ten thousand.
struct Bundler<'a> {
    thumbs: &'a Thumbs,
    channel: Channel<Vec<FileRow>>,
    pending: Mutex<(Vec<FileRow>, Instant)>,
}

impl Bundler<'_> {
    fn flush(&self, force: bool) {
        let Ok(mut p) = self.pending.lock() else {
            return;
        };
        if p.0.is_empty()
            || !(force || p.0.len() >= 500 || p.1.elapsed() >= Duration::from_millis(100))
        {
            return;
        }
        let rows = std::mem::take(&mut p.0);
        p.1 = Instant::now();
        let _ = self.channel.send(rows);
    }
}

impl EventSink<Validated> for Bundler<'_> {
    fn send(&self, v: Validated) {
        let mime = match v.report.format {
            Some(Format::Jpeg) => Some("image/jpeg"),
            Some(Format::Png) => Some("image/png"),
            _ => None,
        };
        let thumb = mime
            .filter(|_| v.report.size <= MAX_THUMB_BYTES && v.report.verdict != Verdict::Reject)
            .map(|m| thumb_url(self.thumbs.allow(&v.file.path, m)));
        let row = FileRow {
            file: v.file,
            kind: v.report.kind,
            format: v.report.format,
            verdict: Some(v.report.verdict),
            problems: v.report.problems,
            convert: v.report.convert_to_wav,
            thumb,
        };
        if let Ok(mut p) = self.pending.lock() {
            p.0.push(row);
        }
        self.flush(false);
    }
}

/// Walks `paths` and validates every file found, sending rows to `channel` as they come. The
/// caller has checked `paths`; a file found under them that leads elsewhere (a symbolic link out
/// of a dropped folder) is listed as failed, unread.
pub async fn add(
    thumbs: &Thumbs,
    access: &Arc<Access>,
    paths: Vec<PathBuf>,
    config: &ProbeConfig,
    channel: Channel<Vec<FileRow>>,
    cancel: &CancellationToken,
) -> Result<Added> {
    let access = Arc::clone(access);
    let plan = tauri::async_runtime::spawn_blocking(move || {
        let mut plan = upload::plan(&paths);
        access.keep_allowed(&mut plan, Via::Upload);
        plan
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
    // Every file is listed at once, as "checking"; verdicts replace the rows as they come.
    for chunk in plan.files.chunks(2000) {
        let rows = chunk
            .iter()
            .map(|f| FileRow {
                file: f.clone(),
                kind: None,
                format: None,
                verdict: None,
                problems: Vec::new(),
                convert: false,
                thumb: None,
            })
            .collect();
        let _ = channel.send(rows);
    }
    let bundler = Bundler {
        thumbs,
        channel,
        pending: Mutex::new((Vec::new(), Instant::now())),
    };
    let n = upload::validate(plan.files, config, &bundler, cancel).await;
    bundler.flush(true);
    Ok(Added {
        files: n?,
        skipped: plan.skipped,
        failed: plan.failed,
    })
}

/// A temp file holding `text` (removed when dropped). Its path stays on the Rust side, so it
/// needs no allowing.
pub fn temp_with(text: &str) -> Result<tempfile::NamedTempFile> {
    let mut f = tempfile::Builder::new().suffix(".json").tempfile()?;
    std::io::Write::write_all(&mut f, text.as_bytes())?;
    Ok(f)
}

/// A table as the builder view shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableView {
    /// The file.
    pub path: PathBuf,
    /// `csv`, `tsv`, `xlsx`...
    pub format: String,
    /// The delimiter used (given or detected), for CSV/TSV.
    pub delimiter: Option<char>,
    /// Sheet names, for XLSX/XLS.
    pub sheets: Vec<String>,
    /// Column names.
    pub columns: Vec<String>,
    /// The first rows.
    pub rows: Vec<TableRow>,
    /// Problems met in those rows.
    pub errors: Vec<String>,
}

/// A row of a table.
#[derive(Debug, Serialize)]
pub struct TableRow {
    /// Its line.
    pub line: u64,
    /// Its cells, in column order.
    pub cells: Vec<String>,
}

impl TableView {
    /// The header and first `n` rows of an open table.
    pub fn read(path: &Path, sheets: Vec<String>, table: Table, n: usize) -> Self {
        let columns = table.header().names().to_vec();
        let format = table.format().to_string();
        let delimiter = table.delimiter();
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for r in table.rows().take(n) {
            match r {
                Ok(row) => rows.push(TableRow {
                    line: row.line,
                    cells: row.cells,
                }),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Self {
            path: path.to_path_buf(),
            format,
            delimiter,
            sheets,
            columns,
            rows,
            errors,
        }
    }
}

/// One rendered row, or why it gave no asset.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewRow {
    /// The row's line, when known.
    pub line: Option<u64>,
    /// The asset as the hub would receive it.
    pub asset: Option<assetdrop::builder::Asset>,
    /// Why the row gave none.
    pub error: Option<String>,
}

/// What a builder error is about, so the page can show it next to that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum About {
    /// The template's HTML or its placeholders.
    Template,
    /// The table: reading it, or columns it lacks.
    Table,
    /// Fields of the template's settings (see [`BuilderError::fields`]).
    Settings,
    /// Anything else (the hub, the connection).
    Other,
}

/// A name the user wrote and the one they most likely meant.
#[derive(Debug, Clone, Serialize)]
pub struct Suggested {
    /// The name as written.
    pub name: String,
    /// The likely name, if one is close.
    pub suggestion: Option<String>,
}

/// Why a preview or a build could not start, with what it is about and, for placeholders and
/// columns that do not match, the names involved.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuilderError {
    /// The code and message.
    #[serde(flatten)]
    pub error: IpcError,
    /// What the error is about.
    pub about: About,
    /// Placeholders that name no column, each with the column it most likely means.
    pub unknown_placeholders: Vec<Suggested>,
    /// Columns the template uses that the table lacks, each with the likely header column.
    pub missing_columns: Vec<Suggested>,
    /// Settings fields at fault (`selectedExternalId`, `template`...).
    pub fields: Vec<FieldProblem>,
}

impl BuilderError {
    fn plain(error: IpcError, about: About) -> Self {
        Self {
            error,
            about,
            unknown_placeholders: Vec::new(),
            missing_columns: Vec::new(),
            fields: Vec::new(),
        }
    }
}

impl From<IpcError> for BuilderError {
    fn from(e: IpcError) -> Self {
        Self::plain(e, About::Other)
    }
}

impl From<assetdrop::Error> for BuilderError {
    /// Placed by the builder error it carries: a template's, a table's or the settings'.
    fn from(e: assetdrop::Error) -> Self {
        let source = e.source.as_deref();
        let check = source.and_then(|s| s.downcast_ref::<CheckError>()).cloned();
        let config = source.and_then(|s| match s.downcast_ref::<TemplateError>() {
            Some(TemplateError::Config(c)) => Some(c.clone()),
            _ => s.downcast_ref::<ConfigError>().cloned(),
        });
        let about = if check.is_some() {
            About::Template
        } else if config.is_some() {
            About::Settings
        } else if source
            .and_then(|s| s.downcast_ref::<TemplateError>())
            .is_some()
        {
            About::Template
        } else if source
            .and_then(|s| s.downcast_ref::<TableError>())
            .is_some()
        {
            About::Table
        } else {
            About::Other
        };
        let mut out = Self::plain(e.into(), about);
        if let Some(check) = check {
            let suggested = |names: &[String], likely: &dyn Fn(&str) -> Option<String>| {
                names
                    .iter()
                    .map(|n| Suggested {
                        name: n.clone(),
                        suggestion: likely(n),
                    })
                    .collect()
            };
            out.unknown_placeholders = suggested(&check.unknown_placeholders, &|n| {
                check.likely_column(n).map(str::to_owned)
            });
            out.missing_columns = suggested(&check.missing_columns, &|n| {
                check.likely_header(n).map(str::to_owned)
            });
            if out.unknown_placeholders.is_empty() {
                out.about = About::Table;
            }
        }
        if let Some(ConfigError::Invalid(fields)) = config {
            out.fields = fields;
        }
        out
    }
}

impl From<std::result::Result<RowAsset, RowError>> for PreviewRow {
    fn from(r: std::result::Result<RowAsset, RowError>) -> Self {
        match r {
            Ok(a) => Self {
                line: Some(a.line),
                asset: Some(a.asset),
                error: None,
            },
            Err(e) => Self {
                line: e.line(),
                asset: None,
                error: Some(e.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_served_only_while_its_file_is_allowed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let photo = dir.path().join("photo.png");
        fs_err::write(&photo, b"\x89PNG pixels").expect("write");
        let access = Access::default();
        let thumbs = Thumbs::default();
        access.grant_resumable([photo.as_path()]);
        let id = thumbs.allow(&photo, "image/png");
        assert_eq!(
            thumbs.read(id, &access).expect("allowed"),
            Some((b"\x89PNG pixels".to_vec(), "image/png"))
        );
        assert_eq!(thumbs.read(id + 1, &access).expect("no file"), None);
        access.forget_resumable();
        let refused = thumbs.read(id, &access).expect_err("served after discard");
        assert_eq!(refused.path, photo);
    }
}
