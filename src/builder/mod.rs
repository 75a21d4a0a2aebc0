//! The asset builder (reference §8): the rows of a table (CSV/TSV/XLSX/XLS/JSON) and an HTML
//! template with `{{column}}` placeholders become one asset per row, as Ango's Asset Builder and
//! the official SDK's `AssetBuilderUploader` make them. Rows stream with their line numbers; the
//! template is parsed once and rendered per row, every value escaped for where it lands.
//!
//! ```no_run
//! use assetdrop::builder::{render_rows, Table, TableOptions, Template, TemplateConfig};
//! # fn main() -> Result<(), assetdrop::Error> {
//! let config = TemplateConfig::from_json(
//!     r#"{"selectedExternalId": "id",
//!         "dataConfig": {"id": {"type": "text"}, "title": {"type": "text"}, "text": {"type": "text"}}}"#,
//! )?;
//! let template = Template::parse("<h1>{{title}}</h1><p>{{text}}</p>", &config, &[])?;
//! let table = Table::open("rows.csv".as_ref(), &TableOptions::default())?;
//! template.check(table.header())?; // unknown placeholders, missing columns: before any row
//! for item in render_rows(&template, table) {
//!     match item {
//!         Ok(built) => println!("{}", serde_json::to_string(&built.asset).unwrap_or_default()),
//!         Err(e) => eprintln!("{e}"), // a bad row is reported; the next rows still come
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Where we differ from the SDK on purpose (see each item's docs): placeholders are also filled
//! inside mixed text and any attribute; values are never re-read as placeholders; URL attributes
//! refuse `javascript:`/`vbscript:`/`data:` cells; `storageId` joins an existing query with `&`;
//! batch names are trimmed and empty ones dropped; output is HTML (`<br>`), not XML (`<br/>`).

mod config;
mod delimited;
mod import;
mod json;
mod sheet;
mod table;
mod template;
mod unescape;

pub use config::{
    Classification, ColumnConfig, ColumnKind, ConfigError, FieldProblem, OrderedMap, PreLabelRule,
    TemplateConfig, MULTI_SELECT_TOOLS, PUBLIC_STORAGE,
};
pub use import::{
    build, wire_assets, BuildConfig, BuildEvent, BuildPhase, BuildSummary, RowFailure,
};
pub use table::{
    Header, Row, Rows, Table, TableError, TableFormat, TableOptions, DEFAULT_MAX_ROW_BYTES,
    DETECTED_DELIMITERS,
};
pub use template::{
    closest_name, Answer, Asset, CheckError, PreLabel, RenderError, Template, TemplateError,
};

use crate::error::{Error, ErrorCode};

/// Checks a template config and parses its HTML, with the classifications its pre-label
/// rules name available to inline placeholders: what every front end does before a build.
pub fn compile(config: &TemplateConfig) -> Result<Template, Error> {
    config.validate()?;
    let classes: Vec<Classification> = config
        .pre_label_config
        .iter()
        .map(|(_, rule)| rule.cla.clone())
        .collect();
    Ok(Template::from_config(config, &classes)?)
}

/// An asset with the line of the row it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RowAsset {
    /// The row's line (the sheet row for XLSX/XLS).
    pub line: u64,
    /// The asset.
    pub asset: Asset,
}

/// Why one row gave no asset: it could not be read, or not rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// The table reader's error.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The template's error.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl RowError {
    /// The line the error is about, when known.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::Table(e) => e.line(),
            Self::Render(
                RenderError::MissingColumn { line, .. } | RenderError::UnsafeUrl { line, .. },
            ) => Some(*line),
        }
    }

    /// Whether no more rows follow (see [`TableError::is_fatal`]).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Table(e) if e.is_fatal())
    }
}

/// Renders rows as they stream in: one item per row, an asset or that row's error. Call
/// [`Template::check`] on the header first so a misfit table fails before any row.
pub fn render_rows<'a, I>(
    template: &'a Template,
    rows: I,
) -> impl Iterator<Item = Result<RowAsset, RowError>> + 'a
where
    I: IntoIterator<Item = Result<Row, TableError>>,
    I::IntoIter: 'a,
{
    rows.into_iter().map(move |row| {
        let row = row?;
        let asset = template.render(&row)?;
        Ok(RowAsset {
            line: row.line,
            asset,
        })
    })
}

/// Renders the first `n` rows without importing anything: the assets, and the rows that failed
/// with their errors, in table order.
pub fn preview<I>(template: &Template, rows: I, n: usize) -> Vec<Result<RowAsset, RowError>>
where
    I: IntoIterator<Item = Result<Row, TableError>>,
{
    render_rows(template, rows).take(n).collect()
}

impl From<TableError> for Error {
    fn from(e: TableError) -> Self {
        let code = match &e {
            TableError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorCode::NotFound
            }
            TableError::Io { .. } => ErrorCode::Internal,
            TableError::UnknownFormat { .. } | TableError::Workbook { .. } => {
                ErrorCode::UnsupportedFormat
            }
            _ => ErrorCode::InvalidInput,
        };
        Error::with_source(code, e.to_string(), e)
    }
}

impl From<RowError> for Error {
    fn from(e: RowError) -> Self {
        match e {
            RowError::Table(e) => e.into(),
            RowError::Render(e) => e.into(),
        }
    }
}

macro_rules! invalid_input {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::with_source(ErrorCode::InvalidInput, e.to_string(), e)
            }
        }
    )*};
}

invalid_input!(ConfigError, TemplateError, CheckError, RenderError);

#[cfg(test)]
mod tests;
