//! The streaming tokenizer for the top-level array. It finds where each entry begins and ends
//! (string- and nesting-aware) reading through a `BufReader`, keeps only the current entry's
//! text, and tracks line:column, so a million entries are read without holding the file and a
//! bad entry does not hide the rest. It does not judge an entry's JSON — `serde_json` does that,
//! on one entry at a time — only the array around the entries.

use std::io::{self, BufRead, BufReader, Read};

use super::{Problem, ProblemCode, Severity};

/// A line:column position; columns count characters (UTF-8 lead bytes), both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    pub(crate) const START: Pos = Pos { line: 1, column: 1 };

    /// Moves over `bytes`.
    pub(crate) fn advance(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                self.column += 1;
            }
        }
    }
}

/// What the scanner found next.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// One entry's complete text, to be parsed.
    Entry {
        index: usize,
        at: Pos,
        text: &'a [u8],
    },
    /// A problem: about one entry (too deep, too large, cut off) or about the file.
    Problem(Problem),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    First,
    AfterComma,
    AfterEntry,
    AfterArray,
    Done,
}

/// How reading one entry's value ended, short of success.
enum Cut {
    /// End of input (or a read error) before the value closed.
    Eof { in_string: bool },
}

/// How reading one entry's value ended.
#[derive(Default)]
struct Captured {
    too_large: bool,
    too_deep: bool,
}

pub(crate) struct Scanner<R> {
    src: BufReader<R>,
    pos: Pos,
    state: State,
    next_index: usize,
    buf: Vec<u8>,
    max_entry_bytes: usize,
    max_depth: usize,
    io_error: Option<io::Error>,
    gap_reported: bool,
}

/// Entries larger than this give their buffer back once read, so one huge entry does not keep
/// its memory for the rest of the file.
const KEEP_CAPACITY: usize = 1 << 20;

impl<R: Read> Scanner<R> {
    pub(crate) fn new(reader: R, max_entry_bytes: usize, max_depth: usize) -> Self {
        Self {
            src: BufReader::with_capacity(64 * 1024, reader),
            pos: Pos::START,
            state: State::Start,
            next_index: 0,
            buf: Vec::new(),
            max_entry_bytes,
            max_depth,
            io_error: None,
            gap_reported: false,
        }
    }

    /// How many entries have started so far.
    pub(crate) fn entries(&self) -> usize {
        self.next_index
    }

    fn peek(&mut self) -> Option<u8> {
        loop {
            match self.src.fill_buf() {
                Ok(b) => return b.first().copied(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.io_error = Some(e);
                    return None;
                }
            }
        }
    }

    fn bump(&mut self) {
        if let Some(b) = self.peek() {
            self.pos.advance(&[b]);
            self.src.consume(1);
        }
    }

    fn skip_ws(&mut self) {
        loop {
            let chunk = match self.src.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.io_error = Some(e);
                    return;
                }
            };
            if chunk.is_empty() {
                return;
            }
            let n = chunk
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(chunk.len());
            self.pos.advance(&chunk[..n]);
            let more = n == chunk.len();
            self.src.consume(n);
            if !more {
                return;
            }
        }
    }

    fn skip_bom(&mut self) {
        if let Ok(b) = self.src.fill_buf() {
            if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
                // Not counted as a column: editors do not show it.
                self.src.consume(3);
            }
        }
    }

    /// A problem at the end of the input: `code` there, or `unreadable` if a read failed.
    fn at_end(&mut self, index: Option<usize>, code: ProblemCode, message: String) -> Problem {
        self.state = State::Done;
        match self.io_error.take() {
            Some(e) => problem(
                index,
                self.pos,
                Severity::Error,
                ProblemCode::Unreadable,
                format!("the file could not be read past this point: {e}"),
            ),
            None => problem(index, self.pos, Severity::Error, code, message),
        }
    }

    /// The next entry or problem; `None` once the array (and anything after it) is done.
    pub(crate) fn next_event(&mut self) -> Option<Event<'_>> {
        loop {
            match self.state {
                State::Done => return None,
                State::Start => {
                    self.skip_bom();
                    self.skip_ws();
                    match self.peek() {
                        None => {
                            let p = self.at_end(
                                None,
                                ProblemCode::EmptyFile,
                                "the file is empty: it should hold a JSON array of assets, like [{\"data\": \"https://host/file.jpg\", \"externalId\": \"file.jpg\"}]".to_owned(),
                            );
                            return Some(Event::Problem(p));
                        }
                        Some(b'[') => {
                            self.bump();
                            self.state = State::First;
                        }
                        Some(b) => {
                            self.state = State::Done;
                            let p = problem(
                                None,
                                self.pos,
                                Severity::Error,
                                ProblemCode::NotArray,
                                not_array(b),
                            );
                            return Some(Event::Problem(p));
                        }
                    }
                }
                State::First | State::AfterComma => {
                    self.skip_ws();
                    let at = self.pos;
                    match self.peek() {
                        None => {
                            let p = self.at_end(
                                None,
                                ProblemCode::Truncated,
                                format!("the file ends before the array is closed (after {} entries): the rest is missing, or add `]` at the end", self.next_index),
                            );
                            return Some(Event::Problem(p));
                        }
                        Some(b']') => {
                            self.bump();
                            let first = self.state == State::First;
                            self.state = State::AfterArray;
                            let p = if first {
                                problem(None, at, Severity::Error, ProblemCode::EmptyArray, "the array has no entries, so there is nothing to import: add objects like {\"data\": \"https://host/file.jpg\", \"externalId\": \"file.jpg\"}".to_owned())
                            } else {
                                problem(None, at, Severity::Warning, ProblemCode::TrailingComma, "a comma before the closing `]`: JSON does not allow it and Ango's importer refuses the file; remove the comma".to_owned())
                            };
                            return Some(Event::Problem(p));
                        }
                        Some(b',') => {
                            self.bump();
                            let p = problem(
                                None,
                                at,
                                Severity::Error,
                                ProblemCode::InvalidJson,
                                "a comma where an entry should be: remove the extra comma"
                                    .to_owned(),
                            );
                            return Some(Event::Problem(p));
                        }
                        Some(_) => return Some(self.entry()),
                    }
                }
                State::AfterEntry => {
                    self.skip_ws();
                    let at = self.pos;
                    match self.peek() {
                        None => {
                            let p = self.at_end(
                                None,
                                ProblemCode::Truncated,
                                "the file ends after its last entry without closing the array: the rest is missing, or add `]` at the end".to_owned(),
                            );
                            return Some(Event::Problem(p));
                        }
                        Some(b',') => {
                            self.bump();
                            self.state = State::AfterComma;
                            self.gap_reported = false;
                        }
                        Some(b']') => {
                            self.bump();
                            self.state = State::AfterArray;
                        }
                        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                            // Most likely a forgotten comma: read on as if it were there.
                            self.state = State::AfterComma;
                            let reported = std::mem::replace(&mut self.gap_reported, false);
                            if !reported {
                                let p = problem(
                                    None,
                                    at,
                                    Severity::Error,
                                    ProblemCode::InvalidJson,
                                    "a comma is missing between two entries: add `,` here"
                                        .to_owned(),
                                );
                                return Some(Event::Problem(p));
                            }
                        }
                        Some(b) => {
                            self.bump();
                            if !std::mem::replace(&mut self.gap_reported, true) {
                                let p = problem(None, at, Severity::Error, ProblemCode::InvalidJson, format!("unexpected {} after an entry: expected `,` before the next entry or `]` to end the array", shown_byte(b)));
                                return Some(Event::Problem(p));
                            }
                        }
                    }
                }
                State::AfterArray => {
                    self.skip_ws();
                    let at = self.pos;
                    let b = self.peek();
                    self.state = State::Done;
                    if let Some(e) = self.io_error.take() {
                        let p = problem(
                            None,
                            at,
                            Severity::Error,
                            ProblemCode::Unreadable,
                            format!("the file could not be read past this point: {e}"),
                        );
                        return Some(Event::Problem(p));
                    }
                    let b = b?;
                    let hint = match b {
                        b'[' => "; if it is a second array, merge the two into one",
                        b']' => "; it looks like an extra `]`",
                        b',' => {
                            "; if more entries follow, they belong inside the array, before its `]`"
                        }
                        _ => "",
                    };
                    let p = problem(None, at, Severity::Error, ProblemCode::TrailingGarbage, format!("there is more after the array's closing `]` (starting with {}): remove it{hint}", shown_byte(b)));
                    return Some(Event::Problem(p));
                }
            }
        }
    }

    /// Reads the entry that starts here.
    fn entry(&mut self) -> Event<'_> {
        let index = self.next_index;
        self.next_index += 1;
        let at = self.pos;
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
        self.buf.clear();
        match self.value() {
            Err(Cut::Eof { in_string }) => {
                let inside = if in_string {
                    ", inside a string (a `\"` is not closed)"
                } else {
                    ""
                };
                let p = self.at_end(
                    Some(index),
                    ProblemCode::Truncated,
                    format!("the file ends inside the entry that starts at line {} column {}{inside}: the rest of the file is missing, or a bracket or quote is not closed", at.line, at.column),
                );
                Event::Problem(p)
            }
            Ok(c) => {
                self.state = State::AfterEntry;
                self.gap_reported = false;
                if c.too_deep {
                    Event::Problem(problem(Some(index), at, Severity::Error, ProblemCode::TooDeep, format!("the entry nests arrays or objects more than {} levels deep: flatten it (an asset needs only a few levels)", self.max_depth)))
                } else if c.too_large {
                    Event::Problem(problem(Some(index), at, Severity::Error, ProblemCode::EntryTooLarge, format!("the entry is larger than {} bytes: host large content as a file and give its URL in `data`", self.max_entry_bytes)))
                } else {
                    Event::Entry {
                        index,
                        at,
                        text: &self.buf,
                    }
                }
            }
        }
    }

    /// Reads one value into `buf` (unless it is too deep or too large: then it is skipped,
    /// still string-aware, to find where the next entry starts).
    fn value(&mut self) -> Result<Captured, Cut> {
        let mut captured = Captured::default();
        let first = self.peek().ok_or(Cut::Eof { in_string: false })?;
        if !matches!(first, b'{' | b'[' | b'"') {
            // A scalar (number, true, null, or a bad token): up to the next delimiter.
            loop {
                let chunk = match self.src.fill_buf() {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.io_error = Some(e);
                        return Err(Cut::Eof { in_string: false });
                    }
                };
                if chunk.is_empty() {
                    return Err(Cut::Eof { in_string: false });
                }
                let end = chunk
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'));
                let n = end.unwrap_or(chunk.len());
                if !captured.too_large {
                    if self.buf.len() + n > self.max_entry_bytes {
                        captured.too_large = true;
                        self.buf = Vec::new();
                    } else {
                        self.buf.extend_from_slice(&chunk[..n]);
                    }
                }
                self.pos.advance(&chunk[..n]);
                self.src.consume(n);
                if end.is_some() {
                    return Ok(captured);
                }
            }
        }
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escape = false;
        let mut capturing = true;
        loop {
            let chunk = match self.src.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.io_error = Some(e);
                    return Err(Cut::Eof { in_string });
                }
            };
            if chunk.is_empty() {
                return Err(Cut::Eof { in_string });
            }
            let mut end = None;
            let mut too_deep = false;
            for (i, &b) in chunk.iter().enumerate() {
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        depth += 1;
                        too_deep |= depth > self.max_depth;
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let n = end.unwrap_or(chunk.len());
            if capturing {
                if too_deep {
                    captured.too_deep = true;
                    capturing = false;
                } else if self.buf.len() + n > self.max_entry_bytes {
                    captured.too_large = true;
                    capturing = false;
                } else {
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                if !capturing {
                    self.buf = Vec::new();
                }
            }
            self.pos.advance(&chunk[..n]);
            self.src.consume(n);
            if end.is_some() {
                return Ok(captured);
            }
        }
    }
}

/// A problem placed at `at`.
fn problem(
    index: Option<usize>,
    at: Pos,
    severity: Severity,
    code: ProblemCode,
    message: String,
) -> Problem {
    Problem {
        index,
        line: at.line,
        column: at.column,
        severity,
        code,
        message,
        field: None,
        fix: None,
        external_id: None,
    }
}

/// A byte for a message: the character when printable ASCII, else its hex value.
fn shown_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", char::from(b))
    } else {
        format!("byte 0x{b:02X}")
    }
}

fn not_array(first: u8) -> String {
    const SHAPE: &str = "Ango's cloud import takes a JSON array: [{\"data\": \"https://host/file.jpg\", \"externalId\": \"file.jpg\"}, ...]";
    match first {
        b'{' => format!("the file is a JSON object, not an array. {SHAPE}. If it is an API request body, use the array in its `assets`; if it has one object per line (JSON Lines), put the lines inside [ ] with a comma after each"),
        b'"' => format!("the file is a JSON string, not an array. {SHAPE}"),
        b'-' | b'0'..=b'9' => format!("the file is a JSON number, not an array. {SHAPE}"),
        b't' | b'f' | b'n' => format!("the file starts with a bare word, not an array. {SHAPE}"),
        b'<' => format!("the file looks like HTML or XML, not JSON. {SHAPE}"),
        0xFE | 0xFF | 0x00 => format!("the file looks like UTF-16 text; save it as UTF-8. {SHAPE}"),
        b => format!("the file does not start with `[` (it starts with {}). {SHAPE}", shown_byte(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(index or problem code, line, column, text)` for everything in `input`.
    fn events(input: &str) -> Vec<(String, u64, u64, String)> {
        let mut s = Scanner::new(input.as_bytes(), 1 << 20, 8);
        let mut out = Vec::new();
        while let Some(e) = s.next_event() {
            out.push(match e {
                Event::Entry { index, at, text } => (
                    index.to_string(),
                    at.line,
                    at.column,
                    String::from_utf8(text.to_vec()).unwrap(),
                ),
                Event::Problem(p) => (
                    p.code.as_str().to_owned(),
                    p.line,
                    p.column,
                    p.index.map(|i| i.to_string()).unwrap_or_default(),
                ),
            });
        }
        out
    }

    fn e(a: &str, l: u64, c: u64, t: &str) -> (String, u64, u64, String) {
        (a.to_owned(), l, c, t.to_owned())
    }

    #[test]
    fn entries_with_positions() {
        let got =
            events("\u{feff}[\n  {\"a\": \"}]\\\"\"},\n\t[1, [2]] , \"s\",  -1.5e3,true\n]\n");
        assert_eq!(
            got,
            [
                e("0", 2, 3, "{\"a\": \"}]\\\"\"}"),
                e("1", 3, 2, "[1, [2]]"),
                e("2", 3, 13, "\"s\""),
                e("3", 3, 19, "-1.5e3"),
                e("4", 3, 26, "true"),
            ]
        );
    }

    #[test]
    fn columns_count_characters() {
        let got = events("[\"é\", \"ü\"]");
        assert_eq!(got[1], e("1", 1, 7, "\"ü\""));
    }

    #[test]
    fn file_level_problems() {
        assert_eq!(events(""), [e("empty-file", 1, 1, "")]);
        assert_eq!(events("  \n "), [e("empty-file", 2, 2, "")]);
        assert_eq!(events(" {\"assets\": []}"), [e("not-array", 1, 2, "")]);
        assert_eq!(events("[ ]"), [e("empty-array", 1, 3, "")]);
        assert_eq!(
            events("[1,]"),
            [e("0", 1, 2, "1"), e("trailing-comma", 1, 4, "")]
        );
        assert_eq!(
            events("[1] x"),
            [e("0", 1, 2, "1"), e("trailing-garbage", 1, 5, "")]
        );
        assert_eq!(events("[1]\n\n"), [e("0", 1, 2, "1")]);
        assert_eq!(
            events("[,1]"),
            [e("invalid-json", 1, 2, ""), e("0", 1, 3, "1")]
        );
    }

    #[test]
    fn truncation_points() {
        assert_eq!(events("["), [e("truncated", 1, 2, "")]);
        assert_eq!(events("[1,"), [e("0", 1, 2, "1"), e("truncated", 1, 4, "")]);
        assert_eq!(events("[1"), [e("truncated", 1, 3, "0")]);
        assert_eq!(
            events("[{}"),
            [e("0", 1, 2, "{}"), e("truncated", 1, 4, "")]
        );
        assert_eq!(events("[{\"a\":\n\"b"), [e("truncated", 2, 3, "0")]);
    }

    #[test]
    fn missing_commas_and_stray_bytes_resynchronise() {
        assert_eq!(
            events("[{}\n{} ]"),
            [
                e("0", 1, 2, "{}"),
                e("invalid-json", 2, 1, ""),
                e("1", 2, 1, "{}")
            ]
        );
        assert_eq!(
            events("[{}}}, {}]"),
            [
                e("0", 1, 2, "{}"),
                e("invalid-json", 1, 4, ""),
                e("1", 1, 8, "{}")
            ]
        );
    }

    #[test]
    fn deep_and_large_entries_are_skipped_not_kept() {
        let deep = format!("[{}{}, 2]", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            events(&deep),
            [e("too-deep", 1, 2, "0"), e("1", 1, 204, "2")]
        );
        let input = format!("[\"{}\", 1]", "x".repeat(5000));
        let mut s = Scanner::new(input.as_bytes(), 100, 8);
        match s.next_event() {
            Some(Event::Problem(p)) => assert_eq!(p.code, ProblemCode::EntryTooLarge),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.next_event(),
            Some(Event::Entry { index: 1, .. })
        ));
        assert!(s.next_event().is_none());
    }

    #[test]
    fn read_errors_are_reported_as_unreadable() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    self.0 = 1;
                    buf[..4].copy_from_slice(b"[1, ");
                    Ok(4)
                } else {
                    Err(io::Error::other("disk on fire"))
                }
            }
        }
        let mut s = Scanner::new(Failing(0), 100, 8);
        assert!(matches!(
            s.next_event(),
            Some(Event::Entry { index: 0, .. })
        ));
        match s.next_event() {
            Some(Event::Problem(p)) => {
                assert_eq!(p.code, ProblemCode::Unreadable);
                assert!(p.message.contains("disk on fire"));
            }
            other => panic!("{other:?}"),
        }
        assert!(s.next_event().is_none());
    }
}
