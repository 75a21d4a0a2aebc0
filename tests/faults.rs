//! Nothing lost, nothing twice: uploads through a proxy that resets, stalls and refuses requests,
//! and many clients uploading into one project at once, end with every file exactly once in the
//! catalog, its stored bytes equal to the file's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assetdrop::upload::{self, CancellationToken, HubClient, RetryPolicy, UploadConfig};
use serde_json::Value;

use crate::support::events::Recorder;
use crate::support::fault_proxy::{Fault, FaultConfig, FaultProxy};
use crate::support::fixtures::write_text_files;
use crate::support::hub::{bin, cli_json_at as cli_json, json_output as parse, ServeProcess};
use crate::support::hubs::HubBehindProxy;

fn create_project(hub_url: &str, key: &str, name: &str) -> String {
    let (code, p) = cli_json(hub_url, key, &["project", "create", name]);
    assert_eq!(code, 0, "{p}");
    p["_id"].as_str().expect("project id").to_owned()
}

/// Checks the hub's catalog (read-only) and blobs: the project holds exactly one live asset per
/// file, under its external ID, with the file's bytes; no asset was ever made twice (not even one
/// deleted since); no partly written blob is left. Returns the blob keys of the assets.
fn assert_every_file_once(
    root: &Path,
    project: &str,
    files: &BTreeMap<String, PathBuf>,
) -> BTreeSet<String> {
    let db = rusqlite::Connection::open_with_flags(
        root.join("catalog.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("catalog");
    let mut st = db
        .prepare("SELECT external_id, blob_key, deleted FROM assets WHERE project = ?1")
        .expect("query");
    let rows: Vec<(String, Option<String>, i64)> = st
        .query_map([project], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        rows.iter().all(|(_, _, deleted)| *deleted == 0),
        "no asset is deleted in this test"
    );
    let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (ext, key, _) in &rows {
        by_id.entry(ext.as_str()).or_default().push(
            key.as_deref()
                .expect("a blob key: every asset was uploaded"),
        );
    }
    let twice: Vec<_> = by_id.iter().filter(|(_, keys)| keys.len() > 1).collect();
    assert!(twice.is_empty(), "external IDs registered twice: {twice:?}");
    let missing: Vec<_> = files
        .keys()
        .filter(|k| !by_id.contains_key(k.as_str()))
        .collect();
    assert!(missing.is_empty(), "files lost: {missing:?}");
    let strangers: Vec<_> = by_id.keys().filter(|k| !files.contains_key(**k)).collect();
    assert!(strangers.is_empty(), "assets of no file: {strangers:?}");
    assert_eq!(rows.len(), files.len());
    for (ext, keys) in &by_id {
        let stored = std::fs::read(root.join(keys[0]))
            .unwrap_or_else(|e| panic!("the blob of {ext} ({}): {e}", keys[0]));
        let original = std::fs::read(&files[*ext]).expect("the file");
        assert!(
            stored == original,
            "{ext}: the stored blob ({} bytes) differs from the file ({} bytes)",
            stored.len(),
            original.len()
        );
    }
    let folder = root.join("uploaded-data").join(project);
    let parts: Vec<String> = std::fs::read_dir(&folder)
        .expect("the project's blob folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains('#'))
        .collect();
    assert!(parts.is_empty(), "partly written blobs left: {parts:?}");
    by_id
        .values()
        .map(|keys| keys[0].to_owned())
        .collect::<BTreeSet<_>>()
}

/// The blob files in a project's folder.
fn blob_files(root: &Path, project: &str) -> BTreeSet<String> {
    std::fs::read_dir(root.join("uploaded-data").join(project))
        .expect("the project's blob folder")
        .map(|e| {
            format!(
                "uploaded-data/{project}/{}",
                e.expect("entry").file_name().to_string_lossy()
            )
        })
        .collect()
}

fn list_len(report: &Value, key: &str) -> usize {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` in {report}"))
        .len()
}

#[test]
fn twenty_concurrent_clients_each_uploading_a_hundred_files_end_with_every_asset_once() {
    let started = Instant::now();
    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-crowd", &[]);
    let project = create_project(&hub.url, &hub.key, "Crowd");
    let data = tempfile::tempdir().expect("tempdir");
    let (clients, each) = (20, 100);
    let mut all = BTreeMap::new();
    let mut folders = Vec::new();
    for c in 0..clients {
        let folder = data.path().join(format!("client{c:02}"));
        std::fs::create_dir(&folder).expect("mkdir");
        all.extend(write_text_files(&folder, &format!("c{c:02}-"), each));
        folders.push(folder);
    }
    // All at once, into the same project: the hub sees 20 clients reserving, sending and
    // registering side by side.
    let children: Vec<_> = folders
        .iter()
        .map(|folder| {
            Command::new(bin())
                .args(["--hub", &hub.url, "--api-key", &hub.key, "--json", "upload"])
                .args(["--project", &project, "--concurrency", "4"])
                .arg(folder)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a client")
        })
        .collect();
    for (c, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait for a client");
        let (code, report) = parse(&out);
        assert_eq!(
            code,
            0,
            "client {c}: {report}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("error"), "client {c} says: {stderr}");
        assert_eq!(list_len(&report, "failed"), 0, "client {c}: {report}");
        assert_eq!(list_len(&report, "uploaded"), each, "client {c}: {report}");
    }
    eprintln!("{clients} clients done after {:.1?}", started.elapsed());
    let keys = assert_every_file_once(root.path(), &project, &all);
    assert_eq!(keys.len(), clients * each);
    assert_eq!(
        blob_files(root.path(), &project),
        keys,
        "every stored blob is an asset's"
    );
}

#[test]
fn requests_stalled_past_the_clients_timeout_are_sent_again_and_the_late_ones_change_nothing() {
    let started = Instant::now();
    let root = tempfile::tempdir().expect("tempdir");
    // Stalls only: 15% of requests held 0.3 s, 15% held 3 s, past the client's 1 s timeout. The
    // client sends those again; the first copies reach the hub later (a reservation, a PUT of
    // the same bytes, a registration again) and must change nothing.
    let mut config = FaultConfig::none(0x57a1);
    config.stall = 0.30;
    config.stall_for = Duration::from_millis(300);
    config.long_stall_share = 0.5;
    config.long_stall_for = Duration::from_secs(3);
    let proxy = FaultProxy::bind(config);
    let key = "k-stalls";
    let hub = HubBehindProxy::start(root.path(), key, Some(&proxy.url));
    proxy.forward_to(&hub.url);
    let project = create_project(&hub.url, key, "Stalls");
    let data = tempfile::tempdir().expect("tempdir");
    let files = write_text_files(data.path(), "s", 200);

    let client = HubClient::new(&proxy.url, key)
        .expect("client")
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(1))
        .expect("timeouts")
        .with_retry(RetryPolicy {
            max_retries: 6,
            base: Duration::from_millis(50),
            max: Duration::from_secs(1),
        });
    let mut upload_config = UploadConfig::new(project.clone());
    upload_config.concurrency = 16;
    let rec = Recorder::default();
    let summary = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(upload::upload(
            &client,
            &[data.path().to_path_buf()],
            &upload_config,
            &rec,
            &CancellationToken::new(),
        ))
        .expect("upload");
    rec.assert_invariants();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.uploaded.len(), files.len());
    // Let the requests still held reach the hub before looking.
    assert!(
        proxy.wait_idle(Duration::from_secs(10)),
        "{}",
        proxy.tally()
    );
    let keys = assert_every_file_once(root.path(), &project, &files);
    assert_eq!(blob_files(root.path(), &project), keys, "blobs of no asset");
    let ids: BTreeSet<&str> = summary
        .uploaded
        .iter()
        .map(|u| u.asset_id.as_deref().expect("our hub names the asset"))
        .collect();
    assert_eq!(ids.len(), files.len(), "an asset ID reported twice");
    let tally = proxy.tally();
    eprintln!("{tally}; {:.1?} in all", started.elapsed());
    assert!(
        tally.long_stalls > 0 && tally.of(Fault::Stall) > tally.long_stalls,
        "{tally}"
    );
}

#[test]
fn creations_and_deletions_whose_answers_are_lost_take_effect_once() {
    let root = tempfile::tempdir().expect("tempdir");
    // Answers lost after the hub acted: a quarter of the answers cut off part-way, and stalls,
    // half of them past the client's 1 s timeout. Each such call is sent again.
    let mut config = FaultConfig::none(0x1de_4907);
    config.reset_mid_response = 0.25;
    config.stall = 0.20;
    config.stall_for = Duration::from_millis(200);
    config.long_stall_share = 0.5;
    config.long_stall_for = Duration::from_secs(2);
    let proxy = FaultProxy::bind(config);
    let key = "k-once";
    let hub = HubBehindProxy::start(root.path(), key, Some(&proxy.url));
    proxy.forward_to(&hub.url);
    let client = HubClient::new(&proxy.url, key)
        .expect("client")
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(1))
        .expect("timeouts")
        .with_retry(RetryPolicy {
            max_retries: 8,
            base: Duration::from_millis(20),
            max: Duration::from_millis(500),
        });
    let direct = HubClient::new(&hub.url, key).expect("client");
    let names: Vec<String> = (0..25).map(|i| format!("P{i:02}")).collect();
    let template = serde_json::json!({
        "name": "t", "description": "", "template": "<p>{{a}}</p>", "batchColumn": "",
        "selectedExternalId": "a", "dataConfig": {"a": {"type": "text", "includeInExport": true}}
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut storages = Vec::new();
        for name in &names {
            let project = client
                .create_project(name, "")
                .await
                .expect("create project");
            client
                .save_template(&project.id, &template)
                .await
                .expect("save template");
            let storage = client
                .create_storage(&serde_json::json!({
                    "name": format!("s-{name}"), "provider": "AWS",
                    "publicKey": "AKIAEXAMPLE", "privateKey": "k"
                }))
                .await
                .expect("create storage (a repeat must not meet its own name)");
            storages.push(storage.id);
        }
        for id in &storages {
            client
                .delete_storage(id)
                .await
                .expect("delete storage (a repeat must not find it gone)");
        }
    });
    // Let the requests still held reach the hub before looking.
    assert!(
        proxy.wait_idle(Duration::from_secs(10)),
        "{}",
        proxy.tally()
    );
    rt.block_on(async {
        let page = direct.list_projects(1, 1000).await.expect("list");
        let mut seen: Vec<String> = page.items.iter().map(|p| p.name.clone()).collect();
        seen.sort();
        assert_eq!(seen, names, "every project exactly once");
        for p in &page.items {
            let full = direct.project(&p.id).await.expect("project");
            assert_eq!(
                full.asset_builder_templates.len(),
                1,
                "{}: {full:?}",
                p.name
            );
        }
        assert_eq!(direct.list_storages().await.expect("storages"), vec![]);
    });
    let tally = proxy.tally();
    eprintln!("{tally}");
    assert!(
        tally.of(Fault::ResetMidResponse) >= 8 && tally.long_stalls >= 4,
        "too few lost answers to show anything: {tally}"
    );
}
