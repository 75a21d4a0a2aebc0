//! CSV and TSV: a small RFC 4180 reader of our own, because the errors matter here. The `csv`
//! crate accepts bad quoting silently (`"ab"c` becomes `abc`; an unclosed quote swallows the
//! rest of the file; see rust-csv issue #77, "add a strict parsing mode", still open), while a
//! user importing a spreadsheet needs "line 7, column 3: text after the closing quote". Quotes
//! inside an unquoted cell (`5" screen`) are kept literally, as Python's `csv` and Excel do.

use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::Arc;

use super::table::{column_label, ragged, Header, Row, TableError, DETECTED_DELIMITERS};

/// How much of the file delimiter detection looks at.
const SAMPLE_BYTES: usize = 64 * 1024;
/// How many records of the sample detection counts.
const SAMPLE_RECORDS: usize = 50;

type RowIter = Box<dyn Iterator<Item = Result<Row, TableError>> + Send>;

/// Opens delimited text: strips a UTF-8 BOM, detects the delimiter unless given, reads the
/// header. Returns the header, the delimiter used and the rows.
pub(crate) fn open(
    mut reader: Box<dyn Read + Send>,
    delimiter: Option<char>,
    max_row_bytes: usize,
    what: String,
) -> Result<(Arc<Header>, char, RowIter), TableError> {
    if let Some(d) = delimiter {
        if !d.is_ascii() || matches!(d, '"' | '\r' | '\n') {
            return Err(TableError::BadDelimiter { delimiter: d });
        }
    }
    let (mut sample, complete) = read_sample(&mut reader, &what)?;
    if sample.starts_with(b"\xEF\xBB\xBF") {
        sample.drain(..3);
    }
    let delimiter = delimiter.unwrap_or_else(|| detect(&sample, complete));
    let source = BufReader::with_capacity(SAMPLE_BYTES, Cursor::new(sample).chain(reader));
    let mut records = Records::new(source, delimiter as u8, max_row_bytes, what);
    let (line, names) = records.read()?.ok_or(TableError::Empty)?;
    let header = Arc::new(Header::new(names, line)?);
    records.header = Some(header.clone());
    let rows = DelimitedRows {
        records,
        header: header.clone(),
        delimiter,
    };
    Ok((header, delimiter, Box::new(rows)))
}

fn read_sample(reader: &mut dyn Read, what: &str) -> Result<(Vec<u8>, bool), TableError> {
    let mut sample = vec![0; SAMPLE_BYTES];
    let mut filled = 0;
    while filled < sample.len() {
        match reader.read(&mut sample[filled..]) {
            Ok(0) => {
                sample.truncate(filled);
                return Ok((sample, true));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Rows before the broken place are still rows: the error comes again (and is
            // reported with its row) when reading goes on past the sample.
            Err(_) if filled > 0 => break,
            Err(source) => {
                return Err(TableError::Io {
                    what: what.to_owned(),
                    source,
                })
            }
        }
    }
    sample.truncate(filled);
    Ok((sample, false))
}

/// Picks the delimiter from the first records of `sample`: the first of
/// [`DETECTED_DELIMITERS`] that splits every sampled record into the same number (more than
/// one) of cells; failing that, the one whose most common cell count (more than one) covers
/// the most records; failing that (a one-column table), a comma.
pub(crate) fn detect(sample: &[u8], complete: bool) -> char {
    let mut best: Option<(usize, char)> = None;
    for &candidate in &DETECTED_DELIMITERS {
        let counts = sample_counts(sample, complete, candidate as u8);
        let Some(&first) = counts.first() else {
            continue;
        };
        if first > 1 && counts.iter().all(|&c| c == first) {
            return candidate;
        }
        let mut tally: Vec<(usize, usize)> = Vec::new();
        for &c in counts.iter().filter(|&&c| c > 1) {
            match tally.iter_mut().find(|(count, _)| *count == c) {
                Some((_, n)) => *n += 1,
                None => tally.push((c, 1)),
            }
        }
        if let Some(&(_, n)) = tally.iter().max_by_key(|(_, n)| *n) {
            if best.is_none_or(|(b, _)| n > b) {
                best = Some((n, candidate));
            }
        }
    }
    best.map_or(',', |(_, d)| d)
}

fn sample_counts(sample: &[u8], complete: bool, delimiter: u8) -> Vec<usize> {
    let mut records = Records::new(Cursor::new(sample), delimiter, usize::MAX, String::new());
    let mut counts = Vec::new();
    let mut reached_end = false;
    while counts.len() < SAMPLE_RECORDS {
        match records.read_raw() {
            Ok(None) => {
                reached_end = true;
                break;
            }
            Err(e) if e.is_fatal() => {
                reached_end = true;
                break;
            }
            // A bad record still has a cell count; keep it.
            Ok(Some(_)) | Err(_) => counts.push(records.ends.len()),
        }
    }
    if !complete && reached_end && counts.len() > 1 {
        // The sample cut the last record short.
        counts.pop();
    }
    counts
}

struct DelimitedRows<R> {
    records: Records<R>,
    header: Arc<Header>,
    delimiter: char,
}

impl<R: BufRead> Iterator for DelimitedRows<R> {
    type Item = Result<Row, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.records.read() {
            Ok(None) => None,
            Ok(Some((line, cells))) => {
                if cells.len() == self.header.len() {
                    Some(Row::new(line, self.header.clone(), cells))
                } else {
                    Some(Err(ragged(
                        line,
                        &self.header,
                        cells.len(),
                        Some(self.delimiter),
                    )))
                }
            }
            Err(e) => Some(Err(e)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a cell.
    Start,
    /// Inside an unquoted cell.
    Unquoted,
    /// Inside a quoted cell.
    Quoted,
    /// Just after a quote inside a quoted cell: a doubled quote, or the end of the cell.
    QuoteSeen,
    /// After bad quoting: skipping to the end of the line.
    Skip,
}

/// The record reader: cells are gathered into one buffer with their end offsets, then checked
/// for UTF-8 once per record.
pub(crate) struct Records<R> {
    reader: R,
    delimiter: u8,
    max_row_bytes: usize,
    what: String,
    /// The line of the next byte, 1-based.
    line: u64,
    /// The last byte was `\r` (so a `\n` after it ends no new line).
    prev_cr: bool,
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Cell labels need the header; until it is read, cells are labelled by number.
    header: Option<Arc<Header>>,
}

impl<R: BufRead> Records<R> {
    pub(crate) fn new(reader: R, delimiter: u8, max_row_bytes: usize, what: String) -> Self {
        Self {
            reader,
            delimiter,
            max_row_bytes,
            what,
            line: 1,
            prev_cr: false,
            buf: Vec::new(),
            ends: Vec::new(),
            header: None,
        }
    }

    fn label(&self, column: usize) -> String {
        match &self.header {
            Some(h) => h.label(column),
            None => column_label(column, None),
        }
    }

    /// The next record's start line and cells, or `None` at the end.
    pub(crate) fn read(&mut self) -> Result<Option<(u64, Vec<String>)>, TableError> {
        let Some(line) = self.read_raw()? else {
            return Ok(None);
        };
        // Each cell on its own: a character split by a delimiter (bytes `\xDE,\x88`) is two
        // broken cells, although the cells' bytes side by side would read as one character.
        let mut cells = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for (index, &end) in self.ends.iter().enumerate() {
            match std::str::from_utf8(&self.buf[start..end]) {
                Ok(cell) => cells.push(cell.to_owned()),
                Err(e) => {
                    let at = start + e.valid_up_to();
                    let newlines = self.buf[..at]
                        .split(|&b| b == b'\n')
                        .count()
                        .saturating_sub(1) as u64;
                    return Err(TableError::InvalidUtf8 {
                        line: line + newlines,
                        column: self.label(index + 1),
                    });
                }
            }
            start = end;
        }
        Ok(Some((line, cells)))
    }

    /// Reads one record into `buf`/`ends`; returns its first line.
    fn read_raw(&mut self) -> Result<Option<u64>, TableError> {
        self.buf.clear();
        self.ends.clear();
        let mut state = State::Start;
        let mut started = false;
        // Only spaces and tabs so far: such a line is blank, whatever the delimiter.
        let mut blank = true;
        let mut start_line = self.line;
        let mut quote_line = 0;
        let mut quote_column = 0;
        let mut pending: Option<TableError> = None;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(TableError::Io {
                        what: self.what.clone(),
                        source,
                    })
                }
            };
            if chunk.is_empty() {
                if state == State::Quoted {
                    return Err(TableError::UnclosedQuote {
                        line: quote_line,
                        column: self.label(quote_column),
                    });
                }
                if !started || blank {
                    return Ok(None);
                }
                self.ends.push(self.buf.len());
                return match pending {
                    Some(e) => Err(e),
                    None => Ok(Some(start_line)),
                };
            }
            let mut used = 0;
            let mut record_done = false;
            let mut bad_quote: Option<(u64, usize, char)> = None;
            for (i, &b) in chunk.iter().enumerate() {
                used = i + 1;
                let is_newline = b == b'\r' || (b == b'\n' && !self.prev_cr);
                let crlf_tail = b == b'\n' && self.prev_cr;
                self.prev_cr = b == b'\r';
                let line_here = self.line;
                if is_newline {
                    self.line += 1;
                }
                match state {
                    State::Start => {
                        if crlf_tail && !started {
                            // The `\n` of a `\r\n` that ended the previous record.
                            continue;
                        }
                        if (b == b'\n' || b == b'\r') && !started {
                            // A blank line: skipped, as Python's csv.DictReader does.
                            continue;
                        }
                        if !started {
                            started = true;
                            start_line = line_here;
                        }
                        if b == b'\n' || b == b'\r' {
                            self.ends.push(self.buf.len());
                            record_done = true;
                        } else if b == self.delimiter {
                            self.ends.push(self.buf.len());
                        } else if b == b'"' {
                            state = State::Quoted;
                            quote_line = line_here;
                            quote_column = self.ends.len() + 1;
                        } else {
                            self.buf.push(b);
                            state = State::Unquoted;
                        }
                    }
                    State::Unquoted => {
                        if b == self.delimiter {
                            self.ends.push(self.buf.len());
                            state = State::Start;
                        } else if b == b'\n' || b == b'\r' {
                            self.ends.push(self.buf.len());
                            record_done = true;
                        } else {
                            self.buf.push(b);
                        }
                    }
                    State::Quoted => {
                        if b == b'"' {
                            state = State::QuoteSeen;
                        } else {
                            self.buf.push(b);
                        }
                    }
                    State::QuoteSeen => {
                        if b == b'"' {
                            self.buf.push(b'"');
                            state = State::Quoted;
                        } else if b == self.delimiter {
                            self.ends.push(self.buf.len());
                            state = State::Start;
                        } else if b == b'\n' || b == b'\r' {
                            self.ends.push(self.buf.len());
                            record_done = true;
                        } else {
                            let found = first_char(&chunk[i..]);
                            bad_quote = Some((line_here, self.ends.len() + 1, found));
                            state = State::Skip;
                        }
                    }
                    State::Skip => {
                        if b == self.delimiter {
                            self.ends.push(self.buf.len());
                        } else if b == b'\n' || b == b'\r' {
                            self.ends.push(self.buf.len());
                            record_done = true;
                        }
                    }
                }
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    blank = false;
                }
                if record_done {
                    break;
                }
            }
            self.reader.consume(used);
            if let Some((line, column, found)) = bad_quote {
                pending = Some(TableError::TextAfterQuote {
                    line,
                    column: self.label(column),
                    found,
                });
            }
            if self.buf.len() > self.max_row_bytes {
                return Err(TableError::RowTooLarge {
                    line: start_line,
                    limit: self.max_row_bytes,
                });
            }
            if record_done && blank {
                // A line of spaces or tabs: skipped like an empty one.
                self.buf.clear();
                self.ends.clear();
                started = false;
                state = State::Start;
                continue;
            }
            if record_done {
                return match pending {
                    Some(e) => Err(e),
                    None => Ok(Some(start_line)),
                };
            }
        }
    }
}

fn first_char(bytes: &[u8]) -> char {
    let end = bytes.len().min(4);
    for len in (1..=end).rev() {
        if let Ok(s) = std::str::from_utf8(&bytes[..len]) {
            if let Some(c) = s.chars().next() {
                return c;
            }
        }
    }
    char::REPLACEMENT_CHARACTER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str, delimiter: u8) -> Vec<Result<(u64, Vec<String>), String>> {
        let mut r = Records::new(
            Cursor::new(text.as_bytes().to_vec()),
            delimiter,
            1 << 20,
            String::new(),
        );
        let mut out = Vec::new();
        loop {
            match r.read() {
                Ok(Some(rec)) => out.push(Ok(rec)),
                Ok(None) => break,
                Err(e) => {
                    let fatal = e.is_fatal();
                    out.push(Err(e.to_string()));
                    if fatal {
                        break;
                    }
                }
            }
        }
        out
    }

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn quoting_and_line_endings() {
        let got = records(
            "a,b\r\n\"x,1\",\"he said \"\"hi\"\"\"\r\n\n\"multi\nline\",2\rlast,\n",
            b',',
        );
        assert_eq!(
            got,
            vec![
                Ok((1, cells(&["a", "b"]))),
                Ok((2, cells(&["x,1", "he said \"hi\""]))),
                Ok((4, cells(&["multi\nline", "2"]))),
                Ok((6, cells(&["last", ""]))),
            ]
        );
    }

    #[test]
    fn no_final_newline_and_empty_cells() {
        let got = records("a;b;c\n;;\n1;;3", b';');
        assert_eq!(
            got,
            vec![
                Ok((1, cells(&["a", "b", "c"]))),
                Ok((2, cells(&["", "", ""]))),
                Ok((3, cells(&["1", "", "3"]))),
            ]
        );
    }

    #[test]
    fn lines_of_only_spaces_or_tabs_are_blank() {
        let got = records("a\tb\n  \n\t\n\r\n1\t2\n \t ", b'\t');
        assert_eq!(
            got,
            vec![Ok((1, cells(&["a", "b"]))), Ok((5, cells(&["1", "2"])))]
        );
        // A quoted space is a value, not a blank line.
        let got = records("a\n\" \"\n", b',');
        assert_eq!(got[1], Ok((2, cells(&[" "]))));
    }

    #[test]
    fn bare_quotes_inside_unquoted_cells_are_literal() {
        let got = records("size,name\n5\" screen,a\"b\n", b',');
        assert_eq!(got[1], Ok((2, cells(&["5\" screen", "a\"b"]))));
    }

    #[test]
    fn text_after_closing_quote_is_an_error_and_reading_goes_on() {
        let got = records("a,b\n\"ab\"c,d\nok,1\n", b',');
        let err = got[1].clone().unwrap_err();
        assert!(
            err.starts_with("line 2, column 1 (A): 'c' follows the closing quote"),
            "{err}"
        );
        assert_eq!(got[2], Ok((3, cells(&["ok", "1"]))));
    }

    #[test]
    fn unclosed_quote_names_where_it_opened() {
        let header = Arc::new(Header::new(cells(&["id", "text"]), 1).unwrap());
        let mut r = Records::new(
            Cursor::new(b"id,text\n1,\"open\n2,x\n3,y\n".to_vec()),
            b',',
            1 << 20,
            String::new(),
        );
        r.header = Some(header);
        r.read().unwrap();
        let e = r.read().unwrap_err();
        assert!(e.is_fatal());
        assert_eq!(
            e.to_string(),
            "line 2, column 2 (B, `text`): the quote opened here is never closed; close it, or double quotes inside quoted cells (\"\")"
        );
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let mut r = Records::new(
            Cursor::new(b"a,b\n1,\"x\ny\xff\"\n".to_vec()),
            b',',
            1 << 20,
            String::new(),
        );
        r.read().unwrap();
        let e = r.read().unwrap_err();
        assert!(
            matches!(&e, TableError::InvalidUtf8 { line: 3, column } if column == "column 2 (B)"),
            "{e}"
        );
    }

    #[test]
    fn a_character_split_by_a_delimiter_is_invalid_utf8() {
        // 0xDE 0x88 is one two-byte character; with a delimiter between its bytes, neither cell
        // is UTF-8 (the cells' bytes joined would be, so each is checked alone).
        for delimiter in [b',', b';', b'\t'] {
            let mut input = b"a,b\n\xde".to_vec();
            input.push(delimiter);
            input.extend_from_slice(b"\x88\n");
            let mut r = Records::new(Cursor::new(input), delimiter, 1 << 20, String::new());
            r.read().unwrap();
            let e = r.read().unwrap_err();
            assert!(
                matches!(&e, TableError::InvalidUtf8 { line: 2, column } if column == "column 1 (A)"),
                "{e}"
            );
        }
    }

    #[test]
    fn row_size_is_bounded() {
        let mut r = Records::new(
            Cursor::new(format!("a\n\"{}", "x".repeat(5000)).into_bytes()),
            b',',
            1000,
            String::new(),
        );
        r.read().unwrap();
        assert!(matches!(
            r.read(),
            Err(TableError::RowTooLarge {
                line: 2,
                limit: 1000
            })
        ));
    }

    #[test]
    fn detects_delimiters() {
        assert_eq!(detect(b"a,b,c\n1,2,3\n", true), ',');
        assert_eq!(detect(b"name;price\nfoo;1,5\nbar;2,25\n", true), ';');
        assert_eq!(detect(b"a\tb\n1\t2, 3\n", true), '\t');
        assert_eq!(detect(b"a|b|c\n1|2|3\n", true), '|');
        assert_eq!(detect(b"a b c\n1 2 3\n", true), ' ');
        assert_eq!(detect(b"name,notes\nx,\"a;b;c\"\ny,\"d;e\"\n", true), ',');
        assert_eq!(detect(b"only\none\n", true), ',');
        // Mostly consistent: one ragged row does not change the answer.
        assert_eq!(detect(b"a;b\n1;2\n3;4;5\n6;7\n", true), ';');
        // A sample cut mid-record: the last, partial record is not counted.
        assert_eq!(detect(b"a;b;c\n1;2;3\n4;5", false), ';');
    }
}
