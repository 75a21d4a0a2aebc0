//! Tables as a stream of rows: CSV/TSV (any delimiter, detected), XLSX/XLS and JSON arrays of
//! objects. The first row is the header; every later row comes with the line it started on so an
//! error can say where to look. CSV, TSV and JSON are read incrementally (bounded memory for any
//! number of rows); calamine reads a whole sheet at once, so XLSX/XLS hold one sheet in memory.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{delimited, json, sheet};
use crate::text::Utf8Reader;

/// The largest row (all its cells together) a table may have: a guard against an unclosed
/// quote swallowing the rest of a huge file into one cell.
pub const DEFAULT_MAX_ROW_BYTES: usize = 16 * 1024 * 1024;

/// The kinds of table the builder reads (reference §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Delimited text; the delimiter is detected unless given.
    Csv,
    /// Tab-separated text (quotes allowed, as Excel writes them).
    Tsv,
    /// Excel 2007+ workbook (`.xlsx`, `.xlsm`).
    Xlsx,
    /// Excel 97–2003 workbook.
    Xls,
    /// A JSON array of flat objects.
    Json,
}

impl TableFormat {
    /// The format a file name's extension stands for (`.csv`, `.txt`, `.tsv`, `.tab`, `.xlsx`,
    /// `.xlsm`, `.xls`, `.json`), ignoring case.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "txt" => Self::Csv,
            "tsv" | "tab" => Self::Tsv,
            "xlsx" | "xlsm" => Self::Xlsx,
            "xls" => Self::Xls,
            "json" => Self::Json,
            _ => return None,
        })
    }

    /// Lower-case name, as in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Tsv => "tsv",
            Self::Xlsx => "xlsx",
            Self::Xls => "xls",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for TableFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to read a table. `Default` detects everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// The format; `None` takes it from the file extension.
    pub format: Option<TableFormat>,
    /// The CSV delimiter (any single ASCII character but a quote or a line break); `None`
    /// detects it from the first lines among `,` `;` tab `|` and space. TSV defaults to tab.
    pub delimiter: Option<char>,
    /// The XLSX/XLS sheet to read; `None` reads the first one.
    pub sheet: Option<String>,
    /// The largest row, in bytes, before reading stops with [`TableError::RowTooLarge`].
    pub max_row_bytes: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            format: None,
            delimiter: None,
            sheet: None,
            max_row_bytes: DEFAULT_MAX_ROW_BYTES,
        }
    }
}

/// The delimiters detection chooses from, in order of preference when several fit.
pub const DETECTED_DELIMITERS: [char; 5] = [',', ';', '\t', '|', ' '];

/// The column names of a table, in order, from its first row. Names are unique and non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    names: Vec<String>,
    positions: HashMap<String, usize>,
    line: u64,
}

impl Header {
    /// A header from its names, as found on `line`; refuses empty and duplicate names.
    pub fn new(names: Vec<String>, line: u64) -> Result<Self, TableError> {
        let mut positions = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(TableError::EmptyHeader {
                    line,
                    column: i + 1,
                });
            }
            if let Some(&first) = positions.get(name) {
                return Err(TableError::DuplicateHeader {
                    line,
                    name: name.clone(),
                    first: first + 1,
                    second: i + 1,
                });
            }
            positions.insert(name.clone(), i);
        }
        if names.is_empty() {
            return Err(TableError::Empty);
        }
        Ok(Self {
            names,
            positions,
            line,
        })
    }

    /// The names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The 0-based position of a column.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.positions.get(name).copied()
    }

    /// How many columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true for a header that was read (a header has at least one column).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The line (or sheet row) the header was on, 1-based.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// "column 3 (C, `price`)" for the 1-based column `number`.
    pub(crate) fn label(&self, number: usize) -> String {
        column_label(
            number,
            self.names.get(number.wrapping_sub(1)).map(String::as_str),
        )
    }
}

/// One data row: the line it started on (1-based; the sheet row for XLSX/XLS, the line of the
/// opening `{` for JSON) and its cells in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Where the row starts in the file.
    pub line: u64,
    /// The cells, in header order, one per column.
    pub cells: Vec<String>,
    header: Arc<Header>,
}

impl Row {
    /// A row of `header`'s table; the cell count must match the header.
    pub fn new(line: u64, header: Arc<Header>, cells: Vec<String>) -> Result<Self, TableError> {
        if cells.len() != header.len() {
            return Err(ragged(line, &header, cells.len(), None));
        }
        Ok(Self {
            line,
            cells,
            header,
        })
    }

    /// The cell under a column name.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.header
            .position(column)
            .and_then(|i| self.cells.get(i))
            .map(String::as_str)
    }

    /// The table's header.
    pub fn header(&self) -> &Header {
        &self.header
    }
}

/// Builds the right ragged-row error for a row with `found` cells.
pub(crate) fn ragged(
    line: u64,
    header: &Header,
    found: usize,
    delimiter: Option<char>,
) -> TableError {
    let expected = header.len();
    if found > expected {
        TableError::TooManyCells {
            line,
            expected,
            found,
            delimiter,
        }
    } else {
        TableError::TooFewCells {
            line,
            expected,
            found,
            missing: header.label(found + 1),
        }
    }
}

/// "column 3 (C, `price`)": the 1-based number, the spreadsheet letter, and the header name.
pub(crate) fn column_label(number: usize, name: Option<&str>) -> String {
    let letters = column_letters(number);
    match name {
        Some(name) => format!("column {number} ({letters}, `{name}`)"),
        None => format!("column {number} ({letters})"),
    }
}

/// Spreadsheet letters for a 1-based column number: 1 → A, 27 → AA.
pub(crate) fn column_letters(mut number: usize) -> String {
    let mut letters = Vec::new();
    while number > 0 {
        let rem = (number - 1) % 26;
        letters.push(b'A' + rem as u8);
        number = (number - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// Why a table, or one of its rows, could not be read. Every variant names the line (or sheet
/// row) and, where it applies, the column, and says how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file could not be read.
    #[error("cannot read {what}: {source}")]
    Io {
        /// The file, or "the table" for a reader.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The extension names no table format.
    #[error("`{}`: not a table format the builder reads; use .csv, .tsv, .xlsx, .xls or .json, or name the format", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The delimiter override cannot delimit.
    #[error("{delimiter:?} cannot be a delimiter: use one ASCII character other than a quote or a line break")]
    BadDelimiter {
        /// The refused delimiter.
        delimiter: char,
    },
    /// Nothing at all to read.
    #[error("the table is empty: its first row must be a header naming the columns")]
    Empty,
    /// A header and no rows.
    #[error("the table has a header (line {line}) but no rows; add one row per asset below it")]
    NoRows {
        /// The header's line.
        line: u64,
    },
    /// A header cell is empty.
    #[error("line {line}, column {column} ({}): the header cell is empty; give every column a name", column_letters(*column))]
    EmptyHeader {
        /// The header's line.
        line: u64,
        /// The 1-based column.
        column: usize,
    },
    /// Two header cells have the same name.
    #[error("line {line}: the header names `{name}` twice (columns {first} and {second}); rename one so every column is unique")]
    DuplicateHeader {
        /// The header's line.
        line: u64,
        /// The repeated name.
        name: String,
        /// The 1-based first column.
        first: usize,
        /// The 1-based second column.
        second: usize,
    },
    /// A row has more cells than the header.
    #[error("line {line} has {found} cells but the header has {expected}: {} has no header; {}", column_label(expected + 1, None), too_many_hint(*delimiter))]
    TooManyCells {
        /// The row's line.
        line: u64,
        /// The header's cell count.
        expected: usize,
        /// The row's cell count.
        found: usize,
        /// The CSV delimiter, for the hint.
        delimiter: Option<char>,
    },
    /// A row has fewer cells than the header.
    #[error("line {line} has {found} cells but the header has {expected}: {missing} is missing; add the missing cells (empty ones are fine)")]
    TooFewCells {
        /// The row's line.
        line: u64,
        /// The header's cell count.
        expected: usize,
        /// The row's cell count.
        found: usize,
        /// The first missing column.
        missing: String,
    },
    /// A quoted cell never ends.
    #[error("line {line}, {column}: the quote opened here is never closed; close it, or double quotes inside quoted cells (\"\")")]
    UnclosedQuote {
        /// The line of the opening quote.
        line: u64,
        /// The column, labelled.
        column: String,
    },
    /// Text follows the closing quote of a quoted cell.
    #[error("line {line}, {column}: {found:?} follows the closing quote of a quoted cell; a quote inside a quoted cell must be doubled (\"\"), and the cell must end at its closing quote")]
    TextAfterQuote {
        /// The line where it happens.
        line: u64,
        /// The column, labelled.
        column: String,
        /// The character after the closing quote.
        found: char,
    },
    /// Bytes that are not UTF-8.
    #[error("line {line}, {column}: the text is not valid UTF-8; save the table as UTF-8")]
    InvalidUtf8 {
        /// The line of the bad bytes.
        line: u64,
        /// The column, labelled.
        column: String,
    },
    /// A row larger than [`TableOptions::max_row_bytes`].
    #[error(
        "line {line}: the row is larger than {limit} bytes; is a quote left open on this line?"
    )]
    RowTooLarge {
        /// The row's first line.
        line: u64,
        /// The limit.
        limit: usize,
    },
    /// The workbook could not be read.
    #[error("cannot read the {format} workbook: {message}; is the file really {format}?")]
    Workbook {
        /// The format tried.
        format: TableFormat,
        /// What calamine said.
        message: String,
    },
    /// The named sheet does not exist.
    #[error(
        "the workbook has no sheet `{name}`; its sheets are: {}",
        list(available)
    )]
    SheetNotFound {
        /// The name asked for.
        name: String,
        /// The sheets there are.
        available: Vec<String>,
    },
    /// A sheet cell holds a formula error such as `#DIV/0!`.
    #[error("row {line}, {column}: the cell holds the error {value}; fix the formula or replace it with a value")]
    CellError {
        /// The sheet row.
        line: u64,
        /// The column, labelled.
        column: String,
        /// The error as Excel shows it.
        value: String,
    },
    /// JSON that does not parse.
    #[error("line {line}, column {column}: invalid JSON: {message}")]
    JsonSyntax {
        /// The line.
        line: u64,
        /// The 1-based character column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// The JSON document is not an array.
    #[error("line {line}: a JSON table must be an array of objects, like [{{\"id\": \"1\", \"text\": \"…\"}}], but it starts with {found}")]
    NotAnArray {
        /// Where the document starts.
        line: u64,
        /// What it starts with.
        found: String,
    },
    /// A JSON array entry that is not an object.
    #[error("line {line}: entry {index} of the array is {found}, not an object; every entry must be an object of column → value")]
    NotAnObject {
        /// Where the entry starts.
        line: u64,
        /// The 1-based entry number.
        index: u64,
        /// What it is.
        found: &'static str,
    },
    /// A JSON value that cannot be a cell.
    #[error("line {line}: entry {index}, column `{column}` holds {found}; a cell must be a string, number, boolean or null, so flatten it or turn it into text")]
    NestedValue {
        /// Where the entry starts.
        line: u64,
        /// The 1-based entry number.
        index: u64,
        /// The key.
        column: String,
        /// "an object" or "an array".
        found: &'static str,
    },
    /// A JSON entry with a key the first entry does not have.
    #[error("line {line}: entry {index} has the key `{column}`, which the first entry (the header) does not have; give every entry the same keys")]
    UnknownKey {
        /// Where the entry starts.
        line: u64,
        /// The 1-based entry number.
        index: u64,
        /// The key.
        column: String,
    },
    /// A JSON entry without a key the first entry has.
    #[error("line {line}: entry {index} has no key `{column}`, which the first entry (the header) has; give every entry the same keys (\"\" for an empty cell)")]
    MissingKey {
        /// Where the entry starts.
        line: u64,
        /// The 1-based entry number.
        index: u64,
        /// The key.
        column: String,
    },
    /// A JSON entry with the same key twice.
    #[error("line {line}: entry {index} has the key `{column}` twice; keep one")]
    DuplicateKey {
        /// Where the entry starts.
        line: u64,
        /// The 1-based entry number.
        index: u64,
        /// The key.
        column: String,
    },
}

impl TableError {
    /// The line (or sheet row) the error is about, when there is one.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::NoRows { line }
            | Self::EmptyHeader { line, .. }
            | Self::DuplicateHeader { line, .. }
            | Self::TooManyCells { line, .. }
            | Self::TooFewCells { line, .. }
            | Self::UnclosedQuote { line, .. }
            | Self::TextAfterQuote { line, .. }
            | Self::InvalidUtf8 { line, .. }
            | Self::RowTooLarge { line, .. }
            | Self::CellError { line, .. }
            | Self::JsonSyntax { line, .. }
            | Self::NotAnArray { line, .. }
            | Self::NotAnObject { line, .. }
            | Self::NestedValue { line, .. }
            | Self::UnknownKey { line, .. }
            | Self::MissingKey { line, .. }
            | Self::DuplicateKey { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// Whether reading cannot go on after this error. A bad row (ragged, bad quoting after a
    /// closing quote, a bad cell) is not fatal: the rows after it are still read.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Self::TooManyCells { .. }
                | Self::TooFewCells { .. }
                | Self::TextAfterQuote { .. }
                | Self::InvalidUtf8 { .. }
                | Self::CellError { .. }
                | Self::NotAnObject { .. }
                | Self::NestedValue { .. }
                | Self::UnknownKey { .. }
                | Self::MissingKey { .. }
                | Self::DuplicateKey { .. }
        )
    }
}

fn too_many_hint(delimiter: Option<char>) -> String {
    match delimiter {
        Some(d) => format!(
            "quote cells that contain the delimiter {} (\"a{d}b\"), or check the delimiter",
            delimiter_name(d)
        ),
        None => "remove the extra cells or give their column a header".to_owned(),
    }
}

/// "`,` (comma)" and friends, for messages.
pub(crate) fn delimiter_name(d: char) -> String {
    match d {
        ',' => "`,` (comma)".to_owned(),
        ';' => "`;` (semicolon)".to_owned(),
        '\t' => "tab".to_owned(),
        '|' => "`|` (pipe)".to_owned(),
        ' ' => "space".to_owned(),
        other => format!("`{other}`"),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "(none)".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of a table, in file order. After a fatal error (see [`TableError::is_fatal`]) the
/// iterator ends; after a bad row it goes on. A table with a header and no rows yields one
/// [`TableError::NoRows`].
pub struct Rows {
    inner: Box<dyn Iterator<Item = Result<Row, TableError>> + Send>,
    header_line: u64,
    seen: bool,
    done: bool,
}

impl Rows {
    pub(crate) fn new(
        inner: Box<dyn Iterator<Item = Result<Row, TableError>> + Send>,
        header_line: u64,
    ) -> Self {
        Self {
            inner,
            header_line,
            seen: false,
            done: false,
        }
    }
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rows")
            .field("header_line", &self.header_line)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Iterator for Rows {
    type Item = Result<Row, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.inner.next() {
            None => {
                self.done = true;
                if self.seen {
                    None
                } else {
                    Some(Err(TableError::NoRows {
                        line: self.header_line,
                    }))
                }
            }
            Some(item) => {
                self.seen = true;
                if matches!(&item, Err(e) if e.is_fatal()) {
                    self.done = true;
                }
                Some(item)
            }
        }
    }
}

/// An open table: its header, read at once, and its rows, read as they are iterated.
#[derive(Debug)]
pub struct Table {
    header: Arc<Header>,
    format: TableFormat,
    delimiter: Option<char>,
    rows: Rows,
}

impl Table {
    /// The sheet names of an XLSX/XLS file, in workbook order; empty for other formats.
    pub fn sheets(path: &Path) -> Result<Vec<String>, TableError> {
        let Some(format @ (TableFormat::Xlsx | TableFormat::Xls)) = TableFormat::from_path(path)
        else {
            return Ok(Vec::new());
        };
        let bytes = fs_err::read(path).map_err(|source| TableError::Io {
            what: format!("`{}`", path.display()),
            source,
        })?;
        super::sheet::names(std::io::Cursor::new(bytes), format)
    }

    /// Opens a table file and reads its header. The format comes from `options.format` or the
    /// extension.
    pub fn open(path: &Path, options: &TableOptions) -> Result<Self, TableError> {
        let format = options
            .format
            .or_else(|| TableFormat::from_path(path))
            .ok_or_else(|| TableError::UnknownFormat {
                path: path.to_owned(),
            })?;
        let file = fs_err::File::open(path).map_err(|source| TableError::Io {
            what: format!("`{}`", path.display()),
            source,
        })?;
        let what = format!("`{}`", path.display());
        match format {
            TableFormat::Xlsx | TableFormat::Xls => {
                let mut bytes = Vec::new();
                BufReader::new(file)
                    .read_to_end(&mut bytes)
                    .map_err(|source| TableError::Io { what, source })?;
                Self::from_sheet(bytes, format, options)
            }
            _ => Self::from_text(Box::new(file), format, options, what),
        }
    }

    /// Reads a table from any reader (a request body, a buffer). XLSX/XLS are read into memory
    /// first, as calamine needs to seek.
    pub fn from_reader<R: Read + Send + 'static>(
        mut reader: R,
        format: TableFormat,
        options: &TableOptions,
    ) -> Result<Self, TableError> {
        match format {
            TableFormat::Xlsx | TableFormat::Xls => {
                let mut bytes = Vec::new();
                reader
                    .read_to_end(&mut bytes)
                    .map_err(|source| TableError::Io {
                        what: "the table".to_owned(),
                        source,
                    })?;
                Self::from_sheet(bytes, format, options)
            }
            _ => Self::from_text(Box::new(reader), format, options, "the table".to_owned()),
        }
    }

    fn from_sheet(
        bytes: Vec<u8>,
        format: TableFormat,
        options: &TableOptions,
    ) -> Result<Self, TableError> {
        let (header, rows) = sheet::open(Cursor::new(bytes), format, options.sheet.as_deref())?;
        let line = header.line();
        Ok(Self {
            header,
            format,
            delimiter: None,
            rows: Rows::new(rows, line),
        })
    }

    /// Reads CSV, TSV or JSON text: UTF-8, or UTF-16 with a byte-order mark (Excel's "Unicode
    /// Text" export).
    fn from_text(
        reader: Box<dyn Read + Send>,
        format: TableFormat,
        options: &TableOptions,
        what: String,
    ) -> Result<Self, TableError> {
        let reader: Box<dyn Read + Send> = Box::new(Utf8Reader::new(reader));
        if format == TableFormat::Json {
            let (header, rows) = json::open(reader, options.max_row_bytes, what)?;
            let line = header.line();
            return Ok(Self {
                header,
                format,
                delimiter: None,
                rows: Rows::new(rows, line),
            });
        }
        let delimiter = match (options.delimiter, format) {
            (Some(d), _) => Some(d),
            (None, TableFormat::Tsv) => Some('\t'),
            (None, _) => None,
        };
        let (header, delimiter, rows) =
            delimited::open(reader, delimiter, options.max_row_bytes, what)?;
        let line = header.line();
        Ok(Self {
            header,
            format,
            delimiter: Some(delimiter),
            rows: Rows::new(rows, line),
        })
    }

    /// The header.
    pub fn header(&self) -> &Arc<Header> {
        &self.header
    }

    /// The format read.
    pub fn format(&self) -> TableFormat {
        self.format
    }

    /// The delimiter used (given or detected), for CSV and TSV.
    pub fn delimiter(&self) -> Option<char> {
        self.delimiter
    }

    /// The rows, consuming the table.
    pub fn rows(self) -> Rows {
        self.rows
    }
}

impl IntoIterator for Table {
    type Item = Result<Row, TableError>;
    type IntoIter = Rows;

    fn into_iter(self) -> Rows {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(column_letters(1), "A");
        assert_eq!(column_letters(26), "Z");
        assert_eq!(column_letters(27), "AA");
        assert_eq!(column_letters(702), "ZZ");
        assert_eq!(column_letters(703), "AAA");
    }

    #[test]
    fn header_refuses_empty_and_duplicate_names() {
        let e = Header::new(vec!["a".into(), String::new()], 1).unwrap_err();
        assert!(
            matches!(e, TableError::EmptyHeader { line: 1, column: 2 }),
            "{e}"
        );
        let e = Header::new(vec!["a".into(), "b".into(), "a".into()], 3).unwrap_err();
        assert!(
            matches!(&e, TableError::DuplicateHeader { line: 3, first: 1, second: 3, name } if name == "a"),
            "{e}"
        );
        assert!(e.to_string().contains("columns 1 and 3"));
    }

    #[test]
    fn row_lookup_by_name() {
        let header = Arc::new(Header::new(vec!["a".into(), "b".into()], 1).unwrap());
        let row = Row::new(2, header.clone(), vec!["1".into(), "2".into()]).unwrap();
        assert_eq!(row.get("b"), Some("2"));
        assert_eq!(row.get("c"), None);
        let e = Row::new(3, header, vec!["1".into()]).unwrap_err();
        assert!(
            e.to_string().contains("column 2 (B, `b`) is missing"),
            "{e}"
        );
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(
            TableFormat::from_path(Path::new("a.CSV")),
            Some(TableFormat::Csv)
        );
        assert_eq!(
            TableFormat::from_path(Path::new("a.tsv")),
            Some(TableFormat::Tsv)
        );
        assert_eq!(
            TableFormat::from_path(Path::new("a.xlsx")),
            Some(TableFormat::Xlsx)
        );
        assert_eq!(
            TableFormat::from_path(Path::new("a.xls")),
            Some(TableFormat::Xls)
        );
        assert_eq!(
            TableFormat::from_path(Path::new("a.json")),
            Some(TableFormat::Json)
        );
        assert_eq!(TableFormat::from_path(Path::new("a.pdf")), None);
    }
}
