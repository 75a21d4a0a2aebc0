//! Progress is data: long operations report serialisable events to an [`EventSink`], and the
//! front end (progress bars, JSON lines, a desktop channel, a test recorder) decides how to show
//! them. [`Throttle`] keeps per-file updates to about ten a second.

use std::time::{Duration, Instant};

/// Receives the events of a long operation. Implementations must be cheap: they are called
/// from the operation's tasks.
pub trait EventSink<E>: Send + Sync {
    /// Delivers one event.
    fn send(&self, event: E);
}

impl<E, F: Fn(E) + Send + Sync> EventSink<E> for F {
    fn send(&self, event: E) {
        self(event);
    }
}

/// A sink that drops every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl<E> EventSink<E> for Discard {
    fn send(&self, _event: E) {}
}

/// Lets an update through at most once per interval; callers always send the final value
/// themselves, so the last state is never lost.
#[derive(Debug, Clone)]
pub struct Throttle {
    interval: Duration,
    last: Option<Instant>,
}

impl Throttle {
    /// About ten updates a second.
    pub fn new() -> Self {
        Self::every(Duration::from_millis(100))
    }

    /// At most one update per `interval`.
    pub fn every(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
        }
    }

    /// True when an update may be sent at `now`.
    pub fn ready(&mut self, now: Instant) -> bool {
        match self.last {
            Some(t) if now.duration_since(t) < self.interval => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_lets_one_through_per_interval() {
        let mut t = Throttle::every(Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(t.ready(t0));
        assert!(!t.ready(t0 + Duration::from_millis(50)));
        assert!(t.ready(t0 + Duration::from_millis(100)));
        assert!(!t.ready(t0 + Duration::from_millis(199)));
    }
}
