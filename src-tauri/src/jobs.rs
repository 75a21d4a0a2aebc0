//! Long operations the page started: each has an ID the page chose, a cancellation token, and
//! a channel its events go to.

use std::collections::HashMap;
use std::sync::Mutex;

use assetdrop::progress::EventSink;
use assetdrop::upload::CancellationToken;
use serde::Serialize;
use tauri::ipc::{Channel, IpcResponse};

/// The running jobs, by ID.
#[derive(Default)]
pub struct Jobs {
    running: Mutex<HashMap<String, CancellationToken>>,
}

/// A job's registration; dropping it forgets the job.
pub struct Job<'a> {
    jobs: &'a Jobs,
    id: String,
    /// Cancelled by [`Jobs::cancel`].
    pub cancel: CancellationToken,
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.jobs.running.lock() {
            m.remove(&self.id);
        }
    }
}

impl Jobs {
    /// Registers a job under the page's ID.
    pub fn start(&self, id: &str) -> Job<'_> {
        let cancel = CancellationToken::new();
        if let Ok(mut m) = self.running.lock() {
            m.insert(id.to_owned(), cancel.clone());
        }
        Job {
            jobs: self,
            id: id.to_owned(),
            cancel,
        }
    }

    /// Cancels a job; false when no job has that ID (it ended already).
    pub fn cancel(&self, id: &str) -> bool {
        let token = self.running.lock().ok().and_then(|m| m.get(id).cloned());
        token.is_some_and(|t| {
            t.cancel();
            true
        })
    }
}

/// Forwards core events to the page. A closed page drops them: the job goes on.
pub struct ChannelSink<E: IpcResponse>(pub Channel<E>);

impl<E: IpcResponse + Serialize + Send + Sync + 'static> EventSink<E> for ChannelSink<E> {
    fn send(&self, event: E) {
        let _ = self.0.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_can_be_cancelled_while_it_runs_and_is_forgotten_after() {
        let jobs = Jobs::default();
        let job = jobs.start("upload-1");
        assert!(!job.cancel.is_cancelled());
        assert!(jobs.cancel("upload-1"));
        assert!(job.cancel.is_cancelled());
        drop(job);
        assert!(!jobs.cancel("upload-1"), "an ended job is gone");
        assert!(!jobs.cancel("never-started"));
    }
}
