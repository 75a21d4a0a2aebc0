//! The cloud-import reader and checker end to end: a file with every field round-trips through
//! `to_wire()`, each file of the malformed corpus (`tests/data/cloud/README.md`) gets its
//! specific codes at the right index and line:column, good entries come out beside bad ones,
//! huge and deep entries are refused without holding them, a million entries stream, and URLs
//! are checked against a real HTTP server on 127.0.0.1.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assetdrop::cloud::check::{ProbeMethod, Target};
use assetdrop::cloud::{
    read_path, CheckConfig, Checker, CloudAsset, CloudReader, Data, DuplicatePolicy, EditorType,
    Entry, ProblemCode, ReadConfig, Severity,
};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cloud")
        .join(name)
}

fn read(path: &Path, config: ReadConfig) -> Vec<Entry> {
    CloudReader::open(path, config)
        .expect("open corpus file")
        .collect()
}

/// Every problem as `index line:column severity code field`, in file order.
fn problems_with(name: &str, config: ReadConfig) -> Vec<String> {
    read(&data(name), config)
        .iter()
        .flat_map(|e| e.problems.iter())
        .map(|p| {
            let index = p.index.map_or("-".to_owned(), |i| i.to_string());
            let severity = match p.severity {
                Severity::Error => "E",
                Severity::Warning => "W",
            };
            let field = p.field.as_deref().unwrap_or("");
            format!(
                "{index} {}:{} {severity} {} {field}",
                p.line, p.column, p.code
            )
            .trim_end()
            .to_owned()
        })
        .collect()
}

fn problems(name: &str) -> Vec<String> {
    problems_with(name, ReadConfig::default())
}

/// The indexes of the entries that gave assets.
fn good(name: &str) -> Vec<usize> {
    read(&data(name), ReadConfig::default())
        .into_iter()
        .filter(|e| e.asset.is_some())
        .filter_map(|e| e.index)
        .collect()
}

#[test]
fn a_file_with_every_field_round_trips_through_to_wire() {
    let path = data("valid_all_fields.json");
    let report = read_path(&path, ReadConfig::default()).unwrap();
    assert_eq!(report.problems, []);
    assert_eq!(report.summary.entries, 6);
    assert_eq!(report.summary.valid, 6);
    let original: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for ((i, asset), entry) in report.assets.iter().zip(&original) {
        assert_eq!(&asset.to_wire(), entry, "entry {i}");
    }

    // The domain side: our own words, not Ango's.
    let a = &report.assets;
    assert_eq!(
        a[0].1.data,
        Some(Data::Url("https://host.example/img/cat%201.jpg".into()))
    );
    assert_eq!(
        (a[0].1.metadata.width, a[0].1.metadata.height),
        (Some(640), Some(480))
    );
    assert_eq!(a[0].1.metadata.other["category"], "cat");
    assert_eq!(a[0].1.context["source"], "camera 2");
    assert_eq!(a[0].1.batches, ["Batch 1", "65f0c0ffee0000000000abcd"]);
    assert_eq!(a[0].1.attachments.len(), 4);
    assert_eq!(a[0].1.classifications[1].other["tool"], "checkbox");
    assert_eq!(a[1].1.metadata.frame_rate, Some(29.97));
    assert_eq!(a[1].1.storage.as_deref(), Some("6630a1b2c3d4e5f601234567"));
    assert_eq!(a[2].1.pages.len(), 3);
    assert!(a[2].1.data.is_none());
    assert!(a[3].1.data.as_ref().unwrap().is_html());
    assert!(matches!(a[4].1.data, Some(Data::Inline(_))));
    assert_eq!(a[5].1.editor, Some(EditorType::PointCloud));
    assert!(matches!(a[5].1.data, Some(Data::StoragePath(_))));

    // And back: what to_wire writes reads as the same assets.
    let wire = Value::Array(a.iter().map(|(_, x)| x.to_wire()).collect());
    let again: Vec<CloudAsset> =
        CloudReader::new(wire.to_string().as_bytes(), ReadConfig::default())
            .map(|e| e.asset.unwrap())
            .collect();
    let first: Vec<CloudAsset> = a.iter().map(|(_, x)| x.clone()).collect();
    assert_eq!(again, first);
}

#[tokio::test]
async fn the_hub_takes_what_to_wire_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = assetdrop::hub::HubConfig::new(dir.path());
    config.api_key = Some("cloud-key".into());
    let hub = crate::support::hub::in_process(config).await;
    let client = assetdrop::upload::HubClient::new(&hub.url, &hub.api_key).unwrap();
    let project = client.create_project("cloud", "").await.unwrap();
    client.create_batch(&project.id, "Books").await.unwrap();
    client.create_batch(&project.id, "Batch 1").await.unwrap();
    let report = read_path(&data("valid_all_fields.json"), ReadConfig::default()).unwrap();
    // The entries in a storage integration need one registered on the hub; the rest go in.
    let wire: Vec<Value> = report
        .assets
        .iter()
        .filter(|(_, a)| a.storage.is_none())
        .map(|(_, a)| {
            let mut w = a.to_wire();
            // The second batch of entry 0 is an ID of another hub.
            if let Some(b) = w["batches"].as_array_mut() {
                b.truncate(1);
            }
            w
        })
        .collect();
    assert_eq!(wire.len(), 4);
    let registered = client
        .register(&project.id, &wire, &[], false, 0)
        .await
        .unwrap();
    assert_eq!(registered.created, Some(4));
    hub.shutdown().await.unwrap();
}

#[test]
fn top_level_sizes_go_into_metadata_on_the_wire() {
    let entries = read(&data("sizes.json"), ReadConfig::default());
    let wire = entries[0].asset.as_ref().unwrap().to_wire();
    assert_eq!(
        wire,
        serde_json::json!({"data": "https://host.example/a.jpg", "externalId": "top-level",
                           "metadata": {"width": 640, "height": 480}})
    );
    assert_eq!(
        entries[1].asset.as_ref().unwrap().metadata.width,
        Some(800),
        "metadata wins"
    );
}

#[test]
fn the_malformed_corpus_gets_specific_codes_at_the_right_place() {
    let cases: &[(&str, &[&str])] = &[
        ("empty_file.json", &["- 1:1 E empty-file"]),
        ("empty_array.json", &["- 2:1 E empty-array"]),
        ("not_array.json", &["- 1:1 E not-array"]),
        ("json_lines.json", &["- 1:1 E not-array"]),
        ("truncated.json", &["2 5:1 E truncated"]),
        ("trailing_garbage.json", &["- 4:1 E trailing-garbage"]),
        (
            "not_objects.json",
            &[
                "0 1:2 E not-object",
                "1 1:32 E not-object",
                "2 1:36 E not-object",
                "3 1:42 E not-object",
            ],
        ),
        ("deeply_nested.json", &["1 3:3 E too-deep"]),
        ("not_utf8.json", &["1 3:60 E not-utf8"]),
        (
            "invalid_json.json",
            &[
                "0 2:56 E invalid-json",
                "- 4:3 E invalid-json",
                "3 5:4 E invalid-json",
                "4 6:60 E invalid-json",
                "- 8:1 W trailing-comma",
            ],
        ),
        (
            "wrong_types.json",
            &[
                "0 2:3 E wrong-type data",
                "1 3:3 E wrong-type externalId",
                "2 4:3 E wrong-type metadata",
                "3 5:3 E wrong-type metadata.width",
                "4 6:3 E wrong-type metadata.frameRate",
                "5 7:3 E wrong-type batches",
                "6 8:3 E wrong-type contextData",
                "7 9:3 E wrong-type attachments",
                "8 10:3 E wrong-type storage",
                "9 11:3 E wrong-type dataset",
                "10 12:3 E wrong-type classifications",
                "11 13:3 E wrong-type editorType",
            ],
        ),
        (
            "missing_fields.json",
            &[
                "0 2:3 E missing-data data",
                "1 3:3 E missing-external-id externalId",
                "2 4:3 E missing-data data",
                "3 5:3 E missing-external-id externalId",
                "3 5:3 E missing-data data",
                "3 5:3 W unknown-field url",
                "3 5:3 W unknown-field externalID",
                "4 6:3 E missing-field attachments[0].value",
                "5 7:3 E missing-field classifications[0].schemaId",
            ],
        ),
        (
            "bad_urls.json",
            &[
                "0 2:3 E bad-url data",
                "1 3:3 E unsupported-scheme data",
                "2 4:3 E unsupported-scheme data",
                "3 5:3 E bad-url data",
                "4 6:3 E bad-url data",
                "5 7:3 W url-has-credentials data",
                "6 8:3 E empty-dataset dataset",
                "7 9:3 E bad-url dataset[1]",
                "7 9:3 E wrong-type dataset[2]",
                "8 10:3 E bad-url attachments[0].value",
            ],
        ),
        (
            "unencoded.json",
            &[
                "0 2:3 E url-not-encoded data",
                "1 3:3 W url-plus data",
                "2 4:3 E url-not-encoded data",
                "3 5:3 E url-not-encoded data",
                "4 6:3 W url-not-utf8 data",
                "5 7:3 E url-not-encoded dataset[0]",
            ],
        ),
        (
            "duplicates.json",
            &[
                "2 4:3 W duplicate-external-id externalId",
                "4 6:3 W duplicate-external-id externalId",
            ],
        ),
        (
            "unknown_fields.json",
            &[
                "0 2:3 W unknown-field metadata.fps",
                "0 2:3 W unknown-field frame_rate",
                "0 2:3 W unknown-field colour",
            ],
        ),
        (
            "inline.json",
            &[
                "0 2:3 W inline-not-flat data",
                "1 3:3 W inline-not-flat data",
            ],
        ),
        (
            "sizes.json",
            &[
                "1 3:3 W conflicting-size width",
                "2 4:3 E bad-value metadata.width",
                "2 4:3 E bad-value metadata.height",
                "3 5:3 E bad-value metadata.frameRate",
            ],
        ),
        (
            "attachments.json",
            &[
                "0 2:3 E unknown-attachment-type attachments[0].type",
                "1 3:3 E unknown-attachment-type attachments[0].type",
                "2 4:3 W unknown-field attachments[0].lang",
            ],
        ),
        (
            "warnings.json",
            &[
                "0 2:3 W data-and-dataset dataset",
                "1 3:3 W empty-external-id externalId",
                "2 4:3 W unknown-editor-type editorType",
                "3 5:3 W dataset-not-image dataset[1]",
            ],
        ),
    ];
    for (name, want) in cases {
        assert_eq!(problems(name), *want, "{name}");
    }
    // The README lists every corpus file.
    let readme = std::fs::read_to_string(data("README.md")).unwrap();
    for entry in std::fs::read_dir(data("")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if Path::new(&name).extension().is_some_and(|x| x == "json") {
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not in the README"
            );
        }
    }
}

#[test]
fn messages_say_how_to_fix_it_and_offer_the_fixed_url() {
    let entries = read(&data("unencoded.json"), ReadConfig::default());
    let space = &entries[0].problems[0];
    assert!(space.message.contains("a space"), "{}", space.message);
    assert!(
        space.message.contains("https://host.example/my%20cat.jpg"),
        "{}",
        space.message
    );
    let fix = space.fix.as_ref().unwrap();
    assert_eq!(
        (fix.field.as_str(), fix.replacement.as_str()),
        ("data", "https://host.example/my%20cat.jpg")
    );
    let plus = &entries[1].problems[0];
    assert_eq!(
        plus.fix.as_ref().unwrap().replacement,
        "https://host.example/my%20cat.jpg"
    );
    // The `+` warning's fix, applied by a caller who knows it stands for a space.
    let mut plus_asset = entries[1].asset.clone().unwrap();
    assert!(plus_asset.apply(plus.fix.as_ref().unwrap()));
    assert_eq!(
        plus_asset.to_wire()["data"],
        "https://host.example/my%20cat.jpg"
    );
    assert_eq!(
        entries[2].problems[0].fix.as_ref().unwrap().replacement,
        "https://host.example/caf%C3%A9.jpg"
    );
    assert_eq!(
        entries[3].problems[0].fix.as_ref().unwrap().replacement,
        "https://host.example/100%25.jpg"
    );
    assert_eq!(
        assetdrop::cloud::fix_url(
            "https://host.example/my cat.jpg",
            assetdrop::cloud::Plus::Keep
        )
        .as_deref(),
        Some("https://host.example/my%20cat.jpg")
    );

    let missing = read(&data("missing_fields.json"), ReadConfig::default());
    assert!(missing[3].problems[0]
        .message
        .contains("rename it to `externalId`"));
    let truncated = read(&data("truncated.json"), ReadConfig::default());
    let cut = &truncated[2].problems[0];
    assert!(
        cut.message.contains("starts at line 4 column 3"),
        "{}",
        cut.message
    );
    // Problems serialise as the CLI's report shows them.
    let json = serde_json::to_value(space).unwrap();
    assert_eq!(json["index"], 0);
    assert_eq!(json["line"], 2);
    assert_eq!(json["column"], 3);
    assert_eq!(json["severity"], "error");
    assert_eq!(json["code"], "url-not-encoded");
    let file_level = serde_json::to_value(
        &read(&data("empty_array.json"), ReadConfig::default())[0].problems[0],
    )
    .unwrap();
    assert_eq!(file_level["index"], Value::Null);
}

#[test]
fn good_entries_still_come_out_beside_bad_ones() {
    assert_eq!(good("mixed.json"), [0, 2, 5, 7]);
    assert_eq!(good("invalid_json.json"), [1, 2, 5]);
    assert_eq!(good("not_objects.json"), [4]);
    assert_eq!(good("truncated.json"), [0, 1]);
    assert_eq!(good("deeply_nested.json"), [0, 2]);
    assert_eq!(good("not_utf8.json"), [0]);
    assert_eq!(good("trailing_garbage.json"), [0]);
    assert_eq!(good("wrong_types.json"), Vec::<usize>::new());
    assert_eq!(good("warnings.json"), [0, 1, 2, 3]);

    let report = read_path(&data("mixed.json"), ReadConfig::default()).unwrap();
    let s = report.summary;
    assert_eq!((s.entries, s.valid, s.invalid, s.skipped), (8, 4, 4, 0));
    assert_eq!((s.errors, s.warnings), (4, 1));
    let ids: Vec<&str> = report
        .assets
        .iter()
        .map(|(_, a)| a.external_id.as_str())
        .collect();
    assert_eq!(ids, ["good-0", "good-2", "good-5", "good-7"]);
}

#[test]
fn duplicates_within_the_file_and_against_the_project() {
    let existing = ReadConfig::default().with_existing_ids(["already-there", "unused"]);
    assert_eq!(
        problems_with("duplicates.json", existing.clone()),
        [
            "2 4:3 W duplicate-external-id externalId",
            "3 5:3 W existing-external-id externalId",
            "4 6:3 W duplicate-external-id externalId",
        ]
    );
    // Skipping: only the first of each ID, and none the project has, come out.
    let entries = read(
        &data("duplicates.json"),
        existing.clone().with_duplicates(DuplicatePolicy::Skip),
    );
    let kept: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.asset.as_ref())
        .map(|a| a.external_id.as_str())
        .collect();
    assert_eq!(kept, ["cat", "dog"]);
    assert_eq!(
        entries.iter().map(|e| e.skipped).collect::<Vec<_>>(),
        [false, false, true, true, true]
    );
    assert!(entries.iter().all(|e| !e.has_errors()));
    // Refusing.
    assert_eq!(
        problems_with(
            "duplicates.json",
            existing.with_duplicates(DuplicatePolicy::Error)
        ),
        [
            "2 4:3 E duplicate-external-id externalId",
            "3 5:3 E existing-external-id externalId",
            "4 6:3 E duplicate-external-id externalId",
        ]
    );
}

#[test]
fn urls_are_fixed_on_request() {
    let config = ReadConfig {
        fix_urls: true,
        ..ReadConfig::default()
    };
    let entries = read(&data("unencoded.json"), config);
    assert!(entries.iter().all(|e| e.asset.is_some()));
    assert!(entries.iter().all(|e| !e.has_errors()));
    let wire: Vec<Value> = entries
        .iter()
        .map(|e| e.asset.as_ref().unwrap().to_wire())
        .collect();
    assert_eq!(wire[0]["data"], "https://host.example/my%20cat.jpg");
    assert_eq!(wire[2]["data"], "https://host.example/caf%C3%A9.jpg");
    assert_eq!(wire[3]["data"], "https://host.example/100%25.jpg");
    assert_eq!(wire[5]["dataset"][0], "https://host.example/p%201.png");
    // A `+` may be a real plus sign: it is reported, never changed on its own.
    assert_eq!(wire[1]["data"], "https://host.example/my+cat.jpg");
}

#[test]
fn a_huge_string_is_refused_without_stopping_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    {
        let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
        write!(w, "[\n  {{\"data\": \"<p>").unwrap();
        let chunk = "x".repeat(1 << 20);
        for _ in 0..20 {
            w.write_all(chunk.as_bytes()).unwrap();
        }
        writeln!(w, "</p>\", \"externalId\": \"huge\"}},").unwrap();
        // Under the limit: a 2 MiB inline page is fine.
        write!(w, "  {{\"data\": \"<p>").unwrap();
        w.write_all(&chunk.as_bytes()[..1 << 20]).unwrap();
        w.write_all(&chunk.as_bytes()[..1 << 20]).unwrap();
        writeln!(w, "</p>\", \"externalId\": \"big\"}},").unwrap();
        writeln!(
            w,
            "  {{\"data\": \"https://h/a.jpg\", \"externalId\": \"small\"}}\n]"
        )
        .unwrap();
    }
    let entries = read(&path, ReadConfig::default());
    assert_eq!(entries.len(), 3);
    let p = &entries[0].problems[0];
    assert_eq!(
        (p.index, p.line, p.column, p.code),
        (Some(0), 2, 3, ProblemCode::EntryTooLarge)
    );
    assert_eq!(entries[1].asset.as_ref().unwrap().external_id, "big");
    assert_eq!(
        (entries[2].index, entries[2].line),
        (Some(2), 4),
        "positions stay right after a skipped entry"
    );
    assert!(entries[2].asset.is_some());
}

#[test]
fn a_million_levels_of_nesting_are_refused_without_recursion() {
    let depth = 1_000_000;
    let mut text = String::with_capacity(2 * depth + 100);
    text.push_str(
        "[{\"data\": \"https://h/a.jpg\", \"externalId\": \"a\", \"contextData\": {\"k\": ",
    );
    text.push_str(&"[".repeat(depth));
    text.push_str(&"]".repeat(depth));
    text.push_str("}}, {\"data\": \"https://h/b.jpg\", \"externalId\": \"b\"}]");
    let entries: Vec<Entry> = CloudReader::new(text.as_bytes(), ReadConfig::default()).collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].problems[0].code, ProblemCode::TooDeep);
    assert!(entries[1].asset.is_some());
}

#[test]
fn a_million_entries_stream_with_the_right_counts() {
    const N: usize = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.json");
    {
        let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
        w.write_all(b"[\n").unwrap();
        for i in 0..N {
            let sep = if i + 1 == N { "" } else { "," };
            if i % 100_000 == 99_999 {
                // Ten bad ones: an unencoded space.
                writeln!(
                    w,
                    "{{\"data\":\"https://h/a {i}.jpg\",\"externalId\":\"{i}\"}}{sep}"
                )
                .unwrap();
            } else if i % 250_000 == 1 {
                // Four repeats of entry 0's ID.
                writeln!(
                    w,
                    "{{\"data\":\"https://h/{i}.jpg\",\"externalId\":\"0\"}}{sep}"
                )
                .unwrap();
            } else {
                writeln!(w, "{{\"data\":\"https://h/{i}.jpg\",\"externalId\":\"{i}\",\"metadata\":{{\"width\":64,\"height\":48}}}}{sep}").unwrap();
            }
        }
        w.write_all(b"]\n").unwrap();
    }
    let mut reader = CloudReader::open(&path, ReadConfig::default()).unwrap();
    let mut valid = 0;
    let mut bad_lines = Vec::new();
    let mut last_index = None;
    for entry in reader.by_ref() {
        if entry.asset.is_some() {
            valid += 1;
        } else {
            bad_lines.push(entry.line);
        }
        assert_eq!(entry.line, entry.index.unwrap() as u64 + 2);
        last_index = entry.index;
    }
    let s = reader.summary();
    assert_eq!(s.entries, N);
    assert_eq!(valid, N - 10);
    assert_eq!(
        (s.valid, s.invalid, s.errors, s.warnings),
        (N - 10, 10, 10, 4)
    );
    assert_eq!(last_index, Some(N - 1));
    assert_eq!(bad_lines[0], 100_001);
}

// ---- checks before import, against a real server on 127.0.0.1 ---------------------------------

#[derive(Default)]
struct Seen {
    slow_hits: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    ranges: Mutex<Vec<String>>,
}

async fn serve() -> (String, Arc<Seen>) {
    fn typed(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
        ([(header::CONTENT_TYPE, content_type)], body)
    }
    async fn ranged(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> impl IntoResponse {
        ranged_as("image/png", &seen, &headers)
    }
    async fn ranged_page(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> impl IntoResponse {
        ranged_as("text/html", &seen, &headers)
    }
    fn ranged_as(
        content_type: &'static str,
        seen: &Seen,
        headers: &HeaderMap,
    ) -> axum::response::Response {
        let range = headers
            .get(header::RANGE)
            .map(|v| v.to_str().expect("ASCII Range header").to_owned());
        seen.ranges
            .lock()
            .expect("ranges lock")
            .push(range.clone().unwrap_or_default());
        match range.as_deref() {
            Some("bytes=0-0") => (
                StatusCode::PARTIAL_CONTENT,
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_RANGE, "bytes 0-0/1234"),
                ],
                &b"x"[..],
            )
                .into_response(),
            _ => ([(header::CONTENT_TYPE, content_type)], vec![0u8; 1234]).into_response(),
        }
    }
    async fn refuse_head() -> StatusCode {
        StatusCode::METHOD_NOT_ALLOWED
    }
    async fn slow(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
        seen.slow_hits.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3)).await;
        ([(header::CONTENT_TYPE, "image/jpeg")], &b"late"[..])
    }
    async fn gate(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(40)).await;
        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        ([(header::CONTENT_TYPE, "image/jpeg")], &b"jpeg"[..])
    }

    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route(
            "/img/ok.jpg",
            get(|| async { typed("image/jpeg", b"jpeg") }),
        )
        .route(
            "/img/login.jpg",
            get(|| async { typed("text/html; charset=utf-8", b"<html>login</html>") }),
        )
        .route("/img/empty.png", get(|| async { typed("image/png", b"") }))
        .route(
            "/img/octets.tif",
            get(|| async { typed("binary/octet-stream", b"II*\0") }),
        )
        .route(
            "/vid/clip.mp4",
            get(|| async { typed("video/mp4", b"mp4") }),
        )
        .route("/nohead/pic.png", get(ranged).head(refuse_head))
        .route("/nohead/page.png", get(ranged_page).head(refuse_head))
        .route("/private/a.jpg", get(|| async { StatusCode::FORBIDDEN }))
        .route("/slow.jpg", get(slow))
        .route("/gate/{n}", get(gate))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("test server") });
    (url, seen)
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local address").port()
}

fn quick() -> CheckConfig {
    CheckConfig {
        timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        retry_delay: Duration::from_millis(20),
        // The test servers are on loopback.
        allow_private: true,
        ..CheckConfig::default()
    }
}

/// A listener on 127.0.0.1 that answers every request with a small JPEG-typed 200 and counts the
/// connections it accepted.
async fn counting_server() -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: 4\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn the_check_never_connects_to_loopback_or_private_addresses_unless_asked() {
    let (port, accepted) = counting_server().await;
    let guarded = Checker::new(CheckConfig {
        allow_private: false,
        ..quick()
    })
    .unwrap();
    for (url, why) in [
        (format!("http://127.0.0.1:{port}/a.jpg"), "loopback"),
        (format!("http://localhost:{port}/a.jpg"), "loopback"),
        (
            format!("http://[::ffff:0:7f00:1]:{port}/a.jpg"),
            "IPv4-translated",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/a.jpg"),
            "loopback",
        ),
        (format!("http://169.254.169.254:{port}/latest"), "metadata"),
        (format!("http://10.0.0.7:{port}/a.jpg"), "private"),
    ] {
        let probe = guarded.probe(&url).await;
        let refused = probe.refused.clone().unwrap_or_default();
        assert!(refused.contains(why), "{url}: {probe:?}");
        assert_eq!(probe.status, None, "{url}");
        let target = Target {
            index: 0,
            line: 2,
            column: 3,
            field: "data".into(),
            url: url.clone(),
            expected: None,
        };
        let problems = assetdrop::cloud::check::judge(&target, &probe);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].code.as_str(), "private-address");
        assert!(
            problems[0].message.contains("--check-private"),
            "{}",
            problems[0].message
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "nothing may reach the listener"
    );

    // Asked to, the same check reaches it.
    let open = Checker::new(quick()).unwrap();
    let probe = open.probe(&format!("http://localhost:{port}/a.jpg")).await;
    assert_eq!(probe.status, Some(200), "{probe:?}");
    assert!(accepted.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn urls_are_checked_before_import() {
    let (base, seen) = serve().await;
    let closed = closed_port();
    let file = format!(
        r#"[
  {{"data": "{base}/img/ok.jpg", "externalId": "ok"}},
  {{"data": "{base}/img/login.jpg", "externalId": "login-page"}},
  {{"data": "{base}/img/missing.jpg", "externalId": "404"}},
  {{"data": "{base}/nohead/pic.png", "externalId": "no-head"}},
  {{"data": "{base}/nohead/page.png", "externalId": "no-head-page"}},
  {{"data": "http://127.0.0.1:{closed}/a.jpg", "externalId": "closed"}},
  {{"data": "{base}/private/a.jpg", "externalId": "private"}},
  {{"data": "{base}/img/empty.png", "externalId": "empty"}},
  {{"data": "{base}/vid/clip.mp4", "externalId": "video",
    "attachments": [{{"type": "IMAGE", "value": "{base}/vid/clip.mp4"}}, {{"type": "TEXT", "value": "{base}/not-fetched"}}]}},
  {{"dataset": ["{base}/img/ok.jpg", "{base}/vid/clip.mp4?p=2"], "externalId": "pages"}},
  {{"data": "{base}/img/octets.tif", "externalId": "octets"}},
  {{"data": "{base}/private/a.jpg", "externalId": "in-storage", "storage": "s1"}},
  {{"data": "{base}/img/missing.jpg?storageId=s1", "externalId": "via-storage-id"}},
  {{"data": "<p>inline</p>", "externalId": "inline"}},
  {{"data": "{base}/slow.jpg", "externalId": "slow"}}
]"#
    );
    let entries: Vec<Entry> = CloudReader::new(file.as_bytes(), ReadConfig::default()).collect();
    assert!(entries.iter().all(|e| e.asset.is_some()), "{entries:#?}");
    let targets: Vec<Target> = entries.iter().flat_map(Target::of_entry).collect();
    // Private objects and inline content are not probed; the TEXT attachment is not a URL.
    assert_eq!(targets.len(), 14);

    let checker = Checker::new(quick()).unwrap();
    let report = checker.check(targets, &CancellationToken::new()).await;
    assert_eq!(report.checked, 14);
    assert!(!report.cancelled);
    let got: Vec<String> = report
        .problems
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p.index.unwrap(),
                p.code,
                p.field.as_deref().unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "1 content-type-mismatch data",
            "2 unreachable data",
            "4 content-type-mismatch data",
            "5 unreachable data",
            "6 unreachable data",
            "7 empty-content data",
            "8 content-type-mismatch attachments[0].value",
            "9 content-type-mismatch dataset[1]",
            "14 unreachable data",
        ]
    );
    assert_eq!(report.ok, 5);
    let by_index = |i: usize| {
        report
            .problems
            .iter()
            .find(|p| p.index == Some(i))
            .unwrap()
            .message
            .clone()
    };
    assert!(by_index(1).contains("web page"), "{}", by_index(1));
    assert!(by_index(2).contains("404 Not Found"), "{}", by_index(2));
    assert!(by_index(5).contains("could not connect"), "{}", by_index(5));
    assert!(by_index(5).contains("tried twice"), "{}", by_index(5));
    assert!(
        by_index(6).contains("storage integration"),
        "{}",
        by_index(6)
    );
    assert!(by_index(14).contains("timed out"), "{}", by_index(14));
    let p = &report.problems[0];
    assert_eq!((p.line, p.column, p.severity), (3, 3, Severity::Error));
    // A timeout is retried once, never more.
    assert_eq!(seen.slow_hits.load(Ordering::SeqCst), 2);
    // HEAD refused: the ranged GET asked for one byte.
    assert!(seen.ranges.lock().unwrap().iter().all(|r| r == "bytes=0-0"));
}

#[tokio::test]
async fn a_refused_head_falls_back_to_a_ranged_get() {
    let (base, _) = serve().await;
    let checker = Checker::new(quick()).unwrap();
    let probe = checker.probe(&format!("{base}/nohead/pic.png")).await;
    assert_eq!(probe.method, ProbeMethod::RangedGet);
    assert_eq!(probe.status, Some(206));
    assert_eq!(probe.size, Some(1234));
    assert_eq!(probe.content_type.as_deref(), Some("image/png"));
    assert_eq!(probe.attempts, 2, "one HEAD, one GET");
    let probe = checker.probe(&format!("{base}/img/ok.jpg")).await;
    assert_eq!(
        (probe.method, probe.status, probe.size),
        (ProbeMethod::Head, Some(200), Some(4))
    );
}

#[tokio::test]
async fn concurrency_is_bounded_and_cancellation_stops_the_check() {
    let (base, seen) = serve().await;
    let checker = Checker::new(CheckConfig {
        concurrency: 4,
        ..quick()
    })
    .unwrap();
    let targets = (0..40).map(|i| Target {
        index: i,
        line: 1,
        column: 1,
        field: "data".into(),
        url: format!("{base}/gate/{i}.jpg"),
        expected: None,
    });
    let report = checker.check(targets, &CancellationToken::new()).await;
    assert_eq!((report.checked, report.ok), (40, 40));
    let max = seen.max_in_flight.load(Ordering::SeqCst);
    assert!((2..=4).contains(&max), "max in flight {max}");

    let cancel = CancellationToken::new();
    cancel.cancel();
    let targets = (0..40).map(|i| Target {
        index: i,
        line: 1,
        column: 1,
        field: "data".into(),
        url: format!("{base}/gate/{i}.jpg"),
        expected: None,
    });
    let report = checker.check(targets, &cancel).await;
    assert!(report.cancelled);
    assert!(report.checked < 40);
}

#[test]
fn a_list_saved_as_utf16_reads_as_its_utf8_original() {
    let text = std::fs::read_to_string(data("valid_all_fields.json")).expect("read");
    // Windows "Unicode" (UTF-16 LE) and UTF-16 BE, each with its byte-order mark, and a name
    // outside the Basic Multilingual Plane (a surrogate pair in UTF-16).
    let text = text.replacen("\"externalId\": \"", "\"externalId\": \"🐈 ", 1);
    assert!(text.contains('🐈'), "the corpus file has an externalId");
    let shown = |bytes: Vec<u8>| -> Vec<String> {
        CloudReader::new(bytes.as_slice(), ReadConfig::default())
            .map(|e| format!("{e:?}"))
            .collect()
    };
    let original = shown(text.clone().into_bytes());
    assert_eq!(original.len(), 6, "{original:?}");
    assert!(original.iter().any(|e| e.contains('🐈')));
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    assert_eq!(shown(le), original, "UTF-16 LE");
    assert_eq!(shown(be), original, "UTF-16 BE");
}
