//! The malformed-input corpus of `tests/data/malformed/`: every input goes through the real entry
//! point of its group, and must get its own specific error (the code in `expected.tsv`) with a
//! message that says where (a line, column, field, byte or name) — never a panic, never a 500,
//! and never the end of the batch: the good items next to a bad one still come through.
//!
//! Groups and entry points: `files/` → `media::probe`, then all together through
//! `assetdrop upload --json` into a real hub process; `cloud/` → `cloud::CloudReader`;
//! `tables/` and `templates/` → the builder (`Table`, `Template`, `render_rows`); `api/` → real
//! HTTP to a hub on 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;

use assetdrop::builder::{
    self, render_rows, CheckError, ConfigError, Header, RowError, Table, TableOptions, Template,
    TemplateConfig, TemplateError,
};
use assetdrop::cloud::{CloudReader, ReadConfig};
use assetdrop::hub::HubConfig;
use assetdrop::media::{self, Severity};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fixtures::generated;
use crate::support::hub::{bin, in_process, ServeProcess};

/// The fewest entries the corpus may hold.
const MIN_ENTRIES: usize = 40;

/// One row of `expected.tsv`.
#[derive(Debug, Clone)]
struct Case {
    input: String,
    code: String,
    place: String,
    survivors: Option<usize>,
}

impl Case {
    fn group(&self) -> &str {
        if self.input.starts_with('@') {
            return "files";
        }
        self.input.split('/').next().unwrap_or_default()
    }
}

/// What an entry point said about one input: every error (code, message) and how many good
/// items still came through.
#[derive(Debug, Default)]
struct Outcome {
    errors: Vec<(String, String)>,
    survivors: usize,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/malformed")
}

/// The inputs `make.sh` makes, generated once per version of the script.
fn made_dir() -> PathBuf {
    // `generated` names its output after the script's path, here `malformed/make-<hash>`, and
    // moves it into place with a rename, which needs the parent folder to exist.
    std::fs::create_dir_all(Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures/malformed"))
        .expect("create fixture dir");
    generated("malformed/make.sh")
}

fn cases() -> Vec<Case> {
    let path = corpus_dir().join("expected.tsv");
    let text = std::fs::read_to_string(&path).expect("read expected.tsv");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(n, line)| {
            let cells: Vec<&str> = line.split('\t').collect();
            assert_eq!(
                cells.len(),
                4,
                "expected.tsv line {}: want 4 tab-separated cells, got {line:?}",
                n + 1
            );
            Case {
                input: cells[0].to_owned(),
                code: cells[1].to_owned(),
                place: cells[2].to_owned(),
                survivors: match cells[3] {
                    "-" => None,
                    n => Some(n.parse().expect("survivors: a number or -")),
                },
            }
        })
        .collect()
}

/// The file behind an input name of `expected.tsv`.
fn resolve(input: &str) -> PathBuf {
    if let Some(rest) = input.strip_prefix("@media/") {
        return generated("make_media_fixtures.sh").join(rest);
    }
    if let Some(rest) = input.strip_prefix("@audio/") {
        return generated("make_audio_fixtures.sh").join(rest);
    }
    let committed = corpus_dir().join(input);
    if committed.exists() {
        committed
    } else {
        made_dir().join(input)
    }
}

/// Relative paths of the files under `root`, with `/` separators.
fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).expect("under root");
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

/// `TooManyCells { .. }` → `too-many-cells`: the builder's errors have no code strings, so the
/// corpus names them by variant.
fn variant_code<T: std::fmt::Debug>(value: &T) -> String {
    let debug = format!("{value:?}");
    let name: String = debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn config_code(e: &ConfigError) -> String {
    format!("config-{}", variant_code(e))
}

fn template_code(e: &TemplateError) -> String {
    match e {
        TemplateError::Config(c) => config_code(c),
        other => variant_code(other),
    }
}

fn check_code(e: &CheckError) -> String {
    if e.unknown_placeholders.is_empty() {
        "missing-column".to_owned()
    } else {
        "unknown-placeholder".to_owned()
    }
}

fn row_error(e: &RowError) -> (String, String) {
    let code = match e {
        RowError::Table(t) => variant_code(t),
        RowError::Render(r) => variant_code(r),
        other => variant_code(other),
    };
    (code, e.to_string())
}

// ---- files ----

fn run_file(path: &Path) -> Outcome {
    let report = media::probe(path);
    let errors = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| {
            let code = serde_json::to_value(p.code).expect("code serialises");
            (
                code.as_str().unwrap_or_default().to_owned(),
                p.message.clone(),
            )
        })
        .collect();
    Outcome {
        errors,
        survivors: 0,
    }
}

// ---- cloud ----

fn run_cloud(path: &Path) -> Outcome {
    let reader = match CloudReader::open(path, ReadConfig::default()) {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                errors: vec![("open".to_owned(), e.to_string())],
                survivors: 0,
            }
        }
    };
    let mut out = Outcome::default();
    for entry in reader {
        if entry.asset.is_some() {
            out.survivors += 1;
        }
        // Warnings count too: a duplicate ID or a trailing comma is reported without
        // refusing anything, and must still be reported specifically.
        for p in entry.problems {
            out.errors.push((p.code.as_str().to_owned(), p.to_string()));
        }
    }
    out
}

// ---- tables and templates ----

/// The template every table is rendered with: `id` is the external ID, `text` the content.
fn base_config() -> TemplateConfig {
    TemplateConfig::from_json(
        r#"{"name": "corpus", "template": "<p>{{text}}</p>", "selectedExternalId": "id",
            "dataConfig": {"id": {"type": "text"}, "text": {"type": "text"}}}"#,
    )
    .expect("base config")
}

/// Renders every row of `table` with `template`: the first failure (fatal or not) and the rest.
fn render_table(template: &Template, table: Table, out: &mut Outcome) {
    if let Err(e) = template.check(table.header()) {
        out.errors.push((check_code(&e), e.to_string()));
        return;
    }
    for item in render_rows(template, table) {
        match item {
            Ok(_) => out.survivors += 1,
            Err(e) => out.errors.push(row_error(&e)),
        }
    }
}

fn run_table(path: &Path) -> Outcome {
    let mut out = Outcome::default();
    let template = Template::parse("<p>{{text}}</p>", &base_config(), &[]).expect("template");
    match Table::open(path, &TableOptions::default()) {
        Ok(table) => render_table(&template, table, &mut out),
        Err(e) => out.errors.push((variant_code(&e), e.to_string())),
    }
    out
}

/// The table every template is rendered against: row 3 holds a script URL.
fn template_rows(dir: &Path) -> PathBuf {
    let path = dir.join("rows.csv");
    std::fs::write(&path, "id,text\na,hello\nb,javascript:alert(1)\n").expect("write rows");
    path
}

fn run_template(path: &Path, rows: &Path) -> Outcome {
    let mut out = Outcome::default();
    let text = std::fs::read_to_string(path).expect("templates are UTF-8");
    let template = if path.extension().is_some_and(|e| e == "json") {
        // A config file: its own columns, with a plain template.
        let mut config = match TemplateConfig::from_json(&text) {
            Ok(c) => c,
            Err(e) => {
                out.errors.push((config_code(&e), e.to_string()));
                return out;
            }
        };
        "corpus".clone_into(&mut config.name);
        "<p>{{text}}</p>".clone_into(&mut config.template);
        match builder::compile(&config) {
            Ok(t) => t,
            Err(e) => {
                let source = std::error::Error::source(&e);
                let code = if let Some(c) = source.and_then(|s| s.downcast_ref::<ConfigError>()) {
                    config_code(c)
                } else if let Some(t) = source.and_then(|s| s.downcast_ref::<TemplateError>()) {
                    template_code(t)
                } else {
                    format!("{:?}", e.code)
                };
                out.errors.push((code, e.message));
                return out;
            }
        }
    } else {
        match Template::parse(&text, &base_config(), &[]) {
            Ok(t) => t,
            Err(e) => {
                out.errors.push((template_code(&e), e.to_string()));
                return out;
            }
        }
    };
    let table = Table::open(rows, &TableOptions::default()).expect("rows table");
    render_table(&template, table, &mut out);
    out
}

// ---- the checks ----

/// Why `outcome` does not meet `case`, if it does not.
fn verdict(case: &Case, outcome: &Outcome) -> Option<String> {
    let hit = outcome
        .errors
        .iter()
        .find(|(code, message)| *code == case.code && message.contains(&case.place));
    if hit.is_none() {
        return Some(format!(
            "{}: want `{}` naming {:?}, got {:?}",
            case.input, case.code, case.place, outcome.errors
        ));
    }
    match case.survivors {
        Some(n) if n != outcome.survivors => Some(format!(
            "{}: want {n} good items beside the bad one, got {}",
            case.input, outcome.survivors
        )),
        _ => None,
    }
}

/// Runs `f`, turning a panic into a failure that names the input.
fn guarded(input: &str, f: impl FnOnce() -> Outcome) -> Result<Outcome, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        let what = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("{input}: panicked: {what}")
    })
}

fn group_cases(group: &str) -> Vec<Case> {
    cases().into_iter().filter(|c| c.group() == group).collect()
}

fn assert_all(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} corpus entries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_is_large_and_every_input_is_listed() {
    let cases = cases();
    assert!(
        cases.len() >= MIN_ENTRIES,
        "the corpus has {} entries; it must keep at least {MIN_ENTRIES}",
        cases.len()
    );
    let listed: BTreeSet<&str> = cases.iter().map(|c| c.input.as_str()).collect();
    assert_eq!(listed.len(), cases.len(), "an input is listed twice");
    let groups = ["files", "cloud", "tables", "templates", "api"];
    for c in &cases {
        assert!(
            groups.contains(&c.group()),
            "{}: not in a known group",
            c.input
        );
        assert!(resolve(&c.input).is_file(), "{}: no such input", c.input);
    }
    // Whatever lies in the corpus folder, committed or made by make.sh, must be listed.
    let own = ["make.sh", "expected.tsv", "README.md"];
    let mut present: BTreeSet<String> = files_under(&corpus_dir())
        .into_iter()
        .filter(|p| !own.contains(&p.as_str()))
        .collect();
    present.extend(files_under(&made_dir()));
    let unlisted: Vec<&String> = present
        .iter()
        .filter(|p| !listed.contains(p.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "inputs missing from expected.tsv: {unlisted:?}"
    );
    for g in groups {
        assert!(
            cases.iter().any(|c| c.group() == g),
            "the {g} group is empty"
        );
    }
}

#[test]
fn files_are_probed_with_specific_problems() {
    check_group("files", run_file);
}

#[test]
fn a_folder_of_bad_files_uploads_its_good_file_and_rejects_each_bad_one_by_name() {
    let cases = group_cases("files");
    let root = tempfile::tempdir().expect("tempdir");
    let drop = root.path().join("drop");
    std::fs::create_dir_all(&drop).expect("mkdir");
    let mut wanted = BTreeMap::new();
    for case in &cases {
        let src = resolve(&case.input);
        let name = src
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        std::fs::copy(&src, drop.join(&name)).expect("copy input");
        assert!(
            wanted.insert(name.clone(), case.clone()).is_none(),
            "two file inputs are named {name}"
        );
    }
    std::fs::write(drop.join("good.txt"), "a good file between bad ones\n").expect("write");

    let hub = ServeProcess::start(&root.path().join("hub"), "k-malformed", &[]);
    let run = |args: &[&str]| {
        let out = Command::new(bin())
            .args(["--hub", &hub.url, "--api-key", &hub.key, "--json"])
            .args(args)
            .output()
            .expect("run assetdrop");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), v)
    };
    let (_, project) = run(&["project", "create", "Malformed"]);
    let project = project["_id"].as_str().expect("project id").to_owned();
    let (code, report) = run(&[
        "upload",
        "--project",
        &project,
        drop.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(1), "bad files mean exit code 1: {report}");

    let uploaded: Vec<&str> = report["uploaded"]
        .as_array()
        .expect("uploaded")
        .iter()
        .filter_map(|u| u["externalId"].as_str())
        .collect();
    assert_eq!(uploaded, ["good.txt"], "{report}");
    assert_eq!(
        report["failed"].as_array().map_or(0, Vec::len),
        0,
        "a bad file is a rejection, not a failure: {report}"
    );
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for r in report["rejected"].as_array().expect("rejected") {
        let path = PathBuf::from(r["path"].as_str().expect("path"));
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let Some(case) = wanted.get(&name) else {
            failures.push(format!("{name}: rejected but not in the corpus"));
            continue;
        };
        seen.insert(name.clone());
        let errors = r["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .map(|p| {
                (
                    p["code"].as_str().unwrap_or_default().to_owned(),
                    p["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        failures.extend(verdict(
            case,
            &Outcome {
                errors,
                survivors: 0,
            },
        ));
    }
    for name in wanted.keys() {
        if !seen.contains(name) {
            failures.push(format!("{name}: not rejected: {report}"));
        }
    }
    assert_all(&failures);
}

/// Runs every case of `group` through `run` and checks each outcome.
fn check_group(group: &str, run: impl Fn(&Path) -> Outcome) {
    let mut failures = Vec::new();
    for case in group_cases(group) {
        let path = resolve(&case.input);
        match guarded(&case.input, || run(&path)) {
            Ok(outcome) => failures.extend(verdict(&case, &outcome)),
            Err(e) => failures.push(e),
        }
    }
    assert_all(&failures);
}

#[test]
fn cloud_lists_name_the_entry_line_and_field() {
    check_group("cloud", run_cloud);
}

#[test]
fn tables_name_the_line_and_column() {
    check_group("tables", run_table);
}

#[test]
fn templates_name_the_placeholder_element_or_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = template_rows(dir.path());
    // The rows table itself is fine with the base template: two assets, or one error for the
    // script URL only where a template puts `text` into a URL attribute.
    let header = Header::new(vec!["id".into(), "text".into()], 1).expect("header");
    Template::parse("<p>{{text}}</p>", &base_config(), &[])
        .expect("base template")
        .check(&header)
        .expect("base template fits");
    let mut failures = Vec::new();
    for case in group_cases("templates") {
        let path = resolve(&case.input);
        match guarded(&case.input, || run_template(&path, &rows)) {
            Ok(outcome) => failures.extend(verdict(&case, &outcome)),
            Err(e) => failures.push(e),
        }
    }
    assert_all(&failures);
}

/// One request of `api/`, as JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApiRequest {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
    body_text: Option<String>,
    /// Adds a `padding` string of this many bytes to the body object.
    pad_body: Option<usize>,
}

#[tokio::test]
async fn api_requests_get_4xx_naming_the_field_and_the_hub_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = HubConfig::new(dir.path());
    config.api_key = Some("k-malformed".into());
    // Small enough for a corpus file to pass it with `padBody`.
    config.max_json_bytes = 64 << 10;
    let hub = in_process(config).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/v2/project", hub.url))
        .header("apikey", &hub.api_key)
        .json(&json!({"name": "Malformed", "description": "corpus"}))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("json");
    let project = created["data"]["project"]["_id"]
        .as_str()
        .expect("project id")
        .to_owned();

    let mut failures = Vec::new();
    for case in group_cases("api") {
        let text = std::fs::read_to_string(resolve(&case.input)).expect("read request");
        let req: ApiRequest = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a request file: {e}", case.input));
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
        let url = format!("{}{}", hub.url, req.path.replace("{project}", &project));
        let mut builder = http.request(method, url);
        let mut headers = req.headers.clone();
        headers
            .entry("apikey".into())
            .or_insert_with(|| hub.api_key.clone());
        if req.body.is_some() {
            headers
                .entry("content-type".into())
                .or_insert_with(|| "application/json".into());
        }
        for (k, v) in &headers {
            // An empty value means: do not send the header at all.
            if !v.is_empty() {
                builder = builder.header(k, v);
            }
        }
        let body = match (req.body, req.body_text) {
            (Some(mut b), None) => {
                if let (Some(n), Some(o)) = (req.pad_body, b.as_object_mut()) {
                    o.insert("padding".into(), Value::String("x".repeat(n)));
                }
                Some(b.to_string())
            }
            (None, Some(t)) => Some(t),
            (None, None) => None,
            (Some(_), Some(_)) => panic!("{}: give body or bodyText, not both", case.input),
        };
        if let Some(b) = body {
            builder = builder.body(b);
        }
        let resp = builder.send().await.expect("send");
        let status = resp.status();
        let raw = resp.text().await.unwrap_or_default();
        if status.is_server_error() {
            failures.push(format!("{}: {status}: {raw}", case.input));
            continue;
        }
        let message = serde_json::from_str::<Value>(&raw)
            .ok()
            .filter(|v| v["status"] == "fail")
            .and_then(|v| v["message"].as_str().map(str::to_owned));
        let Some(message) = message else {
            failures.push(format!(
                "{}: {status} without a fail envelope: {raw:?}",
                case.input
            ));
            continue;
        };
        failures.extend(verdict(
            &case,
            &Outcome {
                errors: vec![(status.as_u16().to_string(), message)],
                survivors: 0,
            },
        ));
    }

    // After every bad request, a good one still goes through.
    let resp = http
        .post(format!("{}/v2/project/{project}/cloud", hub.url))
        .header("apikey", &hub.api_key)
        .json(&json!({"assets": [{"data": "https://example.com/good.png", "externalId": "good"}]}))
        .send()
        .await
        .expect("send");
    let status = resp.status();
    assert!(
        status == StatusCode::OK || status == StatusCode::CREATED,
        "a good request after the corpus: {status}: {}",
        resp.text().await.unwrap_or_default()
    );
    assert_all(&failures);
    hub.shutdown().await.expect("shutdown");
}
