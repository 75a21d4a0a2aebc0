//! Importing a cloud-import file into a project: validate every entry first (streaming), check
//! the URLs if asked, then register the good entries in chunks — all of them, or none when any
//! entry is bad unless the caller asked to skip bad ones. The file is read once per pass, never
//! held whole, and each entry carries an upload ID derived from its content, so importing the
//! same file twice registers nothing twice.
//!
//! What an import holds grows with the input only by small fixed parts: 16 bytes for each
//! external ID the project has and 20 for each new one in the file (fingerprints, see
//! [`ExternalIds`]), and one bit per entry for those the checks refuse. Problems beyond the first
//! few of each code are counted, not kept ([`ImportReport::summarised`]); every one can be
//! streamed elsewhere as it is found ([`import_reporting`]).

use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt as _;
use serde::Serialize;
use serde_json::Value;

use super::reader::{fingerprint, ExternalIds};
use super::{
    CheckConfig, Checker, CloudReader, DuplicatePolicy, Problem, ProblemCode, ReadConfig,
    ReadSummary, Severity, Target,
};
use crate::error::{Error, ErrorCode};
use crate::progress::{Discard, EventSink, Throttle};
use crate::upload::{derived_upload_id, CancellationToken, HubClient, Registrable, Registration};
use crate::wire::{AssetFilter, MAX_PAGE};

/// Problems of one code and severity that an import report names by default; the rest are
/// counted ([`ImportReport::summarised`]).
pub const DEFAULT_PROBLEMS_PER_CODE: usize = 20;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// Target project ID.
    pub project: String,
    /// A storage integration for entries that name none.
    pub storage: Option<String>,
    /// Probe public URLs before importing (`None`: no checks).
    pub check: Option<CheckConfig>,
    /// Import the good entries even when others are bad.
    pub skip_bad: bool,
    /// What to do with repeated external IDs (in the file and against the project).
    pub duplicates: DuplicatePolicy,
    /// Create batches the entries name that do not exist yet.
    pub create_batches: bool,
    /// Validate (and check) only; register nothing.
    pub dry_run: bool,
    /// Task priority, −1000..1000.
    pub priority: i64,
    /// Assets registered per request.
    pub register_chunk: usize,
    /// Problems of one code and severity the report names, the first in file order; the others
    /// are only counted, so that the report of a million bad or repeated entries stays small.
    /// Every problem still goes to the problem sink of [`import_reporting`].
    pub problems_per_code: usize,
}

impl ImportConfig {
    /// Defaults: no storage, no checks, all-or-nothing, duplicates warned about, 500 per
    /// request, 20 problems of each code named.
    pub fn new(project: impl Into<String>) -> Self {
        Self {
            project: project.into(),
            storage: None,
            check: None,
            skip_bad: false,
            duplicates: DuplicatePolicy::Warn,
            create_batches: false,
            dry_run: false,
            priority: 0,
            register_chunk: 500,
            problems_per_code: DEFAULT_PROBLEMS_PER_CODE,
        }
    }
}

/// Problems of one code and severity, more than the report names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summarised {
    /// Their code.
    pub code: ProblemCode,
    /// Their severity.
    pub severity: Severity,
    /// How many the import met.
    pub total: u64,
    /// How many of them [`ImportReport::problems`] names: the first ones, in file order.
    pub named: u64,
}

impl Summarised {
    /// How many are counted only.
    pub fn omitted(&self) -> u64 {
        self.total - self.named
    }
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Assets registered (new, or found from an earlier import of the same entries).
    pub imported: u64,
    /// Of those, newly created.
    pub created: u64,
    /// The problems, errors and warnings, in file order (check problems after read problems):
    /// every one, except that of each code and severity only the first
    /// [`ImportConfig::problems_per_code`] are named and the rest counted in
    /// [`ImportReport::summarised`].
    pub problems: Vec<Problem>,
    /// For each code and severity with more problems than [`ImportReport::problems`] names, how
    /// many there are; empty when every problem is named.
    pub summarised: Vec<Summarised>,
    /// What the reader counted.
    pub summary: ReadSummary,
    /// Entries left out because they were bad (with `skip_bad`), or would have been:
    /// [`ImportReport::with_errors`] and the skipped duplicates.
    pub not_imported: u64,
    /// Entries with at least one error, however many: the invalid ones, and the valid ones the
    /// checks (or, in a dry run, a batch the project lacks) refused. Each is one entry the
    /// problems name; problems of the file as a whole (`index` `None`) are not entries.
    pub with_errors: u64,
    /// Entries that are imported when the import goes ahead: the valid ones, less the skipped and
    /// the refused. `ready + with_errors + skipped` is every entry.
    pub ready: u64,
    /// Whether nothing was registered on purpose.
    pub dry_run: bool,
}

impl ImportReport {
    /// Whether any problem is an error, named or counted.
    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    /// How many problems are errors, named or counted.
    pub fn errors(&self) -> u64 {
        self.count(Severity::Error)
    }

    /// How many problems are warnings, named or counted.
    pub fn warnings(&self) -> u64 {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> u64 {
        let named = self
            .problems
            .iter()
            .filter(|p| p.severity == severity)
            .count() as u64;
        let omitted: u64 = self
            .summarised
            .iter()
            .filter(|s| s.severity == severity)
            .map(Summarised::omitted)
            .sum();
        named + omitted
    }
}

/// The problems of an import as they are found: each one goes to the sink; the report keeps the
/// first `per_code` of each code and severity and counts the rest.
struct ProblemLog<'a> {
    per_code: usize,
    named: Vec<Problem>,
    /// Every code and severity met, in the order first met.
    tallies: Vec<Summarised>,
    /// Problems that come in no particular order (the checks'): for each code and severity, the
    /// first by entry and field seen so far, at most twice the room left.
    unordered: Vec<(ProblemCode, Severity, Vec<Problem>)>,
    sink: &'a dyn EventSink<Problem>,
}

impl<'a> ProblemLog<'a> {
    fn new(per_code: usize, sink: &'a dyn EventSink<Problem>) -> Self {
        Self {
            per_code,
            named: Vec::new(),
            tallies: Vec::new(),
            unordered: Vec::new(),
            sink,
        }
    }

    fn tally(&mut self, code: ProblemCode, severity: Severity) -> &mut Summarised {
        let at = self
            .tallies
            .iter()
            .position(|t| t.code == code && t.severity == severity)
            .unwrap_or_else(|| {
                self.tallies.push(Summarised {
                    code,
                    severity,
                    total: 0,
                    named: 0,
                });
                self.tallies.len() - 1
            });
        &mut self.tallies[at]
    }

    /// A problem met in file order: named while its code has room.
    fn add(&mut self, p: Problem) {
        let per_code = self.per_code as u64;
        let t = self.tally(p.code, p.severity);
        t.total += 1;
        if t.named < per_code {
            t.named += 1;
            self.sink.send(p.clone());
            self.named.push(p);
        } else {
            self.sink.send(p);
        }
    }

    /// A problem met in no particular order; [`ProblemLog::settle_unordered`] names the first
    /// of them by entry and field.
    fn add_unordered(&mut self, p: Problem) {
        let per_code = self.per_code as u64;
        let t = self.tally(p.code, p.severity);
        t.total += 1;
        let room = per_code.saturating_sub(t.named) as usize;
        if room == 0 {
            self.sink.send(p);
            return;
        }
        self.sink.send(p.clone());
        let at = self
            .unordered
            .iter()
            .position(|(c, s, _)| *c == p.code && *s == p.severity)
            .unwrap_or_else(|| {
                self.unordered.push((p.code, p.severity, Vec::new()));
                self.unordered.len() - 1
            });
        let kept = &mut self.unordered[at].2;
        kept.push(p);
        if kept.len() >= 2 * room {
            kept.sort_by(in_file_order);
            kept.truncate(room);
        }
    }

    /// Names the first unordered problems of each code by entry and field, after the ordered
    /// ones.
    fn settle_unordered(&mut self) {
        let mut settled = Vec::new();
        let per_code = self.per_code as u64;
        for (code, severity, mut kept) in std::mem::take(&mut self.unordered) {
            let t = self.tally(code, severity);
            kept.sort_by(in_file_order);
            kept.truncate(per_code.saturating_sub(t.named) as usize);
            t.named += kept.len() as u64;
            settled.append(&mut kept);
        }
        settled.sort_by(in_file_order);
        self.named.append(&mut settled);
    }

    fn finish(mut self, report: &mut ImportReport) {
        self.settle_unordered();
        report.problems = self.named;
        self.tallies.retain(|t| t.total > t.named);
        report.summarised = self.tallies;
    }
}

fn in_file_order(a: &Problem, b: &Problem) -> std::cmp::Ordering {
    (a.index, a.line, a.column, &a.field).cmp(&(b.index, b.line, b.column, &b.field))
}

/// Entries by index, one bit each.
#[derive(Default)]
struct EntrySet {
    bits: Vec<u64>,
    len: usize,
}

impl EntrySet {
    fn insert(&mut self, i: usize) {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & bit == 0 {
            self.bits[word] |= bit;
            self.len += 1;
        }
    }

    fn contains(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }
}

/// Every external ID the project holds already, for duplicate detection (pages of 100, the
/// most Ango allows), as fingerprints: 16 bytes an ID.
async fn existing_ids(
    client: &HubClient,
    project: &str,
    cancel: &CancellationToken,
) -> Result<ExternalIds, Error> {
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        if cancel.is_cancelled() {
            return Err(Error::new(
                ErrorCode::Cancelled,
                "cancelled while listing the project's external IDs",
            ));
        }
        let got = client
            .assets_page(project, page, MAX_PAGE, &AssetFilter::default())
            .await?;
        if page == 1 {
            // Room for what the hub says there is, up to 16 M IDs (256 MB, touched only as
            // filled); a project larger than that grows the list as it comes.
            ids.reserve_exact(usize::try_from(got.total.min(1 << 24)).unwrap_or(0));
        }
        let n = got.assets.len() as u64;
        ids.extend(got.assets.iter().map(|a| fingerprint(&a.external_id)));
        if n < MAX_PAGE || page * MAX_PAGE >= got.total {
            return Ok(ExternalIds::from_fingerprints(ids));
        }
        page += 1;
    }
}

/// The passes of an import, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Reading and validating every entry.
    Read,
    /// Probing public URLs.
    Check,
    /// Registering the good entries.
    Register,
}

/// Progress of one import, cumulative within a phase, about ten a second and once at the end
/// of each phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ImportEvent {
    /// How far a phase has got.
    Progress {
        /// The phase.
        phase: Phase,
        /// Entries done in this phase.
        done: u64,
        /// Entries this phase has in all, when known.
        total: Option<u64>,
    },
}

struct Reporter<'a> {
    sink: &'a dyn EventSink<ImportEvent>,
    throttle: Throttle,
}

impl Reporter<'_> {
    fn tick(&mut self, phase: Phase, done: u64, total: Option<u64>, last: bool) {
        if last || self.throttle.ready(Instant::now()) {
            self.sink.send(ImportEvent::Progress { phase, done, total });
        }
    }
}

/// Imports the cloud-import file at `path` into `config.project`.
pub async fn import(
    client: &HubClient,
    path: &Path,
    config: &ImportConfig,
    cancel: &CancellationToken,
) -> Result<ImportReport, Error> {
    import_reporting(client, path, config, &Discard, &Discard, cancel).await
}

/// [`import`], reporting progress to `sink`.
pub async fn import_with_events(
    client: &HubClient,
    path: &Path,
    config: &ImportConfig,
    sink: &dyn EventSink<ImportEvent>,
    cancel: &CancellationToken,
) -> Result<ImportReport, Error> {
    import_reporting(client, path, config, sink, &Discard, cancel).await
}

/// [`import_with_events`], also handing every problem to `problems` as it is found — those the
/// report names and those it only counts: the reading's in file order, then the checks' in the
/// order the checks finish.
pub async fn import_reporting(
    client: &HubClient,
    path: &Path,
    config: &ImportConfig,
    sink: &dyn EventSink<ImportEvent>,
    problems: &dyn EventSink<Problem>,
    cancel: &CancellationToken,
) -> Result<ImportReport, Error> {
    let mut progress = Reporter {
        sink,
        throttle: Throttle::new(),
    };
    let project = client.project(&config.project).await?;
    let existing = Arc::new(existing_ids(client, &config.project, cancel).await?);
    let open = || {
        CloudReader::open(
            path,
            ReadConfig::default()
                .with_duplicates(config.duplicates)
                .with_existing(Arc::clone(&existing)),
        )
    };
    let known = |b: &String| project.batches.iter().any(|x| &x.name == b || &x.id == b);

    // Pass 1: every problem, and the batches the good entries name.
    let mut report = ImportReport {
        dry_run: config.dry_run,
        ..ImportReport::default()
    };
    let mut log = ProblemLog::new(config.problems_per_code, problems);
    // Good entries that are not to be imported: batches missing in a dry run, or URLs that
    // failed their checks. Invalid and skipped entries give no asset on any pass.
    let mut refused = EntrySet::default();
    let mut missing: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut file_broken = false;
    {
        let mut reader = open()?;
        let mut seen = 0u64;
        for entry in reader.by_ref() {
            seen += 1;
            if cancel.is_cancelled() {
                return Err(Error::new(ErrorCode::Cancelled, "cancelled while reading"));
            }
            if entry.index.is_none() && entry.has_errors() {
                file_broken = true;
            }
            if let Some(a) = &entry.asset {
                missing.extend(a.batches.iter().filter(|b| !known(b)).cloned());
            }
            for p in entry.problems {
                log.add(p);
            }
            // A dry run reports every problem the import would meet, missing batches too, at
            // the entries that name them.
            if let (true, false, Some(i), Some(a)) = (
                config.dry_run,
                config.create_batches,
                entry.index,
                entry.asset.as_ref(),
            ) {
                let absent: Vec<String> = a
                    .batches
                    .iter()
                    .filter(|b| !known(b))
                    .map(|b| format!("{b:?}"))
                    .collect();
                if !absent.is_empty() {
                    refused.insert(i);
                    log.add(Problem {
                        index: Some(i),
                        line: entry.line,
                        column: entry.column,
                        severity: Severity::Error,
                        code: ProblemCode::MissingBatch,
                        message: format!(
                            "the project has no batch {}; create it first, or ask for missing batches to be created",
                            absent.join(", ")
                        ),
                        field: Some("batches".to_owned()),
                        fix: None,
                        external_id: Some(a.external_id.clone()),
                    });
                }
            }
            progress.tick(Phase::Read, seen, None, false);
        }
        report.summary = reader.summary();
    }
    let entries = report.summary.entries as u64;
    progress.tick(Phase::Read, entries, Some(entries), true);

    // Pass 2 (asked for): probe the public URLs of the good entries, streaming.
    if let Some(check) = &config.check {
        let checker = Checker::new(check.clone())?;
        progress.tick(Phase::Check, 0, None, true);
        let targets = open()?.flat_map(|e| Target::of_entry(&e));
        let mut results = pin!(checker.check_stream(targets));
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    return Err(Error::new(ErrorCode::Cancelled, "cancelled while checking URLs"));
                }
                next = results.next() => match next {
                    Some(checked) => {
                        for p in checked.problems {
                            if p.is_error() {
                                if let Some(i) = p.index {
                                    refused.insert(i);
                                }
                            }
                            log.add_unordered(p);
                        }
                    }
                    None => break,
                },
            }
        }
        progress.tick(Phase::Check, entries, Some(entries), true);
    }
    log.finish(&mut report);
    if config.check.is_some() {
        name_entries(&mut report.problems, open()?, cancel)?;
    }
    // Invalid entries and skipped duplicates (pass 1), and good entries refused (pass 1 in a
    // dry run, pass 2).
    report.with_errors = (report.summary.invalid + refused.len) as u64;
    report.ready = report.summary.valid.saturating_sub(refused.len) as u64;
    report.not_imported = report.with_errors + report.summary.skipped as u64;
    if !missing.is_empty() && !config.create_batches && !config.dry_run {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!(
                "the entries name batches that do not exist in project {}: {}; create them first, or ask for missing batches to be created",
                config.project,
                named_few(&missing)
            ),
        ));
    }
    if config.dry_run || ((report.has_errors() || file_broken) && !config.skip_bad) {
        return Ok(report);
    }
    for b in &missing {
        client.create_batch(&config.project, b).await?;
    }
    let registration = Registration::new(client, &config.project, &[], false, config.priority);
    registration.settle().await?;

    // Pass 3: register the good entries, in chunks.
    let to_register = report.ready;
    progress.tick(Phase::Register, 0, Some(to_register), true);
    let chunk = config.register_chunk.clamp(1, 5000);
    let mut pending: Vec<Registrable> = Vec::with_capacity(chunk);
    for entry in open()? {
        if cancel.is_cancelled() {
            return Err(Error::new(
                ErrorCode::Cancelled,
                format!("cancelled after {} assets", report.imported),
            ));
        }
        let (Some(i), Some(mut asset)) = (entry.index, entry.asset) else {
            continue;
        };
        if refused.contains(i) {
            continue;
        }
        if asset.storage.is_none() {
            asset.storage.clone_from(&config.storage);
        }
        let mut wire = asset.to_wire();
        let key = derived_upload_id("cloud", &config.project, i as u64, &wire);
        if registration.recorded(&key).await? {
            // Registered by an earlier run of this import: counted, not sent again.
            report.imported += 1;
            continue;
        }
        wire["uploadId"] = Value::String(key.clone());
        pending.push(Registrable {
            key,
            content_hash: None,
            asset: wire,
        });
        if pending.len() >= chunk {
            register(&registration, &mut pending, &mut report).await?;
            progress.tick(Phase::Register, report.imported, Some(to_register), false);
        }
    }
    register(&registration, &mut pending, &mut report).await?;
    progress.tick(Phase::Register, report.imported, Some(to_register), true);
    Ok(report)
}

/// Gives the problems the checks found (which know entries by index only) their entries'
/// `externalId`s, reading the file again up to the last entry they name.
fn name_entries(
    problems: &mut [Problem],
    entries: impl Iterator<Item = super::Entry>,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let wanted: std::collections::BTreeSet<usize> = problems
        .iter()
        .filter(|p| p.external_id.is_none())
        .filter_map(|p| p.index)
        .collect();
    let Some(&last) = wanted.last() else {
        return Ok(());
    };
    let mut ids = std::collections::BTreeMap::new();
    for entry in entries {
        if cancel.is_cancelled() {
            return Err(Error::new(ErrorCode::Cancelled, "cancelled while reading"));
        }
        let Some(i) = entry.index else { continue };
        if i > last {
            break;
        }
        if let (true, Some(asset)) = (wanted.contains(&i), entry.asset) {
            ids.insert(i, asset.external_id);
        }
    }
    for p in problems.iter_mut().filter(|p| p.external_id.is_none()) {
        p.external_id = p.index.and_then(|i| ids.get(&i)).cloned();
    }
    Ok(())
}

/// The first 20 names, quoted, and how many more.
fn named_few(names: &std::collections::BTreeSet<String>) -> String {
    let mut out: Vec<String> = names.iter().take(20).map(|b| format!("{b:?}")).collect();
    if names.len() > 20 {
        out.push(format!("and {} more", names.len() - 20));
    }
    out.join(", ")
}

async fn register(
    registration: &Registration<'_>,
    pending: &mut Vec<Registrable>,
    report: &mut ImportReport,
) -> Result<(), Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let chunk = registration.register(pending).await?;
    report.imported += pending.len() as u64;
    report.created += chunk.created;
    pending.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn problem(index: usize, code: ProblemCode, severity: Severity) -> Problem {
        Problem {
            index: Some(index),
            line: index as u64 + 2,
            column: 3,
            severity,
            code,
            message: format!("entry {index}"),
            field: Some("externalId".to_owned()),
            fix: None,
            external_id: None,
        }
    }

    #[test]
    fn problems_beyond_the_first_of_a_code_are_counted_not_kept() {
        let sent = Mutex::new(0u64);
        let count = |_p: Problem| *sent.lock().expect("lock") += 1;
        let mut log = ProblemLog::new(20, &count);
        for i in 0..100_000 {
            log.add(problem(
                i,
                ProblemCode::ExistingExternalId,
                Severity::Warning,
            ));
            if i % 1000 == 0 {
                log.add(problem(i, ProblemCode::UrlNotEncoded, Severity::Error));
            }
        }
        log.add(problem(100_000, ProblemCode::BadValue, Severity::Error));
        let mut report = ImportReport::default();
        log.finish(&mut report);
        assert_eq!(
            *sent.lock().expect("lock"),
            100_000 + 100 + 1,
            "every one sent"
        );
        assert_eq!(report.problems.len(), 20 + 20 + 1);
        assert!(report
            .problems
            .windows(2)
            .all(|w| in_file_order(&w[0], &w[1]).is_le()));
        let existing: Vec<usize> = report
            .problems
            .iter()
            .filter(|p| p.code == ProblemCode::ExistingExternalId)
            .filter_map(|p| p.index)
            .collect();
        assert_eq!(
            existing,
            (0..20).collect::<Vec<_>>(),
            "the first ones named"
        );
        assert_eq!(
            report.summarised,
            [
                Summarised {
                    code: ProblemCode::ExistingExternalId,
                    severity: Severity::Warning,
                    total: 100_000,
                    named: 20
                },
                Summarised {
                    code: ProblemCode::UrlNotEncoded,
                    severity: Severity::Error,
                    total: 100,
                    named: 20
                }
            ],
            "a code with all its problems named is not summarised"
        );
        assert_eq!((report.errors(), report.warnings()), (101, 100_000));
        assert!(report.has_errors());
    }

    #[test]
    fn unordered_problems_name_the_first_entries_whatever_the_order_they_come_in() {
        let mut log = ProblemLog::new(5, &Discard);
        log.add(problem(7, ProblemCode::BadUrl, Severity::Error));
        // Checks finish in any order: here last entry first.
        for i in (0..1000).rev() {
            log.add_unordered(problem(i, ProblemCode::Unreachable, Severity::Error));
        }
        log.add_unordered(problem(3, ProblemCode::EmptyContent, Severity::Warning));
        let mut report = ImportReport::default();
        log.finish(&mut report);
        let named: Vec<(Option<usize>, ProblemCode)> =
            report.problems.iter().map(|p| (p.index, p.code)).collect();
        assert_eq!(
            named,
            [
                (Some(7), ProblemCode::BadUrl),
                (Some(0), ProblemCode::Unreachable),
                (Some(1), ProblemCode::Unreachable),
                (Some(2), ProblemCode::Unreachable),
                (Some(3), ProblemCode::Unreachable),
                (Some(3), ProblemCode::EmptyContent),
                (Some(4), ProblemCode::Unreachable),
            ],
            "read problems first, then the checks' in file order"
        );
        assert_eq!(
            report.summarised,
            [Summarised {
                code: ProblemCode::Unreachable,
                severity: Severity::Error,
                total: 1000,
                named: 5
            }]
        );
    }

    #[test]
    fn with_no_room_every_problem_is_counted() {
        let mut log = ProblemLog::new(0, &Discard);
        log.add(problem(0, ProblemCode::MissingData, Severity::Error));
        log.add_unordered(problem(1, ProblemCode::Unreachable, Severity::Error));
        let mut report = ImportReport::default();
        log.finish(&mut report);
        assert!(report.problems.is_empty());
        assert_eq!(report.errors(), 2);
        assert!(report.has_errors(), "errors count even when none is named");
    }

    #[test]
    fn entry_sets_hold_a_bit_per_entry() {
        let mut set = EntrySet::default();
        for i in [0, 63, 64, 1_000_000, 64] {
            set.insert(i);
        }
        assert_eq!(set.len, 4);
        assert!(set.contains(63) && set.contains(64) && set.contains(1_000_000));
        assert!(!set.contains(1) && !set.contains(2_000_000));
        assert!(set.bits.len() <= 1_000_000 / 64 + 1);
    }
}
