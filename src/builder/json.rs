//! JSON tables: an array of flat objects, streamed. A small scanner finds where each entry of
//! the top-level array begins and ends (strings and nesting aware), so only one entry is in
//! memory at a time, a bad entry is reported without losing the rest, and every error names the
//! line. `serde_json` then parses that one entry. The first object's keys, in order, are the
//! header. Numbers and booleans become text like Python's `str()` (`3`, `2.5`, `1e+16`,
//! `True`); `null` becomes an empty cell; objects and arrays are refused.

use std::collections::HashSet;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::table::{Header, Row, TableError};

type RowIter = Box<dyn Iterator<Item = Result<Row, TableError>> + Send>;

/// Opens a JSON table: checks it is an array, reads the first object as the header (and first
/// row).
pub(crate) fn open(
    reader: Box<dyn Read + Send>,
    max_row_bytes: usize,
    what: String,
) -> Result<(Arc<Header>, RowIter), TableError> {
    let mut entries = Entries::new(
        BufReader::with_capacity(64 * 1024, reader),
        max_row_bytes,
        what,
    );
    entries.start()?;
    let Some(first) = entries.next_entry()? else {
        return Err(TableError::Empty);
    };
    let pairs = first.object()?;
    let names: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    let header = Arc::new(Header::new(names, first.line)?);
    let row = first.row(pairs, &header);
    let rows = JsonRows {
        entries,
        header: header.clone(),
        first: Some(row),
        done: false,
    };
    Ok((header, Box::new(rows)))
}

struct JsonRows<R> {
    entries: Entries<R>,
    header: Arc<Header>,
    first: Option<Result<Row, TableError>>,
    done: bool,
}

impl<R: BufRead> Iterator for JsonRows<R> {
    type Item = Result<Row, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.done {
            return None;
        }
        let item = match self.entries.next_entry() {
            Ok(None) => return None,
            Ok(Some(entry)) => entry
                .object()
                .and_then(|pairs| entry.row(pairs, &self.header)),
            Err(e) => Err(e),
        };
        if matches!(&item, Err(e) if e.is_fatal()) {
            self.done = true;
        }
        Some(item)
    }
}

/// One entry of the array, as raw bytes, with where it starts.
struct Entry {
    line: u64,
    column: u64,
    index: u64,
    bytes: Vec<u8>,
}

impl Entry {
    fn syntax(&self, e: &serde_json::Error) -> TableError {
        let line = self.line + e.line() as u64 - 1;
        let column = if e.line() <= 1 {
            self.column + e.column() as u64 - 1
        } else {
            e.column() as u64
        };
        // serde_json's message ends with its own (entry-relative) position; drop it.
        let message = e.to_string();
        let message = message
            .rfind(" at line ")
            .map_or(message.as_str(), |at| &message[..at])
            .to_owned();
        TableError::JsonSyntax {
            line,
            column,
            message,
        }
    }

    /// The entry's key/value pairs, in order; an error when it is not an object.
    fn object(&self) -> Result<Vec<(String, Value)>, TableError> {
        if self.bytes.first() == Some(&b'{') {
            let Pairs(pairs) = serde_json::from_slice(&self.bytes).map_err(|e| self.syntax(&e))?;
            return Ok(pairs);
        }
        // Not an object: make sure it is JSON at all before calling it the wrong kind.
        let value: Value = serde_json::from_slice(&self.bytes).map_err(|e| self.syntax(&e))?;
        Err(TableError::NotAnObject {
            line: self.line,
            index: self.index,
            found: kind(&value),
        })
    }

    fn row(&self, pairs: Vec<(String, Value)>, header: &Arc<Header>) -> Result<Row, TableError> {
        let mut cells: Vec<Option<String>> = vec![None; header.len()];
        let mut seen = HashSet::with_capacity(pairs.len());
        for (key, value) in pairs {
            if !seen.insert(key.clone()) {
                return Err(TableError::DuplicateKey {
                    line: self.line,
                    index: self.index,
                    column: key,
                });
            }
            let Some(i) = header.position(&key) else {
                return Err(TableError::UnknownKey {
                    line: self.line,
                    index: self.index,
                    column: key,
                });
            };
            let text = cell_text(&value).map_err(|found| TableError::NestedValue {
                line: self.line,
                index: self.index,
                column: key.clone(),
                found,
            })?;
            cells[i] = Some(text);
        }
        let mut out = Vec::with_capacity(cells.len());
        for (i, cell) in cells.into_iter().enumerate() {
            match cell {
                Some(text) => out.push(text),
                None => {
                    return Err(TableError::MissingKey {
                        line: self.line,
                        index: self.index,
                        column: header.names()[i].clone(),
                    })
                }
            }
        }
        Row::new(self.line, header.clone(), out)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A cell's text: strings as they are, numbers and booleans as Python's `str()` writes them,
/// `null` as empty. `Err` names what a nested value is.
fn cell_text(value: &Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Bool(true) => Ok("True".to_owned()),
        Value::Bool(false) => Ok("False".to_owned()),
        Value::Number(n) => Ok(if n.is_f64() {
            n.as_f64().map(python_float).unwrap_or_default()
        } else {
            n.to_string()
        }),
        Value::Array(_) | Value::Object(_) => Err(kind(value)),
    }
}

/// Python's `repr(float)` (which `str()` also uses): the shortest digits that read back the
/// same, in positional form for exponents from -4 to 15 and `1e+16` form otherwise.
pub(crate) fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e3", "1e-7".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        if point <= 0 {
            let zeros = "0".repeat((-point) as usize);
            format!("{sign}0.{zeros}{digits}")
        } else {
            let point = point as usize;
            if digits.len() <= point {
                let zeros = "0".repeat(point - digits.len());
                format!("{sign}{digits}{zeros}.0")
            } else {
                format!("{sign}{}.{}", &digits[..point], &digits[point..])
            }
        }
    } else {
        let (head, tail) = digits.split_at(1);
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        let exp = exponent.abs();
        if tail.is_empty() {
            format!("{sign}{head}e{exp_sign}{exp:02}")
        } else {
            format!("{sign}{head}.{tail}e{exp_sign}{exp:02}")
        }
    }
}

/// The object's pairs in document order, duplicates kept (so they can be reported).
struct Pairs(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    pairs.push((k, v));
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

/// The array scanner.
struct Entries<R> {
    reader: R,
    max_row_bytes: usize,
    what: String,
    line: u64,
    column: u64,
    index: u64,
    /// Inside the array, before the first entry.
    first: bool,
    done: bool,
    /// An error found after the last entry (text after the array), reported next.
    pending: Option<TableError>,
}

impl<R: BufRead> Entries<R> {
    fn new(reader: R, max_row_bytes: usize, what: String) -> Self {
        Self {
            reader,
            max_row_bytes,
            what,
            line: 1,
            column: 1,
            index: 0,
            first: true,
            done: false,
            pending: None,
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, TableError> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(TableError::Io {
                        what: self.what.clone(),
                        source,
                    })
                }
            }
        }
    }

    fn bump(&mut self, b: u8) {
        self.reader.consume(1);
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if b & 0xC0 != 0x80 {
            // Count characters, not UTF-8 continuation bytes.
            self.column += 1;
        }
    }

    fn skip_whitespace(&mut self) -> Result<Option<u8>, TableError> {
        while let Some(b) = self.peek()? {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.bump(b);
            } else {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    fn error(&self, message: impl Into<String>) -> TableError {
        TableError::JsonSyntax {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    /// Skips a BOM and whitespace and the opening `[`.
    fn start(&mut self) -> Result<(), TableError> {
        if self
            .reader
            .fill_buf()
            .is_ok_and(|b| b.starts_with(b"\xEF\xBB\xBF"))
        {
            self.reader.consume(3);
        }
        match self.skip_whitespace()? {
            None => Err(TableError::Empty),
            Some(b'[') => {
                self.bump(b'[');
                Ok(())
            }
            Some(b) => Err(TableError::NotAnArray {
                line: self.line,
                found: match b {
                    b'{' => "an object".to_owned(),
                    b'"' => "a string".to_owned(),
                    b => format!("{:?}", char::from(b)),
                },
            }),
        }
    }

    fn next_entry(&mut self) -> Result<Option<Entry>, TableError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let result = self.scan_entry();
        if matches!(&result, Err(e) if e.is_fatal()) {
            self.done = true;
        }
        result
    }

    fn scan_entry(&mut self) -> Result<Option<Entry>, TableError> {
        match self.skip_whitespace()? {
            None => return Err(self.error("the array is not closed; end it with ]")),
            Some(b']') if self.first => {
                self.bump(b']');
                self.finish()?;
                return Ok(None);
            }
            Some(b']') => {
                return Err(self.error("a comma before ] has no entry after it; remove it"))
            }
            Some(b',') => return Err(self.error("an entry is missing before this comma")),
            Some(_) => {}
        }
        self.first = false;
        self.index += 1;
        let (line, column) = (self.line, self.column);
        let bytes = self.scan_value(line)?;
        let entry = Entry {
            line,
            column,
            index: self.index,
            bytes,
        };
        match self.skip_whitespace()? {
            Some(b',') => self.bump(b','),
            Some(b']') => {
                self.bump(b']');
                if let Err(e) = self.finish() {
                    self.pending = Some(e);
                }
            }
            None => {
                self.done = true;
                self.pending = Some(self.error("the array is not closed; end it with ]"));
            }
            Some(b) => {
                return Err(self.error(format!(
                    "expected , or ] after entry {}, found {:?}",
                    self.index,
                    char::from(b)
                )))
            }
        }
        Ok(Some(entry))
    }

    /// After the closing `]`: only whitespace may follow.
    fn finish(&mut self) -> Result<(), TableError> {
        self.done = true;
        match self.skip_whitespace()? {
            None => Ok(()),
            Some(_) => {
                Err(self.error("text after the end of the array; a JSON table is one array"))
            }
        }
    }

    /// Copies one value's bytes: an object or array to its matching close, a string to its
    /// closing quote, anything else to the next delimiter.
    fn scan_value(&mut self, line: u64) -> Result<Vec<u8>, TableError> {
        let mut bytes = Vec::new();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        while let Some(b) = self.peek()? {
            if depth == 0 && !in_string && !bytes.is_empty() {
                // A scalar ends at a delimiter; a string or container has already returned.
                if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    return Ok(bytes);
                }
            }
            self.bump(b);
            bytes.push(b);
            if bytes.len() > self.max_row_bytes {
                return Err(TableError::RowTooLarge {
                    line,
                    limit: self.max_row_bytes,
                });
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        return Ok(bytes);
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(bytes);
                    }
                }
                _ => {}
            }
        }
        if bytes.is_empty() || depth > 0 || in_string {
            return Err(TableError::JsonSyntax {
                line,
                column: self.column,
                message: format!(
                    "entry {} starting on line {line} is not closed before the end of the file",
                    self.index
                ),
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Read = (Arc<Header>, Vec<Result<Row, TableError>>);

    fn table(text: &str) -> Result<Read, TableError> {
        let (header, rows) = open(
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            1 << 20,
            String::new(),
        )?;
        Ok((header, rows.collect()))
    }

    #[test]
    fn python_floats() {
        for (f, s) in [
            (1.0, "1.0"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (123_456.789, "123456.789"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (-12.75, "-12.75"),
        ] {
            assert_eq!(python_float(f), s, "{f}");
        }
    }

    #[test]
    fn reads_objects_in_key_order_with_python_style_scalars() {
        let (header, rows) = table(
            "\u{feff}[\n {\"id\": 1, \"ok\": true, \"score\": 2.0, \"note\": null, \"text\": \"héllo, \\\"w\\\"\"},\n {\"text\": \"b\", \"id\": 2, \"ok\": false, \"score\": 1e20, \"note\": \"x\"}\n]\n",
        )
        .unwrap();
        assert_eq!(header.names(), ["id", "ok", "score", "note", "text"]);
        let rows: Vec<Row> = rows.into_iter().map(Result::unwrap).collect();
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].cells, ["1", "True", "2.0", "", "héllo, \"w\""]);
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[1].cells, ["2", "False", "1e+20", "x", "b"]);
    }

    #[test]
    fn bad_entries_are_reported_and_reading_goes_on() {
        let (_, rows) = table(
            "[{\"a\": \"1\", \"b\": \"2\"},\n 5,\n {\"a\": {\"x\": 1}, \"b\": \"\"},\n {\"a\": \"1\"},\n {\"a\": \"1\", \"b\": \"2\", \"c\": \"3\"},\n {\"a\": \"1\", \"a\": \"2\", \"b\": \"\"},\n {\"a\": \"ok\", \"b\": \"ok\"}]",
        )
        .unwrap();
        let messages: Vec<String> = rows
            .iter()
            .map(|r| match r {
                Ok(row) => format!("ok {}", row.line),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(messages[0], "ok 1");
        assert!(
            messages[1].starts_with("line 2: entry 2 of the array is a number, not an object"),
            "{}",
            messages[1]
        );
        assert!(
            messages[2].starts_with("line 3: entry 3, column `a` holds an object"),
            "{}",
            messages[2]
        );
        assert!(
            messages[3].starts_with("line 4: entry 4 has no key `b`"),
            "{}",
            messages[3]
        );
        assert!(
            messages[4].starts_with("line 5: entry 5 has the key `c`"),
            "{}",
            messages[4]
        );
        assert!(
            messages[5].starts_with("line 6: entry 6 has the key `a` twice"),
            "{}",
            messages[5]
        );
        assert_eq!(messages[6], "ok 7");
        assert_eq!(messages.len(), 7);
    }

    #[test]
    fn syntax_errors_name_the_line_and_stop() {
        let (_, rows) = table("[{\"a\": \"1\"},\n {\"a\": \"2\",}\n, {\"a\": \"3\"}]").unwrap();
        assert_eq!(rows.len(), 2);
        let e = rows[1].as_ref().unwrap_err();
        assert!(matches!(e, TableError::JsonSyntax { line: 2, .. }), "{e}");
        let (_, rows) = table("[{\"a\": \"1\"},\n {\"a\": \"2\"}").unwrap();
        assert!(rows[1].is_ok());
        assert!(matches!(rows[2], Err(TableError::JsonSyntax { .. })));
        assert!(matches!(
            table("{\"a\": 1}"),
            Err(TableError::NotAnArray { line: 1, .. })
        ));
        assert!(matches!(table("  "), Err(TableError::Empty)));
        assert!(matches!(table("[]"), Err(TableError::Empty)));
        assert!(matches!(
            table("[\"x\"]"),
            Err(TableError::NotAnObject { index: 1, .. })
        ));
        assert!(matches!(
            table("[{\"\": \"x\"}]"),
            Err(TableError::EmptyHeader { .. })
        ));
        let (_, rows) = table("[{\"a\": \"1\"}] x").unwrap();
        assert!(rows[0].is_ok());
        assert!(
            matches!(rows[1], Err(TableError::JsonSyntax { .. })),
            "{rows:?}"
        );
    }
}
