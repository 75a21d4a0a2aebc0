//! The asset builder: an HTML template with `{{column}}` placeholders parsed once, a CSV/TSV/JSON
//! table read row by row, every row rendered. Input: a selector byte, then the template, the table
//! and optionally a template config (JSON), separated by NUL bytes.
#![no_main]

use std::io::Cursor;

use assetdrop::builder::{
    render_rows, Classification, Table, TableFormat, TableOptions, Template, TemplateConfig,
};
use libfuzzer_sys::fuzz_target;

/// Columns of every kind, a batch column and a pre-label rule, so that every way a cell lands in
/// an asset is reached.
const CONFIG: &str = r#"{
  "name": "fuzz", "selectedExternalId": "id", "batchColumn": "batch",
  "dataConfig": {
    "id": {"type": "text"}, "title": {"type": "text", "includeInExport": true},
    "link": {"type": "link"}, "img": {"type": "image", "storage": "Public"},
    "page": {"type": "iframe"}, "batch": {"type": "text"}, "tags": {"type": "text"}
  },
  "preLabelConfig": {
    "p1": {"cla": {"schemaId": "s1", "title": "Color", "tool": "radio"}, "value": "title"},
    "p2": {"cla": {"schemaId": "s2", "title": "Tags", "tool": "checkbox", "multiple": true}, "value": "tags"}
  }
}"#;

fuzz_target!(|input: &[u8]| {
    let Some((&pick, rest)) = input.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0);
    let html = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let table = parts.next().unwrap_or_default().to_vec();
    let config = match parts.next() {
        Some(json) => match std::str::from_utf8(json)
            .ok()
            .map(TemplateConfig::from_json)
        {
            Some(Ok(config)) => config,
            _ => return,
        },
        None => TemplateConfig::from_json(CONFIG).expect("the built-in config"),
    };
    let classes: Vec<Classification> = config
        .pre_label_config
        .iter()
        .map(|(_, rule)| rule.cla.clone())
        .collect();
    let Ok(template) = Template::parse(&html, &config, &classes) else {
        return;
    };
    let mut options = TableOptions::default();
    let format = match pick % 4 {
        0 | 1 => TableFormat::Csv,
        2 => TableFormat::Tsv,
        _ => TableFormat::Json,
    };
    if pick & 0x10 != 0 {
        options.max_row_bytes = 256;
    }
    if pick & 0x20 != 0 && format == TableFormat::Csv {
        options.delimiter = Some(';');
    }
    let Ok(table) = Table::from_reader(Cursor::new(table), format, &options) else {
        return;
    };
    let _ = template.check(table.header());
    let mut rows = 0usize;
    for item in render_rows(&template, table) {
        rows += 1;
        match item {
            Ok(built) => {
                let _ = serde_json::to_string(&built.asset).expect("an asset serialises");
            }
            Err(e) => {
                let _ = e.to_string();
                if e.is_fatal() {
                    break;
                }
            }
        }
        assert!(rows <= input.len() + 1, "more rows than bytes");
    }
});
