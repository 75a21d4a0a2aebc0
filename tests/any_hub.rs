//! The same imports against both kinds of hub a user meets: our own (with its extensions) and
//! a strict stand-in of Ango Hub's documented API. Upload, cloud import and build, their
//! re-runs, a thousand files through injected faults, ten `kill -9`s: every file, entry and
//! row ends exactly once on both.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assetdrop::upload::{HubClient, RateLimit};
use serde_json::{json, Value};

use crate::support::ango::StandInConfig;
use crate::support::fault_proxy::{Fault, FaultConfig, FaultTally};
use crate::support::fixtures::{write_numbered, write_text_files};
use crate::support::hubs::{assert_every_file_once, Kind, TestHub};

fn list_len(report: &Value, key: &str) -> usize {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` in {report}"))
        .len()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// On the stand-in, the client kept to the documented API: the one probe for extensions was
/// the only request refused as unknown, nothing failed on the hub's side, and no request to
/// the store carried the API key.
fn assert_plain_api_only(hub: &TestHub) {
    if hub.kind != Kind::Ango {
        return;
    }
    let api = hub.standin().api_requests();
    let odd: Vec<String> = api
        .iter()
        .filter(|r| {
            let probe = r.status == 404 && r.path == "/v2/assetdrop";
            // 499: the client's connection was cut mid-body (an injected fault).
            let cut = r.status == 499;
            (r.status >= 400 && r.status != 429 && !probe && !cut) || r.path.contains("byContent")
        })
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect();
    assert!(odd.is_empty(), "requests off the documented API: {odd:?}");
    let store = hub.standin().store_requests();
    assert!(!store.is_empty(), "the uploads reached the store");
    let keyed: Vec<String> = store
        .iter()
        .filter(|r| {
            r.header("apikey").is_some()
                || r.headers.iter().any(|(_, v)| v.contains(&hub.key))
                || r.query.as_deref().is_some_and(|q| q.contains(&hub.key))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        keyed.is_empty(),
        "store requests carrying the API key: {keyed:?}"
    );
}

const TABLE: &str = "id,title,photo,batch\n\
r-1,First,https://example.com/1.png,rows\n\
r-2,Second & more,https://example.com/2.png,rows\n\
r-3,Third,https://example.com/3.png,\n";
const TEMPLATE: &str = "<h1>{{title}}</h1><img src=\"{{photo}}\">";
const CONFIG: &str = r#"{
  "name": "rows", "selectedExternalId": "id", "batchColumn": "batch",
  "dataConfig": {"id": {"type": "text"}, "title": {"type": "text"},
                 "photo": {"type": "image", "storage": "Public"}, "batch": {"type": "text"}}
}"#;

#[test]
fn upload_cloud_import_and_build_and_their_reruns_make_every_asset_once_on_both_hubs() {
    for kind in Kind::BOTH {
        let hub = TestHub::start(kind);
        let project = hub.project("Everything once");

        // Upload: a folder, into a batch created on the way.
        let folder = hub.scratch("drop");
        let mut files = write_text_files(&folder, "u", 11);
        std::fs::create_dir_all(folder.join("sub")).expect("mkdir");
        std::fs::write(folder.join("sub/deep.txt"), b"one level down\n").expect("write");
        files.insert("sub/deep.txt".into(), folder.join("sub/deep.txt"));
        let up = [
            "upload",
            "--project",
            &project,
            "--batch",
            "day1",
            "--create-batches",
            s(&folder),
        ];
        let (code, first) = hub.cli(&up);
        assert_eq!(code, 0, "{kind:?}: {first}");
        assert_eq!(
            list_len(&first, "uploaded"),
            files.len(),
            "{kind:?}: {first}"
        );
        assert_every_file_once(&hub, &project, &files);
        if kind == Kind::Ours {
            assert!(first["uploaded"][0]["assetId"].is_string(), "{first}");
        }

        // The same upload again: nothing sent, every file skipped.
        let (code, again) = hub.cli(&up);
        assert_eq!(code, 0, "{kind:?}: {again}");
        assert_eq!(list_len(&again, "uploaded"), 0, "{kind:?}: {again}");
        assert_eq!(
            list_len(&again, "skipped"),
            files.len(),
            "{kind:?}: {again}"
        );
        assert_eq!(hub.count(&project), files.len());

        // A copy under another name is the same content: skipped, naming the original.
        let copies = hub.scratch("copies");
        std::fs::copy(&files["u0003.txt"], copies.join("renamed.txt")).expect("copy");
        let (code, copy) = hub.cli(&["upload", "--project", &project, s(&copies)]);
        assert_eq!(code, 0, "{kind:?}: {copy}");
        assert_eq!(list_len(&copy, "skipped"), 1, "{kind:?}: {copy}");
        let reason = copy["skipped"][0]["reason"].as_str().expect("reason");
        assert!(reason.contains("\"u0003.txt\""), "{kind:?}: {reason}");
        assert_eq!(hub.count(&project), files.len());

        // Another computer (its own receipt) with a copy: our hub knows the content, whoever
        // sent it; Ango Hub cannot be asked, so only this computer's receipt could have known.
        let elsewhere = hub.scratch("elsewhere").join("receipts.sqlite");
        let mut other =
            hub.command_with_receipts(&elsewhere, &["upload", "--project", &project, s(&copies)]);
        let (code, theirs) = crate::support::hub::json_output(&other.output().expect("run"));
        assert_eq!(code, 0, "{kind:?}: {theirs}");
        let (uploaded, skipped) = (list_len(&theirs, "uploaded"), list_len(&theirs, "skipped"));
        let extra = match kind {
            Kind::Ours => {
                assert_eq!((uploaded, skipped), (0, 1), "{theirs}");
                0
            }
            Kind::Ango => {
                assert_eq!((uploaded, skipped), (1, 0), "{theirs}");
                1
            }
        };
        let files_len = files.len() + extra;
        assert_eq!(hub.count(&project), files_len);

        // Cloud import: public URLs, one entry naming a batch that is created on the way.
        let list = hub.scratch("cloud").join("list.json");
        let entries: Vec<Value> = (0..5)
            .map(|i| {
                let mut e = json!({"data": format!("https://example.com/c{i}.jpg"), "externalId": format!("c{i}")});
                if i == 0 {
                    e["batches"] = json!(["from-cloud"]);
                }
                e
            })
            .collect();
        std::fs::write(&list, serde_json::to_vec(&entries).expect("json")).expect("write");
        let cloud = [
            "cloud",
            "import",
            s(&list),
            "--project",
            &project,
            "--create-batches",
        ];
        let (code, imported) = hub.cli(&cloud);
        assert_eq!(code, 0, "{kind:?}: {imported}");
        assert_eq!(
            (imported["imported"].as_u64(), imported["created"].as_u64()),
            (Some(5), Some(5)),
            "{kind:?}: {imported}"
        );
        let (code, again) = hub.cli(&cloud);
        assert_eq!(code, 0, "{kind:?}: {again}");
        assert_eq!(
            (again["imported"].as_u64(), again["created"].as_u64()),
            (Some(5), Some(0)),
            "{kind:?}: {again}"
        );
        assert_eq!(hub.count(&project), files_len + 5);

        // Build: three rows, two of them into a batch the batch column names; the template is
        // saved on the project on the way.
        let dir = hub.scratch("build");
        for (name, text) in [("t.csv", TABLE), ("t.html", TEMPLATE), ("t.json", CONFIG)] {
            std::fs::write(dir.join(name), text).expect("write");
        }
        let (table, template, config) = (dir.join("t.csv"), dir.join("t.html"), dir.join("t.json"));
        let build = [
            "build",
            s(&table),
            "--project",
            &project,
            "--template",
            s(&template),
            "--config",
            s(&config),
        ];
        let mut first_build = build.to_vec();
        first_build.extend(["--save-as", "rows"]);
        let (code, built) = hub.cli(&first_build);
        assert_eq!(code, 0, "{kind:?}: {built}");
        assert_eq!(
            (
                built["summary"]["registered"].as_u64(),
                built["summary"]["created"].as_u64()
            ),
            (Some(3), Some(3)),
            "{kind:?}: {built}"
        );
        let (code, again) = hub.cli(&build);
        assert_eq!(code, 0, "{kind:?}: {again}");
        assert_eq!(
            (
                again["summary"]["registered"].as_u64(),
                again["summary"]["created"].as_u64()
            ),
            (Some(3), Some(0)),
            "{kind:?}: {again}"
        );

        // The hub says what it is; the receipt holds every item registered.
        let (code, info) = hub.cli(&["hub"]);
        assert_eq!(code, 0, "{info}");
        let expected_kind = if kind == Kind::Ango {
            "ango"
        } else {
            "assetdrop"
        };
        assert_eq!(info["kind"], expected_kind, "{info}");
        let (code, receipt) = hub.cli(&["receipt", "show", "--project", &project]);
        assert_eq!(code, 0, "{receipt}");
        assert_eq!(
            receipt["registered"],
            files.len() + 5 + 3,
            "{kind:?}: {receipt}"
        );
        assert_eq!(receipt["unsettled"], 0, "{kind:?}: {receipt}");

        // Everything once, each where it belongs.
        let stored = hub.stored(&project);
        let ids: BTreeSet<&str> = stored.iter().map(|a| a.external_id.as_str()).collect();
        assert_eq!(stored.len(), files_len + 5 + 3, "{kind:?}");
        assert_eq!(ids.len(), stored.len(), "{kind:?}: an external ID twice");
        for id in ["c0", "c4", "r-1", "r-3", "sub/deep.txt"] {
            assert!(ids.contains(id), "{kind:?}: {id} missing");
        }
        if kind == Kind::Ango {
            let names: BTreeSet<String> = hub
                .standin()
                .batches(&project)
                .into_iter()
                .map(|(_, n)| n)
                .collect();
            assert_eq!(
                names,
                ["day1", "from-cloud", "rows"].map(String::from).into(),
                "each batch made once"
            );
            assert_eq!(
                hub.standin().templates(&project).len(),
                1,
                "the template saved once"
            );
        }
        assert_plain_api_only(&hub);
    }
}

#[test]
fn a_thousand_files_through_twenty_percent_faults_end_as_exactly_a_thousand_assets_on_both_hubs() {
    for kind in Kind::BOTH {
        let started = Instant::now();
        let hub = TestHub::start_with(
            kind,
            Some(FaultConfig::spread(0.20, 0x0a55_e7d0)),
            StandInConfig::default(),
        );
        let project = hub.project("Faults");
        let data = hub.scratch("files");
        let n = 1000;
        let files = write_text_files(&data, "f", n);
        let upload = || {
            hub.cli(&[
                "upload",
                "--project",
                &project,
                "--concurrency",
                "16",
                s(&data),
            ])
        };

        let (code, first) = upload();
        let first_failed = list_len(&first, "failed");
        eprintln!(
            "{kind:?} first run: exit {code}, {} uploaded, {} skipped, {first_failed} failed after {:.1?}",
            list_len(&first, "uploaded"),
            list_len(&first, "skipped"),
            started.elapsed(),
        );
        assert_eq!(list_len(&first, "rejected"), 0, "{first}");
        assert_eq!(
            list_len(&first, "uploaded") + list_len(&first, "skipped") + first_failed,
            n,
            "every file has one outcome: {first}"
        );
        if code != 0 {
            // A file fails only when one request met a fault on every one of its tries. A user
            // whose upload ends so runs the same command again, and so does this test: what
            // must hold is the end state. Failures other than the network's mean a fault that
            // was not retried.
            let failed = first["failed"].as_array().expect("failed");
            assert!(
                failed.len() <= 3 && failed.iter().all(|f| f["error"]["code"] == "network"),
                "{kind:?}: the first run failed files that retries should have saved: {}",
                first["failed"]
            );
            let (code, again) = upload();
            assert_eq!(code, 0, "{kind:?}: the re-run: {again}");
        }
        hub.wait_idle();
        let data_urls = assert_every_file_once(&hub, &project, &files);
        assert_eq!(data_urls.len(), n, "{kind:?}: two assets share one blob");
        if code == 0 {
            // Nothing failed, so every blob stored is an asset's: none left over, none partial.
            assert_eq!(hub.blob_count(&project), n, "{kind:?}: blobs of no asset");
        }
        let tallies = hub.tallies();
        let requests: u64 = tallies.iter().map(|t| t.requests).sum();
        let faults: u64 = tallies.iter().map(FaultTally::total).sum();
        eprintln!(
            "{kind:?}: {} in {:.1?}",
            tallies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            started.elapsed()
        );
        for kind_of_fault in Fault::ALL {
            assert!(
                tallies.iter().map(|t| t.of(kind_of_fault)).sum::<u64>() > 0,
                "{kind:?}: no {kind_of_fault:?} was injected"
            );
        }
        let share = faults as f64 / requests as f64;
        assert!(
            (0.15..0.25).contains(&share),
            "{kind:?}: faults on {share:.3} of requests"
        );
        if kind == Kind::Ango {
            assert!(
                tallies[1].total() > 0,
                "the store met faults too: {}",
                tallies[1]
            );
        }
        assert_plain_api_only(&hub);
    }
}

#[test]
fn cloud_entries_whose_registration_answers_are_lost_are_imported_once_on_both_hubs() {
    for kind in Kind::BOTH {
        // Most answers are cut after the hub acted on the request: exactly the case where a
        // blind re-send makes a second asset on a hub without upload IDs.
        let faults = FaultConfig {
            reset_mid_response: 0.45,
            reset_before_forwarding: 0.15,
            ..FaultConfig::none(0x10_57)
        };
        let hub = TestHub::start_with(kind, Some(faults), StandInConfig::default());
        let project = hub.project("Lost answers");
        let list = hub.scratch("cloud").join("list.json");
        let entries: Vec<Value> = (0..40)
            .map(|i| json!({"data": format!("https://example.com/{i}.jpg"), "externalId": format!("e{i}")}))
            .collect();
        std::fs::write(&list, serde_json::to_vec(&entries).expect("json")).expect("write");
        for round in 0..3 {
            // Small chunks, so many registrations meet the faults.
            let mut c = hub.command(&[
                "--retries",
                "30",
                "cloud",
                "import",
                s(&list),
                "--project",
                &project,
            ]);
            let out = c.output().expect("run");
            let (code, report) = crate::support::hub::json_output(&out);
            assert_eq!(code, 0, "{kind:?} round {round}: {report}");
            assert_eq!(report["imported"], 40, "{kind:?} round {round}: {report}");
            hub.wait_idle();
            let stored = hub.stored(&project);
            let ids: BTreeSet<&str> = stored.iter().map(|a| a.external_id.as_str()).collect();
            assert_eq!(
                stored.len(),
                40,
                "{kind:?} round {round}: {:?}",
                hub.tallies()
            );
            assert_eq!(ids.len(), 40, "{kind:?} round {round}");
        }
        assert!(hub.tallies()[0].of(Fault::ResetMidResponse) > 0);
    }
}

#[test]
fn ten_kills_of_the_client_then_a_rerun_end_with_every_file_once_on_both_hubs() {
    for kind in Kind::BOTH {
        let hub = TestHub::start(kind);
        let project = hub.project("Killed");
        let data = hub.scratch("files");
        // More files than one registration request holds (500), so a kill can land between two.
        let n = 1200;
        let files = write_numbered(&data, n, |i| {
            (format!("f{i:04}.txt"), format!("file {i}\n"), 4 * 1024)
        });
        let args = ["upload", "--project", &project, s(&data)];
        let run = || {
            hub.command(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn")
        };
        let mut moments = Vec::new();
        let mut killed_running = 0;
        for round in 0..10 {
            let mut child = run();
            if round == 4 {
                // One kill right after a registration request went through, mid-run.
                let start = hub.count(&project);
                let t = Instant::now();
                while hub.count(&project) == start && t.elapsed() < Duration::from_secs(60) {
                    if child.try_wait().expect("try_wait").is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                moments.push(t.elapsed().as_millis() as u64);
            } else {
                // The stand-in answers faster than our hub (nothing to hash or store on disk):
                // kills come sooner to land mid-run.
                let latest = if kind == Kind::Ango { 600 } else { 1500 };
                let ms = rand::random_range(30..latest);
                moments.push(ms);
                std::thread::sleep(Duration::from_millis(ms));
            }
            if child.try_wait().expect("try_wait").is_none() {
                killed_running += 1;
            }
            child.kill().expect("SIGKILL"); // SIGKILL on Unix: no clean-up runs
            child.wait().expect("wait");
        }
        let before = hub.count(&project);
        eprintln!(
            "{kind:?}: killed at {moments:?} ms ({killed_running} mid-run); {before} of {n} registered before the last run"
        );
        assert!(
            killed_running > 0,
            "every run ended before its kill: {moments:?}"
        );
        let (code, last) = hub.cli(&args);
        assert_eq!(code, 0, "{kind:?}: killed at {moments:?} ms: {last}");
        assert_every_file_once(&hub, &project, &files);
        // What the last run did plus what was there: every file exactly once.
        let sent = list_len(&last, "uploaded");
        let skipped = list_len(&last, "skipped");
        assert_eq!(sent + skipped, n, "{kind:?}: {last}");
        assert_eq!(
            skipped, before,
            "{kind:?}: the last run skips exactly what was registered"
        );
        assert_plain_api_only(&hub);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_keeps_to_a_hubs_rate_limit_and_waits_out_a_429() {
    let window = Duration::from_secs(1);
    let hub = TestHub::start_with(
        Kind::Ango,
        None,
        StandInConfig {
            rate_limit: Some((10, window)),
            ..StandInConfig::default()
        },
    );
    let project = hub.project("Paced");
    // Paced to the hub's limit: 35 calls, not one refused.
    let paced = HubClient::new(&hub.url, &hub.key)
        .expect("client")
        // A little slower than the hub's window, so a request's trip never makes it look early.
        .with_rate_limit(RateLimit::Fixed(10, window + Duration::from_millis(200)));
    for _ in 0..35 {
        paced.project(&project).await.expect("a paced call");
    }
    let refused = |h: &TestHub| {
        h.standin()
            .api_requests()
            .iter()
            .filter(|r| r.status == 429)
            .count()
    };
    assert_eq!(refused(&hub), 0, "a paced client met the limit");
    // Unpaced: the hub's 429s (with Retry-After) are waited out, and every call succeeds.
    let eager = HubClient::new(&hub.url, &hub.key)
        .expect("client")
        .with_rate_limit(RateLimit::Off);
    for _ in 0..25 {
        eager
            .project(&project)
            .await
            .expect("a call after waiting out 429s");
    }
    assert!(refused(&hub) > 0, "the eager client was never refused");
    // On a plain Ango hub the documented limit is the default.
    let default = HubClient::new(&hub.url, &hub.key).expect("client");
    assert_eq!(
        default.hub().await.expect("hub"),
        &assetdrop::upload::Hub::Ango
    );
}

/// A listener on 127.0.0.1 that answers every request with `answer(request head)` and keeps
/// the heads it got. Serves until the test ends.
fn listener(
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (seen, answer) = (seen.clone(), answer.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                loop {
                    let mut head = String::new();
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        let end = line == "\r\n";
                        head.push_str(&line);
                        if end {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply = answer(&head);
                    seen.lock().expect("lock").push(head);
                    if conn.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, heads)
}

fn reply(status: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_and_the_bytes_never_follow_a_redirect_to_another_host() {
    // Another host that would happily take whatever it is sent.
    let (elsewhere, reached) = listener(|_| {
        reply(
            "200 OK",
            "",
            r#"{"status":"success","data":{"project":{"_id":"p","name":"x"}}}"#,
        )
    });
    // A hub that sends one route elsewhere and another to itself.
    let target = elsewhere.clone();
    let (hub_url, hub_heads) = listener(move |head| {
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if path.starts_with("/v2/project/away") || path.starts_with("/upload") {
            let method = if path.starts_with("/upload") {
                "307 Temporary Redirect"
            } else {
                "302 Found"
            };
            reply(method, &format!("Location: {target}/v2/project/p\r\n"), "")
        } else if path.starts_with("/v2/project/moved") {
            reply(
                "301 Moved Permanently",
                "Location: /v2/project/here\r\n",
                "",
            )
        } else {
            reply(
                "200 OK",
                "",
                r#"{"status":"success","data":{"project":{"_id":"here","name":"same host"}}}"#,
            )
        }
    });
    let client = HubClient::new(&hub_url, "the-secret-key")
        .expect("client")
        .with_rate_limit(RateLimit::Off);

    // Within the hub's own origin a redirect is followed, with the key.
    let same = client.project("moved").await.expect("a same-host redirect");
    assert_eq!(same.id, "here");
    // To another host: not followed.
    let e = client
        .project("away")
        .await
        .expect_err("a redirect elsewhere");
    assert!(e.message.contains("302"), "{}", e.message);
    // A signed upload URL that redirects: the bytes stay here.
    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), b"private bytes").expect("write");
    let e = client
        .put_file(
            &format!("{hub_url}/upload?sig=1"),
            file.path(),
            std::sync::Arc::new(|_| {}),
        )
        .await
        .expect_err("an upload redirected elsewhere");
    assert!(e.message.contains("307"), "{}", e.message);

    assert!(
        reached.lock().expect("lock").is_empty(),
        "another host was reached: {:?}",
        reached.lock().expect("lock")
    );
    let heads = hub_heads.lock().expect("lock");
    let put = heads
        .iter()
        .find(|h| h.starts_with("PUT "))
        .expect("the PUT");
    assert!(
        !put.to_ascii_lowercase().contains("apikey"),
        "the upload carried the key: {put}"
    );
    assert!(heads
        .iter()
        .filter(|h| h.starts_with("GET "))
        .all(|h| h.to_ascii_lowercase().contains("apikey: the-secret-key")));
}

#[test]
fn an_unusable_receipt_stops_imports_only_where_it_is_needed() {
    for kind in Kind::BOTH {
        let hub = TestHub::start(kind);
        let project = hub.project("No receipt");
        let folder = hub.scratch("files");
        std::fs::write(folder.join("a.txt"), b"a file\n").expect("write");
        // A receipt "inside" a regular file cannot be made.
        let blocker = hub.scratch("blocked").join("not-a-folder");
        std::fs::write(&blocker, b"x").expect("write");
        let receipt = blocker.join("receipts.sqlite");
        let out = hub
            .command_with_receipts(&receipt, &["upload", "--project", &project, s(&folder)])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        match kind {
            // Our hub keeps uploads exactly once by itself: the upload goes on.
            Kind::Ours => {
                assert_eq!(out.status.code(), Some(0), "{stderr}");
                assert_eq!(hub.count(&project), 1);
            }
            // Ango Hub cannot: nothing is sent, and the message names the file.
            Kind::Ango => {
                assert_eq!(out.status.code(), Some(2), "{stderr}");
                assert!(stderr.contains("not-a-folder"), "{stderr}");
                assert_eq!(hub.count(&project), 0);
            }
        }
    }
}
