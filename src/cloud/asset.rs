//! The domain item one cloud-import entry becomes, in our own words, and the one place that
//! knows Ango's field names on the way out ([`CloudAsset::to_wire`]).

use serde::Serialize;
use serde_json::{Map, Value};

use super::Fix;

/// What an asset shows: a file by URL, content given inline, or a folder in a storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// An absolute `http(s)` URL, percent-encoded.
    Url(String),
    /// Markdown or HTML given as the content itself (reference §4.2, S-MDHTML).
    Inline(String),
    /// A reference relative to a storage integration, as 3D multi-sensor-fusion (`pct`) assets
    /// name their data folder: `"storage-name/folder/folder"` (reference §4.2, §6.4).
    StoragePath(String),
}

impl Data {
    /// The text as it is sent.
    pub fn as_str(&self) -> &str {
        match self {
            Data::Url(s) | Data::Inline(s) | Data::StoragePath(s) => s,
        }
    }

    /// Whether this is inline HTML (content starting with `<`), rather than markdown.
    pub fn is_html(&self) -> bool {
        matches!(self, Data::Inline(s) if s.trim_start().starts_with('<'))
    }
}

/// Image and video facts given at import.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// Image width in pixels (given in `metadata` or at the top level; `metadata` wins).
    pub width: Option<u32>,
    /// Image height in pixels.
    pub height: Option<u32>,
    /// Video frames per second; Ango assumes 30 when it is missing.
    pub frame_rate: Option<f64>,
    /// Any other keys, passed through as they are (Ango's API example has `"category"`).
    pub other: Map<String, Value>,
}

impl Metadata {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.width.is_none()
            && self.height.is_none()
            && self.frame_rate.is_none()
            && self.other.is_empty()
    }
}

/// The kinds of attachment Ango accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttachmentKind {
    /// An image, by URL.
    Image,
    /// Text, given as the value itself.
    Text,
    /// A video, by URL.
    Video,
    /// HTML content (or a URL to it).
    Html,
}

impl AttachmentKind {
    /// Every kind, in the order messages list them.
    pub const ALL: [AttachmentKind; 4] = [Self::Image, Self::Text, Self::Video, Self::Html];

    /// The name on the wire: `IMAGE`, `TEXT`, `VIDEO`, `HTML`.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Image => "IMAGE",
            Self::Text => "TEXT",
            Self::Video => "VIDEO",
            Self::Html => "HTML",
        }
    }

    /// The kind a wire name (exactly as Ango spells it) stands for.
    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.wire_name() == name)
    }

    /// Whether the value must be a URL.
    pub fn needs_url(self) -> bool {
        matches!(self, Self::Image | Self::Video)
    }
}

/// Extra material shown beside the asset (reference §4.2, S-ATTACH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// What it is.
    pub kind: AttachmentKind,
    /// A URL, or the text/HTML itself.
    pub value: String,
}

/// The labeling editor an asset opens in, when it is not the one its file kind implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorType {
    /// 3D multi-sensor fusion (point cloud): `data` names a folder (`"pct"` on the wire).
    PointCloud,
    /// A value Ango does not document; sent as it is.
    Other(String),
}

impl EditorType {
    /// The value on the wire.
    pub fn wire_name(&self) -> &str {
        match self {
            Self::PointCloud => "pct",
            Self::Other(s) => s,
        }
    }
}

/// A pre-label: the answer to one classification of the project's category schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The schema ID of the classification.
    pub schema_id: String,
    /// Its title, for people.
    pub title: Option<String>,
    /// The answer: text, an option's title, a list of them, or whatever the tool takes.
    pub answer: Value,
    /// Other keys of the pre-label (nested classifications, tool names), passed through.
    pub other: Map<String, Value>,
}

/// One asset of a cloud import: what it shows, its external ID, and what comes with it.
///
/// Empty lists and maps mean "not given" and are left out by [`CloudAsset::to_wire`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CloudAsset {
    /// The name the asset is known by in the project; free text, need not be unique.
    pub external_id: String,
    /// What the asset shows; `None` for a multi-image asset given only by `pages`.
    pub data: Option<Data>,
    /// Image URLs of a multi-image asset, in page order (reference §4.2 `dataset`).
    pub pages: Vec<String>,
    /// Size and frame rate.
    pub metadata: Metadata,
    /// Free-form key/values returned with the asset in the export.
    pub context: Map<String, Value>,
    /// Batch names or IDs (the hub resolves either).
    pub batches: Vec<String>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// The ID of the storage integration that reaches a private bucket.
    pub storage: Option<String>,
    /// The editor, when not implied by the file.
    pub editor: Option<EditorType>,
    /// Pre-labels.
    pub classifications: Vec<Classification>,
}

impl CloudAsset {
    /// An asset shown from a URL (give it percent-encoded; see [`crate::cloud::fix_url`]).
    pub fn from_url(url: impl Into<String>, external_id: impl Into<String>) -> Self {
        Self::with_data(Some(Data::Url(url.into())), Vec::new(), external_id.into())
    }

    /// An asset whose markdown/HTML content is given inline.
    pub fn inline(content: impl Into<String>, external_id: impl Into<String>) -> Self {
        Self::with_data(
            Some(Data::Inline(content.into())),
            Vec::new(),
            external_id.into(),
        )
    }

    /// A multi-image asset: one page per image URL, in order.
    pub fn from_pages(pages: Vec<String>, external_id: impl Into<String>) -> Self {
        Self::with_data(None, pages, external_id.into())
    }

    pub(crate) fn with_data(data: Option<Data>, pages: Vec<String>, external_id: String) -> Self {
        Self {
            external_id,
            data,
            pages,
            metadata: Metadata::default(),
            context: Map::new(),
            batches: Vec::new(),
            attachments: Vec::new(),
            storage: None,
            editor: None,
            classifications: Vec::new(),
        }
    }

    /// The asset as the hub's `POST /v2/project/{id}/cloud` takes it in `assets` (Ango's JSON).
    /// `width`/`height` always go inside `metadata`, where the hub looks first.
    pub fn to_wire(&self) -> Value {
        let wire = WireAsset {
            data: self.data.as_ref().map(Data::as_str),
            dataset: &self.pages,
            external_id: &self.external_id,
            metadata: (!self.metadata.is_empty()).then_some(WireMetadata {
                width: self.metadata.width,
                height: self.metadata.height,
                frame_rate: self.metadata.frame_rate,
                other: &self.metadata.other,
            }),
            context_data: &self.context,
            batches: &self.batches,
            attachments: self
                .attachments
                .iter()
                .map(|a| WireAttachment {
                    kind: a.kind.wire_name(),
                    value: &a.value,
                })
                .collect(),
            storage: self.storage.as_deref(),
            editor_type: self.editor.as_ref().map(EditorType::wire_name),
            classifications: self
                .classifications
                .iter()
                .map(|c| WireClassification {
                    schema_id: &c.schema_id,
                    title: c.title.as_deref(),
                    answer: &c.answer,
                    other: &c.other,
                })
                .collect(),
        };
        // Serialising borrowed strings, numbers and maps into a Value cannot fail (no non-string
        // map keys, no failing Serialize impls); Null would only hide a bug here.
        serde_json::to_value(wire).unwrap_or(Value::Null)
    }

    /// Applies a [`Fix`] offered with a warning (a `+` that stands for a space, Latin-1
    /// escapes, an attachment type's case); returns whether its field exists here and took it.
    /// Fixes for errors are for the file: those entries give no asset (see
    /// [`ReadConfig::fix_urls`](super::ReadConfig::fix_urls) to have URLs fixed while reading).
    pub fn apply(&mut self, fix: &Fix) -> bool {
        let value = fix.replacement.clone();
        let indexed = |prefix: &str| -> Option<(usize, String)> {
            let rest = fix.field.strip_prefix(prefix)?;
            let (i, tail) = rest.split_once(']')?;
            Some((i.parse().ok()?, tail.to_owned()))
        };
        match fix.field.as_str() {
            "data" => match &mut self.data {
                Some(Data::Url(u)) => *u = value,
                _ => return false,
            },
            "externalId" => self.external_id = value,
            _ => {
                if let Some((i, tail)) = indexed("dataset[") {
                    match self.pages.get_mut(i) {
                        Some(page) if tail.is_empty() => *page = value,
                        _ => return false,
                    }
                } else if let Some((i, tail)) = indexed("attachments[") {
                    let Some(a) = self.attachments.get_mut(i) else {
                        return false;
                    };
                    match tail.as_str() {
                        ".value" => a.value = value,
                        ".type" => match AttachmentKind::from_wire_name(&value) {
                            Some(k) => a.kind = k,
                            None => return false,
                        },
                        _ => return false,
                    }
                } else {
                    return false;
                }
            }
        }
        true
    }

    /// Every URL the asset names for the hub to fetch, with the field it sits in: `data` (when
    /// a URL), each `dataset` page, and IMAGE/VIDEO/HTML attachments given by URL.
    pub fn urls(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        if let Some(Data::Url(u)) = &self.data {
            out.push(("data".to_owned(), u.as_str()));
        }
        for (i, p) in self.pages.iter().enumerate() {
            out.push((format!("dataset[{i}]"), p.as_str()));
        }
        for (i, a) in self.attachments.iter().enumerate() {
            let is_url = a.kind.needs_url()
                || (a.kind == AttachmentKind::Html && super::rules::looks_absolute(&a.value));
            if is_url {
                out.push((format!("attachments[{i}].value"), a.value.as_str()));
            }
        }
        out
    }
}

// ---- the wire shape (Ango's names), private ----------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireAsset<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dataset: &'a [String],
    external_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<WireMetadata<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    context_data: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    batches: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<WireAttachment<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    editor_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    classifications: Vec<WireClassification<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireMetadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frame_rate: Option<f64>,
    #[serde(flatten)]
    other: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct WireAttachment<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireClassification<'a> {
    schema_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    answer: &'a Value,
    #[serde(flatten)]
    other: &'a Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_url_asset_has_only_data_and_external_id() {
        let a = CloudAsset::from_url("https://h/a.jpg", "a.jpg");
        assert_eq!(
            a.to_wire(),
            json!({"data": "https://h/a.jpg", "externalId": "a.jpg"})
        );
    }

    #[test]
    fn every_field_uses_ango_names() {
        let mut a = CloudAsset::from_pages(vec!["https://h/1.png".into()], "book");
        a.metadata.width = Some(640);
        a.metadata.frame_rate = Some(29.97);
        a.metadata.other.insert("category".into(), json!("cat"));
        a.context.insert("k".into(), json!(1));
        a.batches.push("Batch 1".into());
        a.attachments.push(Attachment {
            kind: AttachmentKind::Text,
            value: "note".into(),
        });
        a.storage = Some("s1".into());
        a.editor = Some(EditorType::PointCloud);
        a.classifications.push(Classification {
            schema_id: "abc".into(),
            title: Some("Color".into()),
            answer: json!("red"),
            other: Map::new(),
        });
        assert_eq!(
            a.to_wire(),
            json!({
                "dataset": ["https://h/1.png"], "externalId": "book",
                "metadata": {"width": 640, "frameRate": 29.97, "category": "cat"},
                "contextData": {"k": 1}, "batches": ["Batch 1"],
                "attachments": [{"type": "TEXT", "value": "note"}],
                "storage": "s1", "editorType": "pct",
                "classifications": [{"schemaId": "abc", "title": "Color", "answer": "red"}]
            })
        );
    }

    #[test]
    fn fixes_apply_to_their_field() {
        let mut a = CloudAsset::from_url("https://h/a+b.jpg", "a");
        a.pages.push("https://h/p+1.png".into());
        a.attachments.push(Attachment {
            kind: AttachmentKind::Text,
            value: "x".into(),
        });
        let fix = |field: &str, replacement: &str| Fix {
            field: field.into(),
            replacement: replacement.into(),
        };
        assert!(a.apply(&fix("data", "https://h/a%20b.jpg")));
        assert!(a.apply(&fix("dataset[0]", "https://h/p%201.png")));
        assert!(a.apply(&fix("attachments[0].type", "HTML")));
        assert!(a.apply(&fix("externalId", "b")));
        assert!(!a.apply(&fix("dataset[3]", "x")));
        assert!(!a.apply(&fix("attachments[0].type", "PDF")));
        assert!(!a.apply(&fix("metadata.width", "1")));
        assert_eq!(
            a.to_wire(),
            json!({"data": "https://h/a%20b.jpg", "dataset": ["https://h/p%201.png"], "externalId": "b",
                   "attachments": [{"type": "HTML", "value": "x"}]})
        );
    }

    #[test]
    fn urls_lists_fetchable_fields_only() {
        let mut a = CloudAsset::from_url("https://h/a.jpg", "a");
        a.pages.push("https://h/p.png".into());
        a.attachments.push(Attachment {
            kind: AttachmentKind::Text,
            value: "https://not-fetched".into(),
        });
        a.attachments.push(Attachment {
            kind: AttachmentKind::Video,
            value: "https://h/v.mp4".into(),
        });
        a.attachments.push(Attachment {
            kind: AttachmentKind::Html,
            value: "<b>x</b>".into(),
        });
        let fields: Vec<String> = a.urls().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["data", "dataset[0]", "attachments[1].value"]);
        assert!(Data::Inline("  <p>x</p>".into()).is_html());
        assert!(!Data::Inline("# title".into()).is_html());
    }
}
