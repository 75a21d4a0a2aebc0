//! Downloads for `uploadLocal: "true"`: the hub fetches an http(s) URL into its own blob store,
//! streamed, size-limited and retried. Because the URLs come from whoever wrote the import file,
//! every address a host resolves to is checked against loopback, private, link-local, CGNAT and
//! metadata ranges (v4 and v6), and the connection is pinned to the checked addresses so a second
//! DNS answer (rebinding) cannot send it elsewhere. Redirects are followed by hand, each hop
//! checked the same way.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::StreamExt;
use object_store::path::Path as BlobPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use url::{Host, Url};

use super::storage::redact_urls;
use crate::net::forbidden_reason;
use crate::upload::RetryPolicy;

/// Redirect hops followed before giving up.
const MAX_REDIRECTS: usize = 5;
/// Bytes kept from the start of a download for sniffing its kind.
const HEAD_BYTES: usize = 8192;

/// Why a download failed; the HTTP layer maps it to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not an http(s) URL, or a redirect to one that is not.
    Invalid,
    /// The address is on a network the hub does not download from.
    Refused,
    /// Larger than the hub accepts.
    TooLarge,
    /// The server answered with a client error (404, 403, ...).
    Rejected,
    /// Could not connect, timed out, or kept failing with 5xx/429.
    Unreachable,
    /// Writing the blob failed.
    Storage,
}

/// A failed download; the message shows the URL without its query string.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// What kind of failure.
    pub failure: Failure,
    /// What failed and why.
    pub message: String,
}

fn fail(failure: Failure, message: impl Into<String>) -> FetchError {
    FetchError {
        failure,
        message: message.into(),
    }
}

/// What was downloaded.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Bytes written.
    pub size: u64,
    /// BLAKE3 hex of the content.
    pub hash: String,
    /// The first bytes, for sniffing.
    pub head: Vec<u8>,
}

/// Downloads URLs into a blob store.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Download from loopback/private/link-local/metadata addresses too (tests, trusted LANs).
    pub allow_private: bool,
    /// Largest download accepted.
    pub max_bytes: u64,
    /// Retries on connect errors, timeouts, 5xx and 429.
    pub retry: RetryPolicy,
    /// The longest one download may take, redirects and retries included: a server that
    /// trickles bytes (each within the 60 s gap allowed) cannot hold the import forever.
    pub deadline: Duration,
}

enum Attempt {
    Done(Fetched),
    Redirect(Url),
    Retry(Option<Duration>, FetchError),
}

impl Fetcher {
    /// Resolves the URL's host and checks every address; returns the addresses to connect to.
    async fn resolve(&self, url: &Url) -> Result<(Option<String>, Vec<SocketAddr>), FetchError> {
        let shown = redact_urls(url.as_str());
        let port = url
            .port_or_known_default()
            .ok_or_else(|| fail(Failure::Invalid, format!("{shown} has no port")))?;
        let (domain, addrs) = match url.host() {
            Some(Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            Some(Host::Domain(d)) => {
                let found: Vec<SocketAddr> = tokio::net::lookup_host((d, port))
                    .await
                    // A name that does not resolve is a wrong URL, not a server that is down.
                    .map_err(|e| {
                        fail(
                            Failure::Rejected,
                            format!("cannot resolve the host of {shown}: {e}"),
                        )
                    })?
                    .collect();
                (Some(d.to_owned()), found)
            }
            None => return Err(fail(Failure::Invalid, format!("{shown} has no host"))),
        };
        if addrs.is_empty() {
            return Err(fail(
                Failure::Unreachable,
                format!("the host of {shown} has no address"),
            ));
        }
        if !self.allow_private {
            for a in &addrs {
                if let Some(why) = forbidden_reason(a.ip()) {
                    return Err(fail(
                        Failure::Refused,
                        format!(
                            "{shown} resolves to {}, {why}; the hub does not download from such networks unless it is set to allow private downloads",
                            a.ip()
                        ),
                    ));
                }
            }
        }
        Ok((domain, addrs))
    }

    /// Downloads `url` into `store` at `path`, following up to 5 redirects (each checked).
    pub async fn fetch(
        &self,
        url: &str,
        store: &dyn ObjectStore,
        path: &BlobPath,
    ) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.deadline, self.fetch_within(url, store, path)).await {
            Ok(done) => done,
            // A multipart write dropped unfinished leaves no blob under its final name.
            Err(_) => Err(fail(
                Failure::Unreachable,
                format!(
                    "downloading {} took longer than {} s, the most this hub allows for one download",
                    redact_urls(url),
                    self.deadline.as_secs()
                ),
            )),
        }
    }

    async fn fetch_within(
        &self,
        url: &str,
        store: &dyn ObjectStore,
        path: &BlobPath,
    ) -> Result<Fetched, FetchError> {
        let mut current = Url::parse(url).map_err(|e| {
            fail(
                Failure::Invalid,
                format!("{} is not a URL: {e}", redact_urls(url)),
            )
        })?;
        for _ in 0..=MAX_REDIRECTS {
            if !matches!(current.scheme(), "http" | "https") {
                return Err(fail(
                    Failure::Invalid,
                    format!("{} is not an http(s) URL", redact_urls(current.as_str())),
                ));
            }
            let (domain, addrs) = self.resolve(&current).await?;
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60));
            if let Some(d) = &domain {
                // Connect only to the addresses just checked, whatever DNS says next.
                builder = builder.resolve_to_addrs(d, &addrs);
            }
            let client = builder.build().map_err(|e| {
                fail(
                    Failure::Unreachable,
                    format!("cannot set up the HTTP client: {e}"),
                )
            })?;
            let mut attempt = 0;
            loop {
                match self.attempt(&client, &current, store, path).await? {
                    Attempt::Done(f) => return Ok(f),
                    Attempt::Redirect(next) => {
                        current = next;
                        break;
                    }
                    Attempt::Retry(after, e) => {
                        if attempt >= self.retry.max_retries {
                            return Err(e);
                        }
                        let wait = after
                            .map_or_else(|| self.retry.backoff(attempt), |d| d.min(self.retry.max));
                        tracing::debug!("{e}; retrying in {wait:?}");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                }
            }
        }
        Err(fail(
            Failure::Rejected,
            format!(
                "{} redirects more than {MAX_REDIRECTS} times",
                redact_urls(url)
            ),
        ))
    }

    async fn attempt(
        &self,
        client: &reqwest::Client,
        url: &Url,
        store: &dyn ObjectStore,
        path: &BlobPath,
    ) -> Result<Attempt, FetchError> {
        let shown = redact_urls(url.as_str());
        let resp = match client.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "the connection failed"
                };
                return Ok(Attempt::Retry(
                    None,
                    fail(Failure::Unreachable, format!("downloading {shown}: {why}")),
                ));
            }
        };
        let status = resp.status();
        if status.is_redirection() {
            let next = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| {
                    fail(
                        Failure::Rejected,
                        format!("{shown} answered {status} without a usable Location"),
                    )
                })?;
            return Ok(Attempt::Redirect(next));
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Ok(Attempt::Retry(
                after,
                fail(
                    Failure::Unreachable,
                    format!("downloading {shown}: the server answered {status}"),
                ),
            ));
        }
        if !status.is_success() {
            return Err(fail(
                Failure::Rejected,
                format!("downloading {shown}: the server answered {status}"),
            ));
        }
        let too_big = || {
            fail(
                Failure::TooLarge,
                format!(
                    "{shown} is larger than this hub accepts ({} bytes)",
                    self.max_bytes
                ),
            )
        };
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(too_big());
        }
        let upload = store
            .put_multipart(path)
            .await
            .map_err(|e| fail(Failure::Storage, format!("cannot write the blob: {e}")))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
        let mut hasher = blake3::Hasher::new();
        let mut head = Vec::with_capacity(HEAD_BYTES);
        let mut size = 0u64;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else {
                let _ = writer.abort().await;
                return Ok(Attempt::Retry(
                    None,
                    fail(
                        Failure::Unreachable,
                        format!("downloading {shown}: the connection broke off"),
                    ),
                ));
            };
            size += chunk.len() as u64;
            if size > self.max_bytes {
                let _ = writer.abort().await;
                return Err(too_big());
            }
            if head.len() < HEAD_BYTES {
                let take = (HEAD_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            if let Err(e) = writer.wait_for_capacity(2).await {
                return Err(fail(
                    Failure::Storage,
                    format!("cannot write the blob: {e}"),
                ));
            }
            writer.write(&chunk);
        }
        writer
            .finish()
            .await
            .map_err(|e| fail(Failure::Storage, format!("cannot write the blob: {e}")))?;
        Ok(Attempt::Done(Fetched {
            size,
            hash: hasher.finalize().to_hex().to_string(),
            head,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_urls_are_refused_before_connecting() {
        let store = object_store::memory::InMemory::new();
        let f = Fetcher {
            allow_private: false,
            max_bytes: 10,
            retry: RetryPolicy::default(),
            deadline: Duration::from_secs(60),
        };
        for url in [
            "http://127.0.0.1:1/a.png",
            "http://[::1]:1/a.png",
            "http://localhost:1/a.png?sig=secret",
        ] {
            let e = f
                .fetch(url, &store, &BlobPath::from("x"))
                .await
                .expect_err(url);
            assert_eq!(e.failure, Failure::Refused, "{url}: {e}");
            assert!(e.message.contains("allow private downloads"), "{e}");
            assert!(!e.message.contains("secret"), "{e}");
        }
        let e = f
            .fetch("ftp://example.com/a", &store, &BlobPath::from("x"))
            .await
            .expect_err("ftp");
        assert_eq!(e.failure, Failure::Invalid);
    }

    #[tokio::test]
    async fn a_download_that_trickles_past_the_deadline_is_given_up() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                .await;
            // One byte every 100 ms: never a gap long enough to time out, never done in time.
            for _ in 0..100 {
                if conn.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let store = object_store::memory::InMemory::new();
        let f = Fetcher {
            allow_private: true,
            max_bytes: 1000,
            retry: RetryPolicy::default(),
            deadline: Duration::from_secs(1),
        };
        let started = std::time::Instant::now();
        let e = f
            .fetch(
                &format!("http://{addr}/slow.txt"),
                &store,
                &BlobPath::from("x"),
            )
            .await
            .expect_err("too slow");
        assert_eq!(e.failure, Failure::Unreachable, "{e}");
        assert!(e.message.contains("took longer than 1 s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            object_store::ObjectStoreExt::head(&store, &BlobPath::from("x"))
                .await
                .is_err(),
            "no blob is left under its name"
        );
    }
}
