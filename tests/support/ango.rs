//! A strict stand-in for the real Ango Hub's v2 import API, written from the contract
//! (`ango-contract.md`) alone, so a client tested against it cannot lean on assetdrop's own hub
//! and its extensions (`assetIds`, `byContent`, `uploadId`, idempotency keys, …).
//!
//! Two listeners on 127.0.0.1: the API (only the documented routes, `apikey` on every call,
//! Ango's envelopes and status codes, no asset IDs after a registration, unknown asset fields
//! dropped) and an S3-like store that takes presigned PUTs and GETs with query signatures and
//! answers XML errors. Both run on their own thread and tokio runtime, so a test can start one
//! from a plain `#[test]` or from inside `#[tokio::test]`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::TcpListener as StdTcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng as _;
use serde_json::{json, Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// The largest API request body read (the store takes any size).
const API_BODY_LIMIT: usize = 50 * 1024 * 1024;
/// The bucket every presigned URL points into.
const BUCKET: &str = "ango-standin-assets";
/// The asset fields the contract documents for `POST /v2/project/{id}/cloud`; the rest are dropped.
const ASSET_FIELDS: [&str; 10] = [
    "data",
    "dataset",
    "externalId",
    "metadata",
    "contextData",
    "batches",
    "attachments",
    "storage",
    "editorType",
    "classifications",
];
/// Characters of an object name kept as they are in a URL path (S3's unreserved set).
const KEY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How a stand-in behaves.
#[derive(Debug, Clone)]
pub struct StandInConfig {
    /// The API key every API request must carry in `apikey`. Default `"ango-test-key"`.
    pub key: String,
    /// At most N API requests per window (a fixed window over all API requests, refused ones
    /// included; the store is not counted). Over it: 429 with the fail envelope. Default `None`.
    pub rate_limit: Option<(u32, Duration)>,
    /// Whether a 429 carries `Retry-After` (whole seconds, rounded up). Default `true`.
    pub retry_after_header: bool,
    /// The base URL put in presigned URLs instead of the store's own (a test can put a proxy in
    /// front of the store). Default `None`.
    pub store_public_url: Option<String>,
    /// How long a presigned URL is valid, rounded down to whole seconds (`X-Amz-Expires`); under
    /// a second makes URLs that have expired as soon as they are used. Default 15 minutes.
    pub url_ttl: Duration,
}

impl Default for StandInConfig {
    fn default() -> Self {
        Self {
            key: "ango-test-key".to_owned(),
            rate_limit: None,
            retry_after_header: true,
            store_public_url: None,
            url_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// One request one of the stand-in's ports received, with the status it was answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method, upper case.
    pub method: String,
    /// The path as received (still percent-encoded).
    pub path: String,
    /// The query string as received, without `?`.
    pub query: Option<String>,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The status answered (0 while the request is still being handled).
    pub status: u16,
    /// How many body bytes were read.
    pub body_len: usize,
}

impl Recorded {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running stand-in: the API at [`AngoStandIn::url`], the store at [`AngoStandIn::store_url`].
/// Dropping it shuts both down.
pub struct AngoStandIn {
    /// The API base, `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    /// The store's own base, `http://127.0.0.1:PORT` (no trailing slash).
    pub store_url: String,
    /// The API key the API wants.
    pub key: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    key: String,
    rate_limit: Option<(u32, Duration)>,
    retry_after_header: bool,
    url_ttl: Duration,
    /// The store's own base.
    store_own: String,
    /// The base put in presigned URLs.
    store_public: String,
    secret: [u8; 32],
    organization: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Oldest first.
    projects: Vec<Project>,
    /// Oldest first, deleted ones included.
    assets: Vec<Asset>,
    /// Keyed by the store path, `/{bucket}/{project}/{name}` as in the URL.
    blobs: HashMap<String, Vec<u8>>,
    api_log: Vec<Recorded>,
    store_log: Vec<Recorded>,
    /// Start of the current rate window and the requests counted in it.
    window: Option<(Instant, u32)>,
    id_counter: u32,
    id_random: u64,
}

struct Project {
    id: String,
    name: String,
    description: String,
    created_at: String,
    batches: Vec<(String, String)>,
    templates: Vec<Value>,
}

struct Asset {
    id: String,
    project: String,
    created_at: String,
    deleted: bool,
    /// The documented fields the client sent, `batches` excepted.
    fields: Map<String, Value>,
    /// Batch IDs.
    batches: Vec<String>,
}

/// A failure: status and message for the fail envelope.
type Fail = (StatusCode, String);

fn bad(message: impl Into<String>) -> Fail {
    (StatusCode::BAD_REQUEST, message.into())
}

fn invalid_project(id: &str) -> Fail {
    bad(format!("Invalid project: {id}."))
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_rfc3339() -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc()
        .format(&fmt)
        .expect("format a UTC time")
}

impl State {
    /// A new 24-hex-digit ID: seconds, a per-instance random part and a counter, like an
    /// `ObjectId`.
    fn new_id(&mut self) -> String {
        self.id_counter = self.id_counter.wrapping_add(1);
        let secs = OffsetDateTime::now_utc().unix_timestamp() as u32;
        format!(
            "{secs:08x}{:010x}{:06x}",
            self.id_random & 0xff_ffff_ffff,
            self.id_counter & 0xff_ffff
        )
    }

    fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    fn project_mut(&mut self, id: &str) -> Option<&mut Project> {
        self.projects.iter_mut().find(|p| p.id == id)
    }

    fn create_project(&mut self, name: &str, description: &str) -> String {
        let id = self.new_id();
        self.projects.push(Project {
            id: id.clone(),
            name: name.to_owned(),
            description: description.to_owned(),
            created_at: now_rfc3339(),
            batches: Vec::new(),
            templates: Vec::new(),
        });
        id
    }
}

impl Project {
    fn summary(&self, organization: &str) -> Value {
        json!({
            "_id": self.id,
            "name": self.name,
            "description": self.description,
            "organization": organization,
            "createdAt": self.created_at,
        })
    }

    fn whole(&self, organization: &str) -> Value {
        let batches: Vec<Value> = self
            .batches
            .iter()
            .map(|(id, name)| json!({"_id": id, "name": name}))
            .collect();
        json!({
            "_id": self.id,
            "name": self.name,
            "description": self.description,
            "organization": organization,
            "type": "ango",
            "batches": batches,
            "assetBuilderTemplates": self.templates,
            "createdAt": self.created_at,
            "__v": 0,
        })
    }

    /// A batch ID for an ID or a name (IDs first; of two batches with a name, the older).
    fn resolve_batch(&self, id_or_name: &str) -> Option<String> {
        self.batches
            .iter()
            .find(|(id, _)| id == id_or_name)
            .or_else(|| self.batches.iter().find(|(_, name)| name == id_or_name))
            .map(|(id, _)| id.clone())
    }

    fn resolve_batches(&self, wanted: &[String]) -> Result<Vec<String>, Fail> {
        let mut out = Vec::new();
        for b in wanted {
            let id = self
                .resolve_batch(b)
                .ok_or_else(|| bad(format!("Batch not found: {b}")))?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

impl Asset {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        for key in ["externalId", "data", "dataset"] {
            if let Some(v) = self.fields.get(key) {
                m.insert(key.into(), v.clone());
            }
        }
        m.insert("batches".into(), json!(self.batches));
        for (k, v) in &self.fields {
            if !m.contains_key(k) {
                m.insert(k.clone(), v.clone());
            }
        }
        m.insert("project".into(), json!(self.project));
        m.insert("createdAt".into(), json!(self.created_at));
        m.insert("isPreLabeled".into(), json!(false));
        m.insert("__v".into(), json!(0));
        Value::Object(m)
    }
}

impl AngoStandIn {
    /// Starts a stand-in on two fresh ports of 127.0.0.1 and returns once both listen. It runs
    /// on its own thread and runtime, so this works from any test, async or not.
    pub fn start(config: StandInConfig) -> Self {
        let api = StdTcpListener::bind("127.0.0.1:0").expect("bind the API port");
        let store = StdTcpListener::bind("127.0.0.1:0").expect("bind the store port");
        api.set_nonblocking(true)
            .expect("non-blocking API listener");
        store
            .set_nonblocking(true)
            .expect("non-blocking store listener");
        let url = format!("http://{}", api.local_addr().expect("API address"));
        let store_url = format!("http://{}", store.local_addr().expect("store address"));
        let store_public = config
            .store_public_url
            .as_deref()
            .map_or_else(|| store_url.clone(), |u| u.trim_end_matches('/').to_owned());
        let mut rng = rand::rng();
        let shared = Arc::new(Shared {
            key: config.key.clone(),
            rate_limit: config.rate_limit,
            retry_after_header: config.retry_after_header,
            url_ttl: config.url_ttl,
            store_own: store_url.clone(),
            store_public,
            secret: rng.random(),
            organization: format!("{:024x}", rng.random::<u128>() & ((1 << 96) - 1)),
            state: Mutex::new(State {
                id_random: rng.random(),
                ..State::default()
            }),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ango-standin".into())
            .spawn(move || serve(&for_thread, api, store, rx))
            .expect("spawn the stand-in thread");
        Self {
            url,
            store_url,
            key: config.key,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Creates a project directly (no HTTP, not recorded) and returns its `_id`.
    pub fn create_project(&self, name: &str) -> String {
        lock(&self.shared.state).create_project(name, "")
    }

    /// The project's live (not deleted) assets as the API lists them, oldest first.
    pub fn assets(&self, project: &str) -> Vec<Value> {
        lock(&self.shared.state)
            .assets
            .iter()
            .filter(|a| a.project == project && !a.deleted)
            .map(Asset::to_json)
            .collect()
    }

    /// Every request the API port received, in the order received.
    pub fn api_requests(&self) -> Vec<Recorded> {
        lock(&self.shared.state).api_log.clone()
    }

    /// Every request the store port received, in the order received.
    pub fn store_requests(&self) -> Vec<Recorded> {
        lock(&self.shared.state).store_log.clone()
    }

    /// The bytes stored for an asset's `data` URL (a presigned URL without its query; a query is
    /// ignored), or `None`.
    pub fn blob(&self, data_url: &str) -> Option<Vec<u8>> {
        let url = url::Url::parse(data_url).ok()?;
        lock(&self.shared.state).blobs.get(url.path()).cloned()
    }

    /// How many objects the store holds.
    pub fn blob_count(&self) -> usize {
        lock(&self.shared.state).blobs.len()
    }

    /// The project's batches, `(_id, name)`, in the project's order.
    pub fn batches(&self, project: &str) -> Vec<(String, String)> {
        lock(&self.shared.state)
            .project(project)
            .map(|p| p.batches.clone())
            .unwrap_or_default()
    }

    /// The project's asset builder templates, as stored (with their `_id`).
    pub fn templates(&self, project: &str) -> Vec<Value> {
        lock(&self.shared.state)
            .project(project)
            .map(|p| p.templates.clone())
            .unwrap_or_default()
    }
}

impl Drop for AngoStandIn {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The stand-in's thread: a 2-worker runtime serving both listeners until told to stop.
fn serve(
    shared: &Arc<Shared>,
    api: StdTcpListener,
    store: StdTcpListener,
    stop: oneshot::Receiver<()>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("ango-standin-worker")
        .build()
        .expect("build the stand-in runtime");
    rt.block_on(async {
        let api = tokio::net::TcpListener::from_std(api).expect("API listener");
        let store = tokio::net::TcpListener::from_std(store).expect("store listener");
        let api_app = Router::new()
            .fallback(api_entry)
            .with_state(Arc::clone(shared));
        let store_app = Router::new()
            .fallback(store_entry)
            .with_state(Arc::clone(shared));
        tokio::select! {
            r = axum::serve(api, api_app) => r.expect("serve the API"),
            r = axum::serve(store, store_app) => r.expect("serve the store"),
            _ = stop => {}
        }
    });
    rt.shutdown_background();
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Records a request as it arrives; returns its index in the log.
fn record_arrival(log: &mut Vec<Recorded>, req: &Request) -> usize {
    log.push(Recorded {
        method: req.method().as_str().to_owned(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().map(str::to_owned),
        headers: header_pairs(req.headers()),
        status: 0,
        body_len: 0,
    });
    log.len() - 1
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn fail_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({"status": "fail", "message": message}))
}

// ---------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------

async fn api_entry(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let index = record_arrival(&mut lock(&shared.state).api_log, &req);
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let (body, body_len, too_large) = match to_bytes(body, API_BODY_LIMIT).await {
        Ok(b) => {
            let n = b.len();
            (b, n, false)
        }
        Err(_) if declared.is_some_and(|n| n <= API_BODY_LIMIT) => {
            // The client broke off mid-body (a reset): nothing to answer, recorded as 499
            // ("client closed the request"), as a proxy in front of Ango would log it.
            let mut st = lock(&shared.state);
            if let Some(r) = st.api_log.get_mut(index) {
                r.status = 499;
            }
            return fail_response(StatusCode::BAD_REQUEST, "the request body broke off");
        }
        Err(_) => (bytes::Bytes::new(), 0, true),
    };
    let resp = api_answer(&shared, &parts, &body, too_large);
    let mut st = lock(&shared.state);
    if let Some(r) = st.api_log.get_mut(index) {
        r.status = resp.status().as_u16();
        r.body_len = body_len;
    }
    resp
}

/// Rate limit, then the key, then the body, then the route.
fn api_answer(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    body: &[u8],
    too_large: bool,
) -> Response {
    if let Some(retry_after) = over_rate_limit(shared) {
        let mut resp = fail_response(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        if shared.retry_after_header {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
        }
        return resp;
    }
    let key_ok = parts
        .headers
        .get("apikey")
        .is_some_and(|v| v.as_bytes() == shared.key.as_bytes());
    if !key_ok {
        return fail_response(StatusCode::UNAUTHORIZED, "Invalid API KEY");
    }
    if too_large {
        return fail_response(StatusCode::PAYLOAD_TOO_LARGE, "request entity too large");
    }
    let query = Query::parse(parts.uri.query());
    let body = match parse_body(&parts.headers, &parts.method, body) {
        Ok(b) => b,
        Err((status, message)) => return fail_response(status, &message),
    };
    match route(shared, &parts.method, parts.uri.path(), &query, &body) {
        Some(Ok((status, data))) => {
            json_response(status, &json!({"status": "success", "data": data}))
        }
        Some(Err((status, message))) => fail_response(status, &message),
        None => fail_response(
            StatusCode::NOT_FOUND,
            &format!("Cannot {} {}", parts.method, parts.uri.path()),
        ),
    }
}

/// `Some(seconds to wait)` when this request is over the limit. Every API request counts.
fn over_rate_limit(shared: &Shared) -> Option<u64> {
    let (max, window) = shared.rate_limit?;
    let now = Instant::now();
    let mut st = lock(&shared.state);
    let (start, count) = match st.window {
        Some((start, count)) if now.duration_since(start) < window => (start, count + 1),
        _ => (now, 1),
    };
    st.window = Some((start, count));
    if count <= max {
        return None;
    }
    let left = window.saturating_sub(now.duration_since(start));
    Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
}

/// The JSON body as Express's `express.json()` would see it: parsed only when the content type
/// is JSON (otherwise, and when empty, `{}`); malformed JSON is a 400.
fn parse_body(headers: &HeaderMap, method: &Method, body: &[u8]) -> Result<Value, Fail> {
    if *method == Method::GET || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => Ok(v),
        Ok(_) => Err(bad(
            "Unexpected token: the body must be a JSON object or array",
        )),
        Err(e) => Err(bad(format!("Unexpected token in JSON: {e}"))),
    }
}

/// The query string, decoded as `application/x-www-form-urlencoded`.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// One parameter; given twice is a 400.
    fn get(&self, name: &str) -> Result<Option<&str>, Fail> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(bad(format!("{name} must be given once")));
        }
        Ok(first.map(|(_, v)| v.as_str()))
    }

    fn required(&self, name: &str) -> Result<&str, Fail> {
        match self.get(name)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(bad(format!("{name} is required"))),
        }
    }

    /// `page` (1-based, default 1) and `limit` (1..=100, default 10).
    fn paging(&self) -> Result<(usize, usize), Fail> {
        let page = match self.get("page")? {
            None => 1,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => n as usize,
                _ => {
                    return Err(bad(format!(
                        "page must be an integer of at least 1, not {v:?}"
                    )))
                }
            },
        };
        let limit = match self.get("limit")? {
            None => 10,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => n as usize,
                _ => {
                    return Err(bad(format!(
                        "limit must be an integer from 1 to 100, not {v:?}"
                    )))
                }
            },
        };
        Ok((page, limit))
    }
}

/// One page of a list that is oldest first, answered newest first.
fn page_newest_first<T: Clone>(items: &[T], page: usize, limit: usize) -> Vec<T> {
    items
        .iter()
        .rev()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .cloned()
        .collect()
}

type Answer = Result<(StatusCode, Value), Fail>;

/// The documented routes; `None` for anything else (a 404).
fn route(shared: &Shared, method: &Method, path: &str, q: &Query, body: &Value) -> Option<Answer> {
    let rest = path.strip_prefix("/v2/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let m = method.clone();
    let answer = match (m, segs.as_slice()) {
        (Method::GET, ["listProjects"]) => list_projects(shared, q),
        (Method::POST, ["project"]) => create_project(shared, body),
        (Method::GET, ["project", id]) => get_project(shared, id),
        (Method::POST, ["batches", id]) => post_batches(shared, id, body),
        (Method::GET, ["getUploadUrl"]) => upload_url(shared, q),
        (Method::GET, ["getSignedUrl"]) => signed_url(shared, q),
        (Method::POST, ["project", id, "cloud"]) => cloud(shared, id, q, body),
        (Method::GET, ["project", id, "assets"]) => list_assets(shared, id, q),
        (Method::DELETE, ["project", id, "assets"]) => delete_assets(shared, id, body),
        (Method::POST, ["assignBatches"]) => assign_batches(shared, body),
        (Method::GET, ["storages"]) => Ok((StatusCode::OK, json!({"storages": []}))),
        (Method::POST, ["project", id, "assetBuilderTemplates"]) => add_template(shared, id, body),
        _ => return None,
    };
    Some(answer)
}

fn object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Fail> {
    body.as_object()
        .ok_or_else(|| bad(format!("{what} must be a JSON object")))
}

/// An optional string field: absent or null is `None`; another type is a 400.
fn opt_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Fail> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

/// A JSON array of strings, or a 400 naming `what`.
fn string_array(v: &Value, what: &str) -> Result<Vec<String>, Fail> {
    let items = v
        .as_array()
        .ok_or_else(|| bad(format!("{what} must be an array of strings")))?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("{what} must be an array of strings")))
        })
        .collect()
}

fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn list_projects(shared: &Shared, q: &Query) -> Answer {
    let (page, limit) = q.paging()?;
    let st = lock(&shared.state);
    let all: Vec<Value> = st
        .projects
        .iter()
        .map(|p| p.summary(&shared.organization))
        .collect();
    Ok((
        StatusCode::OK,
        json!({"projects": page_newest_first(&all, page, limit), "total": all.len()}),
    ))
}

fn create_project(shared: &Shared, body: &Value) -> Answer {
    let m = object(body, "the body")?;
    let name = opt_str(m, "name")?.unwrap_or("");
    if name.trim().is_empty() {
        return Err(bad("name is required"));
    }
    let description = opt_str(m, "description")?.unwrap_or("");
    let mut st = lock(&shared.state);
    let id = st.create_project(name, description);
    let project = st
        .project(&id)
        .expect("just created")
        .whole(&shared.organization);
    Ok((StatusCode::CREATED, json!({"project": project})))
}

fn get_project(shared: &Shared, id: &str) -> Answer {
    let st = lock(&shared.state);
    let p = st.project(id).ok_or_else(|| invalid_project(id))?;
    Ok((
        StatusCode::OK,
        json!({"project": p.whole(&shared.organization)}),
    ))
}

fn post_batches(shared: &Shared, project: &str, body: &Value) -> Answer {
    let m = object(body, "the body")?;
    let mut st = lock(&shared.state);
    if st.project(project).is_none() {
        return Err(invalid_project(project));
    }
    if let Some(list) = m.get("batches") {
        // The REST shape: the whole list, replacing the old one.
        let list = list
            .as_array()
            .ok_or_else(|| bad("batches must be an array of {_id?, name}"))?;
        let mut wanted = Vec::new();
        for b in list {
            let b = object(b, "each batch")?;
            let name = opt_str(b, "name")?.unwrap_or("");
            if name.is_empty() {
                return Err(bad("each batch needs a name"));
            }
            wanted.push((opt_str(b, "_id")?.map(str::to_owned), name.to_owned()));
        }
        let old: Vec<String> = st
            .project(project)
            .map(|p| p.batches.iter().map(|(id, _)| id.clone()).collect())
            .unwrap_or_default();
        let mut new_list: Vec<(String, String)> = Vec::new();
        for (id, name) in wanted {
            let id = match id {
                Some(id) if old.contains(&id) && !new_list.iter().any(|(i, _)| *i == id) => id,
                _ => st.new_id(),
            };
            new_list.push((id, name));
        }
        st.project_mut(project).expect("checked").batches = new_list;
    } else {
        // The SDK shape: one new batch (names need not be unique).
        let name = opt_str(m, "name")?.unwrap_or("");
        if name.is_empty() {
            return Err(bad("name or batches is required"));
        }
        let id = st.new_id();
        st.project_mut(project)
            .expect("checked")
            .batches
            .push((id, name.to_owned()));
    }
    let whole = st
        .project(project)
        .expect("checked")
        .whole(&shared.organization);
    Ok((StatusCode::CREATED, json!({"project": whole})))
}

fn add_template(shared: &Shared, project: &str, body: &Value) -> Answer {
    let m = object(body, "the template")?;
    let mut st = lock(&shared.state);
    if st.project(project).is_none() {
        return Err(invalid_project(project));
    }
    let mut template = Map::new();
    template.insert("_id".into(), json!(st.new_id()));
    for (k, v) in m {
        if k != "_id" {
            template.insert(k.clone(), v.clone());
        }
    }
    st.project_mut(project)
        .expect("checked")
        .templates
        .push(Value::Object(template));
    Ok((StatusCode::CREATED, json!({})))
}

// ---------------------------------------------------------------------------------------------
// Assets
// ---------------------------------------------------------------------------------------------

/// An asset validated and ready to store.
struct NewAsset {
    fields: Map<String, Value>,
    batch_refs: Vec<String>,
}

fn validate_asset(i: usize, v: &Value) -> Result<NewAsset, Fail> {
    let m = v
        .as_object()
        .ok_or_else(|| bad(format!("assets[{i}] must be an object")))?;
    let field = |k: &str| format!("assets[{i}].{k}");
    match m.get("externalId") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => {
            return Err(bad(format!(
                "{} is required and must be a string",
                field("externalId")
            )))
        }
    }
    let data_ok = match m.get("data") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if !s.is_empty() => true,
        Some(_) => return Err(bad(format!("{} must be a non-empty string", field("data")))),
    };
    let dataset_ok = match m.get("dataset") {
        None | Some(Value::Null) => false,
        Some(d) => {
            let urls = string_array(d, &field("dataset"))?;
            if urls.is_empty() {
                return Err(bad(format!("{} must not be empty", field("dataset"))));
            }
            true
        }
    };
    if !data_ok && !dataset_ok {
        return Err(bad(format!("{} (or dataset) is required", field("data"))));
    }
    for key in ["metadata", "contextData"] {
        if !matches!(m.get(key), None | Some(Value::Null | Value::Object(_))) {
            return Err(bad(format!("{} must be an object", field(key))));
        }
    }
    for key in ["storage", "editorType"] {
        if !matches!(m.get(key), None | Some(Value::Null | Value::String(_))) {
            return Err(bad(format!("{} must be a string", field(key))));
        }
    }
    if let Some(a) = m.get("attachments").filter(|a| !a.is_null()) {
        let list = a
            .as_array()
            .ok_or_else(|| bad(format!("{} must be an array", field("attachments"))))?;
        for att in list {
            let ok = att.get("type").is_some_and(Value::is_string)
                && att.get("value").is_some_and(Value::is_string);
            if !ok {
                return Err(bad(format!(
                    "{} entries must be {{type, value}} strings",
                    field("attachments")
                )));
            }
        }
    }
    if !matches!(
        m.get("classifications"),
        None | Some(Value::Null | Value::Array(_))
    ) {
        return Err(bad(format!(
            "{} must be an array",
            field("classifications")
        )));
    }
    let batch_refs = match m.get("batches") {
        None | Some(Value::Null) => Vec::new(),
        Some(b) => string_array(b, &field("batches"))?,
    };
    let mut fields = Map::new();
    for key in ASSET_FIELDS {
        if key == "batches" {
            continue;
        }
        if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
            fields.insert(key.to_owned(), v.clone());
        }
    }
    Ok(NewAsset { fields, batch_refs })
}

fn cloud(shared: &Shared, project: &str, q: &Query, body: &Value) -> Answer {
    let query_batches = match q.get("batches")? {
        None => Vec::new(),
        Some(raw) => {
            let v: Value = serde_json::from_str(raw)
                .map_err(|_| bad("batches must be a JSON array of batch IDs or names"))?;
            string_array(&v, "batches")?
        }
    };
    let m = object(body, "the body")?;
    let assets = match m.get("assets") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(bad("assets must be a non-empty array")),
    };
    match m.get("uploadLocal") {
        None | Some(Value::Bool(_)) => {}
        Some(Value::String(s)) if s == "true" || s == "false" => {}
        Some(_) => return Err(bad("uploadLocal must be \"true\" or \"false\"")),
    }
    match m.get("priority") {
        None => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(|p| (-1000.0..=1000.0).contains(&p)) => {}
        Some(_) => return Err(bad("priority must be a number from -1000 to 1000")),
    }
    let validated = assets
        .iter()
        .enumerate()
        .map(|(i, a)| validate_asset(i, a))
        .collect::<Result<Vec<_>, _>>()?;

    let mut st = lock(&shared.state);
    let p = st
        .project(project)
        .ok_or_else(|| invalid_project(project))?;
    let common = p.resolve_batches(&query_batches)?;
    let mut resolved = Vec::with_capacity(validated.len());
    for a in validated {
        let mut ids = p.resolve_batches(&a.batch_refs)?;
        for id in &common {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        resolved.push((a.fields, ids));
    }
    let n = resolved.len();
    for (fields, batches) in resolved {
        let id = st.new_id();
        st.assets.push(Asset {
            id,
            project: project.to_owned(),
            created_at: now_rfc3339(),
            deleted: false,
            fields,
            batches,
        });
    }
    Ok((
        StatusCode::CREATED,
        json!({"assets": {
            "assetsCreated": n,
            "tasksCreated": n,
            "preLabelsCount": 0,
            "validPreLabelsCount": 0,
        }}),
    ))
}

/// The `filters` query of the asset list.
#[derive(Default)]
struct Filters {
    id: Option<String>,
    external_id: Option<String>,
    batches: Vec<String>,
    pre_labeled: Option<bool>,
}

fn parse_filters(raw: Option<&str>) -> Result<Filters, Fail> {
    let mut f = Filters::default();
    let Some(raw) = raw else { return Ok(f) };
    let v: Value =
        serde_json::from_str(raw).map_err(|_| bad("filters must be URL-encoded JSON"))?;
    let m = v
        .as_object()
        .ok_or_else(|| bad("filters must be a JSON object"))?;
    for (k, v) in m {
        match k.as_str() {
            "_id" => {
                let s = v
                    .as_str()
                    .ok_or_else(|| bad("filters._id must be a string"))?;
                if !is_object_id(s) {
                    return Err(bad(format!(
                        "filters._id: Cast to ObjectId failed for {s:?}"
                    )));
                }
                f.id = Some(s.to_owned());
            }
            "externalId" => {
                let s = v
                    .as_str()
                    .ok_or_else(|| bad("filters.externalId must be a string"))?;
                f.external_id = Some(s.to_owned());
            }
            "batches" => {
                f.batches = string_array(v, "filters.batches")?;
                if let Some(b) = f.batches.iter().find(|b| !is_object_id(b)) {
                    return Err(bad(format!(
                        "filters.batches: Cast to ObjectId failed for {b:?} (batch IDs, not names)"
                    )));
                }
            }
            "isPreLabeled" => {
                f.pre_labeled = Some(
                    v.as_bool()
                        .ok_or_else(|| bad("filters.isPreLabeled must be a boolean"))?,
                );
            }
            other => return Err(bad(format!("Unknown filter: {other}"))),
        }
    }
    Ok(f)
}

impl Filters {
    fn matches(&self, a: &Asset) -> bool {
        self.id.as_ref().is_none_or(|id| *id == a.id)
            && self
                .external_id
                .as_ref()
                .is_none_or(|e| a.fields.get("externalId").and_then(Value::as_str) == Some(e))
            && self.batches.iter().all(|b| a.batches.contains(b))
            && self.pre_labeled.is_none_or(|p| !p)
    }
}

fn list_assets(shared: &Shared, project: &str, q: &Query) -> Answer {
    let (page, limit) = q.paging()?;
    let filters = parse_filters(q.get("filters")?)?;
    let st = lock(&shared.state);
    if st.project(project).is_none() {
        return Err(invalid_project(project));
    }
    let hits: Vec<&Asset> = st
        .assets
        .iter()
        .filter(|a| a.project == project && !a.deleted && filters.matches(a))
        .collect();
    let page: Vec<Value> = page_newest_first(&hits, page, limit)
        .into_iter()
        .map(Asset::to_json)
        .collect();
    Ok((StatusCode::OK, json!({"assets": page, "total": hits.len()})))
}

fn delete_assets(shared: &Shared, project: &str, body: &Value) -> Answer {
    let m = object(body, "the body")?;
    let ids = string_array(m.get("assets").unwrap_or(&Value::Null), "assets")?;
    if ids.is_empty() {
        return Err(bad("assets must be a non-empty array of asset IDs"));
    }
    if let Some(p) = opt_str(m, "project")? {
        if p != project {
            return Err(bad(format!(
                "project {p} does not match the URL's {project}"
            )));
        }
    }
    let mut st = lock(&shared.state);
    if st.project(project).is_none() {
        return Err(invalid_project(project));
    }
    for a in &mut st.assets {
        if a.project == project && ids.contains(&a.id) {
            a.deleted = true;
        }
    }
    Ok((StatusCode::OK, json!({})))
}

fn assign_batches(shared: &Shared, body: &Value) -> Answer {
    let m = object(body, "the body")?;
    let project = opt_str(m, "projectId")?.ok_or_else(|| bad("projectId is required"))?;
    let ids = string_array(m.get("assets").unwrap_or(&Value::Null), "assets")?;
    let refs = string_array(m.get("batches").unwrap_or(&Value::Null), "batches")?;
    let mut st = lock(&shared.state);
    let p = st
        .project(project)
        .ok_or_else(|| invalid_project(project))?;
    let batch_ids = p.resolve_batches(&refs)?;
    let mut count = 0usize;
    for a in &mut st.assets {
        if a.project == project && !a.deleted && ids.contains(&a.id) {
            for b in &batch_ids {
                if !a.batches.contains(b) {
                    a.batches.push(b.clone());
                }
            }
            count += 1;
        }
    }
    Ok((StatusCode::OK, json!({"assets": count})))
}

// ---------------------------------------------------------------------------------------------
// Presigned URLs
// ---------------------------------------------------------------------------------------------

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SIGNED_HEADERS: &str = "host";

/// The query parameters of a presigned URL, signature excepted.
struct Presign {
    credential: String,
    date: String,
    expires: u64,
}

impl Shared {
    fn signature(&self, method: &str, path: &str, p: &Presign) -> String {
        let mut canonical = String::new();
        let _ = write!(
            canonical,
            "{method}\n{path}\n{ALGORITHM}\n{}\n{}\n{}\n{SIGNED_HEADERS}",
            p.credential, p.date, p.expires
        );
        blake3::keyed_hash(&self.secret, canonical.as_bytes())
            .to_hex()
            .to_string()
    }

    /// A presigned URL for `method` on the store path `path`, on `base`.
    fn presign(&self, base: &str, method: &str, path: &str) -> String {
        let now = OffsetDateTime::now_utc();
        let date = now
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .expect("format X-Amz-Date");
        let day = &date[..8];
        let p = Presign {
            credential: format!("ASIASTANDIN0EXAMPLE/{day}/eu-central-1/s3/aws4_request"),
            date: date.clone(),
            expires: self.url_ttl.as_secs(),
        };
        let signature = self.signature(method, path, &p);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("X-Amz-Algorithm", ALGORITHM)
            .append_pair("X-Amz-Credential", &p.credential)
            .append_pair("X-Amz-Date", &p.date)
            .append_pair("X-Amz-Expires", &p.expires.to_string())
            .append_pair("X-Amz-SignedHeaders", SIGNED_HEADERS)
            .append_pair("X-Amz-Signature", &signature)
            .finish();
        format!("{base}{path}?{query}")
    }

    /// Checks a store request's query signature for `method` on `path`.
    fn verify(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<(), (StatusCode, &'static str, String)> {
        let denied = |msg: &str| (StatusCode::FORBIDDEN, "AccessDenied", msg.to_owned());
        let q = Query::parse(query);
        let one = |name: &str| -> Result<String, (StatusCode, &'static str, String)> {
            match q.get(name) {
                Ok(Some(v)) => Ok(v.to_owned()),
                _ => Err(denied(&format!(
                    "Query-string authentication version 4 requires the X-Amz-Algorithm, \
                     X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
                     X-Amz-Expires parameters. ({name})"
                ))),
            }
        };
        let algorithm = one("X-Amz-Algorithm")?;
        let credential = one("X-Amz-Credential")?;
        let date = one("X-Amz-Date")?;
        let expires = one("X-Amz-Expires")?;
        let signed_headers = one("X-Amz-SignedHeaders")?;
        let signature = one("X-Amz-Signature")?;
        if algorithm != ALGORITHM {
            return Err(denied("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
        }
        let expires: u64 = expires
            .parse()
            .map_err(|_| denied("X-Amz-Expires should be a number"))?;
        let p = Presign {
            credential,
            date,
            expires,
        };
        let want = self.signature(method, path, &p);
        if signed_headers != SIGNED_HEADERS || !signature.eq_ignore_ascii_case(&want) {
            return Err((
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method."
                    .to_owned(),
            ));
        }
        let signed_at = parse_amz_date(&p.date).ok_or_else(|| {
            denied("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        })?;
        let now = OffsetDateTime::now_utc();
        let now = now.unix_timestamp() as f64 + f64::from(now.nanosecond()) / 1e9;
        if now > (signed_at + p.expires as i64) as f64 {
            return Err(denied("Request has expired"));
        }
        Ok(())
    }
}

/// Seconds since the epoch of an `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let date = time::Date::from_calendar_date(
        num(0..4)? as i32,
        time::Month::try_from(num(4..6)? as u8).ok()?,
        num(6..8)? as u8,
    )
    .ok()?;
    let t = time::Time::from_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

fn upload_url(shared: &Shared, q: &Query) -> Answer {
    let name = q.required("name")?;
    let project = q.required("project")?;
    let kind = q.required("type")?;
    if kind != "assets" {
        return Err(bad(format!("type must be assets, not {kind:?}")));
    }
    if name == "." || name == ".." {
        return Err(bad("name is not a valid object name"));
    }
    if lock(&shared.state).project(project).is_none() {
        return Err(invalid_project(project));
    }
    let path = format!(
        "/{BUCKET}/{}/{}",
        utf8_percent_encode(project, KEY_SET),
        utf8_percent_encode(name, KEY_SET)
    );
    let url = shared.presign(&shared.store_public, "PUT", &path);
    Ok((StatusCode::CREATED, json!({"uploadUrl": url})))
}

fn signed_url(shared: &Shared, q: &Query) -> Answer {
    let raw = match (q.get("url")?, q.get("name")?) {
        (Some(u), _) | (None, Some(u)) if !u.is_empty() => u,
        _ => return Err(bad("url is required")),
    };
    let without_query = raw.split('?').next().unwrap_or(raw);
    for base in [&shared.store_public, &shared.store_own] {
        if let Some(path) = without_query.strip_prefix(base.as_str()) {
            if path.starts_with(&format!("/{BUCKET}/")) {
                let url = shared.presign(base, "GET", path);
                return Ok((StatusCode::CREATED, json!({"signedUrl": url})));
            }
        }
    }
    Ok((StatusCode::CREATED, json!({"signedUrl": raw})))
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

fn s3_error(status: StatusCode, code: &str, message: &str, resource: &str) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{}</Message><Resource>{}</Resource>\
         <RequestId>STANDIN0000000000</RequestId></Error>",
        xml_escape(message),
        xml_escape(resource)
    );
    let mut resp = Response::new(Body::from(xml));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn store_entry(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let index = record_arrival(&mut lock(&shared.state).store_log, &req);
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, usize::MAX).await;
    let body_len = body.as_ref().map_or(0, bytes::Bytes::len);
    let path = parts.uri.path();
    let resp = match (&parts.method, body) {
        (_, Err(_)) => s3_error(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            path,
        ),
        (&Method::PUT, Ok(bytes)) => store_put(&shared, path, parts.uri.query(), &bytes),
        (&Method::GET, Ok(_)) => store_get(&shared, path, parts.uri.query()),
        (_, Ok(_)) => s3_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            path,
        ),
    };
    let mut st = lock(&shared.state);
    if let Some(r) = st.store_log.get_mut(index) {
        r.status = resp.status().as_u16();
        r.body_len = body_len;
    }
    resp
}

/// A presigned PUT: the object is stored (overwriting), or an S3 error.
fn store_put(shared: &Shared, path: &str, query: Option<&str>, bytes: &[u8]) -> Response {
    if let Err((status, code, message)) = shared.verify("PUT", path, query) {
        return s3_error(status, code, &message, path);
    }
    let etag = format!("\"{}\"", &blake3::hash(bytes).to_hex()[..32]);
    lock(&shared.state)
        .blobs
        .insert(path.to_owned(), bytes.to_vec());
    let mut resp = Response::new(Body::empty());
    resp.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex ETag"),
    );
    resp
}

/// A presigned GET: the object's bytes, or an S3 error.
fn store_get(shared: &Shared, path: &str, query: Option<&str>) -> Response {
    if let Err((status, code, message)) = shared.verify("GET", path, query) {
        return s3_error(status, code, &message, path);
    }
    let Some(bytes) = lock(&shared.state).blobs.get(path).cloned() else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            path,
        );
    };
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}
