"""Our asset builder against the official SDK's, on the same tables and templates.

`AssetBuilderUploader` (imerit_ango 1.4.10, `modules/asset_builder_uploader.py`) is what
`SDK.upload_files_with_asset_builder` runs: `read_file(path, {"delimiter": d})`, then
`prepare_assets(template, classifications)` returns the assets it would upload. Each case below
runs it next to `assetdrop build --dry-run --json` (the real CLI, against the real hub of
conftest.py) and compares, row by row:

- `data` as a DOM: both strings parsed with html5lib, the HTML5 algorithm browsers use, so the
  serialization (`<br/>` or `<br>`, `<tbody>` added or not, attribute quoting, character
  references) does not matter, while every element, attribute, comment and character of text does;
- `externalId`, `contextData` (with its key order) and `classifications`;
- batch names: the SDK never reads the `batchColumn` a saved template has (see
  `test_difference_sdk_batch_column_quirk`), so here it is also given the key it does read,
  `batch_column_name`, to run its own splitting on the same column.

Each case also pins a few exact pieces of our output, so a case where both sides stopped
substituting still fails. Where we differ from the SDK on purpose, the README's
"Asset builder → Where we differ from the SDK" list names the difference and a
`test_difference_*` below asserts it exactly on both sides.
"""

import csv
import json
import subprocess
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import html5lib
import pytest
from imerit_ango.models.asset_builder_template import AssetBuilderTemplate, DataConfigItem
from imerit_ango.modules.asset_builder_uploader import AssetBuilderUploader

from conftest import hub_binary
from helpers import new_project

PUBLIC = "Public"
S1 = "6650f0c0a1b2c3d4e5f60718"
S2 = "6650f0c0a1b2c3d4e5f60719"


def text(export: bool = False) -> DataConfigItem:
    return DataConfigItem("text", include_in_export=export)


def media(kind: str, storage: str = PUBLIC, export: bool = False) -> DataConfigItem:
    return DataConfigItem(kind, storage=storage, include_in_export=export)


def pre_label(column: str, title: str, tool: str, multiple: bool = False) -> dict:
    return {"cla": {"schemaId": f"s-{title.lower()}", "title": title, "tool": tool,
                    "multiple": multiple}, "value": column}


# ---- the DOM both sides are compared as -------------------------------------------------------


def dom(markup: str) -> list:
    """The DOM an HTML5 parser builds for `markup` inside a <div> (as `innerHTML` would): a list
    of nodes, each `("#text", text)` (adjacent texts merged), `("#comment", text)` or
    `(tag, {attribute: value}, [children])`."""
    root = html5lib.parseFragment(markup, treebuilder="etree", namespaceHTMLElements=False)
    return _nodes(root)


def _nodes(element) -> list:
    out: list = []

    def add_text(t):
        if not t:
            return
        if out and out[-1][0] == "#text":
            out[-1] = ("#text", out[-1][1] + t)
        else:
            out.append(("#text", t))

    add_text(element.text)
    for child in element:
        if child.tag is ElementTree.Comment:
            out.append(("#comment", child.text or ""))
        else:
            out.append((child.tag, dict(child.attrib), _nodes(child)))
        add_text(child.tail)
    return out


def test_the_dom_comparison_sees_what_matters():
    """The comparison itself: serialization is ignored, content is not."""
    assert dom("<p>a<br/>b</p><img src='x'/>") == dom('<p>a<br>b</p><img src="x">')
    assert dom("<table><tr><td>1</td></tr></table>") == dom(
        "<table><tbody><tr><td>1</td></tr></tbody></table>")
    assert dom("<p>&lt;b&gt;</p>") == dom("<p>&#60;b&#62;</p>") != dom("<p><b></b></p>")
    assert dom("<p>a</p>") != dom("<p>a </p>")
    assert dom('<a href="x">a</a>') != dom('<a href="y">a</a>')
    assert dom("<!-- a --><p></p>") != dom("<!-- b --><p></p>")
    assert dom("<p class=a></p>") != dom("<p class=a id=b></p>")


# ---- running both ----------------------------------------------------------------------------


def write_table(path: Path, rows: list, delimiter: str = ",", bom: bool = False) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        if bom:
            f.write("\ufeff")
        csv.writer(f, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return path


def sdk_assets(template: dict, table: Path, delimiter: str = ",") -> list:
    """The assets the official SDK would upload: its own reader and renderer, called exactly as
    `upload_files_with_asset_builder` calls them (the project classifications it passes are
    always empty, see reference §8.4)."""
    uploader = AssetBuilderUploader()
    uploader.read_file(str(table), {"delimiter": delimiter})
    assets, _batches = uploader.prepare_assets(template, [])
    return assets


def run_ours(hub, project: str, tmp: Path, template: dict, table: Path, delimiter=None):
    """`assetdrop build TABLE --dry-run --json` with the template object the SDK saves (its
    `to_dict()`) as CONFIG.json, the HTML in its own file."""
    (tmp / "template.html").write_text(template["template"], encoding="utf-8")
    (tmp / "config.json").write_text(json.dumps(template), encoding="utf-8")
    args = [str(hub_binary()), "--hub", hub.url, "--api-key", hub.key, "--json", "build",
            str(table), "--project", project, "--template", str(tmp / "template.html"),
            "--config", str(tmp / "config.json"), "--dry-run"]
    if delimiter is not None:
        args += ["--delimiter", "\\t" if delimiter == "\t" else delimiter]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def ours_ok(proc) -> list:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    return json.loads(proc.stdout)


def make_template(html: str, columns: dict, external_id: str = "id", batch_column: str = "",
                  pre_labels: dict | None = None) -> dict:
    """The template object exactly as the SDK builds it and saves it on a project."""
    return AssetBuilderTemplate(
        name="equivalence", template=html, external_id_column=external_id,
        data_config=columns, batch_column=batch_column, pre_label_config=pre_labels or {},
    ).to_dict()


def both(hub, project, tmp_path, html, columns, rows, **kw):
    """(the SDK's assets, our finished CLI process) for one template and table."""
    delimiter = kw.pop("delimiter", ",")
    sdk_extra = kw.pop("sdk_extra", {})
    table = write_table(tmp_path / "table.csv", rows, delimiter, kw.pop("bom", False))
    template = make_template(html, columns, **kw)
    sdk = sdk_assets({**template, **sdk_extra}, table, delimiter)
    return sdk, run_ours(hub, project, tmp_path, template, table, delimiter)


@pytest.fixture(scope="module")
def project(hub):
    return new_project(hub.sdk(), "builder equivalence")


# ---- the equivalence cases -------------------------------------------------------------------


@dataclass
class Case:
    id: str
    html: str
    rows: list  # the header first
    columns: dict
    expect: tuple  # exact pieces of our first asset's `data`
    external_id: str = "id"
    batch_column: str = ""
    pre_labels: dict = field(default_factory=dict)
    delimiter: str = ","
    given: bool = True  # pass --delimiter; False: our detection (or the .tsv suffix) must find it
    suffix: str = ".csv"


SEMICOLON_ROWS = [
    ["id", "title", "price"],
    ["sc-1", "Hello, world", "1,50 €"],
    ["sc-2", "Semi; colon", "2,00 €"],
]
TAB_ROWS = [
    ["id", "title", "body"],
    ["tab-1", "Tab\tinside", "a, b; c"],
    ["tab-2", "plain", 'quote " inside'],
]

CASES = [
    Case(
        "text_placeholders",
        '<div class="card">\n  <h1>{{title}}</h1>\n  <p>{{body}}</p>\n'
        "  <span>   {{title}}   </span>\n  <blockquote>{{quote}} <em>said someone</em></blockquote>\n"
        "</div>",
        [["id", "title", "body", "quote"],
         ["t-1", "Hello, world", "Body with <b>markup</b> & an ampersand", "To be, or not"],
         ["t-2", 'Quotes "double" and \'single\'', "multi\nline\nbody", "  padded  "]],
        {"id": text(), "title": text(), "body": text(), "quote": text()},
        ("<h1>\n\nHello, world\n\n</h1>",
         "<p>\n\nBody with &lt;b&gt;markup&lt;/b&gt; &amp; an ampersand\n\n</p>",
         "<span>\n\nHello, world\n\n</span>", "<blockquote>\n\nTo be, or not\n\n<em>"),
    ),
    Case(
        "body_level_text",
        "{{title}}<p>{{body}}</p>",
        [["id", "title", "body"], ["bl-1", "First title", "body one"], ["bl-2", "", "body two"]],
        {"id": text(), "title": text(), "body": text()},
        ("First title\n\n<p>\n\nbody one\n\n</p>",),
    ),
    Case(
        "img_src_plain_encoded_and_prefixed",
        '<figure><img src="{{photo}}" alt="a photo" width="320"><figcaption>{{caption}}'
        '</figcaption></figure><img class="thumb" src="https://cdn.example.com/thumbs/%7B%7Bthumb%7D%7D">'
        '<img src="https://cdn.example.com/{{photo}}" loading="lazy">',
        [["id", "photo", "thumb", "caption"],
         ["i-1", "https://images.example.com/cat.png?w=640&h=480",
          "https://images.example.com/t/cat-small.png", "A cat"],
         ["i-2", "https://images.example.com/dog%20pic.jpg", "https://images.example.com/t/dog.jpg",
          'Caption with "quotes"']],
        {"id": text(), "photo": media("image"), "thumb": media("image"), "caption": text()},
        ('<img src="https://images.example.com/cat.png?w=640&amp;h=480" alt="a photo" width="320">',
         '<img class="thumb" src="https://images.example.com/t/cat-small.png">',
         '<img src="https://images.example.com/cat.png?w=640&amp;h=480" loading="lazy">'),
    ),
    Case(
        "audio_video_src",
        '<h3>{{title}}</h3><audio controls src="{{clip}}">Your browser cannot play audio.</audio>'
        '<video controls width="640" src="%7B%7Bmovie%7D%7D" '
        'poster="https://cdn.example.com/poster.png">No video.</video>',
        [["id", "title", "clip", "movie"],
         ["av-1", "Both", "https://media.example.com/a/1.mp3", "https://media.example.com/v/1.mp4"],
         ["av-2", "Second", "https://media.example.com/a/2.wav?dl=1",
          "https://media.example.com/v/2 final.webm"]],
        {"id": text(), "title": text(), "clip": media("audio"), "movie": media("video")},
        ('<audio controls="" src="https://media.example.com/a/1.mp3">',
         '<video controls="" width="640" src="https://media.example.com/v/1.mp4" '
         'poster="https://cdn.example.com/poster.png">'),
    ),
    Case(
        "private_storage_media",
        '<img src="{{photo}}"><audio src="{{clip}}" controls>a</audio>'
        '<video src="https://cdn.example.com/%7B%7Bmovie%7D%7D">v</video>'
        '<a href="{{doc}}">the PDF</a><iframe src="{{doc}}">pdf</iframe>',
        [["id", "photo", "clip", "movie", "doc"],
         ["ps-1", "https://bucket.example.com/p/1.png", "https://bucket.example.com/a/1.mp3",
          "https://bucket.example.com/v/1.mp4", "https://bucket.example.com/d/1.pdf"],
         ["ps-2", "https://bucket.example.com/p/2.png", "https://bucket.example.com/a/2.mp3",
          "https://bucket.example.com/v/2.mp4", "https://bucket.example.com/d/2.pdf"]],
        {"id": text(), "photo": media("image", S1), "clip": media("audio", S1),
         "movie": media("video", S2), "doc": media("pdf", S1)},
        (f'<img src="https://bucket.example.com/p/1.png?storageId={S1}">',
         f'<audio src="https://bucket.example.com/a/1.mp3?storageId={S1}" controls="">',
         f'<video src="https://bucket.example.com/v/1.mp4?storageId={S2}">',
         # <a> and <iframe> never get a storageId, whatever the column's storage.
         '<a href="https://bucket.example.com/d/1.pdf">',
         '<iframe src="https://bucket.example.com/d/1.pdf">'),
    ),
    Case(
        "anchors",
        '<p><a href="{{link}}" rel="noopener">{{label}}</a> · '
        '<a href="https://docs.example.com/guide/%7B%7Bpage%7D%7D" target="_blank">guide</a> · '
        '<a href="https://docs.example.com/{{page}}">again</a></p>',
        [["id", "link", "label", "page"],
         ["a-1", "https://example.com/one?x=1&y=2", "Read more", "intro.html"],
         ["a-2", "mailto:someone@example.com", "Mail <us>", "faq.html#top"]],
        {"id": text(), "link": DataConfigItem("link"), "label": text(), "page": text()},
        ('<a href="https://example.com/one?x=1&amp;y=2" rel="noopener">\n\nRead more\n\n</a>',
         '<a href="intro.html" target="_blank">guide</a>', '<a href="intro.html">again</a>'),
    ),
    Case(
        "iframe_sandbox_srcdoc",
        '<h2>{{title}}</h2><iframe src="{{page}}" '
        'srcdoc="&lt;p&gt;inline&lt;/p&gt;" width="100%" height="400">fallback</iframe>'
        '<iframe src="https://static.example.com/frame.html" sandbox="">other</iframe>',
        [["id", "title", "page"],
         ["if-1", "Framed", "https://pages.example.com/1.html"],
         ["if-2", "Again", "https://pages.example.com/2.html?embed=1"]],
        {"id": text(), "title": text(), "page": DataConfigItem("iframe")},
        ('<iframe src="https://pages.example.com/1.html" width="100%" height="400">fallback</iframe>',
         '<iframe src="https://static.example.com/frame.html" sandbox="">other</iframe>'),
    ),
    Case(
        "script_removed",
        '<div><script>document.title = "{{title}}";</script><p>{{title}}</p>'
        '<script src="{{link}}"></script></div><script type="module">import "x";</script>'
        "<p>end</p>",
        [["id", "title", "link"], ["sr-1", "Scripted", "https://example.com/x.js"],
         ["sr-2", "</script><b>x</b>", "https://example.com/y.js"]],
        {"id": text(), "title": text(), "link": DataConfigItem("link")},
        ("<div><p>\n\nScripted\n\n</p></div><p>end</p>",),
    ),
    Case(
        "nested_elements_and_tables",
        "<section><article><header><h2>{{title}}</h2><small>by <b>{{author}}</b></small></header>"
        "<table><tr><th>Score</th><td>{{score}}</td></tr>"
        "<tr><th>Tags</th><td><ul><li>{{tag}}</li></ul></td></tr></table>"
        "<div><div><div><span><i>{{author}}</i></span></div></div></div></article></section>",
        [["id", "title", "author", "score", "tag"],
         ["n-1", "Deep", "Ada Lovelace", "9.5", "math"],
         ["n-2", "Deeper", "Grace <Hopper>", "", "cobol & more"]],
        {"id": text(), "title": text(), "author": text(), "score": text(), "tag": text()},
        ("<small>by <b>\n\nAda Lovelace\n\n</b></small>",
         "<table><tbody><tr><th>Score</th><td>\n\n9.5\n\n</td></tr>",
         "<span><i>\n\nAda Lovelace\n\n</i></span>"),
    ),
    Case(
        "include_in_export_columns",
        "<p>{{note}}</p><p>{{secret}}</p>",
        [["id", "note", "score", "lang", "secret", "unconfigured"],
         ["ie-1", "first note", "7", "en", "hidden", "ignored"],
         ["ie-2", "", "", "de", "", "x"]],
        # dataConfig order differs from the header: contextData follows the header, as the SDK's.
        {"score": text(True), "id": text(), "lang": text(True), "note": text(True),
         "secret": text()},
        ("<p>\n\nfirst note\n\n</p><p>\n\nhidden\n\n</p>",),
    ),
    Case(
        "pre_labels_single_answer_tools",
        "<p>{{comment}}</p>",
        [["id", "animal", "ok", "size", "place", "comment"],
         ["pl-1", "cat", "true", "L", "Europe/France", "fine; really"],
         ["pl-2", "", "false", "", "", "a;b"]],
        {"id": text(), "comment": text(), "animal": text()},
        ("<p>\n\nfine; really\n\n</p>",),
        pre_labels={
            "animal": pre_label("animal", "Animal", "radio"),
            "comment": pre_label("comment", "Comment", "text"),
            "ok": pre_label("ok", "Ok", "boolean"),
            "place": pre_label("place", "Place", "tree-dropdown"),
            "size": pre_label("size", "Size", "single-dropdown"),
        },
    ),
    Case(
        "pre_labels_multi_select_tools",
        "<p>{{id}}</p>",
        [["id", "colours", "letters", "order", "many"],
         ["ms-1", "red;green", "a;b;c", "first;second;third", "x;y"],
         ["ms-2", "", "solo", ";", ""]],
        {"id": text()},
        ("<p>\n\nms-1\n\n</p>",),
        pre_labels={
            "colours": pre_label("colours", "Colours", "checkbox"),
            "letters": pre_label("letters", "Letters", "multi-dropdown"),
            "many": pre_label("many", "Many", "checkbox", multiple=True),
            "order": pre_label("order", "Order", "rank"),
        },
    ),
    Case(
        "pre_labels_multiple_instances",
        "<p>{{id}}</p>",
        [["id", "animals", "notes", "size", "flags"],
         ["mi-1", "cat;dog", "note one;note two", "S", "true;false"],
         ["mi-2", "", "", ";", "x"]],
        {"id": text()},
        ("<p>\n\nmi-1\n\n</p>",),
        pre_labels={
            "animals": pre_label("animals", "Animals", "radio", multiple=True),
            "flags": pre_label("flags", "Flags", "boolean", multiple=True),
            "notes": pre_label("notes", "Notes", "text", multiple=True),
            "size": pre_label("size", "Size", "single-dropdown", multiple=True),
        },
    ),
    Case(
        "unicode_columns_and_cells",
        '<h1 lang="ja">{{名前}}</h1><p>{{città}}</p><p>{{emoji}}</p><p>&copy; 2024 &mdash; ünïcödé</p>',
        [["id", "名前", "città", "emoji"],
         ["ü-1", "東京太郎", "Zoë Ünal — Köln", "👩‍💻🚀"],
         ["ü-2", "مرحبا", "e\u0301te\u0301", "\u00a0nbsp\u00a0"]],
        {"id": text(), "名前": text(True), "città": text(True), "emoji": text()},
        ('<h1 lang="ja">\n\n東京太郎\n\n</h1>', "<p>\n\n👩‍💻🚀\n\n</p>", "<p>© 2024 — ünïcödé</p>"),
    ),
    Case(
        "empty_cells",
        '<h1>{{title}}</h1><img src="{{photo}}"><a href="{{link}}">link</a><p>{{title}}</p>',
        [["id", "title", "photo", "link", "tag"],
         ["e-1", "", "", "", ""],
         ["", "only title", "", "", ""],
         ["e-3", "x", "https://example.com/i.png", "https://example.com/", "t"]],
        {"id": text(), "title": text(True), "photo": media("image"),
         "link": DataConfigItem("link", include_in_export=True)},
        ('<h1>\n\n\n\n</h1><img src=""><a href="">link</a>',),
        pre_labels={"tag": pre_label("tag", "Tag", "checkbox"),
                    "tag2": pre_label("tag", "Tag radio", "radio")},
    ),
    Case(
        "semicolon_delimiter_given",
        "<h1>{{title}}</h1><p>{{price}}</p>",
        SEMICOLON_ROWS,
        {"id": text(), "title": text(), "price": text(True)},
        ("<h1>\n\nHello, world\n\n</h1><p>\n\n1,50 €\n\n</p>",),
        delimiter=";",
    ),
    Case(
        "semicolon_delimiter_detected",
        "<h1>{{title}}</h1><p>{{price}}</p>",
        SEMICOLON_ROWS,
        {"id": text(), "title": text(), "price": text(True)},
        ("<h1>\n\nHello, world\n\n</h1><p>\n\n1,50 €\n\n</p>",),
        delimiter=";",
        given=False,
    ),
    Case(
        "tab_delimiter_given",
        "<h1>{{title}}</h1><p>{{body}}</p>",
        TAB_ROWS,
        {"id": text(), "title": text(True), "body": text()},
        ("<h1>\n\nTab\tinside\n\n</h1><p>\n\na, b; c\n\n</p>",),
        delimiter="\t",
    ),
    Case(
        "tab_tsv_file",
        "<h1>{{title}}</h1><p>{{body}}</p>",
        TAB_ROWS,
        {"id": text(), "title": text(True), "body": text()},
        ("<h1>\n\nTab\tinside\n\n</h1><p>\n\na, b; c\n\n</p>",),
        delimiter="\t",
        given=False,
        suffix=".tsv",
    ),
    Case(
        "character_references_in_the_template",
        "<p>&lt;b&gt;now bold&lt;/b&gt;</p><p>&amp;lt;kept as text&amp;gt;</p>"
        "<p>&#123;&#123;title&#125;&#125;</p><p>&copy; &notit; &#x41;&#65; &#x80;</p>",
        [["id", "title"], ["cr-1", "Entity title"], ["cr-2", "&amp; stays"]],
        {"id": text(), "title": text()},
        ("<p><b>now bold</b></p><p>&lt;kept as text&gt;</p><p>\n\nEntity title\n\n</p>",
         "<p>© ¬it; AA €</p>"),
    ),
    Case(
        "comments_and_whitespace",
        "<!-- card for {{title}} -->\n<div class=\"card\">\n    <!-- {{title}} stays -->\n"
        "    <h2>\n        {{title}}\n    </h2>\n    <ul>\n        <li>{{a}}</li>\n"
        "        <li>  {{b}}  </li>\n    </ul>\n</div>\n",
        [["id", "title", "a", "b"], ["cw-1", "Spaced", "first", "second"],
         ["cw-2", "", " x ", "y"]],
        {"id": text(), "title": text(), "a": text(), "b": text()},
        ("<!-- {{title}} stays -->", "<h2>\n\nSpaced\n\n</h2>", "<li>\n\nsecond\n\n</li>"),
    ),
    Case(
        "batch_column",
        "<p>{{title}}</p>",
        [["id", "title", "batch"], ["b-1", "x", "train"], ["b-2", "y", "train;validation"],
         ["b-3", "z", ""]],
        {"id": text(), "title": text(), "batch": text()},
        ("<p>\n\nx\n\n</p>",),
        batch_column="batch",
    ),
    Case(
        "markup_in_cells_is_text",
        '<h1>{{title}}</h1><p>{{body}}</p><a href="{{link}}">x</a>',
        [["id", "title", "body", "link"],
         ["x-1", "<script>alert(1)</script>", "</p><img src=x onerror=alert(1)>",
          'https://example.com/?q="><script>alert(2)</script>'],
         ["x-2", "&amp; &lt;already&gt;", "<!-- comment -->", "https://example.com/a'b"]],
        {"id": text(), "title": text(), "body": text(), "link": DataConfigItem("link")},
        ("<h1>\n\n&lt;script&gt;alert(1)&lt;/script&gt;\n\n</h1>",
         "<p>\n\n&lt;/p&gt;&lt;img src=x onerror=alert(1)&gt;\n\n</p>",
         'href="https://example.com/?q=&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"'),
    ),
    Case(
        # The SDK strips only a bare `<body>` tag, so it keeps `<body class="asset">` in its
        # output; an HTML5 parser ignores that tag inside content, as a browser would.
        "whole_document_template",
        '<!DOCTYPE html><html><head><title>{{title}}</title><style>p { color: red }</style></head>'
        '<body class="asset"><p>{{title}}</p><p>{{body}}</p></body></html>',
        [["id", "title", "body"], ["wd-1", "Doc title", "Doc body"], ["wd-2", "T2", "B2"]],
        {"id": text(), "title": text(), "body": text()},
        ("<p>\n\nDoc title\n\n</p><p>\n\nDoc body\n\n</p>",),
    ),
]


assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_assets_as_the_sdk(hub, project, tmp_path, case):
    table = write_table(tmp_path / f"table{case.suffix}", case.rows, case.delimiter)
    template = make_template(case.html, case.columns, case.external_id, case.batch_column,
                             case.pre_labels)
    # The SDK, given the batch key it really reads (see test_difference_sdk_batch_column_quirk).
    sdk = sdk_assets({**template, "batch_column_name": case.batch_column}, table, case.delimiter)
    ours = ours_ok(run_ours(hub, project, tmp_path, template, table,
                            case.delimiter if case.given else None))

    assert len(ours) == len(sdk) == len(case.rows) - 1
    for i, (theirs, mine) in enumerate(zip(sdk, ours)):
        where = f"row {i + 1}\n SDK: {theirs['data']!r}\nours: {mine['data']!r}"
        assert dom(mine["data"]) == dom(theirs["data"]), where
        assert mine["externalId"] == theirs["externalId"], where
        assert list(mine["contextData"].items()) == list(theirs["contextData"].items()), where
        assert mine["classifications"] == theirs["classifications"], where
        assert mine["batches"] == theirs["batch_names"], where
        assert set(mine) == {"data", "externalId", "contextData", "classifications", "batches"}
    for piece in case.expect:
        assert piece in ours[0]["data"], f"{piece!r} not in {ours[0]['data']!r}"


def test_pre_label_answers_by_tool(hub, project, tmp_path):
    """The pre-label cases above compare with the SDK; this pins what both give."""
    case = next(c for c in CASES if c.id == "pre_labels_multi_select_tools")
    table = write_table(tmp_path / "t.csv", case.rows)
    template = make_template(case.html, case.columns, pre_labels=case.pre_labels)
    ours = ours_ok(run_ours(hub, project, tmp_path, template, table))
    assert [c["answer"] for c in ours[0]["classifications"]] == [
        ["red", "green"], ["a", "b", "c"], ["x", "y"], ["first", "second", "third"]]
    assert [c["answer"] for c in ours[1]["classifications"]] == [[""], ["solo"], [""], ["", ""]]
    case = next(c for c in CASES if c.id == "pre_labels_multiple_instances")
    table = write_table(tmp_path / "t.csv", case.rows)
    template = make_template(case.html, case.columns, pre_labels=case.pre_labels)
    ours = ours_ok(run_ours(hub, project, tmp_path, template, table))
    assert [(c["title"], c["answer"]) for c in ours[0]["classifications"]] == [
        ("Animals", "cat"), ("Animals", "dog"), ("Flags", "true"), ("Flags", "false"),
        ("Notes", "note one"), ("Notes", "note two"), ("Size", "S")]
    assert [(c["title"], c["answer"]) for c in ours[1]["classifications"]] == [
        ("Animals", ""), ("Flags", "x"), ("Notes", ""), ("Size", ""), ("Size", "")]


def test_pre_labels_follow_the_config_order(hub, project, tmp_path):
    """The SDK emits pre-labels in `preLabelConfig` order, and so does our library
    (`Asset.classifications`), and the CLI keeps CONFIG.json's key order too."""
    pre_labels = {"zeta": pre_label("z", "Zeta", "radio"), "alpha": pre_label("a", "Alpha", "radio")}
    sdk, proc = both(hub, project, tmp_path, "<p>{{id}}</p>", {"id": text()},
                     [["id", "z", "a"], ["o-1", "last", "first"]], pre_labels=pre_labels)
    assert [c["title"] for c in sdk[0]["classifications"]] == ["Zeta", "Alpha"]
    assert [c["title"] for c in ours_ok(proc)[0]["classifications"]] == ["Zeta", "Alpha"]


# ---- the intentional differences, each asserted exactly ---------------------------------------


def test_difference_mixed_text_placeholders(hub, project, tmp_path):
    """README, differences: "Placeholders inside mixed text are filled". The SDK replaces an
    element's leading text only when it is exactly one placeholder, and never looks at text
    after a child element."""
    sdk, proc = both(
        hub, project, tmp_path,
        "<p>Name: {{name}}</p><p><b>Tail:</b> {{name}}</p><p>{{name}} and {{name}}</p>",
        {"id": text(), "name": text()}, [["id", "name"], ["m-1", "Ann & Bob"]])
    [ours] = ours_ok(proc)
    assert sdk[0]["data"] == (
        "<p>Name: {{name}}</p><p><b>Tail:</b> {{name}}</p><p>{{name}} and {{name}}</p>")
    assert ours["data"] == (
        "<p>Name: Ann &amp; Bob</p><p><b>Tail:</b> Ann &amp; Bob</p>"
        "<p>Ann &amp; Bob and Ann &amp; Bob</p>")


def test_difference_attribute_placeholders(hub, project, tmp_path):
    """README, differences: "Placeholders inside any attribute are filled". The SDK fills only
    `src` of img/audio/video/iframe and `href` of a, and only when the URL's last path segment
    is exactly one placeholder."""
    sdk, proc = both(
        hub, project, tmp_path,
        '<img src="{{photo}}" alt="{{caption}}" title="Photo: {{caption}}">'
        '<div class="tag tag-{{kind}}" data-id="{{id}}">x</div>'
        '<a href="https://shop.example.com/search?q={{kind}}">shop</a>'
        '<img src="{{photo}}?w=100">',
        {"id": text(), "photo": media("image"), "caption": text(), "kind": text()},
        [["id", "photo", "caption", "kind"],
         ["at-1", "https://example.com/p.png", 'A "quoted" <caption>', "red-blue"]])
    [ours] = ours_ok(proc)
    assert sdk[0]["data"] == (
        '<img src="https://example.com/p.png" alt="{{caption}}" title="Photo: {{caption}}"/>'
        '<div class="tag tag-{{kind}}" data-id="{{id}}">x</div>'
        '<a href="https://shop.example.com/search?q={{kind}}">shop</a>'
        '<img src="{{photo}}?w=100"/>')
    assert ours["data"] == (
        '<img src="https://example.com/p.png" alt="A &quot;quoted&quot; &lt;caption&gt;" '
        'title="Photo: A &quot;quoted&quot; &lt;caption&gt;">'
        '<div class="tag tag-red-blue" data-id="at-1">x</div>'
        '<a href="https://shop.example.com/search?q=red-blue">shop</a>'
        '<img src="https://example.com/p.png?w=100">')
    # The browser sees the cell itself, quotes and brackets included, in the attribute.
    assert dom(ours["data"])[0][1]["alt"] == 'A "quoted" <caption>'


def test_difference_values_are_never_reread_as_placeholders(hub, project, tmp_path):
    """README, differences: "A value is never read as a placeholder". The SDK checks an
    element's text again after filling it, so a cell holding `{{other}}` pulls in another
    column's value (a cell can read any column the template configures)."""
    sdk, proc = both(
        hub, project, tmp_path, "<p>{{name}}</p>",
        {"id": text(), "name": text(), "secret": text()},
        [["id", "name", "secret"], ["rr-1", "{{secret}}", "s3cr3t"],
         ["rr-2", "  {{id}} ", "x"]])
    ours = ours_ok(proc)
    assert [a["data"] for a in sdk] == ["<p>\n\ns3cr3t\n\n</p>", "<p>\n\nrr-2\n\n</p>"]
    assert [a["data"] for a in ours] == ["<p>\n\n{{secret}}\n\n</p>", "<p>\n\n  {{id}} \n\n</p>"]


def test_difference_script_urls_are_refused(hub, project, tmp_path):
    """README, differences: "Escaping: a URL attribute refuses `javascript:`, `vbscript:` and
    `data:` cells". The SDK puts any cell into href/src; we fail that row (with its line and
    column) and keep the others."""
    rows = [["id", "link", "photo"],
         ["ok", "https://example.com/", "https://example.com/a.png"],
         ["bad-link", "javascript:alert(document.cookie)", "https://example.com/b.png"],
         ["bad-photo", "https://example.com/", "data:image/svg+xml,<svg onload=alert(1)>"],
         ["bad-case", " JaVa\tScRiPt:alert(1)", "https://example.com/c.png"],
         ["ok-2", "https://example.com/2", "https://example.com/d.png"]]
    sdk, proc = both(
        hub, project, tmp_path, '<a href="{{link}}">open</a><img src="{{photo}}">',
        {"id": text(), "link": DataConfigItem("link"), "photo": media("image")}, rows)
    # The SDK's assets carry every cell as it is.
    assert [dom(a["data"])[0][1]["href"] for a in sdk] == [r[1] for r in rows[1:]]
    assert dom(sdk[2]["data"])[1][1]["src"] == "data:image/svg+xml,<svg onload=alert(1)>"
    assert proc.returncode == 1, proc.stderr
    assert [a["externalId"] for a in json.loads(proc.stdout)] == ["ok", "ok-2"]
    assert proc.stderr.splitlines() == [
        "row failed: line 3, column `link`: a javascript: URL cannot go into <a href>, as it "
        "could run script in the asset; use an http(s) URL",
        "row failed: line 4, column `photo`: a data: URL cannot go into <img src>, as it could "
        "run script in the asset; use an http(s) URL",
        "row failed: line 5, column `link`: a javascript: URL cannot go into <a href>, as it "
        "could run script in the asset; use an http(s) URL",
    ]


def test_difference_placeholders_in_raw_text_elements_are_refused(hub, project, tmp_path):
    """README, differences: "Escaping: a placeholder inside `<style>`, `<iframe>` or another
    raw-text element is refused". Browsers do not unescape their text, so the SDK's escaped
    value arrives mangled (`&gt;` in CSS), and an unescaped one could close the element."""
    css = "div > p { color: red }"
    sdk, proc = both(hub, project, tmp_path, "<div><style>{{css}}</style><p>x</p></div>",
                     {"id": text(), "css": text()}, [["id", "css"], ["rt-1", css]])
    assert sdk[0]["data"] == "<div><style>\n\ndiv &gt; p { color: red }\n\n</style><p>x</p></div>"
    style = dom(sdk[0]["data"])[0][2][0]
    assert style == ("style", {}, [("#text", "\n\ndiv &gt; p { color: red }\n\n")])
    assert proc.returncode == 2 and proc.stdout == ""
    assert ("<style> holds {{css}}, but the text of <style> is not escaped HTML, so a cell could "
            "close it and inject markup; move the placeholder into an ordinary element") in proc.stderr


def test_difference_a_framed_page_keeps_its_sandbox(hub, project, tmp_path):
    """README, differences: "An `<iframe>` whose `src` is a placeholder keeps its `sandbox`".
    The SDK rebuilds such an iframe from `src`, `width` and `height` alone, so the restrictions
    the template put on the framed page are silently lost."""
    sdk, proc = both(hub, project, tmp_path,
                     '<iframe src="{{page}}" sandbox="allow-scripts" width="640">f</iframe>',
                     {"id": text(), "page": DataConfigItem("iframe")},
                     [["id", "page"], ["sb-1", "https://pages.example.com/1.html"]])
    ours = ours_ok(proc)
    theirs = dom(sdk[0]["data"])[0]
    mine = dom(ours[0]["data"])[0]
    assert theirs[0] == mine[0] == "iframe"
    assert "sandbox" not in theirs[1]
    assert mine[1] == {"src": "https://pages.example.com/1.html", "sandbox": "allow-scripts",
                       "width": "640"}


def test_difference_storage_id_joins_an_existing_query(hub, project, tmp_path):
    """README, differences: "`storageId` joins an existing query with `&`, before any
    `#fragment`". The SDK always appends `?storageId=…`, after the fragment too."""
    sdk, proc = both(
        hub, project, tmp_path, '<img src="{{photo}}"><audio src="{{clip}}">a</audio>',
        {"id": text(), "photo": media("image", S1), "clip": media("audio", S1)},
        [["id", "photo", "clip"],
         ["q-1", "https://bucket.example.com/a.png?v=2", "https://bucket.example.com/a.mp3#t=10"],
         ["q-2", "https://bucket.example.com/b.png?v=2#frag", "https://bucket.example.com/b.mp3"]])
    ours = ours_ok(proc)

    def srcs(data):
        return [n[1]["src"] for n in dom(data)]

    assert [srcs(a["data"]) for a in sdk] == [
        [f"https://bucket.example.com/a.png?v=2?storageId={S1}",
         f"https://bucket.example.com/a.mp3#t=10?storageId={S1}"],
        [f"https://bucket.example.com/b.png?v=2#frag?storageId={S1}",
         f"https://bucket.example.com/b.mp3?storageId={S1}"]]
    assert [srcs(a["data"]) for a in ours] == [
        [f"https://bucket.example.com/a.png?v=2&storageId={S1}",
         f"https://bucket.example.com/a.mp3?storageId={S1}#t=10"],
        [f"https://bucket.example.com/b.png?v=2&storageId={S1}#frag",
         f"https://bucket.example.com/b.mp3?storageId={S1}"]]


def test_difference_batch_names_are_trimmed(hub, project, tmp_path):
    """README, differences: "Batch names are trimmed; empty and repeated ones dropped". The
    SDK's split (when it reads the column at all) keeps spaces, empty parts and repeats."""
    sdk, proc = both(
        hub, project, tmp_path, "<p>{{id}}</p>", {"id": text(), "batch": text()},
        [["id", "batch"], ["tb-1", " b1 ; b2;;b1 "], ["tb-2", "  "], ["tb-3", "solo"]],
        batch_column="batch", sdk_extra={"batch_column_name": "batch"})
    assert [a["batch_names"] for a in sdk] == [[" b1 ", " b2", "", "b1 "], ["  "], ["solo"]]
    assert [a["batches"] for a in ours_ok(proc)] == [["b1", "b2"], [], ["solo"]]


def test_difference_sdk_batch_column_quirk(hub, project, tmp_path):
    """README, differences: "The batch column is used". The SDK reads the batch column from
    `template["batch_column_name"]`, but templates are saved (by the SDK too) with
    `batchColumn`, so its rows get no batches."""
    sdk, proc = both(
        hub, project, tmp_path, "<p>{{id}}</p>", {"id": text(), "batch": text()},
        [["id", "batch"], ["bq-1", "train"], ["bq-2", "train;validation"]],
        batch_column="batch")
    assert [a["batch_names"] for a in sdk] == [[], []]
    assert [a["batches"] for a in ours_ok(proc)] == [["train"], ["train", "validation"]]


def test_difference_html_not_xml_output(hub, project, tmp_path):
    """README, differences: "The output is HTML (`<br>`), not XML (`<br/>`)". The SDK
    serializes with lxml's XML writer: void elements become `<br/>` (harmless), but an empty
    element becomes `<div/>`, which HTML parsers read as an open `<div>` that swallows what
    follows."""
    sdk, proc = both(
        hub, project, tmp_path,
        '<p>one<br>two</p><div class="spacer"></div><p>{{name}}</p><img src="https://e.com/logo.png">',
        {"id": text(), "name": text()}, [["id", "name"], ["x-1", "Ann"]])
    [ours] = ours_ok(proc)
    assert sdk[0]["data"] == (
        '<p>one<br/>two</p><div class="spacer"/><p>\n\nAnn\n\n</p><img src="https://e.com/logo.png"/>')
    assert ours["data"] == (
        '<p>one<br>two</p><div class="spacer"></div><p>\n\nAnn\n\n</p><img src="https://e.com/logo.png">')
    para = ("p", {}, [("#text", "\n\nAnn\n\n")])
    img = ("img", {"src": "https://e.com/logo.png"}, [])
    first = ("p", {}, [("#text", "one"), ("br", {}, []), ("#text", "two")])
    assert dom(sdk[0]["data"]) == [first, ("div", {"class": "spacer"}, [para, img])]
    assert dom(ours["data"]) == [first, ("div", {"class": "spacer"}, []), para, img]


def test_difference_text_after_a_removed_script_is_kept(hub, project, tmp_path):
    """README, differences: "Text after a removed `<script>` is kept". The SDK removes a
    `<script>` with lxml's `remove()`, which takes the text that follows it along."""
    sdk, proc = both(hub, project, tmp_path,
                     "<h1>{{name}}</h1><p>Before<script>track()</script> and after.</p>",
                     {"id": text(), "name": text()}, [["id", "name"], ["st-1", "Ann"]])
    [ours] = ours_ok(proc)
    assert sdk[0]["data"] == "<h1>\n\nAnn\n\n</h1><p>Before</p>"
    assert ours["data"] == "<h1>\n\nAnn\n\n</h1><p>Before and after.</p>"


def test_difference_unknown_placeholders_fail_before_any_row(hub, project, tmp_path):
    """README, differences: "A misspelt placeholder or a missing column stops the build before
    any row". The SDK leaves an unknown `{{…}}` in every asset, and a missing column is a
    KeyError (or a `None` cell) in the middle of the run."""
    sdk, proc = both(hub, project, tmp_path, "<h1>{{Title}}</h1><p>{{title}}</p>",
                     {"id": text(), "title": text()}, [["id", "title"], ["u-1", "Real"]])
    assert sdk[0]["data"] == "<h1>{{Title}}</h1><p>\n\nReal\n\n</p>"
    assert proc.returncode == 2
    assert "the template uses {{Title}} (did you mean {{title}}?)" in proc.stderr
    assert "externalId" not in proc.stdout

    # A header without a configured column.
    table = write_table(tmp_path / "typo.csv", [["id", "titel"], ["u-2", "typo in the header"]])
    template = make_template("<p>{{title}}</p>", {"id": text(), "title": text()})
    with pytest.raises(KeyError) as e:
        sdk_assets(template, table)
    assert e.value.args == ("title",)
    proc = run_ours(hub, project, tmp_path, template, table)
    assert proc.returncode == 2
    assert "the table has no column `title` that the config names" in proc.stderr
    assert "externalId" not in proc.stdout


def test_difference_ragged_rows_fail_with_their_line(hub, project, tmp_path):
    """README, differences: "A row with too few or too many cells fails with its line". Python's
    `csv.DictReader` fills missing cells with `None`, which the SDK renders as the text "None"
    (or an empty `src`), and drops extra cells silently."""
    sdk, proc = both(
        hub, project, tmp_path, '<p>{{name}}</p><img src="{{photo}}">',
        {"id": text(), "name": text(), "photo": media("image")},
        [["id", "name", "photo"], ["short"], ["long", "a", "https://e.com/b.png", "extra"],
         ["fine", "ok", "https://e.com/p.png"]])
    assert [a["data"] for a in sdk] == [
        '<p>\n\nNone\n\n</p><img src=""/>',
        '<p>\n\na\n\n</p><img src="https://e.com/b.png"/>',
        '<p>\n\nok\n\n</p><img src="https://e.com/p.png"/>']
    assert proc.returncode == 1
    assert [a["externalId"] for a in json.loads(proc.stdout)] == ["fine"]
    assert proc.stderr.splitlines() == [
        "row failed: line 2 has 1 cells but the header has 3: column 2 (B, `name`) is missing; "
        "add the missing cells (empty ones are fine)",
        "row failed: line 3 has 4 cells but the header has 3: column 4 (D) has no header; quote "
        'cells that contain the delimiter `,` (comma) ("a,b"), or check the delimiter',
    ]


def test_difference_a_utf8_bom_is_not_part_of_the_header(hub, project, tmp_path):
    """README, differences: "A UTF-8 byte-order mark is not part of the first column's name".
    The SDK opens the table without `utf-8-sig`, so Excel's "CSV UTF-8" files name their first
    column `\\ufeffid` and the external-ID lookup fails."""
    table = write_table(tmp_path / "bom.csv", [["id", "title"], ["bom-1", "Excel"]], bom=True)
    template = make_template("<p>{{title}}</p>", {"id": text(), "title": text()})
    uploader = AssetBuilderUploader()
    uploader.read_file(str(table))
    assert uploader.columns == ["\ufeffid", "title"]
    with pytest.raises(KeyError):
        uploader.prepare_assets(template, [])
    [ours] = ours_ok(run_ours(hub, project, tmp_path, template, table))
    assert ours["externalId"] == "bom-1" and ours["data"] == "<p>\n\nExcel\n\n</p>"


# ---- both through the hub ----------------------------------------------------------------


def test_sdk_upload_and_our_build_store_the_same_assets(hub, sdk, tmp_path):
    """`upload_files_with_asset_builder` and `assetdrop build --template-id` with the same
    saved template, into two projects of one hub: the hub stores the same assets, except the
    batches the SDK never assigns."""
    columns = {"id": text(), "title": text(True), "photo": media("image"),
               "link": DataConfigItem("link"), "body": text(), "batch": text()}
    t = AssetBuilderTemplate(
        name="cards", external_id_column="id", data_config=columns, batch_column="batch",
        template='<article><h1>{{title}}</h1><img src="{{photo}}" alt="photo">'
                 '<a href="https://example.com/%7B%7Blink%7D%7D">more</a>'
                 "<table><tr><td>{{body}}</td></tr></table></article>",
        pre_label_config={"animal": pre_label("animal", "Animal", "radio"),
                          "tags": pre_label("tags", "Tags", "checkbox")})
    rows = [["id", "title", "photo", "link", "body", "batch", "animal", "tags"],
            ["h-1", "One", "https://example.com/1.png", "https://example.com/one",
             "A <b>cat</b> & co", "train", "cat", "a;b"],
            ["h-2", "Two ✓", "https://example.com/2.png", "https://example.com/two",
             "multi\nline", "train;test", "dog", ""]]
    table = write_table(tmp_path / "rows.csv", rows)

    p_sdk, p_ours = new_project(sdk, "sdk side"), new_project(sdk, "our side")
    tid_sdk = sdk.create_asset_builder_template(p_sdk, t)["data"]["assetBuilderTemplate"]["_id"]
    tid_ours = sdk.create_asset_builder_template(p_ours, t)["data"]["assetBuilderTemplate"]["_id"]
    sdk.upload_files_with_asset_builder(p_sdk, tid_sdk, str(table))
    proc = subprocess.run(
        [str(hub_binary()), "--hub", hub.url, "--api-key", hub.key, "--json", "build", str(table),
         "--project", p_ours, "--template-id", tid_ours], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert (summary["rows"], summary["created"], summary["failed"]) == (2, 2, [])
    assert summary["batchesCreated"] == ["train", "test"]

    theirs = {r["external_id"]: r for r in hub.asset_rows(p_sdk)}
    mine = {r["external_id"]: r for r in hub.asset_rows(p_ours)}
    assert set(theirs) == set(mine) == {"h-1", "h-2"}
    for key in ("h-1", "h-2"):
        a, b = theirs[key], mine[key]
        assert dom(b["data"]) == dom(a["data"]), (a["data"], b["data"])
        assert (b["kind"], b["pre_labeled"]) == (a["kind"], a["pre_labeled"]) == ("html", 1)
        assert list(b["context_data"].items()) == list(a["context_data"].items())
        assert b["extra"]["classifications"] == a["extra"]["classifications"]
        assert a["batches"] == []
    assert "<td>\n\nA &lt;b&gt;cat&lt;/b&gt; &amp; co\n\n</td>" in mine["h-1"]["data"]
    assert mine["h-1"]["extra"]["classifications"] == [
        {"title": "Animal", "schemaId": "s-animal", "answer": "cat"},
        {"title": "Tags", "schemaId": "s-tags", "answer": ["a", "b"]}]
    assert hub.batch_rows(p_sdk) == []
    names = {b["id"]: b["name"] for b in hub.batch_rows(p_ours)}
    assert [names[b] for b in mine["h-1"]["batches"]] == ["train"]
    assert sorted(names[b] for b in mine["h-2"]["batches"]) == ["test", "train"]
