//! The Ango stand-in itself, over real HTTP: that it is as strict as the contract says the real
//! Ango Hub is (auth, unknown routes, paging bounds, no asset IDs, unknown fields dropped, batches
//! that must exist, presigned URLs that must be signed and fresh, rate limits), so tests that run
//! a client against it prove something.

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::support::ango::{AngoStandIn, StandInConfig};

struct Api<'a> {
    hub: &'a AngoStandIn,
    http: Client,
}

impl<'a> Api<'a> {
    fn new(hub: &'a AngoStandIn) -> Self {
        Self {
            hub,
            http: Client::new(),
        }
    }

    /// One API call with the right key; the status and the parsed JSON body.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.hub.url))
            .header("apikey", &self.hub.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let body = resp.json::<Value>().await.expect("a JSON body");
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// The project's assets filtered as given, newest first, with the total.
    async fn list(
        &self,
        project: &str,
        filters: &Value,
        page: u32,
        limit: u32,
    ) -> (Vec<Value>, u64) {
        let filters = filters.to_string();
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("page", &page.to_string())
            .append_pair("limit", &limit.to_string())
            .append_pair("filters", &filters)
            .finish();
        let (status, body) = self.get(&format!("/v2/project/{project}/assets?{q}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let assets = body["data"]["assets"].as_array().expect("assets").clone();
        (assets, body["data"]["total"].as_u64().expect("total"))
    }

    async fn upload_url(&self, project: &str, name: &str) -> String {
        let (status, body) = self
            .get(&format!(
                "/v2/getUploadUrl?name={name}&project={project}&type=assets"
            ))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["uploadUrl"]
            .as_str()
            .expect("uploadUrl")
            .to_owned()
    }
}

fn external_ids(assets: &[Value]) -> Vec<&str> {
    assets
        .iter()
        .map(|a| a["externalId"].as_str().expect("externalId"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_what_the_contract_does_not_offer() {
    let hub = AngoStandIn::start(StandInConfig::default());
    let api = Api::new(&hub);
    let http = Client::new();

    let resp = http
        .get(format!("{}/v2/listProjects", hub.url))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body,
        json!({"status": "fail", "message": "Invalid API KEY"})
    );
    let resp = http
        .get(format!("{}/v2/listProjects", hub.url))
        .header("apikey", "nope")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let project = hub.create_project("p");
    for path in [
        "/v2/assetdrop/capabilities".to_owned(),
        format!("/v2/project/{project}/assets/byContent"),
        "/v2/project/x/assets/byContent".to_owned(),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["status"], "fail");
    }
    // A known path with the wrong method.
    let (status, _) = api.call(Method::PUT, "/v2/listProjects", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = api.get("/v2/listProjects?limit=101").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().expect("message").contains("limit"));
    let (status, _) = api.get("/v2/listProjects?page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api.get("/v2/listProjects?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["projects"][0]["_id"], project.as_str());

    let unknown = "0123456789abcdef01234567";
    let (status, body) = api.get(&format!("/v2/project/{unknown}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], format!("Invalid project: {unknown}."));
    let (status, _) = api.get("/v2/project/not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Malformed JSON is a 400, never a 500.
    let resp = http
        .post(format!("{}/v2/project/{project}/cloud", hub.url))
        .header("apikey", &hub.key)
        .header("content-type", "application/json")
        .body("{\"assets\": [")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (status, body) = api.get("/v2/storages").await;
    assert_eq!(
        (status, &body["data"]),
        (StatusCode::OK, &json!({"storages": []}))
    );

    let (status, body) = api
        .post("/v2/project", json!({"description": "no name"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api
        .post("/v2/project", json!({"name": "made", "x": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let made = &body["data"]["project"];
    assert_eq!(made["name"], "made");
    assert_eq!(made["batches"], json!([]));
    assert_eq!(made["type"], "ango");
    assert!(made.get("x").is_none());
    let id = made["_id"].as_str().expect("_id");
    assert!(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()));

    let log = hub.api_requests();
    assert_eq!(log[0].status, 401);
    assert!(log[0].header("apikey").is_none());
    assert_eq!(log[1].header("APIKEY"), Some("nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_register_list_without_ids_or_extensions() {
    let hub = AngoStandIn::start(StandInConfig::default());
    let api = Api::new(&hub);
    let project = hub.create_project("uploads");

    let upload = api.upload_url(&project, "0a1b.jpg").await;
    assert!(
        upload.starts_with(&format!("{}/", hub.store_url)),
        "{upload}"
    );
    for part in [
        "X-Amz-Signature=",
        "X-Amz-SignedHeaders=host",
        "X-Amz-Expires=900",
    ] {
        assert!(upload.contains(part), "{upload}");
    }
    let (status, _) = api
        .get(&format!(
            "/v2/getUploadUrl?name=a.jpg&project={project}&type=exports"
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .get("/v2/getUploadUrl?name=a.jpg&project=0123456789abcdef01234567&type=assets")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let bytes = b"\xff\xd8\xff not really a jpeg".to_vec();
    let resp = Client::new()
        .put(&upload)
        .body(bytes.clone())
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("etag"));
    assert!(resp.bytes().await.expect("body").is_empty());

    let data = upload.split('?').next().expect("base").to_owned();
    assert_eq!(hub.blob(&data), Some(bytes.clone()));
    assert_eq!(hub.blob_count(), 1);
    let put = hub.store_requests();
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].method, "PUT");
    assert!(put[0].header("apikey").is_none());
    assert_eq!(put[0].body_len, bytes.len());

    let registration = json!({
        "assets": [{
            "data": data,
            "externalId": "photo.jpg",
            "metadata": {"width": 1, "height": 1},
            "uploadId": "u-1",
            "contentHash": "abc",
        }],
        "uploadLocal": "true",
        "priority": 0,
        "idempotencyKey": "k",
    });
    let (status, body) = api
        .post(
            &format!("/v2/project/{project}/cloud"),
            registration.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "data": {"assets": {
            "assetsCreated": 1, "tasksCreated": 1, "preLabelsCount": 0, "validPreLabelsCount": 0
        }}})
    );

    let (assets, total) = api
        .list(&project, &json!({"externalId": "photo.jpg"}), 1, 10)
        .await;
    assert_eq!(total, 1);
    let asset = assets[0].as_object().expect("object");
    assert_eq!(asset["data"], data.as_str());
    assert_eq!(asset["batches"], json!([]));
    assert_eq!(asset["metadata"], json!({"width": 1, "height": 1}));
    assert_eq!(asset["project"], project.as_str());
    assert_eq!(asset["isPreLabeled"], false);
    for dropped in ["uploadId", "contentHash", "idempotencyKey", "contextData"] {
        assert!(!asset.contains_key(dropped), "{dropped} kept");
    }
    assert_eq!(hub.assets(&project)[0], assets[0]);

    // The same registration again is a second asset.
    let (status, _) = api
        .post(&format!("/v2/project/{project}/cloud"), registration)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, total) = api
        .list(&project, &json!({"externalId": "photo.jpg"}), 1, 10)
        .await;
    assert_eq!(total, 2);

    // A signed GET for the stored object, and the URL of anything else unchanged.
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("url", &data)
        .finish();
    let (status, body) = api.get(&format!("/v2/getSignedUrl?{q}")).await;
    assert_eq!(status, StatusCode::CREATED);
    let signed = body["data"]["signedUrl"].as_str().expect("signedUrl");
    let got = Client::new().get(signed).send().await.expect("GET");
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), bytes);
    let (_, body) = api
        .get("/v2/getSignedUrl?name=https%3A%2F%2Fexample.com%2Fa.jpg")
        .await;
    assert_eq!(body["data"]["signedUrl"], "https://example.com/a.jpg");
    // The upload URL does not sign a GET.
    let got = Client::new().get(&upload).send().await.expect("GET");
    assert_eq!(got.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_tampered_and_expired_urls() {
    let hub = AngoStandIn::start(StandInConfig::default());
    let api = Api::new(&hub);
    let project = hub.create_project("p");
    let http = Client::new();

    let upload = api.upload_url(&project, "a.png").await;
    let tampered = upload.replace("/a.png?", "/b.png?");
    let resp = http
        .put(&tampered)
        .header("x-test", "seen")
        .body("x")
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let xml = resp.text().await.expect("text");
    assert!(xml.contains("<Code>SignatureDoesNotMatch</Code>"), "{xml}");
    let unsigned = upload.split('?').next().expect("base");
    let resp = http.put(unsigned).body("x").send().await.expect("PUT");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(hub.blob_count(), 0);

    let recorded = hub.store_requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].status, 403);
    assert_eq!(recorded[0].header("x-test"), Some("seen"));
    assert!(recorded[0]
        .query
        .as_deref()
        .is_some_and(|q| q.contains("X-Amz-Signature")));
    assert!(recorded[1].query.is_none());

    let hub = AngoStandIn::start(StandInConfig {
        url_ttl: Duration::ZERO,
        ..StandInConfig::default()
    });
    let api = Api::new(&hub);
    let project = hub.create_project("p");
    let upload = api.upload_url(&project, "a.png").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let resp = http.put(&upload).body("x").send().await.expect("PUT");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp
        .text()
        .await
        .expect("text")
        .contains("Request has expired"));
    assert_eq!(hub.blob_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_both_shapes_and_must_exist() {
    let hub = AngoStandIn::start(StandInConfig::default());
    let api = Api::new(&hub);
    let project = hub.create_project("p");

    // The SDK shape answers the whole project, not the batch.
    let (status, body) = api
        .post(&format!("/v2/batches/{project}"), json!({"name": "one"}))
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(body["data"]["project"]["_id"], project.as_str());
    assert_eq!(body["data"]["project"]["batches"][0]["name"], "one");
    api.post(&format!("/v2/batches/{project}"), json!({"name": "one"}))
        .await;
    let batches = hub.batches(&project);
    assert_eq!(batches.len(), 2, "names are not unique");
    assert_ne!(batches[0].0, batches[1].0);

    // The REST shape replaces the list: a known _id is kept, the rest are new.
    let (status, _) = api
        .post(
            &format!("/v2/batches/{project}"),
            json!({"batches": [{"_id": batches[0].0, "name": "one"}, {"name": "two"}]}),
        )
        .await;
    assert!(status.is_success());
    let (_, body) = api.get(&format!("/v2/project/{project}")).await;
    let listed = body["data"]["project"]["batches"]
        .as_array()
        .expect("batches")
        .clone();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["_id"], batches[0].0.as_str());
    assert_eq!(listed[1]["name"], "two");
    let one = batches[0].0.clone();
    let two = listed[1]["_id"].as_str().expect("_id").to_owned();

    // A missing batch, in an asset or in the query: 400, nothing created.
    let (status, body) = api
        .post(
            &format!("/v2/project/{project}/cloud"),
            json!({"assets": [
                {"data": "https://x/a", "externalId": "a"},
                {"data": "https://x/b", "externalId": "b", "batches": ["three"]},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().expect("message").contains("three"));
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("batches", &json!([one, "nope"]).to_string())
        .finish();
    let (status, _) = api
        .post(
            &format!("/v2/project/{project}/cloud?{q}"),
            json!({"assets": [{"data": "https://x/a", "externalId": "a"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .post(
            &format!("/v2/project/{project}/cloud"),
            json!({"assets": [{"data": "https://x/a", "externalId": "a"}], "priority": 1001}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(hub.assets(&project).is_empty());

    // Names and IDs resolve to IDs; query batches apply to every asset.
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("batches", &json!(["two"]).to_string())
        .finish();
    let (status, body) = api
        .post(
            &format!("/v2/project/{project}/cloud?{q}"),
            json!({"assets": [
                {"data": "https://x/a", "externalId": "a", "batches": [one]},
                {"data": "https://x/b", "externalId": "b"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let assets = hub.assets(&project);
    assert_eq!(assets[0]["batches"], json!([one, two]));
    assert_eq!(assets[1]["batches"], json!([two]));

    // assignBatches, delete, templates.
    let b_id = assets[1]["_id"].as_str().expect("_id").to_owned();
    let (status, body) = api
        .post(
            "/v2/assignBatches",
            json!({"assets": [b_id], "batches": ["one"], "projectId": project}),
        )
        .await;
    assert_eq!(
        (status, &body["data"]),
        (StatusCode::OK, &json!({"assets": 1}))
    );
    assert_eq!(hub.assets(&project)[1]["batches"], json!([two, one]));
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/v2/project/{project}/assets"),
            Some(json!({"project": project, "assets": [b_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(external_ids(&hub.assets(&project)), ["a"]);
    let (status, body) = api
        .post(
            &format!("/v2/project/{project}/assetBuilderTemplates"),
            json!({"name": "t", "template": "<p/>"}),
        )
        .await;
    assert_eq!((status, &body["data"]), (StatusCode::CREATED, &json!({})));
    let templates = hub.templates(&project);
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0]["name"], "t");
    assert!(templates[0]["_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_pages_newest_first() {
    let hub = AngoStandIn::start(StandInConfig::default());
    let api = Api::new(&hub);
    let project = hub.create_project("p");
    api.post(&format!("/v2/batches/{project}"), json!({"name": "b1"}))
        .await;
    api.post(&format!("/v2/batches/{project}"), json!({"name": "b2"}))
        .await;
    let b = hub.batches(&project);
    let (b1, b2) = (b[0].0.clone(), b[1].0.clone());
    let (status, _) = api
        .post(
            &format!("/v2/project/{project}/cloud"),
            json!({"assets": [
                {"data": "https://x/0", "externalId": "e0", "batches": [b1]},
                {"data": "https://x/1", "externalId": "e1", "batches": [b1, b2]},
                {"data": "https://x/2", "externalId": "e2"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    api.post(
        &format!("/v2/project/{project}/cloud"),
        json!({"assets": [
            {"data": "https://x/3", "externalId": "e3", "batches": ["b2"]},
            {"data": "https://x/4", "externalId": "e1"},
        ]}),
    )
    .await;

    let (all, total) = api.list(&project, &json!({}), 1, 10).await;
    assert_eq!(total, 5);
    assert_eq!(external_ids(&all), ["e1", "e3", "e2", "e1", "e0"]);
    let (page, total) = api.list(&project, &json!({}), 2, 2).await;
    assert_eq!((external_ids(&page), total), (vec!["e2", "e1"], 5));
    let (page, _) = api.list(&project, &json!({}), 3, 2).await;
    assert_eq!(external_ids(&page), ["e0"]);
    let (page, _) = api.list(&project, &json!({}), 4, 2).await;
    assert!(page.is_empty());

    let (hits, total) = api
        .list(&project, &json!({"externalId": "e1"}), 1, 10)
        .await;
    assert_eq!(total, 2);
    assert_eq!(hits[0]["data"], "https://x/4");
    let (hits, _) = api.list(&project, &json!({"batches": [b1]}), 1, 10).await;
    assert_eq!(external_ids(&hits), ["e1", "e0"]);
    let (hits, _) = api
        .list(&project, &json!({"batches": [b1, b2]}), 1, 10)
        .await;
    assert_eq!(external_ids(&hits), ["e1"]);
    let id = hits[0]["_id"].as_str().expect("_id");
    let (hits, _) = api.list(&project, &json!({"_id": id}), 1, 10).await;
    assert_eq!(hits.len(), 1);
    let (_, total) = api
        .list(&project, &json!({"isPreLabeled": true}), 1, 10)
        .await;
    assert_eq!(total, 0);

    for bad in [
        "filters=%7B%22uploadId%22%3A%22x%22%7D",
        "filters=%7Bnot%20json",
        "filters=%7B%22batches%22%3A%5B%22b1%22%5D%7D",
        "limit=0",
        "limit=101",
    ] {
        let (status, _) = api
            .get(&format!("/v2/project/{project}/assets?{bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after() {
    let hub = AngoStandIn::start(StandInConfig {
        rate_limit: Some((5, Duration::from_secs(2))),
        ..StandInConfig::default()
    });
    let http = Client::new();
    for i in 0..5 {
        // Refused requests count too.
        let key = if i == 0 { "wrong" } else { hub.key.as_str() };
        let resp = http
            .get(format!("{}/v2/storages", hub.url))
            .header("apikey", key)
            .send()
            .await
            .expect("send");
        assert_ne!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "request {i}");
    }
    let resp = http
        .get(format!("{}/v2/storages", hub.url))
        .header("apikey", &hub.key)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body,
        json!({"status": "fail", "message": "Too many requests"})
    );
    assert_eq!(hub.api_requests().last().expect("recorded").status, 429);

    let quiet = AngoStandIn::start(StandInConfig {
        rate_limit: Some((1, Duration::from_secs(2))),
        retry_after_header: false,
        ..StandInConfig::default()
    });
    for expected in [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
        let resp = http
            .get(format!("{}/v2/storages", quiet.url))
            .header("apikey", &quiet.key)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), expected);
        assert!(resp.headers().get("retry-after").is_none());
    }
}

/// Started and used from a plain test, with no runtime around it.
#[test]
fn starts_outside_a_runtime() {
    let hub = AngoStandIn::start(StandInConfig {
        store_public_url: Some("http://proxy.invalid:9/".to_owned()),
        ..StandInConfig::default()
    });
    let project = hub.create_project("plain");
    assert_eq!(project.len(), 24);
    assert!(hub.assets(&project).is_empty());
    assert!(hub.batches(&project).is_empty());
    assert!(hub.api_requests().is_empty());
    assert!(hub
        .blob("http://proxy.invalid:9/ango-standin-assets/x/y")
        .is_none());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let upload = rt.block_on(async { Api::new(&hub).upload_url(&project, "a b.png").await });
    assert!(
        upload.starts_with(&format!(
            "http://proxy.invalid:9/ango-standin-assets/{project}/a%20b.png?"
        )),
        "{upload}"
    );
}
