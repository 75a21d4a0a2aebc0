"""End-to-end: the built desktop app in a real window, driven like a user would, every result
checked both on screen and in the hub's catalog. Each view is saved as a screenshot."""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from conftest import CLI, AngoHub, App, free_port, real_drag, serve_folder


def all_rows(app: App) -> dict[str, dict]:
    """Every row of the (virtual) file list, by external ID, scrolling through it."""
    rows: dict[str, dict] = {}
    lst = app.tid("file-list")
    top = 0
    while True:
        # Scroll, then let the list repaint (it paints on the next animation frame).
        app.driver.execute_async_script(
            "const [l, top, done] = arguments; l.scrollTop = top;"
            "requestAnimationFrame(() => requestAnimationFrame(() => done()));",
            lst,
            top,
        )
        # One script reads every row on screen, so a repaint cannot pull a row away halfway.
        for d in app.driver.execute_script(
            "return [...document.querySelectorAll('[data-testid=file-row]')]"
            ".map(r => Object.assign({}, r.dataset, {text: r.innerText}))"
        ):
            rows[d["externalId"]] = d
        height = app.driver.execute_script("return [arguments[0].scrollHeight, arguments[0].clientHeight]", lst)
        if top + height[1] >= height[0]:
            break
        top += height[1]
    app.driver.execute_script("arguments[0].scrollTop = 0", lst)
    return rows


def visible_ids(app: App) -> set[str]:
    return set(app.driver.execute_script("return [...document.querySelectorAll('[data-testid=file-row]')].map(r => r.dataset.externalId)"))


def scroll_to_row(app: App, external_id: str, css: str = ""):
    """Scrolls the virtual list until the row is on screen; returns it (or the element `css`
    inside it), looked up again if a repaint replaced it."""
    lst = app.tid("file-list")
    height = app.driver.execute_script("return arguments[0].scrollHeight", lst)
    for top in range(0, height + 1, 200):
        app.driver.execute_script("arguments[0].scrollTop = arguments[1]", lst, top)
        time.sleep(0.1)
        for _ in range(5):
            try:
                for el in app.tids("file-row"):
                    if el.get_attribute("data-external-id") == external_id:
                        return el.find_element(By.CSS_SELECTOR, css) if css else el
                break
            except StaleElementReferenceException:
                time.sleep(0.1)
    raise AssertionError(f"no row for {external_id}")


def summary_counts(app: App) -> dict[str, int]:
    """The upload summary's counts of every listed file: listed, uploaded, skipped, rejected,
    failed, cancelled (as the summary element carries them beside its text)."""
    el = app.tid("upload-summary")
    return {k: int(el.get_attribute(f"data-{k}") or 0) for k in ("listed", "uploaded", "skipped", "rejected", "failed", "cancelled")}


def good_files(media: Path) -> dict[str, Path]:
    base = media / "good"
    return {p.relative_to(base).as_posix(): p for p in sorted(base.rglob("*")) if p.is_file()}


def hub_header(app: App) -> list[str]:
    """The header's two lines: which hub, and what it does to keep imports exactly once."""
    header = app.tid("connection-status")
    return [header.find_element(By.CSS_SELECTOR, c).text.lstrip("") for c in (".conn-label", ".conn-supports")]


def test_first_start_is_ready_to_use(app: App):
    header = app.tid("connection-status")
    assert hub_header(app) == ["Local hub", "duplicate check by content on the hub, idempotent uploads"]
    assert header.get_attribute("data-hub-kind") == "assetdrop"
    sel = app.tid("project-select")
    assert sel.find_element(By.CSS_SELECTOR, "option:checked").text == "Default project"
    assert app.tid("drop-zone").is_displayed()
    assert app.tid("upload-start").get_attribute("disabled") is not None
    app.screenshot("01-upload-empty")

    app.show("settings")
    status = app.tid("settings-status")
    assert status.get_attribute("data-mode") == "local"
    assert str(app.root) in status.text
    assert app.tid("settings-choice-local").is_selected()
    assert app.tid("settings-use-local").is_displayed()
    assert not app.tid("settings-connect-ango").is_displayed()
    app.screenshot("08-settings")

    # New project and batch inline; the pickers follow.
    app.new_project("Street scenes")
    app.tid("batch-new").click()
    app.tid("batch-new-name").send_keys("week 1")
    app.tid("batch-new-save").click()
    app.wait(lambda: app.tid("batch-select").find_element(By.CSS_SELECTOR, "option:checked").text == "week 1")
    with app.catalog() as db:
        row = db.execute("SELECT b.name FROM batches b JOIN projects p ON p.id = b.project WHERE p.name = 'Street scenes'").fetchall()
    assert [r[0] for r in row] == ["week 1"]


def test_real_drag_of_files_and_a_folder_then_upload(app: App, media: Path, display: str):
    good = good_files(media)
    bad = [media / "bad" / n for n in ("vbr.mp3", "png_named.mp3", "empty.txt")]
    real_drag(display, [media / "good", *bad], app.rect("drop-zone"))
    expected = len(good) + len(bad)
    app.wait_text("file-count", f"{expected} files")
    app.wait(lambda: "checking" not in app.tid("file-count").text and "being checked" not in app.tid("verdict-counts").text)
    rows = all_rows(app)
    assert set(rows) == set(good) | {p.name for p in bad}

    # Verdicts, reasons and fixes as the user sees them.
    assert rows["vbr.mp3"]["verdict"] == "reject"
    # In the app's words, said once, with the fix beside it.
    assert "bitrate varies" in rows["vbr.mp3"]["text"] and rows["vbr.mp3"]["text"].count("bitrate") == 1, rows["vbr.mp3"]["text"]
    assert "variable-bitrate" not in rows["vbr.mp3"]["text"] and "--" not in rows["vbr.mp3"]["text"]
    assert "Convert to WAV" in rows["vbr.mp3"]["text"]
    assert rows["png_named.mp3"]["verdict"] == "reject"
    assert "rename it to .png" in rows["png_named.mp3"]["text"]
    assert rows["empty.txt"]["verdict"] == "reject" and "empty" in rows["empty.txt"]["text"]
    assert rows["sub/dir/nested.png"]["kind"] == "image"
    assert rows["tone.wav"]["kind"] == "audio" and rows["tone.wav"]["verdict"] == "ok"
    assert rows["clip.mp4"]["kind"] == "video"
    # Image thumbnails come through the app's own protocol, for dropped files only.
    thumb = app.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=file-row]')]"
        ".find(r => r.dataset.externalId === arguments[0])?.querySelector('img')?.getAttribute('src')",
        scroll_to_row(app, "photo.png").get_attribute("data-external-id"),
    )
    assert thumb and thumb.startswith("thumb://"), thumb
    # Rows are re-created as the list repaints: look the image up afresh each time.
    app.wait(
        lambda: app.driver.execute_script(
            "const i = [...document.querySelectorAll('[data-testid=file-row]')]"
            ".find(r => r.dataset.externalId === 'photo.png')?.querySelector('img');"
            "return i ? i.complete && i.naturalWidth : -1"
        )
        == 64,
        30,
        "the thumbnail of photo.png never loaded",
    )
    app.driver.execute_script("arguments[0].scrollTop = 0", app.tid("file-list"))
    app.screenshot("02-upload-validated")

    # The offered fix: convert the VBR MP3 to WAV.
    for attempt in range(5):
        try:
            fix = scroll_to_row(app, "vbr.mp3", '[data-testid="fix-convert"]')
            app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", fix)
            time.sleep(0.3)  # the list repaints after scrolling
            scroll_to_row(app, "vbr.mp3", '[data-testid="fix-convert"]').click()
            break
        except StaleElementReferenceException:
            if attempt == 4:
                raise
    app.wait(lambda: all_rows(app)["vbr.mp3"]["verdict"] != "reject", 30)
    # The fix was for that file: the list's policy for other and later files is unchanged.
    assert app.tid("audio-policy").get_attribute("value") == "reject"
    assert "converted to WAV" in all_rows(app)["vbr.mp3"]["text"]

    app.start_upload()
    summary = app.wait_text("upload-summary", "uploaded", 120)
    uploaded = len(good) + 1
    # The summary counts every listed file, the rejected ones too.
    assert summary.startswith(f"{uploaded} of {expected} files uploaded"), summary
    assert summary_counts(app) == {"listed": expected, "uploaded": uploaded, "skipped": 0, "rejected": 2, "failed": 0, "cancelled": 0}
    assert "2 rejected by the checks and not sent" in summary, summary
    assert f"{uploaded} of {uploaded} files done" in app.tid("summary-stats").text
    app.screenshot("03-upload-done")

    # In the hub: every good file is an asset whose blob equals the file; the MP3 became WAV.
    assets = {a["external_id"]: a for a in app.assets()}
    assert set(assets) == set(good) | {"vbr.mp3"}
    for ext_id, path in good.items():
        blob = app.root / assets[ext_id]["blob_key"]
        assert blob.read_bytes() == path.read_bytes(), ext_id
    wav = (app.root / assets["vbr.mp3"]["blob_key"]).read_bytes()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"

    app.show("assets")
    app.wait(lambda: len(app.tids("asset-row")) == uploaded)
    assert f"{uploaded} assets" in app.tid("assets-total").text
    shown = {r.get_attribute("data-external-id") for r in app.tids("asset-row")}
    assert shown == set(assets)
    # The converted file keeps its name as its ID (labels match the source file) and says what
    # it holds.
    kind = app.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=asset-row]')]"
        ".find(r => r.dataset.externalId === 'vbr.mp3')?.querySelector('[data-col=kind]')?.textContent")
    assert kind == "audio, converted to WAV from MP3", kind
    app.screenshot("07-assets")


def test_ten_thousand_files_stay_responsive(app: App, tmp_path: Path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"note-{i:05}.txt").write_text(f"note {i}\n")
    app.drop([folder])
    # The page answers while validation runs.
    answers = []
    def count_text() -> str:
        return app.tid("file-count").text.replace(",", "").replace("\u202f", "").replace("\xa0", "")

    while "10000 files" not in count_text() or "checking" in count_text():
        t = time.perf_counter()
        app.driver.execute_script("return 1")
        answers.append(time.perf_counter() - t)
        if len(answers) > 3000:
            pytest.fail(f"validation never finished: {app.tid('file-count').text}")
    print(f"page round trips while validating 10,000 files: {len(answers)}, slowest {max(answers, default=0):.3f} s")
    assert "10000 ok" in app.tid("verdict-counts").text
    # Virtual list: only the rows on screen exist.
    assert 0 < len(app.tids("file-row")) <= 60
    app.driver.execute_script("const l = arguments[0]; l.scrollTop = l.scrollHeight", app.tid("file-list"))
    app.wait(lambda: "note-09999.txt" in visible_ids(app))
    assert app.tid("upload-start").text.replace(",", "") == "Upload 10000"
    app.screenshot("09-upload-10000-files")

    # Start, cancel part-way, then one "Resume" sends the rest: every file once.
    app.tid("upload-start").click()
    app.wait(lambda: re.search(r"· [1-9]\d* of 10000 files sent", app.tid("overall-text").text.replace(",", "")), 300)
    app.cancel_upload()
    summary = app.wait_text("upload-summary", "cancelled", 300).replace(",", "")
    counts = summary_counts(app)
    first = counts["uploaded"]
    assert 0 < first < 10_000, summary
    assert counts["cancelled"] == 10_000 - first and counts["failed"] == 0, counts
    assert len(app.assets()) == first
    app.wait(lambda: app.tid("upload-start").text.replace(",", "") == f"Resume ({10_000 - first})")
    app.tid("upload-start").click()
    app.wait(lambda: summary_counts(app)["uploaded"] == 10_000, 600)
    names = [a["external_id"] for a in app.assets()]
    assert len(names) == len(set(names)) == 10_000

    # Paged through in the assets view.
    app.show("assets")
    app.wait(lambda: app.tid("assets-total").text.replace(",", "").startswith("10000 assets"))
    assert app.driver.find_element(By.ID, "assets-page").text == "page 1 of 200"
    first = [r.get_attribute("data-external-id") for r in app.tids("asset-row")]
    app.tid("assets-next").click()
    app.wait(lambda: app.driver.find_element(By.ID, "assets-page").text == "page 2 of 200")
    second = [r.get_attribute("data-external-id") for r in app.tids("asset-row")]
    assert len(first) == len(second) == 50 and not set(first) & set(second)


@pytest.fixture
def remote_hub(tmp_path: Path):
    """`assetdrop serve` as another team's shared hub, restartable with other limits."""
    root = tmp_path / "remote"
    port = free_port()
    key = "team-key-0123456789"
    procs = []

    def start(max_upload: int):
        p = subprocess.Popen(
            [str(CLI), "serve", "--root", str(root), "--listen", f"127.0.0.1:{port}", "--max-upload-bytes", str(max_upload)],
            env={**os.environ, "ASSETDROP_API_KEY": key},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(p)
        deadline = time.time() + 30
        import urllib.request

        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/listProjects", timeout=1)
            except OSError as e:
                if getattr(e, "code", None):
                    return p
                if time.time() > deadline:
                    pytest.fail("the remote hub did not start")
                time.sleep(0.1)
            else:
                return p

    hub = {"url": f"http://127.0.0.1:{port}", "key": key, "root": root, "start": start}
    yield hub
    for p in procs:
        p.kill()
        p.wait()


def test_remote_hub_failure_then_retry(app: App, remote_hub, tmp_path: Path):
    first = remote_hub["start"](4096)
    app.show("settings")
    app.choose_hub("self-hosted")
    app.set_value("settings-self-hosted-url", remote_hub["url"])
    app.set_value("settings-self-hosted-key", "wrong-key")
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: "refused the API key" in app.banner())
    app.set_value("settings-self-hosted-key", remote_hub["key"])
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: app.tid("settings-status").get_attribute("data-mode") == "selfHosted")
    host = remote_hub["url"].removeprefix("http://")
    header = app.tid("connection-status")
    label, supports = hub_header(app)
    assert re.fullmatch(rf"Self-hosted assetdrop hub [\d.]+ \({re.escape(host)}\)", label), label
    assert supports == "duplicate check by content on the hub, idempotent uploads"
    assert header.get_attribute("data-hub-kind") == "assetdrop"
    # No keyring on this machine: the key is in a file only the user can read.
    key_file = app.config / "remote-api-key"
    assert key_file.read_text() == remote_hub["key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "a private file" in app.tid("settings-status").text

    app.new_project("Shared")
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text("a" * 100)
    big.write_text("b" * 10_000)
    app.drop([small, big])
    app.wait_text("file-count", "2 files")
    app.wait(lambda: app.tid("upload-start").is_enabled())
    app.tid("upload-start").click()
    app.wait_text("upload-summary", "1 failed")
    app.wait(lambda: app.tid("upload-start").text == "Retry 1 failed")
    rows = all_rows(app)
    assert rows["big.txt"]["state"] == "failed" and rows["small.txt"]["state"] == "uploaded"
    app.screenshot("10-upload-failed-retry")

    # The hub's limit is raised; "Retry failed" sends only the failed file.
    first.kill()
    first.wait()
    remote_hub["start"](1 << 20)
    app.tid("upload-start").click()
    app.wait_text("upload-summary", "2 of 2 files uploaded")

    db = sqlite3.connect(f"file:{remote_hub['root'] / 'catalog.sqlite'}?mode=ro", uri=True)
    names = sorted(r[0] for r in db.execute("SELECT external_id FROM assets WHERE deleted = 0"))
    db.close()
    assert names == ["big.txt", "small.txt"]

    # And back to local; the remote settings are remembered.
    app.show("settings")
    app.choose_hub("local")
    app.tid("settings-use-local").click()
    app.wait(lambda: app.tid("settings-status").get_attribute("data-mode") == "local")
    settings = json.loads((app.config / "settings.json").read_text())
    assert settings == {"mode": "local", "selfHostedUrl": remote_hub["url"], "selfHostedKeyStore": "file"}

    # Back to the same hub with the stored key, nothing typed.
    app.choose_hub("self-hosted")
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: app.tid("settings-status").get_attribute("data-mode") == "selfHosted")
    assert json.loads((app.config / "settings.json").read_text())["mode"] == "selfHosted"


def test_ango_hub_upload_and_cloud_import_once_each(app: App, ango_hub: AngoHub, display: str, tmp_path: Path):
    # The hosted choice: a region and a key.
    app.show("settings")
    app.choose_hub("ango")
    app.wait(lambda: app.tid("settings-connect-ango").is_displayed())
    regions = app.driver.execute_script("return [...arguments[0].options].map(o => o.text)", app.tid("settings-ango-region"))
    assert regions == ["Ango Hub (EU)", "Ango Hub (US)", "Ango Hub (India)", "Ango Hub (test)"]
    app.screenshot("12-settings-ango-hub")

    # Self-hosted: an Ango Hub at a URL of our own. A wrong key is refused at connect.
    app.choose_hub("self-hosted")
    app.set_value("settings-self-hosted-url", ango_hub.url)
    app.set_value("settings-self-hosted-key", "not-the-key")
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: "refused the API key" in app.banner())
    assert hub_header(app)[0] == "Local hub"
    app.set_value("settings-self-hosted-key", ango_hub.key)
    app.tid("settings-connect-self-hosted").click()
    app.wait(lambda: app.tid("settings-status").get_attribute("data-mode") == "selfHosted")
    header = app.tid("connection-status")
    assert header.get_attribute("data-hub-kind") == "ango"
    host = ango_hub.url.removeprefix("http://")
    assert hub_header(app) == [f"Self-hosted Ango Hub ({host})", "duplicate check by receipt, documented API only"]
    assert "duplicate check by receipt" in app.tid("settings-status").text
    # The hub has no projects yet: the app says how to make one.
    app.wait(lambda: "no projects yet" in app.banner())
    assert app.tid("project-select").find_element(By.CSS_SELECTOR, "option:checked").get_attribute("textContent") == "No projects yet"
    app.screenshot("13-settings-self-hosted")

    project = app.new_project("Ango import")
    assert [p["_id"] for p in ango_hub.projects()] == [project]

    # Two files through a real drag, then uploaded.
    png = tmp_path / "photo.png"
    png.write_bytes((Path(__file__).resolve().parent.parent.parent / "src-tauri" / "icons" / "icon.png").read_bytes())
    md = tmp_path / "notes.md"
    md.write_text("# notes\n\nfor the Ango project\n")
    files = {"photo.png": png, "notes.md": md}

    def drag_and_upload() -> str:
        app.tid("upload-clear").click()
        real_drag(display, list(files.values()), app.rect("drop-zone"))
        app.wait_text("file-count", "2 files")
        app.wait(lambda: app.tid("upload-start").is_enabled())
        app.tid("upload-start").click()
        app.wait(lambda: app.tid("upload-summary").is_displayed() and "uploaded" in app.tid("upload-summary").text, 120)
        return app.tid("upload-summary").text

    summary = drag_and_upload()
    assert summary.startswith("2 of 2 files uploaded"), summary
    rows = all_rows(app)
    assert {k: rows[k]["state"] for k in files} == {"photo.png": "uploaded", "notes.md": "uploaded"}
    assert "null" not in rows["photo.png"]["text"] and "undefined" not in rows["photo.png"]["text"]

    # One cloud import of public URLs (not checked here: they point at the open web).
    entries = [
        {"data": "https://example.com/street/1.jpg", "externalId": "street-1.jpg"},
        {"data": "https://example.com/street/2.jpg", "externalId": "street-2.jpg"},
    ]
    app.show("cloud")
    if app.tid("cloud-check-urls").is_selected():
        app.tid("cloud-check-urls").click()
    app.set_value("cloud-text", json.dumps(entries))
    app.tid("cloud-check").click()
    app.wait(lambda: app.tid("cloud-import").is_enabled())
    app.tid("cloud-import").click()
    app.wait_text("cloud-result", "2 assets imported")

    # On the hub, through its API: each file and entry exactly once, the files' bytes as sent.
    assets = ango_hub.assets(project)
    ids = sorted(a["externalId"] for a in assets)
    assert ids == ["notes.md", "photo.png", "street-1.jpg", "street-2.jpg"], ids
    by_id = {a["externalId"]: a for a in assets}
    for name, path in files.items():
        assert ango_hub.content(by_id[name]["data"]) == path.read_bytes(), name
    for e in entries:
        assert by_id[e["externalId"]]["data"] == e["data"]

    # The same files again: the receipt knows them, nothing is sent twice.
    app.show("upload")
    summary = drag_and_upload()
    assert summary.startswith("0 of 2 files uploaded") and "2 already in the project, left out" in summary, summary
    rows = all_rows(app)
    assert {k: rows[k]["state"] for k in files} == {"photo.png": "skipped", "notes.md": "skipped"}
    assert len(ango_hub.assets(project)) == 4

    # The assets view lists them from the hub.
    app.show("assets")
    app.wait(lambda: len(app.tids("asset-row")) == 4)
    assert {r.get_attribute("data-external-id") for r in app.tids("asset-row")} == set(ids)
    assert "4 assets" in app.tid("assets-total").text
    app.screenshot("14-assets-ango-hub")


@pytest.fixture
def web(tmp_path: Path):
    """A public web server holding two images, for cloud-import checks."""
    site = tmp_path / "site"
    site.mkdir()
    png = Path(__file__).resolve().parent.parent.parent / "src-tauri" / "icons" / "icon.png"
    (site / "a.png").write_bytes(png.read_bytes())
    (site / "b.png").write_bytes(png.read_bytes())
    with serve_folder(site) as url:
        yield url


def test_cloud_import_is_checked_before_importing(app: App, web: str, tmp_path: Path):
    closed = free_port()
    entries = [
        {"data": f"{web}/a.png", "externalId": "a.png"},
        {"data": f"{web}/b.png", "externalId": "b.png", "batches": ["cloud"]},
        {"data": f"http://127.0.0.1:{closed}/gone.png", "externalId": "gone.png"},
        {"data": f"{web}/c.png"},
    ]
    listing = tmp_path / "import.json"
    listing.write_text("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    app.show("cloud")
    app.drop([listing], onto="cloud-source")
    # The list's URLs are on this computer: not checked until asked, and nothing importable.
    app.wait(lambda: len(app.tids("cloud-problem")) >= 4, 60)
    codes = sorted(p.get_attribute("data-code") for p in app.tids("cloud-problem"))
    assert codes == ["missing-external-id"] + ["private-address"] * 3, codes
    # Each says how to check it anyway (rows come in the report's order, not by line).
    private = [p.text for p in app.tids("cloud-problem") if p.get_attribute("data-code") == "private-address"]
    assert len(private) == 3 and all("Check private addresses too" in t for t in private), private
    app.tid("cloud-check-private").click()
    app.tid("cloud-check").click()
    app.wait(lambda: "private-address" not in [p.get_attribute("data-code") for p in app.tids("cloud-problem")]
             and len(app.tids("cloud-problem")) >= 2, 60)
    problems = {p.get_attribute("data-code"): p.text for p in app.tids("cloud-problem")}
    assert "missing-external-id" in problems and "line 5:" in problems["missing-external-id"]
    assert "unreachable" in problems and "line 4:" in problems["unreachable"]
    assert "4 entries" in app.tid("cloud-counts").text
    assert not app.tid("cloud-import").is_enabled()
    app.screenshot("04-cloud-report")

    app.tid("cloud-skip-bad").click()
    app.wait(lambda: app.tid("cloud-import").is_enabled())
    app.tid("cloud-import").click()
    app.wait_text("cloud-result", "2 assets imported")
    app.screenshot("05-cloud-imported")
    assets = {a["external_id"]: a for a in app.assets()}
    assert set(assets) == {"a.png", "b.png"}
    assert assets["a.png"]["data"] == f"{web}/a.png"
    assert app.batches_of(assets["b.png"]["id"]) == ["cloud"]

    # Pasted text works the same way, and a re-import creates nothing twice.
    app.set_value("cloud-text", json.dumps(entries[:2]))
    app.tid("cloud-check").click()
    app.wait(lambda: app.tid("cloud-import").is_enabled())
    app.tid("cloud-import").click()
    app.wait_text("cloud-result", "2 assets imported")
    assert "0 new" in app.tid("cloud-result").text
    assert len(app.assets()) == 2

    # A long list's repeated problems are listed up to 20 of a code, and counted beyond.
    same = [{"data": f"{web}/a.png?n={i}", "externalId": "same"} for i in range(26)]
    app.set_value("cloud-text", json.dumps(same))
    app.tid("cloud-check").click()
    app.wait(lambda: len(app.tids("cloud-summarised")) == 1, 60)
    counted = app.tid("cloud-summarised")
    assert counted.get_attribute("data-code") == "duplicate-external-id", counted.text
    assert "25 duplicate-external-id warnings in all; the first 20 are listed" in counted.text, counted.text
    listed = [p for p in app.tids("cloud-problem") if p.get_attribute("data-code") == "duplicate-external-id"]
    assert len(listed) == 20


def test_asset_builder_preview_save_and_build(app: App, tmp_path: Path):
    table = tmp_path / "people.csv"
    table.write_text(
        "id;name;photo;team\n"
        "p1;Ada <Lovelace>;https://example.com/ada.jpg;red\n"
        "p2;Grace Hopper;https://example.com/grace.jpg;blue\n"
        "p3;Alan Turing;https://example.com/alan.jpg;red\n"
    )
    app.show("builder")
    app.drop([table], onto="builder-source")
    app.wait(lambda: len(app.tids("builder-column")) == 4)
    assert 'delimiter ";"' in app.tid("builder-source").get_attribute("textContent")
    cols = {c.get_attribute("data-column"): c for c in app.tids("builder-column")}
    assert cols["photo"].find_element(By.CSS_SELECTOR, '[data-testid="col-type"]').get_attribute("value") == "image"
    assert app.tid("builder-external-id").get_attribute("value") == "id"
    assert app.tid("builder-batch-column").get_attribute("value") == ""
    app.select("builder-batch-column", "team")
    cols["name"].find_element(By.CSS_SELECTOR, '[data-testid="col-export"]').click()
    app.set_value("builder-template", '<h3>{{name}}</h3>\n<img src="{{photo}}" alt="photo">')
    def first_preview() -> str:
        frames = app.tids("builder-preview-frame")
        got = app.driver.execute_script("return [...document.querySelectorAll('[data-testid=builder-preview-frame]')].map(f => f.srcdoc)")
        return got[0] if len(got) == 3 else ""

    # Values are escaped for HTML; frames run no scripts and load no remote media by default.
    ada = re.compile(r"<h3>\s*Ada &lt;Lovelace&gt;\s*</h3>")
    app.wait(lambda: ada.search(first_preview()), 30, "preview never showed row 1")
    frame = app.tids("builder-preview-frame")[0]
    assert frame.get_attribute("sandbox") == ""
    assert "img-src data:;" in first_preview()
    heads = [r.text for r in app.tids("builder-preview-row")]
    assert heads[0].startswith("line 2 · p1 · batch red"), heads
    app.screenshot("06-builder")

    app.set_value("builder-template-name", "people card")
    app.tid("builder-save-template").click()
    app.wait(lambda: "people card" in app.tid("builder-load-template").text)

    # A saved template comes back as it was saved.
    app.set_value("builder-template", "<p>{{name}}</p>")
    app.select("builder-load-template", app.driver.execute_script(
        "return [...arguments[0].options].find(o => o.text === 'people card').value", app.tid("builder-load-template")))
    app.wait(lambda: app.tid("builder-template").get_attribute("value").startswith("<h3>{{name}}</h3>"))

    app.tid("builder-build").click()
    app.wait_text("builder-result", "3 assets from 3 rows")
    assets = {a["external_id"]: a for a in app.assets()}
    assert set(assets) == {"p1", "p2", "p3"}
    assert ada.search(assets["p1"]["data"]), assets["p1"]["data"]
    assert json.loads(assets["p2"]["context_data"]) == {"name": "Grace Hopper"}
    assert app.batches_of(assets["p1"]["id"]) == ["red"]
    assert app.batches_of(assets["p2"]["id"]) == ["blue"]
    with app.catalog() as db:
        saved = [json.loads(r[0]) for r in db.execute("SELECT body FROM templates")]
    assert [t["name"] for t in saved] == ["people card"]
    assert saved[0]["dataConfig"]["photo"]["type"] == "image"


def test_choose_files_with_the_native_dialog(app: App, tmp_path: Path, display: str):
    picked = tmp_path / "picked.md"
    picked.write_text("# picked with the dialog\n")
    env = {**os.environ, "DISPLAY": display}
    app.tid("pick-files").click()
    deadline = time.time() + 30
    wid = ""
    while not wid:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "Open"], env=env, capture_output=True, text=True)
        wid = found.stdout.split()[0] if found.stdout.split() else ""
        if time.time() > deadline:
            pytest.fail("the file dialog never opened")
        time.sleep(0.2)
    # The chooser is mapped before it takes keys: type the path, and again if it was too early.
    for attempt in range(4):
        time.sleep(1.0)
        for args in (["windowfocus", "--sync", wid], ["key", "ctrl+l"], ["type", "--delay", "5", str(picked)], ["key", "Return"]):
            subprocess.run(["xdotool", *args], env=env, check=False)
            time.sleep(0.3)
        try:
            app.wait_text("file-count", "1 file", timeout=8)
            break
        except Exception:  # noqa: BLE001 - retried below
            if attempt == 3:
                raise
    row = all_rows(app)["picked.md"]
    assert row["kind"] == "markdown" and row["verdict"] == "ok"


def test_dropping_the_same_files_again_skips_them(app: App, tmp_path: Path):
    files = []
    for i in range(3):
        f = tmp_path / f"page-{i}.md"
        f.write_text(f"# page {i}\n")
        files.append(f)
    app.drop(files)
    app.wait(lambda: app.tid("upload-start").is_enabled())
    app.tid("upload-start").click()
    app.wait_text("upload-summary", "3 of 3 files uploaded")
    app.tid("upload-clear").click()

    # The same three (one renamed) and a new one: only the new one is sent.
    renamed = tmp_path / "renamed.md"
    renamed.write_text("# page 0\n")
    new = tmp_path / "new.md"
    new.write_text("# new\n")
    app.drop([*files[1:], renamed, new])
    app.wait(lambda: app.tid("upload-start").is_enabled())
    app.tid("upload-start").click()
    summary = app.wait_text("upload-summary", "1 of 4 files uploaded")
    assert "3 already in the project, left out" in summary, summary
    rows = all_rows(app)
    assert rows["renamed.md"]["state"] == "skipped"
    assert 'already in the project as "page-0.md"' in rows["renamed.md"]["text"]
    assert sorted(a["external_id"] for a in app.assets()) == ["new.md", "page-0.md", "page-1.md", "page-2.md"]


def app_pids(root: Path) -> list[int]:
    """The app processes running on this data folder."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if Path(os.readlink(p / "exe")).name != "assetdrop-desktop":
                continue
            if f"ASSETDROP_ROOT={root}".encode() in (p / "environ").read_bytes().split(b"\0"):
                pids.append(int(p.name))
        except OSError:
            continue
    return pids


def test_an_upload_killed_midway_is_offered_again_and_ends_with_every_file_once(display, tmp_path: Path):
    folder = tmp_path / "batch"
    folder.mkdir()
    n = 3000
    for i in range(n):
        (folder / f"item-{i:04}.txt").write_text(f"item {i}\n")
    root, config = tmp_path / "root", tmp_path / "config"
    first = App(display, root, config)
    try:
        first.drop([folder])
        first.wait(lambda: first.tid("upload-start").is_enabled(), 120)
        first.tid("upload-start").click()
        first.wait(lambda: re.search(r"· [1-9]\d* of 3000 files", first.tid("overall-text").text.replace(",", "")), 120)
        # The app (and the hub inside it) dies mid-upload.
        pids = app_pids(root)
        assert pids, "the app process was not found"
        for pid in pids:
            os.kill(pid, 9)
    finally:
        first.close()
    assert (config / "upload-journal.json").exists()
    with sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True) as db:
        before = db.execute("SELECT count(*) FROM assets WHERE deleted = 0").fetchone()[0]
    assert before < n

    second = App(display, root, config)
    try:
        second.wait(lambda: second.tid("resume-card").is_displayed(), 30)
        assert "3000 files did not finish" in second.tid("resume-card").text.replace(",", "")
        second.screenshot("11-resume-offer")
        second.tid("resume-upload").click()
        summary = second.wait_text("upload-summary", "uploaded", 600).replace(",", "")
        counts = summary_counts(second)
        assert counts["uploaded"] == n - before and counts["listed"] == n, (summary, before)
        assert counts["skipped"] == before, (summary, before)
        names = [a["external_id"] for a in second.assets()]
        assert len(names) == len(set(names)) == n
        assert not (config / "upload-journal.json").exists()
    finally:
        second.close()


def test_page_script_cannot_make_the_app_read_files_it_was_not_handed(app: App, tmp_path: Path):
    """A script running in the page (an asset name or a template that got script in) calls the
    app's commands itself with files the user never handed over: each command refuses, naming
    the file and how to hand it over, and nothing is read, listed, thumbnailed or imported. Once
    the user drops the folder onto the window, the same files are accepted, while a symbolic link
    or `..` out of it and any other file are still refused."""
    token = f"s3cret-{secrets.token_hex(6)}"
    given = tmp_path / "given"
    (given / "sub").mkdir(parents=True)
    png = given / "secret.png"
    png.write_bytes((Path(__file__).resolve().parent.parent.parent / "src-tauri" / "icons" / "icon.png").read_bytes())
    table = given / "secret.csv"
    table.write_text(f"id,secret\nk1,{token}\n")
    listing = given / "secret.json"
    listing.write_text(json.dumps([{"data": f"https://example.com/{token}.png", "externalId": token}]))
    outside = tmp_path / "outside.txt"
    outside.write_text(f"{token}\n")
    (given / "sub" / "leak.txt").symlink_to(outside)
    project = app.tid("project-select").get_attribute("value")
    assert project

    config = {"name": "t", "template": "<p>{{secret}}</p>", "selectedExternalId": "id",
              "dataConfig": {"id": {"type": "text"}, "secret": {"type": "text", "includeInExport": True}}}

    def table_request(p) -> dict:
        return {"path": str(p), "delimiter": None, "sheet": None}

    def calls(p) -> dict[str, dict]:
        """Every command that takes a path, asked to work on `p`."""
        return {
            "add_files": {"job": "x-add", "paths": [str(p)], "audio": "reject", "rows": "channel"},
            "upload": {"request": {"job": "x-up", "project": project, "audio": "reject", "skipExisting": False,
                                   "files": [{"path": str(p), "externalId": "stolen", "size": 4}]},
                       "events": "channel"},
            "open_table": {"request": table_request(p), "rows": 20},
            "preview": {"request": table_request(p), "config": config, "rows": 3},
            "build": {"job": "x-build", "project": project, "request": table_request(p), "config": config,
                      "events": "channel"},
            "cloud_import": {"request": {"job": "x-cloud", "project": project, "path": str(p), "text": None,
                                         "storage": None, "checkUrls": False, "skipBad": True,
                                         "skipDuplicates": False, "createBatches": False, "dryRun": False},
                             "events": "channel"},
        }

    def assert_refused(p, why: str):
        for command, args in calls(p).items():
            got = app.invoke(command, args)
            assert "err" in got, (command, str(p), got)
            message = got["err"]["message"]
            assert message.startswith(f"refused {p}:"), (command, message)
            assert why in message, (command, message)
            assert "To use it, drop it onto the window" in message, (command, message)
            answer = json.dumps(got)
            assert token not in answer and "root:x:0:0" not in answer, (command, answer)
            assert got["heard"] == [], (command, got["heard"])

    never_dropped = "not dropped onto the window or chosen in the app's file dialog"
    for p in (png, table, listing, outside, Path("/etc/passwd")):
        assert_refused(p, never_dropped)
    relative = app.invoke("add_files", calls("../../../../etc/passwd")["add_files"])
    assert "not an absolute path" in relative["err"]["message"], relative
    # No thumbnail was handed out, and a path is no thumbnail.
    for url in [*(f"thumb://localhost/{i}" for i in range(10)), f"thumb://localhost/{png}",
                "thumb://localhost/%2Fetc%2Fpasswd"]:
        assert app.thumb_loads(url) == -1, url
    # Nothing reached the hub, not even the journal of an upload.
    assert app.assets() == []
    assert not (app.config / "upload-journal.json").exists()
    assert app.tid("file-count").text == "No files yet"

    # The user drops the folder: its files are listed; the link out of it is not read.
    app.drop([given])
    app.wait_text("file-count", "3 files")
    app.wait(lambda: "leak.txt" in app.banner())
    assert "a symbolic link or “..” leads out of" in app.banner()
    assert token not in app.banner()

    got = app.invoke("add_files", calls(png)["add_files"])
    assert got["ok"]["files"] == 1, got
    thumbs = [r["thumb"] for rows in got["heard"] for r in rows if r.get("thumb")]
    assert thumbs and app.thumb_loads(thumbs[-1]) == 128, thumbs
    got = app.invoke("open_table", calls(table)["open_table"])
    assert got["ok"]["columns"] == ["id", "secret"] and got["ok"]["rows"][0]["cells"] == ["k1", token], got
    got = app.invoke("preview", calls(table)["preview"])
    assert token in got["ok"][0]["asset"]["data"], got
    got = app.invoke("cloud_import", {**calls(listing)["cloud_import"],
                                      "request": {**calls(listing)["cloud_import"]["request"], "dryRun": True}})
    assert got["ok"]["summary"]["valid"] == 1, got
    got = app.invoke("build", calls(table)["build"])
    assert got["ok"]["registered"] == 1, got
    upload = calls(png)["upload"]
    upload["request"]["files"][0] = {"path": str(png), "externalId": "secret.png", "size": png.stat().st_size}
    got = app.invoke("upload", upload)
    assert [u["externalId"] for u in got["ok"]["uploaded"]] == ["secret.png"], got

    # Still refused: what the drop did not include, and the ways out of the folder.
    assert_refused(outside, never_dropped)
    assert_refused(given / ".." / "outside.txt", never_dropped)
    assert_refused(given / "sub" / "leak.txt", "a symbolic link or “..” leads out of")
    assert_refused(Path("/etc/passwd"), never_dropped)
    assert sorted(a["external_id"] for a in app.assets()) == ["k1", "secret.png"]
