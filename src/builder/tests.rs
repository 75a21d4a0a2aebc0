//! Template and row → asset tests: the SDK's rules (reference §8.4 items 1–10), our extensions,
//! and escaping.

use std::sync::Arc;

use super::*;

fn config(columns: &[(&str, &str, Option<&str>, bool)]) -> TemplateConfig {
    let mut config = TemplateConfig {
        selected_external_id: columns[0].0.to_owned(),
        ..TemplateConfig::default()
    };
    for &(name, kind, storage, export) in columns {
        let column: ColumnConfig = serde_json::from_value(serde_json::json!({
            "type": kind, "storage": storage, "includeInExport": export
        }))
        .unwrap();
        config.data_config.insert(name, column);
    }
    config
}

fn text_config(names: &[&str]) -> TemplateConfig {
    let columns: Vec<_> = names.iter().map(|n| (*n, "text", None, false)).collect();
    config(&columns)
}

fn row(pairs: &[(&str, &str)]) -> Row {
    let header = Header::new(pairs.iter().map(|(k, _)| (*k).to_owned()).collect(), 1).unwrap();
    Row::new(
        2,
        Arc::new(header),
        pairs.iter().map(|(_, v)| (*v).to_owned()).collect(),
    )
    .unwrap()
}

fn render(html: &str, names: &[&str], cells: &[(&str, &str)]) -> String {
    let template = Template::parse(html, &text_config(names), &[]).unwrap();
    template.render(&row(cells)).unwrap().data
}

fn cla(title: &str, schema_id: &str, tool: &str, multiple: bool) -> Classification {
    Classification {
        schema_id: schema_id.to_owned(),
        title: title.to_owned(),
        tool: tool.to_owned(),
        multiple,
        ..Classification::default()
    }
}

#[test]
fn whole_text_placeholders_follow_the_sdk() {
    // Item 9 (and the body's own text): "\n\n" + value + "\n\n", then the output is stripped.
    assert_eq!(
        render("{{name}}", &["id", "name"], &[("id", "1"), ("name", "Ann")]),
        "Ann"
    );
    assert_eq!(
        render(
            "<p> {{name}} </p>",
            &["id", "name"],
            &[("id", "1"), ("name", "Ann")]
        ),
        "<p>\n\nAnn\n\n</p>"
    );
    assert_eq!(
        render(
            "<div>{{name}}<b>x</b>tail</div>",
            &["id", "name"],
            &[("id", "1"), ("name", "A")]
        ),
        "<div>\n\nA\n\n<b>x</b>tail</div>"
    );
}

#[test]
fn mixed_text_and_attributes_are_filled_too() {
    let html = render(
        "<p class=\"c-{{id}}\" title=\"Hi {{name}}!\">Name: {{name}} ({{id}})</p><span>a</span> and {{name}}",
        &["id", "name"],
        &[("id", "7"), ("name", "Zoë")],
    );
    assert_eq!(
        html,
        "<p class=\"c-7\" title=\"Hi Zoë!\">Name: Zoë (7)</p><span>a</span> and Zoë"
    );
}

#[test]
fn media_links_and_iframes_take_the_whole_url() {
    let config = config(&[
        ("id", "text", None, false),
        ("photo", "image", Some("st-9"), false),
        ("clip", "video", Some("Public"), false),
        ("page", "iframe", None, false),
        ("link", "link", None, false),
    ]);
    let template = Template::parse(
        "<img src=\"https://placeholder/%7B%7Bphoto%7D%7D\" alt=\"x\"><video src=\"{{clip}}\"></video>\
         <iframe src=\"{{page}}\" sandbox=\"\" srcdoc=\"<b>x</b>\" width=\"5\"></iframe><a href=\"{{link}}\">{{link}}</a>",
        &config,
        &[],
    )
    .unwrap();
    let asset = template
        .render(&row(&[
            ("id", "1"),
            ("photo", "https://b/p.png?v=2#top"),
            ("clip", "https://b/c.mp4"),
            ("page", "https://b/page"),
            ("link", "https://b/x?a=1&b=2"),
        ]))
        .unwrap();
    assert_eq!(
        asset.data,
        "<img src=\"https://b/p.png?v=2&amp;storageId=st-9#top\" alt=\"x\"><video src=\"https://b/c.mp4\"></video>\
         <iframe src=\"https://b/page\" sandbox=\"\" width=\"5\"></iframe><a href=\"https://b/x?a=1&amp;b=2\">\n\nhttps://b/x?a=1&amp;b=2\n\n</a>"
    );
    let asset = template
        .render(&row(&[
            ("id", "1"),
            ("photo", "https://b/p.png"),
            ("clip", "c"),
            ("page", "p"),
            ("link", "l"),
        ]))
        .unwrap();
    assert!(
        asset
            .data
            .starts_with("<img src=\"https://b/p.png?storageId=st-9\""),
        "{}",
        asset.data
    );
}

#[test]
fn scripts_are_removed_and_the_template_is_unescaped_first() {
    assert_eq!(
        render(
            "<p>a</p><script>alert(1)</script><svg><script>x</script></svg>&lt;b&gt;{{name}}&lt;/b&gt;",
            &["id", "name"],
            &[("id", "1"), ("name", "N")],
        ),
        "<p>a</p><svg></svg><b>\n\nN\n\n</b>"
    );
    assert_eq!(
        render(
            "<p>&#123;&#123;name&#125;&#125;</p>",
            &["id", "name"],
            &[("id", "1"), ("name", "N")]
        ),
        "<p>\n\nN\n\n</p>"
    );
}

#[test]
fn inline_classifications_become_portals() {
    let classes = [cla("Color", "s-1", "radio", false)];
    let template = Template::parse(
        "<div class=\"q\"> {{Color}} </div><p id=\"old\">{{Color}}<span>{{name}}</span></p>",
        &text_config(&["id", "name"]),
        &classes,
    )
    .unwrap();
    assert!(template.unknown_placeholders().is_empty());
    let asset = template
        .render(&row(&[("id", "1"), ("name", "N")]))
        .unwrap();
    assert_eq!(
        asset.data,
        "<div class=\"q\" id=\"cla-portal-s-1\"></div><p id=\"cla-portal-s-1\"><span>\n\nN\n\n</span></p>"
    );
}

#[test]
fn cells_cannot_inject_markup_or_script() {
    let evil_text = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let html = render(
        "<p>{{a}}</p><p>x {{a}}</p><p title=\"{{a}}\" data-x='{{a}}'>t</p>",
        &["id", "a"],
        &[("id", "1"), ("a", evil_text)],
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
    );

    let quote = "\" onerror=\"alert(1)";
    let html = render(
        "<img alt=\"{{a}}\" src=\"p.png\">",
        &["id", "a"],
        &[("id", "1"), ("a", quote)],
    );
    assert_eq!(
        html,
        "<img alt=\"&quot; onerror=&quot;alert(1)\" src=\"p.png\">"
    );

    // A value is never read again as a placeholder.
    let html = render(
        "<p>{{a}} {{b}}</p>",
        &["id", "a", "b"],
        &[("id", "1"), ("a", "}}{{b}}{{"), ("b", "B")],
    );
    assert_eq!(html, "<p>}}{{b}}{{ B</p>");
    let html = render(
        "<p>{{a}}</p>",
        &["id", "a", "b"],
        &[("id", "1"), ("a", "{{b}}"), ("b", "secret")],
    );
    assert_eq!(html, "<p>\n\n{{b}}\n\n</p>");
}

#[test]
fn script_urls_from_cells_are_refused() {
    let template = Template::parse(
        "<a href=\"{{link}}\">x</a><img src=\"{{link}}\"><a href=\"https://site/{{link}}/x\">y</a>\
         <img srcset=\"{{link}} 2x\">",
        &text_config(&["id", "link"]),
        &[],
    )
    .unwrap();
    for bad in [
        "javascript:alert(1)",
        "  JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "\u{1}javascript:x",
        "vbscript:msgbox",
        "data:text/html;base64,PHNjcmlwdD4=",
    ] {
        let e = template
            .render(&row(&[("id", "1"), ("link", bad)]))
            .unwrap_err();
        assert!(
            matches!(&e, RenderError::UnsafeUrl { line: 2, column, .. } if column == "link"),
            "{bad}: {e}"
        );
        assert!(e.to_string().contains("use an http(s) URL"), "{e}");
    }
    // Inside a URL that already has its scheme, a value cannot change it.
    let template = Template::parse(
        "<a href=\"https://site/?q={{link}}\">y</a>",
        &text_config(&["id", "link"]),
        &[],
    )
    .unwrap();
    let asset = template
        .render(&row(&[("id", "1"), ("link", "javascript:alert(1)")]))
        .unwrap();
    assert_eq!(
        asset.data,
        "<a href=\"https://site/?q=javascript:alert(1)\">y</a>"
    );
    // Entities in a cell stay text; they are not decoded into a scheme.
    let template = Template::parse(
        "<a href=\"{{link}}\">y</a>",
        &text_config(&["id", "link"]),
        &[],
    )
    .unwrap();
    let asset = template
        .render(&row(&[("id", "1"), ("link", "&#106;avascript:x")]))
        .unwrap();
    assert_eq!(asset.data, "<a href=\"&amp;#106;avascript:x\">y</a>");
}

#[test]
fn placeholders_where_no_value_is_safe_are_refused() {
    let names = ["id", "a"];
    for html in [
        "<p onclick=\"f('{{a}}')\">x</p>",
        "<iframe srcdoc=\"{{a}}\"></iframe>",
        "<svg><set attributeName=\"href\" to=\"{{a}}\"/></svg>",
    ] {
        let e = Template::parse(html, &text_config(&names), &[]).unwrap_err();
        assert!(
            matches!(e, TemplateError::ScriptAttribute { .. }),
            "{html}: {e}"
        );
    }
    for html in [
        "<p>x</p><style>{{a}}</style>",
        "<p>x</p><style>p { color: {{a}} }</style>",
        "<p>x</p><noscript>{{a}}</noscript>",
    ] {
        let e = Template::parse(html, &text_config(&names), &[]).unwrap_err();
        assert!(matches!(e, TemplateError::RawText { .. }), "{html}: {e}");
    }
    // CSS, wherever it is: a cell could load from anywhere with url(…).
    for html in [
        "<p style=\"color: {{a}}\">x</p>",
        "<p STYLE=\"background: url({{a}})\">x</p>",
        "<svg><style>rect { fill: {{a}} }</style><rect/></svg>",
        "<svg><rect style=\"fill: {{a}}\"/></svg>",
    ] {
        let e = Template::parse(html, &text_config(&names), &[]).unwrap_err();
        assert!(matches!(e, TemplateError::Css { .. }), "{html}: {e}");
        assert!(e.to_string().contains("{{a}}"), "{e}");
    }
    // A refresh that a cell could aim anywhere.
    for html in [
        "<p>x</p><meta http-equiv=\"refresh\" content=\"0;url={{a}}\">",
        "<div><meta HTTP-EQUIV=\" Refresh \" content=\"{{a}}\"></div>",
    ] {
        let e = Template::parse(html, &text_config(&names), &[]).unwrap_err();
        assert!(matches!(e, TemplateError::Refresh { .. }), "{html}: {e}");
    }
    // Style and meta without placeholders, and other metas with them, stay.
    assert_eq!(
        render(
            "<p style=\"color: red\">{{a}}</p><meta name=\"n\" content=\"{{a}}\">",
            &names,
            &[("id", "1"), ("a", "v")]
        ),
        "<p style=\"color: red\">\n\nv\n\n</p><meta name=\"n\" content=\"v\">"
    );
    // Raw text without placeholders is kept as it is.
    assert_eq!(
        render(
            "<p>x</p><style>p > b { x: 1 }</style>",
            &names,
            &[("id", "1"), ("a", "")]
        ),
        "<p>x</p><style>p > b { x: 1 }</style>"
    );
    // Like the SDK's parser, a leading <style> belongs to the head, which is not output.
    assert_eq!(
        render(
            "<style>b {}</style><p>x</p>",
            &names,
            &[("id", "1"), ("a", "")]
        ),
        "<p>x</p>"
    );
}

#[test]
fn check_reports_unknown_placeholders_and_missing_columns_together() {
    let mut config = text_config(&["id", "Name"]);
    config.pre_label_config.insert(
        "p",
        PreLabelRule {
            cla: cla("Tags", "s", "checkbox", false),
            value: "tags".to_owned(),
        },
    );
    let template = Template::parse(
        "<p>{{name}} {{ Name }}</p><img src=\"x/%7B%7Bphto%7D%7D\"><!-- {{comment}} -->",
        &config,
        &[],
    )
    .unwrap();
    assert_eq!(template.unknown_placeholders(), ["name", " Name ", "phto"]);
    let header = Header::new(vec!["id".into(), "name ".into()], 1).unwrap();
    let e = template.check(&header).unwrap_err();
    assert_eq!(e.missing_columns, ["Name", "tags"]);
    let text = e.to_string();
    assert!(text.contains("{{name}} (did you mean {{Name}}?)"), "{text}");
    assert!(text.contains("`Name` (the header has `name `)"), "{text}");
    let good = Header::new(vec!["id".into(), "Name".into(), "tags".into()], 1).unwrap();
    let template = Template::parse("<p>{{Name}}</p>", &config, &[]).unwrap();
    template.check(&good).unwrap();
}

#[test]
fn a_misspelt_placeholder_gets_the_nearest_column() {
    let names: Vec<String> = ["id", "title", "photo", "batch"].map(String::from).to_vec();
    assert_eq!(closest_name("titel", &names), Some("title"));
    assert_eq!(closest_name("Photo", &names), Some("photo"));
    assert_eq!(closest_name("phto", &names), Some("photo"));
    assert_eq!(closest_name("subtitle", &names), None);
    assert_eq!(closest_name("x", &names), None);
    let config = text_config(&["id", "title"]);
    let template = Template::parse("<p>{{titel}}</p>", &config, &[]).unwrap();
    let header = Header::new(vec!["id".into(), "title".into()], 1).unwrap();
    let e = template.check(&header).unwrap_err();
    assert_eq!(e.likely_column("titel"), Some("title"));
    assert_eq!(e.likely_column("tags"), None);
}

#[test]
fn config_problems_stop_parsing() {
    let mut config = text_config(&["id"]);
    config.selected_external_id = "nope".to_owned();
    let e = Template::parse("<p>x</p>", &config, &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("selectedExternalId `nope` is not a key of dataConfig"),
        "{e}"
    );
    assert_eq!(
        Template::parse("  ", &text_config(&["id"]), &[]).unwrap_err(),
        TemplateError::Empty
    );
}

#[test]
fn assets_carry_external_id_context_pre_labels_and_batches() {
    let mut config = config(&[
        ("id", "text", None, true),
        ("text", "text", None, false),
        ("batch", "text", None, true),
    ]);
    config.batch_column = "batch".to_owned();
    let rules = [
        ("a", cla("Color", "s1", "radio", false), "color"),
        ("b", cla("Tags", "s2", "checkbox", false), "tags"),
        ("c", cla("Box", "s3", "text", true), "tags"),
        ("d", cla("Rank", "s4", "rank", true), "tags"),
    ];
    for (key, cla, value) in rules {
        config.pre_label_config.insert(
            key,
            PreLabelRule {
                cla,
                value: value.to_owned(),
            },
        );
    }
    let template = Template::parse("<p>{{text}}</p>", &config, &[]).unwrap();
    let row = row(&[
        ("batch", " b1 ; ;b2;b1"),
        ("id", "ext-1"),
        ("text", "T"),
        ("color", "red"),
        ("tags", "x;y"),
    ]);
    let asset = template.render(&row).unwrap();
    let json = serde_json::to_value(&asset).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "data": "<p>\n\nT\n\n</p>",
            "externalId": "ext-1",
            "contextData": {"batch": " b1 ; ;b2;b1", "id": "ext-1"},
            "classifications": [
                {"title": "Color", "schemaId": "s1", "answer": "red"},
                {"title": "Tags", "schemaId": "s2", "answer": ["x", "y"]},
                {"title": "Box", "schemaId": "s3", "answer": "x"},
                {"title": "Box", "schemaId": "s3", "answer": "y"},
                {"title": "Rank", "schemaId": "s4", "answer": ["x", "y"]}
            ],
            "batches": ["b1", "b2"]
        })
    );
    // contextData keeps the table's column order.
    let keys: Vec<&str> = asset.context_data.keys().collect();
    assert_eq!(keys, ["batch", "id"]);
    let back: Asset = serde_json::from_value(json).unwrap();
    assert_eq!(back, asset);
}

#[test]
fn output_is_html_not_xml() {
    assert_eq!(
        render(
            "<div></div><br><p>x<br/>y</p><svg><circle r=\"1\"/></svg>",
            &["id"],
            &[("id", "1")]
        ),
        "<div></div><br><p>x<br>y</p><svg><circle r=\"1\"></circle></svg>"
    );
    assert_eq!(
        render(
            "<p>x</p><template><p>{{id}}</p></template><svg><a xlink:href=\"{{id}}\">l</a></svg>",
            &["id"],
            &[("id", "7")]
        ),
        "<p>x</p><template><p>\n\n7\n\n</p></template><svg><a xlink:href=\"7\">l</a></svg>"
    );
}

#[test]
fn rows_render_in_order_and_bad_rows_do_not_stop_the_rest() {
    let table = Table::from_reader(
        std::io::Cursor::new(b"id,link\n1,https://a\n2,javascript:x\n3\n4,https://b\n".to_vec()),
        TableFormat::Csv,
        &TableOptions::default(),
    )
    .unwrap();
    let template = Template::parse(
        "<a href=\"{{link}}\">{{id}}</a>",
        &text_config(&["id", "link"]),
        &[],
    )
    .unwrap();
    template.check(table.header()).unwrap();
    let results = preview(&template, table, 10);
    let lines: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(a) => format!("ok {}", a.line),
            Err(e) => format!("err {}", e.line().unwrap_or(0)),
        })
        .collect();
    assert_eq!(lines, ["ok 2", "err 3", "err 4", "ok 5"]);
    let e: crate::Error = results.into_iter().nth(1).unwrap().unwrap_err().into();
    assert_eq!(e.code, crate::ErrorCode::InvalidInput);
}

#[test]
fn templates_and_rows_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Template>();
    send_sync::<TemplateConfig>();
    send_sync::<Asset>();
    send::<Rows>();
    send::<Table>();
}

#[test]
fn pathologically_deep_templates_are_refused_not_overflowed() {
    let html = "<div>".repeat(1000) + "{{id}}";
    let e = Template::parse(&html, &text_config(&["id"]), &[]).unwrap_err();
    assert!(matches!(e, TemplateError::TooDeep { .. }), "{e}");
    let html = "<span>".repeat(120) + "{{id}}";
    Template::parse(&html, &text_config(&["id"]), &[]).unwrap();
}
