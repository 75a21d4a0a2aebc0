//! Building assets from a table and registering them on a hub: rows are read and rendered on a
//! blocking thread and handed over a bounded channel, so a million-row table streams in bounded
//! memory; assets are registered in chunks through the normal registration path, missing batches
//! are created first, and each row carries an upload ID derived from its content, so running the
//! same build twice registers nothing twice.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde::Serialize;
use serde_json::Value;

use super::{render_rows, ColumnKind, RowAsset, Table, TableOptions, Template};
use crate::cloud::check::judge;
use crate::cloud::{CheckConfig, Checker, ProblemCode, Target};
use crate::error::{Error, ErrorCode};
use crate::media::Kind;
use crate::progress::{EventSink, Throttle};
use crate::upload::{derived_upload_id, CancellationToken, HubClient, Registrable, Registration};

/// How to build and import.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// Target project ID.
    pub project: String,
    /// How to read the table.
    pub table: TableOptions,
    /// Task priority, −1000..1000.
    pub priority: i64,
    /// Assets registered per request.
    pub register_chunk: usize,
    /// Probe the public URLs of media columns (image, audio, video, PDF) before registering
    /// anything, as a cloud import does (`None`: no checks). A row whose URL fails is not
    /// imported.
    pub check: Option<CheckConfig>,
    /// When URLs fail their checks, import the other rows all the same; otherwise nothing is
    /// registered and the failures are reported.
    pub skip_bad: bool,
}

impl BuildConfig {
    /// Defaults: the table's own format and delimiter, priority 0, 500 assets per request, no
    /// URL checks.
    pub fn new(project: impl Into<String>) -> Self {
        Self {
            project: project.into(),
            table: TableOptions::default(),
            priority: 0,
            register_chunk: 500,
            check: None,
            skip_bad: false,
        }
    }
}

/// A row that gave no asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowFailure {
    /// The row's line, when known.
    pub line: Option<u64>,
    /// Why, with the column and the fix.
    pub message: String,
    /// The column whose URL failed its check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// What the URL check found (`unreachable`, `private-address`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<ProblemCode>,
}

impl RowFailure {
    fn of_row(line: Option<u64>, message: String) -> Self {
        Self {
            line,
            message,
            column: None,
            code: None,
        }
    }
}

/// The passes of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BuildPhase {
    /// Probing the public URLs of media columns.
    Check,
    /// Rendering rows and registering assets.
    Register,
}

/// Events of one build, cumulative; `finished` comes last.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum BuildEvent {
    /// Counts so far (about ten a second, and once at the end).
    Progress {
        /// Rows read.
        rows: u64,
        /// Assets registered.
        registered: u64,
        /// Rows that failed.
        failed: u64,
        /// The pass under way.
        phase: BuildPhase,
        /// URLs checked.
        checked: u64,
    },
    /// A row failed; the build goes on.
    RowFailed {
        /// The failure.
        failure: RowFailure,
    },
    /// A batch named in the batch column was created.
    BatchCreated {
        /// Its name.
        name: String,
    },
    /// The end.
    Finished {
        /// Rows read.
        rows: u64,
        /// Assets registered (new or already there from an earlier run).
        registered: u64,
        /// Of those, newly created.
        created: u64,
        /// Rows that failed.
        failed: u64,
    },
}

/// The outcome of a build.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildSummary {
    /// Rows read.
    pub rows: u64,
    /// Assets registered (new, or found from an earlier run of the same rows).
    pub registered: u64,
    /// Of those, newly created.
    pub created: u64,
    /// Rows that gave no asset, in table order.
    pub failed: Vec<RowFailure>,
    /// Batches created on the way.
    pub batches_created: Vec<String>,
    /// URLs checked before registering.
    #[serde(skip_serializing_if = "is_zero")]
    pub urls_checked: u64,
    /// Rows read but not imported because a URL of theirs failed its check (every row, when
    /// nothing was registered because of them).
    #[serde(skip_serializing_if = "is_zero")]
    pub not_imported: u64,
    /// Nothing was registered: URLs failed their checks and the other rows were not to be
    /// imported alone ([`BuildConfig::skip_bad`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub held_back: bool,
    /// Why the URLs were not checked although asked (this computer could not reach the
    /// network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchecked: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The assets of a table as the hub receives them, row by row, on the caller's thread: for
/// `--dry-run`. Row errors come through in order, after the header check.
pub fn wire_assets<'t>(
    path: &Path,
    options: &TableOptions,
    template: &'t Template,
) -> Result<impl Iterator<Item = Result<RowAsset, super::RowError>> + 't, Error> {
    let table = Table::open(path, options)?;
    template.check(table.header())?;
    Ok(render_rows(template, table))
}

enum Item {
    Asset(u64, Value),
    Failed(RowFailure, bool),
}

/// Reads `path`, renders every row with `template` and registers the assets in `config.project`.
/// A table that does not fit the template (unknown placeholders, missing columns) fails before
/// any row; a bad row is a [`RowFailure`] and the build goes on.
pub async fn build(
    client: &HubClient,
    path: &Path,
    template: Arc<Template>,
    config: &BuildConfig,
    sink: &dyn EventSink<BuildEvent>,
    cancel: &CancellationToken,
) -> Result<BuildSummary, Error> {
    let project = client.project(&config.project).await?;
    let mut known: HashSet<String> = project.batches.iter().map(|b| b.name.clone()).collect();
    let table = {
        let (path, options) = (path.to_path_buf(), config.table.clone());
        tokio::task::spawn_blocking(move || Table::open(&path, &options))
            .await
            .map_err(|e| Error::with_source(ErrorCode::Internal, "the table reader failed", e))??
    };
    template.check(table.header())?;

    let mut summary = BuildSummary::default();
    let mut bad_lines: HashSet<u64> = HashSet::new();
    if let Some(check) = &config.check {
        let checked = check_urls(path, config, &template, check, sink, cancel).await?;
        summary.urls_checked = checked.checked;
        summary.unchecked = checked.unchecked;
        for failure in checked.failures {
            bad_lines.extend(failure.line);
            sink.send(BuildEvent::RowFailed {
                failure: failure.clone(),
            });
            summary.failed.push(failure);
        }
        if !bad_lines.is_empty() && !config.skip_bad {
            summary.rows = checked.rows;
            summary.not_imported = checked.rows;
            summary.held_back = true;
            sink.send(BuildEvent::Finished {
                rows: summary.rows,
                registered: 0,
                created: 0,
                failed: summary.failed.len() as u64,
            });
            return Ok(summary);
        }
    }

    let chunk = config.register_chunk.clamp(1, 5000);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(chunk * 2);
    let reader_cancel = cancel.clone();
    let reader_template = template.clone();
    let reader = tokio::task::spawn_blocking(move || {
        for item in render_rows(&reader_template, table) {
            if reader_cancel.is_cancelled() {
                break;
            }
            let msg = match item {
                Ok(row) => match serde_json::to_value(&row.asset) {
                    Ok(v) => Item::Asset(row.line, v),
                    Err(e) => Item::Failed(
                        RowFailure::of_row(Some(row.line), format!("line {}: {e}", row.line)),
                        false,
                    ),
                },
                Err(e) => {
                    let fatal = e.is_fatal();
                    Item::Failed(RowFailure::of_row(e.line(), e.to_string()), fatal)
                }
            };
            let stop = matches!(msg, Item::Failed(_, true));
            if tx.blocking_send(msg).is_err() || stop {
                break;
            }
        }
    });

    let mut throttle = Throttle::new();
    let registration = Registration::new(client, &config.project, &[], true, config.priority);
    registration.settle().await?;
    let mut pending: Vec<Registrable> = Vec::with_capacity(chunk);
    let progress = |s: &BuildSummary| BuildEvent::Progress {
        rows: s.rows,
        registered: s.registered,
        failed: s.failed.len() as u64,
        phase: BuildPhase::Register,
        checked: s.urls_checked,
    };
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => None,
            item = rx.recv() => item,
        };
        let done = next.is_none();
        match next {
            Some(Item::Asset(line, _)) if bad_lines.contains(&line) => {
                // A URL of this row failed its check (reported above).
                summary.rows += 1;
                summary.not_imported += 1;
            }
            Some(Item::Asset(line, mut asset)) => {
                summary.rows += 1;
                let key = derived_upload_id("build", &config.project, line, &asset);
                if registration.recorded(&key).await? {
                    // Registered by an earlier run of this build: counted, not sent again.
                    summary.registered += 1;
                } else {
                    asset["uploadId"] = Value::String(key.clone());
                    pending.push(Registrable {
                        key,
                        content_hash: None,
                        asset,
                    });
                }
            }
            Some(Item::Failed(failure, _)) => {
                summary.rows += u64::from(failure.line.is_some());
                sink.send(BuildEvent::RowFailed {
                    failure: failure.clone(),
                });
                summary.failed.push(failure);
            }
            None => {}
        }
        if pending.len() >= chunk || (done && !pending.is_empty()) {
            register(
                client,
                &registration,
                config,
                &mut pending,
                &mut known,
                &mut summary,
                sink,
            )
            .await?;
        }
        if done {
            break;
        }
        if throttle.ready(Instant::now()) {
            sink.send(progress(&summary));
        }
    }
    drop(rx);
    reader
        .await
        .map_err(|e| Error::with_source(ErrorCode::Internal, "the table reader failed", e))?;
    if cancel.is_cancelled() {
        return Err(Error::new(
            ErrorCode::Cancelled,
            format!("cancelled after {} assets", summary.registered),
        ));
    }
    sink.send(progress(&summary));
    sink.send(BuildEvent::Finished {
        rows: summary.rows,
        registered: summary.registered,
        created: summary.created,
        failed: summary.failed.len() as u64,
    });
    Ok(summary)
}

/// What the URL check before a build found.
struct UrlCheck {
    /// Rows read.
    rows: u64,
    /// URLs checked.
    checked: u64,
    /// One failure per URL that failed, by line and column.
    failures: Vec<RowFailure>,
    /// Why nothing could be checked.
    unchecked: Option<String>,
}

/// Hosts looked up to tell "this computer is offline" from "these URLs are dead".
const OFFLINE_PROBES: usize = 8;

/// The kind of file a media column's URL should serve.
fn media_kind(kind: &ColumnKind) -> Option<Kind> {
    match kind {
        ColumnKind::Image => Some(Kind::Image),
        ColumnKind::Audio => Some(Kind::Audio),
        ColumnKind::Video => Some(Kind::Video),
        ColumnKind::Pdf => Some(Kind::Pdf),
        _ => None,
    }
}

/// Probes the public URLs of every row's media columns with the checks a cloud import runs,
/// streaming: rows are read on a blocking thread and checked as they come, at most
/// [`CheckConfig::concurrency`] at a time. A cell that is not an http(s) URL fails without a
/// request. When no URL got any answer and none of their hosts can be looked up, this computer
/// is offline: nothing is held against the rows, and [`UrlCheck::unchecked`] says why.
async fn check_urls(
    path: &Path,
    config: &BuildConfig,
    template: &Arc<Template>,
    check: &CheckConfig,
    sink: &dyn EventSink<BuildEvent>,
    cancel: &CancellationToken,
) -> Result<UrlCheck, Error> {
    let media: Vec<(String, Kind)> = template
        .public_media()
        .iter()
        .filter_map(|(name, kind)| media_kind(kind).map(|k| (name.clone(), k)))
        .collect();
    let mut out = UrlCheck {
        rows: 0,
        checked: 0,
        failures: Vec::new(),
        unchecked: None,
    };
    let checker = Checker::new(check.clone())?;
    let rows = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Target, RowFailure>>(1024);
    let reader = {
        let (path, options) = (path.to_path_buf(), config.table.clone());
        let (rows, cancel) = (Arc::clone(&rows), cancel.clone());
        tokio::task::spawn_blocking(move || -> Result<(), Error> {
            let table = Table::open(&path, &options)?;
            let header = table.header().clone();
            let columns: Vec<(String, usize, Kind)> = media
                .into_iter()
                .filter_map(|(name, kind)| header.position(&name).map(|i| (name, i, kind)))
                .collect();
            for (index, row) in table.into_iter().enumerate() {
                if cancel.is_cancelled() {
                    break;
                }
                // Rows that cannot be read are the build's to report.
                let row = match row {
                    Ok(row) => row,
                    Err(e) if e.is_fatal() => break,
                    Err(_) => continue,
                };
                rows.fetch_add(1, Ordering::Relaxed);
                for (name, at, kind) in &columns {
                    let url = row.cells[*at].trim();
                    if url.is_empty() {
                        continue;
                    }
                    let item = if is_web_url(url) {
                        Ok(Target {
                            index,
                            line: row.line,
                            column: *at as u64 + 1,
                            field: name.clone(),
                            url: url.to_owned(),
                            expected: Some(*kind),
                        })
                    } else {
                        Err(RowFailure {
                            line: Some(row.line),
                            message: format!(
                                "`{name}` holds {:?}, which is not a web address: write the whole URL, starting with https://",
                                shorten(url)
                            ),
                            column: Some(name.clone()),
                            code: Some(ProblemCode::BadUrl),
                        })
                    };
                    if tx.blocking_send(item).is_err() {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    };

    let concurrency = check.concurrency.max(1);
    let mut results = pin!(tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|item| {
            let checker = &checker;
            async move {
                match item {
                    Ok(target) => {
                        let probe = checker.probe(&target.url).await;
                        Ok((target, probe))
                    }
                    Err(failure) => Err(failure),
                }
            }
        })
        .buffer_unordered(concurrency));
    let mut throttle = Throttle::new();
    let mut answered = 0u64;
    let mut silent_hosts: BTreeSet<String> = BTreeSet::new();
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => {
                return Err(Error::new(ErrorCode::Cancelled, "cancelled while checking URLs"));
            }
            next = results.next() => next,
        };
        let Some(result) = next else { break };
        match result {
            Ok((target, probe)) => {
                out.checked += 1;
                if probe.status.is_some() || probe.refused.is_some() {
                    answered += 1;
                } else if silent_hosts.len() < OFFLINE_PROBES {
                    if let Some(host) = url::Url::parse(&target.url)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_owned))
                    {
                        silent_hosts.insert(host);
                    }
                }
                for problem in judge(&target, &probe) {
                    if !problem.is_error() {
                        continue;
                    }
                    let message = if problem.code == ProblemCode::PrivateAddress {
                        format!(
                            "`{}` was not checked: {}, and URLs on this computer or a private network are checked only when asked to",
                            target.field,
                            probe.refused.as_deref().unwrap_or("a private address")
                        )
                    } else {
                        problem.message
                    };
                    out.failures.push(RowFailure {
                        line: Some(target.line),
                        message,
                        column: Some(target.field.clone()),
                        code: Some(problem.code),
                    });
                }
            }
            Err(failure) => out.failures.push(failure),
        }
        if throttle.ready(Instant::now()) {
            sink.send(BuildEvent::Progress {
                rows: rows.load(Ordering::Relaxed),
                registered: 0,
                failed: out.failures.len() as u64,
                phase: BuildPhase::Check,
                checked: out.checked,
            });
        }
    }
    // The stream has ended: the reader has sent its last row.
    reader
        .await
        .map_err(|e| Error::with_source(ErrorCode::Internal, "the table reader failed", e))??;
    out.rows = rows.load(Ordering::Relaxed);
    sink.send(BuildEvent::Progress {
        rows: out.rows,
        registered: 0,
        failed: out.failures.len() as u64,
        phase: BuildPhase::Check,
        checked: out.checked,
    });
    if out.checked > 0 && answered == 0 && !silent_hosts.is_empty() && offline(&silent_hosts).await
    {
        let hosts: Vec<&str> = silent_hosts.iter().map(String::as_str).collect();
        out.unchecked = Some(format!(
            "this computer could not look up {} (it seems to be offline), so the URLs were not checked",
            hosts.join(", ")
        ));
        out.failures
            .retain(|f| f.code != Some(ProblemCode::Unreachable));
    }
    out.failures
        .sort_by(|a, b| (a.line, &a.column).cmp(&(b.line, &b.column)));
    Ok(out)
}

/// Whether none of `hosts` (names, not addresses) can be looked up.
async fn offline(hosts: &BTreeSet<String>) -> bool {
    let mut names = 0;
    for host in hosts {
        if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
            // An address needs no lookup: its silence says nothing about the network.
            return false;
        }
        names += 1;
        let lookup = tokio::net::lookup_host((host.as_str(), 443));
        if let Ok(Ok(mut found)) = tokio::time::timeout(Duration::from_secs(5), lookup).await {
            if found.next().is_some() {
                return false;
            }
        }
    }
    names > 0
}

fn is_web_url(value: &str) -> bool {
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// A cell as a message shows it: at most 80 characters.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}

async fn register(
    client: &HubClient,
    registration: &Registration<'_>,
    config: &BuildConfig,
    pending: &mut Vec<Registrable>,
    known: &mut HashSet<String>,
    summary: &mut BuildSummary,
    sink: &dyn EventSink<BuildEvent>,
) -> Result<(), Error> {
    // Batches named in this chunk must exist before the hub resolves them.
    for a in pending.iter() {
        for name in a
            .asset
            .get("batches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !known.contains(name) {
                client.create_batch(&config.project, name).await?;
                known.insert(name.to_owned());
                summary.batches_created.push(name.to_owned());
                sink.send(BuildEvent::BatchCreated {
                    name: name.to_owned(),
                });
            }
        }
    }
    let chunk = registration.register(pending).await?;
    summary.registered += pending.len() as u64;
    summary.created += chunk.created;
    pending.clear();
    Ok(())
}
