//! [`HubClient`]: the client side of Ango's v2 import API, used against our hub or any hub that
//! speaks it. Requests are retried on purpose: connect failures, timeouts, 5xx and 429 (honouring
//! `Retry-After`), with exponential backoff and full jitter. Keys and signed URLs never appear in
//! errors or logs.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, ErrorCode};

/// When and how often to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    pub base: Duration,
    /// Largest backoff (and largest `Retry-After` honoured).
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 6,
            base: Duration::from_millis(200),
            max: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based): full jitter over an exponential cap.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let ms = cap.as_millis().max(1) as u64;
        Duration::from_millis(rand::random_range(ms / 2..=ms))
    }
}

/// A URL with its query string (signatures) and userinfo removed, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            let signed = u.query().is_some();
            u.set_query(None);
            let mut s = u.to_string();
            if signed {
                s.push_str("?<redacted>");
            }
            s
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// A batch as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInfo {
    /// Batch ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// Batch name.
    pub name: String,
}

/// A project as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectInfo {
    /// Project ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `ango`, `pct` or `iframe`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Batches.
    #[serde(default)]
    pub batches: Vec<BatchInfo>,
    /// Saved asset-builder templates, as the hub stores them.
    #[serde(default)]
    pub asset_builder_templates: Vec<Value>,
    /// Creation time.
    #[serde(default)]
    pub created_at: String,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many match in all.
    pub total: u64,
}

/// What one registration request created.
#[derive(Debug, Clone)]
pub struct Registered {
    /// Asset IDs in the order sent (an already-registered upload ID yields the earlier asset).
    pub asset_ids: Vec<String>,
    /// How many were new.
    pub created: u64,
}

/// The outcome of one attempt that is not a final error.
enum Attempt {
    /// A 2xx answer.
    Done(reqwest::Response),
    /// Try again after this wait.
    Retry(Duration),
}

/// A client for one hub and API key. Cheap to clone (connection pool shared).
#[derive(Clone)]
pub struct HubClient {
    base: String,
    key: String,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("base", &self.base)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Default wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default wait for the next bytes of an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

fn http_client(connect: Duration, read: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .read_timeout(read)
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| Error::with_source(ErrorCode::Internal, "cannot set up the HTTP client", e))
}

fn network(what: &str, e: reqwest::Error) -> Error {
    let mut msg = format!("{what}: ");
    if e.is_timeout() {
        msg.push_str("timed out");
    } else if e.is_connect() {
        msg.push_str("could not connect");
    } else {
        msg.push_str("the connection failed");
    }
    Error::with_source(ErrorCode::Network, msg, e.without_url())
}

fn code_for(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 | 403 => ErrorCode::Unauthorized,
        404 => ErrorCode::NotFound,
        409 => ErrorCode::Conflict,
        400..=499 if status != StatusCode::TOO_MANY_REQUESTS => ErrorCode::InvalidInput,
        _ => ErrorCode::Network,
    }
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

async fn fail_message(resp: reqwest::Response) -> String {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let msg = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(300).collect());
    if msg.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("{msg} (HTTP {})", status.as_u16())
    }
}

impl HubClient {
    /// A client for the hub at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, api_key: &str) -> Result<Self, Error> {
        let parsed = url::Url::parse(base).map_err(|e| {
            Error::with_source(
                ErrorCode::InvalidInput,
                format!("the hub URL {base:?} is not a URL"),
                e,
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("the hub URL {base:?} must start with http:// or https://"),
            ));
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key: api_key.to_owned(),
            http: http_client(CONNECT_TIMEOUT, READ_TIMEOUT)?,
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the timeouts: `connect` for making a connection, `read` for each wait for the
    /// next bytes of an answer (so only a silent hub is given up on, never a long upload or a
    /// big listing). A call that times out is retried like any failed connection. Defaults:
    /// 10 s and 120 s.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration) -> Result<Self, Error> {
        self.http = http_client(connect, read)?;
        Ok(self)
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The hub's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Sends one v2 call with retries and returns its `data`. For calls that are safe to repeat
    /// as they are (reads, reservations, registrations by upload ID, batches by name).
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        self.send(method, path_and_query, body, None).await
    }

    /// Sends a call that must take effect once (a creation, a deletion) with a new
    /// `Idempotency-Key`, the same on every retry: when an answer is lost and the call is sent
    /// again, the hub answers the repeat with the first answer instead of running it twice.
    async fn call_once(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let key = hex::encode(rand::random::<[u8; 16]>());
        self.send(method, path_and_query, body, Some(&key)).await
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Error> {
        let url = format!("{}{path_and_query}", self.base);
        let what = format!(
            "{method} {}",
            path_and_query.split('?').next().unwrap_or(path_and_query)
        );
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("apikey", &self.key);
            if let Some(k) = idempotency_key {
                req = req.header("Idempotency-Key", k);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let wait = match self.judge(req.send().await, attempt, &what).await? {
                Attempt::Done(resp) => match resp.bytes().await {
                    Ok(body) => {
                        let v: Value = serde_json::from_slice(&body).map_err(|e| {
                            Error::with_source(
                                ErrorCode::Network,
                                format!("{what}: the answer is not JSON; is this a hub?"),
                                e,
                            )
                        })?;
                        return Ok(v.get("data").cloned().unwrap_or(Value::Null));
                    }
                    // The answer broke off after its status line. As when a connection fails
                    // before any answer, the call may or may not have taken effect, and it is
                    // sent again like those: the calls an upload makes (reservations, lookups,
                    // registration by upload ID) are safe to repeat.
                    Err(_) if attempt < self.retry.max_retries => self.retry.backoff(attempt),
                    Err(e) => return Err(network(&what, e)),
                },
                Attempt::Retry(wait) => wait,
            };
            tracing::debug!("{what}: retrying in {wait:?}");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Decides what one attempt's outcome means: done, retry after a wait, or a final error.
    /// Connection failures, timeouts, 5xx and 429 are retried (honouring `Retry-After`) until
    /// the policy's retries are spent; anything else is final.
    async fn judge(
        &self,
        res: reqwest::Result<reqwest::Response>,
        attempt: u32,
        what: &str,
    ) -> Result<Attempt, Error> {
        let more = attempt < self.retry.max_retries;
        match res {
            Ok(resp) if resp.status().is_success() => Ok(Attempt::Done(resp)),
            Ok(resp) if retryable(resp.status()) && more => Ok(Attempt::Retry(
                retry_after(&resp)
                    .map_or_else(|| self.retry.backoff(attempt), |d| d.min(self.retry.max)),
            )),
            Ok(resp) => {
                let status = resp.status();
                Err(Error::new(
                    code_for(status),
                    format!("{what}: {}", fail_message(resp).await),
                ))
            }
            Err(e) if more && !e.is_builder() && !e.is_decode() => {
                Ok(Attempt::Retry(self.retry.backoff(attempt)))
            }
            Err(e) => Err(network(what, e)),
        }
    }

    fn field<T: DeserializeOwned>(data: &Value, key: &str, what: &str) -> Result<T, Error> {
        let v = data.get(key).cloned().unwrap_or(Value::Null);
        serde_json::from_value(v).map_err(|e| {
            Error::with_source(
                ErrorCode::Internal,
                format!("{what}: the hub's answer lacks a valid `{key}`"),
                e,
            )
        })
    }

    /// Creates a project (`type` `ango`).
    pub async fn create_project(
        &self,
        name: &str,
        description: &str,
    ) -> Result<ProjectInfo, Error> {
        let data = self
            .call_once(
                Method::POST,
                "/v2/project",
                Some(&json!({"name": name, "description": description})),
            )
            .await?;
        Self::field(&data, "project", "create project")
    }

    /// One project, with its batches.
    pub async fn project(&self, id: &str) -> Result<ProjectInfo, Error> {
        let data = self
            .call(Method::GET, &format!("/v2/project/{}", enc(id)), None)
            .await?;
        Self::field(&data, "project", "get project")
    }

    /// A page of projects (1-based).
    pub async fn list_projects(&self, page: u64, limit: u64) -> Result<Page<ProjectInfo>, Error> {
        let data = self
            .call(
                Method::GET,
                &format!("/v2/listProjects?page={page}&limit={limit}"),
                None,
            )
            .await?;
        Ok(Page {
            items: Self::field(&data, "projects", "list projects")?,
            total: Self::field(&data, "total", "list projects")?,
        })
    }

    /// Creates a batch, or returns the existing one with that name.
    pub async fn create_batch(&self, project: &str, name: &str) -> Result<BatchInfo, Error> {
        let data = self
            .call(
                Method::POST,
                &format!("/v2/batches/{}", enc(project)),
                Some(&json!({"name": name})),
            )
            .await?;
        Self::field(&data, "project", "create batch")
    }

    /// Which of these contents (BLAKE3 hex) the project holds already: hash → (asset ID,
    /// external ID). Asks in requests of at most 10,000 hashes.
    pub async fn assets_by_content(
        &self,
        project: &str,
        hashes: &[String],
    ) -> Result<HashMap<String, (String, String)>, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Found {
            content_hash: String,
            #[serde(rename = "_id")]
            id: String,
            external_id: String,
        }
        let mut out = HashMap::new();
        for chunk in hashes.chunks(10_000) {
            let data = self
                .call(
                    Method::POST,
                    &format!("/v2/project/{}/assets/byContent", enc(project)),
                    Some(&json!({"contentHashes": chunk})),
                )
                .await?;
            let found: Vec<Found> = Self::field(&data, "assets", "find assets by content")?;
            out.extend(
                found
                    .into_iter()
                    .map(|f| (f.content_hash, (f.id, f.external_id))),
            );
        }
        Ok(out)
    }

    /// Saves an asset-builder template (the Ango template object) on a project; returns it with
    /// its `_id`.
    pub async fn save_template(&self, project: &str, template: &Value) -> Result<Value, Error> {
        let data = self
            .call_once(
                Method::POST,
                &format!("/v2/project/{}/assetBuilderTemplates", enc(project)),
                Some(template),
            )
            .await?;
        Self::field(&data, "assetBuilderTemplate", "save template")
    }

    /// Reserves an upload and returns the signed PUT URL.
    pub async fn upload_url(&self, project: &str, name: &str) -> Result<String, Error> {
        let data = self
            .call(
                Method::GET,
                &format!(
                    "/v2/getUploadUrl?name={}&project={}&type=assets",
                    enc(name),
                    enc(project)
                ),
                None,
            )
            .await?;
        Self::field(&data, "uploadUrl", "get upload URL")
    }

    /// A signed GET URL for an asset URL.
    pub async fn signed_url(&self, asset_url: &str) -> Result<String, Error> {
        let data = self
            .call(
                Method::GET,
                &format!("/v2/getSignedUrl?url={}", enc(asset_url)),
                None,
            )
            .await?;
        Self::field(&data, "signedUrl", "get signed URL")
    }

    /// Streams a file to a signed PUT URL (never the whole file in memory), retrying from the
    /// start on retryable failures. `on_progress` gets cumulative bytes of the current attempt.
    pub async fn put_file(
        &self,
        url: &str,
        path: &Path,
        on_progress: std::sync::Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<(), Error> {
        let shown = redact(url);
        let mut attempt = 0;
        loop {
            let file = fs_err::tokio::File::open(path).await.map_err(|e| {
                Error::with_source(
                    ErrorCode::NotFound,
                    format!("cannot open {}", path.display()),
                    e,
                )
            })?;
            let len = file
                .metadata()
                .await
                .map_err(|e| {
                    Error::with_source(
                        ErrorCode::Internal,
                        format!("cannot read {}", path.display()),
                        e,
                    )
                })?
                .len();
            let mut sent = 0u64;
            let stream = tokio_util::io::ReaderStream::with_capacity(file.into_parts().0, 1 << 20);
            let report = on_progress.clone();
            let progress = futures::StreamExt::inspect(stream, move |chunk| {
                if let Ok(c) = chunk {
                    sent += c.len() as u64;
                    report(sent);
                }
            });
            let body = reqwest::Body::wrap_stream(progress);
            let res = self
                .http
                .put(url)
                .header(reqwest::header::CONTENT_LENGTH, len)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body)
                .send()
                .await;
            let wait = match self.judge(res, attempt, &format!("PUT {shown}")).await? {
                Attempt::Done(_) => return Ok(()),
                Attempt::Retry(wait) => wait,
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Registers assets (`POST /v2/project/{id}/cloud`). `batches` (names or IDs) apply to every
    /// asset without its own `batches`.
    pub async fn register(
        &self,
        project: &str,
        assets: &[Value],
        batches: &[String],
        upload_local: bool,
        priority: i64,
    ) -> Result<Registered, Error> {
        let mut path = format!("/v2/project/{}/cloud", enc(project));
        if !batches.is_empty() {
            path.push_str("?batches=");
            path.push_str(&enc(&serde_json::to_string(batches).unwrap_or_default()));
        }
        let body = json!({"assets": assets, "uploadLocal": if upload_local { "true" } else { "false" }, "priority": priority});
        let data = self.call(Method::POST, &path, Some(&body)).await?;
        let asset_ids: Vec<String> = Self::field(&data, "assetIds", "register assets")?;
        let created = data
            .pointer("/assets/assetsCreated")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Ok(Registered { asset_ids, created })
    }

    /// A page of a project's assets (1-based), with optional `filters` as the API takes them.
    pub async fn list_assets(
        &self,
        project: &str,
        page: u64,
        limit: u64,
        filters: &Value,
    ) -> Result<Page<Value>, Error> {
        let mut path = format!(
            "/v2/project/{}/assets?page={page}&limit={limit}",
            enc(project)
        );
        if !filters.is_null() {
            path.push_str("&filters=");
            path.push_str(&enc(&filters.to_string()));
        }
        let data = self.call(Method::GET, &path, None).await?;
        Ok(Page {
            items: Self::field(&data, "assets", "list assets")?,
            total: Self::field(&data, "total", "list assets")?,
        })
    }
}

/// A storage integration as the hub shows it (never with its credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageInfo {
    /// Storage ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `AWS`, `GCP` or `AZURE`.
    pub provider: String,
    /// Region, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The storage's own bucket (or container), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Custom endpoint, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// One object in a storage listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageFile {
    /// Full key in the bucket.
    pub key: String,
    /// Last part of the key.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, RFC 3339.
    #[serde(default)]
    pub last_modified: String,
    /// The URL an asset references it by (with `storage` set).
    pub url: String,
    /// Presigned GET URL, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_url: Option<String>,
}

/// One folder in a storage listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageFolder {
    /// The folder's prefix, ending with `/`.
    pub key: String,
    /// The folder's own name.
    pub name: String,
}

/// One page of a storage listing (`GET /v2/storages/{id}/files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageListing {
    /// The bucket listed.
    pub bucket: String,
    /// The prefix listed.
    pub path: String,
    /// Files directly under the prefix.
    pub files: Vec<StorageFile>,
    /// Folders directly under the prefix.
    pub folders: Vec<StorageFolder>,
    /// Token of the next page, absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_token: Option<String>,
}

impl HubClient {
    /// Registers a storage integration. `body` is either of the hub's accepted shapes; the
    /// credentials in it are sent once and never come back.
    pub async fn create_storage(&self, body: &Value) -> Result<StorageInfo, Error> {
        let data = self
            .call_once(Method::POST, "/v2/storages", Some(body))
            .await?;
        Self::field(&data, "storage", "create storage")
    }

    /// Every storage integration.
    pub async fn list_storages(&self) -> Result<Vec<StorageInfo>, Error> {
        let data = self.call(Method::GET, "/v2/storages", None).await?;
        Self::field(&data, "storages", "list storages")
    }

    /// Removes a storage integration (refused while assets use it).
    pub async fn delete_storage(&self, id: &str) -> Result<StorageInfo, Error> {
        let data = self
            .call_once(Method::DELETE, &format!("/v2/storages/{}", enc(id)), None)
            .await?;
        Self::field(&data, "storage", "delete storage")
    }

    /// One page of the files and folders directly under `path` in a storage's bucket (its own
    /// bucket when `bucket` is `None`); pass the page's `scroll_token` to get the next.
    pub async fn list_storage_files(
        &self,
        id: &str,
        bucket: Option<&str>,
        path: &str,
        scroll_token: Option<&str>,
        signed_urls: bool,
    ) -> Result<StorageListing, Error> {
        let mut q = format!(
            "/v2/storages/{}/files?path={}&getSignedUrls={signed_urls}",
            enc(id),
            enc(path)
        );
        if let Some(b) = bucket {
            q.push_str("&bucketName=");
            q.push_str(&enc(b));
        }
        if let Some(t) = scroll_token {
            q.push_str("&scrollToken=");
            q.push_str(&enc(t));
        }
        let data = self.call(Method::GET, &q, None).await?;
        serde_json::from_value(data).map_err(|e| {
            Error::with_source(
                ErrorCode::Internal,
                "list storage files: the hub's answer is not a listing",
                e,
            )
        })
    }

    /// A presigned GET URL for an object of a storage (`GET /v2/getSignedUrl?storageId=`).
    pub async fn storage_signed_url(&self, storage: &str, url: &str) -> Result<String, Error> {
        let data = self
            .call(
                Method::GET,
                &format!(
                    "/v2/getSignedUrl?url={}&storageId={}",
                    enc(url),
                    enc(storage)
                ),
                None,
            )
            .await?;
        Self::field(&data, "signedUrl", "get signed URL")
    }
}

/// What `import_prefix` imports: every object under a prefix of a storage's bucket, as assets
/// that reference the objects (nothing is copied).
#[derive(Debug, Clone)]
pub struct PrefixImport {
    /// Target project ID.
    pub project: String,
    /// Storage integration ID.
    pub storage: String,
    /// Bucket; the storage's own when `None`.
    pub bucket: Option<String>,
    /// Folder path in the bucket (`""` for the top).
    pub prefix: String,
    /// Walk sub-folders too.
    pub recursive: bool,
    /// Only files with these extensions (case-insensitive, with or without the dot); all when
    /// empty.
    pub extensions: Vec<String>,
    /// Put each asset in a batch named after the folder holding it (created when missing).
    pub folder_as_batch: bool,
    /// List what would be imported; register nothing.
    pub dry_run: bool,
    /// Task priority, −1000..1000.
    pub priority: i64,
    /// Assets registered per request.
    pub chunk: usize,
}

impl PrefixImport {
    /// Defaults: not recursive, every extension, no batches, priority 0, 500 per request.
    pub fn new(
        project: impl Into<String>,
        storage: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            project: project.into(),
            storage: storage.into(),
            bucket: None,
            prefix: prefix.into(),
            recursive: false,
            extensions: Vec::new(),
            folder_as_batch: false,
            dry_run: false,
            priority: 0,
            chunk: 500,
        }
    }
}

/// One object of a prefix import.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefixImported {
    /// Object key.
    pub key: String,
    /// External ID: the key relative to the prefix.
    pub external_id: String,
    /// The object's URL, the asset's `data`.
    pub url: String,
    /// Batch name, with `folder_as_batch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// The asset, once registered (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
}

/// An object left out of a prefix import, and why.
#[derive(Debug, Clone, Serialize)]
pub struct PrefixSkipped {
    /// Object key.
    pub key: String,
    /// Why it was left out.
    pub reason: String,
}

/// What a prefix import did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefixImportSummary {
    /// The bucket imported from.
    pub bucket: String,
    /// Objects imported (or, in a dry run, that would be).
    pub imported: Vec<PrefixImported>,
    /// Objects left out by the extension filter.
    pub skipped: Vec<PrefixSkipped>,
    /// Assets newly created (objects imported before into the project count once).
    pub created: u64,
    /// Whether nothing was registered.
    pub dry_run: bool,
}

/// The batch of an object with `folder_as_batch`: the name of the folder holding it (the
/// prefix's own last folder for objects directly under it).
fn folder_batch(key: &str) -> Option<String> {
    let parent = key.rsplit_once('/').map(|(p, _)| p)?;
    parent
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

impl HubClient {
    /// Imports every object under a prefix of a storage as assets that reference it, with
    /// external IDs relative to the prefix. Each object gets an upload ID derived from storage,
    /// bucket and key, so running the same import again creates nothing twice.
    pub async fn import_prefix(&self, job: &PrefixImport) -> Result<PrefixImportSummary, Error> {
        let mut prefix = job.prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let wanted: Vec<String> = job
            .extensions
            .iter()
            .map(|e| format!(".{}", e.trim_start_matches('.').to_ascii_lowercase()))
            .filter(|e| e.len() > 1)
            .collect();
        let mut summary = PrefixImportSummary {
            dry_run: job.dry_run,
            ..PrefixImportSummary::default()
        };
        let mut folders = vec![prefix.clone()];
        while let Some(folder) = folders.pop() {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .list_storage_files(
                        &job.storage,
                        job.bucket.as_deref(),
                        &folder,
                        token.as_deref(),
                        false,
                    )
                    .await?;
                summary.bucket.clone_from(&page.bucket);
                if job.recursive {
                    // Reversed so folders are walked in listing order off the stack.
                    folders.extend(page.folders.into_iter().rev().map(|f| f.key));
                }
                for f in page.files {
                    let lower = f.key.to_ascii_lowercase();
                    if !wanted.is_empty() && !wanted.iter().any(|e| lower.ends_with(e.as_str())) {
                        summary.skipped.push(PrefixSkipped {
                            key: f.key,
                            reason: format!("extension not in {}", job.extensions.join(",")),
                        });
                        continue;
                    }
                    let external_id = f.key.strip_prefix(&prefix).unwrap_or(&f.key).to_owned();
                    let batch = if job.folder_as_batch {
                        folder_batch(&f.key)
                    } else {
                        None
                    };
                    summary.imported.push(PrefixImported {
                        key: f.key,
                        url: f.url,
                        external_id,
                        batch,
                        asset_id: None,
                    });
                }
                match page.scroll_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        if job.dry_run || summary.imported.is_empty() {
            return Ok(summary);
        }
        let mut batches: Vec<&str> = summary
            .imported
            .iter()
            .filter_map(|i| i.batch.as_deref())
            .collect();
        batches.sort_unstable();
        batches.dedup();
        for b in batches {
            self.create_batch(&job.project, b).await?;
        }
        let bucket = summary.bucket.clone();
        let chunk = job.chunk.max(1);
        for part in summary.imported.chunks_mut(chunk) {
            let assets: Vec<Value> = part
                .iter()
                .map(|i| {
                    let upload_id =
                        blake3::hash(format!("{}\n{bucket}\n{}", job.storage, i.key).as_bytes())
                            .to_hex();
                    let mut a = json!({
                        "data": i.url,
                        "externalId": i.external_id,
                        "storage": job.storage,
                        "uploadId": format!("storage-{}", &upload_id[..32]),
                    });
                    if let Some(b) = &i.batch {
                        a["batches"] = json!([b]);
                    }
                    a
                })
                .collect();
            let done = self
                .register(&job.project, &assets, &[], false, job.priority)
                .await?;
            summary.created += done.created;
            for (i, id) in part.iter_mut().zip(done.asset_ids) {
                i.asset_id = Some(id);
            }
        }
        Ok(summary)
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_signatures_and_credentials() {
        assert_eq!(
            redact("http://u:p@h:1/uploaded-data/a.png?sig=abc&expires=1"),
            "http://h:1/uploaded-data/a.png?<redacted>"
        );
        assert_eq!(redact("http://h/x"), "http://h/x");
    }

    #[test]
    fn folder_batches_are_the_folder_holding_the_object() {
        assert_eq!(folder_batch("scans/day1/a.png").as_deref(), Some("day1"));
        assert_eq!(folder_batch("day1/cam2/a.png").as_deref(), Some("cam2"));
        assert_eq!(folder_batch("a.png"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(100),
            max: Duration::from_millis(400),
        };
        for _ in 0..50 {
            assert!((50..=100).contains(&p.backoff(0).as_millis()));
            assert!((200..=400).contains(&p.backoff(5).as_millis()));
        }
    }
}
