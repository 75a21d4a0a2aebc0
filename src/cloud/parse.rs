//! One entry's JSON value → a [`CloudAsset`] and its problems (reference §4.2 fields, §4.3
//! rules). Every field is checked even after an error, so one pass tells the user everything
//! wrong with the entry.

use serde_json::{Map, Number, Value};

use super::asset::{
    Attachment, AttachmentKind, Classification, CloudAsset, Data, EditorType, Metadata,
};
use super::rules::{self, quoted, Shape};
use super::{Fix, Problem, ProblemCode, Severity};
use crate::media::Kind;

/// Collects the problems of one entry, all placed at the entry's index and start.
#[derive(Debug)]
pub(crate) struct Sink {
    pub index: Option<usize>,
    pub line: u64,
    pub column: u64,
    pub problems: Vec<Problem>,
}

impl Sink {
    pub(crate) fn new(index: Option<usize>, line: u64, column: u64) -> Self {
        Self {
            index,
            line,
            column,
            problems: Vec::new(),
        }
    }

    pub(crate) fn push(
        &mut self,
        severity: Severity,
        code: ProblemCode,
        field: Option<&str>,
        message: String,
        fix: Option<Fix>,
    ) {
        self.problems.push(Problem {
            index: self.index,
            line: self.line,
            column: self.column,
            severity,
            code,
            message,
            field: field.map(str::to_owned),
            fix,
            external_id: None,
        });
    }

    fn error(&mut self, code: ProblemCode, field: &str, message: String) {
        self.push(Severity::Error, code, Some(field), message, None);
    }

    fn warn(&mut self, code: ProblemCode, field: &str, message: String) {
        self.push(Severity::Warning, code, Some(field), message, None);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// A field's reading: absent, present but wrong (already reported), or its value.
enum Field<T> {
    Absent,
    Bad,
    Ok(T),
}

/// The JSON type of a value, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads one entry. `None` when it has errors; the problems are in `sink` either way.
pub(crate) fn parse(value: Value, sink: &mut Sink, fix_urls: bool) -> Option<CloudAsset> {
    let mut m = match value {
        Value::Object(m) => m,
        other => {
            sink.push(
                Severity::Error,
                ProblemCode::NotObject,
                None,
                not_object(&other),
                None,
            );
            return None;
        }
    };
    let external_id = m.remove("externalId");
    let data = m.remove("data");
    let dataset = m.remove("dataset");
    let metadata = m.remove("metadata");
    let width = m.remove("width");
    let height = m.remove("height");
    let context = m.remove("contextData");
    let batches = m.remove("batches");
    let attachments = m.remove("attachments");
    let storage = m.remove("storage");
    let editor = m.remove("editorType");
    let classifications = m.remove("classifications");
    // What is left is unknown; the names help explain a missing field.
    let unknown = m;

    let external_id = read_external_id(external_id, &unknown, sink);
    let editor = read_editor(editor, sink);
    let pct = matches!(editor, Some(EditorType::PointCloud));
    let data = read_data(data, pct, fix_urls, sink);
    let pages = read_dataset(dataset, fix_urls, sink);
    match (&data, &pages) {
        (Field::Absent, Field::Absent) => {
            let hint = match near_miss_of(&unknown, "data") {
                Some(k) => format!("; `{k}` is spelled differently: rename it to `data`"),
                None => String::new(),
            };
            sink.error(
                ProblemCode::MissingData,
                "data",
                format!("`data` is missing: every entry needs `data` (the file's URL, or inline markdown/HTML) or `dataset` (a list of image URLs){hint}"),
            );
        }
        (Field::Ok(_), Field::Ok(_)) => sink.warn(
            ProblemCode::DataAndDataset,
            "dataset",
            "both `data` and `dataset` are given: a multi-image asset needs only `dataset`, a single file only `data`; keep the one you mean".to_owned(),
        ),
        _ => {}
    }
    let mut meta = read_metadata(metadata, sink);
    for (name, value, slot) in [
        ("width", width, &mut meta.width),
        ("height", height, &mut meta.height),
    ] {
        let Some(top) = value
            .filter(|v| !v.is_null())
            .and_then(|v| dimension(v, name, sink))
        else {
            continue;
        };
        match *slot {
            Some(inner) if inner != top => sink.warn(
                ProblemCode::ConflictingSize,
                name,
                format!("`{name}` is {top} at the top level but {inner} in `metadata`; {inner} (from `metadata`) is used: remove one of them"),
            ),
            Some(_) => {}
            None => *slot = Some(top),
        }
    }
    let context = read_context(context, sink);
    let batches = read_batches(batches, sink);
    let attachments = read_attachments(attachments, fix_urls, sink);
    let storage = read_storage(storage, sink);
    let classifications = read_classifications(classifications, sink);
    for key in unknown.keys() {
        let hint = match suggestion(key) {
            Some(s) => format!(" Did you mean `{s}`?"),
            None => String::new(),
        };
        sink.warn(
            ProblemCode::UnknownField,
            key,
            format!("`{key}` is not a field of Ango's cloud import, so it is not sent.{hint}"),
        );
    }

    if sink.has_errors() {
        return None;
    }
    let (Some(external_id), data, pages) = (external_id, data, pages) else {
        return None;
    };
    let data = match data {
        Field::Ok(d) => Some(d),
        _ => None,
    };
    let pages = match pages {
        Field::Ok(p) => p,
        _ => Vec::new(),
    };
    let mut asset = CloudAsset::with_data(data, pages, external_id);
    asset.metadata = meta;
    asset.context = context;
    asset.batches = batches;
    asset.attachments = attachments;
    asset.storage = storage;
    asset.editor = editor;
    asset.classifications = classifications;
    Some(asset)
}

fn not_object(v: &Value) -> String {
    let example = match v {
        Value::String(s) if rules::looks_absolute(s) => {
            format!("{{\"data\": {}, \"externalId\": \"NAME\"}}", quoted(s))
        }
        _ => "{\"data\": \"https://host/file.jpg\", \"externalId\": \"file.jpg\"}".to_owned(),
    };
    let what = match v {
        Value::Array(_) => "an array (a list inside the list?)".to_owned(),
        other => type_name(other).to_owned(),
    };
    format!("the entry is {what}, but each entry must be an object, like {example}")
}

fn read_external_id(
    v: Option<Value>,
    unknown: &Map<String, Value>,
    sink: &mut Sink,
) -> Option<String> {
    const F: &str = "externalId";
    match v {
        Some(Value::String(s)) => {
            if s.trim().is_empty() {
                sink.warn(
                    ProblemCode::EmptyExternalId,
                    F,
                    "`externalId` is empty: the asset will be hard to find and to match labels to; give it a name, e.g. the file name".to_owned(),
                );
            }
            Some(s)
        }
        None | Some(Value::Null) => {
            let hint = match near_miss_of(unknown, F) {
                Some(k) => format!("; `{k}` is spelled differently: rename it to `externalId`"),
                None => "; give any text, e.g. the file name (it need not be unique)".to_owned(),
            };
            sink.error(
                ProblemCode::MissingExternalId,
                F,
                format!("`externalId` is missing: every entry needs one{hint}"),
            );
            None
        }
        Some(other) => {
            let fix = match &other {
                Value::Number(n) => Some(Fix {
                    field: F.to_owned(),
                    replacement: n.to_string(),
                }),
                _ => None,
            };
            let how = match &other {
                Value::Number(n) => format!(": write \"{n}\" in quotes"),
                _ => String::new(),
            };
            sink.push(
                Severity::Error,
                ProblemCode::WrongType,
                Some(F),
                format!(
                    "`externalId` must be a string, not {}{how}",
                    type_name(&other)
                ),
                fix,
            );
            None
        }
    }
}

fn read_editor(v: Option<Value>, sink: &mut Sink) -> Option<EditorType> {
    const F: &str = "editorType";
    match v? {
        Value::Null => None,
        Value::String(s) if s == "pct" => Some(EditorType::PointCloud),
        Value::String(s) => {
            let hint = if s.eq_ignore_ascii_case("pct") {
                "write \"pct\" in lower case for 3D multi-sensor fusion"
            } else {
                "the only documented value is \"pct\" (3D multi-sensor fusion); leave it out otherwise"
            };
            sink.warn(
                ProblemCode::UnknownEditorType,
                F,
                format!(
                    "`editorType` {} is not one Ango documents: {hint}; it is sent as it is",
                    quoted(&s)
                ),
            );
            Some(EditorType::Other(s))
        }
        other => {
            sink.error(
                ProblemCode::WrongType,
                F,
                format!(
                    "`editorType` must be a string such as \"pct\", not {}",
                    type_name(&other)
                ),
            );
            None
        }
    }
}

/// Applies the URL rules, placing the issues at `field`. `None` when there were errors.
fn url(text: &str, field: &str, fix_urls: bool, sink: &mut Sink) -> Option<String> {
    let (kept, issues) = rules::check(text, fix_urls);
    let mut ok = true;
    for issue in issues {
        ok &= !issue.error;
        let severity = if issue.error {
            Severity::Error
        } else {
            Severity::Warning
        };
        let fix = issue.fix.map(|replacement| Fix {
            field: field.to_owned(),
            replacement,
        });
        sink.push(
            severity,
            issue.code,
            Some(field),
            format!("`{field}` {}", issue.message),
            fix,
        );
    }
    ok.then_some(kept)
}

fn read_data(v: Option<Value>, pct: bool, fix_urls: bool, sink: &mut Sink) -> Field<Data> {
    const F: &str = "data";
    let text = match v {
        None | Some(Value::Null) => return Field::Absent,
        Some(Value::String(s)) if s.trim().is_empty() => {
            sink.error(
                ProblemCode::MissingData,
                F,
                "`data` is empty: give the file's URL, or the markdown/HTML content itself"
                    .to_owned(),
            );
            return Field::Bad;
        }
        Some(Value::String(s)) => s,
        Some(other) => {
            let hint = if other.is_array() {
                "; for several images in one asset, use `dataset` instead"
            } else {
                ""
            };
            sink.error(
                ProblemCode::WrongType,
                F,
                format!(
                    "`data` must be a string (a URL, or inline markdown/HTML), not {}{hint}",
                    type_name(&other)
                ),
            );
            return Field::Bad;
        }
    };
    match rules::shape(&text) {
        Shape::Inline => {
            inline_advice(&text, F, sink);
            Field::Ok(Data::Inline(text))
        }
        Shape::Relative if pct => Field::Ok(Data::StoragePath(text)),
        Shape::Url | Shape::Relative | Shape::OtherScheme(_) => match url(&text, F, fix_urls, sink)
        {
            Some(u) => Field::Ok(Data::Url(u)),
            None => Field::Bad,
        },
    }
}

/// Ango's advice for inline content (S-MDHTML), given only where it applies.
fn inline_advice(text: &str, field: &str, sink: &mut Sink) {
    let breaks = text.contains(['\n', '\r']);
    let quotes = text.contains('"');
    if !breaks && !quotes {
        return;
    }
    let kind = if text.trim_start().starts_with('<') {
        "HTML"
    } else {
        "markdown"
    };
    let has = match (breaks, quotes) {
        (true, true) => "line breaks and double quotes",
        (true, false) => "line breaks",
        _ => "double quotes",
    };
    sink.warn(
        ProblemCode::InlineNotFlat,
        field,
        format!("`{field}` is inline {kind} with {has}: Ango Hub's importer needs inline markdown/HTML flattened to one line with every \" replaced by ' (this hub takes it as it is)"),
    );
}

fn read_dataset(v: Option<Value>, fix_urls: bool, sink: &mut Sink) -> Field<Vec<String>> {
    const F: &str = "dataset";
    let list = match v {
        None | Some(Value::Null) => return Field::Absent,
        Some(Value::Array(list)) => list,
        Some(other) => {
            let how = match &other {
                Value::String(s) => format!(": write [{}]", quoted(s)),
                _ => String::new(),
            };
            sink.error(
                ProblemCode::WrongType,
                F,
                format!(
                    "`dataset` must be an array of image URLs, not {}{how}",
                    type_name(&other)
                ),
            );
            return Field::Bad;
        }
    };
    if list.is_empty() {
        sink.error(
            ProblemCode::EmptyDataset,
            F,
            "`dataset` is empty: list at least one image URL (one per page, in order), or use `data` for a single file".to_owned(),
        );
        return Field::Bad;
    }
    let mut pages = Vec::with_capacity(list.len());
    let mut ok = true;
    for (i, item) in list.into_iter().enumerate() {
        let field = format!("dataset[{i}]");
        match item {
            Value::String(s) => {
                if let Some(kind) = rules::expected_kind(&s).filter(|k| *k != Kind::Image) {
                    sink.warn(
                        ProblemCode::DatasetNotImage,
                        &field,
                        format!("`{field}` names {} file ({}), but the pages of a multi-image asset are images", article(kind), rules::shown(&s)),
                    );
                }
                match url(&s, &field, fix_urls, sink) {
                    Some(u) => pages.push(u),
                    None => ok = false,
                }
            }
            other => {
                sink.error(
                    ProblemCode::WrongType,
                    &field,
                    format!(
                        "`{field}` must be an image URL string, not {}",
                        type_name(&other)
                    ),
                );
                ok = false;
            }
        }
    }
    if ok {
        Field::Ok(pages)
    } else {
        Field::Bad
    }
}

fn article(kind: Kind) -> String {
    let name = kind.as_str();
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

fn read_metadata(v: Option<Value>, sink: &mut Sink) -> Metadata {
    let mut meta = Metadata::default();
    let map = match v {
        None | Some(Value::Null) => return meta,
        Some(Value::Object(map)) => map,
        Some(other) => {
            sink.error(
                ProblemCode::WrongType,
                "metadata",
                format!("`metadata` must be an object such as {{\"width\": 640, \"height\": 480, \"frameRate\": 25}}, not {}", type_name(&other)),
            );
            return meta;
        }
    };
    for (key, value) in map {
        match key.as_str() {
            "width" if !value.is_null() => meta.width = dimension(value, "metadata.width", sink),
            "height" if !value.is_null() => meta.height = dimension(value, "metadata.height", sink),
            "frameRate" if !value.is_null() => meta.frame_rate = frame_rate(value, sink),
            "width" | "height" | "frameRate" => {}
            _ => {
                let wanted = match normalized(&key).as_str() {
                    "framerate" | "fps" | "framespersecond" => Some("frameRate"),
                    "width" | "w" => Some("width"),
                    "height" | "h" => Some("height"),
                    _ => None,
                };
                if let Some(wanted) = wanted {
                    sink.warn(
                        ProblemCode::UnknownField,
                        &format!("metadata.{key}"),
                        format!("`metadata.{key}` is passed through as it is, but the hub reads `{wanted}`: rename it if that is what you mean"),
                    );
                }
                meta.other.insert(key, value);
            }
        }
    }
    meta
}

/// A width or height: a whole number of pixels above zero.
fn dimension(v: Value, field: &str, sink: &mut Sink) -> Option<u32> {
    let n = match v {
        Value::Number(n) => n,
        Value::String(s) => {
            let how = if s.trim().parse::<f64>().is_ok() {
                format!(": write {} without quotes", s.trim())
            } else {
                String::new()
            };
            sink.error(
                ProblemCode::WrongType,
                field,
                format!("`{field}` must be a number of pixels, not a string{how}"),
            );
            return None;
        }
        other => {
            sink.error(
                ProblemCode::WrongType,
                field,
                format!(
                    "`{field}` must be a number of pixels, not {}",
                    type_name(&other)
                ),
            );
            return None;
        }
    };
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    match whole.and_then(|w| u32::try_from(w).ok()) {
        Some(w) if w > 0 => Some(w),
        _ => {
            sink.error(
                ProblemCode::BadValue,
                field,
                format!("`{field}` must be a whole number of pixels greater than 0, not {n}"),
            );
            None
        }
    }
}

fn frame_rate(v: Value, sink: &mut Sink) -> Option<f64> {
    const F: &str = "metadata.frameRate";
    let n: Number = match v {
        Value::Number(n) => n,
        other => {
            let how = match &other {
                Value::String(s) if s.trim().parse::<f64>().is_ok() => {
                    format!(": write {} without quotes", s.trim())
                }
                _ => String::new(),
            };
            sink.error(
                ProblemCode::WrongType,
                F,
                format!(
                    "`{F}` must be a number of frames per second, not {}{how}",
                    type_name(&other)
                ),
            );
            return None;
        }
    };
    match n.as_f64() {
        Some(f) if f.is_finite() && f > 0.0 => Some(f),
        _ => {
            sink.error(
                ProblemCode::BadValue,
                F,
                format!("`{F}` must be more than 0 frames per second (e.g. 25 or 29.97), not {n}; leave it out for 30"),
            );
            None
        }
    }
}

fn read_context(v: Option<Value>, sink: &mut Sink) -> Map<String, Value> {
    match v {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            sink.error(
                ProblemCode::WrongType,
                "contextData",
                format!("`contextData` must be an object of key/value pairs, such as {{\"source\": \"camera 2\"}}, not {}", type_name(&other)),
            );
            Map::new()
        }
    }
}

fn read_batches(v: Option<Value>, sink: &mut Sink) -> Vec<String> {
    const F: &str = "batches";
    let list = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(other) => {
            let how = match &other {
                Value::String(s) => format!(": write [{}]", quoted(s)),
                _ => String::new(),
            };
            sink.error(
                ProblemCode::WrongType,
                F,
                format!(
                    "`batches` must be an array of batch names or IDs, not {}{how}",
                    type_name(&other)
                ),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let field = format!("batches[{i}]");
        match item {
            Value::String(s) if s.trim().is_empty() => sink.error(
                ProblemCode::BadValue,
                &field,
                format!("`{field}` is empty: give a batch name or ID, or remove it"),
            ),
            Value::String(s) => out.push(s),
            other => sink.error(
                ProblemCode::WrongType,
                &field,
                format!(
                    "`{field}` must be a batch name or ID string, not {}",
                    type_name(&other)
                ),
            ),
        }
    }
    out
}

fn read_attachments(v: Option<Value>, fix_urls: bool, sink: &mut Sink) -> Vec<Attachment> {
    let list = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(other) => {
            sink.error(
                ProblemCode::WrongType,
                "attachments",
                format!("`attachments` must be an array of {{\"type\": \"IMAGE\"|\"TEXT\"|\"VIDEO\"|\"HTML\", \"value\": ...}} objects, not {}", type_name(&other)),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let at = format!("attachments[{i}]");
        let Value::Object(mut m) = item else {
            sink.error(
                ProblemCode::WrongType,
                &at,
                format!(
                    "`{at}` must be an object {{\"type\": \"TEXT\", \"value\": \"...\"}}, not {}",
                    type_name(&item)
                ),
            );
            continue;
        };
        let type_field = format!("{at}.type");
        let kind = match m.remove("type") {
            None | Some(Value::Null) => {
                sink.error(
                    ProblemCode::MissingField,
                    &type_field,
                    format!("`{type_field}` is missing: give IMAGE, TEXT, VIDEO or HTML"),
                );
                None
            }
            Some(Value::String(s)) => {
                let kind = AttachmentKind::from_wire_name(&s);
                if kind.is_none() {
                    let upper = AttachmentKind::from_wire_name(&s.trim().to_ascii_uppercase());
                    let (how, fix) = match upper {
                        Some(k) => (
                            format!(": write \"{}\" (upper case)", k.wire_name()),
                            Some(Fix {
                                field: type_field.clone(),
                                replacement: k.wire_name().to_owned(),
                            }),
                        ),
                        None => (String::new(), None),
                    };
                    sink.push(
                        Severity::Error,
                        ProblemCode::UnknownAttachmentType,
                        Some(&type_field),
                        format!(
                            "`{type_field}` is {}, but it must be IMAGE, TEXT, VIDEO or HTML{how}",
                            quoted(&s)
                        ),
                        fix,
                    );
                }
                kind
            }
            Some(other) => {
                sink.error(
                    ProblemCode::WrongType,
                    &type_field,
                    format!(
                        "`{type_field}` must be the string IMAGE, TEXT, VIDEO or HTML, not {}",
                        type_name(&other)
                    ),
                );
                None
            }
        };
        let value_field = format!("{at}.value");
        let value = match m.remove("value") {
            None | Some(Value::Null) => {
                sink.error(
                    ProblemCode::MissingField,
                    &value_field,
                    format!(
                        "`{value_field}` is missing: give a URL for IMAGE/VIDEO, the text for TEXT"
                    ),
                );
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                sink.error(
                    ProblemCode::BadValue,
                    &value_field,
                    format!("`{value_field}` is empty: give a URL for IMAGE/VIDEO, the text for TEXT, or remove the attachment"),
                );
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                sink.error(
                    ProblemCode::WrongType,
                    &value_field,
                    format!(
                        "`{value_field}` must be a string, not {}",
                        type_name(&other)
                    ),
                );
                None
            }
        };
        for key in m.keys() {
            sink.warn(
                ProblemCode::UnknownField,
                &format!("{at}.{key}"),
                format!("`{at}.{key}` is not part of an attachment (only `type` and `value` are), so it is not sent"),
            );
        }
        let (Some(kind), Some(value)) = (kind, value) else {
            continue;
        };
        let is_url =
            kind.needs_url() || (kind == AttachmentKind::Html && rules::looks_absolute(&value));
        let value = if is_url {
            match url(&value, &value_field, fix_urls, sink) {
                Some(u) => u,
                None => continue,
            }
        } else {
            value
        };
        out.push(Attachment { kind, value });
    }
    out
}

fn read_storage(v: Option<Value>, sink: &mut Sink) -> Option<String> {
    const F: &str = "storage";
    match v? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => {
            sink.error(
                ProblemCode::BadValue,
                F,
                "`storage` is empty: give the storage integration's ID (Organization → Storages), or leave it out for public URLs".to_owned(),
            );
            None
        }
        Value::String(s) => Some(s),
        other => {
            let how = match &other {
                Value::Number(n) => format!(": write \"{n}\" in quotes"),
                _ => String::new(),
            };
            sink.error(
                ProblemCode::WrongType,
                F,
                format!(
                    "`storage` must be a storage integration ID string, not {}{how}",
                    type_name(&other)
                ),
            );
            None
        }
    }
}

fn read_classifications(v: Option<Value>, sink: &mut Sink) -> Vec<Classification> {
    let list = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(other) => {
            sink.error(
                ProblemCode::WrongType,
                "classifications",
                format!("`classifications` must be an array of {{\"schemaId\", \"title\", \"answer\"}} objects, not {}", type_name(&other)),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let at = format!("classifications[{i}]");
        let Value::Object(mut m) = item else {
            sink.error(
                ProblemCode::WrongType,
                &at,
                format!(
                    "`{at}` must be an object {{\"schemaId\": \"...\", \"answer\": ...}}, not {}",
                    type_name(&item)
                ),
            );
            continue;
        };
        let schema_id = match m.remove("schemaId") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            None | Some(Value::Null) => {
                sink.error(
                    ProblemCode::MissingField,
                    &format!("{at}.schemaId"),
                    format!("`{at}.schemaId` is missing: give the schema ID of the classification in the project's category schema"),
                );
                None
            }
            Some(Value::String(_)) => {
                sink.error(
                    ProblemCode::BadValue,
                    &format!("{at}.schemaId"),
                    format!("`{at}.schemaId` is empty: give the schema ID of the classification"),
                );
                None
            }
            Some(other) => {
                sink.error(
                    ProblemCode::WrongType,
                    &format!("{at}.schemaId"),
                    format!(
                        "`{at}.schemaId` must be a string, not {}",
                        type_name(&other)
                    ),
                );
                None
            }
        };
        let answer = match m.remove("answer") {
            None | Some(Value::Null) => {
                sink.error(
                    ProblemCode::MissingField,
                    &format!("{at}.answer"),
                    format!("`{at}.answer` is missing: give the pre-label's answer, or remove the classification"),
                );
                None
            }
            Some(a) => Some(a),
        };
        let title = match m.remove("title") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                sink.error(
                    ProblemCode::WrongType,
                    &format!("{at}.title"),
                    format!("`{at}.title` must be a string, not {}", type_name(&other)),
                );
                None
            }
        };
        if let (Some(schema_id), Some(answer)) = (schema_id, answer) {
            out.push(Classification {
                schema_id,
                title,
                answer,
                other: m,
            });
        }
    }
    out
}

/// A key with case, `_`, `-` and spaces removed, for spotting near misses.
fn normalized(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The field an unknown key was probably meant to be.
fn suggestion(key: &str) -> Option<&'static str> {
    Some(match normalized(key).as_str() {
        "externalid" | "extid" => "externalId",
        "data" | "url" | "uri" | "link" | "src" | "href" => "data",
        "dataset" | "pages" | "images" => "dataset",
        "metadata" | "meta" => "metadata",
        "contextdata" | "context" => "contextData",
        "batches" | "batch" => "batches",
        "attachments" | "attachment" => "attachments",
        "storage" | "storageid" | "integrationid" | "integration" => "storage",
        "editortype" | "editor" => "editorType",
        "classifications" | "classification" | "prelabels" => "classifications",
        "framerate" | "fps" => "metadata.frameRate",
        "width" => "width",
        "height" => "height",
        _ => return None,
    })
}

/// An unknown key that was probably meant as `wanted`.
fn near_miss_of<'a>(unknown: &'a Map<String, Value>, wanted: &str) -> Option<&'a str> {
    unknown
        .keys()
        .find(|k| suggestion(k) == Some(wanted))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type Found = Vec<(ProblemCode, Severity, Option<String>)>;

    fn run(v: Value) -> (Option<CloudAsset>, Found) {
        let mut sink = Sink::new(Some(0), 1, 2);
        let asset = parse(v, &mut sink, false);
        let problems = sink
            .problems
            .into_iter()
            .map(|p| (p.code, p.severity, p.field))
            .collect();
        (asset, problems)
    }

    fn codes(v: Value) -> Vec<ProblemCode> {
        run(v).1.into_iter().map(|(c, _, _)| c).collect()
    }

    #[test]
    fn minimal_entry() {
        let (asset, problems) = run(json!({"data": "https://h/a.jpg", "externalId": "a"}));
        assert_eq!(problems, []);
        let asset = asset.unwrap();
        assert_eq!(asset.data, Some(Data::Url("https://h/a.jpg".into())));
        assert_eq!(asset.external_id, "a");
    }

    #[test]
    fn every_problem_of_an_entry_is_reported_at_once() {
        let got = codes(json!({
            "data": 5, "externalId": 7, "metadata": {"width": "640", "frameRate": 0},
            "batches": "B", "storage": 3, "colour": "red"
        }));
        assert_eq!(
            got,
            // In the order the fields stand in the entry.
            [
                ProblemCode::WrongType,
                ProblemCode::WrongType,
                ProblemCode::WrongType,
                ProblemCode::BadValue,
                ProblemCode::WrongType,
                ProblemCode::WrongType,
                ProblemCode::UnknownField
            ]
        );
    }

    #[test]
    fn near_misses_are_named() {
        let mut sink = Sink::new(Some(3), 4, 5);
        assert!(parse(
            json!({"data": "https://h/a.jpg", "externalID": "a"}),
            &mut sink,
            false
        )
        .is_none());
        let missing = &sink.problems[0];
        assert_eq!(missing.code, ProblemCode::MissingExternalId);
        assert!(
            missing.message.contains("rename it to `externalId`"),
            "{}",
            missing.message
        );
        assert_eq!(
            (missing.index, missing.line, missing.column),
            (Some(3), 4, 5)
        );
        assert!(sink.problems[1]
            .message
            .contains("Did you mean `externalId`?"));
    }

    #[test]
    fn sizes_top_level_or_metadata() {
        let (a, p) =
            run(json!({"data": "https://h/a.jpg", "externalId": "a", "width": 10, "height": 20}));
        assert_eq!(p, []);
        let a = a.unwrap();
        assert_eq!((a.metadata.width, a.metadata.height), (Some(10), Some(20)));
        let (a, p) = run(
            json!({"data": "https://h/a.jpg", "externalId": "a", "width": 10, "metadata": {"width": 11.0}}),
        );
        assert_eq!(
            p,
            [(
                ProblemCode::ConflictingSize,
                Severity::Warning,
                Some("width".into())
            )]
        );
        assert_eq!(a.unwrap().metadata.width, Some(11));
        assert_eq!(
            codes(
                json!({"data": "https://h/a.jpg", "externalId": "a", "width": -1, "metadata": {"height": 2.5}})
            ),
            [ProblemCode::BadValue, ProblemCode::BadValue]
        );
    }

    #[test]
    fn inline_and_pct_data() {
        let (a, p) = run(json!({"data": "<p class=\"x\">hi</p>", "externalId": "a"}));
        assert_eq!(
            p,
            [(
                ProblemCode::InlineNotFlat,
                Severity::Warning,
                Some("data".into())
            )]
        );
        assert!(a.unwrap().data.unwrap().is_html());
        let (a, p) = run(json!({"data": "# Title", "externalId": "a"}));
        assert_eq!(p, []);
        assert_eq!(a.unwrap().data, Some(Data::Inline("# Title".into())));
        let (a, p) =
            run(json!({"data": "lidar-store/scenes/001", "externalId": "s", "editorType": "pct"}));
        assert_eq!(p, []);
        assert_eq!(
            a.unwrap().data,
            Some(Data::StoragePath("lidar-store/scenes/001".into()))
        );
        assert_eq!(
            codes(json!({"data": "lidar-store/scenes/001", "externalId": "s"})),
            [ProblemCode::BadUrl]
        );
    }

    #[test]
    fn attachments_and_classifications() {
        let (a, p) = run(
            json!({"data": "https://h/a.jpg", "externalId": "a", "attachments": [
            {"type": "IMAGE", "value": "https://h/b.png"},
            {"type": "TEXT", "value": "a note with spaces"},
            {"type": "HTML", "value": "<b>x</b>"}
        ], "classifications": [{"schemaId": "s1", "answer": ["a", "b"], "tool": "checkbox"}]}),
        );
        assert_eq!(p, []);
        let a = a.unwrap();
        assert_eq!(a.attachments.len(), 3);
        assert_eq!(
            a.classifications[0].other.get("tool"),
            Some(&json!("checkbox"))
        );
        let (_, p) = run(
            json!({"data": "https://h/a.jpg", "externalId": "a", "attachments": [
            {"type": "image", "value": "https://h/b.png"}, {"value": "x"}, {"type": "VIDEO", "value": "v.mp4"}, "x"
        ], "classifications": [{"title": 1}]}),
        );
        let got: Vec<_> = p.into_iter().map(|(c, _, f)| (c, f.unwrap())).collect();
        assert_eq!(
            got,
            [
                (
                    ProblemCode::UnknownAttachmentType,
                    "attachments[0].type".to_owned()
                ),
                (ProblemCode::MissingField, "attachments[1].type".to_owned()),
                (ProblemCode::BadUrl, "attachments[2].value".to_owned()),
                (ProblemCode::WrongType, "attachments[3]".to_owned()),
                (
                    ProblemCode::MissingField,
                    "classifications[0].schemaId".to_owned()
                ),
                (
                    ProblemCode::MissingField,
                    "classifications[0].answer".to_owned()
                ),
                (
                    ProblemCode::WrongType,
                    "classifications[0].title".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn not_objects() {
        let mut sink = Sink::new(Some(0), 1, 1);
        assert!(parse(json!("https://h/a.jpg"), &mut sink, false).is_none());
        assert_eq!(sink.problems[0].code, ProblemCode::NotObject);
        assert!(sink.problems[0]
            .message
            .contains("{\"data\": \"https://h/a.jpg\""));
    }
}
