//! The HTML template: parsed once into a list of static HTML pieces and value slots, then
//! rendered per row by writing the pieces and the escaped cells, so a row costs a few string
//! copies and never a parse. The substitution rules are the official SDK's (reference §8.4
//! items 1–10), extended so placeholders in mixed text and in any attribute are filled too.
//! Every value is escaped for where it lands, and a URL attribute refuses a cell that would make
//! it a `javascript:`, `vbscript:` or `data:` URL, so no cell can inject markup or script.

use std::collections::{HashMap, HashSet};

use html5ever::tendril::TendrilSink;
use html5ever::{ns, parse_document, ParseOpts, QualName};
use markup5ever_rcdom::{Handle, NodeData, RcDom};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a query value must encode: everything but letters, digits and RFC 3986's unreserved
/// `-._~` (storage IDs such as `stor-42` stay as they are, as the official builder writes them).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
use serde::{Deserialize, Serialize};

use super::config::{Classification, ColumnKind, ConfigError, OrderedMap, TemplateConfig};
use super::table::{Header, Row};
use super::unescape::unescape;

/// Elements the SDK removes (reference §8.4 item 5).
const DENIED: [&str; 1] = ["script"];
/// Elements whose `src` is matched and gets `storageId` (item 6).
const MEDIA: [&str; 3] = ["img", "audio", "video"];
/// HTML elements written without an end tag.
const VOID: [&str; 18] = [
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];
/// HTML elements whose text browsers do not unescape: a value there could close the element.
const RAW_TEXT: [&str; 7] = [
    "style",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];
/// Attributes holding a URL (or, for `srcset`, a list of them).
const URL_ATTRIBUTES: [&str; 19] = [
    "href",
    "src",
    "action",
    "formaction",
    "poster",
    "cite",
    "background",
    "data",
    "codebase",
    "longdesc",
    "usemap",
    "manifest",
    "ping",
    "lowsrc",
    "dynsrc",
    "profile",
    "classid",
    "archive",
    "icon",
];
/// SVG elements that can set any attribute (including `href`) from their own attributes.
const SVG_ANIMATION: [&str; 5] = [
    "set",
    "animate",
    "animateMotion",
    "animateTransform",
    "animateColor",
];
/// How deeply elements may nest. The walk is recursive and a much deeper one could overflow a
/// 2 MiB thread stack; no real asset template nests this far, so deeper ones are refused.
const MAX_DEPTH: usize = 128;
/// URL schemes that run script or carry inline documents.
const REFUSED_SCHEMES: [&str; 3] = ["javascript", "vbscript", "data"];

/// One asset, as `POST /v2/project/{id}/cloud` receives it in `assets` (reference §8.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// The rendered HTML.
    pub data: String,
    /// The external-ID column's value.
    pub external_id: String,
    /// The `includeInExport` columns, in table order.
    pub context_data: OrderedMap<String>,
    /// Pre-labels, in `preLabelConfig` order.
    pub classifications: Vec<PreLabel>,
    /// Batch names from the batch column (trimmed, empty ones dropped, each once).
    pub batches: Vec<String>,
}

/// One pre-label answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreLabel {
    /// The classification's title.
    pub title: String,
    /// The classification's schema ID.
    pub schema_id: String,
    /// The answer.
    pub answer: Answer,
}

/// A pre-label answer: a cell, or (checkbox, multi-dropdown, rank) the cell split on `;`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    /// One value.
    Text(String),
    /// Several choices.
    List(Vec<String>),
}

/// Why a template cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The config breaks a rule.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No HTML.
    #[error(
        "the template HTML is empty; write the HTML of one asset with {{{{column}}}} placeholders"
    )]
    Empty,
    /// A placeholder where any value would run as script.
    #[error("<{element} {attribute}=\"…\"> holds {{{{{placeholder}}}}}: a cell there would run as script; show the value in text or in another attribute instead")]
    ScriptAttribute {
        /// The element.
        element: String,
        /// The attribute.
        attribute: String,
        /// The column.
        placeholder: String,
    },
    /// A placeholder in CSS: a `style` attribute or a `<style>` element (SVG's too).
    #[error("<{element}{attribute}> holds {{{{{placeholder}}}}}: a cell in CSS could restyle the whole asset or load from anywhere (url(…)); show the value as text, or choose a class by it in the template")]
    Css {
        /// The element.
        element: String,
        /// ` style="…"`, or empty for the element's text.
        attribute: String,
        /// The column.
        placeholder: String,
    },
    /// A placeholder in a `<meta http-equiv="refresh">`.
    #[error("<meta http-equiv=\"refresh\" content=\"…\"> holds {{{{{placeholder}}}}}: a cell there could send the asset's viewer to any page; put the link in an <a> instead")]
    Refresh {
        /// The column.
        placeholder: String,
    },
    /// Elements nested deeper than any real template.
    #[error("the template nests elements more than {limit} deep; close its elements")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A `{{` that starts a placeholder and is never closed: a typo that would otherwise
    /// reach every asset as literal text.
    #[error("the template has {snippet:?} with no closing }}}}; write the placeholder as {{{{{name}}}}}")]
    UnclosedPlaceholder {
        /// The text as written, from the `{{`.
        snippet: String,
        /// The name it seems to start.
        name: String,
    },
    /// A placeholder in an element the parser puts in the document's head (`<title>`, `<meta>`,
    /// or `<style>`/`<script>` before any content): assets hold only the body, so the column
    /// would never show.
    #[error("<{element}> holds {{{{{placeholder}}}}}, but a <{element}> at the start of a template goes into the document's head, which assets do not include, so the column would never show; put the placeholder inside an element such as <div> or <p>")]
    InHead {
        /// The element.
        element: String,
        /// The column.
        placeholder: String,
    },
    /// A placeholder inside an element whose text is not HTML.
    #[error("<{element}> holds {{{{{placeholder}}}}}, but the text of <{element}> is not escaped HTML, so a cell could close it and inject markup; move the placeholder into an ordinary element")]
    RawText {
        /// The element.
        element: String,
        /// The column.
        placeholder: String,
    },
}

/// Why a parsed template does not fit a table; everything found is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct CheckError {
    /// Placeholders naming neither a configured column nor a classification.
    pub unknown_placeholders: Vec<String>,
    /// Configured columns (dataConfig keys, pre-label columns) the header lacks.
    pub missing_columns: Vec<String>,
    /// The configured columns, for the message.
    pub configured: Vec<String>,
    /// The table's header, for the message.
    pub header: Vec<String>,
}

impl CheckError {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.unknown_placeholders.is_empty() {
            let names: Vec<String> = self
                .unknown_placeholders
                .iter()
                .map(|p| {
                    let hint = same_but_case(p, &self.configured)
                        .map(|c| format!(" (did you mean {{{{{c}}}}}?)"))
                        .unwrap_or_default();
                    format!("{{{{{p}}}}}{hint}")
                })
                .collect();
            parts.push(format!(
                "the template uses {} but only configured columns are placeholders; add them to dataConfig or fix the spelling (configured: {})",
                names.join(", "),
                quoted(&self.configured)
            ));
        }
        if !self.missing_columns.is_empty() {
            let names: Vec<String> = self
                .missing_columns
                .iter()
                .map(|m| {
                    let hint = same_but_case(m, &self.header)
                        .map(|c| format!(" (the header has `{c}`)"))
                        .unwrap_or_default();
                    format!("`{m}`{hint}")
                })
                .collect();
            parts.push(format!(
                "the table has no column {} that the config names; rename the header or the config (header: {})",
                names.join(", "),
                quoted(&self.header)
            ));
        }
        parts.join("; ")
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl CheckError {
    /// The configured column an unknown placeholder most likely means (see [`closest_name`]).
    pub fn likely_column(&self, placeholder: &str) -> Option<&str> {
        closest_name(placeholder, &self.configured)
    }

    /// The header column a missing configured column most likely is (see [`closest_name`]).
    pub fn likely_header(&self, column: &str) -> Option<&str> {
        closest_name(column, &self.header)
    }
}

/// The candidate `name` most likely means: one equal to it but for case and surrounding spaces,
/// else the nearest by edit distance (ignoring case; a swap of two neighbouring letters counts
/// as one edit), if it is within a third of the name's length (at least one edit, at most
/// three). The first of equally near candidates wins.
pub fn closest_name<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    if let Some(same) = same_but_case(name, candidates) {
        return Some(same);
    }
    let key: Vec<char> = name.trim().to_lowercase().chars().collect();
    let limit = (key.len() / 3).clamp(1, 3);
    candidates
        .iter()
        .filter(|c| c.as_str() != name)
        .map(|c| {
            let other: Vec<char> = c.trim().to_lowercase().chars().collect();
            (edit_distance(&key, &other), c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// A candidate equal to `name` but for case and surrounding spaces: the only hint the
/// command line's message gives (it names every configured column besides).
fn same_but_case<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    let key = name.trim().to_lowercase();
    candidates
        .iter()
        .find(|c| c.as_str() != name && c.trim().to_lowercase() == key)
        .map(String::as_str)
}

/// The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
/// neighbours, one edit each.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * width] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// Why one row could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The row's table lacks a column the template needs ([`Template::check`] reports this
    /// before any row).
    #[error("line {line}: the table has no column `{column}`; check the template against the header first")]
    MissingColumn {
        /// The row's line.
        line: u64,
        /// The column.
        column: String,
    },
    /// A cell would make a URL attribute run script.
    #[error("line {line}, column `{column}`: a {scheme}: URL cannot go into <{element} {attribute}>, as it could run script in the asset; use an http(s) URL")]
    UnsafeUrl {
        /// The row's line.
        line: u64,
        /// The column whose value it is.
        column: String,
        /// The element.
        element: String,
        /// The attribute.
        attribute: String,
        /// The refused scheme.
        scheme: String,
    },
}

/// A parsed template, ready to render rows.
#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
    /// Column names by slot number.
    columns: Vec<String>,
    external_id: usize,
    batch: Option<usize>,
    pre_labels: Vec<PreLabelSlot>,
    exported: HashSet<String>,
    required: Vec<String>,
    configured: Vec<String>,
    unknown: Vec<String>,
    /// Media columns (image, audio, video, PDF) on public storage, in config order.
    public_media: Vec<(String, ColumnKind)>,
    static_len: usize,
}

#[derive(Debug, Clone)]
enum Piece {
    /// HTML written as is.
    Static(String),
    /// The SDK's whole-text replacement: `"\n\n" + value + "\n\n"`, escaped as text.
    Block(usize),
    /// A value inside text, escaped as text.
    Text(usize),
    /// An attribute value (without its quotes).
    Attribute(AttributeSlot),
}

#[derive(Debug, Clone)]
struct AttributeSlot {
    element: String,
    attribute: String,
    parts: Vec<Part>,
    /// A storage integration to name in the URL (`storageId`).
    storage: Option<String>,
    url: UrlKind,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Cell(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UrlKind {
    None,
    One,
    List,
}

#[derive(Debug, Clone)]
struct PreLabelSlot {
    title: String,
    schema_id: String,
    column: usize,
    one_per_part: bool,
    list: bool,
}

impl Template {
    /// Parses the template HTML once, with the config's columns as placeholders and the
    /// project's classifications for inline `{{title}}` placeholders. Checks the config (see
    /// [`TemplateConfig::validate`]; a media column without `storage` counts as public here).
    pub fn parse(
        html: &str,
        config: &TemplateConfig,
        classifications: &[Classification],
    ) -> Result<Self, TemplateError> {
        let problems = config.build_problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems).into());
        }
        if html.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        // Item 1: unescape, then parse leniently (html5ever: the HTML5 algorithm browsers use).
        let source = unescape(html);
        let dom = parse_document(RcDom::default(), ParseOpts::default()).one(source.as_ref());
        let mut compiler = Compiler {
            config,
            classifications,
            pieces: Vec::new(),
            pending: String::new(),
            columns: Vec::new(),
            column_ids: HashMap::new(),
            unknown: Vec::new(),
            depth: 0,
        };
        // A template that writes its own <html> or <head> puts things in the head on purpose
        // (a whole document whose title is dropped, as the SDK drops it); one that does not has
        // had the leading elements moved there by the parser, unseen by its author.
        let lower = source.to_ascii_lowercase();
        let own_head = lower.contains("<head") || lower.contains("<html");
        if let Some((element, placeholder)) = (!own_head)
            .then(|| head_placeholder(&dom.document, |n| compiler.is_column(n)))
            .flatten()
        {
            return Err(TemplateError::InHead {
                element,
                placeholder,
            });
        }
        if let Some(body) = document_part(&dom.document, "body") {
            // The body is walked like any element (its leading text counts), but only its
            // contents are output (item 10).
            let drop = leading_text(&body).is_some_and(|t| compiler.classification(&t).is_some());
            compiler.content(&body, drop, None)?;
        }
        compiler.flush();

        let external_id = compiler.column(&config.selected_external_id);
        let batch =
            (!config.batch_column.is_empty()).then(|| compiler.column(&config.batch_column));
        let pre_labels = config
            .pre_label_config
            .iter()
            .map(|(_, rule)| PreLabelSlot {
                title: rule.cla.title.clone(),
                schema_id: rule.cla.schema_id.clone(),
                column: compiler.column(&rule.value),
                one_per_part: rule.cla.multiple && !rule.cla.is_multi_select(),
                list: rule.cla.is_multi_select(),
            })
            .collect();
        let exported = config
            .data_config
            .iter()
            .filter(|(_, c)| c.include_in_export)
            .map(|(k, _)| k.to_owned())
            .collect();
        let configured: Vec<String> = config.data_config.keys().map(str::to_owned).collect();
        let public_media = config
            .data_config
            .iter()
            .filter(|(_, c)| c.kind.needs_storage() && c.storage_id().is_none())
            .map(|(name, c)| (name.to_owned(), c.kind.clone()))
            .collect();
        let mut required = configured.clone();
        for (_, rule) in config.pre_label_config.iter() {
            if !required.contains(&rule.value) {
                required.push(rule.value.clone());
            }
        }
        let static_len = compiler
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Static(s) => s.len(),
                _ => 16,
            })
            .sum();
        Ok(Self {
            pieces: compiler.pieces,
            columns: compiler.columns,
            external_id,
            batch,
            pre_labels,
            exported,
            required,
            configured,
            unknown: compiler.unknown,
            public_media,
            static_len,
        })
    }

    /// Parses `config.template`.
    pub fn from_config(
        config: &TemplateConfig,
        classifications: &[Classification],
    ) -> Result<Self, TemplateError> {
        Self::parse(&config.template, config, classifications)
    }

    /// Placeholders that name neither a configured column nor a classification; they are left
    /// as they are in the output, and [`Template::check`] refuses them.
    pub fn unknown_placeholders(&self) -> &[String] {
        &self.unknown
    }

    /// The media columns (image, audio, video, PDF) whose values are public URLs, with their
    /// kinds: the URLs a check before building can probe (a storage integration's are the
    /// hub's to check).
    pub fn public_media(&self) -> &[(String, ColumnKind)] {
        &self.public_media
    }

    /// The columns a table must have: the `dataConfig` keys and the pre-label columns.
    pub fn required_columns(&self) -> &[String] {
        &self.required
    }

    /// Checks, before any row renders, that every placeholder is known and every configured
    /// column is in the header.
    pub fn check(&self, header: &Header) -> Result<(), CheckError> {
        let missing: Vec<String> = self
            .required
            .iter()
            .filter(|c| header.position(c).is_none())
            .cloned()
            .collect();
        if missing.is_empty() && self.unknown.is_empty() {
            return Ok(());
        }
        Err(CheckError {
            unknown_placeholders: self.unknown.clone(),
            missing_columns: missing,
            configured: self.configured.clone(),
            header: header.names().to_vec(),
        })
    }

    /// Renders one row into an asset.
    pub fn render(&self, row: &Row) -> Result<Asset, RenderError> {
        let mut values = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let value = row.get(column).ok_or_else(|| RenderError::MissingColumn {
                line: row.line,
                column: column.clone(),
            })?;
            values.push(value);
        }
        let data = self.render_html(row.line, &values)?;

        let mut context_data = OrderedMap::new();
        if !self.exported.is_empty() {
            for (name, cell) in row.header().names().iter().zip(&row.cells) {
                if self.exported.contains(name) {
                    context_data.insert(name.clone(), cell.clone());
                }
            }
        }
        let classifications = self
            .pre_labels
            .iter()
            .flat_map(|rule| {
                let cell = values[rule.column];
                let label = |answer| PreLabel {
                    title: rule.title.clone(),
                    schema_id: rule.schema_id.clone(),
                    answer,
                };
                if rule.one_per_part {
                    cell.split(';')
                        .map(|part| label(Answer::Text(part.to_owned())))
                        .collect::<Vec<_>>()
                } else if rule.list {
                    vec![label(Answer::List(
                        cell.split(';').map(str::to_owned).collect(),
                    ))]
                } else {
                    vec![label(Answer::Text(cell.to_owned()))]
                }
            })
            .collect();
        let mut batches: Vec<String> = Vec::new();
        if let Some(column) = self.batch {
            for name in values[column].split(';').map(str::trim) {
                if !name.is_empty() && !batches.iter().any(|b| b == name) {
                    batches.push(name.to_owned());
                }
            }
        }
        Ok(Asset {
            data,
            external_id: values[self.external_id].to_owned(),
            context_data,
            classifications,
            batches,
        })
    }

    fn render_html(&self, line: u64, values: &[&str]) -> Result<String, RenderError> {
        let mut out =
            String::with_capacity(self.static_len + values.iter().map(|v| v.len()).sum::<usize>());
        for piece in &self.pieces {
            match piece {
                Piece::Static(s) => out.push_str(s),
                Piece::Text(c) => escape_text(values[*c], &mut out),
                Piece::Block(c) => {
                    out.push_str("\n\n");
                    escape_text(values[*c], &mut out);
                    out.push_str("\n\n");
                }
                Piece::Attribute(slot) => self.render_attribute(slot, line, values, &mut out)?,
            }
        }
        // The SDK strips the serialized body (item 10).
        let trimmed = out.trim();
        if trimmed.len() != out.len() {
            out = trimmed.to_owned();
        }
        Ok(out)
    }

    fn render_attribute(
        &self,
        slot: &AttributeSlot,
        line: u64,
        values: &[&str],
        out: &mut String,
    ) -> Result<(), RenderError> {
        let mut value = String::new();
        for part in &slot.parts {
            match part {
                Part::Literal(s) => value.push_str(s),
                Part::Cell(c) => value.push_str(values[*c]),
            }
        }
        if let Some(storage) = &slot.storage {
            value = with_storage(&value, storage);
        }
        let refused = match slot.url {
            UrlKind::None => None,
            UrlKind::One => refused_scheme(&value),
            UrlKind::List => value.split(',').find_map(|candidate| {
                refused_scheme(candidate.trim_start().split(' ').next().unwrap_or(""))
            }),
        };
        if let Some(scheme) = refused {
            let column = slot
                .parts
                .iter()
                .find_map(|p| match p {
                    Part::Cell(c) => Some(self.columns[*c].clone()),
                    Part::Literal(_) => None,
                })
                .unwrap_or_default();
            return Err(RenderError::UnsafeUrl {
                line,
                column,
                element: slot.element.clone(),
                attribute: slot.attribute.clone(),
                scheme,
            });
        }
        escape_attribute(&value, out);
        Ok(())
    }
}

/// Appends `storageId` to a URL's query: with `?`, or `&` when it already has a query, before
/// any `#fragment`. (The SDK always appends `?storageId=…`, breaking URLs that have a query.)
fn with_storage(url: &str, storage: &str) -> String {
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let id = utf8_percent_encode(storage, QUERY_VALUE);
    format!("{base}{separator}storageId={id}{fragment}")
}

/// The scheme of a URL when it is one that runs script (`javascript:`, `vbscript:`, `data:`),
/// read the way browsers read it: surrounding spaces and control characters ignored, tabs and
/// line breaks removed anywhere, case ignored.
fn refused_scheme(url: &str) -> Option<String> {
    let cleaned: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let (scheme, _) = cleaned.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    REFUSED_SCHEMES.contains(&scheme.as_str()).then_some(scheme)
}

fn escape_text(s: &str, out: &mut String) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let replacement = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(replacement);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

fn escape_attribute(s: &str, out: &mut String) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let replacement = match b {
            b'&' => "&amp;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(replacement);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// The `<html>` element's child called `name` (`head`, `body`).
fn document_part(document: &Handle, name: &str) -> Option<Handle> {
    let html = document
        .children
        .borrow()
        .iter()
        .find(|n| matches!(&n.data, NodeData::Element { name, .. } if &*name.local == "html"))
        .cloned()?;
    let part = html
        .children
        .borrow()
        .iter()
        .find(|n| matches!(&n.data, NodeData::Element { name: n, .. } if &*n.local == name))
        .cloned();
    part
}

/// The first element of the document's `<head>` whose text or attributes hold a `{{column}}`
/// (`is_column` tells columns from other names): the element and the column.
fn head_placeholder(
    document: &Handle,
    is_column: impl Fn(&str) -> bool,
) -> Option<(String, String)> {
    let head = document_part(document, "head")?;
    // An explicit stack, so a deep head cannot exhaust the call stack.
    let mut stack: Vec<(Handle, String)> = head
        .children
        .borrow()
        .iter()
        .map(|c| (c.clone(), "head".to_owned()))
        .collect();
    let column = |text: &str| {
        placeholders(text)
            .into_iter()
            .map(|(_, _, name)| name)
            .find(|name| is_column(name))
            .map(str::to_owned)
    };
    while let Some((node, parent)) = stack.pop() {
        match &node.data {
            NodeData::Text { contents } => {
                if let Some(c) = column(&contents.borrow()) {
                    return Some((parent, c));
                }
            }
            NodeData::Element { name, attrs, .. } => {
                let local = name.local.to_string();
                if let Some(c) = attrs.borrow().iter().find_map(|a| column(&a.value)) {
                    return Some((local, c));
                }
                stack.extend(
                    node.children
                        .borrow()
                        .iter()
                        .map(|c| (c.clone(), local.clone())),
                );
            }
            _ => {}
        }
    }
    None
}

/// `{{name}}` spans in `text`: name non-empty and without braces.
fn placeholders(text: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| i + from) {
        let inner = open + 2;
        let Some(close) = text[inner..].find("}}").map(|i| i + inner) else {
            break;
        };
        let name = &text[inner..close];
        if name.is_empty() || name.contains('{') || name.contains('}') {
            from = open + 1;
            continue;
        }
        found.push((open, close + 2, name));
        from = close + 2;
    }
    found
}

/// The first `{{name` in `text` that no `}}` closes (`{{title}`, `{{title`), outside the
/// placeholders `spans` found: the text from the `{{` as written, and the name.
fn unclosed_placeholder(text: &str, spans: &[(usize, usize, &str)]) -> Option<(String, String)> {
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| i + from) {
        if let Some(&(_, end, _)) = spans.iter().find(|(start, _, _)| *start == open) {
            from = end;
            continue;
        }
        let rest = &text[open + 2..];
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ')))
            .unwrap_or(rest.len());
        let name = rest[..name_len].trim();
        if !name.is_empty() && !rest[name_len..].starts_with("}}") {
            let tail = usize::from(rest[name_len..].starts_with('}'));
            let snippet = text[open..open + 2 + name_len + tail].to_owned();
            return Some((snippet, name.to_owned()));
        }
        from = open + 2;
    }
    None
}

/// The placeholder name when `text` is exactly `{{name}}`.
fn whole_placeholder(text: &str) -> Option<&str> {
    let name = text.strip_prefix("{{")?.strip_suffix("}}")?;
    (!name.is_empty()).then_some(name)
}

/// The serialized attribute name (`xlink:href`, `xml:lang`, `class`).
fn attribute_name(name: &QualName) -> String {
    let local = &*name.local;
    if name.ns == ns!(xml) {
        format!("xml:{local}")
    } else if name.ns == ns!(xmlns) {
        if local == "xmlns" {
            "xmlns".to_owned()
        } else {
            format!("xmlns:{local}")
        }
    } else if name.ns == ns!(xlink) {
        format!("xlink:{local}")
    } else {
        local.to_owned()
    }
}

/// How an attribute's value is produced.
enum AttributeValue {
    Literal(String),
    /// The whole value is one cell (the SDK's last-segment match), with an optional storage.
    Whole(usize, Option<String>),
    Mixed(Vec<Part>),
}

struct Compiler<'a> {
    config: &'a TemplateConfig,
    classifications: &'a [Classification],
    pieces: Vec<Piece>,
    pending: String,
    columns: Vec<String>,
    column_ids: HashMap<String, usize>,
    unknown: Vec<String>,
    depth: usize,
}

impl Compiler<'_> {
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.pieces
                .push(Piece::Static(std::mem::take(&mut self.pending)));
        }
    }

    fn piece(&mut self, piece: Piece) {
        self.flush();
        self.pieces.push(piece);
    }

    fn column(&mut self, name: &str) -> usize {
        if let Some(&id) = self.column_ids.get(name) {
            return id;
        }
        let id = self.columns.len();
        self.columns.push(name.to_owned());
        self.column_ids.insert(name.to_owned(), id);
        id
    }

    fn is_column(&self, name: &str) -> bool {
        self.config.data_config.contains_key(name)
    }

    fn is_classification_title(&self, name: &str) -> bool {
        self.classifications.iter().any(|c| c.title == name)
    }

    fn note(&mut self, name: &str) {
        if !self.is_column(name)
            && !self.is_classification_title(name)
            && !self.unknown.iter().any(|u| u == name)
        {
            self.unknown.push(name.to_owned());
        }
    }

    /// Item 3: an element whose leading text is `{{title}}` of a classification.
    fn classification(&self, leading: &str) -> Option<&Classification> {
        let text = unescape(leading);
        let name = whole_placeholder(text.trim())?;
        self.classifications.iter().find(|c| c.title == name)
    }

    /// Item 9: leading text that is exactly `{{column}}` (trimmed, or after unescaping).
    fn whole_column(&self, leading: &str) -> Option<String> {
        if let Some(name) = whole_placeholder(leading.trim()) {
            if self.is_column(name) {
                return Some(name.to_owned());
            }
        }
        let unescaped = unescape(leading);
        whole_placeholder(&unescaped)
            .filter(|name| self.is_column(name))
            .map(str::to_owned)
    }

    /// Items 6–8: the column when the URL's last path segment, percent-decoded, is
    /// `{{column}}`.
    fn last_segment_column(&self, url: &str) -> Option<String> {
        let decoded = percent_decode_str(url).decode_utf8_lossy();
        let segment = decoded.rsplit('/').next().unwrap_or("");
        whole_placeholder(segment)
            .filter(|name| self.is_column(name))
            .map(str::to_owned)
    }

    fn element(&mut self, node: &Handle) -> Result<(), TemplateError> {
        let NodeData::Element {
            name,
            attrs,
            template_contents,
            ..
        } = &node.data
        else {
            return Ok(());
        };
        let local: &str = &name.local;
        if DENIED.iter().any(|d| local.eq_ignore_ascii_case(d)) {
            return Ok(());
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(TemplateError::TooDeep { limit: MAX_DEPTH });
        }
        let result = self.element_inner(node, name, attrs, template_contents, local);
        self.depth -= 1;
        result
    }

    fn element_inner(
        &mut self,
        node: &Handle,
        name: &QualName,
        attrs: &std::cell::RefCell<Vec<html5ever::Attribute>>,
        template_contents: &std::cell::RefCell<Option<Handle>>,
        local: &str,
    ) -> Result<(), TemplateError> {
        let html = name.ns == ns!(html);
        let contents = template_contents.borrow().clone();
        let parent = contents.as_ref().unwrap_or(node);
        let leading = leading_text(parent);
        let classification = leading
            .as_deref()
            .and_then(|t| self.classification(t))
            .cloned();

        let mut list: Vec<(String, String, bool)> = attrs
            .borrow()
            .iter()
            .map(|a| {
                let plain = a.name.ns == ns!();
                (attribute_name(&a.name), a.value.to_string(), plain)
            })
            .collect();
        let mut values: Vec<AttributeValue> = Vec::with_capacity(list.len() + 1);
        let mut whole: Option<(String, Option<String>)> = None;
        let mut whole_attribute = "";
        if let Some(cla) = &classification {
            let id = format!("cla-portal-{}", cla.schema_id);
            match list.iter_mut().find(|(n, _, plain)| *plain && n == "id") {
                Some(entry) => entry.1 = id,
                None => list.push(("id".to_owned(), id, true)),
            }
        } else if html {
            let lower = local.to_ascii_lowercase();
            let target = if MEDIA.contains(&lower.as_str()) || lower == "iframe" {
                Some("src")
            } else if lower == "a" {
                Some("href")
            } else {
                None
            };
            if let Some(target) = target {
                if let Some((_, value, _)) = list.iter().find(|(n, _, plain)| *plain && n == target)
                {
                    if let Some(column) = self.last_segment_column(value) {
                        let storage = if MEDIA.contains(&lower.as_str()) {
                            self.config
                                .data_config
                                .get(&column)
                                .and_then(|c| c.storage_id())
                                .map(str::to_owned)
                        } else {
                            None
                        };
                        whole = Some((column, storage));
                        whole_attribute = target;
                        if lower == "iframe" {
                            // `srcdoc` would show instead of the row's page, so it goes (as in
                            // the SDK); `sandbox` stays: it is the template's protection from
                            // the framed page, which the SDK silently drops.
                            list.retain(|(n, _, plain)| !(*plain && n == "srcdoc"));
                        }
                    }
                }
            }
        }
        for (attribute, value, plain) in &list {
            if *plain && attribute == whole_attribute {
                if let Some((column, storage)) = whole.take() {
                    values.push(AttributeValue::Whole(self.column(&column), storage));
                    continue;
                }
            }
            let refresh = local.eq_ignore_ascii_case("meta")
                && attribute.eq_ignore_ascii_case("content")
                && list.iter().any(|(n, v, _)| {
                    n.eq_ignore_ascii_case("http-equiv") && v.trim().eq_ignore_ascii_case("refresh")
                });
            if refresh {
                if let Some((_, _, name)) = placeholders(value)
                    .into_iter()
                    .find(|(_, _, n)| self.is_column(n))
                {
                    return Err(TemplateError::Refresh {
                        placeholder: name.to_owned(),
                    });
                }
            }
            values.push(self.attribute_value(local, attribute, value)?);
        }

        self.pending.push('<');
        self.pending.push_str(local);
        for ((attribute, _, _), value) in list.iter().zip(values) {
            self.pending.push(' ');
            self.pending.push_str(attribute);
            self.pending.push_str("=\"");
            let url = url_kind(attribute);
            match value {
                AttributeValue::Literal(v) => escape_attribute(&v, &mut self.pending),
                AttributeValue::Whole(column, storage) => {
                    self.piece(Piece::Attribute(AttributeSlot {
                        element: local.to_owned(),
                        attribute: attribute.clone(),
                        parts: vec![Part::Cell(column)],
                        storage,
                        url,
                    }));
                }
                AttributeValue::Mixed(parts) => self.piece(Piece::Attribute(AttributeSlot {
                    element: local.to_owned(),
                    attribute: attribute.clone(),
                    parts,
                    storage: None,
                    url,
                })),
            }
            self.pending.push('"');
        }
        self.pending.push('>');
        if html && VOID.contains(&local) {
            return Ok(());
        }
        let raw = (html && RAW_TEXT.contains(&local)).then_some(local);
        // SVG's <style> is not raw text, but its text is CSS all the same.
        if !html && local.eq_ignore_ascii_case("style") {
            self.refuse_css_text(node, local)?;
        }
        // A classification element's leading text is cleared; its children are still processed.
        self.content(parent, classification.is_some(), raw)?;
        self.pending.push_str("</");
        self.pending.push_str(local);
        self.pending.push('>');
        Ok(())
    }

    /// Writes a node's children. `drop_leading`: the node is a classification placeholder, whose
    /// leading text is cleared (item 3); otherwise item 9 applies to its leading text.
    fn content(
        &mut self,
        node: &Handle,
        drop_leading: bool,
        raw: Option<&str>,
    ) -> Result<(), TemplateError> {
        let children = node.children.borrow();
        for (i, child) in children.iter().enumerate() {
            match &child.data {
                NodeData::Text { contents } => {
                    let text = contents.borrow();
                    if i == 0 {
                        if drop_leading {
                            continue;
                        }
                        if raw.is_none() {
                            if let Some(column) = self.whole_column(&text) {
                                let id = self.column(&column);
                                self.piece(Piece::Block(id));
                                continue;
                            }
                        }
                    }
                    self.text(&text, raw)?;
                }
                NodeData::Comment { contents } => {
                    self.pending.push_str("<!--");
                    self.pending.push_str(contents);
                    self.pending.push_str("-->");
                }
                NodeData::Element { .. } => self.element(child)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Refuses a placeholder anywhere in the text under `node` (CSS of an SVG `<style>`).
    fn refuse_css_text(&mut self, node: &Handle, element: &str) -> Result<(), TemplateError> {
        for child in node.children.borrow().iter() {
            if let NodeData::Text { contents } = &child.data {
                let text = contents.borrow().to_string();
                if let Some((_, _, name)) = placeholders(&text)
                    .into_iter()
                    .find(|(_, _, n)| self.is_column(n))
                {
                    return Err(TemplateError::Css {
                        element: element.to_owned(),
                        attribute: String::new(),
                        placeholder: name.to_owned(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Text with placeholders filled anywhere in it (beyond the SDK, which fills only text that
    /// is exactly one placeholder).
    fn text(&mut self, text: &str, raw: Option<&str>) -> Result<(), TemplateError> {
        let spans = placeholders(text);
        if let Some(element) = raw {
            if let Some((_, _, name)) = spans.iter().find(|(_, _, n)| self.is_column(n)) {
                return Err(TemplateError::RawText {
                    element: element.to_owned(),
                    placeholder: (*name).to_owned(),
                });
            }
            self.pending.push_str(text);
            return Ok(());
        }
        if let Some((snippet, name)) = unclosed_placeholder(text, &spans) {
            return Err(TemplateError::UnclosedPlaceholder { snippet, name });
        }
        let mut last = 0;
        for (start, end, name) in spans {
            if self.is_column(name) {
                escape_text(&text[last..start], &mut self.pending);
                let id = self.column(name);
                self.piece(Piece::Text(id));
                last = end;
            } else {
                self.note(name);
            }
        }
        escape_text(&text[last..], &mut self.pending);
        Ok(())
    }

    /// Placeholders filled anywhere in an attribute value (beyond the SDK).
    fn attribute_value(
        &mut self,
        element: &str,
        attribute: &str,
        value: &str,
    ) -> Result<AttributeValue, TemplateError> {
        let spans = placeholders(value);
        if attribute == "src" || attribute == "href" {
            // An encoded `%7B%7Bname%7D%7D` placeholder: report unknown names too.
            let decoded = percent_decode_str(value).decode_utf8_lossy();
            if decoded != value {
                for (_, _, name) in placeholders(&decoded) {
                    self.note(name);
                }
            }
        }
        let mut parts = Vec::new();
        let mut last = 0;
        for (start, end, name) in spans {
            if !self.is_column(name) {
                self.note(name);
                continue;
            }
            let lower = attribute.to_ascii_lowercase();
            if lower == "style" {
                return Err(TemplateError::Css {
                    element: element.to_owned(),
                    attribute: format!(" {attribute}=\"…\""),
                    placeholder: name.to_owned(),
                });
            }
            if lower.starts_with("on") || lower == "srcdoc" || SVG_ANIMATION.contains(&element) {
                return Err(TemplateError::ScriptAttribute {
                    element: element.to_owned(),
                    attribute: attribute.to_owned(),
                    placeholder: name.to_owned(),
                });
            }
            if start > last {
                parts.push(Part::Literal(value[last..start].to_owned()));
            }
            parts.push(Part::Cell(self.column(name)));
            last = end;
        }
        if parts.is_empty() {
            return Ok(AttributeValue::Literal(value.to_owned()));
        }
        if last < value.len() {
            parts.push(Part::Literal(value[last..].to_owned()));
        }
        Ok(AttributeValue::Mixed(parts))
    }
}

fn url_kind(attribute: &str) -> UrlKind {
    let local = attribute
        .rsplit(':')
        .next()
        .unwrap_or(attribute)
        .to_ascii_lowercase();
    if local == "srcset" || local == "imagesrcset" {
        UrlKind::List
    } else if URL_ATTRIBUTES.contains(&local.as_str()) {
        UrlKind::One
    } else {
        UrlKind::None
    }
}

/// The element's own leading text (before its first child element or comment), as lxml's
/// `element.text`.
fn leading_text(node: &Handle) -> Option<String> {
    let children = node.children.borrow();
    match &children.first()?.data {
        NodeData::Text { contents } => Some(contents.borrow().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod storage_tests {
    use super::with_storage;

    #[test]
    fn storage_ids_keep_unreserved_characters_and_encode_the_rest() {
        assert_eq!(
            with_storage("https://b/a.png", "stor-42_x.y~z"),
            "https://b/a.png?storageId=stor-42_x.y~z"
        );
        assert_eq!(
            with_storage("https://b/a.png?v=1#f", "a&b c/é"),
            "https://b/a.png?v=1&storageId=a%26b%20c%2F%C3%A9#f"
        );
    }
}
