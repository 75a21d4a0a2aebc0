//! Building assets from a table and registering them on a hub: rows are read and rendered on a
//! blocking thread and handed over a bounded channel, so a million-row table streams in bounded
//! memory; assets are registered in chunks through the normal registration path, missing batches
//! are created first, and each row carries an upload ID derived from its content, so running the
//! same build twice registers nothing twice.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::{render_rows, RowAsset, Table, TableOptions, Template};
use crate::error::{Error, ErrorCode};
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
}

impl BuildConfig {
    /// Defaults: the table's own format and delimiter, priority 0, 500 assets per request.
    pub fn new(project: impl Into<String>) -> Self {
        Self {
            project: project.into(),
            table: TableOptions::default(),
            priority: 0,
            register_chunk: 500,
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
                        RowFailure {
                            line: Some(row.line),
                            message: format!("line {}: {e}", row.line),
                        },
                        false,
                    ),
                },
                Err(e) => {
                    let fatal = e.is_fatal();
                    Item::Failed(
                        RowFailure {
                            line: e.line(),
                            message: e.to_string(),
                        },
                        fatal,
                    )
                }
            };
            let stop = matches!(msg, Item::Failed(_, true));
            if tx.blocking_send(msg).is_err() || stop {
                break;
            }
        }
    });

    let mut summary = BuildSummary::default();
    let mut throttle = Throttle::new();
    let registration = Registration::new(client, &config.project, &[], true, config.priority);
    registration.settle().await?;
    let mut pending: Vec<Registrable> = Vec::with_capacity(chunk);
    let progress = |s: &BuildSummary| BuildEvent::Progress {
        rows: s.rows,
        registered: s.registered,
        failed: s.failed.len() as u64,
    };
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => None,
            item = rx.recv() => item,
        };
        let done = next.is_none();
        match next {
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
