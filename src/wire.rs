//! The v2 import API on the wire: every request and answer body that the client sends or reads
//! and that our hub answers, in one place. The baseline is what Ango Hub documents (its REST
//! docs and the official SDK); each thing only our hub understands is marked *extension* here,
//! is named in [`Extension`], and a client sends or relies on it only when the hub says it has it
//! (in its [`HubInfo`] at [`INFO_PATH`]; a plain Ango hub answers that route 404).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most items a list route may be asked for in one page (`limit`). Ango documents 100.
pub const MAX_PAGE: u64 = 100;

/// *Extension*: the route at which our hub describes itself and its extensions.
pub const INFO_PATH: &str = "/v2/assetdrop";

/// *Extension*: the request header that makes a creation or deletion take effect once.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Every answer's envelope: `{"status": "success", "data": …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// `success`.
    pub status: String,
    /// The answer.
    pub data: T,
}

impl<T> Envelope<T> {
    /// A success envelope around `data`.
    pub fn success(data: T) -> Self {
        Self {
            status: "success".to_owned(),
            data,
        }
    }
}

/// A refusal: `{"status": "fail" | "error", "message": …}` with a 4xx or 5xx.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// `fail` (the client's mistake) or `error` (the hub's).
    pub status: String,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
}

/// A batch of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Batch ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// Batch name. Ango does not say names are unique; our hub keeps them unique.
    pub name: String,
}

/// A project as `GET /v2/project/{id}`, `POST /v2/project` and `GET /v2/listProjects` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Project ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `ango`, `pct` or `iframe`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Batches (not in project listings).
    #[serde(default)]
    pub batches: Vec<Batch>,
    /// Saved asset-builder templates, as the hub stores them (each with its `_id`).
    #[serde(default)]
    pub asset_builder_templates: Vec<Value>,
    /// Creation time.
    #[serde(default)]
    pub created_at: String,
}

/// `data` of `GET /v2/project/{id}` and `POST /v2/project`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectAnswer {
    /// The project.
    pub project: Project,
}

/// `data` of `GET /v2/listProjects`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectsPage {
    /// This page's projects.
    pub projects: Vec<Project>,
    /// How many there are in all.
    pub total: u64,
}

/// Body of `POST /v2/project`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewProject {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Body of `POST /v2/batches/{project}` as the SDK sends it: one new batch. What the answer
/// holds differs between Ango's sources, so a client reads the project back instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewBatch {
    /// The batch's name.
    pub name: String,
}

/// *Extension* ([`Extension::BatchesByName`]): `data` of `POST /v2/batches/{project}` with
/// `{name}` on our hub: the batch, under `project` as the SDK's docstring has it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// The batch made (or found) under that name.
    pub project: Batch,
}

/// *Extension* ([`Extension::IdempotencyKeys`] hubs answer it): `data` of
/// `POST /v2/project/{id}/assetBuilderTemplates` on our hub: the template saved, with its `_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateAnswer {
    /// The template as saved.
    pub asset_builder_template: Value,
}

/// `data` of `GET /v2/getUploadUrl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadUrlAnswer {
    /// A signed PUT URL; it takes the raw bytes and nothing else.
    pub upload_url: String,
}

/// `data` of `GET /v2/getSignedUrl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUrlAnswer {
    /// A signed GET URL.
    pub signed_url: String,
}

/// Body of `POST /v2/project/{id}/cloud`. Each asset is `{data | dataset, externalId,
/// metadata?, contextData?, batches?, attachments?, storage?, editorType?, classifications?}`;
/// `uploadId` is an *extension* ([`Extension::UploadIds`]), sent only to a hub that has it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest<'a> {
    /// The assets.
    pub assets: &'a [Value],
    /// `"true"` to have the hub download each URL into its own storage, as the SDK sends it.
    pub upload_local: &'static str,
    /// Task priority, −1000..1000.
    pub priority: i64,
}

/// What a registration created, as Ango counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// Assets created.
    #[serde(default)]
    pub assets_created: u64,
    /// Tasks created.
    #[serde(default)]
    pub tasks_created: u64,
    /// Pre-labels sent.
    #[serde(default)]
    pub pre_labels_count: u64,
    /// Pre-labels accepted.
    #[serde(default)]
    pub valid_pre_labels_count: u64,
}

/// `assets` of a registration's answer: counts, or (Ango's 2023 answer) a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CreatedAnswer {
    /// The counts.
    Counts(Created),
    /// `"Successfully created."`: no counts.
    Message(String),
}

/// `data` of `POST /v2/project/{id}/cloud`. Ango returns no asset IDs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterAnswer {
    /// What was created.
    pub assets: CreatedAnswer,
    /// *Extension* ([`Extension::AssetIds`]): the asset of each asset sent, in order (an asset
    /// sent again with an upload ID the hub knows yields the earlier asset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_ids: Option<Vec<String>>,
}

impl RegisterAnswer {
    /// Assets created, when the hub counted them.
    pub fn created(&self) -> Option<u64> {
        match &self.assets {
            CreatedAnswer::Counts(c) => Some(c.assets_created),
            CreatedAnswer::Message(_) => None,
        }
    }
}

/// An asset as `GET /v2/project/{id}/assets` lists it: the fields a client reads, and the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// Asset ID.
    #[serde(rename = "_id")]
    pub id: String,
    /// External ID (not unique in Ango).
    #[serde(default)]
    pub external_id: String,
    /// The asset's data: a URL, or inline text for some kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Every other field, as the hub sent it.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `data` of `GET /v2/project/{id}/assets`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssetsPage {
    /// This page's assets.
    pub assets: Vec<Asset>,
    /// How many match in all.
    pub total: u64,
}

/// `filters` of an asset listing (sent as URL-encoded JSON). Every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetFilter {
    /// One asset by ID.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Assets with this external ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Assets in all of these batches (IDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<String>,
    /// Assets with or without pre-labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_pre_labeled: Option<bool>,
}

impl AssetFilter {
    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `data` of `POST /v2/storages` and `DELETE /v2/storages/{id}` (*extension* on our hub:
/// [`Extension::StorageAdmin`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageAnswer<T> {
    /// The storage.
    pub storage: T,
}

/// `data` of `GET /v2/storages`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoragesAnswer<T> {
    /// The storages.
    pub storages: Vec<T>,
}

/// What a hub offers beyond Ango's documented API. A client relies on none of them without
/// the hub's [`HubInfo`] naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Extension {
    /// Registration answers carry `assetIds`.
    AssetIds,
    /// Assets sent with an `uploadId` the project knows are not created again.
    UploadIds,
    /// `POST /v2/project/{id}/assets/byContent`: which contents the project holds already.
    ContentLookup,
    /// `Idempotency-Key` on creations and deletions replays the first answer.
    IdempotencyKeys,
    /// `POST /v2/batches/{project}` with `{name}` answers the batch, made once per name.
    BatchesByName,
    /// Storage integrations can be created, deleted, browsed and imported from by prefix.
    StorageAdmin,
    /// An extension this client does not know.
    #[serde(other)]
    Unknown,
}

impl Extension {
    /// Every extension this client knows, in a fixed order.
    pub const ALL: [Extension; 6] = [
        Extension::AssetIds,
        Extension::UploadIds,
        Extension::ContentLookup,
        Extension::IdempotencyKeys,
        Extension::BatchesByName,
        Extension::StorageAdmin,
    ];
}

/// *Extension*: `data` of `GET` [`INFO_PATH`]: which hub this is and what it offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubInfo {
    /// `assetdrop`.
    pub product: String,
    /// The hub's version.
    pub version: String,
    /// A stable ID of this hub's catalog, the same across restarts and addresses.
    pub hub_id: String,
    /// What it offers beyond Ango's API.
    pub extensions: Vec<Extension>,
}

/// *Extension*: body of `POST /v2/project/{id}/assets/byContent`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentQuery {
    /// BLAKE3 hashes (64 lower-case hex digits), at most 10,000.
    pub content_hashes: Vec<String>,
}

/// *Extension*: one asset found by its content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentMatch {
    /// The content's hash.
    pub content_hash: String,
    /// The asset.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its external ID.
    pub external_id: String,
}

/// *Extension*: `data` of `POST /v2/project/{id}/assets/byContent`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentAnswer {
    /// The assets holding any of the contents asked about.
    pub assets: Vec<ContentMatch>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_registration_answer_reads_with_or_without_ids_and_counts() {
        let ango: RegisterAnswer = serde_json::from_value(json!({
            "assets": {"assetsCreated": 3, "tasksCreated": 3, "preLabelsCount": 0, "validPreLabelsCount": 0}
        }))
        .expect("ango answer");
        assert_eq!(ango.created(), Some(3));
        assert_eq!(ango.asset_ids, None);
        let old: RegisterAnswer =
            serde_json::from_value(json!({"assets": "Successfully created."})).expect("2023");
        assert_eq!(old.created(), None);
        let ours: RegisterAnswer = serde_json::from_value(json!({
            "assets": {"assetsCreated": 1}, "assetIds": ["a", "b"]
        }))
        .expect("ours");
        assert_eq!(ours.created(), Some(1));
        assert_eq!(
            ours.asset_ids.as_deref(),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
    }

    #[test]
    fn filters_send_only_what_is_set_and_extensions_tolerate_new_names() {
        let f = AssetFilter {
            external_id: Some("a.png".into()),
            ..AssetFilter::default()
        };
        assert_eq!(
            serde_json::to_string(&f).expect("json"),
            r#"{"externalId":"a.png"}"#
        );
        assert!(AssetFilter::default().is_empty());
        let info: HubInfo = serde_json::from_value(json!({
            "product": "assetdrop", "version": "9", "hubId": "h",
            "extensions": ["assetIds", "somethingNewer"]
        }))
        .expect("info");
        assert_eq!(info.extensions, [Extension::AssetIds, Extension::Unknown]);
    }

    #[test]
    fn an_asset_keeps_the_fields_it_does_not_name() {
        let a: Asset = serde_json::from_value(json!({
            "_id": "1", "externalId": "x", "data": "http://h/x", "batches": ["b"], "__v": 0
        }))
        .expect("asset");
        assert_eq!(a.rest.get("batches"), Some(&json!(["b"])));
        assert_eq!(serde_json::to_value(&a).expect("json")["externalId"], "x");
    }
}
