//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1:0, put between a client and a hub to show that
//! uploads survive a bad network: connections reset before, during and after a request, requests
//! held for seconds, and answers of 503 or 429 the hub never gave.
//!
//! It reads each request head and follows its body (`Content-Length` or chunked), and does the same
//! for each response, so keep-alive connections carry many requests and every request gets its own
//! draw of the dice. What it injected is counted, so a test can show each kind really happened.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::io::{AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One kind of fault the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// The client's connection is reset (RST) before anything reaches the hub.
    ResetBeforeForwarding,
    /// The request head and part of its body reach the hub; then both connections are reset.
    /// Only requests with a body can meet this one.
    ResetMidRequest,
    /// The whole request reaches the hub (which acts on it); its answer is cut part-way and the
    /// client's connection reset. The cut falls inside the body when there is one, so the client
    /// sees a success status and then loses the rest.
    ResetMidResponse,
    /// The request is held for [`FaultConfig::stall_for`] (a share of stalls for
    /// [`FaultConfig::long_stall_for`]), then forwarded as usual, even if the client gave up.
    Stall,
    /// `503 Service Unavailable`, and nothing forwarded.
    Unavailable,
    /// `429 Too Many Requests` with `Retry-After`, and nothing forwarded.
    TooManyRequests,
}

impl Fault {
    /// Every kind, in a fixed order (the order of counts in a [`FaultTally`]).
    pub const ALL: [Fault; 6] = [
        Fault::ResetBeforeForwarding,
        Fault::ResetMidRequest,
        Fault::ResetMidResponse,
        Fault::Stall,
        Fault::Unavailable,
        Fault::TooManyRequests,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// How often each fault happens, and how.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Probability, per request, of [`Fault::ResetBeforeForwarding`].
    pub reset_before_forwarding: f64,
    /// Probability, per request, of [`Fault::ResetMidRequest`].
    pub reset_mid_request: f64,
    /// Probability, per request, of [`Fault::ResetMidResponse`].
    pub reset_mid_response: f64,
    /// Probability, per request, of [`Fault::Stall`].
    pub stall: f64,
    /// Probability, per request, of [`Fault::Unavailable`].
    pub unavailable: f64,
    /// Probability, per request, of [`Fault::TooManyRequests`].
    pub too_many_requests: f64,
    /// How long a stalled request is held before it is forwarded.
    pub stall_for: Duration,
    /// The share of stalls held for [`FaultConfig::long_stall_for`] instead: past a client's
    /// timeout, so the client gives up and tries again while its first request is still on its
    /// way, and the hub gets that one late.
    pub long_stall_share: f64,
    /// How long a long stall holds a request.
    pub long_stall_for: Duration,
    /// The `Retry-After` (seconds) sent with a 429.
    pub retry_after_secs: u64,
    /// Seed of the dice, so a failing run's fault rates can be replayed. (Which request meets
    /// which fault also depends on the order requests arrive in.)
    pub seed: u64,
}

impl FaultConfig {
    /// No faults: a plain proxy.
    pub fn none(seed: u64) -> Self {
        Self::spread(0.0, seed)
    }

    /// Faults on a `total` share of requests, split evenly over the kinds; stalls of 2 s (none
    /// longer) and `Retry-After: 1`.
    pub fn spread(total: f64, seed: u64) -> Self {
        let each = total / Fault::ALL.len() as f64;
        Self {
            reset_before_forwarding: each,
            reset_mid_request: each,
            reset_mid_response: each,
            stall: each,
            unavailable: each,
            too_many_requests: each,
            stall_for: Duration::from_secs(2),
            long_stall_share: 0.0,
            long_stall_for: Duration::from_secs(10),
            retry_after_secs: 1,
            seed,
        }
    }

    /// The probability of one kind.
    pub fn rate(&self, fault: Fault) -> f64 {
        match fault {
            Fault::ResetBeforeForwarding => self.reset_before_forwarding,
            Fault::ResetMidRequest => self.reset_mid_request,
            Fault::ResetMidResponse => self.reset_mid_response,
            Fault::Stall => self.stall,
            Fault::Unavailable => self.unavailable,
            Fault::TooManyRequests => self.too_many_requests,
        }
    }

    /// The fault (if any) for one request. The total rate holds for every request; a request
    /// without a body, which cannot be cut mid-body, has that share spread over the other kinds
    /// in proportion to their rates.
    fn draw(&self, rng: &mut StdRng, has_body: bool) -> Option<Fault> {
        let total: f64 = Fault::ALL.iter().map(|f| self.rate(*f)).sum();
        let u: f64 = rng.random();
        if u >= total {
            return None;
        }
        let possible: Vec<Fault> = Fault::ALL
            .into_iter()
            .filter(|f| has_body || *f != Fault::ResetMidRequest)
            .filter(|f| self.rate(*f) > 0.0)
            .collect();
        let weight: f64 = possible.iter().map(|f| self.rate(*f)).sum();
        let mut x = u / total * weight;
        for f in &possible {
            if x < self.rate(*f) {
                return Some(*f);
            }
            x -= self.rate(*f);
        }
        possible.last().copied()
    }
}

/// What the proxy has seen and done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultTally {
    /// Requests whose head arrived.
    pub requests: u64,
    /// Requests the proxy is still busy with (held, forwarded or answered in part).
    pub in_flight: u64,
    /// Of the stalls, how many were long ones.
    pub long_stalls: u64,
    /// Faults injected, by kind, in [`Fault::ALL`] order.
    faults: [u64; 6],
}

impl FaultTally {
    /// How many faults of one kind were injected.
    pub fn of(&self, fault: Fault) -> u64 {
        self.faults[fault.index()]
    }

    /// How many faults were injected in all.
    pub fn total(&self) -> u64 {
        self.faults.iter().sum()
    }
}

impl std::fmt::Display for FaultTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} requests, {} faults:", self.requests, self.total())?;
        for kind in Fault::ALL {
            write!(f, " {kind:?} {}", self.of(kind))?;
        }
        write!(f, " (long stalls {})", self.long_stalls)
    }
}

/// State shared by every connection of one proxy.
struct Shared {
    config: FaultConfig,
    rng: Mutex<StdRng>,
    requests: AtomicU64,
    in_flight: AtomicU64,
    long_stalls: AtomicU64,
    faults: [AtomicU64; 6],
}

/// Counts one request in flight while it lives.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    fn draw(&self, has_body: bool) -> Option<Fault> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let fault = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            self.config.draw(&mut rng, has_body)
        };
        if let Some(f) = fault {
            self.faults[f.index()].fetch_add(1, Ordering::Relaxed);
        }
        fault
    }

    /// How long to hold a stalled request: long for a share of them.
    fn stall_time(&self) -> Duration {
        let long = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            rng.random::<f64>() < self.config.long_stall_share
        };
        if long {
            self.long_stalls.fetch_add(1, Ordering::Relaxed);
            self.config.long_stall_for
        } else {
            self.config.stall_for
        }
    }

    fn begin(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }
}

/// A running proxy with its own runtime (so plain `#[test]`s that drive child processes can use
/// it); stopped when dropped.
pub struct FaultProxy {
    /// The base URL clients use, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    shared: Arc<Shared>,
    listener: Mutex<Option<std::net::TcpListener>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Binds 127.0.0.1:0. Nothing is forwarded until [`FaultProxy::forward_to`] says where, so the
    /// hub can be started knowing the proxy's URL (its `--public-url`) first; connections made
    /// before then wait.
    pub fn bind(config: FaultConfig) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let addr = listener.local_addr().expect("proxy address");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        Self {
            url: format!("http://{addr}"),
            shared: Arc::new(Shared {
                rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
                config,
                requests: AtomicU64::new(0),
                in_flight: AtomicU64::new(0),
                long_stalls: AtomicU64::new(0),
                faults: Default::default(),
            }),
            listener: Mutex::new(Some(listener)),
            runtime: Some(runtime),
        }
    }

    /// Starts forwarding to the server at `upstream` (`http://127.0.0.1:PORT`).
    pub fn forward_to(&self, upstream: &str) {
        let upstream: SocketAddr = upstream
            .trim_end_matches('/')
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("upstream must be http://IP:PORT, got {upstream:?}"));
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("forward_to is called once");
        listener.set_nonblocking(true).expect("non-blocking");
        let shared = self.shared.clone();
        self.runtime.as_ref().expect("runtime").spawn(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    // Out of descriptors, most likely: give connections time to close.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    // A connection ending in an error is what this proxy is for; nothing to
                    // report beyond the counts.
                    let _ = relay_connection(client, upstream, &shared).await;
                });
            }
        });
    }

    /// Waits, up to `limit`, until no request is in flight, so requests held back have reached
    /// the hub (or given up) before a test looks at it. Returns whether that happened.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while self.shared.in_flight.load(Ordering::Relaxed) > 0 {
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// The counts so far.
    pub fn tally(&self) -> FaultTally {
        let mut faults = [0; 6];
        for (n, a) in faults.iter_mut().zip(&self.shared.faults) {
            *n = a.load(Ordering::Relaxed);
        }
        FaultTally {
            requests: self.shared.requests.load(Ordering::Relaxed),
            in_flight: self.shared.in_flight.load(Ordering::Relaxed),
            long_stalls: self.shared.long_stalls.load(Ordering::Relaxed),
            faults,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// How a message's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length` bytes (0 for no body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// A response without either: the body runs until the server closes.
    UntilClose,
}

/// A parsed request or response head.
#[derive(Debug)]
struct Head {
    /// The bytes as received, forwarded verbatim.
    raw: Vec<u8>,
    /// Request line or status line.
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: Vec<u8>) -> io::Result<Self> {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut lines = text.split("\r\n").map(|l| l.trim_end_matches('\n'));
        let start = lines
            .by_ref()
            .find(|l| !l.is_empty())
            .ok_or_else(|| bad("an empty head"))?
            .to_owned();
        let mut headers = Vec::new();
        for line in lines.take_while(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad("a header line without ':'"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        Ok(Self {
            raw,
            start,
            headers,
        })
    }

    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) holds `token`.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn content_length(&self) -> io::Result<Option<u64>> {
        self.headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().map_err(|_| bad("a bad Content-Length")))
            .transpose()
    }

    /// The protocol version of a request (`GET / HTTP/1.1`) or a response (`HTTP/1.1 200 OK`).
    fn is_http10(&self) -> bool {
        self.start.starts_with("HTTP/1.0") || self.start.ends_with("HTTP/1.0")
    }

    /// Whether the connection ends after this message.
    fn closes(&self) -> bool {
        self.has_token("connection", "close")
            || (self.is_http10() && !self.has_token("connection", "keep-alive"))
    }

    fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or("")
    }

    fn status(&self) -> io::Result<u16> {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("a bad status line"))
    }

    /// A request's body: chunked, or `Content-Length`, or none.
    fn request_framing(&self) -> io::Result<Framing> {
        if self.has_token("transfer-encoding", "chunked") {
            return Ok(Framing::Chunked);
        }
        Ok(Framing::Length(self.content_length()?.unwrap_or(0)))
    }

    /// A response's body, given the request's method (RFC 9112 §6.3).
    fn response_framing(&self, method: &str) -> io::Result<Framing> {
        let status = self.status()?;
        if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(Framing::Length(0));
        }
        if self.has_token("transfer-encoding", "chunked") {
            return Ok(Framing::Chunked);
        }
        Ok(self
            .content_length()?
            .map_or(Framing::UntilClose, Framing::Length))
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the proxy met {what}"))
}

/// Largest head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Reads one head (up to and including the blank line); `None` when the peer closed cleanly
/// between messages.
async fn read_head(from: &mut BufReader<TcpStream>) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let n = from.read_until(b'\n', &mut raw).await?;
        if n == 0 {
            return if raw.iter().all(u8::is_ascii_whitespace) {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let line = &raw[before..];
        let blank = line == b"\r\n" || line == b"\n";
        if blank && raw[..before].iter().any(|b| !b.is_ascii_whitespace()) {
            return Head::parse(raw).map(Some);
        }
        if raw.len() > MAX_HEAD {
            return Err(bad("a head over 64 KiB"));
        }
    }
}

/// Copies exactly `n` bytes.
async fn copy_exact<R, W>(from: &mut R, to: &mut W, n: u64) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let copied = tokio::io::copy(&mut (&mut *from).take(n), to).await?;
    if copied < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Relays one body as it is framed, byte for byte. With `cut`, stops part-way: after half of a
/// `Content-Length` body, half-way through the first chunk of a chunked one, or after a few bytes
/// of one that runs until close.
async fn relay_body<W>(
    from: &mut BufReader<TcpStream>,
    to: &mut W,
    framing: Framing,
    cut: bool,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    match framing {
        Framing::Length(n) => copy_exact(from, to, if cut { n / 2 } else { n }).await?,
        Framing::UntilClose if cut => {
            tokio::io::copy(&mut (&mut *from).take(16), to).await?;
        }
        Framing::UntilClose => {
            tokio::io::copy(from, to).await?;
        }
        Framing::Chunked => loop {
            let mut line = Vec::new();
            if from.read_until(b'\n', &mut line).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let text = String::from_utf8_lossy(&line);
            let hex = text.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(hex, 16).map_err(|_| bad("a bad chunk size"))?;
            to.write_all(&line).await?;
            if size == 0 {
                // Trailers, then the blank line that ends the body.
                loop {
                    let mut trailer = Vec::new();
                    if from.read_until(b'\n', &mut trailer).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    to.write_all(&trailer).await?;
                    if trailer == b"\r\n" || trailer == b"\n" {
                        break;
                    }
                }
                break;
            }
            if cut {
                copy_exact(from, to, size / 2).await?;
                break;
            }
            // The chunk's data and the CRLF after it.
            copy_exact(from, to, size + 2).await?;
        },
    }
    to.flush().await
}

/// Resets a connection: with a zero linger, closing it sends RST instead of FIN. The caller
/// drops the stream right after.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

/// An answer the proxy makes up (503 or 429), keeping the connection open.
fn canned(fault: Fault, retry_after_secs: u64) -> Vec<u8> {
    let (status, extra) = match fault {
        Fault::TooManyRequests => (
            "429 Too Many Requests",
            format!("Retry-After: {retry_after_secs}\r\n"),
        ),
        _ => ("503 Service Unavailable", String::new()),
    };
    let body =
        format!(r#"{{"status":"error","message":"{status} (injected by the fault proxy)"}}"#);
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves one client connection: request by request, a draw decides whether to forward it as is
/// or which fault to inject. Each client connection has its own connection to the hub, opened on
/// first use, so the hub sees the same keep-alive pattern the client makes.
async fn relay_connection(
    client: TcpStream,
    upstream: SocketAddr,
    shared: &Shared,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut client = BufReader::new(client);
    let mut hub: Option<BufReader<TcpStream>> = None;
    loop {
        let Some(request) = read_head(&mut client).await? else {
            return Ok(());
        };
        let _busy = shared.begin();
        let body = request.request_framing()?;
        let fault = shared.draw(body != Framing::Length(0));
        match fault {
            Some(Fault::ResetBeforeForwarding) => {
                reset(client.get_ref());
                return Ok(());
            }
            Some(f @ (Fault::Unavailable | Fault::TooManyRequests)) => {
                // Read the body first, so the connection stays usable for the next request.
                relay_body(&mut client, &mut tokio::io::sink(), body, false).await?;
                let answer = canned(f, shared.config.retry_after_secs);
                client.get_mut().write_all(&answer).await?;
                if request.closes() {
                    return Ok(());
                }
                continue;
            }
            Some(Fault::Stall) => tokio::time::sleep(shared.stall_time()).await,
            _ => {}
        }
        if hub.is_none() {
            let s = TcpStream::connect(upstream).await?;
            s.set_nodelay(true)?;
            hub = Some(BufReader::new(s));
        }
        let up = hub.as_mut().expect("connected above");
        up.get_mut().write_all(&request.raw).await?;
        if fault == Some(Fault::ResetMidRequest) {
            relay_body(&mut client, up.get_mut(), body, true).await?;
            reset(client.get_ref());
            reset(up.get_ref());
            return Ok(());
        }
        relay_body(&mut client, up.get_mut(), body, false).await?;
        // Interim answers (100 Continue) pass through; the final one follows.
        let response = loop {
            let head = read_head(up)
                .await?
                .ok_or_else(|| bad("the hub closing without an answer"))?;
            let status = head.status()?;
            if (100..200).contains(&status) && status != 101 {
                client.get_mut().write_all(&head.raw).await?;
                continue;
            }
            break head;
        };
        let framing = response.response_framing(request.method())?;
        if fault == Some(Fault::ResetMidResponse) {
            if framing == Framing::Length(0) {
                let half = response.raw.len() / 2;
                client.get_mut().write_all(&response.raw[..half]).await?;
            } else {
                client.get_mut().write_all(&response.raw).await?;
                relay_body(up, client.get_mut(), framing, true).await?;
            }
            client.get_mut().flush().await?;
            reset(client.get_ref());
            return Ok(());
        }
        client.get_mut().write_all(&response.raw).await?;
        relay_body(up, client.get_mut(), framing, false).await?;
        if request.closes() || response.closes() || framing == Framing::UntilClose {
            client.get_mut().shutdown().await?;
            return Ok(());
        }
    }
}
