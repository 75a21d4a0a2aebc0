//! Importing a cloud-import file into a project: validate every entry first (streaming), check
//! the URLs if asked, then register the good entries in chunks — all of them, or none when any
//! entry is bad unless the caller asked to skip bad ones. The file is read once per pass, never
//! held whole, and each entry carries an upload ID derived from its content, so importing the
//! same file twice registers nothing twice.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::{
    CheckConfig, Checker, CloudReader, DuplicatePolicy, Problem, ReadConfig, ReadSummary, Target,
};
use crate::error::{Error, ErrorCode};
use crate::progress::{Discard, EventSink, Throttle};
use crate::upload::{derived_upload_id, CancellationToken, HubClient, Registrable, Registration};
use crate::wire::{AssetFilter, MAX_PAGE};

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
}

impl ImportConfig {
    /// Defaults: no storage, no checks, all-or-nothing, duplicates warned about, 500 per request.
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
        }
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
    /// Every problem, errors and warnings, in file order (check problems after read problems).
    pub problems: Vec<Problem>,
    /// What the reader counted.
    pub summary: ReadSummary,
    /// Entries left out because they were bad (with `skip_bad`), or would have been.
    pub not_imported: u64,
    /// Whether nothing was registered on purpose.
    pub dry_run: bool,
}

impl ImportReport {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// Every external ID the project holds already, for duplicate detection (pages of 100, the
/// most Ango allows).
async fn existing_ids(client: &HubClient, project: &str) -> Result<HashSet<String>, Error> {
    let mut ids = HashSet::new();
    let mut page = 1;
    loop {
        let got = client
            .assets_page(project, page, MAX_PAGE, &AssetFilter::default())
            .await?;
        let n = got.assets.len() as u64;
        ids.extend(got.assets.into_iter().map(|a| a.external_id));
        if n < MAX_PAGE || page * MAX_PAGE >= got.total {
            return Ok(ids);
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
    import_with_events(client, path, config, &Discard, cancel).await
}

/// [`import`], reporting progress to `sink`.
pub async fn import_with_events(
    client: &HubClient,
    path: &Path,
    config: &ImportConfig,
    sink: &dyn EventSink<ImportEvent>,
    cancel: &CancellationToken,
) -> Result<ImportReport, Error> {
    let mut progress = Reporter {
        sink,
        throttle: Throttle::new(),
    };
    let project = client.project(&config.project).await?;
    let read_config = || ReadConfig::default().with_duplicates(config.duplicates);
    let existing = existing_ids(client, &config.project).await?;
    let open = |ids: &HashSet<String>| {
        CloudReader::open(path, read_config().with_existing_ids(ids.iter().cloned()))
    };

    // Pass 1: every problem, and the batches the good entries name.
    let mut report = ImportReport {
        dry_run: config.dry_run,
        ..ImportReport::default()
    };
    let mut bad: HashSet<usize> = HashSet::new();
    let mut batches: BTreeSet<String> = BTreeSet::new();
    let mut file_broken = false;
    let mut reader = open(&existing)?;
    let mut seen = 0u64;
    for entry in reader.by_ref() {
        seen += 1;
        if cancel.is_cancelled() {
            return Err(Error::new(ErrorCode::Cancelled, "cancelled while reading"));
        }
        match (entry.index, &entry.asset) {
            (Some(i), None) => {
                bad.insert(i);
            }
            (None, _) if entry.has_errors() => file_broken = true,
            (_, Some(a)) => batches.extend(a.batches.iter().cloned()),
            _ => {}
        }
        report.problems.extend(entry.problems);
        // A dry run reports every problem the import would meet, missing batches too, at the
        // entries that name them.
        if let (true, false, Some(i), Some(a)) = (
            config.dry_run,
            config.create_batches,
            entry.index,
            entry.asset.as_ref(),
        ) {
            let absent: Vec<String> = a
                .batches
                .iter()
                .filter(|b| !project.batches.iter().any(|x| &x.name == *b || &x.id == *b))
                .map(|b| format!("{b:?}"))
                .collect();
            if !absent.is_empty() {
                bad.insert(i);
                report.problems.push(Problem {
                    index: Some(i),
                    line: entry.line,
                    column: entry.column,
                    severity: super::Severity::Error,
                    code: super::ProblemCode::MissingBatch,
                    message: format!(
                        "the project has no batch {}; create it first, or ask for missing batches to be created",
                        absent.join(", ")
                    ),
                    field: Some("batches".to_owned()),
                    fix: None,
                });
            }
        }
        progress.tick(Phase::Read, seen, None, false);
    }
    report.summary = reader.summary();
    let entries = report.summary.entries as u64;
    progress.tick(Phase::Read, entries, Some(entries), true);

    // Pass 2 (asked for): probe the public URLs of the good entries.
    if let Some(check) = &config.check {
        let checker = Checker::new(check.clone())?;
        progress.tick(Phase::Check, 0, None, true);
        let targets = open(&existing)?.flat_map(|e| Target::of_entry(&e));
        let checked = checker.check(targets, cancel).await;
        if checked.cancelled {
            return Err(Error::new(
                ErrorCode::Cancelled,
                "cancelled while checking URLs",
            ));
        }
        for p in checked.problems {
            if p.is_error() {
                if let Some(i) = p.index {
                    bad.insert(i);
                }
            }
            report.problems.push(p);
        }
        progress.tick(Phase::Check, entries, Some(entries), true);
    }
    // Invalid entries, skipped duplicates (pass 1) and entries whose URLs failed (pass 2).
    report.not_imported = bad.len() as u64;
    let missing: Vec<&String> = batches
        .iter()
        .filter(|b| !project.batches.iter().any(|x| &x.name == *b || &x.id == *b))
        .collect();
    if !missing.is_empty() && !config.create_batches && !config.dry_run {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("the entries name batches that do not exist in project {}: {}; create them first, or ask for missing batches to be created", config.project, missing.iter().map(|b| format!("{b:?}")).collect::<Vec<_>>().join(", ")),
        ));
    }
    if config.dry_run || ((report.has_errors() || file_broken) && !config.skip_bad) {
        return Ok(report);
    }
    for b in missing {
        client.create_batch(&config.project, b).await?;
    }
    let registration = Registration::new(client, &config.project, &[], false, config.priority);
    registration.settle().await?;

    // Pass 3: register the good entries, in chunks.
    // `bad` holds the invalid and skipped entries of pass 1 and the good ones pass 2 refused.
    let refused_by_check = bad
        .len()
        .saturating_sub(report.summary.invalid + report.summary.skipped);
    let to_register = report.summary.valid.saturating_sub(refused_by_check) as u64;
    progress.tick(Phase::Register, 0, Some(to_register), true);
    let chunk = config.register_chunk.clamp(1, 5000);
    let mut pending: Vec<Registrable> = Vec::with_capacity(chunk);
    for entry in open(&existing)? {
        if cancel.is_cancelled() {
            return Err(Error::new(
                ErrorCode::Cancelled,
                format!("cancelled after {} assets", report.imported),
            ));
        }
        let (Some(i), Some(mut asset)) = (entry.index, entry.asset) else {
            continue;
        };
        if bad.contains(&i) {
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
