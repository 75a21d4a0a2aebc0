//! Checks before import: every public URL of the good entries is probed — `HEAD`, or a ranged
//! `GET` (`Range: bytes=0-0`) when the server refuses `HEAD` — with bounded concurrency, a
//! timeout per request and one retry on a connection failure or timeout (never more, so a dead
//! host costs two attempts, not a storm). Unreachable URLs, empty files and content types that
//! do not fit the asset kind (a `text/html` login page for a `.jpg`) become [`Problem`]s at the
//! entry's index, before anything is imported. Private objects (`storage`, `?storageId=`) are
//! the hub's to check and are left out.

use std::pin::pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::{header, Method, StatusCode};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::asset::{AttachmentKind, CloudAsset};
use super::reader::Entry;
use super::rules::{expected_format, expected_kind, shown};
use super::{CloudError, Problem, ProblemCode, Severity};
use crate::media::{Format, Kind};
use crate::net::{refuse_literal, refuse_url, GuardedResolver, RefusedAddress};

/// Settings for [`Checker`].
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Time allowed for one request, connection included.
    pub timeout: Duration,
    /// Time allowed for connecting.
    pub connect_timeout: Duration,
    /// Wait before the single retry of a request that failed to connect or timed out.
    pub retry_delay: Duration,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Check URLs on loopback, private, link-local and metadata addresses too. Off by default:
    /// an import file from elsewhere must not make this computer probe its own network.
    pub allow_private: bool,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            retry_delay: Duration::from_millis(250),
            max_redirects: 5,
            allow_private: false,
        }
    }
}

/// One URL to check, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// The entry's position in the array.
    pub index: usize,
    /// The entry's line.
    pub line: u64,
    /// The entry's column.
    pub column: u64,
    /// The field the URL is in, e.g. `data`, `dataset[1]`.
    pub field: String,
    /// The URL.
    pub url: String,
    /// The kind of asset the URL should serve, from the field (a `dataset` page is an image)
    /// or the URL's extension; `None` when nothing says.
    pub expected: Option<Kind>,
}

impl Target {
    /// The public URLs of an entry that gave an asset (none for others).
    pub fn of_entry(entry: &Entry) -> Vec<Target> {
        match (&entry.asset, entry.index) {
            (Some(asset), Some(index)) => Self::of_asset(index, entry.line, entry.column, asset),
            _ => Vec::new(),
        }
    }

    /// The public URLs of an asset placed at `index`, `line`:`column`. An asset in a storage
    /// integration, and URLs carrying `storageId`/`integrationId`, are private: the hub checks
    /// those through the integration, so none are listed.
    pub fn of_asset(index: usize, line: u64, column: u64, asset: &CloudAsset) -> Vec<Target> {
        if asset.storage.is_some() {
            return Vec::new();
        }
        asset
            .urls()
            .into_iter()
            .filter(|(_, url)| !is_private(url))
            .map(|(field, url)| {
                let implied = if field.starts_with("dataset[") {
                    Some(Kind::Image)
                } else if let Some(i) = attachment_index(&field) {
                    asset.attachments.get(i).map(|a| match a.kind {
                        AttachmentKind::Image => Kind::Image,
                        AttachmentKind::Video => Kind::Video,
                        AttachmentKind::Html => Kind::Html,
                        AttachmentKind::Text => Kind::Text,
                    })
                } else {
                    None
                };
                Target {
                    index,
                    line,
                    column,
                    expected: implied.or_else(|| expected_kind(url)),
                    url: url.to_owned(),
                    field,
                }
            })
            .collect()
    }
}

fn attachment_index(field: &str) -> Option<usize> {
    field
        .strip_prefix("attachments[")?
        .split(']')
        .next()?
        .parse()
        .ok()
}

fn is_private(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, q)| {
        q.split('&')
            .any(|kv| kv.starts_with("storageId=") || kv.starts_with("integrationId="))
    })
}

/// How the URL was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeMethod {
    /// `HEAD`.
    Head,
    /// `GET` with `Range: bytes=0-0`, after the server refused `HEAD`.
    RangedGet,
}

/// What the server said about one URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// The last request's method.
    pub method: ProbeMethod,
    /// Its HTTP status, when a response came.
    pub status: Option<u16>,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// The file's size, from `Content-Length` (HEAD) or `Content-Range` (ranged GET).
    pub size: Option<u64>,
    /// Why no response came (connection refused, timeout...).
    pub error: Option<String>,
    /// The address not asked, and why (a URL, or a redirect, to loopback, a private network,
    /// a metadata endpoint...), when addresses are guarded.
    pub refused: Option<String>,
    /// Requests sent (a connection failure or timeout is retried once).
    pub attempts: u32,
}

/// One checked URL: the target, what the server said, and the problems found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    /// What was checked.
    pub target: Target,
    /// The server's answer.
    pub probe: Probe,
    /// Problems (none when the URL is fine).
    pub problems: Vec<Problem>,
}

/// The outcome of [`Checker::check`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckReport {
    /// URLs checked.
    pub checked: usize,
    /// URLs that answered 2xx with a fitting content type.
    pub ok: usize,
    /// The problems, ordered by entry index and field.
    pub problems: Vec<Problem>,
    /// Whether the check stopped early because it was cancelled.
    pub cancelled: bool,
}

/// Probes URLs over HTTP (see the module docs).
#[derive(Debug, Clone)]
pub struct Checker {
    client: reqwest::Client,
    config: CheckConfig,
}

impl Checker {
    /// A checker with its own HTTP client.
    pub fn new(config: CheckConfig) -> Result<Self, CloudError> {
        let max_redirects = config.max_redirects;
        let guard = !config.allow_private;
        // Every hop is judged: a host name by the resolver, an address literal here.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                return attempt.error(TooManyRedirects);
            }
            match refuse_literal(attempt.url().host()).filter(|_| guard) {
                Some(refused) => attempt.error(refused),
                None => attempt.follow(),
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(redirects)
            .pool_max_idle_per_host(config.concurrency.max(1))
            .user_agent(concat!(
                "assetdrop/",
                env!("CARGO_PKG_VERSION"),
                " (URL check)"
            ));
        if guard {
            builder = builder.dns_resolver(std::sync::Arc::new(GuardedResolver));
        }
        let client = builder.build().map_err(CloudError::Client)?;
        Ok(Self { client, config })
    }

    /// The settings.
    pub fn config(&self) -> &CheckConfig {
        &self.config
    }

    /// Asks the server about one URL: `HEAD`, then a ranged `GET` if `HEAD` is refused (405,
    /// 403 or 501). Only headers are read, never the body.
    pub async fn probe(&self, url: &str) -> Probe {
        if !self.config.allow_private {
            if let Some(refused) = refuse_url(url) {
                return Probe {
                    method: ProbeMethod::Head,
                    status: None,
                    content_type: None,
                    size: None,
                    error: None,
                    refused: Some(refused.to_string()),
                    attempts: 0,
                };
            }
        }
        let (head, attempts) = self.send(Method::HEAD, url).await;
        let refused = matches!(&head, Ok(r) if matches!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::FORBIDDEN | StatusCode::NOT_IMPLEMENTED
        ));
        if !refused {
            return describe(ProbeMethod::Head, head, attempts, self.config.timeout);
        }
        let (get, more) = self.send(Method::GET, url).await;
        describe(
            ProbeMethod::RangedGet,
            get,
            attempts + more,
            self.config.timeout,
        )
    }

    /// Sends one request, retrying once on a connection failure or timeout.
    async fn send(
        &self,
        method: Method,
        url: &str,
    ) -> (Result<reqwest::Response, reqwest::Error>, u32) {
        let mut attempt = 1;
        loop {
            let mut request = self.client.request(method.clone(), url);
            if method == Method::GET {
                request = request.header(header::RANGE, "bytes=0-0");
            }
            match request.send().await {
                Err(e)
                    if attempt == 1
                        && (e.is_connect() || e.is_timeout())
                        && RefusedAddress::within(&e).is_none() =>
                {
                    tokio::time::sleep(self.config.retry_delay).await;
                    attempt += 1;
                }
                other => return (other, attempt),
            }
        }
    }

    /// Checks the targets as a stream of results, in completion order, at most
    /// [`CheckConfig::concurrency`] at a time. Targets are pulled lazily, so a million of them
    /// never sit in memory; dropping the stream stops the checks.
    pub fn check_stream<'a, I>(&'a self, targets: I) -> impl Stream<Item = Checked> + 'a
    where
        I: IntoIterator<Item = Target>,
        I::IntoIter: 'a,
    {
        futures::stream::iter(targets)
            .map(move |target| async move {
                let probe = self.probe(&target.url).await;
                let problems = judge(&target, &probe);
                Checked {
                    target,
                    probe,
                    problems,
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
    }

    /// Checks every target and gathers the problems, until done or cancelled.
    pub async fn check<I>(&self, targets: I, cancel: &CancellationToken) -> CheckReport
    where
        I: IntoIterator<Item = Target>,
    {
        let mut report = CheckReport::default();
        let mut results = pin!(self.check_stream(targets));
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    report.cancelled = true;
                    break;
                }
                next = results.next() => match next {
                    Some(checked) => {
                        report.checked += 1;
                        if checked.problems.is_empty() {
                            report.ok += 1;
                        }
                        report.problems.extend(checked.problems);
                    }
                    None => break,
                },
            }
        }
        report
            .problems
            .sort_by(|a, b| (a.index, &a.field).cmp(&(b.index, &b.field)));
        report
    }
}

fn describe(
    method: ProbeMethod,
    result: Result<reqwest::Response, reqwest::Error>,
    attempts: u32,
    timeout: Duration,
) -> Probe {
    match result {
        Ok(r) => {
            let headers = r.headers();
            let text = |name: header::HeaderName| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let size = match method {
                ProbeMethod::Head => {
                    text(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok())
                }
                ProbeMethod::RangedGet => match r.status() {
                    StatusCode::PARTIAL_CONTENT => text(header::CONTENT_RANGE).and_then(|v| {
                        v.rsplit_once('/')
                            .and_then(|(_, total)| total.trim().parse().ok())
                    }),
                    StatusCode::RANGE_NOT_SATISFIABLE => Some(0),
                    _ => text(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
                },
            };
            Probe {
                method,
                status: Some(r.status().as_u16()),
                content_type: text(header::CONTENT_TYPE),
                size,
                error: None,
                refused: None,
                attempts,
            }
        }
        Err(e) => {
            let refused = RefusedAddress::within(&e).map(ToString::to_string);
            Probe {
                method,
                status: None,
                content_type: None,
                size: None,
                error: refused.is_none().then(|| error_text(&e, timeout)),
                refused,
                attempts,
            }
        }
    }
}

/// The cause of a failed request, without the URL (which may be signed).
fn error_text(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {:.1} s", timeout.as_secs_f64());
    }
    if e.is_redirect() {
        return TooManyRedirects.to_string();
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let root = cause.to_string();
    if e.is_connect() {
        format!("could not connect ({root})")
    } else {
        root
    }
}

/// A redirect chain longer than [`CheckConfig::max_redirects`].
#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct TooManyRedirects;

/// The problems one probe shows.
pub fn judge(target: &Target, probe: &Probe) -> Vec<Problem> {
    let problem = |code: ProblemCode, message: String| Problem {
        index: Some(target.index),
        line: target.line,
        column: target.column,
        severity: Severity::Error,
        code,
        message,
        field: Some(target.field.clone()),
        fix: None,
        external_id: None,
    };
    let url = shown(&target.url);
    let field = &target.field;
    let method = match probe.method {
        ProbeMethod::Head => "HEAD",
        ProbeMethod::RangedGet => "GET",
    };
    if let Some(refused) = &probe.refused {
        return vec![problem(
            ProblemCode::PrivateAddress,
            format!("`{field}` {url} was not checked: {refused}, and URLs from an import file are not checked on such networks; if the file is yours and the address is meant, check with --check-private (in the app: “Check private addresses too”)"),
        )];
    }
    let Some(code) = probe.status else {
        let error = probe.error.as_deref().unwrap_or("no response");
        let tries = if probe.attempts > 1 {
            ", tried twice"
        } else {
            ""
        };
        return vec![problem(
            ProblemCode::Unreachable,
            format!("`{field}` {url} cannot be reached: {error}{tries}; check the address, and that the server is up and reachable from here"),
        )];
    };
    let status = StatusCode::from_u16(code).map_or_else(|_| code.to_string(), |s| s.to_string());
    if code == 416 || (200..300).contains(&code) && probe.size == Some(0) {
        return vec![problem(
            ProblemCode::EmptyContent,
            format!("`{field}` {url} is an empty file (0 bytes): upload the file's content again"),
        )];
    }
    if !(200..300).contains(&code) {
        let hint = match code {
            401 | 403 => "the file is not public: for a private bucket, add its storage integration and set `storage` on the entry, or use signed URLs",
            404 | 410 => "check the path (names are case-sensitive, and a space must be %20)",
            429 => "the server is limiting requests: check again later or with less concurrency",
            500..=599 => "the server failed: check again later",
            _ => "the hub would get the same answer",
        };
        return vec![problem(
            ProblemCode::Unreachable,
            format!("`{field}` {url} answers {method} with HTTP {status}: {hint}"),
        )];
    }
    let (Some(kind), Some(content_type)) = (target.expected, probe.content_type.as_deref()) else {
        return Vec::new();
    };
    if fits(kind, expected_format(&target.url), content_type) {
        return Vec::new();
    }
    let essence = essence(content_type);
    let hint = if essence == "text/html" {
        "the server sent a web page (a login, error or viewer page?) instead of the file: link the file itself".to_owned()
    } else {
        format!(
            "the hub would not show it as {}: check the URL, or the type the file was stored with",
            article(kind)
        )
    };
    vec![problem(
        ProblemCode::ContentTypeMismatch,
        format!(
            "`{field}` {url} is served as {essence}, but {} was expected; {hint}",
            article(kind)
        ),
    )]
}

fn article(kind: Kind) -> String {
    let name = kind.as_str();
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a `Content-Type` fits the kind. Generic binary types and a missing type fit
/// anything (S3 serves `binary/octet-stream` by default, and browsers sniff); Ogg and `WebM`
/// hold audio or video alike; medical formats come with all sorts of types, so only a web page
/// is refused for them.
fn fits(kind: Kind, format: Option<Format>, content_type: &str) -> bool {
    let t = essence(content_type);
    if t.is_empty()
        || matches!(
            t.as_str(),
            "application/octet-stream"
                | "binary/octet-stream"
                | "application/binary"
                | "application/unknown"
        )
    {
        return true;
    }
    let either_av = matches!(
        format,
        Some(Format::Ogg | Format::Webm | Format::Mkv | Format::Mp4)
    );
    let textual = t.starts_with("text/") && t != "text/html";
    match kind {
        Kind::Image => t.starts_with("image/"),
        Kind::Video => {
            t.starts_with("video/")
                || matches!(
                    t.as_str(),
                    "application/ogg" | "application/mp4" | "application/x-matroska"
                )
                || (either_av && t.starts_with("audio/"))
        }
        Kind::Audio => {
            t.starts_with("audio/")
                || t == "application/ogg"
                || (either_av && t.starts_with("video/"))
        }
        Kind::Pdf => matches!(t.as_str(), "application/pdf" | "application/x-pdf"),
        Kind::Text | Kind::Markdown => textual,
        Kind::Html => matches!(t.as_str(), "text/html" | "application/xhtml+xml"),
        Kind::Dicom | Kind::Nrrd | Kind::Nifti => t != "text/html",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, expected: Option<Kind>) -> Target {
        Target {
            index: 4,
            line: 9,
            column: 3,
            field: "data".into(),
            url: url.into(),
            expected,
        }
    }

    fn head(status: u16, content_type: Option<&str>, size: Option<u64>) -> Probe {
        Probe {
            method: ProbeMethod::Head,
            status: Some(status),
            content_type: content_type.map(str::to_owned),
            size,
            error: None,
            refused: None,
            attempts: 1,
        }
    }

    fn codes(t: &Target, p: &Probe) -> Vec<ProblemCode> {
        judge(t, p).into_iter().map(|p| p.code).collect()
    }

    #[test]
    fn content_types() {
        let jpg = target("https://h/a.jpg", Some(Kind::Image));
        assert_eq!(codes(&jpg, &head(200, Some("image/jpeg"), Some(10))), []);
        assert_eq!(codes(&jpg, &head(200, Some("image/png"), None)), []);
        assert_eq!(
            codes(&jpg, &head(200, Some("binary/octet-stream"), None)),
            []
        );
        assert_eq!(codes(&jpg, &head(200, None, None)), []);
        let html = judge(&jpg, &head(200, Some("text/html; charset=utf-8"), Some(10)));
        assert_eq!(html[0].code, ProblemCode::ContentTypeMismatch);
        assert!(html[0].message.contains("web page"), "{}", html[0].message);
        assert_eq!(
            (html[0].index, html[0].line, html[0].column),
            (Some(4), 9, 3)
        );
        assert_eq!(
            codes(&jpg, &head(200, Some("video/mp4"), None)),
            [ProblemCode::ContentTypeMismatch]
        );

        let ogg = target("https://h/a.ogg", Some(Kind::Audio));
        assert_eq!(codes(&ogg, &head(200, Some("video/ogg"), None)), []);
        let md = target("https://h/a.md", Some(Kind::Markdown));
        assert_eq!(codes(&md, &head(200, Some("text/plain"), None)), []);
        assert_eq!(
            codes(&md, &head(200, Some("text/html"), None)),
            [ProblemCode::ContentTypeMismatch]
        );
        let nii = target("https://h/a.nii.gz", Some(Kind::Nifti));
        assert_eq!(codes(&nii, &head(200, Some("application/gzip"), None)), []);
        let unknown = target("https://h/file", None);
        assert_eq!(codes(&unknown, &head(200, Some("text/html"), None)), []);
    }

    #[test]
    fn statuses_and_errors() {
        let t = target("https://h/a.jpg?X-Amz-Signature=secret", Some(Kind::Image));
        let p = judge(&t, &head(404, None, None));
        assert_eq!(p[0].code, ProblemCode::Unreachable);
        assert!(p[0].message.contains("404 Not Found"), "{}", p[0].message);
        assert!(!p[0].message.contains("secret"));
        assert!(judge(&t, &head(403, None, None))[0]
            .message
            .contains("storage integration"));
        assert_eq!(
            codes(&t, &head(200, Some("image/jpeg"), Some(0))),
            [ProblemCode::EmptyContent]
        );
        assert_eq!(
            codes(&t, &head(416, None, None)),
            [ProblemCode::EmptyContent]
        );
        let failed = Probe {
            method: ProbeMethod::Head,
            status: None,
            content_type: None,
            size: None,
            error: Some("could not connect (connection refused)".into()),
            refused: None,
            attempts: 2,
        };
        let p = judge(&t, &failed);
        assert_eq!(p[0].code, ProblemCode::Unreachable);
        assert!(p[0].message.contains("tried twice"));
    }

    #[test]
    fn private_and_implied_targets() {
        let mut a = CloudAsset::from_url("https://h/a?x=1", "a");
        a.pages.push("https://h/p".into());
        a.attachments.push(super::super::Attachment {
            kind: AttachmentKind::Video,
            value: "https://h/v?storageId=s1".into(),
        });
        a.attachments.push(super::super::Attachment {
            kind: AttachmentKind::Image,
            value: "https://h/i".into(),
        });
        let t = Target::of_asset(1, 2, 3, &a);
        let got: Vec<_> = t.iter().map(|t| (t.field.as_str(), t.expected)).collect();
        assert_eq!(
            got,
            [
                ("data", None),
                ("dataset[0]", Some(Kind::Image)),
                ("attachments[1].value", Some(Kind::Image))
            ]
        );
        a.storage = Some("s1".into());
        assert!(Target::of_asset(1, 2, 3, &a).is_empty());
    }
}
