//! The hub's v2 API over real HTTP on 127.0.0.1: shapes, auth, signed URLs, refusals.

use assetdrop::hub::HubConfig;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::support::hub::{blob_file, in_process};

struct Api {
    url: String,
    key: String,
    http: Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("apikey", &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }
    /// Sends with an `Idempotency-Key`; also says whether the answer was a kept one.
    async fn keyed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: &str,
    ) -> (StatusCode, Value, bool) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("apikey", &self.key)
            .header("Idempotency-Key", key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let replayed = resp.headers().get("idempotent-replayed").is_some();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, v, replayed)
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

fn fail_message(v: &Value) -> &str {
    assert_eq!(v["status"], "fail", "expected a fail envelope, got {v}");
    v["message"].as_str().expect("message")
}

async fn setup(
    config: impl FnOnce(&mut HubConfig),
) -> (tempfile::TempDir, assetdrop::hub::RunningHub, Api) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = HubConfig::new(dir.path());
    c.api_key = Some("test-key".into());
    config(&mut c);
    let hub = in_process(c).await;
    let api = Api {
        url: hub.url.clone(),
        key: hub.api_key.clone(),
        http: Client::new(),
    };
    (dir, hub, api)
}

async fn new_project(api: &Api) -> String {
    let (s, v) = api
        .post("/v2/project", json!({"name": "P", "description": "d"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["data"]["project"]["_id"].as_str().expect("id").to_owned()
}

/// Registers one uploaded blob `data` as an asset with `external_id`; asserts 201.
async fn register_one(api: &Api, project: &str, data: &str, external_id: &str) {
    let (s, v) = api
        .post(
            &format!("/v2/project/{project}/cloud"),
            json!({"assets": [{"data": data, "externalId": external_id}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn upload_bytes(api: &Api, project: &str, name: &str, bytes: &[u8]) -> String {
    let (s, v) = api
        .get(&format!(
            "/v2/getUploadUrl?name={name}&project={project}&type=assets"
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let url = v["data"]["uploadUrl"]
        .as_str()
        .expect("uploadUrl")
        .to_owned();
    let put = api
        .http
        .put(&url)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("put");
    assert_eq!(
        put.status(),
        StatusCode::OK,
        "{}",
        put.text().await.unwrap_or_default()
    );
    url.split('?').next().expect("base").to_owned()
}

#[tokio::test]
async fn full_import_flow_round_trips() {
    let (dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;

    let (s, v) = api.get(&format!("/v2/project/{project}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["project"]["name"], "P");
    assert_eq!(v["data"]["project"]["type"], "ango");
    assert_eq!(v["data"]["project"]["batches"], json!([]));
    assert_eq!(v["data"]["project"]["assetBuilderTemplates"], json!([]));

    let (s, v) = api
        .post(&format!("/v2/batches/{project}"), json!({"name": "b1"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let b1 = v["data"]["project"]["_id"]
        .as_str()
        .expect("batch id")
        .to_owned();
    let (s, v) = api
        .post(
            &format!("/v2/batches/{project}"),
            json!({"batches": [{"_id": b1, "name": "b1"}, {"name": "b2"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let names: Vec<&str> = v["data"]["batches"]
        .as_array()
        .expect("list")
        .iter()
        .map(|b| b["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["b1", "b2"]);

    let png = b"\x89PNG\r\n\x1a\n0000fake-but-sniffable";
    let data = upload_bytes(&api, &project, "abc.png", png).await;
    let text_data = upload_bytes(&api, &project, "notes.txt", b"hello world").await;
    let (s, v) = api
        .post(
            &format!("/v2/project/{project}/cloud?batches=%5B%22b1%22%5D"),
            json!({"assets": [
                {"data": data, "externalId": "cat.png", "metadata": {"width": 2, "height": 3}, "contextData": {"k": "v"}},
                {"data": text_data, "externalId": "notes.txt", "batches": ["b2"]},
                {"data": "https://example.com/a%20b.jpg", "externalId": "remote", "width": 10, "height": 20}
            ], "uploadLocal": "false", "priority": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["data"]["assets"]["assetsCreated"], 3);
    let ids: Vec<String> = serde_json::from_value(v["data"]["assetIds"].clone()).expect("ids");

    let (s, v) = api
        .get(&format!("/v2/project/{project}/assets?page=1&limit=10"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["total"], 3);
    let first = &v["data"]["assets"][0];
    assert_eq!(first["externalId"], "cat.png");
    assert_eq!(first["kind"], "image");
    assert_eq!(first["size"], png.len());
    assert_eq!(first["priority"], 5);
    assert_eq!(first["metadata"], json!({"width": 2, "height": 3}));
    assert_eq!(first["contextData"], json!({"k": "v"}));
    assert_eq!(first["batches"], json!([b1]));
    assert_eq!(v["data"]["assets"][1]["kind"], "text");
    assert_eq!(
        v["data"]["assets"][2]["metadata"],
        json!({"width": 10, "height": 20})
    );
    // The stored bytes equal what was sent, under uploaded-data/<project>/.
    let file = blob_file(dir.path(), &hub.url, first["data"].as_str().expect("data"));
    assert!(file.starts_with(dir.path().join("uploaded-data").join(&project)));
    assert_eq!(std::fs::read(&file).expect("blob"), png);

    // Filters: by external ID, by batch (all must match), by ID; paging.
    let f = |filters: Value| {
        format!(
            "/v2/project/{project}/assets?filters={}",
            percent_encoding::utf8_percent_encode(
                &filters.to_string(),
                percent_encoding::NON_ALPHANUMERIC
            )
        )
    };
    assert_eq!(
        api.get(&f(json!({"externalId": "notes.txt"}))).await.1["data"]["total"],
        1
    );
    assert_eq!(
        api.get(&f(json!({"batches": ["b2"]}))).await.1["data"]["total"],
        1
    );
    assert_eq!(
        api.get(&f(json!({"batches": ["b1", "b2"]}))).await.1["data"]["total"],
        0
    );
    assert_eq!(
        api.get(&f(json!({"_id": ids[2]}))).await.1["data"]["assets"][0]["externalId"],
        "remote"
    );
    let (_, page2) = api
        .get(&format!("/v2/project/{project}/assets?page=2&limit=2"))
        .await;
    assert_eq!(page2["data"]["assets"].as_array().expect("page").len(), 1);

    // Assign batches, then delete.
    let (s, v) = api
        .post(
            "/v2/assignBatches",
            json!({"assets": [ids[1]], "batches": ["b1"], "projectId": project}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        api.get(&f(json!({"batches": ["b1", "b2"]}))).await.1["data"]["total"],
        1
    );
    let (s, v) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/v2/project/{project}/assets"),
            Some(json!({"project": project, "assets": [ids[0]]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        api.get(&format!("/v2/project/{project}/assets")).await.1["data"]["total"],
        2
    );

    // A signed GET URL serves the bytes without a key.
    let (s, v) = api
        .get(&format!(
            "/v2/getSignedUrl?url={}",
            percent_encoding::utf8_percent_encode(&text_data, percent_encoding::NON_ALPHANUMERIC)
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = Client::new()
        .get(v["data"]["signedUrl"].as_str().expect("signed"))
        .send()
        .await
        .expect("get");
    assert_eq!(got.status(), StatusCode::OK);
    // A served file is never sniffed into something else, and runs nothing on the hub's origin.
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    let csp = got.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(
        csp.starts_with("sandbox;") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), b"hello world");
    // Without a signature or key: refused.
    assert_eq!(
        Client::new()
            .get(&text_data)
            .send()
            .await
            .expect("get")
            .status(),
        StatusCode::FORBIDDEN
    );

    let answer = Client::new()
        .get(format!("{}/v2/listProjects", api.url))
        .header("apikey", &api.key)
        .send()
        .await
        .expect("send");
    assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
    let (s, v) = api.get("/v2/listProjects?page=1&limit=10").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["total"], 1);
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn missing_or_wrong_key_is_401() {
    let (_dir, hub, api) = setup(|_| {}).await;
    for key in [None, Some("wrong"), Some("")] {
        let mut req = api.http.get(format!("{}/v2/listProjects", api.url));
        if let Some(k) = key {
            req = req.header("apikey", k);
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "key {key:?}");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(fail_message(&v), "Invalid API KEY");
    }
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn tampered_and_expired_signed_urls_are_403() {
    let (_dir, hub, api) = setup(|c| c.url_ttl_secs = 1).await;
    let project = new_project(&api).await;
    let (_, v) = api
        .get(&format!("/v2/getUploadUrl?name=a.txt&project={project}"))
        .await;
    let url = v["data"]["uploadUrl"].as_str().expect("url").to_owned();
    let (base, query) = url.split_once('?').expect("query");
    // Tampered: another path with the same signature, a changed size limit, a changed signature.
    let (_, v2) = api
        .get(&format!("/v2/getUploadUrl?name=b.txt&project={project}"))
        .await;
    let other_base = v2["data"]["uploadUrl"]
        .as_str()
        .expect("url")
        .split('?')
        .next()
        .expect("base")
        .to_owned();
    let sig_flipped = {
        let i = query.find("sig=").expect("sig") + 4;
        let mut q = query.to_owned();
        let c = if &q[i..=i] == "0" { "1" } else { "0" };
        q.replace_range(i..=i, c);
        q
    };
    for tampered in [
        format!("{other_base}?{query}"),
        format!("{base}?{}", query.replace("maxSize=", "maxSize=9")),
        format!("{base}?{sig_flipped}"),
        base.to_owned(),
    ] {
        let resp = api.http.put(&tampered).body("x").send().await.expect("put");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{tampered}");
        let v: Value = resp.json().await.expect("json");
        assert!(!fail_message(&v).is_empty());
    }
    // Expired: the URL lives one second.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = api.http.put(&url).body("x").send().await.expect("put");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v: Value = resp.json().await.expect("json");
    assert!(fail_message(&v).contains("expired"), "{v}");
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn path_climbing_names_are_refused() {
    let (dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    for name in [
        "../escape.png",
        "..%2Fescape.png",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "a/b.png",
        "..\\x.png",
        ".hidden",
        "",
        "C:evil.png",
    ] {
        let (s, v) = api
            .get(&format!("/v2/getUploadUrl?name={name}&project={project}"))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "name {name:?}: {v}");
        assert!(fail_message(&v).contains("name"), "{v}");
    }
    // Straight at the blob route, with an encoded separator: refused before any signature check.
    let resp = api
        .http
        .put(format!(
            "{}/uploaded-data/{project}/..%2F..%2Fescape.png",
            api.url
        ))
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(!dir.path().join("escape.png").exists());
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let (_dir, hub, api) = setup(|c| {
        c.max_upload_bytes = 1000;
        c.max_json_bytes = 10_000;
    })
    .await;
    let project = new_project(&api).await;
    let (_, v) = api
        .get(&format!("/v2/getUploadUrl?name=big.bin&project={project}"))
        .await;
    let url = v["data"]["uploadUrl"].as_str().expect("url").to_owned();
    // With a Content-Length: refused up front.
    let resp = api
        .http
        .put(&url)
        .body(vec![0u8; 1001])
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: refused when the limit is passed, and nothing is left behind.
    let chunks = futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![1u8; 100])));
    let resp = api
        .http
        .put(&url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = resp.json().await.expect("json");
    assert!(fail_message(&v).contains("larger"));
    // Exactly at the limit: accepted.
    assert_eq!(
        api.http
            .put(&url)
            .body(vec![0u8; 1000])
            .send()
            .await
            .expect("put")
            .status(),
        StatusCode::OK
    );
    // A JSON body over the limit.
    let assets: Vec<Value> = (0..400)
        .map(|i| json!({"data": "https://example.com/x.png", "externalId": format!("{i}")}))
        .collect();
    let (s, v) = api
        .post(
            &format!("/v2/project/{project}/cloud"),
            json!({"assets": assets}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(fail_message(&v).contains("too large"));
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn client_mistakes_are_4xx_naming_the_field() {
    let (_dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    let cloud = format!("/v2/project/{project}/cloud");
    let cases: Vec<(String, Option<Value>, StatusCode, &str)> = vec![
        (
            "/v2/project".into(),
            Some(json!({"description": "no name"})),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            "/v2/project".into(),
            Some(json!({"name": "x", "type": "video"})),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            cloud.clone(),
            Some(json!({"assets": [{"data": "https://e.com/a.png"}]})),
            StatusCode::BAD_REQUEST,
            "assets[0].externalId",
        ),
        (
            cloud.clone(),
            Some(json!({"assets": [{"externalId": "x"}]})),
            StatusCode::BAD_REQUEST,
            "assets[0].data",
        ),
        (
            cloud.clone(),
            Some(
                json!({"assets": [{"data": "https://e.com/a.png", "externalId": "a", "metadata": 3}]}),
            ),
            StatusCode::BAD_REQUEST,
            "assets[0].metadata",
        ),
        (
            cloud.clone(),
            Some(
                json!({"assets": [{"data": "https://e.com/a.png", "externalId": "a"}], "priority": 1001}),
            ),
            StatusCode::BAD_REQUEST,
            "priority",
        ),
        (
            cloud.clone(),
            Some(
                json!({"assets": [{"data": "https://e.com/a.png", "externalId": "a"}], "uploadLocal": "maybe"}),
            ),
            StatusCode::BAD_REQUEST,
            "uploadLocal",
        ),
        (
            cloud.clone(),
            Some(json!({"assets": []})),
            StatusCode::BAD_REQUEST,
            "assets",
        ),
        (
            cloud.clone(),
            Some(
                json!({"assets": [{"data": "https://e.com/a.png", "externalId": "a", "batches": ["nope"]}]}),
            ),
            StatusCode::NOT_FOUND,
            "nope",
        ),
        (
            format!("{cloud}?batches=notjson"),
            Some(json!({"assets": [{"data": "https://e.com/a.png", "externalId": "a"}]})),
            StatusCode::BAD_REQUEST,
            "batches",
        ),
        (
            format!("/uploaded-data/{project}/never.png"),
            None,
            StatusCode::NOT_FOUND,
            "no file",
        ),
        (
            format!("/v2/project/{project}/assets?filters=%7B%22color%22%3A1%7D"),
            None,
            StatusCode::BAD_REQUEST,
            "filters.color",
        ),
        (
            format!("/v2/project/{project}/assets?limit=0"),
            None,
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        // A page number whose offset cannot be counted is refused, not wrapped round to page 1.
        (
            format!("/v2/project/{project}/assets?page=18446744073709551615"),
            None,
            StatusCode::BAD_REQUEST,
            "`page` must be a whole number from 1 to 1000000000",
        ),
        (
            "/v2/listProjects?page=1000000001&limit=10".into(),
            None,
            StatusCode::BAD_REQUEST,
            "`page`",
        ),
        // URLs the hub can neither fetch nor serve are refused, the field named.
        (
            format!("/v2/project/{project}/cloud"),
            Some(json!({"assets": [{"data": "file:///etc/passwd", "externalId": "f"}]})),
            StatusCode::BAD_REQUEST,
            "assets[0].data: a file:// URL",
        ),
        (
            format!("/v2/project/{project}/cloud"),
            Some(json!({"assets": [{"data": "FTP://files.example/a.png", "externalId": "f"}]})),
            StatusCode::BAD_REQUEST,
            "assets[0].data: a ftp:// URL",
        ),
        (
            format!("/v2/project/{project}/cloud"),
            Some(
                json!({"assets": [{"dataset": ["https://e.com/1.png", "gopher://e.com/2.png"], "externalId": "g"}]}),
            ),
            StatusCode::BAD_REQUEST,
            "assets[0].dataset[1]: a gopher:// URL",
        ),
        (
            format!("/v2/project/{project}/cloud"),
            Some(json!({"assets": [{"data": "s3://bucket/a.png", "externalId": "s"}]})),
            StatusCode::BAD_REQUEST,
            "assets[0].data: a s3:// URL",
        ),
        (
            "/v2/project/000000000000000000000000".into(),
            None,
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            "/v2/project/000000000000000000000000/cloud".into(),
            Some(json!({"assets": [{"data": "https://e.com/a.png", "externalId": "a"}]})),
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            "/v2/getUploadUrl?name=a.png".into(),
            None,
            StatusCode::BAD_REQUEST,
            "project",
        ),
        (
            format!("/v2/getUploadUrl?name=a.png&project={project}&type=brushes"),
            None,
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            "/v2/nowhere".into(),
            None,
            StatusCode::NOT_FOUND,
            "no route",
        ),
    ];
    for (path, body, want, needle) in cases {
        let (s, v) = match body {
            Some(b) => api.post(&path, b).await,
            None => api.get(&path).await,
        };
        assert_eq!(s, want, "{path}: {v}");
        let msg = fail_message(&v);
        assert!(
            msg.contains(needle),
            "{path}: message {msg:?} should name {needle:?}"
        );
    }
    // Not JSON at all.
    let resp = api
        .http
        .post(format!("{}{cloud}", api.url))
        .header("apikey", &api.key)
        .body("{nope")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Registering a hub URL nothing was uploaded to.
    let (_, v) = api
        .get(&format!(
            "/v2/getUploadUrl?name=ghost.png&project={project}"
        ))
        .await;
    let ghost = v["data"]["uploadUrl"]
        .as_str()
        .expect("url")
        .split('?')
        .next()
        .expect("base")
        .to_owned();
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": ghost, "externalId": "g"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(fail_message(&v).contains("PUT the file"), "{v}");
    // Reusing an upload name: conflict.
    let (s, _) = api
        .get(&format!(
            "/v2/getUploadUrl?name=ghost.png&project={project}"
        ))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn registration_with_an_upload_id_is_idempotent() {
    let (_dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    let data = upload_bytes(&api, &project, "x.txt", b"abc").await;
    let body = json!({"assets": [{"data": data, "externalId": "x.txt", "uploadId": "u-1"}]});
    let (_, first) = api
        .post(&format!("/v2/project/{project}/cloud"), body.clone())
        .await;
    let (s, again) = api
        .post(&format!("/v2/project/{project}/cloud"), body)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(again["data"]["assets"]["assetsCreated"], 0);
    assert_eq!(first["data"]["assetIds"], again["data"]["assetIds"]);
    assert_eq!(
        api.get(&format!("/v2/project/{project}/assets")).await.1["data"]["total"],
        1
    );
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_registered_blob_cannot_be_overwritten() {
    let (dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    let (_, v) = api
        .get(&format!("/v2/getUploadUrl?name=keep.txt&project={project}"))
        .await;
    let url = v["data"]["uploadUrl"].as_str().expect("url").to_owned();
    let put = |body: &'static str| api.http.put(&url).body(body).send();
    // Before registration a PUT may be repeated (a retry); the last bytes win.
    assert_eq!(put("first").await.expect("put").status(), StatusCode::OK);
    assert_eq!(put("second").await.expect("put").status(), StatusCode::OK);
    let data = url.split('?').next().expect("base").to_owned();
    register_one(&api, &project, &data, "keep.txt").await;
    // After registration the bytes are the asset's: refused, and unchanged on disk.
    let resp = put("third").await.expect("put");
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let v: Value = resp.json().await.expect("json");
    assert!(fail_message(&v).contains("already registered"), "{v}");
    let file = blob_file(dir.path(), &hub.url, &data);
    assert_eq!(std::fs::read(file).expect("blob"), b"second");
    let (_, list) = api.get(&format!("/v2/project/{project}/assets")).await;
    assert_eq!(list["data"]["assets"][0]["size"], 6);
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn storage_credentials_that_cannot_work_are_refused_before_they_are_stored() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    for tried in [true, false] {
        let (_dir, hub, api) = setup(|c| c.try_storages = tried).await;
        // Their form, whether or not the bucket is tried.
        let azure = json!({"name": "az", "provider": "AZURE", "publicKey": "acct",
                           "privateKey": "not base64 at all!", "bucket": "c"});
        let gcp = json!({"name": "gcp", "type": "gcs", "bucket": "b",
                         "credentials": {"private_key": "k", "client_email": "a@b.iam.gserviceaccount.com"}});
        let mut cases = vec![(azure, "base64"), (gcp, "RSA key in PEM form")];
        // On the bucket, unless told not to: an endpoint where nothing answers.
        let s3 = json!({"name": "s3", "type": "aws", "bucket": "photos",
                        "endpoint": format!("http://127.0.0.1:{dead}"),
                        "credentials": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "s3cr3t-value"}});
        if tried {
            cases.push((s3.clone(), "endpoint"));
        }
        for (body, says) in cases {
            let (s, v) = api.post("/v2/storages", body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
            let msg = fail_message(&v);
            let name = body["name"].as_str().expect("name");
            assert!(
                msg.contains(&format!("{name:?}")) && msg.contains(says),
                "{msg}"
            );
            assert!(
                !msg.contains("s3cr3t-value") && !msg.contains("not base64"),
                "{msg}"
            );
        }
        let (_, listed) = api.get("/v2/storages").await;
        assert_eq!(listed["data"]["total"], 0, "nothing stored: {listed}");
        if !tried {
            let (s, v) = api.post("/v2/storages", s3).await;
            assert_eq!(s, StatusCode::CREATED, "stored untried: {v}");
        }
        hub.shutdown().await.expect("shutdown");
    }
}

#[tokio::test]
async fn storages_round_trip_and_never_return_credentials() {
    // No bucket here is reachable: stored untried (their form is still checked).
    let (dir, hub, api) = setup(|c| c.try_storages = false).await;
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let gcp_key = crate::support::servers::service_account_json();
    let gcp_pem: Value = serde_json::from_str(&gcp_key).expect("key json");
    let gcp_pem = gcp_pem["private_key"].as_str().expect("pem").to_owned();
    // The SDK's body (posted with a trailing slash) and the REST docs' body.
    let (s, sdk_made) = api
        .post(
            "/v2/storages/",
            json!({"name": "s3", "provider": "AWS", "publicKey": "AKIAEXAMPLE",
                   "privateKey": secret, "region": "eu-central-1", "credentials": null}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sdk_made}");
    let (s, rest_made) = api
        .post(
            "/v2/storages",
            json!({"name": "gcs", "type": "gcs", "bucket": "b",
                   "credentials": serde_json::from_str::<Value>(&gcp_key).expect("key")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rest_made}");
    let s3 = sdk_made["data"]["storage"].clone();
    assert_eq!(
        (&s3["provider"], &s3["type"], &s3["region"]),
        (&json!("AWS"), &json!("aws"), &json!("eu-central-1"))
    );
    assert_eq!(rest_made["data"]["storage"]["provider"], "GCP");
    assert_eq!(rest_made["data"]["storage"]["bucket"], "b");
    let id = s3["_id"].as_str().expect("id").to_owned();

    let (s, list) = api.get("/v2/storages").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"]["total"], 2);
    let (_, one) = api.get(&format!("/v2/storages?_id={id}")).await;
    assert_eq!(one["data"]["storages"], json!([s3]));
    let (_, page) = api.get("/v2/storages?page=2&limit=1").await;
    assert_eq!(page["data"]["storages"][0]["name"], "gcs");
    let (_, single) = api.get(&format!("/v2/storages/{id}")).await;
    assert_eq!(single["data"]["storage"], s3);
    for v in [&sdk_made, &rest_made, &list, &one, &page, &single] {
        let text = v.to_string();
        assert!(
            !text.contains(secret) && !text.contains("AKIAEXAMPLE"),
            "{text}"
        );
        assert!(
            !text.contains(gcp_pem.lines().nth(1).expect("pem body")),
            "{text}"
        );
    }

    // Listing files needs a bucket: this storage has none of its own, so `bucketName` is
    // required. (Listing real buckets is tested against real servers in tests/storage.rs.)
    let (s, v) = api.get(&format!("/v2/storages/{id}/files?path=")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("bucketName"), "{v}");

    // Assets may name a storage that exists. A URL that is not one of its objects is refused
    // (objects are checked to exist before import); a folder reference (3D assets) names no
    // single object and is kept as given. An unknown storage is a 404 naming it.
    let project = new_project(&api).await;
    let cloud = format!("/v2/project/{project}/cloud");
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": "https://b.example.com/a.png", "externalId": "a", "storage": id}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        fail_message(&v).contains("assets[0].data") && fail_message(&v).contains("AWS"),
        "{v}"
    );
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": "s3-scans/lidar/run1", "externalId": "a", "storage": id}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, assets) = api.get(&format!("/v2/project/{project}/assets")).await;
    assert_eq!(assets["data"]["assets"][0]["storage"], json!(id));
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": "https://b.example.com/a.png", "externalId": "a", "storage": "000000000000000000000000"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(fail_message(&v).contains("assets[0].storage"), "{v}");
    // Uploading into a bucket: a presigned PUT (signed locally, so no network here); the bucket
    // is required when the storage has none.
    let (s, v) = api
        .get(&format!(
            "/v2/getUploadUrl?name=a.png&project={project}&storageId={id}"
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(fail_message(&v).contains("bucket"), "{v}");
    let (s, v) = api
        .get(&format!(
            "/v2/getUploadUrl?name=a.png&project={project}&storageId={id}&bucket=b"
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let put_url = v["data"]["uploadUrl"].as_str().expect("uploadUrl");
    assert!(
        put_url.starts_with(&format!(
            "https://b.s3.eu-central-1.amazonaws.com/uploaded-data/{project}/a.png?"
        )) && put_url.contains("X-Amz-Signature="),
        "{put_url}"
    );
    assert!(!put_url.contains(secret));

    // In use: deleting is a conflict; once the assets are gone, it goes.
    let del = |path: String| {
        let api = &api;
        async move { api.call(reqwest::Method::DELETE, &path, None).await }
    };
    let (s, v) = del(format!("/v2/storages/{id}")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let asset_id = assets["data"]["assets"][0]["_id"].clone();
    let (s, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/v2/project/{project}/assets"),
            Some(json!({"assets": [asset_id]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = del(format!("/v2/storages/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v.to_string().contains(secret));
    let (s, v) = del(format!("/v2/storages/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(fail_message(&v).contains(&id));
    hub.shutdown().await.expect("shutdown");
    // The credentials are kept in the catalog's `secret` column only, sealed.
    let conn = rusqlite::Connection::open(dir.path().join("catalog.sqlite")).expect("catalog");
    let (config, stored): (String, String) = conn
        .query_row(
            "SELECT config, secret FROM storages WHERE name = 'gcs'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert!(stored.starts_with("sealed:v1:"), "{stored}");
    assert!(!stored.contains("private_key") && !config.contains("private_key"));
}

#[tokio::test]
async fn storage_mistakes_name_the_field_and_never_echo_secrets() {
    let (_dir, hub, api) = setup(|_| {}).await;
    let secret = "DO-NOT-ECHO-THIS";
    let cases = [
        (
            json!({"name": "x", "provider": "AWS", "publicKey": "a"}),
            "privateKey",
        ),
        (
            json!({"name": "x", "provider": "aws", "publicKey": "a", "privateKey": secret}),
            "provider",
        ),
        (
            json!({"name": "x", "provider": "GCP", "region": 3, "credentials": secret}),
            "region",
        ),
        (
            json!({"name": "x", "type": "azure", "bucket": "c", "credentials": {}}),
            "credentials",
        ),
        (
            json!({"name": "x", "type": "aws", "bucket": "c", "credentials": {"accessKeyId": secret}}),
            "secretAccessKey",
        ),
        (
            json!({"name": "x", "provider": "AWS", "publicKey": "a", "privateKey": secret, "token": secret}),
            "token",
        ),
        (
            json!({"provider": "AWS", "publicKey": "a", "privateKey": secret}),
            "name",
        ),
        (json!([secret]), "JSON object"),
    ];
    for (body, field) in cases {
        let (s, v) = api.post("/v2/storages", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        let msg = fail_message(&v);
        assert!(msg.contains(field), "{body}: {msg:?} should name {field}");
        assert!(!msg.contains(secret), "{msg}");
    }
    let body = json!({"name": "dup", "provider": "AWS", "publicKey": "a", "privateKey": secret});
    assert_eq!(
        api.post("/v2/storages", body.clone()).await.0,
        StatusCode::CREATED
    );
    let (s, v) = api.post("/v2/storages", body).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(fail_message(&v).contains("dup"));
    let (s, v) = api.get("/v2/storages?limit=101").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(fail_message(&v).contains("limit"));
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn templates_are_checked_and_stored_as_sent() {
    let (_dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    let path = format!("/v2/project/{project}/assetBuilderTemplates");
    // Exactly what the SDK's AssetBuilderTemplate.to_dict() sends.
    let sent = json!({
        "description": "", "name": "t", "template": "<p>{{a}}</p><img src='{{img}}'>",
        "batchColumn": "", "selectedExternalId": "a",
        "dataConfig": {"a": {"type": "text", "includeInExport": true},
                       "img": {"type": "image", "includeInExport": false, "storage": "Public"}},
        "preLabelConfig": {"k": {"cla": {"schemaId": "s", "title": "T", "tool": "radio"}, "value": "a"}}
    });
    let (s, v) = api.post(&path, sent.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let saved = v["data"]["assetBuilderTemplate"].clone();
    let mut expected = sent.clone();
    expected["_id"] = saved["_id"].clone();
    assert_eq!(saved, expected);
    let (_, p) = api.get(&format!("/v2/project/{project}")).await;
    assert_eq!(
        p["data"]["project"]["assetBuilderTemplates"],
        json!([saved])
    );

    let mut bad_type = sent.clone();
    bad_type["dataConfig"]["img"]["type"] = json!("img");
    let mut no_storage = sent.clone();
    no_storage["dataConfig"]["img"]
        .as_object_mut()
        .expect("obj")
        .remove("storage");
    let mut unknown_storage = sent.clone();
    unknown_storage["dataConfig"]["img"]["storage"] = json!("000000000000000000000000");
    let mut external = sent.clone();
    external["selectedExternalId"] = json!("zzz");
    let mut extra = sent.clone();
    extra["batch_column_name"] = json!("a");
    for (body, status, field) in [
        (bad_type, StatusCode::BAD_REQUEST, "dataConfig.img.type"),
        (
            no_storage,
            StatusCode::BAD_REQUEST,
            "dataConfig.img.storage",
        ),
        (
            unknown_storage,
            StatusCode::NOT_FOUND,
            "dataConfig.img.storage",
        ),
        (external, StatusCode::BAD_REQUEST, "selectedExternalId"),
        (extra, StatusCode::BAD_REQUEST, "batch_column_name"),
    ] {
        let (s, v) = api.post(&path, body).await;
        assert_eq!(s, status, "{field}: {v}");
        assert!(fail_message(&v).contains(field), "{field}: {v}");
    }
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn inline_html_is_accepted_with_upload_local() {
    let (_dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    let html = "<div><p>row</p><img src=\"https://e.com/a.png\"></div>";
    let (s, v) = api
        .post(
            &format!("/v2/project/{project}/cloud"),
            json!({"assets": [{"data": html, "externalId": "r1", "contextData": {}, "classifications": [], "batches": []}],
                   "uploadLocal": "true", "priority": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, list) = api.get(&format!("/v2/project/{project}/assets")).await;
    let a = &list["data"]["assets"][0];
    assert_eq!(
        (a["data"].as_str(), a["kind"].as_str()),
        (Some(html), Some("html"))
    );
    assert_eq!(a["isPreLabeled"], false);
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn assets_are_found_by_content() {
    let (_dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    let data = upload_bytes(&api, &project, "x.txt", b"abc").await;
    register_one(&api, &project, &data, "x.txt").await;
    let abc = blake3::hash(b"abc").to_hex().to_string();
    let other = blake3::hash(b"other").to_hex().to_string();
    let path = format!("/v2/project/{project}/assets/byContent");
    let (s, v) = api
        .post(&path, json!({"contentHashes": [other, abc]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let found = v["data"]["assets"].as_array().expect("assets");
    assert_eq!(found.len(), 1, "{v}");
    assert_eq!(found[0]["contentHash"], abc.as_str());
    assert_eq!(found[0]["externalId"], "x.txt");

    // Client mistakes name the field; an unknown project is a 404.
    let (s, v) = api.post(&path, json!({"contentHashes": ["ABC"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(fail_message(&v).contains("contentHashes[0]"), "{v}");
    let (s, _) = api.post(&path, json!({"hashes": [abc]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let many: Vec<String> = (0..10_001).map(|_| abc.clone()).collect();
    let (s, v) = api.post(&path, json!({"contentHashes": many})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(fail_message(&v).contains("at most 10000"), "{v}");
    let (s, _) = api
        .post(
            "/v2/project/000000000000000000000000/assets/byContent",
            json!({"contentHashes": [abc]}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A deleted asset is not there any more.
    let id = found[0]["_id"].as_str().expect("id");
    api.http
        .delete(format!("{}/v2/project/{project}/assets", hub.url))
        .header("apikey", &hub.api_key)
        .json(&json!({"assets": [id]}))
        .send()
        .await
        .expect("delete");
    let (_, v) = api.post(&path, json!({"contentHashes": [abc]})).await;
    assert_eq!(v["data"]["assets"], json!([]));
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn start_up_cleaning_removes_partial_blobs_and_abandoned_uploads_only() {
    let (dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    // '#' is reserved for parts being written.
    let (s, v) = api
        .get(&format!(
            "/v2/getUploadUrl?name=a%231.png&project={project}&type=assets"
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(fail_message(&v).contains("'#'"), "{v}");

    let kept = upload_bytes(&api, &project, "kept.txt", b"registered").await;
    register_one(&api, &project, &kept, "kept.txt").await;
    let orphan = upload_bytes(&api, &project, "orphan.txt", b"never registered").await;
    let (s, _) = api
        .get(&format!(
            "/v2/getUploadUrl?name=never-sent.txt&project={project}&type=assets"
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Names blob storage escapes on disk: a registered `photo~1.png` is stored as
    // `photo%7E1.png`, the very name of an abandoned upload beside it.
    let tilde = upload_bytes(&api, &project, "photo~1.png", b"tilde registered").await;
    register_one(&api, &project, &tilde, "photo~1.png").await;
    upload_bytes(&api, &project, "photo%257E1.png", b"abandoned look-alike").await;
    upload_bytes(
        &api,
        &project,
        "star*%5Bx%5D%7C%3F.png",
        b"abandoned, escaped",
    )
    .await;
    let folder = dir.path().join("uploaded-data").join(&project);
    std::fs::write(folder.join("half.bin#3"), b"part of an upload a crash cut").expect("write");
    std::fs::write(folder.join("photo%7E2.png#4"), b"a part, escaped").expect("write");
    let first_url = hub.url.clone();
    hub.shutdown().await.expect("shutdown");

    // A restart with the default grace period: recent uploads may still be registered.
    let mut c = HubConfig::new(dir.path());
    c.api_key = Some("test-key".into());
    let again = in_process(c).await;
    assert_eq!(again.cleaned.partial_files, 2);
    assert_eq!(again.cleaned.abandoned_uploads, 0);
    assert!(!folder.join("half.bin#3").exists());
    assert!(blob_file(dir.path(), &first_url, &orphan).exists());
    again.shutdown().await.expect("shutdown");

    // With no grace period, unregistered uploads go, with their blobs; registered ones stay.
    let mut c = HubConfig::new(dir.path());
    c.api_key = Some("test-key".into());
    c.abandoned_after_secs = 0;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let last = in_process(c).await;
    assert_eq!(last.cleaned.abandoned_uploads, 4, "{:?}", last.cleaned);
    assert!(!blob_file(dir.path(), &first_url, &orphan).exists());
    let kept_file = blob_file(dir.path(), &first_url, &kept);
    assert_eq!(std::fs::read(kept_file).expect("kept blob"), b"registered");
    // Only the registered blobs are left, the escaped one among them, its bytes its own.
    let mut left: Vec<String> = std::fs::read_dir(&folder)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["kept.txt", "photo%7E1.png"], "{:?}", last.cleaned);
    assert_eq!(
        std::fs::read(folder.join("photo%7E1.png")).expect("tilde blob"),
        b"tilde registered"
    );
    last.shutdown().await.expect("shutdown");
}

/// The names of every project, oldest first (the hub lists the newest first).
async fn project_names(api: &Api) -> Vec<String> {
    let (s, v) = api.get("/v2/listProjects?page=1&limit=1000").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"]["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .rev()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn a_repeat_with_the_same_idempotency_key_gets_the_first_answer_and_changes_nothing() {
    use reqwest::Method;
    let (dir, hub, api) = setup(|_| {}).await;
    let once = json!({"name": "Once", "description": "d"});
    let (s, first, replayed) = api
        .keyed(Method::POST, "/v2/project", Some(once.clone()), "op-1")
        .await;
    assert_eq!((s, replayed), (StatusCode::CREATED, false), "{first}");
    let (s, again, replayed) = api
        .keyed(Method::POST, "/v2/project", Some(once.clone()), "op-1")
        .await;
    assert_eq!((s, replayed), (StatusCode::CREATED, true), "{again}");
    assert_eq!(again, first, "the kept answer, byte for byte");

    // Repeats racing each other: one runs, the others wait for it and get its answer.
    let racing = json!({"name": "Raced"});
    let answers = futures::future::join_all(
        (0..8).map(|_| api.keyed(Method::POST, "/v2/project", Some(racing.clone()), "op-2")),
    )
    .await;
    let ids: std::collections::BTreeSet<_> = answers
        .iter()
        .map(|(s, v, _)| {
            assert_eq!(*s, StatusCode::CREATED, "{v}");
            v["data"]["project"]["_id"].to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| !a.2).count(), 1, "one ran");

    // Without a key, a repeat is a new request (as the official SDK sends them).
    api.post("/v2/project", json!({"name": "Unkeyed"})).await;
    api.post("/v2/project", json!({"name": "Unkeyed"})).await;
    assert_eq!(
        project_names(&api).await,
        ["Once", "Raced", "Unkeyed", "Unkeyed"]
    );

    // The same key for another request is refused, whatever differs.
    for (method, path, body) in [
        (Method::POST, "/v2/project", Some(json!({"name": "Other"}))),
        (Method::POST, "/v2/project?x=1", Some(once.clone())),
        (Method::POST, "/v2/storages", Some(once.clone())),
    ] {
        let (s, v, _) = api.keyed(method, path, body, "op-1").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert!(fail_message(&v).contains("different request"), "{v}");
    }
    // A refused request is not kept: fixed and sent again with its key, it runs.
    let (s, v, _) = api
        .keyed(
            Method::POST,
            "/v2/project",
            Some(json!({"nam": "x"})),
            "op-3",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v, replayed) = api
        .keyed(
            Method::POST,
            "/v2/project",
            Some(json!({"name": "Fixed"})),
            "op-3",
        )
        .await;
    assert_eq!((s, replayed), (StatusCode::CREATED, false), "{v}");
    // Keys that are not 1 to 255 visible ASCII characters.
    for bad in [String::new(), "a b".into(), "k".repeat(256)] {
        let (s, v, _) = api
            .keyed(Method::POST, "/v2/project", Some(once.clone()), &bad)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad:?}: {v}");
        assert!(fail_message(&v).contains("Idempotency-Key"), "{v}");
    }
    // Reads ignore the header.
    let (s, v, replayed) = api
        .keyed(Method::GET, "/v2/listProjects", None, "op-1")
        .await;
    assert_eq!((s, replayed), (StatusCode::OK, false), "{v}");

    // A deletion repeated with its key answers as the first did instead of 404.
    let (_, made) = api
        .post("/v2/storages", json!({"name": "gone", "provider": "AWS", "publicKey": "AKIAEXAMPLE", "privateKey": "k"}))
        .await;
    let storage = made["data"]["storage"]["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v2/storages/{storage}");
    let (s1, d1, _) = api.keyed(Method::DELETE, &path, None, "del-1").await;
    let (s2, d2, replayed) = api.keyed(Method::DELETE, &path, None, "del-1").await;
    assert_eq!(
        (s1, s2, replayed),
        (StatusCode::OK, StatusCode::OK, true),
        "{d1} {d2}"
    );
    assert_eq!(d1, d2);
    let (s, _, _) = api.keyed(Method::DELETE, &path, None, "del-2").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a new key is a new deletion");

    // Kept across a restart of the hub.
    hub.shutdown().await.expect("shutdown");
    let mut config = HubConfig::new(dir.path());
    config.api_key = Some("test-key".into());
    let hub = in_process(config).await;
    let api = Api {
        url: hub.url.clone(),
        key: hub.api_key.clone(),
        http: Client::new(),
    };
    let (s, after, replayed) = api
        .keyed(Method::POST, "/v2/project", Some(once), "op-1")
        .await;
    assert_eq!((s, replayed), (StatusCode::CREATED, true), "{after}");
    assert_eq!(after, first);
    assert_eq!(
        project_names(&api).await,
        ["Once", "Raced", "Unkeyed", "Unkeyed", "Fixed"]
    );
}

/// Opens `n` connections to `addr` that each send the start of a request and then nothing.
async fn slow_sockets(addr: std::net::SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt as _;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
            continue;
        };
        let _ = s.write_all(b"GET / HTTP/1.1\r\n").await;
        out.push(s);
    }
    out
}

/// How many of `sockets` the hub has closed (a read sees the end within a moment).
async fn closed(sockets: &mut [tokio::net::TcpStream]) -> usize {
    use tokio::io::AsyncReadExt as _;
    let mut n = 0;
    for s in sockets.iter_mut() {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(std::time::Duration::from_millis(20), s.read(&mut buf));
        if let Ok(Ok(0) | Err(_)) = read.await {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_sockets_neither_lock_clients_out_nor_stay_open() {
    let (_dir, hub, api) = setup(|c| {
        c.max_connections = Some(200);
        c.header_timeout_secs = 2;
    })
    .await;
    let mut slow = slow_sockets(hub.addr, 1000).await;
    assert!(slow.len() >= 990, "only {} connected", slow.len());
    // A real client still gets answers, promptly, again and again.
    for i in 0..20 {
        let started = std::time::Instant::now();
        let (s, v) = api.get("/v2/listProjects?page=1&limit=10").await;
        assert_eq!(s, StatusCode::OK, "request {i}: {v}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "request {i} waited {:?}",
            started.elapsed()
        );
    }
    // The hub holds no more than its cap: the silent sockets beyond it were closed.
    let gone = closed(&mut slow).await;
    assert!(gone >= slow.len() - 200, "{gone} of {} closed", slow.len());
    // And a header that never completes is given up on: after the timeout, all are closed.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(closed(&mut slow).await, slow.len());
    hub.shutdown().await.expect("shutdown");
}

#[test]
fn a_hub_with_few_file_descriptors_outlives_more_slow_sockets_than_it_can_open() {
    use std::io::{BufRead as _, BufReader};
    // The hub's own limit, as many desktops have: 256 open files.
    let root = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new("prlimit")
        .arg("--nofile=256:256")
        .arg(crate::support::hub::bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "k-fd",
            "--root",
        ])
        .arg(root.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux)");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .expect("url")
        .to_owned();
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().expect("addr");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let slow = slow_sockets(addr, 600).await;
        let api = Api {
            url: url.clone(),
            key: "k-fd".into(),
            // A hub that cannot accept is a failure here, not a hang.
            http: Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .expect("client"),
        };
        for i in 0..10 {
            let (s, v) = api.get("/v2/listProjects?page=1&limit=10").await;
            assert_eq!(
                s,
                StatusCode::OK,
                "request {i} with {} slow sockets: {v}",
                slow.len()
            );
        }
        let (s, v) = api.post("/v2/project", json!({"name": "still here"})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    });
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the hub died"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn listing_pages_are_capped_and_large_assets_refused() {
    let (_dir, hub, api) = setup(|_| {}).await;
    let project = new_project(&api).await;
    let cloud = format!("/v2/project/{project}/cloud");
    // One asset may hold 4 MiB: a dataset of 200,000 pages is refused, naming it.
    let pages: Vec<String> = (0..200_000)
        .map(|i| format!("https://example.com/scan/p{i:07}.jpg"))
        .collect();
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": "https://example.com/a.jpg", "externalId": "small"},
                              {"data": "https://example.com/scan/p0.jpg", "externalId": "huge", "dataset": pages}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let msg = fail_message(&v);
    assert!(msg.contains("assets[1]") && msg.contains("4 MiB"), "{msg}");
    // Pages hold at most 100 assets, as on Ango Hub.
    let (s, v) = api
        .get(&format!("/v2/project/{project}/assets?limit=101"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("1 to 100"), "{v}");
    // A streamed page reads as one JSON answer.
    let assets: Vec<Value> = (0..150)
        .map(|i| json!({"data": format!("https://example.com/{i}.jpg"), "externalId": format!("e{i}")}))
        .collect();
    let (s, v) = api.post(&cloud, json!({"assets": assets})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .get(&format!("/v2/project/{project}/assets?page=2&limit=100"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["data"]["total"].as_u64()),
        (Some("success"), Some(150))
    );
    assert_eq!(
        (v["data"]["page"].as_u64(), v["data"]["limit"].as_u64()),
        (Some(2), Some(100))
    );
    let names: Vec<&str> = v["data"]["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["externalId"].as_str().expect("externalId"))
        .collect();
    assert_eq!(
        names,
        (100..150).map(|i| format!("e{i}")).collect::<Vec<_>>()
    );
    hub.shutdown().await.expect("shutdown");
}

/// Eight registrations of 59 MB each at once: large bodies wait for the hub's body budget
/// instead of all being parsed together (about 1 GB peak without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_large_registrations_stay_within_the_body_budget() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = crate::support::hub::ServeProcess::start(dir.path(), "k", &[]);
    let api = Api {
        url: hub.url.clone(),
        key: "k".into(),
        http: Client::new(),
    };
    let project = new_project(&api).await;
    let assets: Vec<Value> = (0..15)
        .map(|i| {
            let pages: Vec<String> = (0..100_000)
                .map(|j| format!("https://example.com/d{i}/p{j:07}.jpg"))
                .collect();
            json!({"data": format!("https://example.com/d{i}/0.jpg"), "externalId": format!("a{i}"), "dataset": pages})
        })
        .collect();
    let body = bytes::Bytes::from(serde_json::to_vec(&json!({"assets": assets})).expect("json"));
    assert!(body.len() > 55_000_000, "{}", body.len());
    let before = hub.peak_memory();
    let url = format!("{}/v2/project/{project}/cloud", hub.url);
    let sends = (0..8).map(|_| {
        let (http, url, body) = (api.http.clone(), url.clone(), body.clone());
        tokio::spawn(async move {
            let r = http
                .post(url)
                .header("apikey", "k")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("send");
            r.status()
        })
    });
    for s in futures::future::join_all(sends).await {
        assert_eq!(s.expect("task"), StatusCode::CREATED);
    }
    let peak = hub.peak_memory();
    let (_, v) = api
        .get(&format!("/v2/project/{project}/assets?limit=1"))
        .await;
    assert_eq!(v["data"]["total"], 8 * 15, "{v}");
    assert!(
        peak < 700 << 20,
        "peak {} MB (before {} MB)",
        peak >> 20,
        before >> 20
    );
}
