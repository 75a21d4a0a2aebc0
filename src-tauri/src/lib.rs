//! The assetdrop desktop app: a window annotators drag files onto, with views for cloud-import
//! lists, the asset builder and the project's assets. It starts in local mode (the hub runs
//! inside the app), so a first start needs no set-up.
//!
//! Everything here adapts the core library to Tauri: the connection, one command per core
//! entry point, a job registry for cancellation, and channels for progress. The page
//! (`ui/`) calls the commands through `ui/api.js` only.

mod commands;
mod connection;
mod error;
mod files;
mod jobs;

use std::path::PathBuf;

use assetdrop::upload::HubClient;
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

fn serve_thumb(desk: &Desk, path: &str) -> Response<Vec<u8>> {
    let found = path
        .trim_start_matches('/')
        .parse::<u64>()
        .ok()
        .and_then(|id| desk.thumbs.read(id));
    let builder = Response::builder().header(header::CACHE_CONTROL, "max-age=3600");
    let response = match found {
        Some((bytes, mime)) => builder.header(header::CONTENT_TYPE, mime).body(bytes),
        None => builder.status(StatusCode::NOT_FOUND).body(Vec::new()),
    };
    response.unwrap_or_else(|_| Response::new(Vec::new()))
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
    let desk = Desk {
        conn: RwLock::new(conn),
        folders,
        settings: Mutex::new(settings),
        jobs: jobs::Jobs::default(),
        thumbs: files::Thumbs::default(),
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
                let sent = match drop {
                    DragDropEvent::Drop { paths, .. } => window
                        .emit(
                            "files-dropped",
                            Dropped {
                                paths: paths.clone(),
                            },
                        )
                        .and_then(|()| window.emit("drag-hover", Hovering { over: false })),
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
