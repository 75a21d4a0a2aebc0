"""End-to-end: the Upload view as annotators meet it, at the default window size and at 900×600:
what the summary counts, what Cancel leaves, which numbers progress shows and in what order,
files dropped on the wrong view, a switch of project or hub, connecting, and where the keyboard
focus goes. Every assertion is on screen, and in the hub's catalog where it counts."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from conftest import AngoHub, App, real_drag
from test_desktop import all_rows, summary_counts

SIZES = [(1180, 760), (900, 600)]

# Records what the upload view shows over time, from inside the page: every text the overall
# line takes, every state a row passes through, and the primary button's label and place.
RECORDER = """
const seen = { texts: [], states: {}, buttons: [] };
window.__seen = seen;
const note = () => {
  const t = document.getElementById('overall-text').textContent;
  if (seen.texts[seen.texts.length - 1]?.[1] !== t) seen.texts.push([performance.now(), t]);
  for (const r of document.querySelectorAll('[data-testid=file-row]')) {
    const list = (seen.states[r.dataset.externalId] ??= []);
    if (list[list.length - 1] !== r.dataset.state) list.push(r.dataset.state);
  }
  const b = document.getElementById('upload-start');
  const rect = b.getBoundingClientRect();
  const key = `${b.textContent}|${Math.round(rect.left)}|${Math.round(rect.top)}`;
  if (seen.buttons[seen.buttons.length - 1] !== key) seen.buttons.push(key);
};
new MutationObserver(note).observe(document.getElementById('view-upload'), { subtree: true, childList: true, characterData: true, attributes: true });
note();
"""


def hold_drag(app: App, paths: list[Path], onto: str, while_held):
    """Drags `paths` over the element `onto` from another X client, calls `while_held()` while
    the pointer is over the window with the button down, then drops."""
    real_drag(app.display, paths, app.rect(onto), while_held)


def vbr_copy(media: Path, folder: Path, name: str) -> Path:
    out = folder / name
    out.write_bytes((media / "bad" / "vbr.mp3").read_bytes())
    return out


def row_order(app: App) -> list[str]:
    """External IDs of the rows on screen, top to bottom."""
    return app.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=file-row]')]"
        ".sort((a, b) => a.dataset.position - b.dataset.position).map(r => r.dataset.externalId)"
    )


def listed(app: App) -> int:
    """How many rows the (virtual) list holds under its filter, mounted or not."""
    return round(app.driver.execute_script("return document.getElementById('file-spacer').offsetHeight") / 56)


def active(app: App) -> dict:
    return app.driver.execute_script(
        "const a = document.activeElement;"
        "return {tag: a.tagName, id: a.id, testid: a.dataset.testid || '', ext: a.closest('[data-testid=file-row]')?.dataset.externalId || ''}"
    )


@pytest.mark.parametrize("size", SIZES, ids=["default", "900x600"])
def test_the_summary_counts_every_file_and_problems_come_first(app: App, media: Path, tmp_path: Path, size):
    app.resize(*size)
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(12):
        (folder / f"note-{i:02}.md").write_text(f"# note {i}\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "fake.png").write_text("not a picture")
    vbr_copy(media, folder, "talk.mp3")
    app.drop([folder])
    app.wait_text("file-count", "15 files")
    app.wait(lambda: "checking" not in app.tid("file-count").text)

    # Problems sort to the top, whatever order they arrived in.
    app.wait(lambda: set(row_order(app)[:3]) == {"empty.txt", "fake.png", "talk.mp3"})
    # The counts filter the list.
    app.tid("filter-reject").click()
    app.wait(lambda: set(row_order(app)) == {"empty.txt", "fake.png", "talk.mp3"})
    assert app.tid("filter-reject").get_attribute("aria-pressed") == "true"
    app.tid("filter-ok").click()
    app.wait(lambda: len(row_order(app)) == 12 and all(r.startswith("note-") for r in row_order(app)))
    app.tid("filter-all").click()
    app.wait(lambda: listed(app) == 15)

    # A row's whole story without hovering: its details open below the list.
    rows = {r.get_attribute("data-external-id"): r for r in app.tids("file-row")}
    rows["talk.mp3"].click()
    app.wait(lambda: app.tid("file-details").is_displayed())
    details = app.tid("file-details").text
    assert "talk.mp3" in details and "bitrate varies" in details and "kb/s" in details, details
    assert "…" not in details
    assert app.covered_controls("view-upload") == []
    app.tid("details-close").click()
    app.wait(lambda: not app.tid("file-details").is_displayed())

    app.start_upload()
    summary = app.wait_text("upload-summary", "uploaded", 120)
    assert summary.startswith("12 of 15 files uploaded to “Default project”."), summary
    assert summary_counts(app) == {"listed": 15, "uploaded": 12, "skipped": 0, "rejected": 3, "failed": 0, "cancelled": 0}
    assert "summary bad" in app.tid("upload-summary").get_attribute("class")
    assert sorted(a["external_id"] for a in app.assets()) == [f"note-{i:02}.md" for i in range(12)]
    assert set(row_order(app)[:3]) == {"empty.txt", "fake.png", "talk.mp3"}
    app.tid("summary-show-reject").click()
    app.wait(lambda: set(row_order(app)) == {"empty.txt", "fake.png", "talk.mp3"})
    assert app.covered_controls("view-upload") == []
    if size == (900, 600):
        # The drop zone steps back to a strip; the list keeps room for its rows.
        assert app.tid("drop-zone").size["height"] < 70
        app.tid("filter-all").click()
        app.wait(lambda: listed(app) == 15)
        list_height = app.tid("file-list").size["height"]
        assert list_height >= 5 * 56, list_height
        app.screenshot("20-upload-900x600")
    else:
        app.screenshot("19-upload-summary-rejected")


@pytest.mark.parametrize("size", SIZES, ids=["default", "900x600"])
def test_cancel_is_neutral_and_one_resume_sends_the_rest_once(app: App, tmp_path: Path, size):
    app.resize(*size)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(3000):
        (folder / f"n-{i:04}.txt").write_text(f"note {i}\n" * 40)
    app.drop([folder])
    app.wait(lambda: app.tid("upload-start").is_enabled() and "checking" not in app.tid("file-count").text, 120)
    app.start_upload()
    # Cancelled once some files are sent and most are not (files already sent when Cancel is
    # pressed are still registered: they are in the project at the end).
    app.wait(lambda: re.search(r"· [1-9][\d,]* of 3,?000 files sent", app.tid("overall-text").text), 120)
    app.cancel_upload()
    summary = app.wait_text("upload-summary", "cancelled", 300).replace(",", "")
    counts = summary_counts(app)
    assert counts["failed"] == 0 and counts["uploaded"] + counts["cancelled"] == 3000, counts
    assert 0 < counts["cancelled"], counts
    assert summary.startswith(f"Upload cancelled: {counts['uploaded']} of 3000 files uploaded"), summary
    assert "Retry" not in summary and "failed" not in summary, summary
    assert "neutral" in app.tid("upload-summary").get_attribute("class")
    # Counters stop: the summary says it was cancelled, no time left is shown, nothing moves.
    assert not app.tid("overall").is_displayed()
    text = app.tid("summary-stats").text
    assert text.startswith("Cancelled after") and "left" not in text, text
    time.sleep(1.5)
    assert app.tid("upload-summary").text.replace(",", "") == summary
    # Rows that were not sent say so, without a failure badge; one action continues.
    rows = all_rows(app)
    not_sent = [r for r in rows.values() if r["state"] == "cancelled"]
    assert len(not_sent) == counts["cancelled"]
    assert all("not sent" in r["text"] and "failed" not in r["text"] for r in not_sent)
    app.wait(lambda: app.tid("upload-start").text.replace(",", "") == f"Resume ({counts['cancelled']})")
    assert not app.tids("upload-retry")
    assert len(app.assets()) == counts["uploaded"]
    if size == SIZES[0]:
        app.screenshot("21-upload-cancelled")
    assert app.covered_controls("view-upload") == []

    app.tid("upload-start").click()
    app.wait(lambda: summary_counts(app)["uploaded"] == 3000, 600)
    names = [a["external_id"] for a in app.assets()]
    assert len(names) == len(set(names)) == 3000


@pytest.mark.parametrize("size", SIZES, ids=["default", "900x600"])
def test_progress_shows_conversion_sending_and_registration_as_steps(app: App, media: Path, tmp_path: Path, size):
    app.resize(*size)
    folder = tmp_path / "steps"
    folder.mkdir()
    for i in range(1200):
        (folder / f"s-{i:04}.txt").write_text(f"step {i}\n")
    talk = vbr_copy(media, tmp_path, "talk.mp3")
    app.drop([folder, talk])
    app.wait(lambda: "checking" not in app.tid("file-count").text and "1201 files" in app.tid("file-count").text.replace(",", ""), 120)
    # The one file's fix: convert it (and only it).
    app.wait(lambda: app.tids("fix-convert"))
    app.tids("fix-convert")[0].click()
    talk_row = "return document.querySelector('[data-testid=file-row][data-external-id=\"talk.mp3\"]')?.dataset.verdict"
    app.wait(lambda: app.driver.execute_script(talk_row) == "warn", 30)
    assert app.tid("audio-policy").get_attribute("value") == "reject"
    # Focus stays on the row that was fixed.
    app.wait(lambda: active(app)["ext"] == "talk.mp3", 10, f"focus went to {active(app)}")
    assert all_rows(app)["talk.mp3"]["verdict"] == "warn"

    app.driver.execute_script(RECORDER)
    app.start_upload()
    app.wait(lambda: summary_counts(app)["uploaded"] == 1201, 300)
    seen = app.driver.execute_script("return window.__seen")

    # Every file went through its steps in order: bytes sent, then registered; the converted
    # one was converted first. The details say so in words.
    rows = all_rows(app)
    assert rows["talk.mp3"]["steps"] == "converting>sending>sent>uploaded", rows["talk.mp3"]
    others = {r["steps"] for k, r in rows.items() if k != "talk.mp3"}
    assert others == {"sending>sent>uploaded"}, others
    # While it ran, files were on screen as sent and waiting for their registration.
    assert any("sent" in v for v in seen["states"].values()), seen["states"]
    app.driver.execute_script("arguments[0].scrollTop = 0", app.tid("file-list"))
    app.wait(lambda: app.driver.execute_script(
        "const r = document.querySelector('[data-testid=file-row][data-external-id=\"talk.mp3\"]'); if (r) r.click(); return !!r"))
    app.wait(lambda: "converted to WAV" in app.tid("file-details").text)
    assert "bytes sent" in app.tid("file-details").text and "in the project" in app.tid("file-details").text
    # The overall line: files sent never go down, never exceed the total, and the project count
    # never passes the sent count; the total stays 1,201; no time is guessed from nothing.
    sent_before, reg_before = 0, 0
    for _, text in seen["texts"]:
        m = re.search(r"([\d,]+) of ([\d,]+) files sent · ([\d,]+) in the project", text.replace(",", ""))
        if not m:
            continue
        sent, total, reg = (int(x.replace(",", "")) for x in m.groups())
        assert total == 1201, text
        assert sent >= sent_before and reg >= reg_before and reg <= sent, (text, sent_before, reg_before)
        sent_before, reg_before = sent, reg
    firsts = [t for _, t in seen["texts"] if "files sent" in t][:3]
    assert all("estimating" in t or "registering" in t for t in firsts), firsts
    assert any("converting 1 audio file" in t for _, t in seen["texts"]), [t for _, t in seen["texts"]][:20]
    # The primary button neither moved nor changed its label while the upload ran.
    labels = [b.split("|") for b in seen["buttons"]]
    assert len({(b[1], b[2]) for b in labels}) == 1, labels
    texts = [b[0].replace(",", "") for b in labels]
    assert texts[0] == "Upload 1201" and all(t == texts[0] for t in texts[:-1]), texts

    wav = [a for a in app.assets() if a["external_id"].startswith("talk")]
    assert len(wav) == 1 and (app.root / wav[0]["blob_key"]).read_bytes()[:4] == b"RIFF"


@pytest.mark.parametrize("size", SIZES, ids=["default", "900x600"])
def test_lists_and_tables_dropped_on_upload_are_offered_to_their_views(app: App, tmp_path: Path, size):
    app.resize(*size)
    table = tmp_path / "people.csv"
    table.write_text("id,name\np1,Ada\np2,Grace\n")
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([{"data": "https://example.com/a.jpg", "externalId": "a.jpg"}]))
    photo = tmp_path / "photo.md"
    photo.write_text("# photo notes\n")

    # Every view says what a drop does there while files are held over the window.
    for view, needle in [("upload", "add them to the list"), ("cloud", "JSON"), ("builder", "table"), ("assets", "opens Upload")]:
        app.show(view)
        seen = {}

        def look(view=view, seen=seen):
            app.wait(lambda: app.tid("drop-overlay").is_displayed(), 10, f"no drop feedback on {view}")
            seen["text"] = app.tid("drop-overlay").text

        hold_drag(app, [photo], f"view-{view}" if view != "upload" else "drop-zone", look)
        assert needle in seen["text"], (view, seen)
        app.wait(lambda: not app.tid("drop-overlay").is_displayed())
    # The drop on Assets switched to Upload and listed the file.
    app.wait(lambda: app.tid("view-upload").is_displayed())
    app.wait_text("file-count", "1 file")
    app.tid("upload-clear").click()

    app.drop([table, listing, photo])
    app.wait(lambda: app.tid("reroute-card").is_displayed())
    text = app.tid("reroute-card").text
    assert "people.csv" in text and "list.json" in text, text
    # The plain file was listed; the table and the list were held back.
    app.wait_text("file-count", "1 file")
    assert set(all_rows(app)) == {"photo.md"}
    assert app.covered_controls("view-upload") == []
    app.tid("reroute-builder").click()
    app.wait(lambda: app.tid("view-builder").is_displayed())
    app.wait(lambda: len(app.tids("builder-column")) == 2)
    assert "people.csv" in app.tid("builder-source").get_attribute("textContent")

    app.show("upload")
    app.drop([listing])
    app.wait(lambda: app.tid("reroute-card").is_displayed())
    app.tid("reroute-cloud").click()
    app.wait(lambda: app.tid("view-cloud").is_displayed())
    app.wait(lambda: "list.json" in app.tid("cloud-source").get_attribute("textContent"))

    # Upload as files: the user's choice is respected.
    app.show("upload")
    app.drop([table])
    app.wait(lambda: app.tid("reroute-card").is_displayed())
    app.tid("reroute-upload").click()
    app.wait_text("file-count", "2 files")
    assert "people.csv" in all_rows(app)


@pytest.mark.parametrize("size", SIZES, ids=["default", "900x600"])
def test_a_switch_of_project_or_hub_rechecks_the_list(app: App, ango_hub: AngoHub, tmp_path: Path, size):
    app.resize(*size)
    files = []
    for i in range(3):
        f = tmp_path / f"doc-{i}.md"
        f.write_text(f"# doc {i}\n")
        files.append(f)
    app.drop(files)
    app.start_upload()
    app.wait_text("upload-summary", "3 of 3 files uploaded")
    assert not app.tid("upload-start").is_enabled()

    # Another project: the summary goes, the files are ready again, and the app says so.
    second = app.new_project("Second")
    app.wait(lambda: not app.tid("upload-summary").is_displayed())
    assert {r["state"] for r in all_rows(app).values()} == {"ready"}
    app.wait(lambda: "Second" in app.banner())
    app.wait(lambda: app.tid("upload-start").is_enabled() and app.tid("upload-start").text == "Upload 3")
    # Focus landed on the project picker, not at the top of the page.
    assert active(app)["testid"] == "project-select", active(app)
    app.start_upload()
    app.wait_text("upload-summary", "3 of 3 files uploaded to “Second”")
    with app.catalog() as db:
        held = db.execute("SELECT COUNT(*) FROM assets WHERE project = ? AND deleted = 0", (second,)).fetchone()[0]
    assert held == 3

    # A hub with no projects: no stale batch, no stale summary, and it says what to do.
    app.tid("batch-new").click()
    app.tid("batch-new-name").send_keys("old batch", Keys.ENTER)
    app.wait(lambda: app.tid("batch-select").get_attribute("value") == "old batch")
    app.connect_self_hosted(ango_hub.url, ango_hub.key)
    app.show("upload")
    options = app.driver.execute_script("return [...arguments[0].options].map(o => o.text)", app.tid("batch-select"))
    assert options == ["No batch"], options
    assert not app.tid("upload-summary").is_displayed()
    assert {r["state"] for r in all_rows(app).values()} == {"ready"}
    assert not app.tid("upload-start").is_enabled()
    assert "no projects yet" in app.tid("upload-hint").text and "New project" in app.tid("upload-hint").text
    app.new_project("On Ango")
    app.wait(lambda: app.tid("upload-start").is_enabled())
    app.start_upload()
    app.wait_text("upload-summary", "3 of 3 files uploaded to “On Ango”")
    project = [p for p in ango_hub.projects() if p["name"] == "On Ango"][0]["_id"]
    assert sorted(a["externalId"] for a in ango_hub.assets(project)) == ["doc-0.md", "doc-1.md", "doc-2.md"]


@pytest.mark.parametrize("size", SIZES, ids=["default", "900x600"])
def test_connecting_says_so_and_fails_fast_in_plain_words(app: App, ango_hub: AngoHub, size):
    app.resize(*size)
    app.show("settings")
    app.choose_hub("self-hosted")
    # Not an address at all: said in the app's words, nothing is tried.
    app.set_value("settings-self-hosted-url", "hub.example.com")
    app.set_value("settings-self-hosted-key", "k")
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: "not a web address" in app.banner())
    assert "relative URL" not in app.banner()

    # A closed port: "Connecting…" while it tries, then the failure within seconds.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    app.driver.execute_script(
        "window.__connecting = false; new MutationObserver(() => {"
        " if (document.querySelector('[data-testid=settings-connecting]')) window.__connecting = true;"
        "}).observe(document.body, {subtree: true, childList: true});"
    )
    app.set_value("settings-self-hosted-url", f"http://127.0.0.1:{closed}")
    started = time.monotonic()
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: "No hub answered" in app.banner() or "no hub answered" in app.banner(), 30)
    took = time.monotonic() - started
    assert took < 5, f"a closed port took {took:.1f} s to be reported"
    assert app.driver.execute_script("return window.__connecting")
    app.settings_settled()
    assert app.tid("settings-connect-self-hosted").text == "Connect"
    # A wrong key: what to do, not which request failed.
    app.set_value("settings-self-hosted-url", ango_hub.url)
    app.set_value("settings-self-hosted-key", "wrong")
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: "refused the API key" in app.banner())
    assert "HTTP 401" not in app.banner() and "/v2/" not in app.banner(), app.banner()
    # Settings shows one address for the hub in use.
    status = app.tid("settings-status").text
    assert "Remote URL" not in status and status.count("http://127.0.0.1") <= 1, status
    assert app.covered_controls("view-settings") == []


@pytest.mark.parametrize("size", SIZES, ids=["default", "900x600"])
def test_the_tab_list_works_from_the_keyboard(app: App, size):
    app.resize(*size)
    tab = app.tid("nav-upload")
    assert tab.get_attribute("role") == "tab" and tab.get_attribute("aria-selected") == "true"
    tab.send_keys(Keys.ARROW_RIGHT)
    app.wait(lambda: app.tid("view-cloud").is_displayed())
    assert active(app)["testid"] == "nav-cloud"
    assert app.tid("nav-cloud").get_attribute("aria-selected") == "true"
    app.tid("nav-cloud").send_keys(Keys.END)
    app.wait(lambda: app.tid("view-settings").is_displayed())
    app.tid("nav-settings").send_keys(Keys.HOME)
    app.wait(lambda: app.tid("view-upload").is_displayed())
