//! Storage integrations against real servers on 127.0.0.1 (s3s-fs, Azurite, fake-gcs-server,
//! started by `support::servers`): private objects imported by reference, prefixes listed and
//! paged, presigned URLs fetched (and, where the server checks them, refused once expired or
//! altered), `uploadLocal` downloads with their SSRF guard, and the CLI commands on top.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use assetdrop::hub::{HubConfig, RunningHub};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::support::hub::{bin, blob_file, in_process, ServeProcess};
use crate::support::servers::{
    binary_in, service_account_json, AzureServer, GcsServer, S3Server, AZURE_ACCOUNT, AZURE_KEY,
    S3_ACCESS_KEY, S3_SECRET_KEY,
};

struct Api {
    url: String,
    key: String,
    http: Client,
}

impl Api {
    fn new(hub: &RunningHub) -> Self {
        Self {
            url: hub.url.clone(),
            key: hub.api_key.clone(),
            http: Client::new(),
        }
    }
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("apikey", &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, v, text)
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call(reqwest::Method::GET, path, None).await;
        (s, v)
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self.call(reqwest::Method::POST, path, Some(body)).await;
        (s, v)
    }
    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call(reqwest::Method::DELETE, path, None).await;
        (s, v)
    }
}

fn fail_message(v: &Value) -> &str {
    assert_eq!(v["status"], "fail", "expected a fail envelope, got {v}");
    v["message"].as_str().expect("message")
}

async fn start_hub(config: impl FnOnce(&mut HubConfig)) -> (tempfile::TempDir, RunningHub, Api) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = HubConfig::new(dir.path());
    c.api_key = Some("storage-test-key".into());
    config(&mut c);
    let hub = in_process(c).await;
    let api = Api::new(&hub);
    (dir, hub, api)
}

async fn new_project(api: &Api) -> String {
    let (s, v) = api
        .post("/v2/project", json!({"name": "Bucket import"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["data"]["project"]["_id"].as_str().expect("id").to_owned()
}

async fn create_storage(api: &Api, body: Value) -> String {
    let (s, v) = api.post("/v2/storages", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["data"]["storage"]["_id"].as_str().expect("id").to_owned()
}

fn s3_storage(s3: &S3Server, name: &str, secret: &str) -> Value {
    json!({"name": name, "type": "aws", "bucket": "photos", "region": "us-east-1",
           "endpoint": s3.endpoint,
           "credentials": {"accessKeyId": S3_ACCESS_KEY, "secretAccessKey": secret}})
}

async fn put(store: &dyn ObjectStore, key: &str, bytes: &[u8]) {
    store
        .put(&ObjectPath::from(key), PutPayload::from(bytes.to_vec()))
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"));
}

async fn fetch(url: &str) -> (StatusCode, Vec<u8>) {
    let r = reqwest::get(url).await.expect("GET");
    let s = r.status();
    (s, r.bytes().await.expect("body").to_vec())
}

/// Replaces the last character of the query parameter `param` with another hex digit.
fn tamper(url: &str, param: &str) -> String {
    let mut u = url::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let mut v = v.into_owned();
            if k == param {
                let last = v.pop().expect("non-empty");
                v.push(if last == 'a' { 'b' } else { 'a' });
            }
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

async fn all_files(
    api: &Api,
    id: &str,
    path: &str,
    limit: usize,
) -> (Vec<Value>, Vec<Value>, usize) {
    let mut files = Vec::new();
    let mut folders = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = format!("/v2/storages/{id}/files?path={path}&limit={limit}");
        if let Some(t) = &token {
            q.push_str("&scrollToken=");
            q.push_str(
                &percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            );
        }
        let (s, v) = api.get(&q).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        pages += 1;
        files.extend(
            v["data"]["files"]
                .as_array()
                .expect("files")
                .iter()
                .cloned(),
        );
        folders.extend(
            v["data"]["folders"]
                .as_array()
                .expect("folders")
                .iter()
                .cloned(),
        );
        match v["data"]["scrollToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
        assert!(pages < 50, "paging does not end");
    }
    (files, folders, pages)
}

fn keys(list: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = list
        .iter()
        .map(|f| f["key"].as_str().expect("key").to_owned())
        .collect();
    k.sort();
    k
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

#[tokio::test]
async fn s3_private_objects_list_import_and_sign() {
    let s3 = S3Server::start(&["photos"]);
    let store = s3.store("photos");
    for (k, b) in [
        ("cats/a.png", PNG),
        ("cats/b b.jpg", b"jpeg-ish".as_slice()),
        ("cats/c.png", PNG),
        ("cats/day2/d.png", PNG),
        ("dogs/e.png", PNG),
        ("top.txt", b"hello".as_slice()),
    ] {
        put(&store, k, b).await;
    }
    let (dir, hub, api) = start_hub(|_| {}).await;
    let id = create_storage(&api, s3_storage(&s3, "s3", S3_SECRET_KEY)).await;
    let (_, one) = api.get(&format!("/v2/storages/{id}")).await;
    assert_eq!(one["data"]["storage"]["endpoint"], json!(s3.endpoint));
    assert!(!one.to_string().contains(S3_SECRET_KEY));

    // The top of the bucket: folders and the one file.
    let (s, top) = api.get(&format!("/v2/storages/{id}/files")).await;
    assert_eq!(s, StatusCode::OK, "{top}");
    assert_eq!(
        keys(top["data"]["folders"].as_array().expect("folders")),
        ["cats/", "dogs/"]
    );
    assert_eq!(
        keys(top["data"]["files"].as_array().expect("files")),
        ["top.txt"]
    );
    assert_eq!(top["data"]["bucket"], "photos");
    // One folder, paged one entry at a time: the same set as one page.
    let (files, folders, pages) = all_files(&api, &id, "cats", 1).await;
    assert_eq!(keys(&files), ["cats/a.png", "cats/b b.jpg", "cats/c.png"]);
    assert_eq!(keys(&folders), ["cats/day2/"]);
    assert!(pages >= 3, "limit=1 must page ({pages} pages)");
    let (whole, _, pages) = all_files(&api, &id, "cats/", 1000).await;
    assert_eq!((keys(&whole), pages), (keys(&files), 1));
    let spaced = whole
        .iter()
        .find(|f| f["name"] == "b b.jpg")
        .expect("b b.jpg");
    assert_eq!(spaced["size"], 8);
    assert_eq!(
        spaced["url"],
        format!("{}/photos/cats/b%20b.jpg", s3.endpoint)
    );

    // Presigned GETs in the listing work; an altered one is refused by the server.
    let (s, v) = api
        .get(&format!(
            "/v2/storages/{id}/files?path=cats/&getSignedUrls=true"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for f in v["data"]["files"].as_array().expect("files") {
        let (s, body) = fetch(f["signedUrl"].as_str().expect("signedUrl")).await;
        assert_eq!(s, StatusCode::OK, "{f}");
        assert_eq!(body.len() as u64, f["size"].as_u64().expect("size"));
    }
    let signed = v["data"]["files"][0]["signedUrl"].as_str().expect("signed");
    assert_eq!(
        fetch(&tamper(signed, "X-Amz-Signature")).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = fetch(v["data"]["files"][0]["url"].as_str().expect("url")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the bucket is private");

    // Import by reference: each object is checked first.
    let project = new_project(&api).await;
    let cloud = format!("/v2/project/{project}/cloud");
    let a_url = format!("{}/photos/cats/a.png", s3.endpoint);
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [
                {"data": a_url, "externalId": "a.png", "storage": id},
                {"data": "s3://photos/cats/b%20b.jpg", "externalId": "b", "storage": id},
                {"data": format!("{}/photos/cats/c.png?storageId={id}", s3.endpoint), "externalId": "c"},
            ], "storage": id, "uploadLocal": "true"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["data"]["assets"]["assetsCreated"], 3);
    let (_, listed) = api.get(&format!("/v2/project/{project}/assets")).await;
    let assets = listed["data"]["assets"].as_array().expect("assets");
    assert!(assets.iter().all(|a| a["storage"] == json!(id)), "{listed}");
    assert_eq!(assets[0]["data"], json!(a_url), "referenced, not copied");
    assert_eq!(assets[0]["size"], PNG.len());
    assert_eq!(assets[0]["kind"], "image");
    assert!(
        !hub_root_has_blobs(&dir.path().join("uploaded-data")),
        "storage objects are never copied to the hub"
    );

    // Missing objects and URLs of another place: 400 by asset index, nothing imported.
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [
                {"data": a_url, "externalId": "ok", "storage": id},
                {"data": format!("{}/photos/cats/nope.png", s3.endpoint), "externalId": "gone", "storage": id},
                {"data": "s3://photos/cats/also-missing.png", "externalId": "gone2", "storage": id},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let msg = fail_message(&v);
    assert!(
        msg.contains("assets[1].data") && msg.contains("cats/nope.png"),
        "{msg}"
    );
    assert!(
        msg.contains("assets[2].data") && !msg.contains("assets[0]"),
        "{msg}"
    );
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": "https://example.com/x.png", "externalId": "x", "storage": id}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("assets[0].data"), "{v}");
    assert!(
        fail_message(&v).contains("not an object of this AWS storage"),
        "{v}"
    );
    let (_, listed) = api.get(&format!("/v2/project/{project}/assets")).await;
    assert_eq!(listed["data"]["total"], 3, "failed requests import nothing");

    // getSignedUrl for an asset's URL, by parameter or by the URL's own ?storageId=.
    for q in [
        format!("url={}&storageId={id}", enc(&a_url)),
        format!("url={}", enc(&format!("{a_url}?storageId={id}"))),
    ] {
        let (s, v) = api.get(&format!("/v2/getSignedUrl?{q}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, body) = fetch(v["data"]["signedUrl"].as_str().expect("signedUrl")).await;
        assert_eq!((s, body.as_slice()), (StatusCode::OK, PNG));
    }
    let (s, v) = api
        .get(&format!(
            "/v2/getSignedUrl?url={}&storageId={id}",
            enc("https://elsewhere.example/x.png")
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("`url`"), "{v}");

    // Upload into the bucket through a presigned PUT, then register it by reference.
    let (s, v) = api
        .get(&format!(
            "/v2/getUploadUrl?name=new.png&project={project}&type=assets&storageId={id}"
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let put_url = v["data"]["uploadUrl"].as_str().expect("uploadUrl");
    let r = Client::new()
        .put(put_url)
        .body(PNG.to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::OK);
    let meta = store
        .head(&ObjectPath::from(format!(
            "uploaded-data/{project}/new.png"
        )))
        .await
        .expect("object in the bucket");
    assert_eq!(meta.size, PNG.len() as u64);
    let data = put_url.split('?').next().expect("base");
    let (s, v) = api
        .post(&cloud, json!({"assets": [{"data": data, "externalId": "new.png", "storage": id}], "uploadLocal": "true"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // In use: the storage cannot be deleted; an unknown one is a 404.
    let (s, v) = api.delete(&format!("/v2/storages/{id}")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = api.get("/v2/storages/000000000000000000000000/files").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    hub.shutdown().await.expect("shutdown");
}

fn hub_root_has_blobs(dir: &Path) -> bool {
    walk(dir).into_iter().any(|p| p.is_file())
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn s3_expired_urls_wrong_keys_and_dead_endpoints_are_refused() {
    let s3 = S3Server::start(&["photos"]);
    put(&s3.store("photos"), "a.png", PNG).await;
    // Signed URLs live one second on this hub.
    let (_dir, hub, api) = start_hub(|c| c.url_ttl_secs = 1).await;
    let id = create_storage(&api, s3_storage(&s3, "s3", S3_SECRET_KEY)).await;
    let url = format!("{}/photos/a.png", s3.endpoint);
    let (s, v) = api
        .get(&format!(
            "/v2/getSignedUrl?url={}&storageId={id}",
            enc(&url)
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let signed = v["data"]["signedUrl"].as_str().expect("signed").to_owned();
    assert!(signed.contains("X-Amz-Expires=1"), "{signed}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (s, body) = fetch(&signed).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        String::from_utf8_lossy(&body).contains("expired"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // Credentials are tried before they are stored: a wrong secret, a bucket that does not
    // exist and an endpoint where nothing answers are each refused at once, saying which
    // storage and what to check, never echoing the secret, and nothing is stored.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let wrong = s3_storage(&s3, "wrong", "not-the-secret");
    let mut missing = s3_storage(&s3, "missing", S3_SECRET_KEY);
    missing["bucket"] = json!("no-such-bucket");
    let mut down = s3_storage(&s3, "down", S3_SECRET_KEY);
    down["endpoint"] = json!(format!("http://127.0.0.1:{dead}"));
    for (body, says) in [
        (&wrong, "credentials"),
        (&missing, "no-such-bucket"),
        (&down, "endpoint"),
    ] {
        let started = std::time::Instant::now();
        let (s, v) = api.post("/v2/storages", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        let msg = fail_message(&v);
        let name = body["name"].as_str().expect("name");
        assert!(
            msg.contains(&format!("{name:?}")) && msg.contains(says),
            "{msg}"
        );
        assert!(msg.contains("nothing was stored"), "{msg}");
        assert!(!msg.contains("not-the-secret"), "{msg}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    let (_, listed) = api.get("/v2/storages").await;
    assert_eq!(listed["data"]["total"], 1, "{listed}");

    // A hub told not to try them (it signs for buckets it cannot reach) stores them; then the
    // storage's server refuses at use, and the hub says which storage and what to check.
    let (_untried_dir, untried, untried_api) = start_hub(|c| c.try_storages = false).await;
    let bad = create_storage(&untried_api, wrong).await;
    let (s, v) = untried_api.get(&format!("/v2/storages/{bad}/files")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let msg = fail_message(&v);
    assert!(msg.contains(&bad) && msg.contains("credentials"), "{msg}");
    assert!(!msg.contains("not-the-secret"), "{msg}");
    let project = new_project(&untried_api).await;
    let (s, v) = untried_api
        .post(
            &format!("/v2/project/{project}/cloud"),
            json!({"assets": [{"data": url, "externalId": "a", "storage": bad}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("assets[0].data"), "{v}");

    // A storage whose server is down: a quick 502 naming it, not a hang.
    let down = create_storage(&untried_api, down).await;
    let started = std::time::Instant::now();
    let (s, v) = untried_api.get(&format!("/v2/storages/{down}/files")).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert!(fail_message(&v).contains(&down), "{v}");
    assert!(started.elapsed() < Duration::from_secs(30));
    untried.shutdown().await.expect("shutdown");
    // Bucket listing needs a bucket: the storage's own or `bucketName`.
    let mut body = s3_storage(&s3, "nobucket", S3_SECRET_KEY);
    body.as_object_mut().expect("obj").remove("type");
    body.as_object_mut().expect("obj").remove("bucket");
    body.as_object_mut().expect("obj").remove("credentials");
    body["provider"] = json!("AWS");
    body["publicKey"] = json!(S3_ACCESS_KEY);
    body["privateKey"] = json!(S3_SECRET_KEY);
    let nobucket = create_storage(&api, body).await;
    let (s, v) = api.get(&format!("/v2/storages/{nobucket}/files")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("bucketName"), "{v}");
    let (s, v) = api
        .get(&format!("/v2/storages/{nobucket}/files?bucketName=photos"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        keys(v["data"]["files"].as_array().expect("files")),
        ["a.png"]
    );
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn azure_private_objects_through_azurite() {
    let az = AzureServer::start();
    az.create_container("media");
    let store = az.store("media");
    put(&store, "scans/x.png", PNG).await;
    put(&store, "scans/sub/y.png", PNG).await;
    let (_dir, hub, api) = start_hub(|_| {}).await;
    // The SDK's body shape, with our `bucket` and `endpoint` extensions.
    let id = create_storage(
        &api,
        json!({"name": "az", "provider": "AZURE", "publicKey": AZURE_ACCOUNT,
               "privateKey": AZURE_KEY, "bucket": "media", "endpoint": az.endpoint}),
    )
    .await;
    let (s, v) = api
        .get(&format!(
            "/v2/storages/{id}/files?path=scans&getSignedUrls=true"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}\n{}", az.log_text());
    assert_eq!(
        keys(v["data"]["files"].as_array().expect("files")),
        ["scans/x.png"]
    );
    assert_eq!(
        keys(v["data"]["folders"].as_array().expect("folders")),
        ["scans/sub/"]
    );
    let file = &v["data"]["files"][0];
    assert_eq!(file["url"], format!("{}/media/scans/x.png", az.endpoint));
    let signed = file["signedUrl"].as_str().expect("signed SAS URL");
    assert_eq!(fetch(signed).await, (StatusCode::OK, PNG.to_vec()));
    assert_eq!(fetch(&tamper(signed, "sig")).await.0, StatusCode::FORBIDDEN);
    assert_ne!(
        fetch(file["url"].as_str().expect("url")).await.0,
        StatusCode::OK,
        "private"
    );

    let project = new_project(&api).await;
    let cloud = format!("/v2/project/{project}/cloud");
    let (s, v) = api
        .post(&cloud, json!({"assets": [
            {"data": file["url"], "externalId": "x.png", "storage": id},
            {"data": format!("az://media/scans/sub/y.png"), "externalId": "y.png", "storage": id}]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .post(&cloud, json!({"assets": [{"data": format!("{}/media/scans/none.png", az.endpoint), "externalId": "n", "storage": id}]}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("assets[0].data"), "{v}");

    // A SAS storage reads and lists, but cannot sign (a SAS cannot make another SAS).
    let sas = AzureServer::account_sas("rl", 3600);
    let sas_id = create_storage(
        &api,
        json!({"name": "az-sas", "type": "azure", "bucket": "media", "endpoint": az.endpoint,
               "credentials": {"accountName": AZURE_ACCOUNT, "sasToken": sas}}),
    )
    .await;
    let (s, v) = api
        .get(&format!("/v2/storages/{sas_id}/files?path=scans/sub"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}\n{}", az.log_text());
    assert_eq!(
        keys(v["data"]["files"].as_array().expect("files")),
        ["scans/sub/y.png"]
    );
    let (s, v) = api
        .post(&cloud, json!({"assets": [{"data": "az://media/scans/x.png", "externalId": "x", "storage": sas_id}]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .get(&format!(
            "/v2/getSignedUrl?url={}&storageId={sas_id}",
            enc("az://media/scans/x.png")
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_IMPLEMENTED, "{v}");
    assert!(fail_message(&v).contains("SAS"), "{v}");
    assert!(
        !v.to_string()
            .contains(&sas[sas.find("sig=").expect("sig") + 4..]),
        "SAS never echoed"
    );
    let (_, all) = api.get("/v2/storages").await;
    assert!(!all.to_string().contains(AZURE_KEY) && !all.to_string().contains("sig="));

    // Expired SAS URLs are refused by Azurite.
    let (_dir2, hub2, api2) = start_hub(|c| c.url_ttl_secs = 1).await;
    let short = create_storage(
        &api2,
        json!({"name": "az", "provider": "AZURE", "publicKey": AZURE_ACCOUNT,
               "privateKey": AZURE_KEY, "bucket": "media", "endpoint": az.endpoint}),
    )
    .await;
    let (s, v) = api2
        .get(&format!(
            "/v2/getSignedUrl?url={}&storageId={short}",
            enc("az://media/scans/x.png")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let signed = v["data"]["signedUrl"].as_str().expect("signed").to_owned();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(fetch(&signed).await.0, StatusCode::FORBIDDEN);
    hub2.shutdown().await.expect("shutdown");
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn gcs_objects_through_fake_gcs_server() {
    let gcs = GcsServer::start();
    gcs.create_bucket("frames").await;
    gcs.upload("frames", "clips/f1.png", PNG).await;
    gcs.upload("frames", "clips/f 2.png", PNG).await;
    gcs.upload("frames", "clips/deep/f3.png", PNG).await;
    let (_dir, hub, api) = start_hub(|_| {}).await;
    let key = service_account_json();
    let id = create_storage(
        &api,
        json!({"name": "gcs", "provider": "GCP", "credentials": key, "bucket": "frames",
               "endpoint": gcs.endpoint}),
    )
    .await;
    let (_, all) = api.get("/v2/storages").await;
    assert!(!all.to_string().contains("PRIVATE KEY"), "{all}");

    let (files, folders, _) = all_files(&api, &id, "clips", 1000).await;
    assert_eq!(
        keys(&files),
        ["clips/f 2.png", "clips/f1.png"],
        "{}",
        gcs.log_text()
    );
    assert_eq!(keys(&folders), ["clips/deep/"]);
    let f1 = files.iter().find(|f| f["name"] == "f1.png").expect("f1");
    assert_eq!(f1["url"], format!("{}/frames/clips/f1.png", gcs.endpoint));

    let project = new_project(&api).await;
    let cloud = format!("/v2/project/{project}/cloud");
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [
            {"data": f1["url"], "externalId": "f1", "storage": id},
            {"data": "gs://frames/clips/deep/f3.png", "externalId": "f3", "storage": id}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}\n{}", gcs.log_text());
    let (s, v) = api
        .post(&cloud, json!({"assets": [{"data": "gs://frames/clips/none.png", "externalId": "n", "storage": id}]}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(fail_message(&v).contains("assets[0].data"), "{v}");

    // V4 signed URLs are made locally with the service account's key and served by the
    // emulator (which checks neither signature nor expiry, so neither is tested here).
    let (s, v) = api
        .get(&format!(
            "/v2/getSignedUrl?url={}&storageId={id}",
            enc("gs://frames/clips/f 2.png")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let signed = v["data"]["signedUrl"].as_str().expect("signed");
    assert!(signed.contains("X-Goog-Signature="), "{signed}");
    assert_eq!(fetch(signed).await, (StatusCode::OK, PNG.to_vec()));

    // Paged listing gives the same set (the emulator ignores the page size and answers in one
    // page; real GCS pages).
    let (paged, _, _) = all_files(&api, &id, "clips", 1).await;
    assert_eq!(keys(&paged), keys(&files));

    // A presigned PUT into the bucket (the emulator takes XML-API PUTs that carry
    // X-Goog-Algorithm), then the object registered by reference.
    let (s, v) = api
        .get(&format!(
            "/v2/getUploadUrl?name=up.png&project={project}&type=assets&storageId={id}"
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let put_url = v["data"]["uploadUrl"].as_str().expect("uploadUrl");
    let r = Client::new()
        .put(put_url)
        .body(PNG.to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::OK);
    let data = put_url.split('?').next().expect("base");
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": data, "externalId": "up.png", "storage": id}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    hub.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn upload_local_downloads_urls_and_refuses_private_addresses_without_the_flag() {
    // The "public" URLs: presigned GETs of a real S3 server (on loopback, as every test server).
    let s3 = S3Server::start(&["pub"]);
    let store = s3.store("pub");
    let big = vec![7u8; 300_000];
    put(&store, "one.png", PNG).await;
    put(&store, "big.bin", &big).await;
    let (_sd, signer_hub, signer) = start_hub(|_| {}).await;
    let sid = create_storage(
        &signer,
        json!({"name": "pub", "type": "aws", "bucket": "pub", "endpoint": s3.endpoint,
               "credentials": {"accessKeyId": S3_ACCESS_KEY, "secretAccessKey": S3_SECRET_KEY}}),
    )
    .await;
    let presign = |key: &'static str| {
        let signer = &signer;
        let sid = sid.clone();
        async move {
            let (s, v) = signer
                .get(&format!(
                    "/v2/getSignedUrl?url={}&storageId={sid}",
                    enc(&format!("s3://pub/{key}"))
                ))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["data"]["signedUrl"].as_str().expect("signed").to_owned()
        }
    };
    let one = presign("one.png").await;
    let big_url = presign("big.bin").await;
    let missing = format!("{}/pub/missing.png", s3.endpoint);

    // Allowed: bytes land in uploaded-data/, the asset points at the hub's copy.
    let (dir, hub_ok, api) = start_hub(|c| c.allow_private_downloads = true).await;
    let project = new_project(&api).await;
    let cloud = format!("/v2/project/{project}/cloud");
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": one, "externalId": "one.png"},
                                        {"data": big_url, "externalId": "big"}],
                             "uploadLocal": "true"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, listed) = api.get(&format!("/v2/project/{project}/assets")).await;
    let assets = listed["data"]["assets"].as_array().expect("assets");
    for (a, want) in assets.iter().zip([PNG, big.as_slice()]) {
        let data = a["data"].as_str().expect("data");
        assert!(data.starts_with(&hub_ok.url), "{a}");
        let file = blob_file(dir.path(), &hub_ok.url, data);
        assert_eq!(std::fs::read(&file).expect("blob"), want);
        assert_eq!(a["size"], want.len());
        assert_eq!(a["contentHash"], blake3::hash(want).to_hex().as_str());
        assert!(a["sourceUrl"]
            .as_str()
            .expect("sourceUrl")
            .starts_with(&s3.endpoint));
    }
    assert_eq!(assets[0]["kind"], "image");
    assert_eq!(
        Path::new(&data_name(&assets[0])).extension(),
        Some(std::ffi::OsStr::new("png"))
    );

    // One URL fails (404): nothing imported, and the copies already made are removed.
    let before = walk(&dir.path().join("uploaded-data"))
        .into_iter()
        .filter(|p| p.is_file())
        .count();
    let (s, v) = api
        .post(
            &cloud,
            json!({"assets": [{"data": one, "externalId": "again"},
                                        {"data": missing, "externalId": "missing"}],
                             "uploadLocal": "true"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let msg = fail_message(&v);
    assert!(
        msg.contains("assets[1].data") && msg.contains("403"),
        "{msg}"
    );
    let after = walk(&dir.path().join("uploaded-data"))
        .into_iter()
        .filter(|p| p.is_file())
        .count();
    assert_eq!(before, after, "no blob left behind");
    let (_, listed) = api.get(&format!("/v2/project/{project}/assets")).await;
    assert_eq!(listed["data"]["total"], 2);
    hub_ok.shutdown().await.expect("shutdown");

    // Larger than the hub accepts: 413.
    let (_d, hub_small, small) = start_hub(|c| {
        c.allow_private_downloads = true;
        c.max_upload_bytes = 100_000;
    })
    .await;
    let p = new_project(&small).await;
    let (s, v) = small
        .post(
            &format!("/v2/project/{p}/cloud"),
            json!({"assets": [{"data": big_url, "externalId": "big"}], "uploadLocal": "true"}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    hub_small.shutdown().await.expect("shutdown");

    // Without the flag (the default, and `serve` without --allow-private-downloads): refused,
    // loopback by address and by name, before any connection; nothing imported.
    let root = tempfile::tempdir().expect("root");
    let served = ServeProcess::start(root.path(), "k", &[]);
    let api = Api {
        url: served.url.clone(),
        key: "k".into(),
        http: Client::new(),
    };
    let p = new_project(&api).await;
    let localhost = one.replace("127.0.0.1", "localhost");
    for url in [
        one.as_str(),
        localhost.as_str(),
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/x.png",
    ] {
        let (s, v) = api
            .post(
                &format!("/v2/project/{p}/cloud"),
                json!({"assets": [{"data": url, "externalId": "x"}], "uploadLocal": "true"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {v}");
        let msg = fail_message(&v);
        assert!(
            msg.contains("allow private downloads") && msg.contains("assets[0].data"),
            "{msg}"
        );
        assert!(
            !msg.contains("X-Amz-Signature"),
            "signed queries are redacted: {msg}"
        );
    }
    let (_, listed) = api.get(&format!("/v2/project/{p}/assets")).await;
    assert_eq!(listed["data"]["total"], 0);
    assert!(!hub_root_has_blobs(&root.path().join("uploaded-data")));
    drop(served);

    // The same hub binary with the flag downloads.
    let root = tempfile::tempdir().expect("root");
    let served = ServeProcess::start(root.path(), "k", &["--allow-private-downloads"]);
    let api = Api {
        url: served.url.clone(),
        key: "k".into(),
        http: Client::new(),
    };
    let p = new_project(&api).await;
    let (s, v) = api
        .post(
            &format!("/v2/project/{p}/cloud"),
            json!({"assets": [{"data": one, "externalId": "one.png"}], "uploadLocal": "true"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    signer_hub.shutdown().await.expect("shutdown");
}

fn data_name(asset: &Value) -> String {
    asset["data"]
        .as_str()
        .expect("data")
        .rsplit('/')
        .next()
        .expect("name")
        .to_owned()
}

fn cli(hub: &ServeProcess, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(["--hub", &hub.url, "--api-key", &hub.key])
        .args(args)
        .envs(env.iter().copied())
        .env_remove("ASSETDROP_ROOT")
        .output()
        .expect("run assetdrop");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_storage_commands_and_import_prefix() {
    let s3 = S3Server::start(&["shots"]);
    let store = s3.store("shots");
    for k in [
        "set/day1/a.png",
        "set/day1/b.PNG",
        "set/day1/notes.txt",
        "set/day2/c.png",
        "set/top.png",
        "other/z.png",
    ] {
        put(&store, k, PNG).await;
    }
    let root = tempfile::tempdir().expect("root");
    let served = ServeProcess::start(root.path(), "cli-key", &[]);

    // add: secrets from the environment, the ID on stdout, no secret anywhere in the output.
    let (code, out, err) = cli(
        &served,
        &[
            "storage",
            "add",
            "--name",
            "shots",
            "--provider",
            "aws",
            "--bucket",
            "shots",
            "--endpoint",
            &s3.endpoint,
        ],
        &[
            ("ASSETDROP_AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("ASSETDROP_AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = out.trim().to_owned();
    assert_eq!(id.len(), 24, "{out}");
    let (code, out, err) = cli(&served, &["storage", "list", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list[0]["_id"], json!(id));
    assert_eq!(list[0]["endpoint"], json!(s3.endpoint));
    assert!(!out.contains(S3_SECRET_KEY) && !err.contains(S3_SECRET_KEY));
    let (code, out, _) = cli(&served, &["storage", "list"], &[]);
    assert!(
        code == 0 && out.contains(&id) && out.contains("shots"),
        "{out}"
    );
    // Missing credentials: a usage error naming the flags.
    let (code, _, err) = cli(
        &served,
        &["storage", "add", "--name", "x", "--provider", "aws"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--secret-access-key"), "{err}");

    // ls: folders then files.
    let (code, out, err) = cli(&served, &["storage", "ls", &id, "--prefix", "set"], &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "-  set/day1/",
            "-  set/day2/",
            &format!("{}  set/top.png", PNG.len())
        ],
        "{out}"
    );
    let (code, out, _) = cli(&served, &["storage", "ls", &id, "--json"], &[]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        keys(v["folders"].as_array().expect("folders")),
        ["other/", "set/"]
    );

    // import-prefix: dry run imports nothing; then recursive, png only, folder as batch.
    let project = {
        let (code, out, err) = cli(&served, &["project", "create", "Shots"], &[]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_owned()
    };
    let args = [
        "cloud",
        "import-prefix",
        "--project",
        &project,
        "--storage",
        &id,
        "--prefix",
        "set/",
        "--recursive",
        "--ext",
        "png",
        "--folder-as-batch",
        "--json",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (code, out, err) = cli(&served, &dry, &[]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["imported"].as_array().expect("imported").len(), 4);
    let (code, out, _) = cli(
        &served,
        &["assets", "list", "--project", &project, "--json"],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["total"],
        0
    );

    let (code, out, err) = cli(&served, &args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let mut got: Vec<(String, String)> = v["imported"]
        .as_array()
        .expect("imported")
        .iter()
        .map(|i| {
            (
                i["externalId"].as_str().expect("id").to_owned(),
                i["batch"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("day1/a.png", "day1"),
            ("day1/b.PNG", "day1"),
            ("day2/c.png", "day2"),
            ("top.png", "set")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(v["created"], 4);
    assert_eq!(
        keys(v["skipped"].as_array().expect("skipped")),
        ["set/day1/notes.txt"]
    );
    let (_, out, _) = cli(
        &served,
        &[
            "assets",
            "list",
            "--project",
            &project,
            "--batch",
            "day1",
            "--json",
        ],
        &[],
    );
    let day1: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(day1["total"], 2);
    assert_eq!(day1["assets"][0]["storage"], json!(id));
    assert!(day1["assets"][0]["data"]
        .as_str()
        .expect("data")
        .starts_with(&s3.endpoint));
    // Running it again creates nothing new.
    let (code, out, _) = cli(&served, &args, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["created"],
        0
    );

    // rm: refused while assets use it (exit 2, says why); an unused one goes.
    let (code, _, err) = cli(&served, &["storage", "rm", &id], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("still used"), "{err}");
    let (code, out, err) = cli(
        &served,
        &[
            "storage",
            "add",
            "--name",
            "spare",
            "--provider",
            "azure",
            "--account",
            AZURE_ACCOUNT,
        ],
        &[("ASSETDROP_AZURE_ACCESS_KEY", AZURE_KEY)],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out2, err) = cli(&served, &["storage", "rm", out.trim()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out2.contains("removed"), "{out2}");
    let (_, out, _) = cli(&served, &["storage", "list", "--json"], &[]);
    assert!(!out.contains(AZURE_KEY));
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .expect("json")
            .as_array()
            .expect("list")
            .len(),
        1
    );
}

#[test]
fn a_missing_server_fails_naming_the_install_script() {
    let empty = tempfile::tempdir().expect("dir");
    let panicked = std::panic::catch_unwind(|| binary_in(empty.path(), "s3s-fs"))
        .expect_err("a missing server must fail the test, not skip it");
    let msg = panicked
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        msg.contains("scripts/servers.sh") && msg.contains("s3s-fs"),
        "{msg}"
    );
}

/// Every file under `dir` whose bytes hold `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn storage_credentials_are_private_on_disk_and_gone_when_deleted() {
    use std::os::unix::fs::PermissionsExt as _;
    // Bucket "b" is nowhere: stored untried.
    let (dir, hub, api) = start_hub(|c| c.try_storages = false).await;
    let secret = "SECRET-never-to-be-seen-9f3";
    let mut ids = Vec::new();
    // Several storages, so the secret's pages are written more than once.
    for i in 0..5 {
        ids.push(
            create_storage(
                &api,
                json!({"name": format!("s{i}"), "provider": "AWS", "publicKey": "AKIAEXAMPLE",
                       "privateKey": secret, "region": "us-east-1", "bucket": "b"}),
            )
            .await,
        );
    }
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(dir.path()), 0o700, "the hub's root");
    assert_eq!(mode(&dir.path().join(".hub")), 0o700);
    for f in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let p = dir.path().join(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
    // Sealed at rest: not on disk in plain text even while the storage exists, yet usable.
    let held = files_holding(dir.path(), secret.as_bytes());
    assert!(held.is_empty(), "credentials in plain text in {held:?}");
    let key = dir.path().join(".hub/storage-key");
    assert_eq!(mode(&key), 0o600, "the sealing key");

    // A catalog from before sealing (one secret in plain text) is sealed when the hub starts,
    // its plain copies cleared from the database and its log, and the storage still works.
    hub.shutdown().await.expect("shutdown");
    {
        let db = rusqlite::Connection::open(dir.path().join("catalog.sqlite")).expect("catalog");
        let plain = json!({"publicKey": "AKIAEXAMPLE", "privateKey": secret}).to_string();
        db.execute(
            "UPDATE storages SET secret = ?2 WHERE id = ?1",
            rusqlite::params![ids[0], plain],
        )
        .expect("write a plain secret");
    }
    assert!(!files_holding(dir.path(), secret.as_bytes()).is_empty());
    let mut config = HubConfig::new(dir.path());
    config.api_key = Some("storage-test-key".into());
    let hub = in_process(config).await;
    let api = Api::new(&hub);
    let held = files_holding(dir.path(), secret.as_bytes());
    assert!(held.is_empty(), "plain credentials left in {held:?}");
    let (s, v) = api
        .get(&format!(
            "/v2/getSignedUrl?url={}&storageId={}",
            enc("https://b.s3.us-east-1.amazonaws.com/a.png"),
            ids[0]
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let signed = v["data"]["signedUrl"].as_str().expect("signed URL");
    assert!(
        signed.contains("AKIAEXAMPLE") && signed.contains("X-Amz-Signature"),
        "{signed}"
    );

    for id in &ids {
        let (s, v) = api.delete(&format!("/v2/storages/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let left = files_holding(dir.path(), secret.as_bytes());
    assert!(
        left.is_empty(),
        "deleted credentials still on disk in {left:?}"
    );
    hub.shutdown().await.expect("shutdown");
}
