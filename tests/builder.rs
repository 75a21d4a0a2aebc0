//! The asset builder end to end: every table format from a real file, delimiter detection,
//! malformed tables with row/column errors, injection attempts through the whole pipeline, and
//! a 1,000,000-row CSV streamed.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assetdrop::builder::{
    preview, render_rows, Answer, Asset, Header, Row, RowError, Table, TableError, TableFormat,
    TableOptions, Template, TemplateConfig,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/builder")
        .join(name)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the test table");
    path
}

fn open(path: &Path) -> Result<Table, TableError> {
    Table::open(path, &TableOptions::default())
}

fn read_all(path: &Path, options: &TableOptions) -> (Vec<String>, Vec<Row>) {
    let table = Table::open(path, options).expect("open the table");
    let header = table.header().names().to_vec();
    let rows = table.rows().map(Result::unwrap).collect();
    (header, rows)
}

fn messages(table: Table) -> Vec<String> {
    table
        .rows()
        .map(|r| match r {
            Ok(row) => format!("ok {}", row.line),
            Err(e) => e.to_string(),
        })
        .collect()
}

/// The tags of serialized HTML (values are escaped, so `<` only ever opens a tag).
fn tags(html: &str) -> Vec<&str> {
    html.match_indices('<')
        .map(|(i, _)| &html[i..=html[i..].find('>').map_or(html.len() - 1, |j| i + j)])
        .collect()
}

fn config(json: &str) -> TemplateConfig {
    TemplateConfig::from_json(json).expect("a valid config")
}

#[test]
fn xlsx_first_and_named_sheets() {
    let (header, rows) = read_all(&data("people.xlsx"), &TableOptions::default());
    assert_eq!(header, ["id", "name", "score", "joined", "active", "note"]);
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells.clone()).collect();
    assert_eq!(
        cells,
        [
            [
                "p-1",
                "Zoë Ünal",
                "3",
                "2024-02-29",
                "TRUE",
                "likes <b>bold</b>"
            ],
            ["2", "李雷", "2.5", "2023-12-31 08:30:00", "FALSE", ""],
            [
                "p-3",
                "O'Brien, \"Pat\"",
                "-7",
                "2000-01-01",
                "TRUE",
                "multi\nline"
            ],
        ]
    );
    // Sheet rows, as Excel numbers them; the empty row 4 is skipped.
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 5]);

    let options = TableOptions {
        sheet: Some("Other".to_owned()),
        ..TableOptions::default()
    };
    let (header, rows) = read_all(&data("people.xlsx"), &options);
    assert_eq!(header, ["key", "value"]);
    assert_eq!(rows.len(), 2);

    let options = TableOptions {
        sheet: Some("Nope".to_owned()),
        ..TableOptions::default()
    };
    let e = Table::open(&data("people.xlsx"), &options).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the workbook has no sheet `Nope`; its sheets are: `People`, `Other`"
    );
}

#[test]
fn xls_first_and_named_sheets() {
    let (header, rows) = read_all(&data("people.xls"), &TableOptions::default());
    assert_eq!(header, ["id", "name", "score", "joined", "active", "note"]);
    assert_eq!(rows[0].cells[..3], ["p-1", "Zoë Ünal", "3"]);
    assert_eq!(
        rows[1].cells[..4],
        ["2", "李雷", "2.5", "2023-12-31 08:30:00"]
    );
    assert_eq!(rows[0].cells[3], "2024-02-29");
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 5]);
    let options = TableOptions {
        sheet: Some("Other".to_owned()),
        ..TableOptions::default()
    };
    let (header, _) = read_all(&data("people.xls"), &options);
    assert_eq!(header, ["key", "value"]);
}

#[test]
fn a_text_file_named_xlsx_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fake.xlsx", b"id,name\n1,a\n");
    let e = open(&path).unwrap_err();
    assert!(
        matches!(
            e,
            TableError::Workbook {
                format: TableFormat::Xlsx,
                ..
            }
        ),
        "{e}"
    );
    let e: assetdrop::Error = e.into();
    assert_eq!(e.code, assetdrop::ErrorCode::UnsupportedFormat);
}

#[test]
fn json_tables_stream_objects() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "rows.json",
        "[\n  {\"id\": \"a\", \"n\": 1, \"ok\": true, \"t\": \"ü\"},\n  {\"t\": \"x\", \"id\": \"b\", \"n\": 2.5, \"ok\": null}\n]".as_bytes(),
    );
    let (header, rows) = read_all(&path, &TableOptions::default());
    assert_eq!(header, ["id", "n", "ok", "t"]);
    assert_eq!(rows[0].cells, ["a", "1", "True", "ü"]);
    assert_eq!(rows[1].cells, ["b", "2.5", "", "x"]);
    assert_eq!((rows[0].line, rows[1].line), (2, 3));

    let path = write(
        dir.path(),
        "bad.json",
        b"[{\"id\": \"a\", \"meta\": {\"k\": 1}}]",
    );
    let table = open(&path);
    let e = table.unwrap().rows().next().unwrap().unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1: entry 1, column `meta` holds an object; a cell must be a string, number, boolean or null, so flatten it or turn it into text"
    );
    let path = write(dir.path(), "obj.json", b"{\"id\": \"a\"}");
    assert!(matches!(open(&path), Err(TableError::NotAnArray { .. })));
}

#[test]
fn delimiters_are_detected_or_given() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, expected) in [
        ("comma.csv", "id,text\n1,a\n2,b\n", ','),
        ("semi.csv", "id;text\n1;a,b\n2;c\n", ';'),
        ("tab.csv", "id\ttext\n1\ta; b\n2\tc\n", '\t'),
        ("pipe.csv", "id|text\n1|a\n2|b\n", '|'),
        ("space.csv", "id text\n1 a\n2 b\n", ' '),
        ("quoted.csv", "id,text\n1,\"a;b;c\"\n2,\"x|y\"\n", ','),
    ] {
        let table = open(&write(dir.path(), name, text.as_bytes())).unwrap();
        assert_eq!(table.delimiter(), Some(expected), "{name}");
        assert_eq!(table.header().names(), ["id", "text"], "{name}");
        let rows: Vec<Row> = table.rows().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2, "{name}");
    }
    // An override wins: here `.` (Ango's UI offers it).
    let path = write(dir.path(), "dot.csv", b"id.text\n1.a,b\n");
    let options = TableOptions {
        delimiter: Some('.'),
        ..TableOptions::default()
    };
    let (header, rows) = read_all(&path, &options);
    assert_eq!(header, ["id", "text"]);
    assert_eq!(rows[0].cells, ["1", "a,b"]);
    // TSV is tab-delimited, with quotes as Excel writes them.
    let path = write(dir.path(), "t.tsv", b"id\ttext\n1\t\"a\tb\"\n");
    let table = open(&path).unwrap();
    assert_eq!(table.format(), TableFormat::Tsv);
    assert_eq!(table.rows().next().unwrap().unwrap().cells, ["1", "a\tb"]);
    let options = TableOptions {
        delimiter: Some('"'),
        ..TableOptions::default()
    };
    assert!(matches!(
        Table::open(&path, &options),
        Err(TableError::BadDelimiter { delimiter: '"' })
    ));
}

#[test]
fn bom_quotes_newlines_and_non_ascii_just_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "excel.csv",
        "\u{feff}id;text;city\r\n1;\"semi; colon\";Zürich\r\n2;\"two\r\nlines\";東京\r\n3;\"say \"\"hi\"\"\";\r\n".as_bytes(),
    );
    let (header, rows) = read_all(&path, &TableOptions::default());
    assert_eq!(header, ["id", "text", "city"]);
    assert_eq!(rows[0].cells, ["1", "semi; colon", "Zürich"]);
    assert_eq!(rows[1].cells, ["2", "two\r\nlines", "東京"]);
    assert_eq!(rows[2].cells, ["3", "say \"hi\"", ""]);
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 5]);
}

#[test]
fn malformed_tables_name_the_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(&write(
        dir.path(),
        "ragged.csv",
        b"id,name,text\n1,a,x\n2,b,x,extra\n3,c\n4,d,\"x\"y\n5,e,ok\n",
    ))
    .unwrap();
    assert_eq!(
        messages(table),
        [
            "ok 2",
            "line 3 has 4 cells but the header has 3: column 4 (D) has no header; quote cells that contain the delimiter `,` (comma) (\"a,b\"), or check the delimiter",
            "line 4 has 2 cells but the header has 3: column 3 (C, `text`) is missing; add the missing cells (empty ones are fine)",
            "line 5, column 3 (C, `text`): 'y' follows the closing quote of a quoted cell; a quote inside a quoted cell must be doubled (\"\"), and the cell must end at its closing quote",
            "ok 6",
        ]
    );

    let table = open(&write(
        dir.path(),
        "open.csv",
        b"id,text\n1,ok\n2,\"never closed\n3,x\n",
    ))
    .unwrap();
    assert_eq!(
        messages(table),
        [
            "ok 2",
            "line 3, column 2 (B, `text`): the quote opened here is never closed; close it, or double quotes inside quoted cells (\"\")",
        ]
    );

    let e = open(&write(dir.path(), "hole.csv", b"id,,text\n1,2,3\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 2 (B): the header cell is empty; give every column a name"
    );
    let e = open(&write(dir.path(), "dup.csv", b"\n\nid,name,id\n1,2,3\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: the header names `id` twice (columns 1 and 3); rename one so every column is unique"
    );
    for empty in [&b""[..], b"\xEF\xBB\xBF", b"\n\n  \n"] {
        let e = open(&write(dir.path(), "empty.csv", empty)).unwrap_err();
        assert!(matches!(e, TableError::Empty), "{empty:?}: {e}");
    }
    let table = open(&write(dir.path(), "header.csv", b"id,text\n")).unwrap();
    assert_eq!(
        messages(table),
        ["the table has a header (line 1) but no rows; add one row per asset below it"]
    );
    let table = open(&write(dir.path(), "latin1.csv", b"id,text\n1,caf\xe9\n")).unwrap();
    assert_eq!(
        messages(table),
        ["line 2, column 2 (B, `text`): the text is not valid UTF-8; save the table as UTF-8"]
    );
    let e = open(&write(dir.path(), "rows.pdf", b"x")).unwrap_err();
    assert!(matches!(e, TableError::UnknownFormat { .. }), "{e}");
    let e: assetdrop::Error = open(&dir.path().join("missing.csv")).unwrap_err().into();
    assert_eq!(e.code, assetdrop::ErrorCode::NotFound);
}

const CONFIG: &str = r#"{
    "name": "t", "template": "",
    "selectedExternalId": "id", "batchColumn": "batch",
    "dataConfig": {
        "id": {"type": "text", "includeInExport": true},
        "name": {"type": "text"},
        "photo": {"type": "image", "storage": "Public"},
        "link": {"type": "link"},
        "batch": {"type": "text"}
    },
    "preLabelConfig": {"k": {"cla": {"schemaId": "s1", "title": "Tags", "tool": "checkbox"}, "value": "tags"}}
}"#;

const TEMPLATE: &str = "<h2 title=\"{{name}}\">Name: {{name}}</h2><p>{{name}}</p>\
    <img src=\"{{photo}}\" alt=\"photo of {{name}}\"><a href=\"{{link}}\">{{link}}</a>";

#[test]
fn injection_attempts_in_cells_are_defused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "id,name,photo,link,batch,tags\n\
        1,<script>alert(1)</script>,https://x/a.png,https://ok,b1,x\n\
        2,\"\"\" onerror=\"\"alert(1)\",\"x\"\" onerror=\"\"alert(2)\",https://ok,b1,x\n\
        3,}}{{photo}}{{,https://x/c.png,javascript:alert(3),b1,x\n\
        4,n,\" data:text/html,<script>alert(4)</script>\",https://ok,b1,x\n\
        5,<img src=x onerror=alert(5)>,https://x/e.png,https://ok,b1,x\n";
    let path = write(dir.path(), "evil.csv", csv.as_bytes());
    let table = open(&path).unwrap();
    let config = config(CONFIG);
    let template = Template::parse(TEMPLATE, &config, &[]).unwrap();
    template.check(table.header()).unwrap();
    let results: Vec<Result<_, RowError>> = render_rows(&template, table).collect();

    let html = |i: usize| results[i].as_ref().unwrap().asset.data.clone();
    let one = html(0);
    assert!(!one.contains("<script"), "{one}");
    assert!(
        one.contains("Name: &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{one}"
    );
    assert!(
        one.contains("title=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{one}"
    );

    let two = html(1);
    assert!(
        two.contains("title=\"&quot; onerror=&quot;alert(1)\""),
        "{two}"
    );
    assert!(
        two.contains("src=\"x&quot; onerror=&quot;alert(2)\""),
        "{two}"
    );
    assert!(
        tags(&two).iter().all(|t| !t.contains("onerror=\"")),
        "{two}"
    );

    let e = results[2].as_ref().unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 4, column `link`: a javascript: URL cannot go into <a href>, as it could run script in the asset; use an http(s) URL"
    );
    let e = results[3].as_ref().unwrap_err();
    assert!(
        matches!(e, RowError::Render(_)) && e.line() == Some(5),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("a data: URL cannot go into <img src>"),
        "{e}"
    );

    let five = html(4);
    assert!(!five.contains("<img src=x"), "{five}");

    // Every rendered asset has exactly the template's tags: no cell added or opened one.
    for r in results.iter().flatten() {
        let names: Vec<&str> = tags(&r.asset.data)
            .iter()
            .map(|t| t.split([' ', '>']).next().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            ["<h2", "</h2", "<p", "</p", "<img", "<a", "</a"],
            "{}",
            r.asset.data
        );
    }
    // `}}{{photo}}{{` is text, never a placeholder.
    let injected = Template::parse("<p>{{name}} and {{photo}}</p>", &config, &[]).unwrap();
    let header = Arc::new(
        Header::new(
            ["id", "name", "photo", "link", "batch", "tags"]
                .map(String::from)
                .to_vec(),
            1,
        )
        .unwrap(),
    );
    let row = Row::new(
        2,
        header,
        ["1", "}}{{photo}}{{", "P", "l", "", ""]
            .map(String::from)
            .to_vec(),
    )
    .unwrap();
    assert_eq!(
        injected.render(&row).unwrap().data,
        "<p>}}{{photo}}{{ and P</p>"
    );
}

#[test]
fn assets_serialize_as_the_cloud_endpoint_receives_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "rows.csv",
        "id,name,photo,link,batch,tags\nA-1,Zoë,https://x/a.png,https://l,\" b1 ;b2;\",x;y\n"
            .as_bytes(),
    );
    let table = open(&path).unwrap();
    let template = Template::parse(TEMPLATE, &config(CONFIG), &[]).unwrap();
    template.check(table.header()).unwrap();
    let assets: Vec<Asset> = preview(&template, table, 5)
        .into_iter()
        .map(|r| r.unwrap().asset)
        .collect();
    assert_eq!(assets.len(), 1);
    assert_eq!(
        assets[0].classifications[0].answer,
        Answer::List(vec!["x".into(), "y".into()])
    );
    let json = serde_json::to_value(&assets).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "data": "<h2 title=\"Zoë\">Name: Zoë</h2><p>\n\nZoë\n\n</p><img src=\"https://x/a.png\" alt=\"photo of Zoë\"><a href=\"https://l\">\n\nhttps://l\n\n</a>",
            "externalId": "A-1",
            "contextData": {"id": "A-1"},
            "classifications": [{"title": "Tags", "schemaId": "s1", "answer": ["x", "y"]}],
            "batches": ["b1", "b2"]
        }])
    );
}

#[test]
fn misfit_tables_are_reported_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "rows.csv", b"id,Name,photo\n1,a,b\n");
    let table = open(&path).unwrap();
    let template = Template::parse("<p>{{name}}</p><p>{{nmae}}</p>", &config(CONFIG), &[]).unwrap();
    let e = template.check(table.header()).unwrap_err();
    assert_eq!(e.unknown_placeholders, ["nmae"]);
    assert_eq!(e.missing_columns, ["name", "link", "batch", "tags"]);
    let text = e.to_string();
    assert!(text.contains("`name` (the header has `Name`)"), "{text}");
    let e: assetdrop::Error = e.into();
    assert_eq!(e.code, assetdrop::ErrorCode::InvalidInput);
}

#[test]
fn a_million_rows_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "id;text;batch").unwrap();
    for i in 0..1_000_000u32 {
        writeln!(out, "{i};\"row {i}; \"\"quoted\"\"\";b{}", i % 7).unwrap();
    }
    out.flush().unwrap();
    drop(out);

    let table = open(&path).unwrap();
    assert_eq!(table.delimiter(), Some(';'));
    let config = config(
        r#"{"selectedExternalId": "id", "batchColumn": "batch",
            "dataConfig": {"id": {"type": "text"}, "text": {"type": "text"}, "batch": {"type": "text"}}}"#,
    );
    let template = Template::parse("<p>{{text}}</p>", &config, &[]).unwrap();
    template.check(table.header()).unwrap();
    let mut count = 0u64;
    let mut last_line = 0;
    for (i, item) in render_rows(&template, table).enumerate() {
        let built = item.unwrap();
        if i % 250_000 == 0 {
            assert_eq!(built.asset.external_id, i.to_string());
            assert_eq!(
                built.asset.data,
                format!("<p>\n\nrow {i}; \"quoted\"\n\n</p>")
            );
        }
        last_line = built.line;
        count += 1;
    }
    assert_eq!(count, 1_000_000);
    assert_eq!(last_line, 1_000_001);
}

#[test]
fn a_table_saved_as_excel_unicode_text_reads_as_its_utf8_original() {
    // Excel's "Unicode Text (*.txt)": UTF-16 LE with a byte-order mark, tabs, CRLF. Saved here
    // as .tsv and as .csv (the delimiter is then detected), with accents and an emoji (a
    // surrogate pair).
    let dir = tempfile::tempdir().unwrap();
    let text = "id\ttitle\timage\r\n1\tCafé crème\thttps://example.com/1.png\r\n2\t🐈 chat\thttps://example.com/2.png\r\n";
    let utf8 = write(dir.path(), "utf8.tsv", text.as_bytes());
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let (header, rows) = read_all(&utf8, &TableOptions::default());
    assert_eq!(header, ["id", "title", "image"]);
    assert_eq!(rows[1].cells[1], "🐈 chat");
    for name in ["unicode.tsv", "unicode.csv"] {
        let path = write(dir.path(), name, &utf16);
        let table = open(&path).unwrap();
        assert_eq!(table.delimiter(), Some('\t'), "{name}");
        let (h, r) = read_all(&path, &TableOptions::default());
        assert_eq!((h, r), (header.clone(), rows.clone()), "{name}");
    }
}
