//! XLSX and XLS through calamine. calamine reads a whole sheet into memory, so unlike CSV and
//! JSON a workbook's first (or named) sheet is held at once; rows are then handed out one by
//! one. Cells become text the way a spreadsheet shows them: whole numbers without `.0`, dates as
//! ISO 8601, booleans as `TRUE`/`FALSE`. Fully empty rows are skipped, as Excel users expect.

use std::fmt::Display;
use std::io::Cursor;
use std::sync::Arc;

use calamine::{open_workbook_from_rs, Data, Range, Reader, Xls, Xlsx};

use super::table::{column_label, Header, Row, TableError, TableFormat};

type RowIter = Box<dyn Iterator<Item = Result<Row, TableError>> + Send>;
type Source = Cursor<Vec<u8>>;

/// Opens the sheet (the first one unless named) and reads its header.
pub(crate) fn open(
    source: Source,
    format: TableFormat,
    sheet: Option<&str>,
) -> Result<(Arc<Header>, RowIter), TableError> {
    let range = match format {
        TableFormat::Xls => read::<Xls<Source>>(source, format, sheet)?,
        _ => read::<Xlsx<Source>>(source, format, sheet)?,
    };
    let (top, _) = range.start().ok_or(TableError::Empty)?;
    let header_line = u64::from(top) + 1;
    let mut names = Vec::new();
    for c in 0..range.width() {
        let cell = range.get((0, c)).unwrap_or(&Data::Empty);
        let text = cell_text(cell).map_err(|value| TableError::CellError {
            line: header_line,
            column: column_label(c + 1, None),
            value,
        })?;
        names.push(text);
    }
    // Columns past the last named one are not part of the table (Excel's used range often
    // reaches further than the data).
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    if names.is_empty() {
        return Err(TableError::Empty);
    }
    let header = Arc::new(Header::new(names, header_line)?);
    let rows = SheetRows {
        range,
        header: header.clone(),
        next: 1,
        top: u64::from(top),
    };
    Ok((header, Box::new(rows)))
}

/// The workbook's sheet names, in workbook order.
pub(crate) fn names(source: Source, format: TableFormat) -> Result<Vec<String>, TableError> {
    fn of<W>(source: Source, format: TableFormat) -> Result<Vec<String>, TableError>
    where
        W: Reader<Source>,
        W::Error: Display,
    {
        let workbook: W =
            open_workbook_from_rs(source).map_err(|e: W::Error| TableError::Workbook {
                format,
                message: e.to_string(),
            })?;
        Ok(workbook.sheet_names())
    }
    match format {
        TableFormat::Xls => of::<Xls<Source>>(source, format),
        _ => of::<Xlsx<Source>>(source, format),
    }
}

fn read<W>(
    source: Source,
    format: TableFormat,
    sheet: Option<&str>,
) -> Result<Range<Data>, TableError>
where
    W: Reader<Source>,
    W::Error: Display,
{
    let workbook_error = |e: W::Error| TableError::Workbook {
        format,
        message: e.to_string(),
    };
    let mut workbook: W = open_workbook_from_rs(source).map_err(workbook_error)?;
    match sheet {
        Some(name) => {
            let available = workbook.sheet_names();
            if !available.iter().any(|s| s == name) {
                return Err(TableError::SheetNotFound {
                    name: name.to_owned(),
                    available,
                });
            }
            workbook.worksheet_range(name).map_err(workbook_error)
        }
        None => match workbook.worksheet_range_at(0) {
            Some(range) => range.map_err(workbook_error),
            None => Err(TableError::Empty),
        },
    }
}

struct SheetRows {
    range: Range<Data>,
    header: Arc<Header>,
    /// The next row, relative to the range.
    next: usize,
    /// The sheet row (0-based) of the range's first row.
    top: u64,
}

impl Iterator for SheetRows {
    type Item = Result<Row, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.range.height() {
            let r = self.next;
            self.next += 1;
            let line = self.top + r as u64 + 1;
            let width = self.range.width();
            let is_empty = (0..width).all(|c| {
                self.range.get((r, c)).is_none_or(|d| {
                    matches!(d, Data::Empty) || matches!(d, Data::String(s) if s.is_empty())
                })
            });
            if is_empty {
                continue;
            }
            return Some(self.row(r, line, width));
        }
        None
    }
}

impl SheetRows {
    fn row(&self, r: usize, line: u64, width: usize) -> Result<Row, TableError> {
        let columns = self.header.len();
        let mut cells = Vec::with_capacity(columns);
        for c in 0..width {
            let cell = self.range.get((r, c)).unwrap_or(&Data::Empty);
            let text = cell_text(cell).map_err(|value| TableError::CellError {
                line,
                column: self.header.label(c + 1),
                value,
            })?;
            if c < columns {
                cells.push(text);
            } else if !text.is_empty() {
                let found = (c..width)
                    .rev()
                    .find(|&c| {
                        self.range
                            .get((r, c))
                            .is_some_and(|d| !matches!(d, Data::Empty))
                    })
                    .map_or(c + 1, |c| c + 1);
                return Err(TableError::TooManyCells {
                    line,
                    expected: columns,
                    found,
                    delimiter: None,
                });
            }
        }
        cells.resize(columns, String::new());
        Row::new(line, self.header.clone(), cells)
    }
}

/// A cell as the text a spreadsheet shows; `Err` holds a formula error such as `#DIV/0!`.
fn cell_text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(dt) => {
            if dt.is_duration() {
                duration_text(dt.as_f64())
            } else if (0.0..1.0).contains(&dt.as_f64()) {
                // A time of day without a date.
                duration_text(dt.as_f64())
            } else {
                let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
                match (h, mi, s, ms) {
                    (0, 0, 0, 0) => format!("{y:04}-{mo:02}-{d:02}"),
                    (_, _, _, 0) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
                    _ => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03}"),
                }
            }
        }
        Data::Error(e) => return Err(e.to_string()),
    })
}

/// Whole numbers without a fractional part (Excel stores every number as a float, and an ID
/// column must not become `1.0`); others in the shortest form that reads back the same.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// `H:MM:SS` for a duration or time of day given in days.
fn duration_text(days: f64) -> String {
    let total = (days * 86_400.0).round() as i64;
    let sign = if total < 0 { "-" } else { "" };
    let total = total.abs();
    format!(
        "{sign}{}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTime, ExcelDateTimeType};

    #[test]
    fn cells_read_as_a_spreadsheet_shows_them() {
        assert_eq!(cell_text(&Data::Float(3.0)).unwrap(), "3");
        assert_eq!(cell_text(&Data::Float(-0.0)).unwrap(), "0");
        assert_eq!(cell_text(&Data::Float(2.5)).unwrap(), "2.5");
        assert_eq!(cell_text(&Data::Float(0.1)).unwrap(), "0.1");
        assert_eq!(cell_text(&Data::Int(42)).unwrap(), "42");
        assert_eq!(cell_text(&Data::Bool(true)).unwrap(), "TRUE");
        let date = ExcelDateTime::new(45943.0, ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(date)).unwrap(), "2025-10-13");
        let stamp = ExcelDateTime::new(45943.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(
            cell_text(&Data::DateTime(stamp)).unwrap(),
            "2025-10-13 12:00:00"
        );
        let time = ExcelDateTime::new(0.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(time)).unwrap(), "12:00:00");
        let long = ExcelDateTime::new(1.25, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(cell_text(&Data::DateTime(long)).unwrap(), "30:00:00");
        assert_eq!(
            cell_text(&Data::Error(CellErrorType::Div0)).unwrap_err(),
            "#DIV/0!"
        );
    }
}
