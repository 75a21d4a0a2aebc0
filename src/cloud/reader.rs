//! [`CloudReader`]: the scanner's entries parsed one at a time into [`Entry`]s — the asset when
//! the entry is good, and every problem either way — with duplicate `externalId`s caught within
//! the file and against the project's existing ones ([`ExternalIds`]).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::asset::CloudAsset;
use super::parse::{self, Sink};
use super::rules::quoted;
use super::scan::{Event, Pos, Scanner};
use super::{CloudError, Problem, ProblemCode, Severity};
use crate::text::Utf8Reader;

/// Entries larger than this are refused by default (`entry-too-large`): inline HTML of a few
/// megabytes passes, a runaway file does not fill memory.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 16 << 20;

/// Nesting deeper than this is refused by default (`too-deep`); an asset needs four or five
/// levels, and `serde_json` stops at 128.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// What to do with an entry whose `externalId` is already taken, in the file or the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicatePolicy {
    /// Import it, with a warning (Ango allows repeated external IDs; reference §4.4).
    #[default]
    Warn,
    /// Leave it out, with a warning: only the first entry with an ID is imported.
    Skip,
    /// Refuse it, with an error.
    Error,
}

/// Settings for [`CloudReader`].
#[derive(Debug, Clone)]
pub struct ReadConfig {
    /// What to do with repeated `externalId`s.
    pub duplicates: DuplicatePolicy,
    /// External IDs the project already has (the caller lists them); an entry with one of
    /// them is reported as `existing-external-id` and handled by [`ReadConfig::duplicates`].
    /// Shared, so readers of the same file over several passes hold one copy.
    pub existing_ids: Arc<ExternalIds>,
    /// Percent-encode URLs that need it and import them (a warning), instead of refusing them.
    pub fix_urls: bool,
    /// Largest entry, in bytes of JSON text.
    pub max_entry_bytes: usize,
    /// Deepest nesting of arrays/objects within an entry (the entry itself is level 1); at most
    /// 127, where `serde_json` would stop.
    pub max_depth: usize,
}

impl Default for ReadConfig {
    fn default() -> Self {
        Self {
            duplicates: DuplicatePolicy::Warn,
            existing_ids: Arc::default(),
            fix_urls: false,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl ReadConfig {
    /// The same settings, checking against the project's existing external IDs.
    #[must_use]
    pub fn with_existing_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Arc::make_mut(&mut self.existing_ids).extend(ids);
        self
    }

    /// The same settings, checking against a set of existing external IDs shared with others.
    #[must_use]
    pub fn with_existing(mut self, ids: Arc<ExternalIds>) -> Self {
        self.existing_ids = ids;
        self
    }

    /// The same settings with another duplicate policy.
    #[must_use]
    pub fn with_duplicates(mut self, policy: DuplicatePolicy) -> Self {
        self.duplicates = policy;
        self
    }
}

/// The 16-byte fingerprint of an external ID: the start of its BLAKE3 hash. Two different IDs
/// share one with a chance of 2⁻¹²⁸; among a million IDs the chance that any two do is below
/// 10⁻²⁷, so sets of fingerprints stand in for sets of IDs at 16 bytes an ID, however long.
pub(crate) fn fingerprint(id: &str) -> u128 {
    let mut first = [0u8; 16];
    first.copy_from_slice(&blake3::hash(id.as_bytes()).as_bytes()[..16]);
    u128::from_le_bytes(first)
}

/// A set of external IDs, such as those a project already has, kept as 16-byte fingerprints
/// (a million IDs take 16 MB whatever their length) in sorted order, with a directory by the
/// leading bits so that a lookup searches about ten of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalIds {
    /// Sorted, no repeats.
    sorted: Vec<u128>,
    /// `starts[b]..starts[b + 1]`: where the fingerprints whose leading `bits` bits are `b` lie.
    starts: Vec<usize>,
    bits: u32,
}

impl ExternalIds {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set of these fingerprints, in any order, repeats allowed.
    pub(crate) fn from_fingerprints(mut sorted: Vec<u128>) -> Self {
        sorted.sort_unstable();
        sorted.dedup();
        // About eight fingerprints per directory slot, at most 2²⁰ slots.
        let bits = (usize::BITS - (sorted.len() / 8).leading_zeros()).min(20);
        let mut starts = vec![0usize; (1 << bits) + 1];
        for &f in &sorted {
            starts[Self::slot(f, bits) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        Self {
            sorted,
            starts,
            bits,
        }
    }

    fn slot(f: u128, bits: u32) -> usize {
        if bits == 0 {
            0
        } else {
            (f >> (128 - bits)) as usize
        }
    }

    /// How many IDs.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Whether `id` is one of them.
    pub fn contains(&self, id: &str) -> bool {
        self.contains_fingerprint(fingerprint(id))
    }

    fn contains_fingerprint(&self, f: u128) -> bool {
        let slot = Self::slot(f, self.bits);
        match (self.starts.get(slot), self.starts.get(slot + 1)) {
            (Some(&from), Some(&to)) => self.sorted[from..to].binary_search(&f).is_ok(),
            _ => false,
        }
    }
}

impl<S: AsRef<str>> Extend<S> for ExternalIds {
    fn extend<I: IntoIterator<Item = S>>(&mut self, ids: I) {
        let mut all = std::mem::take(&mut self.sorted);
        all.extend(ids.into_iter().map(|id| fingerprint(id.as_ref())));
        *self = Self::from_fingerprints(all);
    }
}

impl<S: AsRef<str>> FromIterator<S> for ExternalIds {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> Self {
        let mut set = Self::new();
        set.extend(ids);
        set
    }
}

/// One entry of the array, or (with `index` `None`) a problem with the file as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the array (0-based); `None` for problems with the file as a whole.
    pub index: Option<usize>,
    /// 1-based line where the entry starts (or where the file problem is).
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// The asset, when the entry has no errors and was not skipped as a duplicate.
    pub asset: Option<CloudAsset>,
    /// Left out as a duplicate ([`DuplicatePolicy::Skip`]).
    pub skipped: bool,
    /// Everything wrong with it or worth knowing, errors and warnings.
    pub problems: Vec<Problem>,
}

impl Entry {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// Counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadSummary {
    /// Entries of the array seen, good or bad.
    pub entries: usize,
    /// Entries that gave an asset.
    pub valid: usize,
    /// Entries refused for errors.
    pub invalid: usize,
    /// Entries left out as duplicates.
    pub skipped: usize,
    /// Problems of severity error, file-level ones included.
    pub errors: usize,
    /// Problems of severity warning.
    pub warnings: usize,
}

/// Streams a cloud-import JSON array as [`Entry`]s: one in memory at a time, every problem
/// placed, good entries coming out whatever is wrong with the others. File-level problems
/// (not an array, truncated, trailing garbage...) come as entries with `index` `None`.
pub struct CloudReader<R> {
    scanner: Scanner<Utf8Reader<R>>,
    config: ReadConfig,
    /// External IDs of the entries that gave assets, as fingerprints (see [`ExternalIds`]: a
    /// false "duplicate" would skip a real asset, and at 128 bits none is to be expected), with
    /// the line the first entry starts on (`u32::MAX` past that), to name it by: 20 bytes an ID,
    /// not the ID itself.
    seen: HashMap<[u8; 16], u32>,
    summary: ReadSummary,
}

impl CloudReader<fs_err::File> {
    /// Opens a file to read.
    pub fn open(path: &Path, config: ReadConfig) -> Result<Self, CloudError> {
        let file = fs_err::File::open(path).map_err(|source| CloudError::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::new(file, config))
    }
}

impl<R: Read> CloudReader<R> {
    /// Reads from any byte source (buffered inside): UTF-8, or UTF-16 with a byte-order mark.
    pub fn new(reader: R, config: ReadConfig) -> Self {
        let depth = config.max_depth.clamp(1, 127);
        let bytes = config.max_entry_bytes.max(1);
        Self {
            scanner: Scanner::new(Utf8Reader::new(reader), bytes, depth),
            config,
            seen: HashMap::new(),
            summary: ReadSummary::default(),
        }
    }

    /// The counts so far (final once the iterator is done).
    pub fn summary(&self) -> ReadSummary {
        let mut s = self.summary;
        s.entries = self.scanner.entries();
        s
    }

    fn finish(&mut self, entry: Entry) -> Entry {
        for p in &entry.problems {
            match p.severity {
                Severity::Error => self.summary.errors += 1,
                Severity::Warning => self.summary.warnings += 1,
            }
        }
        if entry.index.is_some() {
            if entry.asset.is_some() {
                self.summary.valid += 1;
            } else if entry.skipped {
                self.summary.skipped += 1;
            } else {
                self.summary.invalid += 1;
            }
        }
        entry
    }
}

impl<R: Read> Iterator for CloudReader<R> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        let fix_urls = self.config.fix_urls;
        let entry = match self.scanner.next_event()? {
            Event::Problem(p) => Entry {
                index: p.index,
                line: p.line,
                column: p.column,
                asset: None,
                skipped: false,
                problems: vec![p],
            },
            Event::Entry { index, at, text } => {
                let mut sink = Sink::new(Some(index), at.line, at.column);
                let mut id = None;
                let asset = match decode(text, at, &mut sink) {
                    Some(value) => {
                        id = external_id_of(&value);
                        parse::parse(value, &mut sink, fix_urls)
                    }
                    None => None,
                };
                let mut skipped = false;
                let asset = asset.and_then(|a| {
                    let keep = duplicates(
                        &mut self.seen,
                        &self.config,
                        at.line,
                        &a.external_id,
                        &mut sink,
                    );
                    skipped = !keep && self.config.duplicates == DuplicatePolicy::Skip;
                    keep.then_some(a)
                });
                if let Some(id) = &id {
                    for p in &mut sink.problems {
                        p.external_id = Some(id.clone());
                    }
                }
                Entry {
                    index: Some(index),
                    line: at.line,
                    column: at.column,
                    asset,
                    skipped,
                    problems: sink.problems,
                }
            }
        };
        Some(self.finish(entry))
    }
}

/// The `externalId` an entry gives, to name it by in its problems: a non-empty string, or a
/// number (a wrong type, but still what the entry is known by).
fn external_id_of(value: &Value) -> Option<String> {
    match value.get("externalId")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The entry's text as a JSON value; `None` (with the problem in `sink`) when it is not UTF-8
/// or not JSON, placed where the decoder stopped.
fn decode(text: &[u8], at: Pos, sink: &mut Sink) -> Option<Value> {
    let place = |offset: usize| {
        let mut p = at;
        p.advance(&text[..offset.min(text.len())]);
        p
    };
    let s = match std::str::from_utf8(text) {
        Ok(s) => s,
        Err(e) => {
            let p = place(e.valid_up_to());
            push_at(sink, p, ProblemCode::NotUtf8, format!("the entry has bytes that are not UTF-8 (at line {} column {}): save the file as UTF-8", p.line, p.column));
            return None;
        }
    };
    match serde_json::from_str(s) {
        Ok(v) => Some(v),
        Err(e) => {
            let offset = offset_of(text, e.line(), e.column());
            let p = place(offset);
            let what = e.to_string();
            let what = what
                .rsplit_once(" at line ")
                .map_or(what.as_str(), |(m, _)| m);
            let hint = json_hint(what, text.get(offset).copied());
            push_at(
                sink,
                p,
                ProblemCode::InvalidJson,
                format!(
                    "the entry is not valid JSON at line {} column {}: {what}{hint}",
                    p.line, p.column
                ),
            );
            None
        }
    }
}

/// The byte offset of `serde_json`'s 1-based line and (byte) column within `text`.
fn offset_of(text: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].iter().position(|&b| b == b'\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    (start + column.saturating_sub(1)).min(text.len())
}

fn json_hint(message: &str, at: Option<u8>) -> &'static str {
    if at == Some(b'\'') {
        "; JSON strings and keys need double quotes (\"), not single ones"
    } else if message.contains("trailing comma") {
        "; remove the comma before the closing bracket"
    } else if message.contains("key must be a string") {
        "; object keys need double quotes, like \"data\""
    } else if message.contains("control character") {
        "; a line break or tab inside a string must be written \\n or \\t"
    } else if message.contains("expected `,` or `}`") || message.contains("expected `,` or `]`") {
        "; a comma or a closing bracket is missing"
    } else {
        ""
    }
}

fn push_at(sink: &mut Sink, p: Pos, code: ProblemCode, message: String) {
    sink.problems.push(Problem {
        index: sink.index,
        line: p.line,
        column: p.column,
        severity: Severity::Error,
        code,
        message,
        field: None,
        fix: None,
        external_id: None,
    });
}

/// Records the ID and reports a repeat; returns whether the asset is kept.
fn duplicates(
    seen: &mut HashMap<[u8; 16], u32>,
    config: &ReadConfig,
    line: u64,
    id: &str,
    sink: &mut Sink,
) -> bool {
    let f = fingerprint(id);
    let (code, what) = if config.existing_ids.contains_fingerprint(f) {
        (
            ProblemCode::ExistingExternalId,
            format!(
                "externalId {} is already used by an asset of the project",
                quoted(id)
            ),
        )
    } else if let Some(&first) = seen.get(&f.to_le_bytes()) {
        let which = if first == u32::MAX {
            "an earlier entry".to_owned()
        } else {
            format!("the entry at line {first}")
        };
        (
            ProblemCode::DuplicateExternalId,
            format!("{which} already has externalId {}", quoted(id)),
        )
    } else {
        seen.insert(f.to_le_bytes(), u32::try_from(line).unwrap_or(u32::MAX));
        return true;
    };
    let (severity, keep, outcome) = match config.duplicates {
        DuplicatePolicy::Warn => (
            Severity::Warning,
            true,
            "it is imported anyway (external IDs need not be unique), but labels imported by externalId go to every asset that has it; give each asset its own, or skip duplicates",
        ),
        DuplicatePolicy::Skip => (
            Severity::Warning,
            false,
            "skipped, as duplicates are being skipped",
        ),
        DuplicatePolicy::Error => (
            Severity::Error,
            false,
            "give each asset its own externalId, or allow duplicates",
        ),
    };
    sink.push(
        severity,
        code,
        Some("externalId"),
        format!("{what}: {outcome}"),
        None,
    );
    keep
}

/// Everything a file holds: the good assets with their indexes, and every problem.
#[derive(Debug, Clone, Default)]
pub struct ReadReport {
    /// Counts.
    pub summary: ReadSummary,
    /// `(index, asset)` for each entry that gave one, in file order.
    pub assets: Vec<(usize, CloudAsset)>,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
}

/// Reads a whole file into a [`ReadReport`]. For very large files, iterate a [`CloudReader`]
/// instead and send assets on in batches.
pub fn read_path(path: &Path, config: ReadConfig) -> Result<ReadReport, CloudError> {
    let mut reader = CloudReader::open(path, config)?;
    let mut report = ReadReport::default();
    for entry in reader.by_ref() {
        report.problems.extend(entry.problems);
        if let (Some(i), Some(a)) = (entry.index, entry.asset) {
            report.assets.push((i, a));
        }
    }
    report.summary = reader.summary();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str, config: ReadConfig) -> (Vec<Entry>, ReadSummary) {
        let mut r = CloudReader::new(input.as_bytes(), config);
        let entries: Vec<Entry> = r.by_ref().collect();
        (entries, r.summary())
    }

    fn codes(e: &Entry) -> Vec<&'static str> {
        e.problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn json_errors_are_placed_where_the_parser_stopped() {
        let input = "[\n  {\"data\": \"https://h/a.jpg\",\n   \"externalId\": 'a'}\n]";
        let (entries, _) = read(input, ReadConfig::default());
        let p = &entries[0].problems[0];
        assert_eq!(p.code, ProblemCode::InvalidJson);
        assert_eq!((p.index, p.line, p.column), (Some(0), 3, 18));
        assert!(p.message.contains("double quotes"), "{}", p.message);
        assert!(!p.message.contains("line 2 column"), "{}", p.message);

        let (entries, _) = read("[{\"a\": \"é\u{1}\"}]", ReadConfig::default());
        let p = &entries[0].problems[0];
        assert_eq!((p.line, p.column), (1, 10));
        assert!(p.message.contains("\\n"), "{}", p.message);
    }

    #[test]
    fn invalid_utf8_is_placed() {
        let mut bytes = b"[{\"data\": \"https://h/a\xE9.jpg\", \"externalId\": \"a\"}]".to_vec();
        bytes.extend_from_slice(b"\n");
        let mut r = CloudReader::new(bytes.as_slice(), ReadConfig::default());
        let e = r.next().unwrap();
        assert_eq!(codes(&e), ["not-utf8"]);
        assert_eq!((e.problems[0].line, e.problems[0].column), (1, 23));
    }

    #[test]
    fn duplicates_by_policy() {
        let input = r#"[{"data": "https://h/1.jpg", "externalId": "a"},
                        {"data": "https://h/2.jpg", "externalId": "a"},
                        {"data": "https://h/3.jpg", "externalId": "old"}]"#;
        let config = ReadConfig::default().with_existing_ids(["old"]);
        let (entries, summary) = read(input, config.clone());
        assert_eq!(codes(&entries[1]), ["duplicate-external-id"]);
        assert!(
            entries[1].problems[0]
                .message
                .contains("the entry at line 1 already"),
            "the earlier entry is named by its line, the same for every reader of the message"
        );
        assert_eq!(entries[1].problems[0].external_id.as_deref(), Some("a"));
        assert_eq!(codes(&entries[2]), ["existing-external-id"]);
        assert!(entries.iter().all(|e| e.asset.is_some()));
        assert_eq!((summary.valid, summary.warnings), (3, 2));

        let (entries, summary) = read(input, config.clone().with_duplicates(DuplicatePolicy::Skip));
        assert!(entries[0].asset.is_some());
        assert!(entries[1].skipped && entries[1].asset.is_none() && !entries[1].has_errors());
        assert!(entries[2].skipped);
        assert_eq!((summary.valid, summary.skipped, summary.errors), (1, 2, 0));

        let (entries, summary) = read(input, config.with_duplicates(DuplicatePolicy::Error));
        assert!(entries[1].has_errors() && !entries[1].skipped);
        assert_eq!((summary.valid, summary.invalid), (1, 2));
    }

    #[test]
    fn external_id_sets_hold_exactly_their_ids() {
        let empty = ExternalIds::new();
        assert!(empty.is_empty() && !empty.contains("") && !empty.contains("a"));
        for n in [1usize, 7, 8, 9, 1000, 50_000] {
            let ids: ExternalIds = (0..n)
                .map(|i| format!("img-{i}.jpg"))
                .chain(["img-0.jpg".to_owned()])
                .collect();
            assert_eq!(ids.len(), n, "repeats are held once");
            assert!((0..n).all(|i| ids.contains(&format!("img-{i}.jpg"))));
            assert!(!(n..n + 1000).any(|i| ids.contains(&format!("img-{i}.jpg"))));
            assert!(!ids.contains("") && !ids.contains("IMG-0.jpg"));
        }
        let mut grown: ExternalIds = ["a", "b"].into_iter().collect();
        grown.extend(["c", "a"]);
        assert_eq!(grown.len(), 3);
        assert!(["a", "b", "c"].iter().all(|id| grown.contains(id)));
    }

    #[test]
    fn readers_share_one_set_of_existing_ids() {
        let ids = Arc::new(ExternalIds::from_iter(["old"]));
        let config = ReadConfig::default().with_existing(Arc::clone(&ids));
        let copy = config.clone();
        assert!(Arc::ptr_eq(&config.existing_ids, &copy.existing_ids));
        let (entries, _) = read(
            r#"[{"data": "https://h/1.jpg", "externalId": "old"}]"#,
            copy,
        );
        assert_eq!(codes(&entries[0]), ["existing-external-id"]);
    }

    #[test]
    fn fixing_urls_on_request() {
        let input = r#"[{"data": "https://h/my cat.jpg", "externalId": "a"}]"#;
        let (entries, _) = read(input, ReadConfig::default());
        assert!(entries[0].asset.is_none());
        let fix = entries[0].problems[0].fix.clone().unwrap();
        assert_eq!(
            (fix.field.as_str(), fix.replacement.as_str()),
            ("data", "https://h/my%20cat.jpg")
        );
        let config = ReadConfig {
            fix_urls: true,
            ..ReadConfig::default()
        };
        let (entries, _) = read(input, config);
        let asset = entries[0].asset.as_ref().unwrap();
        assert_eq!(asset.to_wire()["data"], "https://h/my%20cat.jpg");
        assert_eq!(entries[0].problems[0].severity, Severity::Warning);
    }
}
