//! `assetdrop cloud import` against a real hub process: all-or-nothing by default, good entries
//! with `--skip-bad`, nothing twice on a re-run, URL checks before anything is imported.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::hub::{bin, ServeProcess};

fn run(hub: &ServeProcess, args: &[&str]) -> (i32, Value) {
    let out = Command::new(bin())
        .args(["--hub", &hub.url, "--api-key", &hub.key, "--json"])
        .args(args)
        .output()
        .expect("run assetdrop");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("code"), v)
}

fn total(hub: &ServeProcess, project: &str) -> u64 {
    let (_, v) = run(
        hub,
        &["assets", "list", "--project", project, "--limit", "1000"],
    );
    v["total"].as_u64().expect("total")
}

fn codes(report: &Value) -> Vec<(Option<u64>, String)> {
    report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["index"].as_u64(),
                p["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

#[test]
fn bad_entries_stop_the_import_unless_skipped_and_reruns_add_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-cloud", &[]);
    let (_, p) = run(&hub, &["project", "create", "Cloud"]);
    let project = p["_id"].as_str().expect("id").to_owned();
    let file = root.path().join("list.json");
    std::fs::write(
        &file,
        "[\n  {\"data\": \"https://example.com/cat.jpg\", \"externalId\": \"cat\", \"metadata\": {\"width\": 10, \"height\": 20}, \"contextData\": {\"k\": \"v\"}},\n  {\"data\": \"https://example.com/a b.jpg\", \"externalId\": \"spaced\"},\n  {\"externalId\": \"nodata\"},\n  {\"data\": \"<h1>Hello</h1>\", \"externalId\": \"inline\", \"batches\": [\"b1\"]}\n]\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf8");

    // Default: errors are reported with index, line and column; nothing is imported.
    let (code, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            f,
            "--project",
            &project,
            "--create-batches",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        codes(&report),
        vec![
            (Some(1), "url-not-encoded".into()),
            (Some(2), "missing-data".into())
        ]
    );
    let first = &report["problems"][0];
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(first["fix"]["replacement"], "https://example.com/a%20b.jpg");
    assert_eq!(report["imported"], 0);
    assert_eq!(total(&hub, &project), 0);

    // A dry run with --skip-bad still imports nothing.
    let (_, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            f,
            "--project",
            &project,
            "--skip-bad",
            "--create-batches",
            "--dry-run",
        ],
    );
    assert_eq!(report["dryRun"], true);
    assert_eq!(total(&hub, &project), 0);

    // --skip-bad imports the good entries, with their fields and batches.
    let (code, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            f,
            "--project",
            &project,
            "--skip-bad",
            "--create-batches",
        ],
    );
    assert_eq!(code, 1, "some entries were not imported");
    assert_eq!(
        (
            report["imported"].as_u64(),
            report["created"].as_u64(),
            report["notImported"].as_u64()
        ),
        (Some(2), Some(2), Some(2))
    );
    let (_, assets) = run(&hub, &["assets", "list", "--project", &project]);
    let cat = &assets["assets"][0];
    assert_eq!(cat["externalId"], "cat");
    assert_eq!(cat["data"], "https://example.com/cat.jpg");
    assert_eq!(cat["metadata"], json!({"width": 10, "height": 20}));
    assert_eq!(cat["contextData"], json!({"k": "v"}));
    assert_eq!(assets["assets"][1]["kind"], "html");
    assert_eq!(
        assets["assets"][1]["batches"]
            .as_array()
            .expect("batches")
            .len(),
        1
    );

    // The same file again: nothing twice; duplicates against the project are warned about.
    let (_, report) = run(
        &hub,
        &["cloud", "import", f, "--project", &project, "--skip-bad"],
    );
    assert_eq!(report["created"], 0);
    assert!(codes(&report).contains(&(Some(0), "existing-external-id".into())));
    assert_eq!(total(&hub, &project), 2);
    // ... or skipped on request.
    let (_, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            f,
            "--project",
            &project,
            "--skip-bad",
            "--skip-duplicates",
        ],
    );
    assert_eq!(report["imported"], 0);
    assert_eq!(total(&hub, &project), 2);

    // Missing batches without --create-batches: refused before anything is imported.
    let other = root.path().join("batch.json");
    std::fs::write(
        &other,
        r#"[{"data": "https://example.com/x.png", "externalId": "x", "batches": ["nope"]}]"#,
    )
    .expect("write");
    let out = Command::new(bin())
        .args([
            "--hub",
            &hub.url,
            "--api-key",
            &hub.key,
            "cloud",
            "import",
            other.to_str().expect("utf8"),
            "--project",
            &project,
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    // A dry run reports it instead, at the entry, beside every other problem.
    let (code, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            other.to_str().expect("utf8"),
            "--project",
            &project,
            "--dry-run",
        ],
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["dryRun"], true);
    let missing: Vec<&Value> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter(|p| p["code"] == "missing-batch")
        .collect();
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(
        (
            &missing[0]["index"],
            &missing[0]["line"],
            &missing[0]["field"]
        ),
        (&json!(0), &json!(1), &json!("batches"))
    );
    assert!(missing[0]["message"]
        .as_str()
        .expect("message")
        .contains("\"nope\""));
    assert_eq!(total(&hub, &project), 2, "a dry run imports nothing");
}

#[test]
fn a_rerun_names_the_first_entries_already_there_and_counts_the_rest() {
    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-rerun", &[]);
    let (_, p) = run(&hub, &["project", "create", "Again"]);
    let project = p["_id"].as_str().expect("id").to_owned();
    let n = 300;
    let entries: Vec<Value> = (0..n)
        .map(|i| json!({"data": format!("https://example.com/img/{i}.jpg"), "externalId": format!("img-{i}.jpg")}))
        .collect();
    let file = root.path().join("many.json");
    std::fs::write(&file, serde_json::to_string(&entries).expect("json")).expect("write");
    let f = file.to_str().expect("utf8");
    let import = ["cloud", "import", f, "--project", &project];

    let (code, report) = run(&hub, &import);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        (
            report["created"].as_u64(),
            report["problems"].as_array().map(Vec::len)
        ),
        (Some(n), Some(0))
    );
    assert_eq!(report["summarised"], json!([]));

    // Again: every entry is already there. The report names 20 and counts the rest, in JSON ...
    let (code, report) = run(&hub, &import);
    assert_eq!(code, 0, "warnings only: {report}");
    assert_eq!(
        (report["imported"].as_u64(), report["created"].as_u64()),
        (Some(n), Some(0))
    );
    let named = codes(&report);
    assert_eq!(named.len(), 20, "{report}");
    assert!(named
        .iter()
        .enumerate()
        .all(|(i, (index, code))| *index == Some(i as u64) && code == "existing-external-id"));
    assert_eq!(
        report["summarised"],
        json!([{"code": "existing-external-id", "severity": "warning", "total": n, "named": 20}])
    );
    assert_eq!(report["summary"]["warnings"], n);

    // ... and as text, where --report writes every problem to a file, one JSON object a line.
    let every = root.path().join("problems.jsonl");
    let out = Command::new(bin())
        .args(["--hub", &hub.url, "--api-key", &hub.key])
        .args(import)
        .args(["--report", every.to_str().expect("utf8")])
        .output()
        .expect("run assetdrop");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 20 + 2, "{text}");
    assert!(
        lines[..20]
            .iter()
            .all(|l| l.contains("[existing-external-id]")),
        "{text}"
    );
    assert!(
        lines[20].ends_with(&format!(
            "{n} entries already in the project (their externalId is taken: existing-external-id warnings); the first 20 are named above, every one is in {}",
            every.display()
        )),
        "{text}"
    );
    assert!(
        lines[21].starts_with(&format!("{n} assets imported (0 new)")),
        "{text}"
    );
    let written = std::fs::read_to_string(&every).expect("problem report");
    let problems: Vec<Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect();
    assert_eq!(problems.len(), n as usize);
    assert!(problems.iter().enumerate().all(|(i, p)| p["index"] == i
        && p["code"] == "existing-external-id"
        && p["line"].as_u64().is_some()
        && p["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("img-{i}.jpg")))));

    // Errors are summarised the same way, and still stop the import.
    let bad: Vec<Value> = (0..100)
        .map(|i| json!({"data": format!("https://example.com/a b {i}.jpg"), "externalId": format!("bad-{i}")}))
        .collect();
    let bad_file = root.path().join("bad.json");
    std::fs::write(&bad_file, serde_json::to_string(&bad).expect("json")).expect("write");
    let (code, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            bad_file.to_str().expect("utf8"),
            "--project",
            &project,
        ],
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["imported"], 0);
    assert_eq!(codes(&report).len(), 20);
    assert_eq!(
        report["summarised"],
        json!([{"code": "url-not-encoded", "severity": "error", "total": 100, "named": 20}])
    );
    let out = Command::new(bin())
        .args(["--hub", &hub.url, "--api-key", &hub.key])
        .args([
            "cloud",
            "import",
            bad_file.to_str().expect("utf8"),
            "--project",
            &project,
        ])
        .output()
        .expect("run assetdrop");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("100 url-not-encoded errors; the first 20 are named above, --report FILE writes every one"), "{text}");
    assert!(text.contains("nothing imported: 100 errors"), "{text}");
    assert_eq!(total(&hub, &project), n);
}

#[test]
fn checks_find_unreachable_urls_before_importing() {
    let root = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(root.path(), "k-check", &[]);
    let (_, p) = run(&hub, &["project", "create", "Checked"]);
    let project = p["_id"].as_str().expect("id").to_owned();
    // A reachable PNG: uploaded to the hub itself, read back through a signed URL.
    let png = root.path().join("dot.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82").expect("png");
    let (code, up) = run(
        &hub,
        &["upload", "--project", &project, png.to_str().expect("utf8")],
    );
    assert_eq!(code, 0, "{up}");
    let (_, assets) = run(&hub, &["assets", "list", "--project", &project]);
    let data = assets["assets"][0]["data"]
        .as_str()
        .expect("data")
        .to_owned();
    let signed: Value = signed::url_for(&hub, &data);
    let good = signed.as_str().expect("signed url").to_owned();
    let list = root.path().join("check.json");
    std::fs::write(
        &list,
        serde_json::to_string(&json!([
            {"data": good, "externalId": "good.png"},
            {"data": "http://127.0.0.1:9/missing.png", "externalId": "closed-port.png"}
        ]))
        .expect("json"),
    )
    .expect("write");
    let (code, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            list.to_str().expect("utf8"),
            "--project",
            &project,
            "--check",
            "--check-private",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(codes(&report), vec![(Some(1), "unreachable".into())]);
    assert_eq!(
        total(&hub, &project),
        1,
        "nothing imported while an entry is bad"
    );
    let (_, report) = run(
        &hub,
        &[
            "cloud",
            "import",
            list.to_str().expect("utf8"),
            "--project",
            &project,
            "--check",
            "--check-private",
            "--skip-bad",
        ],
    );
    assert_eq!(report["imported"], 1);
    assert_eq!(total(&hub, &project), 2);
}

mod signed {
    //! A signed GET URL for a hub file, through the API.
    use serde_json::Value;

    use crate::support::hub::ServeProcess;

    pub fn url_for(hub: &ServeProcess, data: &str) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            let client = assetdrop::upload::HubClient::new(&hub.url, &hub.key).expect("client");
            Value::String(client.signed_url(data).await.expect("signed"))
        })
    }
}
