//! The template object of reference §8.3, as Ango stores it (`name`, `template`,
//! `selectedExternalId`, `batchColumn`, `dataConfig`, `preLabelConfig`), so a config saved from
//! the hub or written for Ango reads as it is. Unknown keys (`_id`, timestamps) are accepted;
//! `null` reads as "not set". Checks that need no table live here and name the field.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `storage` value meaning "public URLs, no storage integration".
pub const PUBLIC_STORAGE: &str = "Public";

/// The classification tools whose answer is a list of choices (reference §8.4).
pub const MULTI_SELECT_TOOLS: [&str; 3] = ["checkbox", "multi-dropdown", "rank"];

/// A JSON object that keeps its keys in document order (column order matters for pre-labels
/// and is what the user wrote). A repeated key keeps its first place and its last value, as
/// Python's `json` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedMap<V>(Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value under a key.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets a key: replaces the value in place, or appends.
    pub fn insert(&mut self, key: impl Into<String>, value: V) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V> FromIterator<(String, V)> for OrderedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = OrderedMap::new();
                while let Some((k, v)) = access.next_entry::<String, V>()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap::new())
            }
        }
        deserializer.deserialize_any(MapVisitor(PhantomData))
    }
}

/// What a column holds (`dataConfig.<column>.type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Plain text.
    Text,
    /// A link.
    Link,
    /// An image URL.
    Image,
    /// An audio URL.
    Audio,
    /// A video URL.
    Video,
    /// A page to embed.
    Iframe,
    /// A PDF URL.
    Pdf,
    /// Anything else, kept so [`TemplateConfig::validate`] can name it.
    Other(String),
}

impl ColumnKind {
    /// The JSON spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text => "text",
            Self::Link => "link",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Iframe => "iframe",
            Self::Pdf => "pdf",
            Self::Other(s) => s,
        }
    }

    /// Media kinds need a `storage` (reference §8.2).
    pub fn needs_storage(&self) -> bool {
        matches!(self, Self::Image | Self::Audio | Self::Video | Self::Pdf)
    }

    fn parse(s: &str) -> Self {
        match s {
            "text" => Self::Text,
            "link" => Self::Link,
            "image" => Self::Image,
            "audio" => Self::Audio,
            "video" => Self::Video,
            "iframe" => Self::Iframe,
            "pdf" => Self::Pdf,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Default for ColumnKind {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

impl Serialize for ColumnKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ColumnKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s: Option<String> = Option::deserialize(deserializer)?;
        Ok(s.map_or_else(Self::default, |s| Self::parse(&s)))
    }
}

/// How one column is used (`dataConfig.<column>`, reference §8.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnConfig {
    /// What the column holds.
    #[serde(rename = "type", default)]
    pub kind: ColumnKind,
    /// `"Public"` or a storage-integration ID; for media it is appended to the URL as
    /// `storageId`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub storage: Option<String>,
    /// Copy the value into the asset's `contextData`.
    #[serde(default, deserialize_with = "nullable")]
    pub include_in_export: bool,
}

impl ColumnConfig {
    /// The storage integration to name in media URLs: `None` for public storage.
    pub fn storage_id(&self) -> Option<&str> {
        self.storage
            .as_deref()
            .filter(|s| !s.is_empty() && *s != PUBLIC_STORAGE)
    }
}

/// A classification question: a project classification (for inline placeholders) or the `cla`
/// of a pre-label rule. Fields other than these four are kept as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Classification {
    /// The question's schema ID.
    #[serde(default, deserialize_with = "nullable")]
    pub schema_id: String,
    /// The question's title; `{{title}}` places it inline.
    #[serde(default, deserialize_with = "nullable")]
    pub title: String,
    /// `radio`, `checkbox`, `boolean`, `single-dropdown`, `multi-dropdown`, `tree-dropdown`,
    /// `rank`, `text`.
    #[serde(default, deserialize_with = "nullable")]
    pub tool: String,
    /// Whether several instances may be given.
    #[serde(default, deserialize_with = "nullable")]
    pub multiple: bool,
    /// Everything else (`options`, `required`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Classification {
    /// Checkbox, multi-dropdown and rank take a list of answers.
    pub fn is_multi_select(&self) -> bool {
        MULTI_SELECT_TOOLS.contains(&self.tool.as_str())
    }
}

/// One pre-label rule (`preLabelConfig.<key>`): answer `cla` from column `value`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreLabelRule {
    /// The question answered.
    #[serde(default)]
    pub cla: Classification,
    /// The column holding the answer.
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
}

/// The template object (reference §8.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateConfig {
    /// The hub's ID, once saved.
    #[serde(
        rename = "_id",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// The template's name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// A description.
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// The HTML with `{{column}}` placeholders.
    #[serde(default, deserialize_with = "nullable")]
    pub template: String,
    /// The column whose value is each asset's external ID.
    #[serde(default, deserialize_with = "nullable")]
    pub selected_external_id: String,
    /// The column of `;`-separated batch names, or empty. (`batch_column_name`, the key the SDK
    /// 1.4.10 reads by mistake, is accepted too.)
    #[serde(default, alias = "batch_column_name", deserialize_with = "nullable")]
    pub batch_column: String,
    /// The configured columns; only these are placeholders.
    #[serde(default, deserialize_with = "nullable")]
    pub data_config: OrderedMap<ColumnConfig>,
    /// Pre-label rules.
    #[serde(default, deserialize_with = "nullable")]
    pub pre_label_config: OrderedMap<PreLabelRule>,
}

fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl TemplateConfig {
    /// Reads a config from JSON text; type errors name the line and column.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|e| ConfigError::Json {
            line: e.line() as u64,
            column: e.column() as u64,
            message: {
                let m = e.to_string();
                m.rfind(" at line ")
                    .map_or(m.clone(), |at| m[..at].to_owned())
            },
        })
    }

    /// All of §8.3's checks, as before saving a template: non-empty `name`, `template`,
    /// `selectedExternalId`, `dataConfig`; the external-ID and batch columns configured; column
    /// types known; media columns with a storage; pre-label rules complete.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() {
            problems.push(FieldProblem::new(
                "name",
                "must not be empty; give the template a name",
            ));
        }
        if self.template.trim().is_empty() {
            problems.push(FieldProblem::new(
                "template",
                "must not be empty; write the HTML with {{column}} placeholders",
            ));
        }
        problems.extend(self.build_problems());
        for (column, config) in self.data_config.iter() {
            if config.kind.needs_storage() && config.storage.as_deref().is_none_or(str::is_empty) {
                problems.push(FieldProblem::new(
                    field("dataConfig", column, "storage"),
                    format!(
                        "is required for type `{}`; use \"{PUBLIC_STORAGE}\" for public URLs or a storage-integration ID",
                        config.kind.as_str()
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The checks building needs (the HTML may come from elsewhere, and a media column without
    /// a storage is public, as the SDK treats it).
    pub(crate) fn build_problems(&self) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        let columns = || {
            let list: Vec<String> = self.data_config.keys().map(|k| format!("`{k}`")).collect();
            list.join(", ")
        };
        if self.data_config.is_empty() {
            problems.push(FieldProblem::new(
                "dataConfig",
                "must configure at least one column, e.g. {\"text\": {\"type\": \"text\"}}",
            ));
        }
        for (column, config) in self.data_config.iter() {
            if column.is_empty() {
                problems.push(FieldProblem::new("dataConfig", "has an empty column name"));
            }
            if let ColumnKind::Other(kind) = &config.kind {
                let message = if kind.is_empty() {
                    "is missing; use one of text, link, image, audio, video, iframe, pdf".to_owned()
                } else {
                    format!("`{kind}` is not a column type; use one of text, link, image, audio, video, iframe, pdf")
                };
                problems.push(FieldProblem::new(
                    field("dataConfig", column, "type"),
                    message,
                ));
            }
        }
        if self.selected_external_id.is_empty() {
            problems.push(FieldProblem::new(
                "selectedExternalId",
                "must name the column holding each asset's external ID",
            ));
        } else if !self.data_config.contains_key(&self.selected_external_id) {
            problems.push(FieldProblem::new(
                "selectedExternalId",
                format!(
                    "`{}` is not a key of dataConfig; configure it there (configured: {})",
                    self.selected_external_id,
                    columns()
                ),
            ));
        }
        if !self.batch_column.is_empty() && !self.data_config.contains_key(&self.batch_column) {
            problems.push(FieldProblem::new(
                "batchColumn",
                format!(
                    "`{}` is not a key of dataConfig; configure it there or leave batchColumn empty (configured: {})",
                    self.batch_column,
                    columns()
                ),
            ));
        }
        for (key, rule) in self.pre_label_config.iter() {
            if rule.value.is_empty() {
                problems.push(FieldProblem::new(
                    field("preLabelConfig", key, "value"),
                    "must name the column holding the answer",
                ));
            }
            if rule.cla.schema_id.is_empty() {
                problems.push(FieldProblem::new(
                    field("preLabelConfig", key, "cla.schemaId"),
                    "must be the classification's schema ID",
                ));
            }
            if rule.cla.title.is_empty() {
                problems.push(FieldProblem::new(
                    field("preLabelConfig", key, "cla.title"),
                    "must be the classification's title",
                ));
            }
        }
        problems
    }
}

/// `dataConfig.photo.type`, or `dataConfig["photo url"].type` for keys that are not plain names.
fn field(base: &str, key: &str, tail: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{base}.{key}.{tail}")
    } else {
        format!("{base}[{key:?}].{tail}")
    }
}

/// One thing wrong with a config, and the field it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field, as a path: `dataConfig.photo.storage`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FieldProblem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// Why a template config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The JSON does not parse or has a field of the wrong type.
    #[error("template config, line {line}, column {column}: {message}")]
    Json {
        /// The line.
        line: u64,
        /// The column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// Fields break §8.3's rules; every problem is listed.
    #[error("the template config is invalid: {}", join(.0))]
    Invalid(Vec<FieldProblem>),
}

fn join(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANGO: &str = r#"{
        "_id": "65f0c0ffee", "name": "Products", "description": null,
        "template": "<div>{{text}}</div><img src=\"{{photo}}\">",
        "selectedExternalId": "id", "batchColumn": "",
        "dataConfig": {
            "id": {"type": "text", "includeInExport": true},
            "text": {"type": "text", "includeInExport": false, "storage": "Public"},
            "photo": {"type": "image", "includeInExport": false, "storage": "st-1"}
        },
        "preLabelConfig": {
            "b": {"cla": {"schemaId": "s2", "title": "Tags", "tool": "checkbox", "multiple": false, "options": [{"value": "x", "schemaId": "o1"}]}, "value": "tags"},
            "a": {"cla": {"schemaId": "s1", "title": "Color", "tool": "radio"}, "value": "color"}
        },
        "createdAt": "2024-01-01T00:00:00Z"
    }"#;

    #[test]
    fn reads_ango_json_as_it_is() {
        let config = TemplateConfig::from_json(ANGO).unwrap();
        assert_eq!(config.id.as_deref(), Some("65f0c0ffee"));
        assert_eq!(config.description, "");
        assert_eq!(
            config.data_config.keys().collect::<Vec<_>>(),
            ["id", "text", "photo"]
        );
        assert_eq!(
            config.data_config.get("photo").unwrap().storage_id(),
            Some("st-1")
        );
        assert_eq!(config.data_config.get("text").unwrap().storage_id(), None);
        assert!(config.data_config.get("id").unwrap().include_in_export);
        // Document order, not sorted.
        assert_eq!(
            config.pre_label_config.keys().collect::<Vec<_>>(),
            ["b", "a"]
        );
        let tags = &config.pre_label_config.get("b").unwrap().cla;
        assert!(tags.is_multi_select());
        assert!(tags.extra.contains_key("options"));
        config.validate().unwrap();
        // Round trip keeps the shape.
        let again: TemplateConfig =
            serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(again, config);
        let value = serde_json::to_value(&config).unwrap();
        assert_eq!(value["dataConfig"]["photo"]["type"], "image");
        assert_eq!(value["dataConfig"]["photo"]["includeInExport"], false);
        assert_eq!(
            value["preLabelConfig"]["b"]["cla"]["options"][0]["value"],
            "x"
        );
    }

    #[test]
    fn accepts_the_sdk_batch_key() {
        let config = TemplateConfig::from_json(r#"{"batch_column_name": "b"}"#).unwrap();
        assert_eq!(config.batch_column, "b");
    }

    #[test]
    fn validation_names_every_field() {
        let config = TemplateConfig::from_json(
            r#"{"selectedExternalId": "id", "batchColumn": "batch",
                "dataConfig": {"text": {"type": "img"}, "photo url": {"type": "image"}, "x": {}},
                "preLabelConfig": {"p": {"cla": {"title": "T"}, "value": ""}}}"#,
        )
        .unwrap();
        let Err(ConfigError::Invalid(problems)) = config.validate() else {
            panic!("expected problems");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "template",
                "dataConfig.text.type",
                "dataConfig.x.type",
                "selectedExternalId",
                "batchColumn",
                "preLabelConfig.p.value",
                "preLabelConfig.p.cla.schemaId",
                "dataConfig[\"photo url\"].storage",
            ]
        );
        assert!(problems[2].message.contains("`img` is not a column type"));
        let text = ConfigError::Invalid(problems).to_string();
        assert!(
            text.contains("selectedExternalId `id` is not a key of dataConfig"),
            "{text}"
        );
    }

    #[test]
    fn type_errors_name_the_position() {
        let e = TemplateConfig::from_json(
            "{\n\"dataConfig\": {\"a\": {\"type\": \"text\", \"includeInExport\": \"yes\"}}}",
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Json { line: 2, .. }), "{e}");
    }
}
