//! The hub's catalog: projects, batches, assets, storages, asset-builder templates and upload
//! reservations. Callers see the narrow [`Catalog`] trait so another backend (`PostgreSQL` for a
//! scaled-out hub) can be added without touching them; [`SqliteCatalog`] is the embedded default.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::seal::SealKey;

/// Catalog failures.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database failed.
    #[error("catalog database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// A stored JSON column could not be read back.
    #[error("catalog holds unreadable JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// The request is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A catalog file could not be reached on disk.
    #[error("catalog file: {0}")]
    Io(#[from] std::io::Error),
}

type Result<T> = std::result::Result<T, CatalogError>;

/// Project types of the Ango API.
pub const PROJECT_TYPES: [&str; 3] = ["ango", "pct", "iframe"];

/// Batches and projects are the wire types: the catalog stores what the API shows.
pub use crate::wire::{Batch, Project};

/// A saved asset-builder template (its JSON object as the API sends it, plus `_id`).
pub type Template = Value;

/// Cloud providers a storage integration can point at. The SDK names them `AWS`, `GCP`,
/// `AZURE`; the REST docs name them `aws`, `gcs`, `azure`. The catalog stores the REST name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Amazon S3.
    Aws,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
}

impl Provider {
    /// The REST API's name (`aws`, `gcs`, `azure`), as stored in the catalog.
    pub fn rest_name(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Gcs => "gcs",
            Self::Azure => "azure",
        }
    }

    /// The SDK's name (`AWS`, `GCP`, `AZURE`).
    pub fn sdk_name(self) -> &'static str {
        match self {
            Self::Aws => "AWS",
            Self::Gcs => "GCP",
            Self::Azure => "AZURE",
        }
    }

    /// Reads the REST name back.
    pub fn from_rest_name(name: &str) -> Option<Self> {
        match name {
            "aws" => Some(Self::Aws),
            "gcs" => Some(Self::Gcs),
            "azure" => Some(Self::Azure),
            _ => None,
        }
    }
}

/// A storage integration to register. Its credentials go to the catalog's `secret` column and
/// never come back out through [`Storage`]; `Debug` does not show them either.
#[derive(Clone)]
pub struct NewStorage {
    /// Unique name.
    pub name: String,
    /// Cloud provider.
    pub provider: Provider,
    /// Region, when given.
    pub region: Option<String>,
    /// Bucket (or container), when given.
    pub bucket: Option<String>,
    /// A custom endpoint (S3-compatible servers, emulators, sovereign clouds), when given.
    pub endpoint: Option<String>,
    /// Path-style S3 requests (`ENDPOINT/BUCKET/KEY`) rather than virtual-hosted ones.
    pub path_style: Option<bool>,
    /// The credentials as sent (keys, service-account JSON, ...).
    pub secret: Value,
}

impl std::fmt::Debug for NewStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewStorage")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The credentials of a storage integration, as stored. Only the hub's storage backends read
/// them; `Debug` never shows them and there is no `Serialize`, so they cannot reach an answer.
#[derive(Clone)]
pub struct StorageSecret(pub Value);

impl std::fmt::Debug for StorageSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageSecret(<redacted>)")
    }
}

/// A storage integration as the API shows it: everything but its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    /// Storage ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The SDK's provider name (`AWS`, `GCP`, `AZURE`).
    pub provider: String,
    /// The REST API's provider name (`aws`, `gcs`, `azure`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Region, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Bucket (or container), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Custom endpoint, when given (not a secret: it says where, not how to get in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Path-style S3 requests, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// An asset to insert.
#[derive(Debug, Clone, Default)]
pub struct NewAsset {
    /// The caller's ID for this upload; registering the same one twice returns the first asset.
    pub upload_id: Option<String>,
    /// External ID (not unique).
    pub external_id: String,
    /// URL of the data, or the inline content.
    pub data: Option<String>,
    /// Multi-image asset pages.
    pub dataset: Option<Vec<String>>,
    /// Kind, when known (`image`, `video`, ...).
    pub kind: Option<String>,
    /// Size in bytes, for blobs on this hub.
    pub size: Option<u64>,
    /// BLAKE3 hex of the content, for blobs on this hub.
    pub content_hash: Option<String>,
    /// `metadata` object.
    pub metadata: Option<Value>,
    /// `contextData` object.
    pub context_data: Option<Value>,
    /// Other Ango fields kept as given (`attachments`, `editorType`, `classifications`, ...).
    pub extra: serde_json::Map<String, Value>,
    /// Batch IDs.
    pub batches: Vec<String>,
    /// Storage integration ID.
    pub storage: Option<String>,
    /// −1000..1000.
    pub priority: i64,
    /// Blob key on this hub, for uploaded files.
    pub blob_key: Option<String>,
}

/// A stored asset, as the API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// Asset ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// Project ID.
    pub project: String,
    /// External ID.
    pub external_id: String,
    /// Data URL or inline content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Multi-image pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Vec<String>>,
    /// Kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// BLAKE3 hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Metadata object.
    pub metadata: Value,
    /// Context data object.
    pub context_data: Value,
    /// Batch IDs.
    pub batches: Vec<String>,
    /// Storage ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Priority.
    pub priority: i64,
    /// True when it carries pre-labels.
    pub is_pre_labeled: bool,
    /// Other Ango fields.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
    /// Blob key on this hub.
    #[serde(skip)]
    pub blob_key: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// Asset list filters (`filters` of `GET /v2/project/{id}/assets`).
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    /// Only this asset ID.
    pub id: Option<String>,
    /// Only this external ID.
    pub external_id: Option<String>,
    /// Only assets carrying every one of these batch IDs.
    pub batches: Vec<String>,
    /// Only assets with (true) or without (false) pre-labels.
    pub is_pre_labeled: Option<bool>,
}

/// An upload reservation: a blob key handed out by `getUploadUrl`, completed by the signed PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Blob key, e.g. `uploaded-data/<project>/<name>`.
    pub key: String,
    /// Project ID.
    pub project: String,
    /// Size once completed.
    pub size: Option<u64>,
    /// BLAKE3 hex once completed.
    pub content_hash: Option<String>,
    /// Kind sniffed from the content once completed.
    pub kind: Option<String>,
    /// Whether an asset (live or deleted) was registered on this blob; its bytes are then final.
    pub registered: bool,
}

/// The answer kept for a request sent with an `Idempotency-Key`, to be sent again when the same
/// request comes again with that key (a client whose first answer was lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptReply {
    /// A digest of the method, path and body: the key is for this request only.
    pub fingerprint: String,
    /// The HTTP status.
    pub status: u16,
    /// The body as sent.
    pub body: Vec<u8>,
}

/// The catalog operations the hub needs. Implementations are synchronous; the HTTP layer calls
/// them on blocking threads.
pub trait Catalog: Send + Sync {
    /// Creates a project.
    fn create_project(&self, name: &str, description: &str, kind: &str) -> Result<Project>;
    /// A project with batches and templates.
    fn project(&self, id: &str) -> Result<Option<Project>>;
    /// A page of projects (1-based) and the total.
    fn list_projects(&self, page: u64, limit: u64) -> Result<(Vec<Project>, u64)>;
    /// Creates a batch, or returns the existing one of that name.
    fn create_batch(&self, project: &str, name: &str) -> Result<Batch>;
    /// Replaces the batch list: entries with an `_id` keep it (and may be renamed), others are
    /// created; batches left out are removed from the project and its assets.
    fn replace_batches(
        &self,
        project: &str,
        batches: &[(Option<String>, String)],
    ) -> Result<Vec<Batch>>;
    /// Maps batch names or IDs to IDs; an unknown one is `NotFound` naming it.
    fn resolve_batches(&self, project: &str, names_or_ids: &[String]) -> Result<Vec<String>>;
    /// Inserts assets in one transaction; returns their IDs in order. An asset whose
    /// `upload_id` was registered before yields the earlier asset's ID and is not inserted again.
    fn insert_assets(&self, project: &str, assets: &[NewAsset]) -> Result<Vec<(String, bool)>>;
    /// A page of live assets (1-based) and the total matching.
    fn list_assets(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: u64,
        limit: u64,
    ) -> Result<(Vec<Asset>, u64)>;
    /// The IDs of a page of live assets (1-based) and the total matching: a listing answer
    /// fetches each asset on its own, so a page of large assets never sits whole in memory.
    fn list_asset_ids(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: u64,
        limit: u64,
    ) -> Result<(Vec<String>, u64)>;
    /// The live assets of a project with these IDs, in their order (IDs of deleted or unknown
    /// assets are left out).
    fn assets_with_ids(&self, project: &str, ids: &[String]) -> Result<Vec<Asset>>;
    /// Soft-deletes assets; returns how many were live.
    fn delete_assets(&self, project: &str, ids: &[String]) -> Result<u64>;
    /// The live assets of a project whose content hash is one of `hashes`, as
    /// `(hash, asset ID, external ID)`, the first asset per hash.
    fn assets_by_hash(
        &self,
        project: &str,
        hashes: &[String],
    ) -> Result<Vec<(String, String, String)>>;
    /// Adds batches to assets; returns how many assets were found.
    fn assign_batches(
        &self,
        project: &str,
        asset_ids: &[String],
        batch_ids: &[String],
    ) -> Result<u64>;
    /// Records a new reservation; `Conflict` if the key is taken.
    fn reserve(&self, key: &str, project: &str) -> Result<()>;
    /// Looks a reservation up.
    fn reservation(&self, key: &str) -> Result<Option<Reservation>>;
    /// Keys of reservations made before `before` (RFC 3339, UTC) that no asset was registered
    /// on: uploads given up on, or whose client died between the PUT and the registration.
    fn abandoned_reservations(&self, before: &str) -> Result<Vec<String>>;
    /// Forgets reservations (once their blobs are gone); returns how many there were.
    fn remove_reservations(&self, keys: &[String]) -> Result<u64>;
    /// Marks a reservation's blob complete.
    fn complete_reservation(
        &self,
        key: &str,
        size: u64,
        content_hash: &str,
        kind: Option<&str>,
    ) -> Result<()>;
    /// Saves an asset-builder template on a project, assigning its `_id`.
    fn save_template(&self, project: &str, template: Value) -> Result<Value>;
    /// Registers a storage integration; `Conflict` if the name is taken.
    fn create_storage(&self, storage: &NewStorage) -> Result<Storage>;
    /// One storage integration, without its credentials.
    fn storage(&self, id: &str) -> Result<Option<Storage>>;
    /// One storage integration with its credentials, for the hub's storage backends only.
    fn storage_with_secret(&self, id: &str) -> Result<Option<(Storage, StorageSecret)>>;
    /// A page of storage integrations (1-based; every one when `limit` is `None`), oldest
    /// first, and the total.
    fn list_storages(&self, page: u64, limit: Option<u64>) -> Result<(Vec<Storage>, u64)>;
    /// Removes a storage integration; `NotFound` if unknown, `Conflict` while live assets or
    /// templates refer to it (they would lose access to their files).
    fn delete_storage(&self, id: &str) -> Result<Storage>;
    /// The reply kept for an idempotency key, if any.
    fn kept_reply(&self, key: &str) -> Result<Option<KeptReply>>;
    /// Keeps a reply for an idempotency key (replacing none: the first one stays).
    fn keep_reply(&self, key: &str, reply: &KeptReply) -> Result<()>;
    /// Forgets replies kept before `before` (RFC 3339, UTC); returns how many.
    fn forget_replies(&self, before: &str) -> Result<u64>;
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A new 24-hex-digit ID (`MongoDB` `ObjectId` shape: seconds, then randomness), so IDs sort by
/// creation time and look like the ones Ango's API returns.
pub fn new_id() -> String {
    let secs = time::OffsetDateTime::now_utc().unix_timestamp() as u32;
    let rest: [u8; 8] = rand::random();
    format!("{secs:08x}{}", hex::encode(rest))
}

/// Makes the catalog and its WAL and shared-memory files readable by their owner only.
fn restrict(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            files.push(std::path::PathBuf::from(p));
        }
        for f in files.iter().filter(|f| f.exists()) {
            fs_err::set_permissions(f, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL DEFAULT 'ango', created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects(id), name TEXT NOT NULL,
    seq INTEGER NOT NULL, UNIQUE(project, name));
CREATE TABLE IF NOT EXISTS assets (
    id TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects(id), upload_id TEXT,
    external_id TEXT NOT NULL, data TEXT, dataset TEXT, kind TEXT, size INTEGER, content_hash TEXT,
    metadata TEXT NOT NULL DEFAULT '{}', context_data TEXT NOT NULL DEFAULT '{}',
    extra TEXT NOT NULL DEFAULT '{}', storage TEXT, priority INTEGER NOT NULL DEFAULT 0,
    pre_labeled INTEGER NOT NULL DEFAULT 0, blob_key TEXT, created TEXT NOT NULL,
    seq INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS assets_upload_id ON assets(project, upload_id) WHERE upload_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS assets_project ON assets(project, deleted, seq);
CREATE INDEX IF NOT EXISTS assets_external ON assets(project, external_id);
CREATE INDEX IF NOT EXISTS assets_hash ON assets(project, content_hash);
CREATE INDEX IF NOT EXISTS assets_blob ON assets(blob_key) WHERE blob_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS assets_seq ON assets(seq);
CREATE INDEX IF NOT EXISTS assets_external_live ON assets(project, external_id, deleted, seq);
CREATE INDEX IF NOT EXISTS assets_hash_live ON assets(project, content_hash, deleted, seq);
CREATE INDEX IF NOT EXISTS assets_storage ON assets(storage) WHERE storage IS NOT NULL;
CREATE TABLE IF NOT EXISTS asset_batches (
    asset TEXT NOT NULL REFERENCES assets(id), batch TEXT NOT NULL REFERENCES batches(id),
    PRIMARY KEY(asset, batch)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_batches_batch ON asset_batches(batch);
CREATE TABLE IF NOT EXISTS storages (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, provider TEXT NOT NULL,
    config TEXT NOT NULL, secret TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS templates (
    id TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects(id), body TEXT NOT NULL,
    seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL,
    created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS replies_created ON replies(created);
CREATE TABLE IF NOT EXISTS reservations (
    key TEXT PRIMARY KEY, project TEXT NOT NULL, size INTEGER, content_hash TEXT, kind TEXT,
    created TEXT NOT NULL);
";

/// The embedded `SQLite` catalog (WAL mode, one connection behind a mutex: the hub's writes are
/// small and short, and `SQLite` serialises writers anyway).
pub struct SqliteCatalog {
    conn: Mutex<Connection>,
    /// Seals storage secrets at rest.
    key: SealKey,
}

impl std::fmt::Debug for SqliteCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteCatalog")
    }
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog at `path`; storage secrets are sealed with `key`.
    /// Secrets stored before sealing are sealed now, and their plain copies cleared from disk.
    pub fn open(path: &Path, key: SealKey) -> Result<Self> {
        let conn = Connection::open(path)?;
        // The catalog holds storage credentials: readable by the hub's user only (SQLite gives
        // its WAL and shared-memory files the database file's mode), and what is deleted is
        // overwritten, not left in free pages.
        restrict(path)?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        seal_plain_secrets(&conn, &key)?;
        Ok(Self {
            conn: Mutex::new(conn),
            key,
        })
    }

    /// An in-memory catalog, for tests.
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
            key: SealKey::random(),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `WHERE` condition (over `assets a`) and its arguments for a project's live assets that
/// pass `filter`.
fn asset_conditions(project: &str, filter: &AssetFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut clauses = vec!["a.project = ?".to_owned(), "a.deleted = 0".to_owned()];
    let mut args: Vec<rusqlite::types::Value> = vec![project.to_owned().into()];
    if let Some(id) = &filter.id {
        clauses.push("a.id = ?".into());
        args.push(id.clone().into());
    }
    if let Some(ext) = &filter.external_id {
        clauses.push("a.external_id = ?".into());
        args.push(ext.clone().into());
    }
    if let Some(pre) = filter.is_pre_labeled {
        clauses.push("a.pre_labeled = ?".into());
        args.push(i64::from(pre).into());
    }
    for b in &filter.batches {
        clauses.push(
            "EXISTS (SELECT 1 FROM asset_batches ab WHERE ab.asset = a.id AND ab.batch = ?)".into(),
        );
        args.push(b.clone().into());
    }
    (clauses.join(" AND "), args)
}

/// An asset read by [`asset_from_row`], with its JSON columns parsed and its batches.
fn complete_asset(conn: &Connection, row: AssetRow) -> Result<Asset> {
    let (mut a, metadata, context, extra, dataset) = row;
    a.metadata = serde_json::from_str(&metadata)?;
    a.context_data = serde_json::from_str(&context)?;
    if let Value::Object(m) = serde_json::from_str(&extra)? {
        a.extra = m;
    }
    a.dataset = dataset.map(|d| serde_json::from_str(&d)).transpose()?;
    let mut link = conn.prepare_cached(
        "SELECT ab.batch FROM asset_batches ab JOIN batches b ON b.id = ab.batch WHERE ab.asset = ?1 ORDER BY b.seq",
    )?;
    a.batches = link
        .query_map([&a.id], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    Ok(a)
}

/// The query for one page of a project's live assets that pass `filter` (selecting `columns`,
/// in upload order), its arguments, and how many assets match in all.
fn asset_page(
    conn: &Connection,
    project: &str,
    filter: &AssetFilter,
    page: u64,
    limit: u64,
    columns: &str,
) -> Result<(String, Vec<rusqlite::types::Value>, u64)> {
    require_project(conn, project)?;
    let (cond, mut args) = asset_conditions(project, filter);
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM assets a WHERE {cond}"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    args.push((limit as i64).into());
    args.push(((page.saturating_sub(1) * limit) as i64).into());
    let sql =
        format!("SELECT {columns} FROM assets a WHERE {cond} ORDER BY a.seq LIMIT ? OFFSET ?");
    Ok((sql, args, total as u64))
}

/// Seals every secret stored before sealing existed, then empties the write-ahead log so the
/// plain copies (overwritten in the database by `secure_delete`) are gone from it too.
fn seal_plain_secrets(conn: &Connection, key: &SealKey) -> Result<()> {
    let plain: Vec<(String, String)> = {
        let mut st = conn.prepare("SELECT id, secret FROM storages")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<std::result::Result<Vec<(String, String)>, _>>()?
            .into_iter()
            .filter(|(_, secret)| !SealKey::is_sealed(secret))
            .collect()
    };
    if plain.is_empty() {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    for (id, secret) in &plain {
        tx.execute(
            "UPDATE storages SET secret = ?2 WHERE id = ?1",
            params![id, key.seal(secret.as_bytes(), id)],
        )?;
    }
    tx.commit()?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

fn batches_of(conn: &Connection, project: &str) -> Result<Vec<Batch>> {
    let mut st =
        conn.prepare_cached("SELECT id, name FROM batches WHERE project = ?1 ORDER BY seq")?;
    let rows = st.query_map([project], |r| {
        Ok(Batch {
            id: r.get(0)?,
            name: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

fn templates_of(conn: &Connection, project: &str) -> Result<Vec<Value>> {
    let mut st =
        conn.prepare_cached("SELECT body FROM templates WHERE project = ?1 ORDER BY seq")?;
    let rows = st.query_map([project], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for body in rows {
        out.push(serde_json::from_str(&body?)?);
    }
    Ok(out)
}

fn project_row(conn: &Connection, id: &str) -> Result<Option<Project>> {
    let row = conn
        .query_row(
            "SELECT id, name, description, type, created FROM projects WHERE id = ?1",
            [id],
            |r| {
                Ok(Project {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    description: r.get(2)?,
                    kind: r.get(3)?,
                    created_at: r.get(4)?,
                    batches: Vec::new(),
                    asset_builder_templates: Vec::new(),
                })
            },
        )
        .optional()?;
    let Some(mut p) = row else { return Ok(None) };
    p.batches = batches_of(conn, id)?;
    p.asset_builder_templates = templates_of(conn, id)?;
    Ok(Some(p))
}

fn require_project(conn: &Connection, id: &str) -> Result<()> {
    let found: Option<i64> = conn
        .query_row("SELECT 1 FROM projects WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| CatalogError::NotFound(format!("project {id} not found")))
}

fn next_seq(conn: &Connection, table: &str) -> Result<i64> {
    Ok(conn.query_row(
        &format!("SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}"),
        [],
        |r| r.get(0),
    )?)
}

fn json_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Null) | None => "{}".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// An asset row: the asset, then its metadata, context data, extra fields and dataset as stored
/// (JSON text).
type AssetRow = (Asset, String, String, String, Option<String>);

fn asset_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssetRow> {
    Ok((
        Asset {
            id: r.get("id")?,
            project: r.get("project")?,
            external_id: r.get("external_id")?,
            data: r.get("data")?,
            dataset: None,
            kind: r.get("kind")?,
            size: r.get::<_, Option<i64>>("size")?.map(|s| s as u64),
            content_hash: r.get("content_hash")?,
            metadata: Value::Null,
            context_data: Value::Null,
            batches: Vec::new(),
            storage: r.get("storage")?,
            priority: r.get("priority")?,
            is_pre_labeled: r.get::<_, i64>("pre_labeled")? != 0,
            extra: serde_json::Map::new(),
            blob_key: r.get("blob_key")?,
            created_at: r.get("created")?,
        },
        r.get("metadata")?,
        r.get("context_data")?,
        r.get("extra")?,
        r.get("dataset")?,
    ))
}

type StorageParts = (String, String, String, String, String);

fn storage_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StorageParts> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Builds the public view of a storage row. The `secret` column is never read here.
fn storage_from_parts((id, name, provider, config, created): StorageParts) -> Result<Storage> {
    let provider = Provider::from_rest_name(&provider).ok_or_else(|| {
        CatalogError::Invalid(format!("storage {id} has an unknown provider {provider:?}"))
    })?;
    let config: Value = serde_json::from_str(&config)?;
    let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Storage {
        region: text("region"),
        bucket: text("bucket"),
        endpoint: text("endpoint"),
        path_style: config.get("pathStyle").and_then(Value::as_bool),
        id,
        name,
        provider: provider.sdk_name().to_owned(),
        kind: provider.rest_name().to_owned(),
        created_at: created,
    })
}

fn storage_row(conn: &Connection, id: &str) -> Result<Option<Storage>> {
    conn.query_row(
        "SELECT id, name, provider, config, created FROM storages WHERE id = ?1",
        [id],
        storage_from_row,
    )
    .optional()?
    .map(storage_from_parts)
    .transpose()
}

impl Catalog for SqliteCatalog {
    fn create_project(&self, name: &str, description: &str, kind: &str) -> Result<Project> {
        if name.trim().is_empty() {
            return Err(CatalogError::Invalid("`name` must not be empty".into()));
        }
        if !PROJECT_TYPES.contains(&kind) {
            return Err(CatalogError::Invalid(format!(
                "`type` must be one of ango, pct, iframe (got {kind:?})"
            )));
        }
        let conn = self.conn();
        let id = new_id();
        conn.execute(
            "INSERT INTO projects (id, name, description, type, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, name, description, kind, now_rfc3339()],
        )?;
        project_row(&conn, &id)?
            .ok_or_else(|| CatalogError::NotFound(format!("project {id} vanished")))
    }

    fn project(&self, id: &str) -> Result<Option<Project>> {
        project_row(&self.conn(), id)
    }

    fn list_projects(&self, page: u64, limit: u64) -> Result<(Vec<Project>, u64)> {
        let conn = self.conn();
        let total: i64 = conn.query_row("SELECT COUNT(*) FROM projects", [], |r| r.get(0))?;
        let mut st = conn.prepare_cached(
            "SELECT id FROM projects ORDER BY created DESC, id DESC LIMIT ?1 OFFSET ?2",
        )?;
        let ids: Vec<String> = st
            .query_map(
                params![limit as i64, (page.saturating_sub(1) * limit) as i64],
                |r| r.get(0),
            )?
            .collect::<std::result::Result<_, _>>()?;
        drop(st);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = project_row(&conn, &id)? {
                out.push(p);
            }
        }
        Ok((out, total as u64))
    }

    fn create_batch(&self, project: &str, name: &str) -> Result<Batch> {
        if name.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "batch `name` must not be empty".into(),
            ));
        }
        let conn = self.conn();
        require_project(&conn, project)?;
        let existing: Option<String> = conn
            .query_row(
                "SELECT id FROM batches WHERE project = ?1 AND name = ?2",
                [project, name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            return Ok(Batch {
                id,
                name: name.to_owned(),
            });
        }
        let id = new_id();
        let seq = next_seq(&conn, "batches")?;
        conn.execute(
            "INSERT INTO batches (id, project, name, seq) VALUES (?1, ?2, ?3, ?4)",
            params![id, project, name, seq],
        )?;
        Ok(Batch {
            id,
            name: name.to_owned(),
        })
    }

    fn replace_batches(
        &self,
        project: &str,
        batches: &[(Option<String>, String)],
    ) -> Result<Vec<Batch>> {
        let mut conn = self.conn();
        require_project(&conn, project)?;
        let tx = conn.transaction()?;
        let existing = batches_of(&tx, project)?;
        let mut seen = std::collections::HashSet::new();
        for (i, (_, name)) in batches.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(CatalogError::Invalid(format!(
                    "batches[{i}].name must not be empty"
                )));
            }
            if !seen.insert(name.as_str()) {
                return Err(CatalogError::Invalid(format!(
                    "batches[{i}].name {name:?} appears twice"
                )));
            }
        }
        let keep: std::collections::HashSet<&str> =
            batches.iter().filter_map(|(id, _)| id.as_deref()).collect();
        for (i, (id, _)) in batches.iter().enumerate() {
            if let Some(id) = id {
                if !existing.iter().any(|b| &b.id == id) {
                    return Err(CatalogError::NotFound(format!(
                        "batches[{i}]._id {id} is not a batch of project {project}"
                    )));
                }
            }
        }
        for b in &existing {
            if !keep.contains(b.id.as_str()) {
                tx.execute("DELETE FROM asset_batches WHERE batch = ?1", [&b.id])?;
                tx.execute("DELETE FROM batches WHERE id = ?1", [&b.id])?;
            }
        }
        // Free the names first so renames that swap names do not trip the UNIQUE constraint.
        for id in &keep {
            tx.execute(
                "UPDATE batches SET name = char(0) || id WHERE id = ?1",
                [id],
            )?;
        }
        for (id, name) in batches {
            let seq = next_seq(&tx, "batches")?;
            match id {
                Some(id) => {
                    tx.execute(
                        "UPDATE batches SET name = ?1, seq = ?2 WHERE id = ?3",
                        params![name, seq, id],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO batches (id, project, name, seq) VALUES (?1, ?2, ?3, ?4)",
                        params![new_id(), project, name, seq],
                    )?;
                }
            }
        }
        let out = batches_of(&tx, project)?;
        tx.commit()?;
        Ok(out)
    }

    fn resolve_batches(&self, project: &str, names_or_ids: &[String]) -> Result<Vec<String>> {
        let conn = self.conn();
        require_project(&conn, project)?;
        let all = batches_of(&conn, project)?;
        let mut out = Vec::with_capacity(names_or_ids.len());
        for b in names_or_ids {
            let found = all
                .iter()
                .find(|x| &x.id == b)
                .or_else(|| all.iter().find(|x| &x.name == b));
            match found {
                Some(x) if !out.contains(&x.id) => out.push(x.id.clone()),
                Some(_) => {}
                None => return Err(CatalogError::NotFound(format!("Batch {b} not found"))),
            }
        }
        Ok(out)
    }

    fn insert_assets(&self, project: &str, assets: &[NewAsset]) -> Result<Vec<(String, bool)>> {
        let mut conn = self.conn();
        require_project(&conn, project)?;
        let tx = conn.transaction()?;
        let mut seq = next_seq(&tx, "assets")?;
        let created = now_rfc3339();
        let mut out = Vec::with_capacity(assets.len());
        {
            let mut find =
                tx.prepare_cached("SELECT id FROM assets WHERE project = ?1 AND upload_id = ?2")?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO assets (id, project, upload_id, external_id, data, dataset, kind, size, content_hash,
                   metadata, context_data, extra, storage, priority, pre_labeled, blob_key, created, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO asset_batches (asset, batch) VALUES (?1, ?2)",
            )?;
            for a in assets {
                if let Some(uid) = &a.upload_id {
                    let prior: Option<String> =
                        find.query_row([project, uid], |r| r.get(0)).optional()?;
                    if let Some(id) = prior {
                        out.push((id, false));
                        continue;
                    }
                }
                let id = new_id();
                let pre_labeled = a
                    .extra
                    .get("classifications")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty());
                let dataset = a.dataset.as_ref().map(serde_json::to_string).transpose()?;
                ins.execute(params![
                    id,
                    project,
                    a.upload_id,
                    a.external_id,
                    a.data,
                    dataset,
                    a.kind,
                    a.size.map(|s| s as i64),
                    a.content_hash,
                    json_text(a.metadata.as_ref()),
                    json_text(a.context_data.as_ref()),
                    Value::Object(a.extra.clone()).to_string(),
                    a.storage,
                    a.priority,
                    i64::from(pre_labeled),
                    a.blob_key,
                    created,
                    seq,
                ])?;
                seq += 1;
                for b in &a.batches {
                    link.execute([&id, b])?;
                }
                out.push((id, true));
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn list_asset_ids(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: u64,
        limit: u64,
    ) -> Result<(Vec<String>, u64)> {
        let conn = self.conn();
        let (sql, page_args, total) = asset_page(&conn, project, filter, page, limit, "a.id")?;
        let mut st = conn.prepare(&sql)?;
        let ids = st
            .query_map(rusqlite::params_from_iter(page_args.iter()), |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        Ok((ids, total))
    }

    fn list_assets(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: u64,
        limit: u64,
    ) -> Result<(Vec<Asset>, u64)> {
        let conn = self.conn();
        let (sql, page_args, total) = asset_page(&conn, project, filter, page, limit, "a.*")?;
        let mut st = conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(page_args.iter()), asset_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(complete_asset(&conn, row?)?);
        }
        Ok((out, total))
    }

    fn assets_with_ids(&self, project: &str, ids: &[String]) -> Result<Vec<Asset>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT a.* FROM assets a WHERE a.project = ?1 AND a.id = ?2 AND a.deleted = 0",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = st.query_row([project, id], asset_from_row).optional()? {
                out.push(complete_asset(&conn, row)?);
            }
        }
        Ok(out)
    }

    fn delete_assets(&self, project: &str, ids: &[String]) -> Result<u64> {
        let mut conn = self.conn();
        require_project(&conn, project)?;
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached(
                "UPDATE assets SET deleted = 1 WHERE project = ?1 AND id = ?2 AND deleted = 0",
            )?;
            for id in ids {
                n += st.execute([project, id])? as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn assets_by_hash(
        &self,
        project: &str,
        hashes: &[String],
    ) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        require_project(&conn, project)?;
        let mut st = conn.prepare_cached(
            "SELECT id, external_id FROM assets
             WHERE project = ?1 AND content_hash = ?2 AND deleted = 0 ORDER BY seq LIMIT 1",
        )?;
        let mut out = Vec::new();
        for h in hashes {
            if let Some((id, ext)) = st
                .query_row([project, h.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
            {
                out.push((h.clone(), id, ext));
            }
        }
        Ok(out)
    }

    fn assign_batches(
        &self,
        project: &str,
        asset_ids: &[String],
        batch_ids: &[String],
    ) -> Result<u64> {
        let mut conn = self.conn();
        require_project(&conn, project)?;
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut exists = tx.prepare_cached(
                "SELECT 1 FROM assets WHERE project = ?1 AND id = ?2 AND deleted = 0",
            )?;
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO asset_batches (asset, batch) VALUES (?1, ?2)",
            )?;
            for (i, a) in asset_ids.iter().enumerate() {
                let found: Option<i64> = exists.query_row([project, a], |r| r.get(0)).optional()?;
                if found.is_none() {
                    return Err(CatalogError::NotFound(format!(
                        "assets[{i}]: asset {a} not found in project {project}"
                    )));
                }
                for b in batch_ids {
                    link.execute([a, b])?;
                }
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn reserve(&self, key: &str, project: &str) -> Result<()> {
        let conn = self.conn();
        require_project(&conn, project)?;
        let n = conn.execute(
            "INSERT OR IGNORE INTO reservations (key, project, created) VALUES (?1, ?2, ?3)",
            params![key, project, now_rfc3339()],
        )?;
        if n == 0 {
            return Err(CatalogError::Conflict(format!(
                "the upload name {key} is already taken; choose another name"
            )));
        }
        Ok(())
    }

    fn reservation(&self, key: &str) -> Result<Option<Reservation>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT key, project, size, content_hash, kind,
                   EXISTS (SELECT 1 FROM assets WHERE blob_key = reservations.key)
                 FROM reservations WHERE key = ?1",
                [key],
                |r| {
                    Ok(Reservation {
                        key: r.get(0)?,
                        project: r.get(1)?,
                        size: r.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                        content_hash: r.get(3)?,
                        kind: r.get(4)?,
                        registered: r.get::<_, i64>(5)? != 0,
                    })
                },
            )
            .optional()?)
    }

    fn abandoned_reservations(&self, before: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT key FROM reservations WHERE created < ?1
               AND NOT EXISTS (SELECT 1 FROM assets WHERE blob_key = reservations.key)",
        )?;
        let keys = st
            .query_map([before], |r| r.get(0))?
            .collect::<std::result::Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    fn remove_reservations(&self, keys: &[String]) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached(
                "DELETE FROM reservations WHERE key = ?1
                   AND NOT EXISTS (SELECT 1 FROM assets WHERE blob_key = ?1)",
            )?;
            for k in keys {
                n += st.execute([k])? as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn complete_reservation(
        &self,
        key: &str,
        size: u64,
        content_hash: &str,
        kind: Option<&str>,
    ) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE reservations SET size = ?1, content_hash = ?2, kind = ?3 WHERE key = ?4",
            params![size as i64, content_hash, kind, key],
        )?;
        if n == 0 {
            return Err(CatalogError::NotFound(format!("no reservation for {key}")));
        }
        Ok(())
    }

    fn save_template(&self, project: &str, mut template: Value) -> Result<Value> {
        let conn = self.conn();
        require_project(&conn, project)?;
        let Some(obj) = template.as_object_mut() else {
            return Err(CatalogError::Invalid(
                "the template must be a JSON object".into(),
            ));
        };
        let id = new_id();
        obj.insert("_id".into(), Value::String(id.clone()));
        let seq = next_seq(&conn, "templates")?;
        conn.execute(
            "INSERT INTO templates (id, project, body, seq) VALUES (?1, ?2, ?3, ?4)",
            params![id, project, template.to_string(), seq],
        )?;
        Ok(template)
    }

    fn create_storage(&self, storage: &NewStorage) -> Result<Storage> {
        if storage.name.trim().is_empty() {
            return Err(CatalogError::Invalid("`name` must not be empty".into()));
        }
        let conn = self.conn();
        let id = new_id();
        let mut config = serde_json::json!({"region": storage.region, "bucket": storage.bucket});
        // Only what was given, so existing rows and new ones read back the same way.
        if let Some(e) = &storage.endpoint {
            config["endpoint"] = Value::String(e.clone());
        }
        if let Some(p) = storage.path_style {
            config["pathStyle"] = Value::Bool(p);
        }
        let n = conn.execute(
            "INSERT OR IGNORE INTO storages (id, name, provider, config, secret, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                storage.name,
                storage.provider.rest_name(),
                config.to_string(),
                self.key.seal(storage.secret.to_string().as_bytes(), &id),
                now_rfc3339()
            ],
        )?;
        if n == 0 {
            return Err(CatalogError::Conflict(format!(
                "`name`: a storage named {:?} already exists; choose another name",
                storage.name
            )));
        }
        storage_row(&conn, &id)?
            .ok_or_else(|| CatalogError::NotFound(format!("storage {id} vanished")))
    }

    fn storage(&self, id: &str) -> Result<Option<Storage>> {
        storage_row(&self.conn(), id)
    }

    fn storage_with_secret(&self, id: &str) -> Result<Option<(Storage, StorageSecret)>> {
        let conn = self.conn();
        let Some(storage) = storage_row(&conn, id)? else {
            return Ok(None);
        };
        let secret: String =
            conn.query_row("SELECT secret FROM storages WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        // Sealed at open when stored before sealing; a plain value is read as it is only if
        // another process wrote it since.
        let plain = if SealKey::is_sealed(&secret) {
            self.key.open(&secret, id).map_err(|e| {
                CatalogError::Invalid(format!(
                    "storage {id}: its credentials cannot be read: {e}; delete the storage and add it again"
                ))
            })?
        } else {
            secret.into_bytes()
        };
        Ok(Some((
            storage,
            StorageSecret(serde_json::from_slice(&plain)?),
        )))
    }

    fn list_storages(&self, page: u64, limit: Option<u64>) -> Result<(Vec<Storage>, u64)> {
        let conn = self.conn();
        let total: i64 = conn.query_row("SELECT COUNT(*) FROM storages", [], |r| r.get(0))?;
        // SQLite reads LIMIT -1 as "no limit".
        let (limit, offset) = match limit {
            Some(l) => (l as i64, (page.saturating_sub(1) * l) as i64),
            None => (-1, 0),
        };
        let mut st = conn.prepare_cached(
            "SELECT id, name, provider, config, created FROM storages ORDER BY rowid LIMIT ?1 OFFSET ?2",
        )?;
        let rows = st.query_map(params![limit, offset], storage_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(storage_from_parts(row?)?);
        }
        Ok((out, total as u64))
    }

    fn delete_storage(&self, id: &str) -> Result<Storage> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(found) = storage_row(&tx, id)? else {
            return Err(CatalogError::NotFound(format!("storage {id} not found")));
        };
        let assets: i64 = tx.query_row(
            "SELECT COUNT(*) FROM assets WHERE storage = ?1 AND deleted = 0",
            [id],
            |r| r.get(0),
        )?;
        let templates: i64 = tx.query_row(
            "SELECT COUNT(*) FROM templates t, json_each(t.body, '$.dataConfig') c
             WHERE json_extract(c.value, '$.storage') = ?1",
            [id],
            |r| r.get(0),
        )?;
        if assets > 0 || templates > 0 {
            return Err(CatalogError::Conflict(format!(
                "storage {id} is still used by {assets} asset(s) and {templates} asset-builder template column(s); delete those first"
            )));
        }
        tx.execute("DELETE FROM storages WHERE id = ?1", [id])?;
        tx.commit()?;
        // The credentials' old copies live on in the write-ahead log until it is checkpointed:
        // write them back (zeroed, with secure_delete) and empty the log.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(found)
    }

    fn kept_reply(&self, key: &str) -> Result<Option<KeptReply>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT fingerprint, status, body FROM replies WHERE key = ?1",
                [key],
                |r| {
                    Ok(KeptReply {
                        fingerprint: r.get(0)?,
                        status: r.get(1)?,
                        body: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn keep_reply(&self, key: &str, reply: &KeptReply) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO replies (key, fingerprint, status, body, created)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                key,
                reply.fingerprint,
                reply.status,
                reply.body,
                now_rfc3339()
            ],
        )?;
        Ok(())
    }

    fn forget_replies(&self, before: &str) -> Result<u64> {
        Ok(self
            .conn()
            .execute("DELETE FROM replies WHERE created < ?1", [before])? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements an upload or a registration runs, each time, in a project of any size:
    /// each must go straight to its rows through an index (a scan of `assets`, or of a whole
    /// project's rows, makes every request slower as the catalog grows: 40 times at 200,000).
    #[test]
    fn hot_statements_reach_their_rows_through_an_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = SqliteCatalog::open(&dir.path().join("c.sqlite"), SealKey::random()).expect("open");
        let conn = c.conn();
        for (sql, index) in [
            (
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM assets",
                "COVERING INDEX assets_seq",
            ),
            (
                "SELECT id FROM assets WHERE project = ?1 AND upload_id = ?2",
                "assets_upload_id (project=? AND upload_id=?)",
            ),
            (
                "SELECT id, external_id FROM assets
                 WHERE project = ?1 AND content_hash = ?2 AND deleted = 0 ORDER BY seq LIMIT 1",
                "assets_hash_live (project=? AND content_hash=? AND deleted=?)",
            ),
            (
                "SELECT 1 FROM assets WHERE blob_key = ?1",
                "assets_blob (blob_key=?)",
            ),
            (
                "SELECT COUNT(*) FROM assets a WHERE a.project = ? AND a.deleted = 0",
                "assets_project (project=? AND deleted=?)",
            ),
            (
                "SELECT a.* FROM assets a WHERE a.project = ? AND a.deleted = 0
                 ORDER BY a.seq LIMIT ? OFFSET ?",
                "assets_project (project=? AND deleted=?)",
            ),
            (
                "SELECT a.* FROM assets a WHERE a.project = ? AND a.deleted = 0
                 AND a.external_id = ? ORDER BY a.seq LIMIT ? OFFSET ?",
                "assets_external_live (project=? AND external_id=? AND deleted=?)",
            ),
            (
                "SELECT COUNT(*) FROM assets a WHERE a.project = ? AND a.deleted = 0
                 AND a.external_id = ?",
                "assets_external_live (project=? AND external_id=? AND deleted=?)",
            ),
            (
                "UPDATE assets SET deleted = 1 WHERE project = ?1 AND id = ?2 AND deleted = 0",
                "sqlite_autoindex_assets_1 (id=?)",
            ),
            (
                "SELECT COUNT(*) FROM assets WHERE storage = ?1 AND deleted = 0",
                "assets_storage (storage=?)",
            ),
        ] {
            let mut st = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let plan: Vec<String> = st
                .query_map(
                    rusqlite::params_from_iter(std::iter::repeat_n(
                        rusqlite::types::Value::Null,
                        sql.matches('?').count(),
                    )),
                    |r| r.get::<_, String>(3),
                )
                .expect("plan")
                .collect::<std::result::Result<_, _>>()
                .expect("rows");
            assert!(
                plan.iter()
                    .any(|d| d.starts_with("SEARCH") && d.ends_with(index)),
                "{sql}\ndoes not go through {index}: {plan:?}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|d| d.starts_with("SCAN") || d.contains("TEMP B-TREE")),
                "{sql}\nscans or sorts: {plan:?}"
            );
        }
    }

    #[test]
    fn a_kept_reply_is_the_first_one_until_it_is_forgotten() {
        let c = SqliteCatalog::in_memory().expect("open");
        assert_eq!(c.kept_reply("k").expect("look up"), None);
        let first = KeptReply {
            fingerprint: "f1".into(),
            status: 201,
            body: b"{\"a\":1}".to_vec(),
        };
        c.keep_reply("k", &first).expect("keep");
        let second = KeptReply {
            fingerprint: "f2".into(),
            status: 200,
            body: b"{}".to_vec(),
        };
        c.keep_reply("k", &second).expect("keep again");
        assert_eq!(c.kept_reply("k").expect("look up"), Some(first));
        assert_eq!(c.forget_replies("2000-01-01T00:00:00Z").expect("forget"), 0);
        assert_eq!(c.forget_replies("9999-01-01T00:00:00Z").expect("forget"), 1);
        assert_eq!(c.kept_reply("k").expect("look up"), None);
    }

    #[test]
    fn projects_batches_assets_round_trip() {
        let c = SqliteCatalog::in_memory().expect("open");
        let p = c.create_project("Cats", "", "ango").expect("project");
        assert!(matches!(
            c.create_project("x", "", "nope"),
            Err(CatalogError::Invalid(_))
        ));
        let b1 = c.create_batch(&p.id, "one").expect("batch");
        assert_eq!(
            c.create_batch(&p.id, "one").expect("again").id,
            b1.id,
            "same name, same batch"
        );
        let b2 = c.create_batch(&p.id, "two").expect("batch");
        assert_eq!(
            c.resolve_batches(&p.id, &["two".into(), b1.id.clone()])
                .expect("resolve"),
            vec![b2.id.clone(), b1.id.clone()]
        );
        assert!(
            matches!(c.resolve_batches(&p.id, &["three".into()]), Err(CatalogError::NotFound(m)) if m.contains("three"))
        );

        let a = NewAsset {
            upload_id: Some("u1".into()),
            external_id: "a.png".into(),
            batches: vec![b1.id.clone(), b2.id.clone()],
            ..NewAsset::default()
        };
        let b = NewAsset {
            external_id: "b.png".into(),
            batches: vec![b1.id.clone()],
            ..NewAsset::default()
        };
        let ids = c.insert_assets(&p.id, &[a.clone(), b]).expect("insert");
        assert!(ids.iter().all(|(_, new)| *new));
        let again = c.insert_assets(&p.id, &[a]).expect("insert again");
        assert_eq!(
            again,
            vec![(ids[0].0.clone(), false)],
            "same upload id registers once"
        );

        let both = AssetFilter {
            batches: vec![b1.id.clone(), b2.id.clone()],
            ..AssetFilter::default()
        };
        let (list, total) = c.list_assets(&p.id, &both, 1, 10).expect("list");
        assert_eq!(
            (total, list.len(), list[0].external_id.as_str()),
            (1, 1, "a.png")
        );
        let (all, total) = c
            .list_assets(&p.id, &AssetFilter::default(), 1, 1)
            .expect("page");
        assert_eq!((total, all.len()), (2, 1));

        assert_eq!(
            c.delete_assets(&p.id, &[ids[1].0.clone()]).expect("delete"),
            1
        );
        assert_eq!(
            c.list_assets(&p.id, &AssetFilter::default(), 1, 10)
                .expect("list")
                .1,
            1
        );

        let replaced = c
            .replace_batches(
                &p.id,
                &[
                    (Some(b2.id.clone()), "renamed".into()),
                    (None, "new".into()),
                ],
            )
            .expect("replace");
        assert_eq!(
            replaced.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["renamed", "new"]
        );
        let (list, _) = c
            .list_assets(&p.id, &AssetFilter::default(), 1, 10)
            .expect("list");
        assert_eq!(
            list[0].batches,
            vec![b2.id.clone()],
            "removed batch unlinked from assets"
        );
    }

    #[test]
    fn storages_keep_their_secret_out_of_sight() {
        let c = SqliteCatalog::in_memory().expect("open");
        let new = NewStorage {
            name: "s3".into(),
            provider: Provider::Aws,
            region: Some("eu-central-1".into()),
            bucket: None,
            endpoint: None,
            path_style: None,
            secret: serde_json::json!({"privateKey": "hush"}),
        };
        assert!(!format!("{new:?}").contains("hush"), "Debug redacts");
        let s = c.create_storage(&new).expect("create");
        assert_eq!((s.provider.as_str(), s.kind.as_str()), ("AWS", "aws"));
        assert!(!serde_json::to_string(&s).expect("json").contains("hush"));
        assert!(matches!(
            c.create_storage(&new),
            Err(CatalogError::Conflict(m)) if m.contains("s3")
        ));
        let gcs = c
            .create_storage(&NewStorage {
                name: "gcs".into(),
                provider: Provider::Gcs,
                ..new.clone()
            })
            .expect("create");
        assert_eq!(c.list_storages(1, None).expect("all").1, 2);
        let (page, total) = c.list_storages(2, Some(1)).expect("page");
        assert_eq!((total, page), (2, vec![gcs.clone()]));
        assert_eq!(c.storage(&s.id).expect("get"), Some(s.clone()));
        let (again, secret) = c.storage_with_secret(&s.id).expect("get").expect("some");
        assert_eq!(
            (again, secret.0["privateKey"].as_str()),
            (s.clone(), Some("hush"))
        );
        assert!(!format!("{secret:?}").contains("hush"), "Debug redacts");

        let p = c.create_project("P", "", "ango").expect("project");
        let used = NewAsset {
            external_id: "a".into(),
            storage: Some(s.id.clone()),
            ..NewAsset::default()
        };
        let ids = c.insert_assets(&p.id, &[used]).expect("insert");
        assert!(matches!(
            c.delete_storage(&s.id),
            Err(CatalogError::Conflict(_))
        ));
        c.save_template(
            &p.id,
            serde_json::json!({"dataConfig": {"img": {"type": "image", "storage": gcs.id}}}),
        )
        .expect("template");
        assert!(
            matches!(c.delete_storage(&gcs.id), Err(CatalogError::Conflict(m)) if m.contains("template"))
        );
        c.delete_assets(&p.id, &[ids[0].0.clone()]).expect("delete");
        assert_eq!(c.delete_storage(&s.id).expect("deleted").id, s.id);
        assert!(matches!(
            c.delete_storage(&s.id),
            Err(CatalogError::NotFound(_))
        ));
        assert_eq!(c.storage(&s.id).expect("get"), None);
    }

    #[test]
    fn reservations_are_unique() {
        let c = SqliteCatalog::in_memory().expect("open");
        let p = c.create_project("P", "", "ango").expect("project");
        c.reserve("uploaded-data/x/a.png", &p.id).expect("reserve");
        assert!(matches!(
            c.reserve("uploaded-data/x/a.png", &p.id),
            Err(CatalogError::Conflict(_))
        ));
        c.complete_reservation("uploaded-data/x/a.png", 3, "abc", Some("image"))
            .expect("complete");
        let r = c
            .reservation("uploaded-data/x/a.png")
            .expect("get")
            .expect("some");
        assert_eq!((r.size, r.kind.as_deref()), (Some(3), Some("image")));
    }
}
