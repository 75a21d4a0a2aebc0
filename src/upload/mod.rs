//! Uploading local files: plan (walk files and folders, name external IDs), validate each file
//! with [`crate::media`], then reserve → streamed `PUT` → register in chunks, with bounded
//! concurrency, retries, cancellation and [`UploadEvent`]s. A bad file is a result in the
//! [`UploadSummary`], never the end of the batch.

mod client;
mod journal;
pub mod receipt;
mod register;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
pub use journal::Journal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
pub use tokio_util::sync::CancellationToken;

pub use client::{
    hub_url, redact, BatchInfo, Hub, HubClient, Page, ProjectInfo, RateLimit, Registered,
    RetryPolicy, ANGO_HUBS, ANGO_RATE_LIMIT,
};
pub use client::{
    PrefixImport, PrefixImportSummary, PrefixImported, PrefixSkipped, StorageFile, StorageFolder,
    StorageInfo, StorageListing,
};
pub use receipt::Receipt;
pub use register::{Chunk, Registrable, Registration};

use crate::error::{Error, ErrorCode};
use crate::media::{self, AudioPolicy, Kind, ProbeConfig, Problem, Report, Verdict};
use crate::progress::{EventSink, Throttle};
use crate::wire::Extension;

/// What to upload and how.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Target project ID.
    pub project: String,
    /// Batch names (or IDs) every asset goes into.
    pub batches: Vec<String>,
    /// Create batches that do not exist yet (otherwise a missing batch stops the upload).
    pub create_batches: bool,
    /// What to do with variable-bitrate audio.
    pub audio: AudioPolicy,
    /// Files uploaded at once.
    pub concurrency: usize,
    /// Task priority, −1000..1000.
    pub priority: i64,
    /// Assets registered per request.
    pub register_chunk: usize,
    /// Leave out files whose content the project holds already (under any name).
    pub skip_existing: bool,
}

impl UploadConfig {
    /// Defaults: no batches, audio `reject`, 8 at once, priority 0, 500 per registration, files
    /// already in the project skipped.
    pub fn new(project: impl Into<String>) -> Self {
        Self {
            project: project.into(),
            batches: Vec::new(),
            create_batches: false,
            audio: AudioPolicy::Reject,
            concurrency: 8,
            priority: 0,
            register_chunk: 500,
            skip_existing: true,
        }
    }
}

/// An error as it crosses to front ends: a code to branch on and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong.
    pub message: String,
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> Self {
        Self {
            code: e.code,
            message: e.message.clone(),
        }
    }
}

/// Events of one upload, cumulative (bytes only go up), serialised as camelCase JSON with an
/// `event` tag. Every `started` file ends `uploaded` or `failed`; `finished` comes last.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum UploadEvent {
    /// The files found, before validation.
    Planned {
        /// How many files.
        files: usize,
        /// Their total size.
        bytes: u64,
    },
    /// A file was validated.
    Probed {
        /// The file.
        path: PathBuf,
        /// Its kind, if recognised.
        kind: Option<Kind>,
        /// The verdict.
        verdict: Verdict,
    },
    /// A file was refused by validation; it is not uploaded.
    Rejected {
        /// The file.
        path: PathBuf,
        /// Why.
        problems: Vec<Problem>,
    },
    /// A file was left out on purpose.
    Skipped {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file is being converted to WAV before it is sent (audio policy `convert`).
    Converting {
        /// The file.
        path: PathBuf,
    },
    /// A file's upload began.
    Started {
        /// The file.
        path: PathBuf,
        /// Bytes to send (after conversion, if any).
        bytes: u64,
    },
    /// Bytes sent for one file so far, and for the whole upload so far.
    Progress {
        /// The file.
        path: PathBuf,
        /// Bytes of this file sent.
        sent: u64,
        /// This file's size.
        total: u64,
        /// Bytes of all files sent.
        overall_sent: u64,
    },
    /// A file's bytes are stored on the hub; it becomes an asset when its registration (a few
    /// hundred files at a time) is answered.
    Sent {
        /// The file.
        path: PathBuf,
    },
    /// A file became an asset.
    Uploaded {
        /// The file.
        path: PathBuf,
        /// The new asset's ID, when the hub names it (Ango's registration answer does not).
        asset_id: Option<String>,
        /// Its external ID.
        external_id: String,
    },
    /// A file failed after retries.
    Failed {
        /// The file.
        path: PathBuf,
        /// Why.
        error: ErrorInfo,
    },
    /// The end; counts of each outcome.
    Finished {
        /// Files now assets.
        uploaded: usize,
        /// Files left out.
        skipped: usize,
        /// Files refused by validation.
        rejected: usize,
        /// Files that failed.
        failed: usize,
        /// Bytes sent.
        bytes: u64,
    },
}

/// A file that became an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Uploaded {
    /// The file.
    pub path: PathBuf,
    /// The asset ID, when the hub names it (Ango's registration answer does not).
    pub asset_id: Option<String>,
    /// The external ID.
    pub external_id: String,
}

/// A file left out on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// A file refused by validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub problems: Vec<Problem>,
}

/// A file that failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: ErrorInfo,
}

/// The outcome of an upload, one list per outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UploadSummary {
    /// Files now assets.
    pub uploaded: Vec<Uploaded>,
    /// Files left out.
    pub skipped: Vec<Skipped>,
    /// Files refused by validation.
    pub rejected: Vec<Rejected>,
    /// Files that failed.
    pub failed: Vec<Failed>,
}

impl UploadSummary {
    /// True when every file became an asset (or was skipped on purpose).
    pub fn all_imported(&self) -> bool {
        self.rejected.is_empty() && self.failed.is_empty()
    }
}

/// One file to upload and the external ID it gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFile {
    /// Path on disk.
    pub path: PathBuf,
    /// External ID: the file name for a file given directly; for a file inside a given folder,
    /// its path relative to that folder, with `/` separators.
    pub external_id: String,
    /// Size in bytes.
    pub size: u64,
    /// What to do with this file's audio if its bitrate varies, when it differs from the
    /// upload's policy (a fix chosen for one file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioPolicy>,
}

/// The files found under the given paths, and the ones that could not be used.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Files to validate and upload, in a stable order.
    pub files: Vec<PlannedFile>,
    /// Paths left out (hidden files in folders, things that are not files).
    pub skipped: Vec<Skipped>,
    /// Paths that could not be read.
    pub failed: Vec<Failed>,
}

/// Walks files and folders (recursively, not following symlinked folders) into a [`Plan`].
pub fn plan(paths: &[PathBuf]) -> Plan {
    let mut out = Plan::default();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => {
                let name = p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                out.files.push(PlannedFile {
                    path: p.clone(),
                    external_id: name,
                    size: m.len(),
                    audio: None,
                });
            }
            Ok(m) if m.is_dir() => walk(p, p, &mut out),
            Ok(_) => out.skipped.push(Skipped {
                path: p.clone(),
                reason: "not a regular file or folder".into(),
            }),
            Err(e) => out.failed.push(Failed {
                path: p.clone(),
                error: ErrorInfo {
                    code: ErrorCode::NotFound,
                    message: format!("cannot read {}: {e}", p.display()),
                },
            }),
        }
    }
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Plan) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            out.failed.push(Failed {
                path: dir.to_path_buf(),
                error: ErrorInfo {
                    code: ErrorCode::NotFound,
                    message: format!("cannot list {}: {e}", dir.display()),
                },
            });
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        let hidden = child
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let Ok(lmeta) = std::fs::symlink_metadata(&child) else {
            continue;
        };
        if hidden {
            out.skipped.push(Skipped {
                path: child,
                reason: "hidden file or folder inside a folder".into(),
            });
            continue;
        }
        if lmeta.is_dir() {
            walk(root, &child, out);
            continue;
        }
        match std::fs::metadata(&child) {
            Ok(m) if m.is_file() => {
                let rel = child.strip_prefix(root).unwrap_or(&child);
                let external_id = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.files.push(PlannedFile {
                    path: child,
                    external_id,
                    size: m.len(),
                    audio: None,
                });
            }
            Ok(_) => out.skipped.push(Skipped {
                path: child,
                reason: "not a regular file (a symlink to a folder, a device or a socket)".into(),
            }),
            Err(e) => out.failed.push(Failed {
                path: child.clone(),
                error: ErrorInfo {
                    code: ErrorCode::NotFound,
                    message: format!("cannot read {}: {e}", child.display()),
                },
            }),
        }
    }
}

/// The extension an upload keeps: `nii.gz` whole, otherwise the last one, lower-cased.
fn upload_extension(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".nii.gz") {
        return Some("nii.gz".into());
    }
    let (stem, ext) = lower.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| ext.to_owned())
}

fn metadata_of(report: &Report) -> Option<Value> {
    if let Some(img) = &report.image {
        return Some(json!({"width": img.width, "height": img.height}));
    }
    let v = report.video.as_ref()?;
    let mut m = serde_json::Map::new();
    if let Some(fps) = v.frame_rate {
        m.insert("frameRate".into(), json!(fps));
    }
    if let Some(w) = v.width {
        m.insert("width".into(), json!(w));
    }
    if let Some(h) = v.height {
        m.insert("height".into(), json!(h));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// A file that passed validation and is on its way.
struct Ready {
    file: PlannedFile,
    report: Report,
    /// BLAKE3 of the file's bytes (hex), when they could be read.
    hash: Option<String>,
    /// Its upload ID, the key of its item ([`file_upload_id`]).
    id: String,
}

/// One uploaded blob waiting to be registered.
struct Pending {
    path: PathBuf,
    external_id: String,
    item: Registrable,
}

struct Run<'a> {
    client: &'a HubClient,
    registration: Registration<'a>,
    /// The receipt, when the hub cannot tell which contents it holds.
    receipt: Option<std::sync::Arc<Receipt>>,
    config: &'a UploadConfig,
    sink: &'a dyn EventSink<UploadEvent>,
    overall: Arc<AtomicU64>,
    summary: Mutex<UploadSummary>,
    /// Contents this run is sending. The hub then knows them, but not from before the run: a
    /// second file with one of them (checked in a later group) is not skipped for it.
    ours: Mutex<HashSet<blake3::Hash>>,
}

impl Run<'_> {
    fn skip(&self, path: PathBuf, reason: String) {
        self.sink.send(UploadEvent::Skipped {
            path: path.clone(),
            reason: reason.clone(),
        });
        self.lock().skipped.push(Skipped { path, reason });
    }

    /// Leaves out (as skipped) the files this computer imported into the project before, and,
    /// unless duplicates are allowed, the files whose content the project holds already. Files
    /// of one upload are not compared with each other: the same picture in two dropped folders
    /// is two assets, as the user asked. Contents are asked of the hub when it can tell (ours,
    /// for every computer's uploads) and of the receipt otherwise (this computer's only). A
    /// failed lookup on the hub only means nothing is skipped for being there already.
    async fn drop_known(&self, batch: Vec<Ready>) -> Vec<Ready> {
        let hash_of = |r: &Ready| {
            r.hash
                .as_deref()
                .and_then(|h| blake3::Hash::from_hex(h).ok())
        };
        let hashes: Vec<String> = if self.config.skip_existing {
            let ours = self.ours();
            batch
                .iter()
                .filter(|r| !hash_of(r).is_some_and(|h| ours.contains(&h)))
                .filter_map(|r| r.hash.clone())
                .collect()
        } else {
            Vec::new()
        };
        let mut known: HashMap<String, String> = HashMap::new();
        let mut done: HashSet<String> = HashSet::new();
        if let Some(receipt) = &self.receipt {
            if !hashes.is_empty() {
                match receipt.registered_contents(&self.config.project, &hashes) {
                    Ok(found) => known = found,
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            for r in &batch {
                if let Ok(Some(e)) = receipt.get(&self.config.project, &r.id) {
                    if e.state == receipt::State::Registered {
                        done.insert(r.id.clone());
                    }
                }
            }
        } else if !hashes.is_empty() {
            known = self
                .client
                .assets_by_content(&self.config.project, &hashes)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|(h, (_, ext))| (h, ext))
                .collect();
        }
        let mut keep = Vec::with_capacity(batch.len());
        let mut ours = self.ours();
        for ready in batch {
            if done.contains(&ready.id) {
                self.skip(
                    ready.file.path,
                    "already imported into this project (the import receipt records it)".into(),
                );
                continue;
            }
            if let Some(ext) = ready.hash.as_ref().and_then(|h| known.get(h)) {
                self.skip(
                    ready.file.path,
                    format!("already in the project as {ext:?} (same content)"),
                );
                continue;
            }
            ours.extend(hash_of(&ready));
            keep.push(ready);
        }
        keep
    }

    fn ours(&self) -> std::sync::MutexGuard<'_, HashSet<blake3::Hash>> {
        self.ours
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fail(&self, path: PathBuf, error: &Error) {
        let info = ErrorInfo::from(error);
        self.sink.send(UploadEvent::Failed {
            path: path.clone(),
            error: info.clone(),
        });
        self.lock().failed.push(Failed { path, error: info });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, UploadSummary> {
        self.summary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves a blob under a new random name and returns its signed PUT URL.
    ///
    /// A name is reserved once. When the hub's answer is lost on its way back (the connection
    /// breaks after the hub acted), the client's retry meets its own reservation as a conflict;
    /// the URL of that one cannot be had again, so a fresh name is reserved instead. The
    /// reservation left behind holds no bytes, and the hub clears it as abandoned. Each conflict
    /// is one more lost answer, so they are allowed as often as the retry policy allows retries
    /// (at least three): on a bad network a fixed three ran out for about one file in a
    /// thousand.
    async fn reserve(&self, ext: Option<&str>) -> Result<String, Error> {
        let allowed = self.client.retry_policy().max_retries.max(3);
        let mut conflicts = 0;
        loop {
            let blob = hex::encode(rand::random::<[u8; 16]>());
            let name = ext.map_or_else(|| blob.clone(), |e| format!("{blob}.{e}"));
            match self.client.upload_url(&self.config.project, &name).await {
                Err(e) if e.code == ErrorCode::Conflict && conflicts < allowed => conflicts += 1,
                done => return done,
            }
        }
    }

    /// Converts if asked, reserves, streams the bytes; returns the asset to register.
    async fn send(&self, ready: Ready, cancel: &CancellationToken) -> Result<Pending, Error> {
        let Ready {
            file,
            report,
            hash,
            id,
        } = ready;
        let _tmp; // keeps a converted WAV alive until it is uploaded
        let (source, ext) = if report.convert_to_wav {
            self.sink.send(UploadEvent::Converting {
                path: file.path.clone(),
            });
            let dir = tempfile::tempdir().map_err(|e| {
                Error::with_source(
                    ErrorCode::Internal,
                    "cannot create a temp folder for conversion",
                    e,
                )
            })?;
            let wav = dir.path().join("converted.wav");
            let (src, dst) = (file.path.clone(), wav.clone());
            tokio::task::spawn_blocking(move || media::audio::convert_to_wav(&src, &dst))
                .await
                .map_err(|e| {
                    Error::with_source(ErrorCode::Internal, "the conversion task failed", e)
                })?
                // Every conversion error already names the file.
                .map_err(|e| Error::with_source(ErrorCode::UnsupportedFormat, e.to_string(), e))?;
            _tmp = dir;
            (wav, Some("wav".to_owned()))
        } else {
            (file.path.clone(), upload_extension(&file.external_id))
        };
        let size = fs_err::tokio::metadata(&source)
            .await
            .map_err(|e| {
                Error::with_source(
                    ErrorCode::NotFound,
                    format!("cannot read {}", source.display()),
                    e,
                )
            })?
            .len();
        let url = self.reserve(ext.as_deref()).await?;
        self.sink.send(UploadEvent::Started {
            path: file.path.clone(),
            bytes: size,
        });

        let throttle = Arc::new(Mutex::new((Throttle::new(), 0u64)));
        let (sink, overall, path) = (self.sink, self.overall.clone(), file.path.clone());
        // Only the highest count seen is reported, so a retried PUT never makes progress go back.
        let report_progress = {
            let throttle = throttle.clone();
            move |sent: u64, force: bool| {
                let mut t = throttle
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if sent <= t.1 && !force {
                    return;
                }
                let delta = sent.saturating_sub(t.1);
                t.1 = t.1.max(sent);
                let all = overall.fetch_add(delta, Ordering::Relaxed) + delta;
                if force || t.0.ready(Instant::now()) {
                    sink.send(UploadEvent::Progress {
                        path: path.clone(),
                        sent: t.1,
                        total: size,
                        overall_sent: all,
                    });
                }
            }
        };
        // The sink is borrowed for the whole run; forward events through a channel so the PUT
        // body (which must be 'static) only holds an owned sender.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let put = self.client.put_file(
            &url,
            &source,
            Arc::new(move |n| {
                let _ = tx.send(n);
            }),
        );
        tokio::pin!(put);
        let result = loop {
            tokio::select! {
                () = cancel.cancelled() => break Err(Error::new(ErrorCode::Cancelled, "cancelled")),
                r = &mut put => break r,
                Some(n) = rx.recv() => report_progress(n, false),
            }
        };
        while let Ok(n) = rx.try_recv() {
            report_progress(n, false);
        }
        result?;
        report_progress(size, true);
        self.sink.send(UploadEvent::Sent {
            path: file.path.clone(),
        });
        let mut asset = json!({
            "data": url.split('?').next().unwrap_or(&url),
            "externalId": file.external_id,
            "uploadId": id,
        });
        if let Some(m) = metadata_of(&report) {
            asset["metadata"] = m;
        }
        Ok(Pending {
            path: file.path,
            external_id: file.external_id,
            item: Registrable {
                key: id,
                content_hash: hash,
                asset,
            },
        })
    }

    async fn register(&self, pending: Vec<Pending>) {
        if pending.is_empty() {
            return;
        }
        let items: Vec<Registrable> = pending.iter().map(|p| p.item.clone()).collect();
        match self.registration.register(&items).await {
            Ok(chunk) => {
                for (p, id) in pending.into_iter().zip(chunk.asset_ids) {
                    self.sink.send(UploadEvent::Uploaded {
                        path: p.path.clone(),
                        asset_id: id.clone(),
                        external_id: p.external_id.clone(),
                    });
                    self.lock().uploaded.push(Uploaded {
                        path: p.path,
                        asset_id: id,
                        external_id: p.external_id,
                    });
                }
            }
            Err(e) => {
                for p in pending {
                    self.fail(p.path, &e);
                }
            }
        }
    }
}

/// Makes sure the batches exist (creating them when asked) and returns their IDs.
async fn batch_ids(client: &HubClient, config: &UploadConfig) -> Result<Vec<String>, Error> {
    if config.batches.is_empty() {
        return Ok(Vec::new());
    }
    let project = client.project(&config.project).await?;
    let mut ids = Vec::new();
    for b in &config.batches {
        if let Some(found) = project.batches.iter().find(|x| &x.id == b || &x.name == b) {
            ids.push(found.id.clone());
        } else if config.create_batches {
            ids.push(client.create_batch(&config.project, b).await?.id);
        } else {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("batch {b:?} does not exist in project {}; create it first, or ask for missing batches to be created", config.project),
            ));
        }
    }
    Ok(ids)
}

/// Validates and uploads files and folders into a project. Fatal problems (unknown project,
/// wrong key, missing batch) are an `Err`; a bad or failed file is an entry in the summary.
pub async fn upload(
    client: &HubClient,
    paths: &[PathBuf],
    config: &UploadConfig,
    sink: &dyn EventSink<UploadEvent>,
    cancel: &CancellationToken,
) -> Result<UploadSummary, Error> {
    // Fail early on a wrong project, key or batch, before any file is read.
    preflight(client, config).await?;
    let paths_owned = paths.to_vec();
    let planned = tokio::task::spawn_blocking(move || plan(&paths_owned))
        .await
        .map_err(|e| Error::with_source(ErrorCode::Internal, "planning failed", e))?;
    upload_plan(client, planned, config, sink, cancel).await
}

async fn preflight(client: &HubClient, config: &UploadConfig) -> Result<Vec<String>, Error> {
    let batches = batch_ids(client, config).await?;
    if batches.is_empty() {
        client.project(&config.project).await?;
    }
    Ok(batches)
}

/// Validates and uploads the files of a [`plan`] (or any list of files with their external
/// IDs, such as the failed ones of an earlier run): what [`upload`] does after walking the paths.
pub async fn upload_plan(
    client: &HubClient,
    planned: Plan,
    config: &UploadConfig,
    sink: &dyn EventSink<UploadEvent>,
    cancel: &CancellationToken,
) -> Result<UploadSummary, Error> {
    let batches = preflight(client, config).await?;
    let registration = Registration::new(client, &config.project, &batches, true, config.priority);
    // What an interrupted run left unsettled is settled before anything is sent.
    registration.settle().await?;
    let receipt = if client.has(Extension::ContentLookup).await? {
        None
    } else {
        Some(client.receipt().await?)
    };
    sink.send(UploadEvent::Planned {
        files: planned.files.len(),
        bytes: planned.files.iter().map(|f| f.size).sum(),
    });
    let run = Run {
        client,
        registration,
        receipt,
        config,
        sink,
        overall: Arc::new(AtomicU64::new(0)),
        summary: Mutex::new(UploadSummary::default()),
        ours: Mutex::new(HashSet::new()),
    };
    for s in planned.skipped {
        sink.send(UploadEvent::Skipped {
            path: s.path.clone(),
            reason: s.reason.clone(),
        });
        run.lock().skipped.push(s);
    }
    for f in planned.failed {
        sink.send(UploadEvent::Failed {
            path: f.path.clone(),
            error: f.error.clone(),
        });
        run.lock().failed.push(f);
    }

    let probe_config = ProbeConfig {
        audio: config.audio,
    };
    let probes = futures::stream::iter(planned.files.into_iter().map(|file| {
        let cfg = probe_config.clone();
        async move {
            let p = file.path.clone();
            let cfg = ProbeConfig {
                audio: file.audio.unwrap_or(cfg.audio),
            };
            let report = tokio::task::spawn_blocking(move || {
                let report = media::probe_with(&p, &cfg);
                let hash = (report.verdict != Verdict::Reject)
                    .then(|| content_hash(&p))
                    .flatten();
                (report, hash)
            })
            .await;
            (file, report)
        }
    }))
    .buffered(std::thread::available_parallelism().map_or(2, std::num::NonZero::get) * 2);

    let concurrency = config.concurrency.max(1);
    let chunk = config.register_chunk.clamp(1, 5000);
    let run_ref = &run;
    let uploads = probes
        .filter_map(|(file, probed)| async move {
            let (report, hash) = match probed {
                Ok(r) => r,
                Err(e) => {
                    run_ref.fail(
                        file.path,
                        &Error::with_source(ErrorCode::Internal, "validation panicked", e),
                    );
                    return None;
                }
            };
            run_ref.sink.send(UploadEvent::Probed {
                path: file.path.clone(),
                kind: report.kind,
                verdict: report.verdict,
            });
            if report.verdict == Verdict::Reject {
                run_ref.sink.send(UploadEvent::Rejected {
                    path: file.path.clone(),
                    problems: report.problems.clone(),
                });
                run_ref.lock().rejected.push(Rejected {
                    path: file.path,
                    problems: report.problems,
                });
                return None;
            }
            let id = file_upload_id(&run_ref.config.project, &file.external_id, hash.as_deref());
            Some(Ready {
                file,
                report,
                hash,
                id,
            })
        })
        // Ask the hub about contents a few hundred files at a time.
        .ready_chunks(256)
        .then(|batch| run_ref.drop_known(batch))
        .flat_map(futures::stream::iter)
        .map(|ready| async move {
            let path = ready.file.path.clone();
            if cancel.is_cancelled() {
                return Err((path, Error::new(ErrorCode::Cancelled, "cancelled")));
            }
            run_ref.send(ready, cancel).await.map_err(|e| (path, e))
        })
        .buffer_unordered(concurrency);
    tokio::pin!(uploads);
    let mut pending = Vec::new();
    while let Some(done) = uploads.next().await {
        match done {
            Ok(p) => {
                pending.push(p);
                if pending.len() >= chunk {
                    run.register(std::mem::take(&mut pending)).await;
                }
            }
            Err((path, e)) => run.fail(path, &e),
        }
    }
    run.register(pending).await;
    let summary = std::mem::take(&mut *run.lock());
    sink.send(UploadEvent::Finished {
        uploaded: summary.uploaded.len(),
        skipped: summary.skipped.len(),
        rejected: summary.rejected.len(),
        failed: summary.failed.len(),
        bytes: run.overall.load(Ordering::Relaxed),
    });
    Ok(summary)
}

/// One file's validation, as [`validate`] reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validated {
    /// The file and its external ID.
    pub file: PlannedFile,
    /// What validation found.
    pub report: Report,
}

/// Probes files on blocking threads, as many at once as there are cores, sending each report
/// as it is ready (in any order). For front ends that show verdicts before anything is sent;
/// [`upload_plan`] probes again, so a file changed in between is judged as it is then.
pub async fn validate(
    files: Vec<PlannedFile>,
    config: &ProbeConfig,
    sink: &dyn EventSink<Validated>,
    cancel: &CancellationToken,
) -> Result<usize, Error> {
    let width = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut reports = futures::stream::iter(files.into_iter().map(|file| {
        let cfg = config.clone();
        async move {
            let p = file.path.clone();
            let report = tokio::task::spawn_blocking(move || media::probe_with(&p, &cfg)).await;
            (file, report)
        }
    }))
    .buffer_unordered(width);
    let mut n = 0;
    while let Some((file, report)) = reports.next().await {
        if cancel.is_cancelled() {
            return Err(Error::new(ErrorCode::Cancelled, "validation cancelled"));
        }
        let report = report
            .map_err(|e| Error::with_source(ErrorCode::Internal, "validation panicked", e))?;
        sink.send(Validated { file, report });
        n += 1;
    }
    Ok(n)
}

/// BLAKE3 of a file's bytes (hex), read in 1 MiB chunks; `None` when it cannot be read.
fn content_hash(path: &Path) -> Option<String> {
    let mut h = blake3::Hasher::new();
    h.update_reader(std::fs::File::open(path).ok()?).ok()?;
    Some(h.finalize().to_hex().to_string())
}

/// A file's upload ID, derived from the project, its external ID and its content, so
/// registering the same file again — a re-run after a crash, a retry — is the same item. A file
/// whose bytes could not be read gets a random one.
fn file_upload_id(project: &str, external_id: &str, hash: Option<&str>) -> String {
    match hash {
        Some(h) => derived_upload_id(
            "file",
            project,
            0,
            &json!({"externalId": external_id, "contentHash": h}),
        ),
        None => format!("file-{}", hex::encode(rand::random::<[u8; 16]>())),
    }
}

/// An upload ID derived from what is registered: what made it (`build`, `cloud`), the project,
/// the asset's position in its source (row line, array index) and the asset itself. The same
/// inputs give the same ID, so registering a re-run returns the earlier assets instead of new ones.
pub fn derived_upload_id(purpose: &str, project: &str, position: u64, asset: &Value) -> String {
    let mut h = blake3::Hasher::new();
    for part in [
        b"assetdrop\0".as_slice(),
        purpose.as_bytes(),
        b"\0",
        project.as_bytes(),
        b"\0",
    ] {
        h.update(part);
    }
    h.update(&position.to_le_bytes());
    h.update(asset.to_string().as_bytes());
    format!("{purpose}-{}", &h.finalize().to_hex()[..32])
}

/// The name of the project local mode uses when none is chosen.
pub const DEFAULT_PROJECT_NAME: &str = "Default project";

/// The hub's project named [`DEFAULT_PROJECT_NAME`], created if there is none, so a first-time
/// user can upload before making any choice.
pub async fn default_project(client: &HubClient) -> Result<ProjectInfo, Error> {
    let mut page = 1;
    loop {
        let got = client.list_projects(page, 100).await?;
        if let Some(p) = got.items.iter().find(|p| p.name == DEFAULT_PROJECT_NAME) {
            return Ok(p.clone());
        }
        if got.items.is_empty() || page * 100 >= got.total {
            break;
        }
        page += 1;
    }
    client
        .create_project(DEFAULT_PROJECT_NAME, "Created on first use")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_keep_nii_gz_whole() {
        assert_eq!(upload_extension("Brain.NII.GZ").as_deref(), Some("nii.gz"));
        assert_eq!(upload_extension("a.b.PNG").as_deref(), Some("png"));
        assert_eq!(upload_extension("README"), None);
        assert_eq!(upload_extension(".hidden"), None);
    }

    #[test]
    fn plan_names_folder_files_by_relative_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("drop");
        std::fs::create_dir_all(root.join("sub/deeper")).expect("mkdir");
        std::fs::write(root.join("a.png"), b"x").expect("write");
        std::fs::write(root.join("sub/deeper/b.png"), b"xy").expect("write");
        std::fs::write(root.join(".DS_Store"), b"x").expect("write");
        let single = dir.path().join("single.txt");
        std::fs::write(&single, b"hello").expect("write");
        let p = plan(&[root.clone(), single.clone(), dir.path().join("missing")]);
        let ids: Vec<_> = p.files.iter().map(|f| f.external_id.as_str()).collect();
        assert_eq!(ids, ["a.png", "sub/deeper/b.png", "single.txt"]);
        assert_eq!(p.files[1].size, 2);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.failed.len(), 1);
        assert_eq!(p.failed[0].error.code, ErrorCode::NotFound);
    }
}
