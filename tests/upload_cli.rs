//! Uploading real files of every supported kind through the CLI and the library into a real hub
//! process on 127.0.0.1, then checking the catalog and the stored bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assetdrop::media::{self, BitrateMode};
use assetdrop::upload::{self, CancellationToken, HubClient, UploadConfig, UploadEvent};
use serde_json::Value;

use crate::support::events::Recorder;
use crate::support::fixtures::{generated, write_numbered};
use crate::support::hub::{bin, blob_file, ServeProcess};

fn cli(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run assetdrop")
}

fn cli_json(hub: &ServeProcess, args: &[&str]) -> (i32, Value) {
    crate::support::hub::cli_json_at(&hub.url, &hub.key, args)
}

fn files_under(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, p);
            }
        }
    }
    out
}

/// The hub's catalog under `root`, read-only.
fn catalog(root: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        root.join("catalog.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("catalog")
}

fn all_assets(hub: &ServeProcess, project: &str) -> Vec<Value> {
    let (code, v) = cli_json(
        hub,
        &["assets", "list", "--project", project, "--limit", "1000"],
    );
    assert_eq!(code, 0, "{v}");
    v["assets"].as_array().expect("assets").clone()
}

#[test]
fn upload_every_kind_and_reject_the_bad_ones() {
    let fixtures = generated("make_media_fixtures.sh");
    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-upload", &[]);
    let (code, p) = cli_json(&hub, &["project", "create", "Every kind"]);
    assert_eq!(code, 0);
    let project = p["_id"].as_str().expect("project id").to_owned();

    let good = fixtures.join("good");
    let bad = fixtures.join("bad");
    let (code, report) = cli_json(
        &hub,
        &[
            "upload",
            "--project",
            &project,
            "--concurrency",
            "4",
            good.to_str().expect("utf8"),
            bad.to_str().expect("utf8"),
        ],
    );
    assert_eq!(
        code, 1,
        "some files are rejected, so the exit code is 1: {report}"
    );

    // Every good file became an asset named by its path inside the dropped folder.
    let good_files = files_under(&good);
    let uploaded: BTreeMap<String, String> = report["uploaded"]
        .as_array()
        .expect("uploaded")
        .iter()
        .map(|u| {
            (
                u["externalId"].as_str().expect("externalId").to_owned(),
                u["assetId"].as_str().expect("assetId").to_owned(),
            )
        })
        .collect();
    let bad_files = files_under(&bad);
    let expected_ids: BTreeSet<&String> = good_files
        .keys()
        .chain(bad_files.keys().filter(|_| false))
        .collect();
    assert_eq!(
        uploaded.keys().collect::<BTreeSet<_>>(),
        expected_ids,
        "report: {report}"
    );
    assert!(
        uploaded.contains_key("sub/dir/nested.png"),
        "nested files keep their relative path"
    );

    // Every bad file is rejected with its specific code.
    let rejected: BTreeMap<String, Vec<String>> = report["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            let name = Path::new(r["path"].as_str().expect("path"))
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let codes = r["problems"]
                .as_array()
                .expect("problems")
                .iter()
                .map(|p| p["code"].as_str().expect("code").to_owned())
                .collect();
            (name, codes)
        })
        .collect();
    for (file, code) in [
        ("vbr.mp3", "variable-bitrate"),
        ("png_named.mp3", "extension-mismatch"),
        ("empty.txt", "empty"),
        ("archive.zip", "unsupported-type"),
        ("truncated.png", "truncated"),
        ("truncated.mp4", "truncated"),
        ("not_utf8.txt", "not-utf8"),
        ("volume4d.nrrd", "unsupported-volume"),
    ] {
        let codes = rejected
            .get(file)
            .unwrap_or_else(|| panic!("{file} should be rejected; rejected: {rejected:?}"));
        assert!(
            codes.iter().any(|c| c == code),
            "{file}: want {code}, got {codes:?}"
        );
    }
    assert_eq!(
        rejected.len(),
        bad_files.len(),
        "every bad file is rejected: {rejected:?}"
    );
    assert!(
        report["failed"].as_array().expect("failed").is_empty(),
        "{report}"
    );

    // The catalog holds exactly those assets; each stored blob equals its original.
    let assets = all_assets(&hub, &project);
    assert_eq!(assets.len(), good_files.len());
    for a in &assets {
        let ext_id = a["externalId"].as_str().expect("externalId");
        let original = &good_files[ext_id];
        let stored = blob_file(root.path(), &hub.url, a["data"].as_str().expect("data"));
        assert!(
            stored.starts_with(root.path().join("uploaded-data").join(&project)),
            "{}",
            stored.display()
        );
        assert_eq!(
            std::fs::read(&stored).expect("stored blob"),
            std::fs::read(original).expect("original"),
            "{ext_id}"
        );
        assert_eq!(
            a["size"].as_u64(),
            Some(std::fs::metadata(original).expect("meta").len())
        );
        assert_eq!(a["_id"].as_str(), uploaded.get(ext_id).map(String::as_str));
    }
    let by_id: BTreeMap<&str, &Value> = assets
        .iter()
        .map(|a| (a["externalId"].as_str().expect("id"), a))
        .collect();
    let png = by_id["photo.png"];
    assert_eq!(png["kind"], "image");
    assert!(png["metadata"]["width"].as_u64().expect("width") > 0);
    assert!(png["metadata"]["height"].as_u64().expect("height") > 0);
    let mp4 = by_id["clip.mp4"];
    assert_eq!(mp4["kind"], "video");
    assert!(
        (mp4["metadata"]["frameRate"].as_f64().expect("frameRate") - 25.0).abs() < 0.01,
        "{mp4}"
    );
    assert_eq!(by_id["tone.mp3"]["kind"], "audio");
    assert_eq!(by_id["doc.pdf"]["kind"], "pdf");
    assert_eq!(by_id["readme.md"]["kind"], "markdown");
    assert_eq!(by_id["page.html"]["kind"], "html");
    assert_eq!(by_id["notes.txt"]["kind"], "text");
    assert_eq!(by_id["scan.dcm"]["kind"], "dicom");
    assert_eq!(by_id["volume.nii.gz"]["kind"], "nifti");
    assert!(
        by_id["volume.nii.gz"]["data"]
            .as_str()
            .expect("data")
            .ends_with(".nii.gz"),
        "the double extension is kept"
    );

    // Only good files: exit code 0.
    let (code, _) = cli_json(
        &hub,
        &[
            "upload",
            "--project",
            &project,
            good.join("photo.png").to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, 0);
}

#[test]
fn audio_convert_uploads_a_constant_bitrate_wav_of_the_same_duration() {
    let fixtures = generated("make_media_fixtures.sh");
    let vbr = fixtures.join("bad/vbr.mp3");
    let before = media::probe(&vbr);
    let before_audio = before.audio.clone().expect("audio facts");
    assert_eq!(before_audio.bitrate_mode, BitrateMode::Variable);

    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-convert", &[]);
    let (_, p) = cli_json(&hub, &["project", "create", "Audio"]);
    let project = p["_id"].as_str().expect("id").to_owned();
    let (code, report) = cli_json(
        &hub,
        &[
            "upload",
            "--project",
            &project,
            "--audio",
            "convert",
            vbr.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["uploaded"][0]["externalId"], "vbr.mp3",
        "the original name stays the external ID"
    );

    let assets = all_assets(&hub, &project);
    assert_eq!(assets.len(), 1);
    let data = assets[0]["data"].as_str().expect("data");
    assert!(
        Path::new(data)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav")),
        "{data}"
    );
    let stored = blob_file(root.path(), &hub.url, data);
    let after = media::probe(&stored);
    let after_audio = after.audio.expect("audio facts");
    assert_eq!(
        after_audio.bitrate_mode,
        BitrateMode::Constant,
        "{after_audio:?}"
    );
    assert!(after_audio.codec.starts_with("pcm"), "{after_audio:?}");
    let (d0, d1) = (
        before_audio.duration_seconds.expect("duration"),
        after_audio.duration_seconds.expect("duration"),
    );
    // The MP3's frames also hold the encoder's priming and padding (under two frames of 1152
    // samples), which decoding trims; the WAV holds exactly the audio.
    assert!(
        d1 <= d0 && d0 - d1 < 2.0 * 1152.0 / 44100.0,
        "durations differ: mp3 {d0} s, wav {d1} s"
    );

    // With the default policy the same file is refused, and nothing is registered.
    let (code, report) = cli_json(
        &hub,
        &["upload", "--project", &project, vbr.to_str().expect("utf8")],
    );
    assert_eq!(code, 1);
    assert_eq!(
        report["rejected"][0]["problems"][0]["code"],
        "variable-bitrate"
    );
    assert_eq!(all_assets(&hub, &project).len(), 1);
}

#[test]
fn usage_errors_exit_2() {
    let out = cli(&["upload"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&[
        "--hub",
        "http://127.0.0.1:9",
        "upload",
        "--project",
        "p",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2), "no API key with --hub");
    assert!(String::from_utf8_lossy(&out.stderr).contains("api-key"));
    let out = cli(&[
        "--hub",
        "http://127.0.0.1:9",
        "--api-key",
        "k",
        "upload",
        "--concurrency",
        "0",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn embedded_hub_uploads_into_the_default_project() {
    let fixtures = generated("make_media_fixtures.sh");
    let root = tempfile::tempdir().expect("tempdir");
    let root_s = root.path().to_str().expect("utf8");
    let photo = fixtures.join("good/photo.jpg");
    let out = cli(&[
        "--root",
        root_s,
        "--json",
        "upload",
        photo.to_str().expect("utf8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["--root", root_s, "--json", "project", "list"]);
    let projects: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(projects.as_array().expect("list").len(), 1);
    assert_eq!(projects[0]["name"], upload::DEFAULT_PROJECT_NAME);
    let id = projects[0]["_id"].as_str().expect("id");
    let out = cli(&[
        "--root",
        root_s,
        "--json",
        "assets",
        "list",
        "--project",
        id,
    ]);
    let assets: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(assets["total"], 1);
    assert_eq!(assets["assets"][0]["externalId"], "photo.jpg");
    // A second upload goes to the same default project.
    let out = cli(&[
        "--root",
        root_s,
        "--json",
        "upload",
        photo.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = cli(&["--root", root_s, "--json", "project", "list"]);
    let projects: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(projects.as_array().expect("list").len(), 1);
}

/// A hub in this process with one project, and a library client for it.
async fn hub_with_project(
    name: &str,
) -> (
    tempfile::TempDir,
    assetdrop::hub::RunningHub,
    HubClient,
    upload::ProjectInfo,
) {
    let root = tempfile::tempdir().expect("tempdir");
    let hub = crate::support::hub::in_process(assetdrop::hub::HubConfig {
        api_key: Some("k".into()),
        ..assetdrop::hub::HubConfig::new(root.path())
    })
    .await;
    let client = HubClient::new(&hub.url, &hub.api_key).expect("client");
    let project = client.create_project(name, "").await.expect("project");
    (root, hub, client, project)
}

#[tokio::test]
async fn library_upload_reports_events_that_keep_their_invariants() {
    let fixtures = generated("make_media_fixtures.sh");
    let (_root, hub, client, project) = hub_with_project("Events").await;
    let mut config = UploadConfig::new(project.id.clone());
    config.concurrency = 3;
    config.batches = vec!["first".into()];
    config.create_batches = true;
    config.register_chunk = 4;
    let rec = Recorder::default();
    let paths = vec![
        fixtures.join("good"),
        fixtures.join("bad/vbr.mp3"),
        fixtures.join("missing.png"),
    ];
    let summary = upload::upload(&client, &paths, &config, &rec, &CancellationToken::new())
        .await
        .expect("upload");
    rec.assert_invariants();
    let good_count = files_under(&fixtures.join("good")).len();
    assert_eq!(summary.uploaded.len(), good_count);
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.failed.len(), 1, "the missing path");
    let events = rec.events();
    assert!(
        matches!(events.first(), Some(UploadEvent::Planned { files, .. }) if *files == good_count + 1)
    );
    let page = client
        .assets_page(
            &project.id,
            1,
            100,
            &assetdrop::wire::AssetFilter {
                batches: vec!["first".into()],
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(
        page.total as usize, good_count,
        "every asset is in the batch"
    );
    // Missing batches without create_batches stop the upload before anything is sent.
    let mut strict = UploadConfig::new(project.id.clone());
    strict.batches = vec!["nope".into()];
    let err = upload::upload(&client, &paths, &strict, &rec, &CancellationToken::new())
        .await
        .expect_err("missing batch");
    assert_eq!(err.code, assetdrop::ErrorCode::NotFound);
    // A cancelled upload sends nothing and says so per file.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let rec2 = Recorder::default();
    let s = upload::upload(
        &client,
        &[fixtures.join("good")],
        &UploadConfig::new(project.id.clone()),
        &rec2,
        &cancel,
    )
    .await
    .expect("upload");
    rec2.assert_invariants();
    assert!(s.uploaded.is_empty());
    assert!(s
        .failed
        .iter()
        .all(|f| f.error.code == assetdrop::ErrorCode::Cancelled));
    hub.shutdown().await.expect("shutdown");
}

#[test]
fn re_uploading_skips_contents_the_project_holds_and_never_duplicates() {
    let fixtures = generated("make_media_fixtures.sh");
    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-dedupe", &[]);
    let (_, p) = cli_json(&hub, &["project", "create", "Dedupe"]);
    let project = p["_id"].as_str().expect("project id").to_owned();
    let good = fixtures.join("good");
    let good_s = good.to_str().expect("utf8");
    let n = files_under(&good).len();

    // A folder holding two copies of one file under other names.
    let extra = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        good.join("photo.jpg"),
        extra.path().join("copy-of-photo.jpg"),
    )
    .expect("copy");
    std::fs::copy(good.join("photo.jpg"), extra.path().join("again.jpg")).expect("copy");
    let extra_s = extra.path().to_str().expect("utf8");

    let (code, first) = cli_json(&hub, &["upload", "--project", &project, good_s]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(first["uploaded"].as_array().expect("list").len(), n);
    assert_eq!(all_assets(&hub, &project).len(), n);

    // The same folder again: nothing sent, every file counted as skipped, naming the asset.
    let (code, again) = cli_json(&hub, &["upload", "--project", &project, good_s]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["uploaded"].as_array().expect("list").len(), 0);
    let skipped = again["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), n, "{again}");
    assert!(skipped.iter().all(|s| s["reason"]
        .as_str()
        .expect("reason")
        .starts_with("already in the project as ")));
    assert_eq!(all_assets(&hub, &project).len(), n);

    // Copies under other names: skipped by default, each pointing at the original.
    let (_, copies) = cli_json(&hub, &["upload", "--project", &project, extra_s]);
    assert_eq!(
        copies["skipped"].as_array().expect("list").len(),
        2,
        "{copies}"
    );
    assert!(copies["skipped"][0]["reason"]
        .as_str()
        .expect("reason")
        .contains("\"photo.jpg\""));
    // With --allow-duplicates the copies become assets.
    let (code, allowed) = cli_json(
        &hub,
        &[
            "upload",
            "--project",
            &project,
            "--allow-duplicates",
            extra_s,
        ],
    );
    assert_eq!(code, 0, "{allowed}");
    assert_eq!(allowed["uploaded"].as_array().expect("list").len(), 2);
    assert_eq!(all_assets(&hub, &project).len(), n + 2);
    // The same files under the same external IDs, even with duplicates allowed, are the assets
    // made before: the upload ID is derived from project, external ID and content.
    let (_, same) = cli_json(
        &hub,
        &[
            "upload",
            "--project",
            &project,
            "--allow-duplicates",
            extra_s,
        ],
    );
    let ids = |v: &Value| -> BTreeSet<String> {
        v["uploaded"]
            .as_array()
            .expect("list")
            .iter()
            .map(|u| u["assetId"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(ids(&same), ids(&allowed));
    assert_eq!(all_assets(&hub, &project).len(), n + 2);

    // Files of one upload are not compared with each other: both copies go to a new project.
    let (_, p2) = cli_json(&hub, &["project", "create", "Repeats"]);
    let project2 = p2["_id"].as_str().expect("project id").to_owned();
    let (_, rep) = cli_json(&hub, &["upload", "--project", &project2, extra_s]);
    assert_eq!(rep["uploaded"].as_array().expect("list").len(), 2, "{rep}");
}

#[test]
fn killing_the_hub_mid_upload_leaves_a_consistent_catalog() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut hub = ServeProcess::start(root.path(), "k-crash", &[]);
    let (_, p) = cli_json(&hub, &["project", "create", "Crash"]);
    let project = p["_id"].as_str().expect("project id").to_owned();
    let data = tempfile::tempdir().expect("tempdir");
    let n = 300;
    write_numbered(data.path(), n, |i| {
        (format!("b{i:03}.bin"), format!("blob {i}\n"), 256 * 1024)
    });
    let folder = data.path().to_str().expect("utf8");
    let blobs = root.path().join("uploaded-data").join(&project);
    let mut client = Command::new(bin())
        .args(["--hub", &hub.url, "--api-key", &hub.key, "--json", "upload"])
        .args(["--project", &project, folder])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill the hub once uploads are in full flow.
    let t = std::time::Instant::now();
    while std::fs::read_dir(&blobs).map_or(0, Iterator::count) < 40 {
        assert!(t.elapsed().as_secs() < 120, "the upload never got going");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    hub.kill();
    client.kill().expect("kill client");
    client.wait().expect("wait");

    let hub = ServeProcess::start(root.path(), "k-crash", &[]);
    // Consistent: every asset has its whole blob; no part of a blob is left; every file in the
    // project's folder is a reserved upload.
    let db = catalog(root.path());
    let mut st = db
        .prepare("SELECT blob_key, size, content_hash FROM assets WHERE deleted = 0")
        .expect("query");
    let assets: Vec<(String, u64, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (key, size, hash) in &assets {
        let bytes = std::fs::read(root.path().join(key)).expect("an asset without its blob");
        assert_eq!(bytes.len() as u64, *size, "{key}");
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), hash, "{key}");
    }
    for entry in std::fs::read_dir(&blobs).expect("blobs") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            !name.contains('#'),
            "a partial blob survived the restart: {name}"
        );
        let key = format!("uploaded-data/{project}/{name}");
        let reserved: i64 = db
            .query_row(
                "SELECT count(*) FROM reservations WHERE key = ?1",
                [&key],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(reserved, 1, "a file nobody reserved: {name}");
    }
    drop(st);
    drop(db);

    // The same upload again, against the restarted hub, ends with every file once.
    let (code, last) = cli_json(&hub, &["upload", "--project", &project, folder]);
    assert_eq!(code, 0, "{last}");
    let all = all_assets(&hub, &project);
    let ids: BTreeSet<&str> = all
        .iter()
        .map(|a| a["externalId"].as_str().expect("externalId"))
        .collect();
    assert_eq!((all.len(), ids.len()), (n, n));
}

#[tokio::test]
async fn the_same_content_twice_in_one_upload_is_two_assets_however_the_files_are_grouped() {
    let data = tempfile::tempdir().expect("tempdir");
    let files = write_numbered(data.path(), 300, |i| {
        (format!("f{i:03}.txt"), format!("file {i}\n"), 64)
    });
    // The last file holds the first one's bytes. With one upload at a time and each file
    // registered as it is done, the first is in the project before the contents of the last
    // group of files are looked up.
    std::fs::copy(&files["f000.txt"], &files["f299.txt"]).expect("copy");
    let (_root, _hub, client, project) = hub_with_project("Twice").await;
    let mut config = UploadConfig::new(project.id.clone());
    config.concurrency = 1;
    config.register_chunk = 1;
    let paths = [data.path().to_path_buf()];
    let (rec, cancel) = (Recorder::default(), CancellationToken::new());
    let run = || upload::upload(&client, &paths, &config, &rec, &cancel);
    let summary = run().await.expect("upload");
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(summary.uploaded.len(), 300);
    // Sent again, both are in the project already.
    let again = run().await.expect("upload again");
    assert_eq!((again.uploaded.len(), again.skipped.len()), (0, 300));
}

#[test]
fn a_silent_hub_is_given_up_on_after_the_timeout_and_retries_asked_for() {
    // A hub that takes connections and never answers (the kernel completes the handshakes).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", silent.local_addr().expect("addr"));
    let started = std::time::Instant::now();
    let out = cli(&[
        "--hub",
        &url,
        "--api-key",
        "k",
        "--timeout",
        "1",
        "--retries",
        "2",
        "--json",
        "project",
        "list",
    ]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a fatal error: {stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    // Three tries of 1 s and two short waits; the default would wait 120 s per try.
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    // The same from the environment.
    let out = Command::new(bin())
        .args(["--hub", &url, "--api-key", "k", "project", "list"])
        .env("ASSETDROP_TIMEOUT", "1")
        .env("ASSETDROP_RETRIES", "0")
        .output()
        .expect("run assetdrop");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
    for bad in [["--timeout", "0"], ["--timeout", "x"], ["--retries", "101"]] {
        let out = cli(&[
            "--hub",
            &url,
            "--api-key",
            "k",
            bad[0],
            bad[1],
            "project",
            "list",
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad[0]),
            "{bad:?}"
        );
    }
    drop(silent);
}

#[test]
fn control_characters_in_names_are_shown_escaped_on_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A name that would turn the terminal red and overwrite its own line.
    let name = "evil\u{1b}[31mred\rforged line.txt";
    let file = dir.path().join(name);
    std::fs::write(&file, b"plain text\n").expect("write");
    let raw = |out: &Output| {
        let text = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        assert!(
            !text.iter().any(|b| *b == 0x1b || *b == b'\r'),
            "a control character reached the terminal: {:?}",
            String::from_utf8_lossy(&text)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let probe = cli(&["probe", file.to_str().expect("utf8")]);
    assert!(raw(&probe).contains("evil\\u{1b}[31mred\\rforged line.txt"));

    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-escape", &[]);
    let (_, p) = cli_json(&hub, &["project", "create", "Names\u{1b}[2J"]);
    let project = p["_id"].as_str().expect("project id").to_owned();
    let base = ["--hub", &hub.url, "--api-key", &hub.key];
    let with = |args: &[&str]| cli(&[&base[..], args].concat());
    raw(&with(&[
        "upload",
        "--project",
        &project,
        file.to_str().expect("utf8"),
    ]));
    let listed = raw(&with(&["assets", "list", "--project", &project]));
    assert!(
        listed.contains("evil\\u{1b}[31mred\\rforged line.txt"),
        "{listed}"
    );
    let projects = raw(&with(&["project", "list"]));
    assert!(projects.contains("Names\\u{1b}[2J"), "{projects}");
    // JSON keeps the name as it is: it is escaped by JSON itself.
    let (_, v) = cli_json(&hub, &["assets", "list", "--project", &project]);
    assert_eq!(v["assets"][0]["externalId"], name);
}

/// A fix chosen for one file (convert this VBR MP3) applies to that file alone: the upload's
/// policy still refuses the other one, and the converted file is shown converting, then sent,
/// then an asset.
#[tokio::test]
async fn a_per_file_audio_policy_converts_that_file_only() {
    let fixtures = generated("make_media_fixtures.sh");
    let work = tempfile::tempdir().expect("tempdir");
    let (a, b) = (work.path().join("a.mp3"), work.path().join("b.mp3"));
    std::fs::copy(fixtures.join("bad/vbr.mp3"), &a).expect("copy");
    std::fs::copy(fixtures.join("bad/vbr.mp3"), &b).expect("copy");
    let (_root, _hub, client, project) = hub_with_project("Per file").await;
    let config = UploadConfig::new(project.id.clone());
    let planned = |path: &Path, audio| upload::PlannedFile {
        path: path.to_path_buf(),
        external_id: path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned(),
        size: std::fs::metadata(path).expect("size").len(),
        audio,
    };
    let plan = upload::Plan {
        files: vec![
            planned(&a, Some(media::AudioPolicy::Convert)),
            planned(&b, None),
        ],
        ..upload::Plan::default()
    };
    let rec = Recorder::default();
    let summary = upload::upload_plan(&client, plan, &config, &rec, &CancellationToken::new())
        .await
        .expect("upload");
    rec.assert_invariants();
    assert_eq!(
        summary
            .uploaded
            .iter()
            .map(|u| u.path.clone())
            .collect::<Vec<_>>(),
        vec![a.clone()]
    );
    assert_eq!(
        summary
            .rejected
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>(),
        vec![b.clone()]
    );
    let steps: Vec<&str> = rec
        .events()
        .iter()
        .filter_map(|e| match e {
            UploadEvent::Converting { path } if *path == a => Some("converting"),
            UploadEvent::Started { path, .. } if *path == a => Some("started"),
            UploadEvent::Sent { path } if *path == a => Some("sent"),
            UploadEvent::Uploaded { path, .. } if *path == a => Some("uploaded"),
            _ => None,
        })
        .collect();
    assert_eq!(steps, ["converting", "started", "sent", "uploaded"]);
}
