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
    self, BatchInfo, Hub, HubClient, Journal, PlannedFile, ProjectInfo, StorageInfo, UploadConfig,
    UploadEvent, UploadSummary,
};
use assetdrop::wire::{self, Asset, AssetFilter, Extension};
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

/// One page of a project's assets, newest first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetPage {
    items: Vec<Asset>,
    total: u64,
    /// The hub's URL: an asset whose data lies under it is a file stored on the hub.
    hub_url: String,
    /// `assetdrop` (its listing gives sizes of the files it holds) or `ango` (no sizes).
    hub_kind: &'static str,
}

/// What the assets view narrows the listing to; every filter set must match. Only filters Ango
/// Hub's listing takes: an exact external ID and a batch.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetQuery {
    /// Assets with exactly this external ID (Ango matches the whole ID, nothing less).
    external_id: Option<String>,
    /// Assets in this batch (its ID).
    batch: Option<String>,
}

impl AssetQuery {
    fn filter(self) -> AssetFilter {
        AssetFilter {
            external_id: self.external_id.filter(|s| !s.is_empty()),
            batches: self.batch.into_iter().filter(|b| !b.is_empty()).collect(),
            ..AssetFilter::default()
        }
    }
}

/// A page of a project's assets (1-based, `limit` a page), newest first, asked of the hub in
/// requests of at most 100 (what Ango Hub answers).
#[tauri::command]
pub async fn assets(
    desk: State<'_, Desk>,
    project: String,
    page: u64,
    limit: u64,
    filter: Option<AssetQuery>,
) -> Result<AssetPage> {
    let limit = limit.clamp(1, 1000);
    let offset = (page.max(1) - 1).saturating_mul(limit);
    let client = desk.client().await;
    let filter = filter.unwrap_or_default().filter();
    let (items, total) = newest_first(&client, &project, offset, limit, &filter).await?;
    let hub_kind = match client.hub().await? {
        Hub::Assetdrop(_) => "assetdrop",
        Hub::Ango => "ango",
    };
    Ok(AssetPage {
        items,
        total,
        hub_url: client.base_url().to_owned(),
        hub_kind,
    })
}

/// Up to `count` of a project's matching assets from position `offset` on, newest first, and
/// how many match in all. Ango Hub lists newest first; an assetdrop hub lists in upload order
/// (oldest first), so there the window is taken from the end of the hub's order (its total
/// says where that is) and turned around.
async fn newest_first(
    client: &HubClient,
    project: &str,
    offset: u64,
    count: u64,
    filter: &AssetFilter,
) -> std::result::Result<(Vec<Asset>, u64), assetdrop::Error> {
    if !matches!(client.hub().await?, Hub::Assetdrop(_)) {
        return client.assets_window(project, offset, count, filter).await;
    }
    // The first page says how many match; when it holds them all, nothing more is asked.
    let first = client
        .assets_page(project, 1, wire::MAX_PAGE, filter)
        .await?;
    let mut total = first.total;
    if first.assets.len() as u64 >= total {
        let mut all = first.assets;
        all.reverse();
        let window = all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(count).unwrap_or(usize::MAX))
            .collect();
        return Ok((window, total));
    }
    // Assets registered (or deleted) meanwhile move the end: then the window is read again.
    let mut tries = 0;
    loop {
        let (start, len) = oldest_first_span(total, offset, count);
        if len == 0 {
            return Ok((Vec::new(), total));
        }
        let (mut items, now) = client.assets_window(project, start, len, filter).await?;
        tries += 1;
        if now == total || tries == 3 {
            items.reverse();
            return Ok((items, now));
        }
        total = now;
    }
}

/// Where `count` items from `offset` of a newest-first order of `total` lie in the oldest-first
/// order: `(start, len)`.
fn oldest_first_span(total: u64, offset: u64, count: u64) -> (u64, u64) {
    let end = total.saturating_sub(offset);
    let start = end.saturating_sub(count);
    (start, end - start)
}

/// What the preview panel shows of an asset.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetPreview {
    /// The asset as the hub lists it.
    asset: Asset,
    /// A URL the page can load the asset's bytes from, signed by the hub (`getSignedUrl`), when
    /// its data is a URL (the first page's, for a multi-page `dataset`).
    url: Option<String>,
    /// The content itself, when the asset holds it inline (text, Markdown, HTML).
    inline: Option<String>,
}

/// An asset of a project, looked up by ID, with a signed URL for its bytes or its inline
/// content: only an asset the hub lists is signed, never a URL the page makes up.
#[tauri::command]
pub async fn asset_preview(
    desk: State<'_, Desk>,
    project: String,
    id: String,
) -> Result<AssetPreview> {
    let client = desk.client().await;
    let filter = AssetFilter {
        id: Some(id.clone()),
        ..AssetFilter::default()
    };
    let asset = client
        .assets_page(&project, 1, 1, &filter)
        .await?
        .assets
        .into_iter()
        .next()
        .ok_or_else(|| {
            IpcError::new(
                ErrorCode::NotFound,
                format!("asset {id} is no longer in this project; refresh the list"),
            )
        })?;
    let data = asset.data.clone().or_else(|| {
        asset
            .rest
            .get("dataset")
            .and_then(Value::as_array)
            .and_then(|pages| pages.first())
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let Some(data) = data else {
        return Ok(AssetPreview {
            asset,
            url: None,
            inline: None,
        });
    };
    if !is_url(&data) {
        return Ok(AssetPreview {
            asset,
            url: None,
            inline: Some(data),
        });
    }
    let storage = asset
        .rest
        .get("storage")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let url = match storage {
        Some(s) if client.has(Extension::StorageAdmin).await? => {
            client.storage_signed_url(s, &data).await?
        }
        _ => client.signed_url(&data).await?,
    };
    Ok(AssetPreview {
        asset,
        url: Some(url),
        inline: None,
    })
}

/// Whether an asset's data is a URL (`scheme://…`) rather than inline content.
fn is_url(data: &str) -> bool {
    data.split_once("://").is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
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
    /// Also answer the file's text, to edit it in the window (small lists only).
    #[serde(default)]
    with_text: bool,
}

/// The report of a check or an import, and the list's text when it was asked for.
#[derive(Serialize)]
pub struct CloudAnswer {
    #[serde(flatten)]
    report: ImportReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

/// Checks (`dryRun`) or imports a cloud-import list; with `withText`, a chosen file's text
/// comes too (refused, saying why, when it is too large to edit).
#[tauri::command]
pub async fn cloud_import(
    app: AppHandle,
    desk: State<'_, Desk>,
    request: CloudRequest,
    events: Channel<ImportEvent>,
) -> Result<CloudAnswer> {
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
    let text = match (request.with_text, &request.text) {
        (false, _) => None,
        (true, Some(t)) => Some(t.clone()),
        (true, None) => Some(cloud::read_for_editing(&path)?),
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
    Ok(CloudAnswer { report, text })
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

/// The first rows rendered with a template, for the live preview. An error says what it is
/// about (the template, the table, the settings), so the page shows it there.
#[tauri::command]
pub async fn preview(
    desk: State<'_, Desk>,
    request: TableRequest,
    config: TemplateConfig,
    rows: usize,
) -> std::result::Result<Vec<files::PreviewRow>, files::BuilderError> {
    desk.access
        .check(&request.path, Via::Table)
        .map_err(|e| files::BuilderError::from(IpcError::from(e)))?;
    tauri::async_runtime::spawn_blocking(
        move || -> std::result::Result<Vec<files::PreviewRow>, files::BuilderError> {
            let template = builder::compile(&config)?;
            let items = builder::wire_assets(&request.path, &request.options(), &template)?;
            Ok(items
                .take(rows.min(100))
                .map(files::PreviewRow::from)
                .collect())
        },
    )
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

/// How the builder checks URLs and what it imports when some fail.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildChecks {
    /// Probe the public URLs of media columns before registering anything.
    #[serde(default)]
    check_urls: bool,
    /// Check URLs on loopback and private networks too.
    #[serde(default)]
    check_private: bool,
    /// Import the other rows when some URLs fail.
    #[serde(default)]
    skip_bad: bool,
}

/// Builds one asset per row and imports them; with `checks`, the public URLs of media columns
/// are checked first, as a cloud import checks them.
#[tauri::command]
#[allow(clippy::too_many_arguments)] // one per part of the request the page sends
pub async fn build(
    app: AppHandle,
    desk: State<'_, Desk>,
    job: String,
    project: String,
    request: TableRequest,
    config: TemplateConfig,
    checks: Option<BuildChecks>,
    events: Channel<BuildEvent>,
) -> std::result::Result<BuildSummary, files::BuilderError> {
    desk.access
        .check(&request.path, Via::Table)
        .map_err(|e| files::BuilderError::from(IpcError::from(e)))?;
    let job = desk.jobs.start(&job);
    let template = Arc::new(builder::compile(&config)?);
    let mut build = BuildConfig::new(project);
    build.table = request.options();
    if let Some(checks) = checks {
        build.check = checks.check_urls.then(|| CheckConfig {
            allow_private: checks.check_private,
            ..CheckConfig::default()
        });
        build.skip_bad = checks.skip_bad;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use assetdrop::hub::{self, HubConfig};
    use serde_json::json;

    #[test]
    fn a_newest_first_window_maps_onto_the_end_of_an_oldest_first_order() {
        assert_eq!(oldest_first_span(120, 0, 50), (70, 50));
        assert_eq!(oldest_first_span(120, 50, 50), (20, 50));
        assert_eq!(oldest_first_span(120, 100, 50), (0, 20));
        assert_eq!(oldest_first_span(120, 150, 50), (0, 0));
        assert_eq!(oldest_first_span(0, 0, 50), (0, 0));
    }

    #[test]
    fn only_scheme_urls_are_urls() {
        assert!(is_url("https://h/a.png"));
        assert!(is_url("s3://bucket/a.png"));
        assert!(!is_url("<p>see https://h/a.png</p>"));
        assert!(!is_url("# Notes\n\nplain text"));
    }

    /// Pages of an assetdrop hub (which lists oldest first) come out newest first, filtered,
    /// whether the matches fit in one request or not.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_assetdrop_hub_is_paged_newest_first_with_filters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let running = hub::start(HubConfig::new(dir.path()), ([127, 0, 0, 1], 0).into())
            .await
            .expect("hub");
        let client = HubClient::new(&running.url, &running.api_key).expect("client");
        let project = client.create_project("p", "").await.expect("project").id;
        let batch = client.create_batch(&project, "b").await.expect("batch").id;
        let assets: Vec<Value> = (0..230)
            .map(|i| {
                let mut a = json!({
                    "data": format!("https://example.com/{i}.png"),
                    "externalId": format!("a{i:03}"),
                });
                if i % 10 == 0 {
                    a["batches"] = json!([batch]);
                }
                a
            })
            .collect();
        client
            .register(&project, &assets, &[], false, 0)
            .await
            .expect("register");
        let ids = |items: &[Asset]| -> Vec<String> {
            items.iter().map(|a| a.external_id.clone()).collect()
        };
        let all = AssetFilter::default();
        let (page1, total) = newest_first(&client, &project, 0, 50, &all)
            .await
            .expect("page 1");
        assert_eq!(total, 230);
        let want: Vec<String> = (180..230).rev().map(|i| format!("a{i:03}")).collect();
        assert_eq!(ids(&page1), want);
        let (last, _) = newest_first(&client, &project, 200, 50, &all)
            .await
            .expect("last page");
        let want: Vec<String> = (0..30).rev().map(|i| format!("a{i:03}")).collect();
        assert_eq!(ids(&last), want);
        let (none, total) = newest_first(&client, &project, 250, 50, &all)
            .await
            .expect("past the end");
        assert!(none.is_empty());
        assert_eq!(total, 230);

        let in_batch = AssetQuery {
            batch: Some(batch),
            external_id: None,
        }
        .filter();
        let (items, total) = newest_first(&client, &project, 0, 10, &in_batch)
            .await
            .expect("batch");
        assert_eq!(total, 23);
        assert_eq!(ids(&items)[..2], ["a220".to_owned(), "a210".to_owned()]);
        let one = AssetQuery {
            external_id: Some("a007".into()),
            batch: Some(String::new()),
        }
        .filter();
        let (items, total) = newest_first(&client, &project, 0, 50, &one)
            .await
            .expect("by external ID");
        assert_eq!((ids(&items), total), (vec!["a007".to_owned()], 1));
        running.shutdown().await.expect("shutdown");
    }
}
