//! Either kind of hub a client meets, behind one face, so one test runs against both: our own
//! hub (`assetdrop serve`, with its extensions) and the strict stand-in of Ango Hub's documented
//! API ([`super::ango`]). Each can sit behind fault-injecting proxies (the API and, for the
//! stand-in, its separate store), and each is inspected directly, not through the client under
//! test.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::ango::{AngoStandIn, StandInConfig};
use super::fault_proxy::{FaultConfig, FaultProxy, FaultTally};
use super::hub::{bin, json_output};

/// Which hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `assetdrop serve`.
    Ours,
    /// The strict stand-in of Ango Hub.
    Ango,
}

impl Kind {
    /// Both, in the order tests run them.
    pub const BOTH: [Kind; 2] = [Kind::Ours, Kind::Ango];
}

/// `assetdrop serve` on a port chosen here, telling clients `public_url` (a proxy in front of
/// it, or itself). Killed when dropped.
pub struct HubBehindProxy {
    child: Child,
    /// The hub's own address, for set-up and checks that should not meet the proxy.
    pub url: String,
}

impl HubBehindProxy {
    /// Starts the hub; with `public_url` `None` it names itself.
    pub fn start(root: &Path, key: &str, public_url: Option<&str>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let public = public_url.unwrap_or(&url).to_owned();
        let mut child = Command::new(bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--root"])
            .arg(root)
            .args(["--api-key", key, "--public-url", &public])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn assetdrop serve");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        reader.read_line(&mut first).expect("read first line");
        assert_eq!(first.trim(), format!("listening on {url}"));
        if public != url {
            let mut second = String::new();
            reader.read_line(&mut second).expect("read second line");
            assert_eq!(second.trim(), format!("public URL: {public}"));
        }
        // Keep reading, so the hub never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        Self { child, url }
    }
}

impl Drop for HubBehindProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One asset as the hub holds it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// External ID.
    pub external_id: String,
    /// Its `data`.
    pub data: String,
    /// The bytes stored for it, for an uploaded file.
    pub bytes: Option<Vec<u8>>,
}

/// A hub under test, with the receipt file its clients share.
pub struct TestHub {
    /// Which kind.
    pub kind: Kind,
    /// What clients are given: the hub, or the fault proxy in front of its API.
    pub url: String,
    /// The hub's own API address.
    pub direct: String,
    /// The API key.
    pub key: String,
    /// The receipt file of every client run by [`TestHub::cli`].
    pub receipts: PathBuf,
    dir: tempfile::TempDir,
    serve: Option<HubBehindProxy>,
    standin: Option<AngoStandIn>,
    api_proxy: Option<FaultProxy>,
    store_proxy: Option<FaultProxy>,
}

impl TestHub {
    /// A hub of `kind`, reached directly.
    pub fn start(kind: Kind) -> Self {
        Self::start_with(kind, None, StandInConfig::default())
    }

    /// A hub of `kind`; with `faults`, every request from clients (API and uploads) goes through
    /// a proxy injecting them.
    pub fn start_with(kind: Kind, faults: Option<FaultConfig>, config: StandInConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let receipts = dir.path().join("client/receipts.sqlite");
        match kind {
            Kind::Ours => {
                let key = "k-ours".to_owned();
                let proxy = faults.map(FaultProxy::bind);
                let serve = HubBehindProxy::start(
                    &dir.path().join("hub"),
                    &key,
                    proxy.as_ref().map(|p| p.url.as_str()),
                );
                if let Some(p) = &proxy {
                    p.forward_to(&serve.url);
                }
                Self {
                    kind,
                    url: proxy
                        .as_ref()
                        .map_or_else(|| serve.url.clone(), |p| p.url.clone()),
                    direct: serve.url.clone(),
                    key,
                    receipts,
                    dir,
                    serve: Some(serve),
                    standin: None,
                    api_proxy: proxy,
                    store_proxy: None,
                }
            }
            Kind::Ango => {
                let (api_proxy, store_proxy) = match faults {
                    Some(f) => {
                        let mut store = f.clone();
                        store.seed = f.seed.wrapping_add(1);
                        (Some(FaultProxy::bind(f)), Some(FaultProxy::bind(store)))
                    }
                    None => (None, None),
                };
                let standin = AngoStandIn::start(StandInConfig {
                    store_public_url: store_proxy.as_ref().map(|p| p.url.clone()),
                    ..config
                });
                if let Some(p) = &api_proxy {
                    p.forward_to(&standin.url);
                }
                if let Some(p) = &store_proxy {
                    p.forward_to(&standin.store_url);
                }
                Self {
                    kind,
                    url: api_proxy
                        .as_ref()
                        .map_or_else(|| standin.url.clone(), |p| p.url.clone()),
                    direct: standin.url.clone(),
                    key: standin.key.clone(),
                    receipts,
                    dir,
                    serve: None,
                    standin: Some(standin),
                    api_proxy,
                    store_proxy,
                }
            }
        }
    }

    /// The stand-in (for a test of the stand-in kind).
    pub fn standin(&self) -> &AngoStandIn {
        self.standin.as_ref().expect("an Ango stand-in")
    }

    /// A folder for the test's own files, removed with the hub.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(&p).expect("scratch folder");
        p
    }

    /// A new project, made directly on the hub.
    pub fn project(&self, name: &str) -> String {
        match self.kind {
            Kind::Ango => self.standin().create_project(name),
            Kind::Ours => {
                let out = Command::new(bin())
                    .args(["--hub", &self.direct, "--api-key", &self.key, "--json"])
                    .args(["project", "create", name])
                    .output()
                    .expect("run assetdrop");
                let (code, p) = json_output(&out);
                assert_eq!(code, 0, "{p}");
                p["_id"].as_str().expect("project id").to_owned()
            }
        }
    }

    /// The CLI with `--json` against [`TestHub::url`], the test's receipt file and no rate limit
    /// of its own (the hub's 429s still count), not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with_receipts(&self.receipts, args)
    }

    /// [`TestHub::command`] with another receipt file: another computer.
    pub fn command_with_receipts(&self, receipts: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(["--hub", &self.url, "--api-key", &self.key, "--json"])
            .arg("--receipts")
            .arg(receipts)
            .args(["--rate", "0"])
            .args(args);
        c
    }

    /// Runs [`TestHub::command`]: exit code and the JSON document printed.
    pub fn cli(&self, args: &[&str]) -> (i32, Value) {
        json_output(&self.command(args).output().expect("run assetdrop"))
    }

    /// Every asset of `project`, oldest first, deleted ones left out; panics if any was deleted
    /// (no test here deletes).
    pub fn stored(&self, project: &str) -> Vec<Stored> {
        match self.kind {
            Kind::Ango => {
                let s = self.standin();
                s.assets(project)
                    .into_iter()
                    .map(|a| {
                        let data = a["data"].as_str().unwrap_or_default().to_owned();
                        Stored {
                            external_id: a["externalId"].as_str().expect("externalId").to_owned(),
                            bytes: s.blob(&data),
                            data,
                        }
                    })
                    .collect()
            }
            Kind::Ours => {
                let root = self.dir.path().join("hub");
                let db = self.catalog();
                let mut st = db
                    .prepare(
                        "SELECT external_id, COALESCE(data, ''), blob_key, deleted FROM assets
                         WHERE project = ?1 ORDER BY seq",
                    )
                    .expect("query");
                let rows: Vec<(String, String, Option<String>, i64)> = st
                    .query_map([project], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .expect("rows")
                    .collect::<Result<_, _>>()
                    .expect("rows");
                assert!(
                    rows.iter().all(|r| r.3 == 0),
                    "no asset is deleted in these tests"
                );
                rows.into_iter()
                    .map(|(external_id, data, key, _)| Stored {
                        external_id,
                        data,
                        bytes: key.map(|k| std::fs::read(root.join(k)).expect("the blob")),
                    })
                    .collect()
            }
        }
    }

    /// Our hub's catalog, read-only.
    fn catalog(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.dir.path().join("hub/catalog.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("catalog")
    }

    /// How many assets `project` holds.
    pub fn count(&self, project: &str) -> usize {
        match self.kind {
            Kind::Ango => self.standin().assets(project).len(),
            Kind::Ours => {
                let db = self.catalog();
                db.query_row(
                    "SELECT count(*) FROM assets WHERE project = ?1 AND deleted = 0",
                    [project],
                    |r| r.get::<_, i64>(0),
                )
                .expect("count") as usize
            }
        }
    }

    /// How many uploaded blobs the hub stores for `project` (registered or not).
    pub fn blob_count(&self, project: &str) -> usize {
        match self.kind {
            Kind::Ango => self.standin().blob_count(),
            Kind::Ours => {
                std::fs::read_dir(self.dir.path().join("hub/uploaded-data").join(project))
                    .map_or(0, Iterator::count)
            }
        }
    }

    /// The faults injected so far, API then store.
    pub fn tallies(&self) -> Vec<FaultTally> {
        [&self.api_proxy, &self.store_proxy]
            .into_iter()
            .flatten()
            .map(FaultProxy::tally)
            .collect()
    }

    /// Waits until requests the proxies hold back have reached the hub.
    pub fn wait_idle(&self) {
        for p in [&self.api_proxy, &self.store_proxy].into_iter().flatten() {
            assert!(p.wait_idle(Duration::from_secs(30)), "a proxy stayed busy");
        }
    }

    /// Our hub's process (for a test of our kind).
    pub fn serve(&self) -> &HubBehindProxy {
        self.serve.as_ref().expect("our hub")
    }
}

/// Asserts that `project` holds exactly one asset per file, under its external ID, with the
/// file's bytes. Returns the assets' data URLs.
pub fn assert_every_file_once(
    hub: &TestHub,
    project: &str,
    files: &BTreeMap<String, PathBuf>,
) -> BTreeSet<String> {
    let stored = hub.stored(project);
    let mut by_id: BTreeMap<&str, Vec<&Stored>> = BTreeMap::new();
    for s in &stored {
        by_id.entry(s.external_id.as_str()).or_default().push(s);
    }
    let twice: Vec<_> = by_id
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| (k, v.len()))
        .collect();
    assert!(
        twice.is_empty(),
        "{:?}: external IDs registered twice: {twice:?}",
        hub.kind
    );
    let missing: Vec<_> = files
        .keys()
        .filter(|k| !by_id.contains_key(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{:?}: files lost: {missing:?}",
        hub.kind
    );
    let strangers: Vec<_> = by_id.keys().filter(|k| !files.contains_key(**k)).collect();
    assert!(
        strangers.is_empty(),
        "{:?}: assets of no file: {strangers:?}",
        hub.kind
    );
    for (ext, v) in &by_id {
        let stored = v[0]
            .bytes
            .as_ref()
            .unwrap_or_else(|| panic!("{ext}: no bytes stored for {}", v[0].data));
        let original = std::fs::read(&files[*ext]).expect("the file");
        assert!(
            *stored == original,
            "{ext}: the stored bytes ({}) differ from the file ({})",
            stored.len(),
            original.len()
        );
    }
    stored.into_iter().map(|s| s.data).collect()
}
