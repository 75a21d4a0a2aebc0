//! The commands the page invokes: each deserialises its arguments, makes one core call and
//! maps the result. `ui/api.js` is the only caller. A command that takes a path first asks
//! [`crate::access`] whether the user handed it over, and reads nothing when not.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assetdrop::builder::{
    self, BuildConfig, BuildEvent, BuildSummary, Table, TableOptions, TemplateConfig,
};
use assetdrop::cloud::{
    self, CheckConfig, DuplicatePolicy, ImportConfig, ImportEvent, ImportReport,
};
use assetdrop::media::{AudioPolicy, ProbeConfig};
use assetdrop::upload::{
    self, BatchInfo, Journal, PlannedFile, ProjectInfo, StorageInfo, UploadConfig, UploadEvent,
    UploadSummary,
};
use assetdrop::wire::{Asset, AssetFilter};
use assetdrop::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_notification::NotificationExt;

use crate::access::Via;
use crate::connection::{self, AngoHub, Connection, Mode, Remote, Status};
use crate::error::{IpcError, Result};
use crate::files::{self, Added};
use crate::jobs::ChannelSink;
use crate::Desk;

/// Uploads and imports longer than this end with a system notification.
const NOTIFY_AFTER: Duration = Duration::from_secs(10);

fn notify(app: &AppHandle, started: Instant, title: &str, body: String) {
    if started.elapsed() < NOTIFY_AFTER {
        return;
    }
    // No notification daemon (a bare X server, a locked-down desktop) is not worth an error.
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        eprintln!("assetdrop: notification not shown: {e}");
    }
}

/// Runs a core future whose type the compiler cannot prove `Send` (stream combinators over
/// borrowed closures) on a blocking thread of the runtime, which may wait on it.
async fn off_thread<T, F, Fut>(make: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::result::Result<T, assetdrop::Error>>,
{
    tauri::async_runtime::spawn_blocking(move || tauri::async_runtime::block_on(make()))
        .await
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(IpcError::from)
}

/// The connection in use.
#[tauri::command]
pub async fn status(desk: State<'_, Desk>) -> Result<Status> {
    let conn = desk.conn.read().await;
    let settings = desk.settings.lock().await;
    Ok(conn.status(&desk.folders, &settings))
}

/// Switches to the embedded hub.
#[tauri::command]
pub async fn connect_local(desk: State<'_, Desk>) -> Result<Status> {
    let next = Connection::local(&desk.folders).await?;
    let mut settings = desk.settings.lock().await;
    settings.mode = Mode::Local;
    desk.folders.save(&settings)?;
    let old = std::mem::replace(&mut *desk.conn.write().await, next);
    old.close().await;
    Ok(desk.conn.read().await.status(&desk.folders, &settings))
}

/// Switches to a hosted Ango Hub or a self-hosted hub; without a key, the one stored for that
/// hub is used.
#[tauri::command]
pub async fn connect_remote(
    desk: State<'_, Desk>,
    remote: Remote,
    api_key: Option<String>,
) -> Result<Status> {
    let mut settings = desk.settings.lock().await;
    let next =
        connection::connect(&desk.folders, &mut settings, &remote, api_key.as_deref()).await?;
    let old = std::mem::replace(&mut *desk.conn.write().await, next);
    old.close().await;
    Ok(desk.conn.read().await.status(&desk.folders, &settings))
}

/// The hosted Ango Hubs, for the region choice.
#[tauri::command]
pub fn ango_hubs() -> Vec<AngoHub> {
    connection::ango_hubs()
}

/// Every project, newest first as the hub lists them.
#[tauri::command]
pub async fn projects(desk: State<'_, Desk>) -> Result<Vec<ProjectInfo>> {
    let client = desk.client().await;
    let mut all = Vec::new();
    for page in 1.. {
        let got = client.list_projects(page, 100).await?;
        let n = got.items.len() as u64;
        all.extend(got.items);
        if n == 0 || page * 100 >= got.total {
            break;
        }
    }
    Ok(all)
}

/// The project local mode starts with, created on first use.
#[tauri::command]
pub async fn default_project(desk: State<'_, Desk>) -> Result<ProjectInfo> {
    Ok(upload::default_project(&desk.client().await).await?)
}

/// One project, with its batches and saved templates.
#[tauri::command]
pub async fn project(desk: State<'_, Desk>, id: String) -> Result<ProjectInfo> {
    Ok(desk.client().await.project(&id).await?)
}

/// Creates a project.
#[tauri::command]
pub async fn create_project(
    desk: State<'_, Desk>,
    name: String,
    description: Option<String>,
) -> Result<ProjectInfo> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "a project needs a name",
        ));
    }
    let client = desk.client().await;
    Ok(client
        .create_project(name, description.as_deref().unwrap_or(""))
        .await?)
}

/// Creates a batch in a project.
#[tauri::command]
pub async fn create_batch(
    desk: State<'_, Desk>,
    project: String,
    name: String,
) -> Result<BatchInfo> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "a batch needs a name",
        ));
    }
    Ok(desk.client().await.create_batch(&project, name).await?)
}

/// The hub's storage integrations.
#[tauri::command]
pub async fn storages(desk: State<'_, Desk>) -> Result<Vec<StorageInfo>> {
    Ok(desk.client().await.list_storages().await?)
}

/// One page of a project's assets.
#[derive(Serialize)]
pub struct AssetPage {
    items: Vec<Asset>,
    total: u64,
}

/// A page of a project's assets (1-based, `limit` a page), asked of the hub in requests of at
/// most 100 (what Ango Hub answers).
#[tauri::command]
pub async fn assets(
    desk: State<'_, Desk>,
    project: String,
    page: u64,
    limit: u64,
) -> Result<AssetPage> {
    let limit = limit.clamp(1, 1000);
    let offset = (page.max(1) - 1).saturating_mul(limit);
    let (items, total) = desk
        .client()
        .await
        .assets_window(&project, offset, limit, &AssetFilter::default())
        .await?;
    Ok(AssetPage { items, total })
}

/// Opens the native file (or folder) chooser; the chosen paths, or none when cancelled. What the
/// user chose is allowed from then on.
#[tauri::command]
pub async fn pick(
    app: AppHandle,
    desk: State<'_, Desk>,
    folders: bool,
    filter: Option<String>,
) -> Result<Vec<PathBuf>> {
    let picked = tauri::async_runtime::spawn_blocking(move || {
        let mut dialog = app.dialog().file();
        if let Some(f) = filter.as_deref() {
            let exts: Vec<&str> = match f {
                "json" => vec!["json"],
                "table" => vec!["csv", "tsv", "txt", "xlsx", "xls", "json"],
                "html" => vec!["html", "htm"],
                _ => vec![],
            };
            if !exts.is_empty() {
                dialog = dialog.add_filter(f, &exts);
            }
        }
        let picked = if folders {
            dialog.blocking_pick_folders()
        } else {
            dialog.blocking_pick_files()
        };
        picked
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
    desk.access.grant(&picked);
    Ok(picked)
}

/// Walks dropped or picked paths and validates every file, sending rows as verdicts arrive.
#[tauri::command]
pub async fn add_files(
    desk: State<'_, Desk>,
    job: String,
    paths: Vec<PathBuf>,
    audio: AudioPolicy,
    rows: Channel<Vec<files::FileRow>>,
) -> Result<Added> {
    desk.access
        .check_all(paths.iter().map(PathBuf::as_path), Via::Upload)?;
    let job = desk.jobs.start(&job);
    files::add(
        &desk.thumbs,
        &desk.access,
        paths,
        &ProbeConfig { audio },
        rows,
        &job.cancel,
    )
    .await
}

/// What to upload.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    job: String,
    project: String,
    files: Vec<PlannedFile>,
    #[serde(default)]
    batches: Vec<String>,
    audio: AudioPolicy,
    /// Leave out files whose content the project holds already.
    #[serde(default = "yes")]
    skip_existing: bool,
}

fn yes() -> bool {
    true
}

/// Uploads files (all of a drop, or the failed ones again) into a project.
#[tauri::command]
pub async fn upload(
    app: AppHandle,
    desk: State<'_, Desk>,
    request: UploadRequest,
    events: Channel<UploadEvent>,
) -> Result<UploadSummary> {
    // Before the journal: it names only files that passed, so a resume may use them.
    desk.access
        .check_all(request.files.iter().map(|f| f.path.as_path()), Via::Upload)?;
    let job = desk.jobs.start(&request.job);
    // Written before anything is sent, removed when the upload ends: if the app dies in
    // between, the next start offers to resume.
    let journal_path = desk.folders.journal();
    Journal {
        project: request.project.clone(),
        batches: request.batches.clone(),
        audio: request.audio,
        skip_existing: request.skip_existing,
        files: request.files.clone(),
        started: Journal::now(),
    }
    .save(&journal_path)?;
    let mut config = UploadConfig::new(request.project);
    config.batches = request.batches;
    config.audio = request.audio;
    config.skip_existing = request.skip_existing;
    let plan = upload::Plan {
        files: request.files,
        ..upload::Plan::default()
    };
    let started = Instant::now();
    let (client, cancel) = (desk.client().await, job.cancel.clone());
    let summary = off_thread(move || async move {
        upload::upload_plan(&client, plan, &config, &ChannelSink(events), &cancel).await
    })
    .await?;
    Journal::remove(&journal_path)?;
    notify(
        &app,
        started,
        "Upload finished",
        format!(
            "{} uploaded, {} rejected, {} failed",
            summary.uploaded.len(),
            summary.rejected.len(),
            summary.failed.len()
        ),
    );
    Ok(summary)
}

/// The upload the app was doing when it last stopped without finishing, if any.
#[tauri::command]
pub async fn interrupted_upload(desk: State<'_, Desk>) -> Result<Option<Journal>> {
    Ok(Journal::load(&desk.folders.journal())?)
}

/// Forgets an interrupted upload, and with it the leave to read its files.
#[tauri::command]
pub async fn discard_interrupted(desk: State<'_, Desk>) -> Result<()> {
    Journal::remove(&desk.folders.journal())?;
    desk.access.forget_resumable();
    Ok(())
}

/// Cancels a running job.
#[tauri::command]
#[allow(clippy::needless_pass_by_value)] // commands take owned arguments
pub fn cancel(desk: State<'_, Desk>, job: String) -> bool {
    desk.jobs.cancel(&job)
}

/// A cloud-import list: a file, or text pasted into the window.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudRequest {
    job: String,
    project: String,
    path: Option<PathBuf>,
    text: Option<String>,
    storage: Option<String>,
    check_urls: bool,
    /// Check URLs on loopback and private networks too.
    #[serde(default)]
    check_private: bool,
    skip_bad: bool,
    skip_duplicates: bool,
    create_batches: bool,
    dry_run: bool,
}

/// Checks (`dryRun`) or imports a cloud-import list.
#[tauri::command]
pub async fn cloud_import(
    app: AppHandle,
    desk: State<'_, Desk>,
    request: CloudRequest,
    events: Channel<ImportEvent>,
) -> Result<ImportReport> {
    // Pasted text goes through a temp file of the app's own: the reader streams from files.
    let pasted = match &request.text {
        Some(text) => Some(files::temp_with(text)?),
        None => None,
    };
    let path = match (&pasted, &request.path) {
        (Some(t), _) => t.path().to_path_buf(),
        (None, Some(p)) => {
            desk.access.check(p, Via::CloudList)?;
            p.clone()
        }
        (None, None) => {
            return Err(IpcError::new(
                ErrorCode::InvalidInput,
                "choose or paste a JSON list first",
            ))
        }
    };
    let job = desk.jobs.start(&request.job);
    let mut config = ImportConfig::new(request.project);
    config.storage = request.storage.filter(|s| !s.is_empty());
    config.check = request.check_urls.then(|| CheckConfig {
        allow_private: request.check_private,
        ..CheckConfig::default()
    });
    config.skip_bad = request.skip_bad;
    config.duplicates = if request.skip_duplicates {
        DuplicatePolicy::Skip
    } else {
        DuplicatePolicy::Warn
    };
    config.create_batches = request.create_batches;
    config.dry_run = request.dry_run;
    let started = Instant::now();
    let report = cloud::import_with_events(
        &desk.client().await,
        &path,
        &config,
        &ChannelSink(events),
        &job.cancel,
    )
    .await?;
    if !report.dry_run {
        notify(
            &app,
            started,
            "Cloud import finished",
            format!("{} assets imported", report.imported),
        );
    }
    Ok(report)
}

/// How to read a table.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableRequest {
    path: PathBuf,
    delimiter: Option<char>,
    sheet: Option<String>,
}

impl TableRequest {
    fn options(&self) -> TableOptions {
        TableOptions {
            delimiter: self.delimiter,
            sheet: self.sheet.clone().filter(|s| !s.is_empty()),
            ..TableOptions::default()
        }
    }
}

/// Opens a table: its format, delimiter, sheets, columns and first rows.
#[tauri::command]
pub async fn open_table(
    desk: State<'_, Desk>,
    request: TableRequest,
    rows: usize,
) -> Result<files::TableView> {
    desk.access.check(&request.path, Via::Table)?;
    tauri::async_runtime::spawn_blocking(move || -> Result<files::TableView> {
        let sheets = Table::sheets(&request.path)?;
        let table = Table::open(&request.path, &request.options())?;
        Ok(files::TableView::read(
            &request.path,
            sheets,
            table,
            rows.min(200),
        ))
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?
}

/// The first rows rendered with a template, for the live preview.
#[tauri::command]
pub async fn preview(
    desk: State<'_, Desk>,
    request: TableRequest,
    config: TemplateConfig,
    rows: usize,
) -> Result<Vec<files::PreviewRow>> {
    desk.access.check(&request.path, Via::Table)?;
    tauri::async_runtime::spawn_blocking(move || -> Result<Vec<files::PreviewRow>> {
        let template = builder::compile(&config)?;
        let items = builder::wire_assets(&request.path, &request.options(), &template)?;
        Ok(items
            .take(rows.min(100))
            .map(files::PreviewRow::from)
            .collect())
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?
}

/// Saves a template (config + HTML) in a project; returns it with its ID.
#[tauri::command]
pub async fn save_template(
    desk: State<'_, Desk>,
    project: String,
    config: TemplateConfig,
) -> Result<Value> {
    builder::compile(&config)?;
    let mut body = serde_json::to_value(&config)
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
    if let Some(o) = body.as_object_mut() {
        o.remove("_id");
    }
    Ok(desk.client().await.save_template(&project, &body).await?)
}

/// Builds one asset per row and imports them.
#[tauri::command]
pub async fn build(
    app: AppHandle,
    desk: State<'_, Desk>,
    job: String,
    project: String,
    request: TableRequest,
    config: TemplateConfig,
    events: Channel<BuildEvent>,
) -> Result<BuildSummary> {
    desk.access.check(&request.path, Via::Table)?;
    let job = desk.jobs.start(&job);
    let template = Arc::new(builder::compile(&config)?);
    let mut build = BuildConfig::new(project);
    build.table = request.options();
    let started = Instant::now();
    let summary = builder::build(
        &desk.client().await,
        &request.path,
        template,
        &build,
        &ChannelSink(events),
        &job.cancel,
    )
    .await?;
    notify(
        &app,
        started,
        "Asset builder finished",
        format!("{} assets from {} rows", summary.registered, summary.rows),
    );
    Ok(summary)
}
