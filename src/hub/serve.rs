//! Serving HTTP/1.1 connections so that slow or idle clients cannot take the hub down: a
//! request's header must arrive within a time limit (also while a kept-alive connection waits
//! for its next request), and the hub holds at most so many connections — below its file
//! descriptor limit. When it is full, the connection that has waited longest without sending a
//! single request is closed to let a new one in, so sockets that only trickle bytes cannot
//! lock real clients out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// How long a client may take to send a request's header (and a kept-alive connection may wait
/// for its next request) by default.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 30;

/// File descriptors kept free for everything but client connections (the catalog, blobs being
/// written, downloads, storages).
const RESERVED_DESCRIPTORS: u64 = 128;

/// The most connections held at once when the configuration names none: the process's file
/// descriptor limit less what the hub needs for itself, and never fewer than 64.
pub fn default_max_connections() -> usize {
    let limit = open_files_limit().unwrap_or(1024);
    limit
        .saturating_sub(RESERVED_DESCRIPTORS)
        .clamp(64, 1 << 20) as usize
}

/// The soft limit on open files, from `/proc/self/limits` where there is one.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// One connection as the accept loop sees it.
struct Conn {
    accepted: Instant,
    /// Whether any request header arrived on it.
    served: AtomicBool,
    evict: Notify,
}

/// The connections held, for eviction.
#[derive(Default)]
struct Conns {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the connection that has waited longest without a request; whether there was one.
    fn evict_oldest_silent(&self) -> bool {
        let live = self.lock();
        let oldest = live
            .values()
            .filter(|c| !c.served.load(Ordering::Relaxed))
            .min_by_key(|c| c.accepted);
        match oldest {
            Some(c) => {
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections held at once.
    pub max_connections: usize,
    /// Time for a request's header to arrive.
    pub header_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` turns true, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let conns = Arc::new(Conns::default());
    let mut tasks = tokio::task::JoinSet::new();
    let max = limits.max_connections.max(1);
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            a = listener.accept() => a,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                // Answers written in parts (a streamed listing) go out as written, not held back
                // waiting for the client's delayed acknowledgement.
                let _ = stream.set_nodelay(true);
                stream
            }
            Err(e) => {
                // Out of descriptors, most likely: make room, then try again.
                tracing::warn!("accepting a connection failed: {e}");
                conns.evict_oldest_silent();
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if conns.lock().len() >= max && !conns.evict_oldest_silent() {
            // Every connection is busy with a request: this one waits for a free place.
            while conns.lock().len() >= max {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let id = conns.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            accepted: Instant::now(),
            served: AtomicBool::new(false),
            evict: Notify::new(),
        });
        conns.lock().insert(id, conn.clone());
        let service = Marked {
            inner: TowerToHyperService::new(app.clone()),
            conn: conn.clone(),
        };
        let (conns, mut stop) = (conns.clone(), stop.clone());
        let header_timeout = limits.header_timeout;
        tasks.spawn(async move {
            let http = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(http);
            tokio::select! {
                // Errors are the client's (a reset, a header too slow): nothing to report.
                _ = &mut http => {}
                () = conn.evict.notified() => {}
                () = stopped(&mut stop) => {
                    http.as_mut().graceful_shutdown();
                    let _ = http.await;
                }
            }
            conns.lock().remove(&id);
        });
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Waits until `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The app as a connection's service, noting that a request arrived.
#[derive(Clone)]
struct Marked {
    inner: TowerToHyperService<Router>,
    conn: Arc<Conn>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Marked {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future =
        <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<Incoming>>>::Future;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.conn.served.store(true, Ordering::Relaxed);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_stays_below_the_descriptor_limit() {
        let cap = default_max_connections();
        assert!(cap >= 64);
        if let Some(limit) = open_files_limit() {
            assert!((cap as u64) < limit.max(65), "{cap} of {limit}");
        }
    }
}
