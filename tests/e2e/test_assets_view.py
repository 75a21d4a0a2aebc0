"""End-to-end: the Assets view as annotators and project managers meet it. Newest first, found
by exact external ID, narrowed by the batch picker of the top bar, with where each asset's bytes
live and their size, and a preview a click (or Enter) opens and Escape closes. On the app's own
hub (which lists oldest first) and on the stand-in of a plain Ango Hub (newest first)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import CLI, REPO, AngoHub, App

ICON = REPO / "src-tauri" / "icons" / "icon.png"


# --- helpers ------------------------------------------------------------------------------------
def rows(app: App) -> list[dict]:
    """The rows on screen, read in one script: external ID and each cell's text and title."""
    return app.driver.execute_script(
        """
        return [...document.querySelectorAll('[data-testid=asset-row]')].map((r) => {
          const out = {id: r.dataset.externalId, assetId: r.dataset.assetId};
          for (const td of r.querySelectorAll('td')) {
            out[td.dataset.col] = td.textContent; out[`${td.dataset.col}Title`] = td.title;
            if (td.dataset.where) out.where = td.dataset.where;
          }
          return out;
        });
        """
    )


def ids(app: App) -> list[str]:
    return [r["id"] for r in rows(app)]


def page_text(app: App) -> str:
    return app.driver.find_element(By.ID, "assets-page").text


def total_text(app: App) -> str:
    return app.tid("assets-total").text.replace(",", "").replace("\u202f", "").replace("\xa0", "")


def hub_of(app: App) -> tuple[str, str]:
    """The URL and API key of the app's embedded hub (its key lives in the data folder)."""
    status = app.invoke("status", {})["ok"]
    return status["hubUrl"], (app.root / ".hub" / "api-key").read_text().strip()


def cli_import(hub: str, key: str, project: str, entries: list[dict], tmp: Path):
    """A cloud-import list sent with the CLI to a running hub: many assets, quickly."""
    listing = tmp / "import.json"
    listing.write_text(json.dumps(entries))
    subprocess.run(
        [str(CLI), "--hub", hub, "--api-key", key, "--receipts", str(tmp / "receipts.sqlite"), "--json",
         "cloud", "import", str(listing), "--project", project, "--no-check"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "ASSETDROP_RATE": "0"},
    )


def search(app: App, text: str):
    box = app.tid("assets-search")
    box.clear()
    if text:
        box.send_keys(text)
    box.send_keys(Keys.ENTER)


def pick_batch(app: App, name: str):
    """Chooses a batch in the top bar's picker ('' is "No batch"), as a user would."""
    app.select("batch-select", name)


def upload(app: App, paths: list[Path]):
    """Drops files on the Upload view and uploads them; returns once the summary shows."""
    app.show("upload")
    app.drop(paths)
    app.wait_text("file-count", f"{len(paths)} file")
    app.start_upload()
    app.wait(lambda: app.tid("upload-summary").is_displayed() and "uploaded" in app.tid("upload-summary").text, 120,
             "the upload never finished")


def image_loaded(app: App) -> int:
    """The preview image's natural width once it has loaded (0 while loading or when broken)."""
    return app.driver.execute_script(
        "const i = document.querySelector('[data-testid=asset-preview-image]');"
        "return i && i.complete ? i.naturalWidth : 0;"
    )


def assert_nothing_covered(app: App, when: str):
    for size in ((1180, 760), (900, 600)):
        app.resize(*size)
        bad = app.covered_controls("view-assets")
        assert bad == [], f"{when} at {size}: {bad}"
    app.resize(1180, 760)


def preview_title(app: App) -> str:
    return app.tid("asset-preview-title").get_attribute("textContent")


def open_preview(app: App, external_id: str):
    row = next(r for r in app.tids("asset-row") if r.get_attribute("data-external-id") == external_id)
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.find_element(By.CSS_SELECTOR, "td").click()
    app.wait(lambda: app.tid("asset-preview").is_displayed() and preview_title(app) == external_id)


# --- tests --------------------------------------------------------------------------------------
def test_assets_view_newest_first_search_batch_location_and_preview(app: App, tmp_path: Path):
    project = app.tid("project-select").get_attribute("value")
    # A batch made in the top bar, then back to "No batch".
    app.tid("batch-new").click()
    app.tid("batch-new-name").send_keys("street")
    app.tid("batch-new-save").click()
    app.wait(lambda: app.tid("batch-select").get_attribute("value") == "street")
    pick_batch(app, "")

    # 120 cloud URLs (every tenth in the batch) through the CLI, then two files through the app.
    hub, key = hub_of(app)
    entries = [
        {"data": f"https://example.com/street/{i:03}.jpg", "externalId": f"street-{i:03}.jpg",
         **({"batches": ["street"]} if i % 10 == 0 else {})}
        for i in range(120)
    ]
    cli_import(hub, key, project, entries, tmp_path)
    photo = tmp_path / "photo.png"
    shutil.copy(ICON, photo)
    notes = tmp_path / "notes.txt"
    notes.write_text("field notes\nline two\n")
    upload(app, [photo, notes])
    app.wait(lambda: len(app.assets()) == 122, 30)
    catalog = app.assets()
    assert len(catalog) == 122
    newest = [a["external_id"] for a in reversed(catalog)]

    # Page 1 holds the newest: the two files, then the last URLs; the oldest is on the last page.
    app.show("assets")
    app.wait(lambda: total_text(app).startswith("122 assets"))
    app.wait(lambda: page_text(app) == "page 1 of 3")
    assert ids(app) == newest[:50]
    assert ids(app)[:2] == newest[:2] and set(newest[:2]) == {"photo.png", "notes.txt"}
    assert "All batches" in app.tid("assets-filter").text and "newest first" in app.tid("assets-filter").text
    app.tid("assets-next").click()
    app.wait(lambda: page_text(app) == "page 2 of 3")
    app.tid("assets-next").click()
    app.wait(lambda: page_text(app) == "page 3 of 3")
    assert ids(app) == newest[100:]
    assert ids(app)[-1] == "street-000.jpg"
    assert not app.tid("assets-next").is_enabled()

    # Search: the exact external ID finds the one asset; part of an ID finds none, and says why.
    search(app, "street-042.jpg")
    app.wait(lambda: ids(app) == ["street-042.jpg"])
    assert total_text(app).startswith("1 asset in") and page_text(app) == "page 1 of 1"
    assert "external ID exactly “street-042.jpg”" in app.tid("assets-filter").text
    assert "exact" in app.tid("assets-search").get_attribute("placeholder").lower()
    search(app, "street-04")
    app.wait(lambda: ids(app) == [] and app.tid("assets-empty").is_displayed())
    assert "whole IDs only" in app.tid("assets-empty").text
    app.tid("assets-search-clear").click()
    app.wait(lambda: ids(app) == newest[:50])

    # The batch picker in the top bar narrows the view; "No batch" shows all again.
    pick_batch(app, "street")
    want = [f"street-{i:03}.jpg" for i in range(110, -1, -10)]
    app.wait(lambda: ids(app) == want)
    assert total_text(app).startswith("12 assets")
    assert "Batch “street”" in app.tid("assets-filter").text
    assert all(r["batches"] == "street" for r in rows(app))
    # Search and batch together.
    search(app, "street-050.jpg")
    app.wait(lambda: ids(app) == ["street-050.jpg"])
    search(app, "street-051.jpg")
    app.wait(lambda: ids(app) == [])
    search(app, "")
    pick_batch(app, "")
    app.wait(lambda: total_text(app).startswith("122 assets") and ids(app) == newest[:50])
    assert "All batches" in app.tid("assets-filter").text

    # Location and size: the uploaded file on the hub with its size; the URL with its host,
    # "—" for its size and the reason in the title. Never blank.
    by_id = {r["id"]: r for r in rows(app)}
    up = by_id["photo.png"]
    assert up["where"] == "hub" and up["location"].startswith("Hub ·"), up
    assert "uploaded-data/" in up["locationTitle"] and hub in up["locationTitle"]
    assert up["size"].endswith(("B", "KB")) and f"{ICON.stat().st_size} bytes" in up["sizeTitle"].replace(",", "").replace("\u202f", "").replace("\xa0", "")
    url = by_id["street-119.jpg"]
    assert url["where"] == "url" and url["location"] == "example.com/…/119.jpg", url
    assert url["locationTitle"].endswith("https://example.com/street/119.jpg")
    assert url["size"] == "—" and "never downloaded" in url["sizeTitle"]
    for r in rows(app):
        assert all(r[c].strip() for c in ("id", "kind", "size", "location", "batches", "created")), r
    assert_nothing_covered(app, "the list")

    # A click opens the preview: the image loads through the hub's signed URL; Escape closes.
    open_preview(app, "photo.png")
    app.wait(lambda: image_loaded(app) > 0, 30, "the preview image never loaded")
    src = app.tid("asset-preview-image").get_attribute("src")
    assert src.startswith(f"{hub}/uploaded-data/") and "?" in src, src
    assert "photo.png" in app.tid("asset-preview-meta").text
    shot = app.screenshot("18-assets-view")
    docs = REPO / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, docs / "18-assets-view.png")
    assert_nothing_covered(app, "the list beside the preview")
    app.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    app.wait(lambda: not app.tid("asset-preview").is_displayed())

    # Rows are reached with the keyboard: Enter opens, arrows move, Escape closes.
    first = app.tids("asset-row")[0]
    app.driver.execute_script("arguments[0].focus()", first)
    assert app.driver.switch_to.active_element.get_attribute("data-external-id") == newest[0]
    app.driver.switch_to.active_element.send_keys(Keys.ENTER)
    app.wait(lambda: app.tid("asset-preview").is_displayed() and preview_title(app) == newest[0])
    app.driver.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    app.wait(lambda: preview_title(app) == newest[1])
    # The text file shows in a sandboxed frame, from the hub.
    open_preview(app, "notes.txt")
    frame = app.wait(lambda: app.tid("asset-preview-frame"))
    assert frame.get_attribute("sandbox") == "" and frame.get_attribute("src").startswith(f"{hub}/uploaded-data/")
    # A URL asset: its URL, its metadata, the reason there is no size.
    open_preview(app, "street-119.jpg")
    app.wait(lambda: "https://example.com/street/119.jpg" in app.tid("asset-preview-meta").text)
    assert "never downloaded" in app.tid("asset-preview-meta").text
    app.tid("asset-preview-close").click()
    app.wait(lambda: not app.tid("asset-preview").is_displayed())
    assert_nothing_covered(app, "the list after the preview")


def test_assets_view_on_a_plain_ango_hub(app: App, ango_hub: AngoHub, tmp_path: Path):
    """A hub that lists newest first and knows only Ango's documented filters."""
    app.connect_self_hosted(ango_hub.url, ango_hub.key)
    project = app.new_project("Ango assets")
    app.tid("batch-new").click()
    app.tid("batch-new-name").send_keys("night")
    app.tid("batch-new-save").click()
    app.wait(lambda: app.tid("batch-select").get_attribute("value") == "night")
    pick_batch(app, "")

    entries = [
        {"data": f"https://example.com/night/{i:02}.jpg", "externalId": f"night-{i:02}.jpg",
         **({"batches": ["night"]} if i % 20 == 0 else {})}
        for i in range(60)
    ]
    cli_import(ango_hub.url, ango_hub.key, project, entries, tmp_path)
    photo = tmp_path / "moon.png"
    shutil.copy(ICON, photo)
    upload(app, [photo])
    assert len(ango_hub.assets(project)) == 61

    app.show("assets")
    app.wait(lambda: total_text(app).startswith("61 assets"))
    assert page_text(app) == "page 1 of 2"
    assert ids(app)[:3] == ["moon.png", "night-59.jpg", "night-58.jpg"]
    app.tid("assets-next").click()
    app.wait(lambda: page_text(app) == "page 2 of 2")
    assert ids(app)[-1] == "night-00.jpg"

    search(app, "night-07.jpg")
    app.wait(lambda: ids(app) == ["night-07.jpg"])
    search(app, "")
    pick_batch(app, "night")
    app.wait(lambda: ids(app) == ["night-40.jpg", "night-20.jpg", "night-00.jpg"])
    pick_batch(app, "")
    app.wait(lambda: total_text(app).startswith("61 assets") and page_text(app) == "page 1 of 2")

    # The upload lives in Ango's bucket; the preview loads it through getSignedUrl.
    moon = next(r for r in rows(app) if r["id"] == "moon.png")
    assert moon["where"] == "url" and moon["location"].endswith("/…/" + moon["locationTitle"].rsplit("/", 1)[-1])
    assert moon["size"] == "—" and "gives no sizes" in moon["sizeTitle"]
    open_preview(app, "moon.png")
    app.wait(lambda: image_loaded(app) > 0, 30, "the preview image never loaded")
    app.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    app.wait(lambda: not app.tid("asset-preview").is_displayed())
    assert_nothing_covered(app, "on an Ango hub")
