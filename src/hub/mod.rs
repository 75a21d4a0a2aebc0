//! The hub: a small self-hostable server that stores assets and speaks Ango Hub's v2 import API,
//! so our CLI, the desktop app and the official Python SDK all import through the same doors.
//! Catalog in `SQLite`, blobs through `object_store` (a local `uploaded-data/` folder by default),
//! storage integrations reaching private S3/GCS/Azure buckets, signed upload/download URLs,
//! API-key auth.

mod api;
pub mod catalog;
pub mod fetch;
pub mod seal;
pub mod serve;
pub mod sign;
pub mod storage;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

use crate::error::{Error, ErrorCode};
use catalog::{Catalog, SqliteCatalog};
use sign::Signer;

/// Default largest upload body: 64 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 << 30;
/// Default largest JSON request body: 64 MiB (registration is chunked by clients).
pub const DEFAULT_MAX_JSON_BYTES: usize = 64 << 20;
/// Default bytes of large JSON bodies worked on at once: one of the largest (the catalog writes
/// one registration at a time anyway).
pub const DEFAULT_JSON_IN_FLIGHT: usize = DEFAULT_MAX_JSON_BYTES;
/// The most one asset's fields (`data`, `dataset`, `metadata`, attachments, ...) may hold, as
/// JSON text: a listing page of 100 assets stays within 400 MiB however it is made.
pub const MAX_ASSET_BYTES: usize = 4 << 20;
/// How long signed URLs stay valid by default (Ango uses 120,000 s for export links).
pub const DEFAULT_URL_TTL_SECS: u64 = 120_000;
/// How long one `uploadLocal` download may take by default: an hour.
pub const DEFAULT_DOWNLOAD_DEADLINE_SECS: u64 = 60 * 60;
/// How long the hub keeps the answer to a request sent with an `Idempotency-Key` (a day): a
/// client that lost the answer and sends the request again within that time gets it again.
pub const REPLIES_KEPT_SECS: u64 = 24 * 60 * 60;
/// Default age after which an unregistered upload counts as abandoned: two URL lifetimes, so a
/// client can still register what it uploaded with a URL handed out just before.
pub const DEFAULT_ABANDONED_AFTER_SECS: u64 = 2 * DEFAULT_URL_TTL_SECS;

/// How to run a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Folder holding `catalog.sqlite`, `uploaded-data/` and the hub's secrets.
    pub root: PathBuf,
    /// The API key; when `None`, the key stored under the root is used, or a new one made.
    pub api_key: Option<String>,
    /// The URL clients reach the hub at, when it differs from the listening address (proxies).
    pub public_url: Option<String>,
    /// Largest upload body accepted by a signed PUT.
    pub max_upload_bytes: u64,
    /// Largest JSON request body.
    pub max_json_bytes: usize,
    /// Bytes of large JSON bodies (1 MiB and up) read and worked on at once; more wait their
    /// turn. Parsed, a body takes several times its size, so this bounds the hub's memory under
    /// parallel registrations.
    pub json_in_flight: usize,
    /// Lifetime of signed URLs, seconds.
    pub url_ttl_secs: u64,
    /// Uploads reserved this long ago (seconds) and never registered are removed at start-up,
    /// with their blobs: clients that died between the PUT and the registration.
    pub abandoned_after_secs: u64,
    /// Let `uploadLocal` downloads reach loopback, private, link-local, CGNAT and metadata
    /// addresses. Off by default: import files come from third parties, and such URLs would let
    /// them read the hub's own network (SSRF).
    pub allow_private_downloads: bool,
    /// The longest one `uploadLocal` download may take (seconds), retries included.
    pub download_deadline_secs: u64,
    /// Client connections held at once; `None`: below the process's file descriptor limit.
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request's header (and a kept-alive connection may
    /// stay silent).
    pub header_timeout_secs: u64,
    /// Try a new storage integration's credentials on its bucket before storing it (one
    /// listing of at most one key). Their form is checked either way. Off only for a hub that
    /// signs URLs for buckets it cannot reach itself.
    pub try_storages: bool,
}

impl HubConfig {
    /// [`json_in_flight`](Self::json_in_flight) in whole MiB, the body budget's units (at
    /// least one).
    pub fn json_in_flight_mib(&self) -> usize {
        (self.json_in_flight >> 20).max(1)
    }

    /// Defaults for a hub rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            api_key: None,
            public_url: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_json_bytes: DEFAULT_MAX_JSON_BYTES,
            json_in_flight: DEFAULT_JSON_IN_FLIGHT,
            url_ttl_secs: DEFAULT_URL_TTL_SECS,
            abandoned_after_secs: DEFAULT_ABANDONED_AFTER_SECS,
            allow_private_downloads: false,
            download_deadline_secs: DEFAULT_DOWNLOAD_DEADLINE_SECS,
            max_connections: None,
            header_timeout_secs: serve::DEFAULT_HEADER_TIMEOUT_SECS,
            try_storages: true,
        }
    }
}

/// Shared state of a running hub.
pub(crate) struct State {
    pub catalog: Arc<dyn Catalog>,
    pub blobs: Arc<dyn ObjectStore>,
    pub signer: Signer,
    pub api_key: String,
    /// A stable ID of this hub's catalog, the same across restarts and addresses.
    pub hub_id: String,
    pub base_url: String,
    pub config: HubConfig,
    /// Bucket clients of the storage integrations in use.
    pub clients: storage::Clients,
    /// One lock per idempotency key in use, so a request and its repeat never run side by side.
    pub key_locks: api::KeyLocks,
    /// MiB of large request bodies read and worked on at once ([`HubConfig::json_in_flight`]).
    pub body_budget: Arc<tokio::sync::Semaphore>,
}

/// A hub serving on a socket; dropping it does not stop it, [`RunningHub::shutdown`] does.
#[derive(Debug)]
pub struct RunningHub {
    /// The bound address.
    pub addr: SocketAddr,
    /// The base URL clients use, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The API key clients must send in the `apikey` header.
    pub api_key: String,
    /// Whether the key was generated (and stored) on this start.
    pub key_generated: bool,
    /// What start-up cleaning removed.
    pub cleaned: Cleanup,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningHub {
    /// Stops accepting connections, lets requests in flight finish, and waits.
    pub async fn shutdown(self) -> Result<(), Error> {
        let _ = self.shutdown.send(true);
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::with_source(
                ErrorCode::Internal,
                "the hub server failed",
                e,
            )),
            Err(e) => Err(Error::with_source(
                ErrorCode::Internal,
                "the hub server task failed",
                e,
            )),
        }
    }

    /// Serves until the process is interrupted (Ctrl-C / SIGTERM), then shuts down cleanly.
    pub async fn serve_until_signal(self) -> Result<(), Error> {
        wait_for_signal().await;
        self.shutdown().await
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Writes a small secret file readable only by its owner, atomically.
pub(crate) fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or_else(|| Path::new("."));
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

fn internal(what: &str, root: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::with_source(
        ErrorCode::Internal,
        format!("{what} under {}", root.display()),
        e,
    )
}

/// Starts a hub on `listen` (use port 0 for a random port) and returns once it accepts requests.
pub async fn start(config: HubConfig, listen: SocketAddr) -> Result<RunningHub, Error> {
    let root = config.root.clone();
    fs_err::create_dir_all(root.join("uploaded-data"))
        .map_err(|e| internal("cannot create the hub folder", &root, e))?;
    // The catalog holds storage credentials, `.hub/` the keys: the hub's user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for dir in [root.clone(), root.join(".hub")] {
            fs_err::create_dir_all(&dir)
                .and_then(|()| {
                    fs_err::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                })
                .map_err(|e| internal("cannot restrict the hub folder", &root, e))?;
        }
    }
    let secrets = root.join(".hub");
    let signer = Signer::load_or_create(&secrets.join("url-secret"))
        .map_err(|e| internal("cannot create the URL secret", &root, e))?;
    let (api_key, key_generated) = match &config.api_key {
        Some(k) if !k.is_empty() => (k.clone(), false),
        _ => load_or_create_key(&secrets.join("api-key"))
            .map_err(|e| internal("cannot create the API key", &root, e))?,
    };
    let (hub_id, _) = load_or_create_key(&secrets.join("hub-id"))
        .map_err(|e| internal("cannot create the hub ID", &root, e))?;
    let seal_key = seal::SealKey::load_or_create(&secrets.join("storage-key"))
        .map_err(|e| internal("cannot read the storage key", &root, e))?;
    let catalog_path = root.join("catalog.sqlite");
    let catalog = tokio::task::spawn_blocking(move || SqliteCatalog::open(&catalog_path, seal_key))
        .await
        .map_err(|e| internal("opening the catalog panicked", &root, e))?
        .map_err(|e| internal("cannot open the catalog", &root, e))?;
    let catalog = Arc::new(catalog);
    let cleaned = {
        let (root, grace) = (root.clone(), config.abandoned_after_secs);
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || clean(&root, &catalog, grace))
            .await
            .map_err(|e| internal("start-up cleaning panicked", &config.root, e))?
            .map_err(|e| {
                Error::new(
                    ErrorCode::Internal,
                    format!("start-up cleaning of {} failed: {e}", config.root.display()),
                )
            })?
    };
    let blobs = LocalFileSystem::new_with_prefix(&root)
        .map_err(|e| internal("cannot open blob storage", &root, e))?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        Error::with_source(ErrorCode::Network, format!("cannot listen on {listen}"), e)
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::with_source(ErrorCode::Network, "cannot read the bound address", e))?;
    let url = config.public_url.clone().map_or_else(
        || format!("http://{addr}"),
        |u| u.trim_end_matches('/').to_owned(),
    );
    let body_budget = Arc::new(tokio::sync::Semaphore::new(config.json_in_flight_mib()));
    let state = Arc::new(State {
        catalog,
        blobs: Arc::new(blobs),
        signer,
        api_key: api_key.clone(),
        hub_id,
        base_url: url.clone(),
        config,
        clients: storage::Clients::default(),
        key_locks: api::KeyLocks::default(),
        body_budget,
    });
    let limits = serve::Limits {
        max_connections: state
            .config
            .max_connections
            .unwrap_or_else(serve::default_max_connections),
        header_timeout: std::time::Duration::from_secs(state.config.header_timeout_secs.max(1)),
    };
    let app = api::router(state);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(serve::serve(listener, app, limits, rx));
    Ok(RunningHub {
        addr,
        url,
        api_key,
        key_generated,
        cleaned,
        shutdown: tx,
        task,
    })
}

/// What start-up cleaning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Parts of blobs a killed hub was still writing (`name#N` files): never under a final name.
    pub partial_files: u64,
    /// Uploads reserved long ago and never registered, with their blobs.
    pub abandoned_uploads: u64,
}

/// Removes what a crash or a client that went away left behind. Runs before the hub serves,
/// so nothing is being written meanwhile. Registered blobs are never touched.
fn clean(
    root: &Path,
    catalog: &SqliteCatalog,
    grace_secs: u64,
) -> Result<Cleanup, Box<dyn std::error::Error + Send + Sync>> {
    // Blob keys map to files the way blob storage maps them (it escapes `~`, `%`, `*`, … in
    // file names), never by joining the key to the root: `a%7E1.png` is not `a~1.png`'s file.
    let store = LocalFileSystem::new_with_prefix(root)?;
    let mut done = Cleanup::default();
    let data = root.join("uploaded-data");
    for project in fs_err::read_dir(&data)? {
        let project = project?;
        if !project.file_type()?.is_dir() {
            continue;
        }
        for entry in fs_err::read_dir(project.path())? {
            let entry = entry?;
            let on_disk = entry.file_name().to_string_lossy().into_owned();
            let name = percent_encoding::percent_decode_str(&on_disk)
                .decode_utf8_lossy()
                .into_owned();
            let partial = name
                .rsplit_once('#')
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !partial || !entry.file_type()?.is_file() {
                continue;
            }
            // Upload names cannot hold '#', but blobs from before that rule could: keep any
            // file that is itself a reserved upload.
            let key = format!(
                "uploaded-data/{}/{name}",
                project.file_name().to_string_lossy()
            );
            if catalog.reservation(&key)?.is_none() {
                fs_err::remove_file(entry.path())?;
                done.partial_files += 1;
            }
        }
    }
    let abandoned = catalog.abandoned_reservations(&ago(grace_secs)?)?;
    for key in &abandoned {
        let file = store.path_to_filesystem(&key.split('/').collect())?;
        match fs_err::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    done.abandoned_uploads = catalog.remove_reservations(&abandoned)?;
    catalog.forget_replies(&ago(REPLIES_KEPT_SECS)?)?;
    Ok(done)
}

/// The time `secs` seconds ago, RFC 3339 UTC, as the catalog stores times.
fn ago(secs: u64) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let then = time::OffsetDateTime::now_utc()
        .checked_sub(time::Duration::seconds(
            i64::try_from(secs).unwrap_or(i64::MAX),
        ))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Ok(then.format(&time::format_description::well_known::Rfc3339)?)
}

fn load_or_create_key(file: &Path) -> std::io::Result<(String, bool)> {
    if let Ok(text) = fs_err::read_to_string(file) {
        let key = text.trim();
        if !key.is_empty() {
            return Ok((key.to_owned(), false));
        }
    }
    let key = hex::encode(rand::random::<[u8; 24]>());
    write_private(file, key.as_bytes())?;
    Ok((key, true))
}
