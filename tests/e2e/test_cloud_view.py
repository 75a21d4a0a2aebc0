"""End-to-end: the Cloud import view's report as a person meets it, in the built app. The counts
agree with the rows and with what an import leaves out, entries are numbered from 1 and named
by their externalId, the fixes the report offers are applied to the list and checked again, a
list from a file is edited in place, and nothing is cut off or covered at 1180×760 or 900×600.
Every import is checked in the hub's catalog too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException

from conftest import REPO, App, free_port, serve_folder

ICON = REPO / "src-tauri" / "icons" / "icon.png"
NAMES = ["a.png", "b.png", "my cat.png", "our cat.png", "edited.png"]


@pytest.fixture
def web(tmp_path: Path):
    """A public web server holding a few images, two with a space in their names."""
    site = tmp_path / "site"
    site.mkdir()
    for name in NAMES:
        (site / name).write_bytes(ICON.read_bytes())
    with serve_folder(site) as url:
        yield url


def one_per_line(entries: list[dict]) -> str:
    """A list with entry N (from 1) on line N + 1, as people write them."""
    return "[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n"


def rows(app: App) -> list[dict]:
    """The report's rows: code, severity, entry number (None for the file), line and text."""
    out = []
    for r in app.tids("cloud-problem"):
        text = r.text
        line = re.search(r"line (\d+):\d+", text)
        entry = r.get_attribute("data-entry")
        out.append({
            "code": r.get_attribute("data-code"),
            "severity": r.get_attribute("data-severity"),
            "entry": int(entry) if entry else None,
            "line": int(line.group(1)) if line else None,
            "text": text,
            "el": r,
        })
    return out


def counts(app: App) -> dict[str, int]:
    """The summary line's numbers: entries, ready, with errors and their problems, warnings."""
    text = app.tid("cloud-counts").text
    m = re.match(r"(\d+) entr(?:y|ies): (\d+) ready · (\d+) with errors(?: \((\d+) problems?\))?.* · (\d+) warnings?", text)
    assert m, text
    entries, ready, bad, problems, warnings = m.groups()
    return {"entries": int(entries), "ready": int(ready), "with_errors": int(bad),
            "problems": int(problems or 0), "warnings": int(warnings)}


def source_line(app: App) -> str:
    """The source line as the page shows it (WebKitWebDriver's element text came back empty for it)."""
    return app.driver.execute_script("return arguments[0].innerText", app.tid("cloud-source")).strip()


def click_and_wait_report(app: App, testid: str, within=None):
    """Presses a button that checks the list again (Check, Edit, Apply fix...) and waits for
    the new report: the summary line is drawn anew when it comes."""
    before = app.tid("cloud-counts") if app.tids("cloud-counts") else None
    (within.find_element("css selector", f'[data-testid="{testid}"]') if within else app.tid(testid)).click()

    def replaced() -> bool:
        if before is None:
            return True
        try:
            before.tag_name
            return False
        except StaleElementReferenceException:
            return True

    app.wait(lambda: replaced() and app.tids("cloud-counts") and app.tid("cloud-check").is_enabled(), 60,
             "no new report came")


def wait_report(app: App):
    app.wait(lambda: app.tids("cloud-counts") and app.tid("cloud-check").is_enabled(), 60, "the check never ended")


def assert_counts_agree(app: App) -> dict[str, int]:
    """The summary line counts entries the way the rows flag them."""
    c = counts(app)
    rs = rows(app)
    flagged = {r["entry"] for r in rs if r["severity"] == "error" and r["entry"] is not None}
    assert c["with_errors"] == len(flagged), (app.tid("cloud-counts").text, sorted(flagged))
    assert c["problems"] == sum(1 for r in rs if r["severity"] == "error"), app.tid("cloud-counts").text
    assert c["warnings"] == sum(1 for r in rs if r["severity"] == "warning"), app.tid("cloud-counts").text
    assert c["ready"] + c["with_errors"] == c["entries"], app.tid("cloud-counts").text
    if c["with_errors"] and app.tids("cloud-outcome"):  # a check's report says what an import leaves out
        assert f"{c['with_errors']} entries will not be imported" in app.tid("cloud-outcome").text or (
            c["with_errors"] == 1 and "1 entry will not be imported" in app.tid("cloud-outcome").text
        ), app.tid("cloud-outcome").text
    return c


def assert_numbered_from_one(app: App):
    """With one entry a line after the `[`, entry N is on line N + 1: numbered from 1."""
    for r in rows(app):
        if r["entry"] is not None:
            assert f"entry {r['entry']}" in r["text"], r["text"]
            assert r["line"] == r["entry"] + 1, r["text"]


def test_cloud_report_counts_entries_numbers_them_from_1_and_applies_fixes(app: App, web: str, tmp_path: Path):
    closed = free_port()
    entries = [
        {"data": f"{web}/a.png", "externalId": "a.png"},
        {"data": f"{web}/my cat.png", "externalId": "cat"},  # 2: not percent-encoded (fix)
        {"data": f"{web}/b.png"},  # 3: no externalId
        {"data": f"http://127.0.0.1:{closed}/gone.png", "externalId": "gone"},  # 4: unreachable
        {"data": "s3://bucket/x.png", "externalId": 7},  # 5: two errors, one fixable
        {"data": f"{web}/b.png", "externalId": "b.png"},
        {"data": f"{web}/our cat.png", "externalId": "our cat"},  # 7: not percent-encoded (fix)
    ]
    listing = tmp_path / "list.json"
    listing.write_text(one_per_line(entries))
    app.show("cloud")
    # The server is on this computer: its URLs are checked only when asked.
    app.tid("cloud-check-private").click()
    app.drop([listing], onto="cloud-source")
    wait_report(app)
    app.wait(lambda: len(app.tids("cloud-problem")) == 6, 60, f"rows: {[r['code'] for r in rows(app)]}")

    # One count of entries: 5 with errors (6 problems: entry 5 has two) = the entries flagged ✖.
    c = assert_counts_agree(app)
    assert c == {"entries": 7, "ready": 2, "with_errors": 5, "problems": 6, "warnings": 0}, c
    assert app.tid("cloud-counts").text.startswith("7 entries: 2 ready · 5 with errors (6 problems)")
    assert "5 entries will not be imported" in app.tid("cloud-outcome").text
    # Numbered from 1, as lines are, and named by their externalId.
    assert_numbered_from_one(app)
    by = {(r["entry"], r["code"]): r for r in rows(app)}
    assert set(by) == {(2, "url-not-encoded"), (3, "missing-external-id"), (4, "unreachable"),
                       (5, "wrong-type"), (5, "unsupported-scheme"), (7, "url-not-encoded")}, set(by)
    ids = {r["entry"]: [e.text for e in r["el"].find_elements("css selector", '[data-testid="cloud-entry-id"]')] for r in rows(app)}
    assert ids[2] == ["cat"] and ids[4] == ["gone"] and ids[5] == ["7"] and ids[7] == ["our cat"] and ids[3] == [], ids
    assert "entry 3" in by[(3, "missing-external-id")]["text"] and "line 4:" in by[(3, "missing-external-id")]["text"]
    # In the app's words: no command-line flags.
    assert not any("--" in r["text"] for r in rows(app)), [r["text"] for r in rows(app)]
    # A fix for each fixable problem, and one button for all of them.
    fixable = [r for r in rows(app) if r["el"].find_elements("css selector", '[data-testid="cloud-apply-fix"]')]
    assert {(r["entry"], r["code"]) for r in fixable} == {(2, "url-not-encoded"), (5, "wrong-type"), (7, "url-not-encoded")}
    assert app.tid("cloud-apply-all").text == "Apply all 3 fixes"

    # Nothing cut off or covered, with long URLs in the report, at the default size and at 900×600.
    assert app.covered_controls("view-cloud") == []
    width = app.driver.execute_script("return document.getElementById('cloud-report').getBoundingClientRect().right")
    assert width <= app.driver.execute_script("return innerWidth"), width
    app.screenshot("17-cloud-report-fixes")
    app.resize(900, 600)
    assert app.covered_controls("view-cloud") == []
    assert app.driver.execute_script(
        "const t = document.getElementById('cloud-report'); return t.scrollWidth <= t.clientWidth + 1"
        " && t.getBoundingClientRect().right <= innerWidth"), "the report is wider than the window"
    app.resize(1180, 760)

    # Apply one fix: the file is loaded into the editor, entry 2 gets the encoded URL, and the
    # list is checked again with every other line where it was.
    lines_before = {(r["entry"], r["code"]): r["line"] for r in rows(app)}
    click_and_wait_report(app, "cloud-apply-fix", within=by[(2, "url-not-encoded")]["el"])
    app.wait(lambda: len(app.tids("cloud-problem")) == 5, 60)
    text = app.tid("cloud-text").get_attribute("value")
    assert text.splitlines()[2] == f'{{"data": "{web}/my%20cat.png", "externalId": "cat"}},', text.splitlines()[2]
    assert text.replace("my%20cat", "my cat") == listing.read_text(), "only the fixed value changed"
    assert listing.read_text() == one_per_line(entries), "the file itself is not changed"
    source = source_line(app)
    assert "Edited" in source and "list.json" in source, source
    c = assert_counts_agree(app)
    assert (c["ready"], c["with_errors"], c["problems"]) == (3, 4, 5), c
    assert_numbered_from_one(app)
    assert {(r["entry"], r["code"]): r["line"] for r in rows(app)} == {
        k: v for k, v in lines_before.items() if k != (2, "url-not-encoded")}

    # Apply the other two at once.
    assert app.tid("cloud-apply-all").text == "Apply all 2 fixes"
    click_and_wait_report(app, "cloud-apply-all")
    app.wait(lambda: len(app.tids("cloud-problem")) == 3, 60)
    c = assert_counts_agree(app)
    assert c == {"entries": 7, "ready": 4, "with_errors": 3, "problems": 3, "warnings": 0}, c
    assert {(r["entry"], r["code"]) for r in rows(app)} == {(3, "missing-external-id"), (4, "unreachable"), (5, "unsupported-scheme")}
    assert not app.tids("cloud-apply-all") and not app.tids("cloud-apply-fix")
    lines = app.tid("cloud-text").get_attribute("value").splitlines()
    assert '"externalId": "7"' in lines[5] and f"{web}/our%20cat.png" in lines[7], lines
    outcome = app.tid("cloud-outcome").text
    assert "3 entries will not be imported" in outcome, outcome

    # Import the good ones: "not imported" is what the report said, and the catalog holds the
    # fixed URLs.
    app.tid("cloud-skip-bad").click()
    app.wait(lambda: app.tid("cloud-import").is_enabled())
    app.tid("cloud-import").click()
    result = app.wait_text("cloud-result", "4 assets imported")
    assert "3 entries not imported" in result, result
    assets = {a["external_id"]: a for a in app.assets()}
    assert set(assets) == {"a.png", "cat", "b.png", "our cat"}, set(assets)
    assert assets["cat"]["data"] == f"{web}/my%20cat.png"
    assert assets["our cat"]["data"] == f"{web}/our%20cat.png"
    # The import's own report counts the same way.
    assert assert_counts_agree(app)["with_errors"] == 3


def test_a_dropped_list_is_edited_in_place_and_large_ones_say_why_not(app: App, web: str, tmp_path: Path):
    entries = [
        {"data": f"{web}/a.png", "externalId": "a.png"},
        {"data": f"{web}/edited.png"},
    ]
    listing = tmp_path / "drop.json"
    listing.write_text(one_per_line(entries))
    app.show("cloud")
    # Unticked: the local server's URLs are not checked, and the report says how in the app's words.
    app.drop([listing], onto="cloud-source")
    wait_report(app)
    app.wait(lambda: len(app.tids("cloud-problem")) >= 2, 60)
    private = [r["text"] for r in rows(app) if r["code"] == "private-address"]
    assert private and all("tick “Check private addresses too” and check again" in t for t in private), private
    assert not any("--" in r["text"] for r in rows(app)), [r["text"] for r in rows(app)]
    assert_counts_agree(app)

    # Edit: the file comes into the editor as it is, and the source line says it is edited.
    app.tid("cloud-check-urls").click()
    assert app.tid("cloud-edit").is_displayed()
    assert app.tid("cloud-text").get_attribute("value") == ""
    click_and_wait_report(app, "cloud-edit")
    app.wait(lambda: app.tid("cloud-text").get_attribute("value") == listing.read_text())
    source = source_line(app)
    assert "Edited" in source and "drop.json" in source, source
    assert not app.tid("cloud-edit").is_displayed()
    (missing,) = rows(app)
    assert (missing["code"], missing["entry"], missing["line"]) == ("missing-external-id", 2, 3), missing["text"]

    # Typed in place, checked and imported from the text; the file is left as it was.
    text = app.tid("cloud-text").get_attribute("value")
    app.set_value("cloud-text", text.replace('edited.png"}', 'edited.png", "externalId": "edited"}'))
    assert "Edited" in source_line(app)
    click_and_wait_report(app, "cloud-check")
    c = assert_counts_agree(app)
    assert (c["entries"], c["ready"], c["with_errors"]) == (2, 2, 0), c
    assert "Importing adds all 2 entries" in app.tid("cloud-outcome").text
    app.wait(lambda: app.tid("cloud-import").is_enabled())
    app.tid("cloud-import").click()
    result = app.wait_text("cloud-result", "2 assets imported")
    assert "not imported" not in result, result
    assets = {a["external_id"]: a["data"] for a in app.assets()}
    assert assets == {"a.png": f"{web}/a.png", "edited": f"{web}/edited.png"}, assets
    assert listing.read_text() == one_per_line(entries)

    # A list too large to edit here is still checked from the file; Edit says why it cannot.
    big = tmp_path / "big.json"
    big.write_text(one_per_line([{"data": f"{web}/b.png", "externalId": "b.png"}]) + " " * (6 * 1024 * 1024))
    app.drop([big], onto="cloud-source")
    app.wait(lambda: source_line(app) == str(big))
    wait_report(app)
    app.wait(lambda: counts(app)["entries"] == 1, 60)
    app.tid("cloud-edit").click()
    app.wait(lambda: "too large to edit here" in app.banner(), 30, "no reason given")
    assert "big.json" in app.banner(), app.banner()
    assert app.tid("cloud-text").get_attribute("value") == ""
    assert source_line(app) == str(big)
