//! The HTTP API: Ango's v2 import routes (JSON envelopes `{status, data}` / `{status:"fail",
//! message}`), plus the signed blob routes under `/uploaded-data/`. Every client mistake is a 4xx
//! naming the field; a 500 means a bug or a broken disk, and its cause is logged, not sent.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Path as UrlPath, Request, State as AxState};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use futures::StreamExt;
use object_store::path::Path as BlobPath;
use object_store::signer::Method as SignMethod;
use object_store::{ObjectStoreExt, WriteMultipart};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Map;
use serde_json::{json, Value};

use super::catalog::StorageSecret;
use super::catalog::{AssetFilter, CatalogError, NewAsset, NewStorage, Provider, Storage};
use super::fetch::{self, Fetcher};
use super::sign::SignedQuery;
use super::storage::{self, Located, Remote, StorageError};
use super::State;
use crate::wire;

type Shared = Arc<State>;

/// A client-visible failure: status + message, sent as Ango's fail envelope.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn prefixed(mut self, prefix: &str) -> Self {
        self.message.insert_str(0, prefix);
        self
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    fn internal(what: &str, e: &dyn std::fmt::Display) -> Self {
        tracing::error!("{what}: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {what}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(wire::Failure {
                status: "fail".to_owned(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound(m) => Self::not_found(m),
            CatalogError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            CatalogError::Invalid(m) => Self::bad(m),
            other => Self::internal("catalog", &other),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        let status = match e.failure {
            storage::Failure::Invalid | storage::Failure::Denied => StatusCode::BAD_REQUEST,
            storage::Failure::NotFound => StatusCode::NOT_FOUND,
            storage::Failure::Unreachable => StatusCode::BAD_GATEWAY,
            storage::Failure::Unsupported => StatusCode::NOT_IMPLEMENTED,
        };
        Self::new(status, e.message)
    }
}

impl From<fetch::FetchError> for ApiError {
    fn from(e: fetch::FetchError) -> Self {
        let status = match e.failure {
            fetch::Failure::Invalid | fetch::Failure::Refused | fetch::Failure::Rejected => {
                StatusCode::BAD_REQUEST
            }
            fetch::Failure::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            fetch::Failure::Unreachable => StatusCode::BAD_GATEWAY,
            fetch::Failure::Storage => return Self::internal("blob storage", &e),
        };
        Self::new(status, e.message)
    }
}

type ApiResult = Result<Response, ApiError>;

// Handlers end with `success(...)`, so it returns their result type.
#[allow(clippy::unnecessary_wraps, clippy::needless_pass_by_value)]
fn success(status: StatusCode, data: Value) -> ApiResult {
    Ok((status, axum::Json(wire::Envelope::success(data))).into_response())
}

/// A JSON body whose every failure (too large, not JSON, wrong shape) is a fail envelope that
/// says what is wrong and where.
struct JsonBody<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad(
                "the request body is empty; send a JSON object",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
    }
}

/// The answer to a body over the hub's JSON limit.
fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is too large; send fewer assets per request",
    )
}

/// A request's whole body, within the route's body limit; a failure is a fail envelope.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            body_too_large()
        } else {
            ApiError::bad(format!("cannot read the request body: {e}"))
        }
    })
}

fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad(format!("invalid query string: {}", e.body_text())))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("catalog task", &e))?
        .map_err(ApiError::from)
}

pub(crate) fn router(state: Shared) -> Router {
    let v2 = Router::new()
        .route(wire::INFO_PATH, get(hub_info))
        .route("/v2/project", post(create_project))
        .route("/v2/project/{id}", get(get_project))
        .route("/v2/listProjects", get(list_projects))
        .route("/v2/batches/{project}", post(create_batches))
        .route("/v2/getUploadUrl", get(get_upload_url))
        .route("/v2/getSignedUrl", get(get_signed_url))
        .route("/v2/project/{id}/cloud", post(register_assets))
        .route(
            "/v2/project/{id}/assets",
            get(list_assets).delete(delete_assets),
        )
        .route("/v2/project/{id}/assets/byContent", post(assets_by_content))
        .route("/v2/assignBatches", post(assign_batches))
        .route(
            "/v2/project/{id}/assetBuilderTemplates",
            post(save_template),
        )
        // The SDK posts to `/v2/storages/` (trailing slash), the REST docs to `/v2/storages`.
        .route("/v2/storages", get(list_storages).post(create_storage))
        .route("/v2/storages/", get(list_storages).post(create_storage))
        .route("/v2/storages/{id}", get(get_storage).delete(delete_storage))
        .route("/v2/storages/{id}/files", get(list_storage_files))
        .route_layer(middleware::from_fn_with_state(state.clone(), idempotent))
        .route_layer(middleware::from_fn_with_state(state.clone(), body_budget))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key))
        .layer(DefaultBodyLimit::max(state.config.max_json_bytes));
    let blobs = Router::new()
        .route(
            "/uploaded-data/{project}/{name}",
            put(put_blob).get(get_blob),
        )
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .merge(v2)
        .merge(blobs)
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::not_found(format!("no route for {method} {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{} does not take {method}; see the Allow header for the methods it takes",
                    uri.path()
                ),
            )
        })
        .layer(middleware::from_fn(no_sniffing))
        .with_state(state)
}

async fn require_key(
    AxState(st): AxState<Shared>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let given = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Compare digests, not strings, so the comparison takes the same time wherever they differ.
    if given.is_empty() || blake3::hash(given.as_bytes()) != blake3::hash(st.api_key.as_bytes()) {
        return ApiError::new(StatusCode::UNAUTHORIZED, "Invalid API KEY").into_response();
    }
    next.run(req).await
}

// ---- idempotency keys ---------------------------------------------------------------------

/// The lock of one idempotency key.
type KeyLock = Arc<tokio::sync::Mutex<()>>;

/// One async lock per idempotency key being served. An entry lives while someone holds or waits
/// for its lock.
#[derive(Default)]
pub(crate) struct KeyLocks(std::sync::Mutex<std::collections::HashMap<String, KeyLock>>);

impl KeyLocks {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, KeyLock>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &str) -> KeyLock {
        self.map().entry(key.to_owned()).or_default().clone()
    }

    /// Drops the entry of `key` when `lock` (taken from it) is the last user. Every clone is
    /// made under the map's lock, so the count cannot grow meanwhile.
    fn release(&self, key: &str, lock: &KeyLock) {
        let mut map = self.map();
        if Arc::strong_count(lock) == 2 {
            map.remove(key);
        }
    }
}

/// The header a client sends to make a POST or DELETE safe to repeat (as in the IETF draft
/// "The Idempotency-Key HTTP Header Field").
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer that is a kept one sent again.
const REPLAYED: &str = "idempotent-replayed";

/// Bodies below this size are worked on without waiting for the body budget.
const SMALL_BODY: u64 = 1 << 20;

/// Holds a large request (by its declared length, or the most a body may be when it declares
/// none) until that many MiB of the hub's body budget are free, and keeps them until it is
/// answered: parsed, a 60 MB registration takes several times that, and eight at once would
/// take gigabytes. Requests past the budget wait their turn; none is refused for it. A waiting
/// request's body is taken in meanwhile, into an unnamed temporary file under `.hub/`: a client
/// whose bytes went unread for long would give up (most HTTP clients time out unacknowledged
/// data after 30 s).
async fn body_budget(AxState(st): AxState<Shared>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bytes = match declared {
        Some(n) => n,
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            st.config.max_json_bytes as u64
        }
        None => 0,
    };
    if bytes < SMALL_BODY {
        return next.run(req).await;
    }
    let mib = bytes
        .min(st.config.max_json_bytes as u64)
        .div_ceil(1 << 20)
        .min(st.config.json_in_flight_mib() as u64);
    let permits = u32::try_from(mib).unwrap_or(u32::MAX);
    if let Ok(_held) = st.body_budget.clone().try_acquire_many_owned(permits) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let spooled = match spool(&st, body).await {
        Ok(file) => file,
        Err(e) => return e.into_response(),
    };
    let Ok(_held) = st.body_budget.clone().acquire_many_owned(permits).await else {
        return ApiError::internal("body budget", &"closed").into_response();
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        spooled,
        1 << 16,
    ));
    next.run(Request::from_parts(parts, body)).await
}

/// A request body, read into an unnamed temporary file (gone when closed), rewound.
async fn spool(st: &State, body: Body) -> Result<tokio::fs::File, ApiError> {
    use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
    let dir = st.config.root.join(".hub");
    let file = tokio::task::spawn_blocking(move || tempfile::tempfile_in(dir))
        .await
        .map_err(|e| ApiError::internal("spooling a request body", &e))?
        .map_err(|e| ApiError::internal("spooling a request body", &e))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad(format!("cannot read the request body: {e}")))?;
        total += chunk.len();
        if total > st.config.max_json_bytes {
            return Err(body_too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal("spooling a request body", &e))?;
    }
    file.flush()
        .await
        .and(file.rewind().await)
        .map_err(|e| ApiError::internal("spooling a request body", &e))?;
    Ok(file)
}

/// Makes POST and DELETE calls that carry an `Idempotency-Key` safe to repeat: the first
/// successful answer for a key is kept (a day) and sent again, unchanged, for a repeat of the
/// same request (method, path, query and body), without running it twice. A client whose answer
/// was lost (a reset, a timeout) can therefore send a project creation, a template or a storage
/// integration again without making a second one. A repeat that arrives while the first is
/// still running waits for it. The same key with a different request is refused (422). Answers
/// other than 2xx are not kept: the request runs again when repeated.
async fn idempotent(AxState(st): AxState<Shared>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::POST | Method::DELETE) {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return ApiError::bad(
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters, \
                 e.g. a random UUID made once per operation",
            )
            .into_response()
        }
    };
    let (parts, body) = req.into_parts();
    let bytes = match read_body(Request::from_parts(parts.clone(), body), &()).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let mut hasher = blake3::Hasher::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(
        parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |p| p.as_str())
            .as_bytes(),
    );
    hasher.update(b"\n");
    hasher.update(&bytes);
    let fingerprint = hasher.finalize().to_hex().to_string();

    // On a task of its own, so a client that goes away mid-request cannot cut it between
    // acting and keeping the answer: its repeat must find the answer kept.
    let req = Request::from_parts(parts, Body::from(bytes));
    tokio::spawn(async move {
        let lock = st.key_locks.get(&key);
        let answer = {
            let _held = lock.lock().await;
            run_once(&st, &key, fingerprint, req, next).await
        };
        st.key_locks.release(&key, &lock);
        answer
    })
    .await
    .unwrap_or_else(|e| ApiError::internal("a request with an idempotency key", &e).into_response())
}

/// Under the key's lock: the kept answer, or the request run and its answer kept.
async fn run_once(
    st: &Shared,
    key: &str,
    fingerprint: String,
    req: Request,
    next: Next,
) -> Response {
    let catalog = st.catalog.clone();
    let k = key.to_owned();
    match blocking(move || catalog.kept_reply(&k)).await {
        Ok(Some(kept)) if kept.fingerprint == fingerprint => {
            let status = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
            return (
                status,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::HeaderName::from_static(REPLAYED), "true"),
                ],
                kept.body,
            )
                .into_response();
        }
        Ok(Some(_)) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the Idempotency-Key {key:?} was used for a different request; \
                     make a new key for each new operation"
                ),
            )
            .into_response()
        }
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    let answer = next.run(req).await;
    if !answer.status().is_success() {
        return answer;
    }
    let (parts, body) = answer.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal("reading an answer to keep", &e).into_response(),
    };
    let kept = super::catalog::KeptReply {
        fingerprint,
        status: parts.status.as_u16(),
        body: body.to_vec(),
    };
    let catalog = st.catalog.clone();
    let k = key.to_owned();
    if let Err(e) = blocking(move || catalog.keep_reply(&k, &kept)).await {
        // The request took effect; its answer goes out even if it could not be kept.
        tracing::error!(
            "keeping the answer for idempotency key {key:?}: {}",
            e.message
        );
    }
    Response::from_parts(parts, Body::from(body))
}

// ---- projects and batches -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// Our extension: which hub this is and what it offers beyond Ango's documented API. A client
/// that gets a 404 here knows it talks to a plain Ango hub.
#[allow(clippy::unused_async)]
async fn hub_info(AxState(st): AxState<Shared>) -> ApiResult {
    let info = wire::HubInfo {
        product: "assetdrop".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        hub_id: st.hub_id.clone(),
        extensions: wire::Extension::ALL.to_vec(),
    };
    success(StatusCode::OK, json!(info))
}

async fn create_project(
    AxState(st): AxState<Shared>,
    JsonBody(body): JsonBody<CreateProject>,
) -> ApiResult {
    let project = blocking(move || {
        st.catalog.create_project(
            &body.name,
            body.description.as_deref().unwrap_or(""),
            body.kind.as_deref().unwrap_or("ango"),
        )
    })
    .await?;
    success(StatusCode::CREATED, json!({"project": project}))
}

async fn get_project(AxState(st): AxState<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let found = blocking(move || st.catalog.project(&id).map(|p| (p, id))).await?;
    match found {
        (Some(p), _) => success(StatusCode::OK, json!({"project": p})),
        (None, id) => Err(ApiError::not_found(format!("project {id} not found"))),
    }
}

#[derive(Deserialize)]
struct Paging {
    page: Option<String>,
    limit: Option<String>,
}

/// The highest page number asked for: with the largest page, its offset still fits the
/// catalog's signed 64-bit counts.
const MAX_PAGE_NUMBER: u64 = 1_000_000_000;

fn paging(p: &Paging, max_limit: u64) -> Result<(u64, u64), ApiError> {
    Ok((
        whole_number("page", p.page.as_deref(), 1, MAX_PAGE_NUMBER)?,
        whole_number("limit", p.limit.as_deref(), 10, max_limit)?,
    ))
}

/// A query parameter that must be a whole number from 1 to `max` (`default` when absent).
fn whole_number(name: &str, given: Option<&str>, default: u64, max: u64) -> Result<u64, ApiError> {
    let Some(s) = given else {
        return Ok(default);
    };
    s.parse::<u64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad(format!(
                "`{name}` must be a whole number from 1 to {max} (got {s:?})"
            ))
        })
}

async fn list_projects(AxState(st): AxState<Shared>, uri: Uri) -> ApiResult {
    let (page, limit) = paging(&query::<Paging>(&uri)?, 1000)?;
    let (projects, total) = blocking(move || st.catalog.list_projects(page, limit)).await?;
    success(
        StatusCode::OK,
        json!({"projects": projects, "total": total, "page": page, "limit": limit}),
    )
}

async fn create_batches(
    AxState(st): AxState<Shared>,
    UrlPath(project): UrlPath<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let Value::Object(mut body) = body else {
        return Err(ApiError::bad(
            "the body must be a JSON object: {\"name\": ...} or {\"batches\": [...]}",
        ));
    };
    if let Some(name) = body.remove("name") {
        let Value::String(name) = name else {
            return Err(ApiError::bad("`name` must be a string"));
        };
        let batch = blocking(move || st.catalog.create_batch(&project, &name)).await?;
        // The SDK documents the created batch under `data.project`.
        return success(StatusCode::CREATED, json!({"project": batch}));
    }
    let Some(Value::Array(list)) = body.remove("batches") else {
        return Err(ApiError::bad(
            "send `name` (one batch) or `batches` (the full list of {_id?, name})",
        ));
    };
    let mut wanted = Vec::with_capacity(list.len());
    for (i, b) in list.into_iter().enumerate() {
        let id = b
            .get("_id")
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::bad(format!("batches[{i}]._id must be a string")))
            })
            .transpose()?;
        let name = b.get("name").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad(format!("batches[{i}].name is missing or not a string"))
        })?;
        wanted.push((id, name.to_owned()));
    }
    let batches = blocking(move || st.catalog.replace_batches(&project, &wanted)).await?;
    success(StatusCode::CREATED, json!({"batches": batches}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignBatches {
    assets: Vec<String>,
    batches: Vec<String>,
    project_id: String,
}

async fn assign_batches(
    AxState(st): AxState<Shared>,
    JsonBody(body): JsonBody<AssignBatches>,
) -> ApiResult {
    let n = blocking(move || {
        let ids = st
            .catalog
            .resolve_batches(&body.project_id, &body.batches)?;
        st.catalog
            .assign_batches(&body.project_id, &body.assets, &ids)
    })
    .await?;
    success(StatusCode::OK, json!({"assetsUpdated": n}))
}

/// Column types of an asset-builder template (`dataConfig.<column>.type`).
const COLUMN_TYPES: [&str; 7] = ["text", "link", "image", "audio", "video", "iframe", "pdf"];
/// Column types whose files may sit in a private bucket, so the column must name a storage.
const MEDIA_COLUMN_TYPES: [&str; 4] = ["image", "audio", "video", "pdf"];
/// The `storage` of a column whose files are public URLs.
const PUBLIC_STORAGE: &str = "Public";

fn take_string(
    m: &mut Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<String>, ApiError> {
    match m.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad(format!("{what} must be a string"))),
    }
}

fn required_string(
    m: &mut Map<String, Value>,
    key: &str,
    what: &str,
    hint: &str,
) -> Result<String, ApiError> {
    match take_string(m, key, what)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(ApiError::bad(format!("{what} is missing or empty; {hint}"))),
    }
}

fn refuse_unknown(m: &Map<String, Value>, prefix: &str, known: &str) -> Result<(), ApiError> {
    match m.keys().next() {
        None => Ok(()),
        Some(k) => Err(ApiError::bad(format!(
            "`{prefix}{k}` is not a field this hub knows; send only {known}"
        ))),
    }
}

/// A template as the hub stores it: every field checked (the SDK's `validate` rules, and the
/// ones its uploader relies on), defaults filled in. Returns it with the storage IDs its columns
/// name, as (field, ID), for the caller to check against the catalog.
fn check_template(body: Value) -> Result<(Value, Vec<(String, String)>), ApiError> {
    let Value::Object(mut m) = body else {
        return Err(ApiError::bad(
            "the body must be a JSON object: {name, template, selectedExternalId, dataConfig, ...}",
        ));
    };
    if m.contains_key("_id") {
        return Err(ApiError::bad("`_id` is assigned by the hub; leave it out"));
    }
    let name = required_string(&mut m, "name", "`name`", "give the template a name")?;
    let description = take_string(&mut m, "description", "`description`")?.unwrap_or_default();
    let template = required_string(
        &mut m,
        "template",
        "`template`",
        "send the HTML with {{column}} placeholders",
    )?;
    let external = required_string(
        &mut m,
        "selectedExternalId",
        "`selectedExternalId`",
        "name the column that holds each row's external ID",
    )?;
    let batch_column = take_string(&mut m, "batchColumn", "`batchColumn`")?.unwrap_or_default();
    let Some(Value::Object(columns)) = m.remove("dataConfig") else {
        return Err(ApiError::bad(
            "`dataConfig` is missing or not an object: {\"<column>\": {type, storage?, includeInExport?}}",
        ));
    };
    if columns.is_empty() {
        return Err(ApiError::bad(
            "`dataConfig` is empty; configure at least the external-ID column",
        ));
    }
    let mut storages = Vec::new();
    let mut data_config = Map::new();
    for (col, cfg) in columns {
        let field = format!("dataConfig.{col}");
        let Value::Object(mut c) = cfg else {
            return Err(ApiError::bad(format!(
                "`{field}` must be an object {{type, storage?, includeInExport?}}"
            )));
        };
        let kind = take_string(&mut c, "type", &format!("`{field}.type`"))?.unwrap_or_default();
        if !COLUMN_TYPES.contains(&kind.as_str()) {
            return Err(ApiError::bad(format!(
                "`{field}.type` must be one of {} (got {kind:?})",
                COLUMN_TYPES.join(", ")
            )));
        }
        let storage = take_string(&mut c, "storage", &format!("`{field}.storage`"))?
            .filter(|s| !s.is_empty());
        if storage.is_none() && MEDIA_COLUMN_TYPES.contains(&kind.as_str()) {
            return Err(ApiError::bad(format!(
                "`{field}.storage` is required for {kind} columns: \"{PUBLIC_STORAGE}\" or a storage ID"
            )));
        }
        let include = match c.remove("includeInExport") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => {
                return Err(ApiError::bad(format!(
                    "`{field}.includeInExport` must be true or false"
                )))
            }
        };
        refuse_unknown(
            &c,
            &format!("{field}."),
            "type, storage and includeInExport",
        )?;
        let mut out = Map::new();
        out.insert("type".into(), Value::String(kind));
        out.insert("includeInExport".into(), Value::Bool(include));
        if let Some(s) = storage {
            if s != PUBLIC_STORAGE {
                storages.push((format!("{field}.storage"), s.clone()));
            }
            out.insert("storage".into(), Value::String(s));
        }
        data_config.insert(col, Value::Object(out));
    }
    if !data_config.contains_key(&external) {
        return Err(ApiError::bad(format!(
            "`selectedExternalId` {external:?} is not a column of `dataConfig`"
        )));
    }
    if !batch_column.is_empty() && !data_config.contains_key(&batch_column) {
        return Err(ApiError::bad(format!(
            "`batchColumn` {batch_column:?} is not a column of `dataConfig`"
        )));
    }
    let pre_labels = match m.remove("preLabelConfig") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(ApiError::bad("`preLabelConfig` must be an object")),
    };
    for (key, entry) in &pre_labels {
        let field = format!("preLabelConfig.{key}");
        let ok_str = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.is_empty());
        if !ok_str(entry.get("value")) {
            return Err(ApiError::bad(format!(
                "`{field}.value` must name the column holding the answers"
            )));
        }
        let Some(cla) = entry.get("cla").filter(|c| c.is_object()) else {
            return Err(ApiError::bad(format!(
                "`{field}.cla` must be the classification object {{schemaId, title, tool, ...}}"
            )));
        };
        for k in ["schemaId", "title"] {
            if !ok_str(cla.get(k)) {
                return Err(ApiError::bad(format!(
                    "`{field}.cla.{k}` must be a non-empty string"
                )));
            }
        }
    }
    refuse_unknown(
        &m,
        "",
        "name, description, template, selectedExternalId, batchColumn, dataConfig and preLabelConfig",
    )?;
    let saved = json!({
        "name": name,
        "description": description,
        "template": template,
        "selectedExternalId": external,
        "batchColumn": batch_column,
        "dataConfig": data_config,
        "preLabelConfig": pre_labels,
    });
    Ok((saved, storages))
}

async fn save_template(
    AxState(st): AxState<Shared>,
    UrlPath(project): UrlPath<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (template, storages) = check_template(body)?;
    let saved = blocking(move || {
        for (field, id) in &storages {
            if st.catalog.storage(id)?.is_none() {
                return Err(CatalogError::NotFound(format!(
                    "`{field}`: storage {id} not found; create it first or use \"{PUBLIC_STORAGE}\""
                )));
            }
        }
        st.catalog.save_template(&project, template)
    })
    .await?;
    success(StatusCode::CREATED, json!({"assetBuilderTemplate": saved}))
}

// ---- storage integrations ---------------------------------------------------------------------

fn credential(m: &mut Map<String, Value>, key: &str) -> Result<Option<Value>, ApiError> {
    // Messages name the field but never echo a value: these are secrets.
    match m.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(v @ Value::String(_)) => Ok(Some(v)),
        Some(Value::Object(o)) if o.is_empty() => Ok(None),
        Some(v @ Value::Object(_)) if key == "credentials" => Ok(Some(v)),
        Some(_) if key == "credentials" => Err(ApiError::bad(
            "`credentials` must be a string (e.g. a service-account key JSON) or an object",
        )),
        Some(_) => Err(ApiError::bad(format!("`{key}` must be a string"))),
    }
}

/// Reads a storage body in either shape: the SDK's `{name, provider: AWS|GCP|AZURE, publicKey,
/// privateKey, region, credentials}` or the REST docs' `{name, type: aws|gcs|azure, bucket,
/// region?, credentials: {...}, privateKey?}`.
fn parse_storage(body: Value) -> Result<NewStorage, ApiError> {
    let Value::Object(mut m) = body else {
        return Err(ApiError::bad(
            "the body must be a JSON object: {name, provider, publicKey, privateKey, region, credentials} or {name, type, bucket, region, credentials}",
        ));
    };
    let name = required_string(&mut m, "name", "`name`", "give the storage a unique name")?;
    let region = take_string(&mut m, "region", "`region`")?.filter(|r| !r.is_empty());
    let endpoint = take_endpoint(&mut m)?;
    let path_style = match m.remove("pathStyle") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => return Err(ApiError::bad("`pathStyle` must be true or false")),
    };
    let sdk_provider = take_string(&mut m, "provider", "`provider`")?;
    let rest_type = take_string(&mut m, "type", "`type`")?;
    let (provider, bucket, secret) = match (sdk_provider, rest_type) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad(
                "send either `provider` (AWS, GCP, AZURE) or `type` (aws, gcs, azure), not both",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad(
                "`provider` is missing: AWS, GCP or AZURE (or `type`: aws, gcs or azure)",
            ))
        }
        (Some(p), None) => {
            let provider = match p.as_str() {
                "AWS" => Provider::Aws,
                "GCP" => Provider::Gcs,
                "AZURE" => Provider::Azure,
                other => {
                    return Err(ApiError::bad(format!(
                        "`provider` must be AWS, GCP or AZURE (got {other:?})"
                    )))
                }
            };
            let public = credential(&mut m, "publicKey")?;
            let private = credential(&mut m, "privateKey")?;
            let creds = credential(&mut m, "credentials")?;
            // Our extensions to the SDK's body: the CLI sends them, the SDK never does.
            let bucket = take_string(&mut m, "bucket", "`bucket`")?.filter(|b| !b.is_empty());
            refuse_unknown(
                &m,
                "",
                "name, provider, publicKey, privateKey, region, credentials, bucket, endpoint and pathStyle",
            )?;
            match provider {
                Provider::Aws if public.is_none() || private.is_none() => {
                    return Err(ApiError::bad(
                        "`publicKey` and `privateKey` are required for AWS: the access key ID and the secret access key",
                    ))
                }
                Provider::Gcs if creds.is_none() && private.is_none() => {
                    return Err(ApiError::bad(
                        "`credentials` is required for GCP: the service-account key JSON",
                    ))
                }
                Provider::Azure if creds.is_none() && (public.is_none() || private.is_none()) => {
                    return Err(ApiError::bad(
                        "`publicKey` and `privateKey` (account name and key) or `credentials` are required for AZURE",
                    ))
                }
                _ => {}
            }
            let mut secret = Map::new();
            for (k, v) in [
                ("publicKey", public),
                ("privateKey", private),
                ("credentials", creds),
            ] {
                if let Some(v) = v {
                    secret.insert(k.into(), v);
                }
            }
            (provider, bucket, secret)
        }
        (None, Some(t)) => {
            let provider = Provider::from_rest_name(&t).ok_or_else(|| {
                ApiError::bad(format!("`type` must be aws, gcs or azure (got {t:?})"))
            })?;
            let bucket = required_string(
                &mut m,
                "bucket",
                "`bucket`",
                "name the bucket (or container)",
            )?;
            let private = credential(&mut m, "privateKey")?;
            let creds = match m.remove("credentials") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(o)) => o,
                Some(_) => return Err(ApiError::bad("`credentials` must be an object")),
            };
            refuse_unknown(
                &m,
                "",
                "name, type, bucket, region, credentials, privateKey, endpoint and pathStyle",
            )?;
            let has = |k: &str| {
                creds
                    .get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            };
            match provider {
                Provider::Aws if !has("accessKeyId") || !has("secretAccessKey") => {
                    return Err(ApiError::bad(
                        "`credentials.accessKeyId` and `credentials.secretAccessKey` are required for aws",
                    ))
                }
                Provider::Gcs if creds.is_empty() && private.is_none() => {
                    return Err(ApiError::bad(
                        "`credentials` (the service-account key) or `privateKey` is required for gcs",
                    ))
                }
                Provider::Azure if creds.is_empty() => {
                    return Err(ApiError::bad(
                        "`credentials` is required for azure: the account name and key, or a SAS token",
                    ))
                }
                _ => {}
            }
            let mut secret = Map::new();
            secret.insert("credentials".into(), Value::Object(creds));
            if let Some(p) = private {
                secret.insert("privateKey".into(), p);
            }
            (provider, Some(bucket), secret)
        }
    };
    let new = NewStorage {
        name,
        provider,
        region,
        bucket,
        endpoint,
        path_style,
        secret: Value::Object(secret),
    };
    // Read the credentials the way the backends will, so a storage that could never connect
    // (an Azure key without an account name, a GCP key that is not JSON) is refused now.
    let probe = Storage {
        id: format!("{:?}", new.name),
        name: new.name.clone(),
        provider: provider.sdk_name().to_owned(),
        kind: provider.rest_name().to_owned(),
        region: new.region.clone(),
        bucket: new.bucket.clone(),
        endpoint: new.endpoint.clone(),
        path_style: new.path_style,
        created_at: String::new(),
    };
    Remote::new(probe, &StorageSecret(new.secret.clone())).map_err(|e| ApiError::bad(e.message))?;
    Ok(new)
}

/// Reads `endpoint`: an http(s) URL with a host, no query and no user info (credentials belong
/// in the credential fields, which are never shown).
fn take_endpoint(m: &mut Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(e) = take_string(m, "endpoint", "`endpoint`")?.filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let ok = url::Url::parse(&e).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
            && u.password().is_none()
    });
    if !ok {
        return Err(ApiError::bad(
            "`endpoint` must be an http(s) URL with a host and no query or user info, e.g. http://127.0.0.1:9000",
        ));
    }
    Ok(Some(e.trim_end_matches('/').to_owned()))
}

/// A storage integration ready to reach its buckets, or 404 naming it.
async fn load_remote(st: &Shared, id: &str) -> Result<Remote, ApiError> {
    let s = st.clone();
    let wanted = id.to_owned();
    let found = blocking(move || s.catalog.storage_with_secret(&wanted)).await?;
    let Some((storage, secret)) = found else {
        return Err(ApiError::not_found(format!("storage {id} not found")));
    };
    Ok(Remote::new(storage, &secret)?)
}

fn signed_ttl(st: &State) -> std::time::Duration {
    std::time::Duration::from_secs(st.config.url_ttl_secs.min(storage::MAX_SIGNED_URL_SECS))
}

async fn create_storage(
    AxState(st): AxState<Shared>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let new = parse_storage(body)?;
    // Credentials that cannot work are refused now, not at the first import that needs them.
    storage::try_credentials(&new, st.config.try_storages)
        .await
        .map_err(|e| ApiError::bad(e.message))?;
    let storage = blocking(move || st.catalog.create_storage(&new)).await?;
    success(StatusCode::CREATED, json!({"storage": storage}))
}

#[derive(Deserialize)]
struct StoragesQuery {
    page: Option<String>,
    limit: Option<String>,
    #[serde(rename = "_id")]
    id: Option<String>,
}

async fn list_storages(AxState(st): AxState<Shared>, uri: Uri) -> ApiResult {
    let q: StoragesQuery = query(&uri)?;
    if let Some(id) = q.id.filter(|i| !i.is_empty()) {
        // The SDK's get_storages(storage_id) asks `?_id=` and picks the match from the list.
        let found = blocking(move || st.catalog.storage(&id)).await?;
        let total = u64::from(found.is_some());
        return success(
            StatusCode::OK,
            json!({"storages": found.into_iter().collect::<Vec<_>>(), "total": total}),
        );
    }
    // Without paging, every storage: the SDK checks a storage ID against this unpaged list.
    let (page, limit) = if q.page.is_none() && q.limit.is_none() {
        (1, None)
    } else {
        let (page, limit) = paging(
            &Paging {
                page: q.page,
                limit: q.limit,
            },
            100,
        )?;
        (page, Some(limit))
    };
    let (storages, total) = blocking(move || st.catalog.list_storages(page, limit)).await?;
    let mut data = json!({"storages": storages, "total": total, "page": page});
    if let Some(l) = limit {
        data["limit"] = json!(l);
    }
    success(StatusCode::OK, data)
}

async fn get_storage(AxState(st): AxState<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let found = blocking(move || st.catalog.storage(&id).map(|s| (s, id))).await?;
    match found {
        (Some(s), _) => success(StatusCode::OK, json!({"storage": s})),
        (None, id) => Err(ApiError::not_found(format!("storage {id} not found"))),
    }
}

async fn delete_storage(AxState(st): AxState<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let s = st.clone();
    let deleted = blocking(move || s.catalog.delete_storage(&id)).await?;
    st.clients.forget(&deleted.id);
    success(StatusCode::OK, json!({"storage": deleted}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilesQuery {
    bucket_name: Option<String>,
    path: Option<String>,
    get_signed_urls: Option<String>,
    scroll_token: Option<String>,
    page: Option<String>,
    limit: Option<String>,
    // Sent by the SDK; object_store already retries throttled requests.
    #[allow(dead_code)]
    retry_on_slow_down: Option<String>,
}

fn flag(v: Option<&str>, what: &str) -> Result<bool, ApiError> {
    match v {
        None | Some("" | "false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad(format!(
            "`{what}` must be true or false (got {other:?})"
        ))),
    }
}

/// Lists the files and folders directly under `path` in a bucket, one page at a time.
async fn list_storage_files(
    AxState(st): AxState<Shared>,
    UrlPath(id): UrlPath<String>,
    uri: Uri,
) -> ApiResult {
    let q: FilesQuery = query(&uri)?;
    let signed = flag(q.get_signed_urls.as_deref(), "getSignedUrls")?;
    let limit = match q.limit.as_deref() {
        None | Some("") => storage::MAX_LIST_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=storage::MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "`limit` must be a whole number from 1 to {} (got {s:?})",
                    storage::MAX_LIST_LIMIT
                ))
            })?,
    };
    if q.page.as_deref().is_some_and(|p| p != "1") {
        return Err(ApiError::bad(
            "`page`: bucket listings are paged with `scrollToken` (from the previous answer), not page numbers",
        ));
    }
    let remote = load_remote(&st, &id).await?;
    let bucket = remote
        .bucket_or_default(q.bucket_name.as_deref())
        .map_err(|e| ApiError::bad(format!("`bucketName`: {e}")))?;
    let mut listing = st
        .clients
        .list(
            &remote,
            &bucket,
            q.path.as_deref().unwrap_or(""),
            q.scroll_token,
            limit,
        )
        .await?;
    if signed {
        let ttl = signed_ttl(&st);
        let (clients, remote) = (&st.clients, &remote);
        // Futures collected first: a lazily mapped iterator inside the stream trips the
        // compiler's Send check for handlers (higher-ranked lifetimes).
        let signing: Vec<_> = listing
            .files
            .iter()
            .map(|f| {
                let at = Located {
                    bucket: bucket.clone(),
                    key: f.key.clone(),
                };
                async move { clients.sign(remote, SignMethod::GET, &at, ttl).await }
            })
            .collect();
        let urls: Vec<Result<String, StorageError>> = futures::stream::iter(signing)
            .buffered(CHECK_CONCURRENCY)
            .collect()
            .await;
        for (f, u) in listing.files.iter_mut().zip(urls) {
            f.signed_url = Some(u?);
        }
    }
    let data = serde_json::to_value(&listing).map_err(|e| ApiError::internal("listing", &e))?;
    success(StatusCode::OK, data)
}

// ---- uploads ---------------------------------------------------------------------------------

/// Checks a client-chosen upload name: one plain file name, nothing that could climb out of the
/// project's folder or confuse a file system.
fn check_upload_name(name: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        ApiError::bad(format!(
            "`name` {name:?} {why}; send a plain file name such as 3f2a9c.png"
        ))
    };
    if name.is_empty() {
        return Err(bad("is empty"));
    }
    if name.len() > 200 {
        return Err(bad("is longer than 200 bytes"));
    }
    if name.contains(['/', '\\']) {
        return Err(bad("contains a path separator"));
    }
    if name.starts_with('.') {
        return Err(bad("starts with a dot"));
    }
    if name.chars().any(|c| c.is_control() || c == ':') {
        return Err(bad("contains a control character or ':'"));
    }
    // `name#N` is how blob storage names a part being written; start-up cleaning removes
    // such files, so no upload may be called that.
    if name.contains('#') {
        return Err(bad("contains '#'"));
    }
    Ok(())
}

fn blob_key(project: &str, name: &str) -> String {
    format!("uploaded-data/{project}/{name}")
}

fn blob_path(key: &str) -> BlobPath {
    key.split('/').collect()
}

/// Characters escaped in one URL path segment (RFC 3986 keeps unreserved and sub-delims).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn blob_url(st: &State, key: &str) -> String {
    let encoded: Vec<String> = key
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect();
    format!("{}/{}", st.base_url, encoded.join("/"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadUrlQuery {
    name: Option<String>,
    project: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    storage_id: Option<String>,
    bucket: Option<String>,
}

async fn get_upload_url(AxState(st): AxState<Shared>, uri: Uri) -> ApiResult {
    let q: UploadUrlQuery = query(&uri)?;
    let name = q
        .name
        .ok_or_else(|| ApiError::bad("`name` is required: the file name to upload as"))?;
    let project = q
        .project
        .ok_or_else(|| ApiError::bad("`project` is required: the project ID"))?;
    match q.kind.as_deref() {
        None | Some("assets") => {}
        Some(other) => {
            return Err(ApiError::bad(format!(
                "`type` {other:?} is not supported by this hub; only `assets` uploads are stored"
            )))
        }
    }
    match (q.storage_id.filter(|s| !s.is_empty()), q.bucket) {
        (None, None) => {}
        (None, Some(_)) => {
            return Err(ApiError::bad(
                "`bucket` needs a `storageId`; leave both out to store the file on the hub",
            ))
        }
        (Some(id), bucket) => {
            // A presigned PUT straight into the bucket: the file never passes through the hub,
            // and the asset registered afterwards references it with `storage` set.
            check_upload_name(&name)?;
            let s = st.clone();
            let p = project.clone();
            if blocking(move || s.catalog.project(&p)).await?.is_none() {
                return Err(ApiError::not_found(format!("project {project} not found")));
            }
            let remote = load_remote(&st, &id)
                .await
                .map_err(|e| ApiError::new(e.status, format!("`storageId`: {}", e.message)))?;
            let bucket = remote
                .bucket_or_default(bucket.as_deref())
                .map_err(|e| ApiError::bad(format!("`bucket`: {e}")))?;
            let at = Located {
                bucket,
                key: blob_key(&project, &name),
            };
            let url = st
                .clients
                .sign(&remote, SignMethod::PUT, &at, signed_ttl(&st))
                .await?;
            return success(StatusCode::CREATED, json!({"uploadUrl": url}));
        }
    }
    check_upload_name(&name)?;
    let key = blob_key(&project, &name);
    let k = key.clone();
    let s = st.clone();
    blocking(move || s.catalog.reserve(&k, &project)).await?;
    let path = format!("/{key}");
    let expires = now_secs() + st.config.url_ttl_secs;
    let sig = st
        .signer
        .query("PUT", &path, expires, Some(st.config.max_upload_bytes));
    let url = format!("{}?{sig}", blob_url(&st, &key));
    success(StatusCode::CREATED, json!({"uploadUrl": url}))
}

/// The blob key of a URL that points at this hub's storage, if it does.
fn own_key(st: &State, url: &str) -> Option<String> {
    let rest = url.strip_prefix(&st.base_url)?.strip_prefix('/')?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    if !rest.starts_with("uploaded-data/") {
        return None;
    }
    let decoded: Result<Vec<String>, _> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
        })
        .collect();
    decoded.ok().map(|parts| parts.join("/"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedUrlQuery {
    url: Option<String>,
    name: Option<String>,
    storage_id: Option<String>,
}

/// The storage a URL names itself with `?storageId=` (markdown/HTML links) or the older
/// `?integrationId=`.
fn storage_in_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(k, v)| (k == "storageId" || k == "integrationId") && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

async fn get_signed_url(AxState(st): AxState<Shared>, uri: Uri) -> ApiResult {
    let q: SignedUrlQuery = query(&uri)?;
    let url = q
        .url
        .or(q.name)
        .ok_or_else(|| ApiError::bad("`url` is required: the asset URL to sign"))?;
    let storage_id = q
        .storage_id
        .filter(|s| !s.is_empty())
        .or_else(|| storage_in_url(&url));
    if let Some(id) = storage_id {
        let remote = load_remote(&st, &id)
            .await
            .map_err(|e| ApiError::new(e.status, format!("`storageId`: {}", e.message)))?;
        let at = remote
            .locate(&url)
            .map_err(|e| ApiError::bad(format!("`url`: {e}")))?;
        let signed = st
            .clients
            .sign(&remote, SignMethod::GET, &at, signed_ttl(&st))
            .await?;
        return success(StatusCode::OK, json!({"signedUrl": signed}));
    }
    if let Some(key) = own_key(&st, &url) {
        let expires = now_secs() + st.config.url_ttl_secs;
        let sig = st.signer.query("GET", &format!("/{key}"), expires, None);
        return success(
            StatusCode::OK,
            json!({"signedUrl": format!("{}?{sig}", blob_url(&st, &key))}),
        );
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        // A public URL needs no signature.
        return success(StatusCode::OK, json!({"signedUrl": url}));
    }
    Err(ApiError::bad(format!(
        "`url` {url:?} is neither a URL of this hub nor an http(s) URL"
    )))
}

fn check_signature(
    st: &State,
    method: &str,
    key: &str,
    uri: &Uri,
) -> Result<SignedQuery, ApiError> {
    let q: SignedQuery = query(uri)?;
    st.signer
        .verify(method, &format!("/{key}"), &q, now_secs())
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, e.to_string()))?;
    Ok(q)
}

async fn put_blob(
    AxState(st): AxState<Shared>,
    UrlPath((project, name)): UrlPath<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    check_upload_name(&name)?;
    let key = blob_key(&project, &name);
    let signed = check_signature(&st, "PUT", &key, &uri)?;
    let max = signed
        .max_size
        .unwrap_or(st.config.max_upload_bytes)
        .min(st.config.max_upload_bytes);
    let s = st.clone();
    let k = key.clone();
    let reservation = blocking(move || s.catalog.reservation(&k)).await?;
    let Some(reservation) = reservation else {
        return Err(ApiError::not_found(format!(
            "no upload was reserved as {key}; call getUploadUrl first"
        )));
    };
    if reservation.project != project {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the upload URL belongs to another project",
        ));
    }
    // Until an asset is registered on it a blob may be sent again (a retried PUT); after that
    // its bytes are the asset's and must not change under it.
    if reservation.registered {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{key} is already registered as an asset; ask for a new upload URL to send other bytes"),
        ));
    }
    let too_big = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this URL allows ({max} bytes)"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max {
            return Err(too_big());
        }
    }
    let path = blob_path(&key);
    let upload = st
        .blobs
        .put_multipart(&path)
        .await
        .map_err(|e| ApiError::internal("blob storage", &e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    let mut hasher = blake3::Hasher::new();
    let mut head: Vec<u8> = Vec::with_capacity(8192);
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(ApiError::bad(format!("the upload was interrupted: {e}")));
            }
        };
        size += chunk.len() as u64;
        if size > max {
            let _ = writer.abort().await;
            return Err(too_big());
        }
        if head.len() < 8192 {
            let take = (8192 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        if let Err(e) = writer.wait_for_capacity(2).await {
            return Err(ApiError::internal("blob storage", &e));
        }
        writer.write(&chunk);
    }
    // The blob appears under its final name only here, complete (the local store renames a
    // staged file; object stores complete a multipart upload).
    writer
        .finish()
        .await
        .map_err(|e| ApiError::internal("blob storage", &e))?;
    let hash = hasher.finalize().to_hex().to_string();
    let kind = crate::media::sniff_named(&name, &head).map(|f| f.kind().as_str());
    let s = st.clone();
    blocking(move || s.catalog.complete_reservation(&key, size, &hash, kind)).await?;
    Ok(StatusCode::OK.into_response())
}

fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "dcm" => "application/dicom",
        _ => "application/octet-stream",
    }
}

async fn get_blob(
    AxState(st): AxState<Shared>,
    UrlPath((project, name)): UrlPath<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    check_upload_name(&name)?;
    let key = blob_key(&project, &name);
    let by_key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| blake3::hash(k.as_bytes()) == blake3::hash(st.api_key.as_bytes()));
    if !by_key {
        check_signature(&st, "GET", &key, &uri)?;
    }
    let got = match st.blobs.get(&blob_path(&key)).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(ApiError::not_found(format!("no file at {key}")))
        }
        Err(e) => return Err(ApiError::internal("blob storage", &e)),
    };
    let len = got.meta.size;
    let body = Body::from_stream(got.into_stream());
    Ok((
        [
            (header::CONTENT_TYPE, content_type(&name).to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            // An uploaded page is shown as a document in its own sandbox: no script runs on the
            // hub's origin, nothing is fetched but media.
            (header::CONTENT_SECURITY_POLICY, BLOB_CSP.to_owned()),
        ],
        body,
    )
        .into_response())
}

/// The content security policy of every file the hub serves.
const BLOB_CSP: &str =
    "sandbox; default-src 'none'; img-src * data:; media-src *; style-src 'unsafe-inline'";

/// Every answer says its type is what it says (`nosniff`): no browser guesses HTML or script
/// out of an uploaded file or an answer.
async fn no_sniffing(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    resp
}

// ---- assets ----------------------------------------------------------------------------------

#[derive(Deserialize)]
struct BatchQuery {
    batches: Option<String>,
}

fn string_list(v: &Value, what: &str) -> Result<Vec<String>, ApiError> {
    let err = || ApiError::bad(format!("{what} must be a JSON array of strings"));
    v.as_array()
        .ok_or_else(err)?
        .iter()
        .map(|x| x.as_str().map(str::to_owned).ok_or_else(err))
        .collect()
}

fn object_or_null(v: Option<Value>, what: &str) -> Result<Option<Value>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(ApiError::bad(format!("{what} must be a JSON object"))),
    }
}

/// Guesses the kind of a referenced (not uploaded) asset: inline HTML by its opening `<`, a URL
/// by its extension. Other inline text (markdown, or a folder reference) is left unknown rather
/// than guessed from whatever follows its last `/`.
fn kind_of_data(data: &str) -> Option<&'static str> {
    if data.trim_start().starts_with('<') {
        return Some("html");
    }
    if data.contains("://") {
        return kind_of_url(data);
    }
    None
}

/// The scheme of a `scheme://…` URL the hub can neither download nor hand to an annotator's
/// browser: anything but http(s), and a bucket's own scheme (`s3`, `gs`, `az`) with a storage
/// that reaches it (`file`, `ftp`, `gopher`, a bucket URL without a storage…). Inline content
/// (markdown, HTML, text) is not a URL and passes.
fn unfetchable_scheme(data: &str, has_storage: bool) -> Option<String> {
    let (scheme, _) = data.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let lower = scheme.to_ascii_lowercase();
    let served = matches!(lower.as_str(), "http" | "https")
        || (has_storage && matches!(lower.as_str(), "s3" | "s3a" | "gs" | "az" | "azure"));
    (valid && !served).then_some(lower)
}

/// Guesses the kind of a URL from its extension.
fn kind_of_url(url: &str) -> Option<&'static str> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('/').next()?.rsplit_once('.')?.1.to_owned();
    Some(match ext.as_str() {
        "jpg" | "jpeg" | "png" | "tif" | "tiff" => "image",
        "mp4" | "webm" | "mov" | "mkv" => "video",
        "mp3" | "wav" | "ogg" => "audio",
        "pdf" => "pdf",
        "txt" => "text",
        "md" => "markdown",
        "html" | "htm" => "html",
        "dcm" => "dicom",
        "nrrd" => "nrrd",
        "nii" | "gz" => "nifti",
        _ => return None,
    })
}

struct Parsed {
    asset: NewAsset,
    batches: Option<Vec<String>>,
    own_key: Option<String>,
    /// An http(s) URL the hub downloads into its own storage (`uploadLocal: "true"`).
    download: Option<String>,
}

/// About how many bytes `v` takes as JSON text (escapes aside), without writing it.
fn json_size(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|x| json_size(x) + 1).sum::<usize>(),
        Value::Object(m) => {
            2 + m
                .iter()
                .map(|(k, x)| k.len() + 4 + json_size(x))
                .sum::<usize>()
        }
    }
}

fn parse_asset(
    st: &State,
    i: usize,
    v: Value,
    upload_local: bool,
    default_storage: Option<&str>,
) -> Result<Parsed, ApiError> {
    let size = json_size(&v);
    if size > super::MAX_ASSET_BYTES {
        return Err(ApiError::bad(format!(
            "assets[{i}] holds {:.1} MB, more than the {} MiB one asset may hold; host long content as a file (`data` is then its URL), and split a `dataset` of that many pages into several assets",
            size as f64 / 1e6,
            super::MAX_ASSET_BYTES >> 20
        )));
    }
    let Value::Object(mut m) = v else {
        return Err(ApiError::bad(format!(
            "assets[{i}] must be a JSON object with `data` and `externalId`"
        )));
    };
    let field = |f: &str| format!("assets[{i}].{f}");
    let external_id = match m.remove("externalId") {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => {
            return Err(ApiError::bad(format!(
                "{} is missing: every asset needs an externalId (any text; it need not be unique)",
                field("externalId")
            )))
        }
        Some(_) => {
            return Err(ApiError::bad(format!(
                "{} must be a string",
                field("externalId")
            )))
        }
    };
    let data = match m.remove("data") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(ApiError::bad(format!(
                "{} must be a non-empty string: a URL, or inline markdown/HTML",
                field("data")
            )))
        }
    };
    let dataset = match m.remove("dataset") {
        None | Some(Value::Null) => None,
        Some(v) => Some(string_list(&v, &field("dataset"))?),
    };
    if data.is_none() && dataset.is_none() {
        return Err(ApiError::bad(format!(
            "{} is missing: give a URL (or inline content) in `data`, or image URLs in `dataset`",
            field("data")
        )));
    }
    let mut metadata = object_or_null(m.remove("metadata"), &field("metadata"))?;
    for dim in ["width", "height"] {
        if let Some(v) = m.remove(dim) {
            if !v.is_number() {
                return Err(ApiError::bad(format!("{} must be a number", field(dim))));
            }
            let meta = metadata.get_or_insert_with(|| json!({}));
            if let Value::Object(mm) = meta {
                mm.entry(dim).or_insert(v);
            }
        }
    }
    let context_data = object_or_null(m.remove("contextData"), &field("contextData"))?;
    let batches = match m.remove("batches") {
        None | Some(Value::Null) => None,
        Some(v) => Some(string_list(&v, &field("batches"))?),
    };
    let storage = match m.remove("storage") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(ApiError::bad(format!(
                "{} must be a storage ID string",
                field("storage")
            )))
        }
    };
    let upload_id = match m.remove("uploadId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => Some(s),
        Some(_) => {
            return Err(ApiError::bad(format!(
                "{} must be a string of 1 to 128 characters",
                field("uploadId")
            )))
        }
    };
    let own = data.as_deref().and_then(|d| own_key(st, d));
    // The request-wide storage applies to every asset without its own, except hub files.
    let storage = storage.or_else(|| {
        own.is_none()
            .then(|| default_storage.map(str::to_owned))
            .flatten()
    });
    let urls = data.iter().map(|d| (field("data"), d)).chain(
        dataset
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, d)| (format!("{}[{j}]", field("dataset")), d)),
    );
    for (name, url) in urls {
        if let Some(scheme) = unfetchable_scheme(url, storage.is_some()) {
            return Err(ApiError::bad(format!(
                "{name}: a {scheme}:// URL can be neither fetched nor served by this hub; give an http(s) URL (for a private bucket, the object's https URL and its `storage`)"
            )));
        }
    }
    // Objects of a storage stay in their bucket (the SDK's upload_files(storage_id=...) puts
    // them there and registers with uploadLocal "true"); public URLs are copied to the hub.
    let download = data
        .as_ref()
        .filter(|d| {
            upload_local
                && own.is_none()
                && storage.is_none()
                && (d.starts_with("http://") || d.starts_with("https://"))
        })
        .cloned();
    if let (Some(_), Some(id)) = (&own, &storage) {
        return Err(ApiError::bad(format!(
            "{}: the data is a file on this hub, not in storage {id}; leave `storage` out for uploaded files",
            field("storage")
        )));
    }
    let kind = if own.is_some() {
        None
    } else {
        data.as_deref().and_then(kind_of_data).map(str::to_owned)
    };
    let asset = NewAsset {
        upload_id,
        external_id,
        data,
        dataset,
        kind,
        metadata,
        context_data,
        extra: m,
        storage,
        ..NewAsset::default()
    };
    Ok(Parsed {
        asset,
        batches,
        own_key: own,
        download,
    })
}

/// Most problems listed in one answer.
const MAX_LISTED_PROBLEMS: usize = 20;

fn problems_message(what: &str, problems: &[String]) -> String {
    let mut msg = format!(
        "{} asset(s) {what}; nothing was imported: {}",
        problems.len(),
        problems
            .iter()
            .take(MAX_LISTED_PROBLEMS)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    if problems.len() > MAX_LISTED_PROBLEMS {
        let _ = write!(msg, "; and {} more", problems.len() - MAX_LISTED_PROBLEMS);
    }
    msg
}

/// Storage objects checked at once, and URLs downloaded at once, per request.
const CHECK_CONCURRENCY: usize = 16;
const DOWNLOAD_CONCURRENCY: usize = 8;

/// Loads every storage the assets name (404 naming the first asset of an unknown one), then
/// checks that each object they reference exists. Fills in object sizes.
async fn check_storage_objects(st: &Shared, parsed: &mut [Parsed]) -> Result<(), ApiError> {
    let mut remotes: std::collections::HashMap<String, Remote> = std::collections::HashMap::new();
    for (i, p) in parsed.iter().enumerate() {
        let Some(id) = &p.asset.storage else { continue };
        if remotes.contains_key(id) {
            continue;
        }
        match load_remote(st, id).await {
            Ok(r) => {
                remotes.insert(id.clone(), r);
            }
            Err(e) if e.status == StatusCode::NOT_FOUND => {
                return Err(ApiError::not_found(format!(
                    "assets[{i}].storage: storage {id} not found; create it with POST /v2/storages or leave `storage` out"
                )))
            }
            Err(e) => {
                return Err(ApiError::new(
                    e.status,
                    format!("assets[{i}].storage: {}", e.message),
                ))
            }
        }
    }
    if remotes.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    let mut checks = Vec::new();
    for (i, p) in parsed.iter().enumerate() {
        let Some(remote) = p.asset.storage.as_ref().and_then(|id| remotes.get(id)) else {
            continue;
        };
        let mut urls: Vec<(String, &str)> = Vec::new();
        if let Some(d) = &p.asset.data {
            urls.push(("data".to_owned(), d));
        }
        for (j, d) in p.asset.dataset.iter().flatten().enumerate() {
            urls.push((format!("dataset[{j}]"), d));
        }
        for (field, url) in urls {
            // Inline markdown/HTML and folder references (3D) name no single object.
            if url.trim_start().starts_with('<') || !url.contains("://") {
                continue;
            }
            match remote.locate(url) {
                Ok(at) => checks.push((i, field, at, remote)),
                Err(e) => problems.push(format!("assets[{i}].{field}: {e}")),
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::bad(problems_message(
            "do not reference objects of their storage",
            &problems,
        )));
    }
    let clients = &st.clients;
    let heads: Vec<_> = checks
        .into_iter()
        .map(|(i, field, at, remote)| async move {
            let r = clients.head(remote, &at).await;
            (i, field, at, remote, r)
        })
        .collect();
    let results: Vec<_> = futures::stream::iter(heads)
        .buffered(CHECK_CONCURRENCY)
        .collect()
        .await;
    for (i, field, at, remote, r) in results {
        match r {
            Ok(meta) => {
                if field == "data" {
                    parsed[i].asset.size = Some(meta.size);
                }
            }
            Err(e) if e.failure == storage::Failure::NotFound => problems.push(format!(
                "assets[{i}].{field}: there is no object {}/{} in storage {}",
                at.bucket, at.key, remote.storage.id
            )),
            Err(e) => {
                return Err(ApiError::from(e).prefixed(&format!("assets[{i}].{field}: ")));
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::bad(problems_message(
            "point at objects that do not exist",
            &problems,
        )));
    }
    Ok(())
}

/// A blob name for a downloaded URL: random, keeping the URL's extension (`.nii.gz` whole).
fn download_name(url: &str) -> String {
    let stem = hex::encode(rand::random::<[u8; 16]>());
    let last = url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next_back().map(str::to_ascii_lowercase))
        })
        .unwrap_or_default();
    let ext = if last.ends_with(".nii.gz") {
        Some("nii.gz".to_owned())
    } else {
        last.rsplit_once('.')
            .map(|(_, e)| e.to_owned())
            .filter(|e| {
                !e.is_empty() && e.len() <= 10 && e.bytes().all(|b| b.is_ascii_alphanumeric())
            })
    };
    match ext {
        Some(e) => format!("{stem}.{e}"),
        None => stem,
    }
}

/// Downloads every `uploadLocal` URL into `uploaded-data/<project>/` (bounded, all or nothing)
/// and turns those assets into hub files. Returns the blob keys written, for cleanup.
async fn download_assets(
    st: &Shared,
    project: &str,
    parsed: &mut [Parsed],
) -> Result<Vec<String>, ApiError> {
    let wanted: Vec<(usize, String)> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.download.clone().map(|u| (i, u)))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let jobs: Vec<(usize, String, String, String)> = wanted
        .into_iter()
        .map(|(i, url)| {
            let name = download_name(&url);
            let key = blob_key(project, &name);
            (i, url, name, key)
        })
        .collect();
    let keys: Vec<String> = jobs.iter().map(|j| j.3.clone()).collect();
    let s = st.clone();
    let (p, k) = (project.to_owned(), keys.clone());
    blocking(move || k.iter().try_for_each(|key| s.catalog.reserve(key, &p))).await?;
    let fetcher = Fetcher {
        allow_private: st.config.allow_private_downloads,
        max_bytes: st.config.max_upload_bytes,
        deadline: std::time::Duration::from_secs(st.config.download_deadline_secs.max(1)),
        retry: crate::upload::RetryPolicy {
            max_retries: 3,
            base: std::time::Duration::from_millis(200),
            max: std::time::Duration::from_secs(5),
        },
    };
    let (fetcher, blobs) = (&fetcher, st.blobs.as_ref());
    let fetches: Vec<_> = jobs
        .into_iter()
        .map(|(i, url, name, key)| async move {
            let r = fetcher.fetch(&url, blobs, &blob_path(&key)).await;
            (i, url, name, key, r)
        })
        .collect();
    let results: Vec<_> = futures::stream::iter(fetches)
        .buffer_unordered(DOWNLOAD_CONCURRENCY)
        .collect()
        .await;
    let mut failed: Vec<(usize, fetch::FetchError)> = Vec::new();
    let mut done = Vec::new();
    for (i, url, name, key, r) in results {
        match r {
            Ok(f) => done.push((i, url, name, key, f)),
            Err(e) => failed.push((i, e)),
        }
    }
    if !failed.is_empty() {
        remove_blobs(st, &keys).await;
        failed.sort_by_key(|(i, _)| *i);
        let problems: Vec<String> = failed
            .iter()
            .map(|(i, e)| format!("assets[{i}].data: {e}"))
            .collect();
        // The status of the first failure says what kind of problem it is.
        let status = ApiError::from(fetch::FetchError {
            failure: failed[0].1.failure,
            message: String::new(),
        })
        .status;
        return Err(ApiError::new(
            status,
            problems_message("could not be downloaded", &problems),
        ));
    }
    let s = st.clone();
    let completed: Vec<(String, u64, String, Option<&'static str>)> = done
        .iter()
        .map(|(_, _, name, key, f)| {
            let kind = crate::media::sniff_named(name, &f.head).map(|k| k.kind().as_str());
            (key.clone(), f.size, f.hash.clone(), kind)
        })
        .collect();
    blocking(move || {
        completed.iter().try_for_each(|(key, size, hash, kind)| {
            s.catalog.complete_reservation(key, *size, hash, *kind)
        })
    })
    .await?;
    for (i, url, _, key, _) in done {
        let p = &mut parsed[i];
        p.asset.data = Some(blob_url(st, &key));
        p.asset.extra.insert("sourceUrl".into(), Value::String(url));
        p.own_key = Some(key);
        p.asset.kind = None;
    }
    Ok(keys)
}

/// Deletes blobs written for a request that failed (best effort: a leftover is only disk).
async fn remove_blobs(st: &Shared, keys: &[String]) {
    for key in keys {
        if let Err(e) = st.blobs.delete(&blob_path(key)).await {
            if !matches!(e, object_store::Error::NotFound { .. }) {
                tracing::warn!("cannot remove {key} after a failed import: {e}");
            }
        }
    }
}

async fn register_assets(
    AxState(st): AxState<Shared>,
    UrlPath(project): UrlPath<String>,
    uri: Uri,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let Value::Object(mut body) = body else {
        return Err(ApiError::bad("the body must be a JSON object: {\"assets\": [...], \"uploadLocal\": \"false\", \"priority\": 0}"));
    };
    let q: BatchQuery = query(&uri)?;
    let request_batches = match q.batches.as_deref() {
        None | Some("") => Vec::new(),
        Some(text) => {
            let v: Value = serde_json::from_str(text).map_err(|e| {
                ApiError::bad(format!(
                    "query `batches` must be a JSON array of batch names or IDs: {e}"
                ))
            })?;
            string_list(&v, "query `batches`")?
        }
    };
    let upload_local = match body.remove("uploadLocal") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) if s == "true" => true,
        Some(Value::String(s)) if s == "false" => false,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "`uploadLocal` must be \"true\" or \"false\" (got {other})"
            )))
        }
    };
    let priority = match body.remove("priority") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .filter(|p| (-1000..=1000).contains(p))
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "`priority` must be a whole number from -1000 to 1000 (got {v})"
                ))
            })?,
    };
    // Our extension: one storage for every asset that names none (the SDK sets it per asset).
    let default_storage = match body.remove("storage").or_else(|| body.remove("storageId")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(_) => return Err(ApiError::bad("`storage` must be a storage ID string")),
    };
    let Some(Value::Array(list)) = body.remove("assets") else {
        return Err(ApiError::bad("`assets` is missing or not an array"));
    };
    if list.is_empty() {
        return Err(ApiError::bad("`assets` is empty; send at least one asset"));
    }
    let mut parsed = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        parsed.push(parse_asset(
            &st,
            i,
            v,
            upload_local,
            default_storage.as_deref(),
        )?);
    }
    // Checks that reach out (storages, downloads) wait until the project is known to exist.
    let (shared, wanted) = (st.clone(), project.clone());
    if blocking(move || shared.catalog.project(&wanted))
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!("project {project} not found")));
    }
    check_storage_objects(&st, &mut parsed).await?;
    let downloaded = download_assets(&st, &project, &mut parsed).await?;
    let s = st.clone();
    let result = blocking(move || {
        let Some(_) = s.catalog.project(&project)? else {
            return Err(CatalogError::NotFound(format!("project {project} not found")));
        };
        let default_batches = s.catalog.resolve_batches(&project, &request_batches)?;
        let mut known_storages = std::collections::HashSet::new();
        let mut assets = Vec::with_capacity(parsed.len());
        for (i, p) in parsed.into_iter().enumerate() {
            let mut a = p.asset;
            if let Some(id) = &a.storage {
                if !known_storages.contains(id) {
                    if s.catalog.storage(id)?.is_none() {
                        return Err(CatalogError::NotFound(format!(
                            "assets[{i}].storage: storage {id} not found; create it with POST /v2/storages or leave `storage` out"
                        )));
                    }
                    known_storages.insert(id.clone());
                }
            }
            a.priority = priority;
            a.batches = match &p.batches {
                Some(names) => s
                    .catalog
                    .resolve_batches(&project, names)
                    .map_err(|e| CatalogError::NotFound(format!("assets[{i}].batches: {e}")))?,
                None => default_batches.clone(),
            };
            if let Some(key) = p.own_key {
                let r = s.catalog.reservation(&key)?;
                match r {
                    Some(r) if r.project == project && r.size.is_some() => {
                        a.size = r.size;
                        a.content_hash = r.content_hash;
                        a.kind = r.kind;
                        a.blob_key = Some(key);
                    }
                    Some(r) if r.project != project => {
                        return Err(CatalogError::Invalid(format!("assets[{i}].data points at a file uploaded to another project")));
                    }
                    _ => {
                        return Err(CatalogError::Invalid(format!(
                            "assets[{i}].data: nothing was uploaded to {key}; PUT the file to its upload URL first"
                        )))
                    }
                }
            }
            assets.push(a);
        }
        let pre_labels: usize = assets
            .iter()
            .map(|a| a.extra.get("classifications").and_then(Value::as_array).map_or(0, Vec::len))
            .sum();
        let ids = s.catalog.insert_assets(&project, &assets)?;
        Ok((ids, pre_labels))
    })
    .await;
    if result.is_err() {
        remove_blobs(&st, &downloaded).await;
    }
    let (ids, pre_labels) = result?;
    let created = ids.iter().filter(|(_, new)| *new).count() as u64;
    let answer = wire::RegisterAnswer {
        assets: wire::CreatedAnswer::Counts(wire::Created {
            assets_created: created,
            tasks_created: created,
            pre_labels_count: pre_labels as u64,
            valid_pre_labels_count: pre_labels as u64,
        }),
        asset_ids: Some(ids.into_iter().map(|(id, _)| id).collect()),
    };
    success(StatusCode::CREATED, json!(answer))
}

#[derive(Deserialize)]
struct AssetsQuery {
    page: Option<String>,
    limit: Option<String>,
    filters: Option<String>,
}

fn parse_filter(text: Option<&str>) -> Result<AssetFilter, ApiError> {
    let mut f = AssetFilter::default();
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(f);
    };
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad(format!("`filters` must be a JSON object: {e}")))?;
    let Value::Object(m) = v else {
        return Err(ApiError::bad("`filters` must be a JSON object"));
    };
    for (k, v) in m {
        match k.as_str() {
            "_id" => f.id = Some(v.as_str().ok_or_else(|| ApiError::bad("filters._id must be a string"))?.to_owned()),
            "externalId" => f.external_id = Some(v.as_str().ok_or_else(|| ApiError::bad("filters.externalId must be a string"))?.to_owned()),
            "batches" => f.batches = string_list(&v, "filters.batches")?,
            "isPreLabeled" => f.is_pre_labeled = Some(v.as_bool().ok_or_else(|| ApiError::bad("filters.isPreLabeled must be true or false"))?),
            other => return Err(ApiError::bad(format!("filters.{other} is not a supported filter; use _id, externalId, batches or isPreLabeled"))),
        }
    }
    Ok(f)
}

async fn list_assets(
    AxState(st): AxState<Shared>,
    UrlPath(project): UrlPath<String>,
    uri: Uri,
) -> ApiResult {
    let q: AssetsQuery = query(&uri)?;
    // At most 100 per page, as on Ango Hub.
    let (page, limit) = paging(
        &Paging {
            page: q.page,
            limit: q.limit,
        },
        wire::MAX_PAGE,
    )?;
    let mut filter = parse_filter(q.filters.as_deref())?;
    let (shared, wanted) = (st.clone(), project.clone());
    let (ids, total) = blocking(move || {
        if !filter.batches.is_empty() {
            filter.batches = shared.catalog.resolve_batches(&wanted, &filter.batches)?;
        }
        shared.catalog.list_asset_ids(&wanted, &filter, page, limit)
    })
    .await?;
    // The answer is written asset by asset, each read when the client has taken the one before:
    // a page of large assets never sits whole in memory, and the catalog is never held while a
    // slow client reads.
    let head = format!(
        r#"{{"status":"success","data":{{"total":{total},"page":{page},"limit":{limit},"assets":["#
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(head))).await.is_err() {
            return;
        }
        let mut first = true;
        let mut chunk = Vec::with_capacity(LISTING_CHUNK);
        // A few assets per trip to the catalog: at most 8 × 4 MiB in hand at once.
        for group in ids.chunks(8) {
            let (shared, wanted, group) = (st.clone(), project.clone(), group.to_vec());
            // An asset deleted since the page was read is left out.
            let found = blocking(move || shared.catalog.assets_with_ids(&wanted, &group)).await;
            let assets = match found {
                Ok(assets) => assets,
                Err(e) => {
                    tracing::error!("listing the assets of {project}: {}", e.message);
                    let _ = tx
                        .send(Err(std::io::Error::other("the catalog failed mid-listing")))
                        .await;
                    return;
                }
            };
            for asset in assets {
                if !first {
                    chunk.push(b',');
                }
                first = false;
                if let Err(e) = serde_json::to_writer(&mut chunk, &asset) {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    return;
                }
                // Small assets go out together, a large one on its own.
                if chunk.len() >= LISTING_CHUNK
                    && tx
                        .send(Ok(Bytes::from(std::mem::take(&mut chunk))))
                        .await
                        .is_err()
                {
                    return;
                }
            }
        }
        chunk.extend_from_slice(b"]}}");
        let _ = tx.send(Ok(Bytes::from(chunk))).await;
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
        .into_response())
}

/// Bytes of listed assets gathered before they are written.
const LISTING_CHUNK: usize = 64 << 10;

/// Most content hashes asked about in one request.
const MAX_HASHES_PER_REQUEST: usize = 10_000;

/// An extension to Ango's API: which of these contents (BLAKE3, hex) the project holds already,
/// so a client can skip files that are there under any name.
async fn assets_by_content(
    AxState(st): AxState<Shared>,
    UrlPath(project): UrlPath<String>,
    JsonBody(body): JsonBody<wire::ContentQuery>,
) -> ApiResult {
    if body.content_hashes.len() > MAX_HASHES_PER_REQUEST {
        return Err(ApiError::bad(format!(
            "`contentHashes` has {} entries; send at most {MAX_HASHES_PER_REQUEST} per request",
            body.content_hashes.len()
        )));
    }
    if let Some((i, h)) = body.content_hashes.iter().enumerate().find(|(_, h)| {
        h.len() != 64
            || !h
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }) {
        return Err(ApiError::bad(format!(
            "`contentHashes[{i}]` ({h:?}) is not a BLAKE3 hash: 64 lowercase hex digits"
        )));
    }
    let found = blocking(move || st.catalog.assets_by_hash(&project, &body.content_hashes)).await?;
    let answer = wire::ContentAnswer {
        assets: found
            .into_iter()
            .map(|(content_hash, id, external_id)| wire::ContentMatch {
                content_hash,
                id,
                external_id,
            })
            .collect(),
    };
    success(StatusCode::OK, json!(answer))
}

#[derive(Deserialize)]
struct DeleteAssets {
    #[serde(default)]
    project: Option<String>,
    assets: Vec<String>,
}

async fn delete_assets(
    AxState(st): AxState<Shared>,
    UrlPath(project): UrlPath<String>,
    JsonBody(body): JsonBody<DeleteAssets>,
) -> ApiResult {
    if let Some(p) = &body.project {
        if p != &project {
            return Err(ApiError::bad(format!(
                "`project` {p} does not match the project in the URL ({project})"
            )));
        }
    }
    let n = blocking(move || st.catalog.delete_assets(&project, &body.assets)).await?;
    success(StatusCode::OK, json!({"deletedCount": n}))
}
