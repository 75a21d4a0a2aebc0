//! Records progress events and checks the invariants every run must keep.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use assetdrop::progress::EventSink;
use assetdrop::upload::UploadEvent;

/// Keeps every event in order.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<UploadEvent>>);

impl EventSink<UploadEvent> for Recorder {
    fn send(&self, event: UploadEvent) {
        self.0.lock().expect("lock").push(event);
    }
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<UploadEvent> {
        self.0.lock().expect("lock").clone()
    }

    /// Asserts: `finished` comes last and once; bytes only go up (per file and overall); every
    /// started file ends uploaded or failed, exactly once, and becomes an asset only after it was
    /// sent; progress never passes a file's size.
    pub fn assert_invariants(&self) {
        let ev = self.events();
        assert!(
            matches!(ev.last(), Some(UploadEvent::Finished { .. })),
            "finished must come last: {:?}",
            ev.last()
        );
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, UploadEvent::Finished { .. }))
                .count(),
            1
        );
        let mut started: HashMap<PathBuf, u64> = HashMap::new();
        let mut sent: HashMap<PathBuf, u64> = HashMap::new();
        let mut ended: HashMap<PathBuf, usize> = HashMap::new();
        let mut stored: HashSet<PathBuf> = HashSet::new();
        let mut overall = 0;
        for e in &ev {
            match e {
                UploadEvent::Started { path, bytes } => {
                    assert!(
                        started.insert(path.clone(), *bytes).is_none(),
                        "{} started twice",
                        path.display()
                    );
                }
                UploadEvent::Progress {
                    path,
                    sent: s,
                    total,
                    overall_sent,
                } => {
                    assert!(
                        started.contains_key(path),
                        "progress before start for {}",
                        path.display()
                    );
                    let prev = sent.insert(path.clone(), *s).unwrap_or(0);
                    assert!(*s >= prev, "bytes went down for {}", path.display());
                    assert!(s <= total, "sent past the size for {}", path.display());
                    assert!(*overall_sent >= overall, "overall bytes went down");
                    overall = *overall_sent;
                }
                UploadEvent::Sent { path } => {
                    assert!(
                        started.contains_key(path) && stored.insert(path.clone()),
                        "{} sent before it started, or twice",
                        path.display()
                    );
                }
                UploadEvent::Uploaded { path, .. } => {
                    assert!(
                        stored.contains(path),
                        "{} became an asset before its bytes were sent",
                        path.display()
                    );
                    *ended.entry(path.clone()).or_default() += 1;
                }
                UploadEvent::Failed { path, .. } => {
                    *ended.entry(path.clone()).or_default() += 1;
                }
                _ => {}
            }
        }
        for (path, size) in &started {
            assert_eq!(
                ended.get(path),
                Some(&1),
                "{} started but did not end exactly once",
                path.display()
            );
            if let Some(s) = sent.get(path) {
                assert!(s <= size);
            }
        }
    }
}
