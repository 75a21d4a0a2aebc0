//! The assetdrop desktop app: a window annotators drag files onto, with views for cloud-import
//! lists, the asset builder and the project's assets. It starts in local mode (the hub runs
//! inside the app), so a first start needs no set-up.
//!
//! Everything here adapts the core library to Tauri: the connection, one command per core
//! entry point, a job registry for cancellation, and channels for progress. The page
//! (`ui/`) calls the commands through `ui/api.js` only, and the app reads for it only the files
//! the user dropped onto the window or chose in its file dialog (`access`).

mod access;
mod commands;
mod connection;
mod error;
mod files;
mod jobs;

use std::path::PathBuf;
use std::sync::Arc;

use assetdrop::upload::{HubClient, Journal};
use serde::Serialize;
use tauri::http::{header, Response, StatusCode};
use tauri::{DragDropEvent, Emitter, Manager, WindowEvent};
use tokio::sync::{Mutex, RwLock};

use connection::{Connection, Folders, Mode, Settings};

/// The app's state, shared by every command.
pub struct Desk {
    conn: RwLock<Connection>,
    folders: Folders,
    settings: Mutex<Settings>,
    jobs: jobs::Jobs,
    thumbs: files::Thumbs,
    /// What the user handed over: the only files the page may have the app read.
    access: Arc<access::Access>,
}

impl Desk {
    async fn client(&self) -> HubClient {
        self.conn.read().await.client.clone()
    }
}

/// What the page hears when files land on the window.
#[derive(Clone, Serialize)]
struct Dropped {
    paths: Vec<PathBuf>,
}

/// Whether files are over the window (so the page can highlight its drop zone).
#[derive(Clone, Serialize)]
struct Hovering {
    over: bool,
}

/// The connection the app starts with: the saved remote hub (hosted Ango Hub or self-hosted)
/// when that mode was left on and the hub still answers, the embedded hub otherwise.
async fn first_connection(
    folders: &Folders,
    settings: &mut Settings,
) -> anyhow::Result<Connection> {
    if let Some(remote) = settings.remote() {
        match connection::connect(folders, settings, &remote, None).await {
            Ok(c) => return Ok(c),
            Err(e) => eprintln!("assetdrop: {e}; starting in local mode"),
        }
    }
    settings.mode = Mode::Local;
    Ok(Connection::local(folders).await?)
}

/// `thumb://localhost/<id>`: the image of thumbnail `id`, when its file is still one the user
/// handed over.
fn serve_thumb(desk: &Desk, path: &str) -> Response<Vec<u8>> {
    let found = match path.trim_start_matches('/').parse::<u64>() {
        Ok(id) => desk.thumbs.read(id, &desk.access),
        Err(_) => Ok(None),
    };
    let response = match found {
        // Asked again each time it is shown: once its file is discarded, no cached copy shows.
        Ok(Some((bytes, mime))) => Response::builder()
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::CONTENT_TYPE, mime)
            .body(bytes),
        Ok(None) => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Vec::new()),
        Err(refused) => Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(refused.to_string().into_bytes()),
    };
    response.unwrap_or_else(|_| Response::new(Vec::new()))
}

/// Tells the page about a drag over the window; a drop first allows what was dropped, from the
/// window's own event (the page cannot fake one).
fn on_drag_drop(window: &tauri::Window, drop: &DragDropEvent) {
    let sent = match drop {
        DragDropEvent::Drop { paths, .. } => {
            window.state::<Desk>().access.grant(paths);
            window
                .emit(
                    "files-dropped",
                    Dropped {
                        paths: paths.clone(),
                    },
                )
                .and_then(|()| window.emit("drag-hover", Hovering { over: false }))
        }
        DragDropEvent::Enter { .. } | DragDropEvent::Over { .. } => {
            window.emit("drag-hover", Hovering { over: true })
        }
        DragDropEvent::Leave => window.emit("drag-hover", Hovering { over: false }),
        _ => Ok(()),
    };
    if let Err(e) = sent {
        eprintln!("assetdrop: cannot tell the page about a drop: {e}");
    }
}

/// Runs the app until its window closes.
pub fn run() {
    if let Err(e) = try_run() {
        eprintln!("assetdrop: {e:#}");
        std::process::exit(1);
    }
}

fn try_run() -> anyhow::Result<()> {
    let folders = Folders::from_env()?;
    let mut settings = folders.load();
    let conn = tauri::async_runtime::block_on(first_connection(&folders, &mut settings))?;
    let access = Arc::new(access::Access::default());
    // An upload the last run did not finish may be resumed: its files were allowed then. A
    // journal that cannot be read allows nothing (`interrupted_upload` reports it).
    if let Ok(Some(journal)) = Journal::load(&folders.journal()) {
        access.grant_resumable(journal.files.iter().map(|f| f.path.as_path()));
    }
    let desk = Desk {
        conn: RwLock::new(conn),
        folders,
        settings: Mutex::new(settings),
        jobs: jobs::Jobs::default(),
        thumbs: files::Thumbs::default(),
        access,
    };
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(desk)
        .register_uri_scheme_protocol("thumb", |ctx, request| {
            let desk = ctx.app_handle().state::<Desk>();
            serve_thumb(&desk, request.uri().path())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::DragDrop(drop) = event {
                on_drag_drop(window, drop);
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::connect_local,
            commands::connect_remote,
            commands::ango_hubs,
            commands::projects,
            commands::default_project,
            commands::project,
            commands::create_project,
            commands::create_batch,
            commands::storages,
            commands::assets,
            commands::asset_preview,
            commands::pick,
            commands::add_files,
            commands::upload,
            commands::cancel,
            commands::interrupted_upload,
            commands::discard_interrupted,
            commands::cloud_import,
            commands::open_table,
            commands::preview,
            commands::save_template,
            commands::build,
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}
