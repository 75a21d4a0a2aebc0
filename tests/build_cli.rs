//! `assetdrop build` end to end: tables of every format built into a real `assetdrop serve`
//! process on 127.0.0.1, then checked through `assets list --json` and the hub's catalog; dry
//! runs and previews; saved templates; bad rows, misfit tables, re-runs and injection attempts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::OpenFlags;
use serde_json::{json, Value};

use crate::support::hub::{bin, ServeProcess};

/// The template the `people` tables are built with.
const PEOPLE_TEMPLATE: &str =
    "<article><h2>{{name}}</h2><p>Joined {{joined}}</p><p>{{note}}</p></article>";

/// Its config: the template object's keys (reference §8.3), as written for Ango.
const PEOPLE_CONFIG: &str = r#"{
  "selectedExternalId": "id",
  "batchColumn": "active",
  "dataConfig": {
    "id": {"type": "text"},
    "name": {"type": "text", "includeInExport": true},
    "joined": {"type": "text", "includeInExport": true},
    "note": {"type": "text"},
    "active": {"type": "text"}
  },
  "preLabelConfig": {
    "score": {"cla": {"schemaId": "s-score", "title": "Score", "tool": "text", "multiple": false}, "value": "score"},
    "status": {"cla": {"schemaId": "s-active", "title": "Active", "tool": "checkbox", "multiple": false}, "value": "active"}
  }
}"#;

/// The rows of `tests/data/builder/people.xlsx`/`.xls` (see its README), as CSV.
const PEOPLE_CSV: &str = "id,name,score,joined,active,note\n\
p-1,Zoë Ünal,3,2024-02-29,TRUE,likes <b>bold</b>\n\
2,李雷,2.5,2023-12-31 08:30:00,FALSE,\n\
p-3,\"O'Brien, \"\"Pat\"\"\",-7,2000-01-01,TRUE,\"multi\nline\"\n";

/// One finished CLI run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

fn run_with(target: &[&str], args: &[&str]) -> Run {
    let out = Command::new(bin())
        .args(target)
        .args(args)
        .output()
        .expect("run assetdrop");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// `assetdrop --hub URL --api-key KEY ARGS…`.
fn run(hub: &ServeProcess, args: &[&str]) -> Run {
    run_with(&["--hub", &hub.url, "--api-key", &hub.key], args)
}

/// `assetdrop --hub URL --api-key KEY --json ARGS…`, exit code and parsed stdout.
fn run_json(hub: &ServeProcess, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = run(hub, &all);
    let v = r.json();
    (r.code, v)
}

fn new_project(hub: &ServeProcess, name: &str) -> String {
    let (code, p) = run_json(hub, &["project", "create", name]);
    assert_eq!(code, 0, "{p}");
    p["_id"].as_str().expect("project id").to_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a test file");
    path
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/builder")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Every asset of a project, through `assets list --json`.
fn list_assets(hub: &ServeProcess, project: &str) -> Vec<Value> {
    let (code, v) = run_json(
        hub,
        &["assets", "list", "--project", project, "--limit", "1000"],
    );
    assert_eq!(code, 0, "{v}");
    let assets = v["assets"].as_array().expect("assets").clone();
    assert_eq!(v["total"], json!(assets.len()));
    assets
}

/// The hub's catalog, read-only (the hub keeps running and writing).
fn catalog(hub: &ServeProcess) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        hub.root.join("catalog.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the catalog")
}

/// A project's batches in the catalog, oldest first: (id, name).
fn batches(hub: &ServeProcess, project: &str) -> Vec<(String, String)> {
    let db = catalog(hub);
    let mut q = db
        .prepare("SELECT id, name FROM batches WHERE project = ?1 ORDER BY seq")
        .expect("prepare");
    q.query_map([project], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

/// A stored asset as the catalog has it.
#[derive(Debug, PartialEq)]
struct Stored {
    external_id: String,
    data: String,
    kind: String,
    context_data: Value,
    classifications: Value,
    pre_labeled: bool,
    priority: i64,
    upload_id: String,
    batches: Vec<String>,
}

/// A project's live assets in the catalog, in import order, batches by name.
fn stored(hub: &ServeProcess, project: &str) -> Vec<Stored> {
    let db = catalog(hub);
    let mut q = db
        .prepare(
            "SELECT id, external_id, data, kind, context_data, extra, pre_labeled, priority, \
             upload_id FROM assets WHERE project = ?1 AND deleted = 0 ORDER BY seq",
        )
        .expect("prepare");
    let rows: Vec<(String, Stored)> = q
        .query_map([project], |r| {
            let context: String = r.get(4)?;
            let extra: String = r.get(5)?;
            let extra: Value = serde_json::from_str(&extra).expect("extra is JSON");
            Ok((
                r.get(0)?,
                Stored {
                    external_id: r.get(1)?,
                    data: r.get(2)?,
                    kind: r.get(3)?,
                    context_data: serde_json::from_str(&context).expect("context_data is JSON"),
                    classifications: extra["classifications"].clone(),
                    pre_labeled: r.get::<_, i64>(6)? != 0,
                    priority: r.get(7)?,
                    upload_id: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    batches: Vec::new(),
                },
            ))
        })
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let mut names = db
        .prepare(
            "SELECT b.name FROM asset_batches ab JOIN batches b ON b.id = ab.batch \
             WHERE ab.asset = ?1 ORDER BY b.seq",
        )
        .expect("prepare");
    rows.into_iter()
        .map(|(id, mut asset)| {
            asset.batches = names
                .query_map([&id], |r| r.get(0))
                .expect("query")
                .map(|r| r.expect("row"))
                .collect();
            asset
        })
        .collect()
}

/// `(externalId, data, contextData, classifications, batch names)` of listed assets, with the
/// batch IDs of `assets list` turned into names.
fn listed(hub: &ServeProcess, project: &str) -> Vec<(String, String, Value, Value, Vec<String>)> {
    let names: BTreeMap<String, String> = batches(hub, project).into_iter().collect();
    list_assets(hub, project)
        .iter()
        .map(|a| {
            let batch_names = a["batches"]
                .as_array()
                .expect("batches")
                .iter()
                .map(|b| names[b.as_str().expect("batch id")].clone())
                .collect();
            (
                a["externalId"].as_str().expect("externalId").to_owned(),
                a["data"].as_str().expect("data").to_owned(),
                a["contextData"].clone(),
                a["classifications"].clone(),
                batch_names,
            )
        })
        .collect()
}

/// What the `people` rows become, whatever the table's format.
fn people_expected() -> Vec<(String, String, Value, Value, Vec<String>)> {
    let row = |id: &str, name: &str, score: &str, joined: &str, active: &str, note: &str| {
        (
            id.to_owned(),
            format!("<article><h2>\n\n{name}\n\n</h2><p>Joined {joined}</p><p>\n\n{note}\n\n</p></article>"),
            json!({"name": name, "joined": joined}),
            json!([
                {"title": "Score", "schemaId": "s-score", "answer": score},
                {"title": "Active", "schemaId": "s-active", "answer": [active]},
            ]),
            vec![active.to_owned()],
        )
    };
    vec![
        row(
            "p-1",
            "Zoë Ünal",
            "3",
            "2024-02-29",
            "TRUE",
            "likes &lt;b&gt;bold&lt;/b&gt;",
        ),
        row("2", "李雷", "2.5", "2023-12-31 08:30:00", "FALSE", ""),
        row(
            "p-3",
            "O'Brien, \"Pat\"",
            "-7",
            "2000-01-01",
            "TRUE",
            "multi\nline",
        ),
    ]
}

#[test]
fn every_table_format_imports_one_asset_per_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("hub");
    let hub = ServeProcess::start(&root, "k-build-formats", &[]);
    let template = write(dir.path(), "people.html", PEOPLE_TEMPLATE);
    let config = write(dir.path(), "people.json", PEOPLE_CONFIG);

    let csv = write(dir.path(), "people.csv", PEOPLE_CSV);
    let tsv = write(
        dir.path(),
        "people.tsv",
        &PEOPLE_CSV
            .replace(',', "\t")
            .replace("O'Brien\t", "O'Brien,"),
    );
    let semicolon = write(
        dir.path(),
        "semicolon.csv",
        &PEOPLE_CSV.replace(',', ";").replace("O'Brien;", "O'Brien,"),
    );
    let json_table = write(
        dir.path(),
        "people-table.json",
        r#"[
  {"id": "p-1", "name": "Zoë Ünal", "score": 3, "joined": "2024-02-29", "active": "TRUE", "note": "likes <b>bold</b>"},
  {"id": 2, "name": "李雷", "score": 2.5, "joined": "2023-12-31 08:30:00", "active": "FALSE", "note": null},
  {"id": "p-3", "name": "O'Brien, \"Pat\"", "score": -7, "joined": "2000-01-01", "active": "TRUE", "note": "multi\nline"}
]"#,
    );
    let xlsx = fixture("people.xlsx");
    let xls = fixture("people.xls");
    let tables: [(&str, &Path, &[&str]); 6] = [
        ("csv", &csv, &[]),
        ("tsv", &tsv, &[]),
        ("semicolon csv", &semicolon, &["--delimiter", ";"]),
        ("json", &json_table, &[]),
        ("xlsx", &xlsx, &[]),
        ("xls", &xls, &["--sheet", "People"]),
    ];
    for (what, table, extra) in tables {
        let project = new_project(&hub, what);
        let mut args = vec![
            "build",
            s(table),
            "--project",
            &project,
            "--template",
            s(&template),
            "--config",
            s(&config),
            "--priority",
            "7",
        ];
        args.extend_from_slice(extra);
        let (code, report) = run_json(&hub, &args);
        assert_eq!(code, 0, "{what}: {report}");
        assert_eq!(
            report,
            json!({"project": project, "summary": {
                "rows": 3, "registered": 3, "created": 3, "failed": [],
                "batchesCreated": ["TRUE", "FALSE"],
            }}),
            "{what}"
        );

        // What the API lists…
        assert_eq!(listed(&hub, &project), people_expected(), "{what}");
        // …is what the catalog holds: inline HTML, pre-labeled, in the batches.
        let rows = stored(&hub, &project);
        assert_eq!(rows.len(), 3, "{what}");
        for (row, (external_id, data, context, classifications, batch_names)) in
            rows.iter().zip(people_expected())
        {
            assert_eq!(row.external_id, external_id, "{what}");
            assert_eq!(row.data, data, "{what}");
            assert_eq!(row.kind, "html", "{what}");
            assert_eq!(row.context_data, context, "{what}");
            assert_eq!(row.classifications, classifications, "{what}");
            assert!(row.pre_labeled, "{what}");
            assert_eq!(row.priority, 7, "{what}");
            assert!(row.upload_id.starts_with("build-"), "{what}: {row:?}");
            assert_eq!(row.batches, batch_names, "{what}");
        }
        let names: Vec<String> = batches(&hub, &project).into_iter().map(|b| b.1).collect();
        assert_eq!(names, ["TRUE", "FALSE"], "{what}");
        // The batch filter finds them.
        let (code, v) = run_json(
            &hub,
            &["assets", "list", "--project", &project, "--batch", "FALSE"],
        );
        assert_eq!(code, 0);
        assert_eq!(v["total"], 1, "{what}: {v}");
        assert_eq!(v["assets"][0]["externalId"], "2", "{what}");
    }
}

/// A small table with everything a dry run shows: escaping, attributes, storage, batches,
/// pre-labels.
const SMALL_CSV: &str = "id,title,photo,batch,tags\n\
d-1,Hello & <you>,https://example.com/a.png, b1 ;b2;b1,x;y\n\
d-2,Second,https://example.com/b.png?v=1,,\n";
const SMALL_TEMPLATE: &str = "<h1>{{title}}</h1><img src=\"{{photo}}\" alt=\"{{title}}\"><br>";
const SMALL_CONFIG: &str = r#"{
  "name": "small", "selectedExternalId": "id", "batchColumn": "batch",
  "dataConfig": {"id": {"type": "text"}, "title": {"type": "text", "includeInExport": true},
                 "photo": {"type": "image", "storage": "Public"}, "batch": {"type": "text"}},
  "preLabelConfig": {"tags": {"cla": {"schemaId": "s-tags", "title": "Tags", "tool": "checkbox", "multiple": false}, "value": "tags"}}
}"#;
/// `--dry-run --json` of `SMALL_CSV`, byte for byte.
const SMALL_DRY_RUN: &str = concat!(
    "[\n",
    r#"{"data":"<h1>\n\nHello &amp; &lt;you&gt;\n\n</h1><img src=\"https://example.com/a.png\" alt=\"Hello &amp; &lt;you&gt;\"><br>","externalId":"d-1","contextData":{"title":"Hello & <you>"},"classifications":[{"title":"Tags","schemaId":"s-tags","answer":["x","y"]}],"batches":["b1","b2"]},"#,
    "\n",
    r#"{"data":"<h1>\n\nSecond\n\n</h1><img src=\"https://example.com/b.png?v=1\" alt=\"Second\"><br>","externalId":"d-2","contextData":{"title":"Second"},"classifications":[{"title":"Tags","schemaId":"s-tags","answer":[""]}],"batches":[]}"#,
    "\n]\n",
);

struct Small {
    dir: tempfile::TempDir,
    hub: ServeProcess,
    project: String,
    table: PathBuf,
    template: PathBuf,
    config: PathBuf,
}

impl Small {
    fn new(key: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let hub = ServeProcess::start(&dir.path().join("hub"), key, &[]);
        let project = new_project(&hub, "small");
        let table = write(dir.path(), "small.csv", SMALL_CSV);
        let template = write(dir.path(), "small.html", SMALL_TEMPLATE);
        let config = write(dir.path(), "small.json", SMALL_CONFIG);
        Self {
            dir,
            hub,
            project,
            table,
            template,
            config,
        }
    }

    /// `build TABLE --project P --template T --config C EXTRA…`.
    fn build(&self, table: &Path, extra: &[&str]) -> Run {
        let mut args = vec![
            "build",
            s(table),
            "--project",
            &self.project,
            "--template",
            s(&self.template),
            "--config",
            s(&self.config),
        ];
        args.extend_from_slice(extra);
        run(&self.hub, &args)
    }

    fn nothing_imported(&self) {
        assert_eq!(list_assets(&self.hub, &self.project), Vec::<Value>::new());
        assert_eq!(batches(&self.hub, &self.project), Vec::new());
    }
}

#[test]
fn dry_run_json_prints_exactly_what_the_hub_would_receive() {
    let t = Small::new("k-build-dry");
    let r = t.build(&t.table, &["--json", "--dry-run"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(r.stdout, SMALL_DRY_RUN);
    t.nothing_imported();

    // Without --json: each asset under its line and external ID.
    let r = t.build(&t.table, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "--- line 2 · d-1\n<h1>\n\nHello &amp; &lt;you&gt;\n\n</h1><img src=\"https://example.com/a.png\" alt=\"Hello &amp; &lt;you&gt;\"><br>\n\
         --- line 3 · d-2\n<h1>\n\nSecond\n\n</h1><img src=\"https://example.com/b.png?v=1\" alt=\"Second\"><br>\n"
    );
    t.nothing_imported();

    // The real build stores exactly the dry run's assets.
    let r = t.build(&t.table, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dry: Value = serde_json::from_str(SMALL_DRY_RUN).expect("JSON");
    let got: Vec<Value> = listed(&t.hub, &t.project)
        .into_iter()
        .map(
            |(external_id, data, context, classifications, batch_names)| {
                json!({"externalId": external_id, "data": data, "contextData": context,
                   "classifications": classifications, "batches": batch_names})
            },
        )
        .collect();
    assert_eq!(Value::Array(got), dry);
    assert_eq!(
        r.json()["summary"]["batchesCreated"],
        json!(["b1", "b2"]),
        "{}",
        r.stdout
    );
}

#[test]
fn preview_renders_the_first_rows_without_importing() {
    let t = Small::new("k-build-preview");
    let r = t.build(&t.table, &["--json", "--preview", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all: Value = serde_json::from_str(SMALL_DRY_RUN).expect("JSON");
    assert_eq!(r.json(), json!([all[0]]));
    let r = t.build(&t.table, &["--json", "--preview", "50"]);
    assert_eq!(r.json(), all);
    let r = t.build(&t.table, &["--preview", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("--- line 2 · d-1\n<h1>"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("d-2"), "{}", r.stdout);
    t.nothing_imported();

    // A bad row in the preview is reported like any other.
    let bad = write(
        t.dir.path(),
        "bad.csv",
        "id,title,photo,batch,tags\nok,a,https://e.com/a.png,,\nbad,b,javascript:alert(1),,\n",
    );
    let r = t.build(&bad, &["--json", "--preview", "2"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json().as_array().expect("array").len(), 1);
    assert!(
        r.stderr
            .contains("line 3, column `photo`: a javascript: URL cannot go into <img src>"),
        "{}",
        r.stderr
    );
    t.nothing_imported();
}

fn saved_template_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("saved template "))
        .unwrap_or_else(|| panic!("no `saved template ID` line in {stderr}"))
        .to_owned()
}

#[test]
fn a_template_saved_with_save_as_is_reused_by_id() {
    let t = Small::new("k-build-template");
    let r = t.build(&t.table, &["--json", "--save-as", "cards"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = saved_template_id(&r.stderr);

    // The project lists it, with the config's keys and the template's HTML.
    let (code, projects) = run_json(&t.hub, &["project", "list"]);
    assert_eq!(code, 0);
    let project = projects
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["_id"] == t.project.as_str())
        .expect("the project");
    let saved = &project["assetBuilderTemplates"];
    assert_eq!(saved.as_array().expect("templates").len(), 1, "{saved}");
    let saved = &saved[0];
    assert_eq!(saved["_id"], id.as_str());
    assert_eq!(saved["name"], "cards");
    assert_eq!(saved["template"], SMALL_TEMPLATE);
    assert_eq!(saved["selectedExternalId"], "id");
    assert_eq!(saved["batchColumn"], "batch");
    let config: Value = serde_json::from_str(SMALL_CONFIG).expect("JSON");
    assert_eq!(
        saved["dataConfig"]["photo"],
        json!({"type": "image", "storage": "Public", "includeInExport": false})
    );
    assert_eq!(saved["preLabelConfig"], config["preLabelConfig"]);

    // Another table, built with the saved template only, renders as the files do.
    let more = write(
        t.dir.path(),
        "more.csv",
        "tags,batch,photo,title,id\nz,b3,https://example.com/c.png,Third,d-3\n",
    );
    let r = t.build(&more, &["--json", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let from_files = r.json();
    let r = run(
        &t.hub,
        &[
            "--json",
            "build",
            s(&more),
            "--project",
            &t.project,
            "--template-id",
            &id,
            "--dry-run",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json(), from_files);
    let (code, report) = run_json(
        &t.hub,
        &[
            "build",
            s(&more),
            "--project",
            &t.project,
            "--template-id",
            &id,
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["summary"]["created"], 1);
    assert_eq!(report["summary"]["batchesCreated"], json!(["b3"]));
    let last = listed(&t.hub, &t.project).pop().expect("an asset");
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("d-3", from_files[0]["data"].as_str().expect("data"))
    );
    assert_eq!(last.4, ["b3"]);

    // An ID the project does not have.
    let r = run(
        &t.hub,
        &[
            "build",
            s(&more),
            "--project",
            &t.project,
            "--template-id",
            "000000000000000000000000",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "project {} has no saved template 000000000000000000000000",
            t.project
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn a_bad_row_is_reported_with_its_line_while_the_others_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(&dir.path().join("hub"), "k-build-bad", &[]);
    let project = new_project(&hub, "bad rows");
    let template = write(dir.path(), "t.html", "<a href=\"{{link}}\">{{title}}</a>");
    let config = write(
        dir.path(),
        "c.json",
        r#"{"selectedExternalId": "id", "dataConfig": {"id": {"type": "text"}, "title": {"type": "text"}, "link": {"type": "link"}}}"#,
    );
    let table = write(
        dir.path(),
        "rows.csv",
        "id,title,link\n\
         r-1,ok,https://example.com/1\n\
         r-2,short\n\
         r-3,bad,javascript:alert(1)\n\
         r-4,ok,https://example.com/4\n",
    );
    let (code, report) = run_json(
        &hub,
        &[
            "build",
            s(&table),
            "--project",
            &project,
            "--template",
            s(&template),
            "--config",
            s(&config),
        ],
    );
    assert_eq!(code, 1, "{report}");
    let summary = &report["summary"];
    assert_eq!(
        (
            &summary["rows"],
            &summary["registered"],
            &summary["created"]
        ),
        (&json!(4), &json!(2), &json!(2)),
        "{report}"
    );
    let failed = summary["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 2, "{report}");
    assert_eq!(failed[0]["line"], 3);
    let ragged = failed[0]["message"].as_str().expect("message");
    assert!(
        ragged.starts_with("line 3 has 2 cells but the header has 3") && ragged.contains("link"),
        "{ragged}"
    );
    assert_eq!(
        failed[1],
        json!({"line": 4, "message": "line 4, column `link`: a javascript: URL cannot go into <a href>, as it could run script in the asset; use an http(s) URL"})
    );
    let ids: Vec<String> = list_assets(&hub, &project)
        .iter()
        .map(|a| a["externalId"].as_str().expect("externalId").to_owned())
        .collect();
    assert_eq!(ids, ["r-1", "r-4"]);

    // Without --json the failures go to stderr, one line each.
    let r = run(
        &hub,
        &[
            "build",
            s(&table),
            "--project",
            &project,
            "--template",
            s(&template),
            "--config",
            s(&config),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr
            .lines()
            .filter(|l| l.starts_with("row failed: line "))
            .count(),
        2,
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("4 rows: 2 assets registered (0 new)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_misfit_table_fails_before_any_row() {
    let t = Small::new("k-build-misfit");
    let cases: [(&str, &str, &str); 3] = [
        (
            "<h1>{{titel}}</h1>",
            SMALL_CSV,
            "the template uses {{titel}} but only configured columns are placeholders",
        ),
        (
            "<h1>{{Title}}</h1>",
            SMALL_CSV,
            "the template uses {{Title}} (did you mean {{title}}?)",
        ),
        (
            SMALL_TEMPLATE,
            "id,Title,photo,batch,tags\nd-1,x,https://e.com/a.png,b1,x\n",
            "the table has no column `title` (the header has `Title`) that the config names",
        ),
    ];
    for (html, table, message) in cases {
        write(t.dir.path(), "small.html", html);
        let table = write(t.dir.path(), "misfit.csv", table);
        let extras: [&[&str]; 3] = [&["--json"], &["--json", "--dry-run"], &[]];
        for extra in extras {
            let r = t.build(&table, extra);
            assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
            assert!(r.stderr.contains(message), "{extra:?}: {}", r.stderr);
            assert!(!r.stdout.contains("externalId"), "{}", r.stdout);
        }
        // Nothing imported, no batch created.
        t.nothing_imported();
    }
    // A config that breaks a rule also stops before any row.
    write(t.dir.path(), "small.html", SMALL_TEMPLATE);
    let config = write(
        t.dir.path(),
        "bad-config.json",
        &SMALL_CONFIG.replace(
            r#""selectedExternalId": "id""#,
            r#""selectedExternalId": "nope""#,
        ),
    );
    let r = run(
        &t.hub,
        &[
            "build",
            s(&t.table),
            "--project",
            &t.project,
            "--template",
            s(&t.template),
            "--config",
            s(&config),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("selectedExternalId"), "{}", r.stderr);
    t.nothing_imported();
}

#[test]
fn rerunning_a_build_registers_nothing_twice() {
    let t = Small::new("k-build-rerun");
    let first = t.build(&t.table, &["--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.json()["summary"]["created"], 2);
    let before = stored(&t.hub, &t.project);
    assert_eq!(before.len(), 2);

    let again = t.build(&t.table, &["--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.json()["summary"],
        json!({"rows": 2, "registered": 2, "created": 0, "failed": [], "batchesCreated": []})
    );
    assert_eq!(stored(&t.hub, &t.project), before);
    assert_eq!(batches(&t.hub, &t.project).len(), 2);

    // A changed row is a new asset; the unchanged one is still found.
    let changed = write(
        t.dir.path(),
        "small.csv",
        &SMALL_CSV.replace("Second", "Second (edited)"),
    );
    let r = t.build(&changed, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = &r.json()["summary"];
    assert_eq!(
        (&summary["registered"], &summary["created"]),
        (&json!(2), &json!(1))
    );
    let after = stored(&t.hub, &t.project);
    assert_eq!(after.len(), 3);
    assert_eq!(after[..2], before[..]);
    assert!(after[2].data.contains("Second (edited)"));
}

#[test]
fn injection_attempts_in_cells_are_stored_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = ServeProcess::start(&dir.path().join("hub"), "k-build-inject", &[]);
    let project = new_project(&hub, "injection");
    let template = write(
        dir.path(),
        "t.html",
        "<h1>{{title}}</h1><img src=\"{{photo}}\" alt=\"{{caption}}\"><p>Note: {{note}}</p>\
         <a href=\"https://example.com/search?q={{note}}\" title=\"{{caption}}\">{{secret}}</a>",
    );
    let config = write(
        dir.path(),
        "c.json",
        r#"{"selectedExternalId": "id", "dataConfig": {
            "id": {"type": "text"}, "title": {"type": "text"}, "photo": {"type": "image", "storage": "Public"},
            "caption": {"type": "text"}, "note": {"type": "text"}, "secret": {"type": "text", "includeInExport": true}}}"#,
    );
    let table = write(
        dir.path(),
        "rows.csv",
        "id,title,photo,caption,note,secret\n\
         x-1,<script>alert(1)</script>,https://example.com/a.png,\"\"\" onerror=\"\"alert(1)\",</p><img src=x onerror=alert(2)><p>,{{title}}\n\
         x-2,</h1><iframe srcdoc='<script>alert(3)</script>'>,\"https://example.com/b.png\"\"><script>alert(4)</script>\",' onmouseover='alert(5),&lt;b&gt; &amp;,<!-- -->\n",
    );
    let (code, report) = run_json(
        &hub,
        &[
            "build",
            s(&table),
            "--project",
            &project,
            "--template",
            s(&template),
            "--config",
            s(&config),
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["summary"]["created"], 2, "{report}");
    let rows = stored(&hub, &project);
    let data: Vec<&str> = rows.iter().map(|r| r.data.as_str()).collect();
    assert_eq!(
        data,
        [
            "<h1>\n\n&lt;script&gt;alert(1)&lt;/script&gt;\n\n</h1>\
             <img src=\"https://example.com/a.png\" alt=\"&quot; onerror=&quot;alert(1)\">\
             <p>Note: &lt;/p&gt;&lt;img src=x onerror=alert(2)&gt;&lt;p&gt;</p>\
             <a href=\"https://example.com/search?q=&lt;/p&gt;&lt;img src=x onerror=alert(2)&gt;&lt;p&gt;\" \
             title=\"&quot; onerror=&quot;alert(1)\">\n\n{{title}}\n\n</a>",
            "<h1>\n\n&lt;/h1&gt;&lt;iframe srcdoc='&lt;script&gt;alert(3)&lt;/script&gt;'&gt;\n\n</h1>\
             <img src=\"https://example.com/b.png&quot;&gt;&lt;script&gt;alert(4)&lt;/script&gt;\" alt=\"&#39; onmouseover=&#39;alert(5)\">\
             <p>Note: &amp;lt;b&amp;gt; &amp;amp;</p>\
             <a href=\"https://example.com/search?q=&amp;lt;b&amp;gt; &amp;amp;\" \
             title=\"&#39; onmouseover=&#39;alert(5)\">\n\n&lt;!-- --&gt;\n\n</a>",
        ]
    );
    for d in &data {
        // Only the template's own elements: every `<` a cell brought is escaped.
        let tags: Vec<&str> = d
            .match_indices('<')
            .map(|(i, _)| &d[i..i + d[i..].find([' ', '>']).expect("tag end")])
            .collect();
        assert_eq!(
            tags,
            ["<h1", "</h1", "<img", "<p", "</p", "<a", "</a"],
            "{d}"
        );
    }
    // The cells themselves are kept as they are where no HTML is involved.
    assert_eq!(rows[0].context_data, json!({"secret": "{{title}}"}));
    assert_eq!(rows[1].context_data, json!({"secret": "<!-- -->"}));
    // The API serves the same strings.
    let listed: Vec<String> = listed(&hub, &project).into_iter().map(|a| a.1).collect();
    assert_eq!(listed, data);
}

#[test]
fn the_embedded_hub_builds_into_its_default_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let root_s = s(&root).to_owned();
    let table = write(dir.path(), "small.csv", SMALL_CSV);
    let template = write(dir.path(), "small.html", SMALL_TEMPLATE);
    let config = write(dir.path(), "small.json", SMALL_CONFIG);
    let r = run_with(
        &["--root", &root_s, "--json"],
        &[
            "build",
            s(&table),
            "--template",
            s(&template),
            "--config",
            s(&config),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    let project = report["project"].as_str().expect("project").to_owned();
    assert_eq!(report["summary"]["created"], 2, "{report}");
    let r = run_with(
        &["--root", &root_s, "--json"],
        &["assets", "list", "--project", &project],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ids: Vec<Value> = r.json()["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["externalId"].clone())
        .collect();
    assert_eq!(ids, [json!("d-1"), json!("d-2")]);
}
