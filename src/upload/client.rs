//! [`HubClient`]: the client side of Ango's v2 import API, used against our hub or any hub that
//! speaks it. Requests are retried on purpose: connect failures, timeouts, 5xx and 429 (honouring
//! `Retry-After`), with exponential backoff and full jitter. Keys and signed URLs never appear in
//! errors or logs.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::receipt::Receipt;
use crate::error::{Error, ErrorCode};
use crate::wire::{self, Extension, HubInfo};

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
pub type BatchInfo = wire::Batch;

/// A project as the API returns it.
pub type ProjectInfo = wire::Project;

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
    /// Asset IDs in the order sent (an already-registered upload ID yields the earlier asset),
    /// from a hub with [`Extension::AssetIds`]; Ango's answer names none.
    pub asset_ids: Option<Vec<String>>,
    /// How many were new, when the hub counted them.
    pub created: Option<u64>,
}

/// Which kind of hub a client talks to, as the hub itself says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hub {
    /// An assetdrop hub, with its extensions.
    Assetdrop(HubInfo),
    /// A hub that offers Ango's documented API only (Ango Hub, hosted or on-prem).
    Ango,
}

impl Hub {
    /// Whether the hub offers `extension`.
    pub fn has(&self, extension: Extension) -> bool {
        match self {
            Self::Assetdrop(info) => info.extensions.contains(&extension),
            Self::Ango => false,
        }
    }

    /// How the hub is known in receipts: an assetdrop hub by its catalog's ID (the same at any
    /// address), any other by its base URL.
    pub fn identity(&self, base: &str) -> String {
        match self {
            Self::Assetdrop(info) => format!("assetdrop:{}", info.hub_id),
            Self::Ango => base.trim_end_matches('/').to_ascii_lowercase(),
        }
    }

    /// A line for people: which hub, and how it keeps imports exactly once.
    pub fn describe(&self) -> String {
        match self {
            Self::Assetdrop(info) => format!(
                "assetdrop hub {}: duplicate check by content on the hub, idempotent uploads",
                info.version
            ),
            Self::Ango => "Ango Hub: duplicate check by receipt, documented API only".to_owned(),
        }
    }
}

/// The hosted Ango Hubs, by the short name front ends offer: (name, what people read, API URL).
pub const ANGO_HUBS: [(&str, &str, &str); 4] = [
    ("ango-eu", "Ango Hub (EU)", "https://imeritapi.ango.ai"),
    ("ango-us", "Ango Hub (US)", "https://us-api.ango.ai"),
    ("ango-in", "Ango Hub (India)", "https://in-api.ango.ai"),
    ("ango-test", "Ango Hub (test)", "https://testapi.ango.ai"),
];

/// The API URL of a hub given by a short name of [`ANGO_HUBS`] or by its URL.
pub fn hub_url(name_or_url: &str) -> Result<String, Error> {
    let given = name_or_url.trim();
    if let Some((_, _, url)) = ANGO_HUBS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(given))
    {
        return Ok((*url).to_owned());
    }
    if given.starts_with("http://") || given.starts_with("https://") {
        return Ok(given.trim_end_matches('/').to_owned());
    }
    Err(Error::new(
        ErrorCode::InvalidInput,
        format!(
            "{given:?} is neither a hub URL (http:// or https://) nor a hosted Ango Hub ({})",
            ANGO_HUBS.map(|h| h.0).join(", ")
        ),
    ))
}

/// How many requests a client sends to the API in a window, at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Ango's documented limit (100 a minute) on a hub without extensions; none on ours.
    Auto,
    /// No limit but the hub's own 429s.
    Off,
    /// At most this many requests in any window this long.
    Fixed(u32, Duration),
}

/// Ango's documented rate limit on the standard plan: 100 requests a minute.
pub const ANGO_RATE_LIMIT: (u32, Duration) = (100, Duration::from_secs(60));

/// Holds requests back so that no window of the limit's length holds more than its count:
/// the times of the last requests are kept, and a request waits for the oldest to age out.
#[derive(Debug, Default)]
struct Pacer {
    sent: std::sync::Mutex<VecDeque<Instant>>,
}

impl Pacer {
    async fn wait(&self, limit: Option<(u32, Duration)>) {
        let Some((count, window)) = limit else {
            return;
        };
        let count = count.max(1) as usize;
        loop {
            let wait = {
                let mut sent = self
                    .sent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    sent.pop_front();
                }
                if sent.len() < count {
                    sent.push_back(now);
                    return;
                }
                sent.front().map_or(Duration::ZERO, |t| {
                    window.saturating_sub(now.duration_since(*t))
                })
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

/// The outcome of a call that is not safe to repeat blindly.
#[derive(Debug)]
pub(crate) enum Unsure {
    /// The hub refused it or it never reached the hub: it did not take effect.
    NotDone(Error),
    /// The answer was lost: it may or may not have taken effect; look before sending again.
    Unknown(Error),
}

/// The outcome of one attempt that is not a final error.
enum Attempt {
    /// A 2xx answer.
    Done(reqwest::Response),
    /// Try again after this wait.
    Retry(Duration),
}

/// A client for one hub and API key. Cheap to clone (connection pool, what the hub offers,
/// the rate limit and the receipt are shared).
#[derive(Clone)]
pub struct HubClient {
    base: String,
    key: String,
    http: reqwest::Client,
    /// For signed URLs: a third party's host, sent nothing but the bytes, no redirects followed.
    store: reqwest::Client,
    retry: RetryPolicy,
    rate: RateLimit,
    pacer: Arc<Pacer>,
    hub: Arc<OnceCell<Hub>>,
    receipt_path: Option<PathBuf>,
    receipt: Arc<OnceCell<Arc<Receipt>>>,
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

/// The API client follows a redirect only within the hub's own origin: the `apikey` header
/// must never reach another host.
fn http_client(connect: Duration, read: Duration) -> Result<reqwest::Client, Error> {
    let same_origin = reqwest::redirect::Policy::custom(|attempt| {
        let from = attempt.previous().first().map(url::Url::origin);
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if from.as_ref() == Some(&attempt.url().origin()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(connect)
        .read_timeout(read)
        .pool_max_idle_per_host(64)
        .redirect(same_origin)
        .build()
        .map_err(|e| Error::with_source(ErrorCode::Internal, "cannot set up the HTTP client", e))
}

/// The client for signed URLs: no redirects (a redirect would carry the bytes elsewhere).
fn store_client(connect: Duration, read: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .read_timeout(read)
        .pool_max_idle_per_host(64)
        .redirect(reqwest::redirect::Policy::none())
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
    let msg = serde_json::from_str::<wire::Failure>(&text)
        .ok()
        .map(|f| f.message)
        .filter(|m| !m.is_empty())
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
            store: store_client(CONNECT_TIMEOUT, READ_TIMEOUT)?,
            retry: RetryPolicy::default(),
            rate: RateLimit::Auto,
            pacer: Arc::default(),
            hub: Arc::default(),
            receipt_path: None,
            receipt: Arc::default(),
        })
    }

    /// Keeps the receipt of what this client registers in the file at `path` (see
    /// [`Receipt`]): on a hub without idempotent uploads, it is what makes a re-run, a crash or
    /// a lost answer register nothing twice. Without it, a receipt in memory does that within
    /// one run only.
    #[must_use]
    pub fn with_receipt(mut self, path: impl Into<PathBuf>) -> Self {
        self.receipt_path = Some(path.into());
        self.receipt = Arc::default();
        self
    }

    /// Replaces the rate limit (default [`RateLimit::Auto`]).
    #[must_use]
    pub fn with_rate_limit(mut self, rate: RateLimit) -> Self {
        self.rate = rate;
        self
    }

    /// Which hub this is and what it offers, asked once (`GET /v2/assetdrop`; a hub that does
    /// not know the route is a plain Ango hub). A wrong key or an unreachable hub is an error.
    pub async fn hub(&self) -> Result<&Hub, Error> {
        self.hub
            .get_or_try_init(|| async {
                match self.call(Method::GET, wire::INFO_PATH, None).await {
                    // Anything but our hub's own description is a hub without extensions.
                    Ok(data) => Ok(serde_json::from_value::<HubInfo>(data)
                        .ok()
                        .filter(|i| i.product == "assetdrop")
                        .map_or(Hub::Ango, Hub::Assetdrop)),
                    Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::InvalidInput) => {
                        Ok(Hub::Ango)
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// An error saying what the hub does not offer, unless it offers `extension`.
    async fn require(&self, extension: Extension, what: &str) -> Result<(), Error> {
        if self.has(extension).await? {
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{what} is not part of Ango Hub's documented API, so this hub cannot be asked for it; do it in the hub's own web app"
            ),
        ))
    }

    /// Whether the hub offers `extension`.
    pub async fn has(&self, extension: Extension) -> Result<bool, Error> {
        Ok(self.hub().await?.has(extension))
    }

    /// The receipt for this hub: the file given with [`HubClient::with_receipt`], or one in
    /// memory.
    ///
    /// A receipt file that cannot be opened is an error on a hub without idempotent uploads
    /// (nothing else keeps imports exactly once there); on a hub with them, the import goes on
    /// with a receipt in memory.
    pub async fn receipt(&self) -> Result<Arc<Receipt>, Error> {
        let hub = self.hub().await?;
        let identity = hub.identity(&self.base);
        let needed = !hub.has(Extension::UploadIds);
        self.receipt
            .get_or_try_init(|| async {
                let path = self.receipt_path.clone();
                tokio::task::spawn_blocking(move || match path {
                    Some(p) => Receipt::open(&p, &identity).or_else(|e| {
                        if needed {
                            return Err(e);
                        }
                        tracing::warn!("{e}; keeping this run's receipt in memory");
                        Receipt::in_memory(&identity)
                    }),
                    None => Receipt::in_memory(&identity),
                })
                .await
                .map_err(|e| Error::with_source(ErrorCode::Internal, "the receipt task failed", e))?
                .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// The rate limit in force for this hub.
    fn limit(&self) -> Option<(u32, Duration)> {
        match self.rate {
            RateLimit::Off => None,
            RateLimit::Fixed(n, w) => Some((n, w)),
            RateLimit::Auto => match self.hub.get() {
                Some(Hub::Ango) => Some(ANGO_RATE_LIMIT),
                _ => None,
            },
        }
    }

    /// Replaces the timeouts: `connect` for making a connection, `read` for each wait for the
    /// next bytes of an answer (so only a silent hub is given up on, never a long upload or a
    /// big listing). A call that times out is retried like any failed connection. Defaults:
    /// 10 s and 120 s.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration) -> Result<Self, Error> {
        self.http = http_client(connect, read)?;
        self.store = store_client(connect, read)?;
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
        let what = describe(&method, path_and_query);
        let mut attempt = 0;
        loop {
            let res = self
                .attempt(method.clone(), path_and_query, body, idempotency_key)
                .await;
            let wait = match self.judge(res, attempt, &what).await? {
                Attempt::Done(resp) => match resp.bytes().await {
                    Ok(body) => return Self::data_of(&body, &what),
                    // The answer broke off after its status line. As when a connection fails
                    // before any answer, the call may or may not have taken effect, and it is
                    // sent again like those: the calls sent this way (reads, reservations,
                    // registrations by upload ID, keyed creations) are safe to repeat.
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

    /// One request, paced to the rate limit.
    async fn attempt(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> reqwest::Result<reqwest::Response> {
        self.pacer.wait(self.limit()).await;
        let mut req = self
            .http
            .request(method, format!("{}{path_and_query}", self.base))
            .header("apikey", &self.key);
        if let Some(k) = idempotency_key {
            req = req.header(wire::IDEMPOTENCY_KEY, k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await
    }

    /// The `data` of a whole answer body.
    fn data_of(body: &[u8], what: &str) -> Result<Value, Error> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            Error::with_source(
                ErrorCode::Network,
                format!("{what}: the answer is not JSON; is this a hub?"),
                e,
            )
        })?;
        Ok(v.get("data").cloned().unwrap_or(Value::Null))
    }

    /// Sends a call that must not run twice, to a hub that cannot recognise a repeat. It is
    /// sent again only when it surely did not take effect: the connection was never made, or
    /// the hub answered 429 or 503 (it did not run it). Any other failure after sending is
    /// [`Unsure::Unknown`], and the caller looks at the hub before sending again.
    pub(crate) async fn call_unsure(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, Unsure> {
        let what = describe(&method, path_and_query);
        let mut attempt = 0;
        loop {
            let more = attempt < self.retry.max_retries;
            let wait = match self
                .attempt(method.clone(), path_and_query, body, None)
                .await
            {
                Ok(resp) if resp.status().is_success() => {
                    return match resp.bytes().await {
                        Ok(b) => Self::data_of(&b, &what).map_err(Unsure::Unknown),
                        Err(e) => Err(Unsure::Unknown(network(&what, e))),
                    };
                }
                Ok(resp)
                    if more
                        && matches!(
                            resp.status(),
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                        ) =>
                {
                    retry_after(&resp)
                        .map_or_else(|| self.retry.backoff(attempt), |d| d.min(self.retry.max))
                }
                Ok(resp) => {
                    let status = resp.status();
                    let e = Error::new(
                        code_for(status),
                        format!("{what}: {}", fail_message(resp).await),
                    );
                    return Err(
                        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
                            Unsure::Unknown(e)
                        } else {
                            Unsure::NotDone(e)
                        },
                    );
                }
                Err(e) if more && e.is_connect() => self.retry.backoff(attempt),
                Err(e) if e.is_connect() || e.is_builder() => {
                    return Err(Unsure::NotDone(network(&what, e)))
                }
                Err(e) => return Err(Unsure::Unknown(network(&what, e))),
            };
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

    /// `data` read as its wire type.
    fn typed<T: DeserializeOwned>(data: Value, what: &str) -> Result<T, Error> {
        serde_json::from_value(data).map_err(|e| {
            Error::with_source(
                ErrorCode::Internal,
                format!("{what}: the hub's answer is not what the API documents: {e}"),
                e,
            )
        })
    }

    /// Creates a project (`type` `ango`). On a hub without idempotency keys, an answer lost
    /// on the way is settled by looking for a project of that name that was not there before,
    /// so a retry never makes a second one.
    pub async fn create_project(
        &self,
        name: &str,
        description: &str,
    ) -> Result<ProjectInfo, Error> {
        let body = serde_json::to_value(wire::NewProject {
            name: name.to_owned(),
            description: Some(description.to_owned()),
        })
        .unwrap_or(Value::Null);
        if self.has(Extension::IdempotencyKeys).await? {
            let data = self
                .call_once(Method::POST, "/v2/project", Some(&body))
                .await?;
            return Ok(Self::typed::<wire::ProjectAnswer>(data, "create project")?.project);
        }
        let before = self.project_ids_named(name).await?;
        for lost in 0.. {
            match self
                .call_unsure(Method::POST, "/v2/project", Some(&body))
                .await
            {
                Ok(data) => {
                    return Ok(Self::typed::<wire::ProjectAnswer>(data, "create project")?.project)
                }
                Err(Unsure::NotDone(e)) => return Err(e),
                Err(Unsure::Unknown(e)) => {
                    let now = self.project_ids_named(name).await?;
                    if let Some(id) = now.iter().find(|id| !before.contains(*id)) {
                        return self.project(id).await;
                    }
                    if lost >= self.retry.max_retries {
                        return Err(e);
                    }
                    tokio::time::sleep(self.retry.backoff(lost)).await;
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// The IDs of every project named `name`.
    async fn project_ids_named(&self, name: &str) -> Result<Vec<String>, Error> {
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let got = self.list_projects(page, wire::MAX_PAGE).await?;
            let n = got.items.len() as u64;
            ids.extend(
                got.items
                    .into_iter()
                    .filter(|p| p.name == name)
                    .map(|p| p.id),
            );
            if n < wire::MAX_PAGE || page * wire::MAX_PAGE >= got.total {
                return Ok(ids);
            }
            page += 1;
        }
    }

    /// One project, with its batches.
    pub async fn project(&self, id: &str) -> Result<ProjectInfo, Error> {
        let data = self
            .call(Method::GET, &format!("/v2/project/{}", enc(id)), None)
            .await?;
        Ok(Self::typed::<wire::ProjectAnswer>(data, "get project")?.project)
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
        let page: wire::ProjectsPage = Self::typed(data, "list projects")?;
        Ok(Page {
            items: page.projects,
            total: page.total,
        })
    }

    /// Returns the project's batch named `name`, creating it when there is none. The batch is
    /// read back from the project (Ango's sources disagree on what the creation answers), and an
    /// answer lost on the way is settled by that look before anything is sent again.
    pub async fn create_batch(&self, project: &str, name: &str) -> Result<BatchInfo, Error> {
        let path = format!("/v2/batches/{}", enc(project));
        let body = serde_json::to_value(wire::NewBatch {
            name: name.to_owned(),
        })
        .unwrap_or(Value::Null);
        if self.has(Extension::BatchesByName).await? {
            let data = self.call(Method::POST, &path, Some(&body)).await?;
            return Ok(Self::typed::<wire::BatchAnswer>(data, "create batch")?.project);
        }
        let find = |p: ProjectInfo| p.batches.into_iter().find(|b| b.name == name);
        for lost in 0.. {
            if let Some(b) = find(self.project(project).await?) {
                return Ok(b);
            }
            match self.call_unsure(Method::POST, &path, Some(&body)).await {
                Ok(_) => {
                    return find(self.project(project).await?).ok_or_else(|| {
                        Error::new(
                            ErrorCode::Internal,
                            format!(
                                "the hub accepted batch {name:?} but the project does not list it"
                            ),
                        )
                    })
                }
                Err(Unsure::NotDone(e)) => return Err(e),
                Err(Unsure::Unknown(e)) if lost >= self.retry.max_retries => return Err(e),
                Err(Unsure::Unknown(_)) => tokio::time::sleep(self.retry.backoff(lost)).await,
            }
        }
        unreachable!("the loop returns")
    }

    /// Which of these contents (BLAKE3 hex) the project holds already: hash → (asset ID,
    /// external ID). Asks in requests of at most 10,000 hashes. A hub without
    /// [`Extension::ContentLookup`] is not asked: the answer is empty, and the receipt is what
    /// knows contents sent before.
    pub async fn assets_by_content(
        &self,
        project: &str,
        hashes: &[String],
    ) -> Result<HashMap<String, (String, String)>, Error> {
        let mut out = HashMap::new();
        if !self.has(Extension::ContentLookup).await? {
            return Ok(out);
        }
        for chunk in hashes.chunks(10_000) {
            let body = serde_json::to_value(wire::ContentQuery {
                content_hashes: chunk.to_vec(),
            })
            .unwrap_or(Value::Null);
            let data = self
                .call(
                    Method::POST,
                    &format!("/v2/project/{}/assets/byContent", enc(project)),
                    Some(&body),
                )
                .await?;
            let found: wire::ContentAnswer = Self::typed(data, "find assets by content")?;
            out.extend(
                found
                    .assets
                    .into_iter()
                    .map(|f| (f.content_hash, (f.id, f.external_id))),
            );
        }
        Ok(out)
    }

    /// Saves an asset-builder template (the Ango template object) on a project; returns it with
    /// its `_id`, as the project lists it afterwards (Ango does not document the answer). An
    /// answer lost on the way is settled by looking at the project's templates before sending
    /// again.
    pub async fn save_template(&self, project: &str, template: &Value) -> Result<Value, Error> {
        let path = format!("/v2/project/{}/assetBuilderTemplates", enc(project));
        if self.has(Extension::IdempotencyKeys).await? {
            let data = self.call_once(Method::POST, &path, Some(template)).await?;
            return Ok(
                Self::typed::<wire::TemplateAnswer>(data, "save template")?.asset_builder_template
            );
        }
        let ids = |p: &ProjectInfo| -> Vec<String> {
            p.asset_builder_templates
                .iter()
                .filter_map(|t| t.get("_id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        let before = ids(&self.project(project).await?);
        let name = template.get("name");
        let new_one = |p: ProjectInfo| {
            p.asset_builder_templates.into_iter().rev().find(|t| {
                t.get("_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| !before.iter().any(|b| b == id))
                    && t.get("name") == name
            })
        };
        for lost in 0.. {
            match self.call_unsure(Method::POST, &path, Some(template)).await {
                Ok(_) => {
                    return new_one(self.project(project).await?).ok_or_else(|| {
                        Error::new(
                            ErrorCode::Internal,
                            "the hub accepted the template but the project does not list it",
                        )
                    })
                }
                Err(Unsure::NotDone(e)) => return Err(e),
                Err(Unsure::Unknown(e)) => {
                    if let Some(t) = new_one(self.project(project).await?) {
                        return Ok(t);
                    }
                    if lost >= self.retry.max_retries {
                        return Err(e);
                    }
                    tokio::time::sleep(self.retry.backoff(lost)).await;
                }
            }
        }
        unreachable!("the loop returns")
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
        Ok(Self::typed::<wire::UploadUrlAnswer>(data, "get upload URL")?.upload_url)
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
        Ok(Self::typed::<wire::SignedUrlAnswer>(data, "get signed URL")?.signed_url)
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
            // Nothing but the bytes: the URL is signed for them, and may be another company's host.
            let res = self
                .store
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

    /// Registers assets (`POST /v2/project/{id}/cloud`), sent again until answered: safe only
    /// on a hub with [`Extension::UploadIds`] and assets that carry one. `batches` (names or IDs)
    /// apply to every asset without its own. To register on any hub exactly once, use
    /// [`super::Registration`].
    pub async fn register(
        &self,
        project: &str,
        assets: &[Value],
        batches: &[String],
        upload_local: bool,
        priority: i64,
    ) -> Result<Registered, Error> {
        let (path, body) = registration_request(project, assets, batches, upload_local, priority);
        let data = self.call(Method::POST, &path, Some(&body)).await?;
        let answer: wire::RegisterAnswer = Self::typed(data, "register assets")?;
        Ok(Registered {
            created: answer.created(),
            asset_ids: answer.asset_ids,
        })
    }

    /// Up to `count` of a project's assets from position `offset` on (0-based, in the hub's
    /// order), fetched in pages of at most [`wire::MAX_PAGE`]; and how many match in all.
    pub async fn assets_window(
        &self,
        project: &str,
        offset: u64,
        count: u64,
        filter: &wire::AssetFilter,
    ) -> Result<(Vec<wire::Asset>, u64), Error> {
        let mut out = Vec::new();
        let mut page = offset / wire::MAX_PAGE + 1;
        let mut skip = (offset % wire::MAX_PAGE) as usize;
        let mut total = 0;
        while (out.len() as u64) < count {
            let got = self
                .assets_page(project, page, wire::MAX_PAGE, filter)
                .await?;
            total = got.total;
            let n = got.assets.len() as u64;
            let want = (count - out.len() as u64) as usize;
            out.extend(got.assets.into_iter().skip(skip).take(want));
            skip = 0;
            if n < wire::MAX_PAGE || page * wire::MAX_PAGE >= total {
                break;
            }
            page += 1;
        }
        Ok((out, total))
    }

    /// A page of a project's assets (1-based, at most [`wire::MAX_PAGE`]), newest first.
    pub async fn assets_page(
        &self,
        project: &str,
        page: u64,
        limit: u64,
        filter: &wire::AssetFilter,
    ) -> Result<wire::AssetsPage, Error> {
        let mut path = format!(
            "/v2/project/{}/assets?page={page}&limit={}",
            enc(project),
            limit.clamp(1, wire::MAX_PAGE)
        );
        if !filter.is_empty() {
            path.push_str("&filters=");
            path.push_str(&enc(&serde_json::to_string(filter).unwrap_or_default()));
        }
        let data = self.call(Method::GET, &path, None).await?;
        Self::typed(data, "list assets")
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
        self.require(Extension::StorageAdmin, "creating a storage integration")
            .await?;
        let data = self
            .call_once(Method::POST, "/v2/storages", Some(body))
            .await?;
        Ok(Self::typed::<wire::StorageAnswer<StorageInfo>>(data, "create storage")?.storage)
    }

    /// Every storage integration.
    pub async fn list_storages(&self) -> Result<Vec<StorageInfo>, Error> {
        let data = self.call(Method::GET, "/v2/storages", None).await?;
        Ok(Self::typed::<wire::StoragesAnswer<StorageInfo>>(data, "list storages")?.storages)
    }

    /// Removes a storage integration (refused while assets use it).
    pub async fn delete_storage(&self, id: &str) -> Result<StorageInfo, Error> {
        self.require(Extension::StorageAdmin, "removing a storage integration")
            .await?;
        let data = self
            .call_once(Method::DELETE, &format!("/v2/storages/{}", enc(id)), None)
            .await?;
        Ok(Self::typed::<wire::StorageAnswer<StorageInfo>>(data, "delete storage")?.storage)
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
        self.require(Extension::StorageAdmin, "browsing a storage's files")
            .await?;
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
        self.require(Extension::StorageAdmin, "signing a storage's URLs")
            .await?;
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
        Ok(Self::typed::<wire::SignedUrlAnswer>(data, "get signed URL")?.signed_url)
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
        let registration = super::Registration::new(self, &job.project, &[], false, job.priority);
        registration.settle().await?;
        for part in summary.imported.chunks_mut(chunk) {
            let assets: Vec<super::Registrable> = part
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
                    super::Registrable {
                        key: format!("storage-{}", &upload_id[..32]),
                        content_hash: None,
                        asset: a,
                    }
                })
                .collect();
            let done = registration.register(&assets).await?;
            summary.created += done.created;
            for (i, id) in part.iter_mut().zip(done.asset_ids) {
                i.asset_id = id;
            }
        }
        Ok(summary)
    }
}

/// The path and body of `POST /v2/project/{id}/cloud`: `batches` (names or IDs) go in the query
/// and apply to every asset without its own.
pub(crate) fn registration_request(
    project: &str,
    assets: &[Value],
    batches: &[String],
    upload_local: bool,
    priority: i64,
) -> (String, Value) {
    let mut path = format!("/v2/project/{}/cloud", enc(project));
    if !batches.is_empty() {
        path.push_str("?batches=");
        path.push_str(&enc(&serde_json::to_string(batches).unwrap_or_default()));
    }
    let body = serde_json::to_value(wire::RegisterRequest {
        assets,
        upload_local: if upload_local { "true" } else { "false" },
        priority,
    })
    .unwrap_or(Value::Null);
    (path, body)
}

/// `METHOD /path`, without the query (which may carry names or signatures), for messages.
fn describe(method: &Method, path_and_query: &str) -> String {
    format!(
        "{method} {}",
        path_and_query.split('?').next().unwrap_or(path_and_query)
    )
}

pub(crate) fn enc(s: &str) -> String {
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
    fn hubs_are_named_by_region_or_url() {
        assert_eq!(hub_url("ango-eu").expect("eu"), "https://imeritapi.ango.ai");
        assert_eq!(hub_url(" ANGO-US ").expect("us"), "https://us-api.ango.ai");
        assert_eq!(hub_url("ango-in").expect("in"), "https://in-api.ango.ai");
        assert_eq!(
            hub_url("ango-test").expect("test"),
            "https://testapi.ango.ai"
        );
        assert_eq!(
            hub_url("https://ango.example/api/").expect("url"),
            "https://ango.example/api"
        );
        let e = hub_url("ango-mars").expect_err("unknown");
        assert!(
            e.message.contains("ango-eu, ango-us, ango-in, ango-test"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn the_pacer_lets_a_window_hold_no_more_than_its_count() {
        let pacer = Pacer::default();
        let limit = Some((3, Duration::from_millis(300)));
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..7 {
            pacer.wait(limit).await;
            sent.push(start.elapsed());
        }
        for w in sent.windows(4) {
            assert!(
                w[3].saturating_sub(w[0]) >= Duration::from_millis(300),
                "four requests within one window: {sent:?}"
            );
        }
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
