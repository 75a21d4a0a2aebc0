"""End-to-end: the Asset builder as a project manager meets it, at the default window size
(1180×760) and at 900×600. Every control can be clicked (nothing sits under anything else),
problems show next to what they are about in the app's words, and media URLs are checked before
anything is imported, as Cloud import checks them. Each result is checked on screen and in the
hub's catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from conftest import App, serve_folder

SIZES = {"default": None, "900": (900, 600)}
LONG_URL = "https://images.example.com/collections/portraits/2024/ada-lovelace-full-resolution.jpg"
PNG = Path(__file__).resolve().parent.parent.parent / "src-tauri" / "icons" / "icon.png"


@pytest.fixture(params=list(SIZES))
def size(request, app: App) -> str:
    """Runs the test at the default size and again at 900×600."""
    if SIZES[request.param]:
        app.resize(*SIZES[request.param])
    return request.param


@pytest.fixture
def site(tmp_path: Path):
    """A web server holding two images (and nothing else: any other path answers 404)."""
    root = tmp_path / "site"
    root.mkdir()
    for name in ("ada.png", "grace.png"):
        (root / name).write_bytes(PNG.read_bytes())
    with serve_folder(root) as url:
        yield url


def open_table(app: App, path: Path, columns: int):
    app.show("builder")
    app.drop([path], onto="builder-source")
    app.wait(lambda: len(app.tids("builder-column")) == columns, 60, "the table's columns never showed")
    app.wait(lambda: app.tids("builder-preview-row"), 30, "the preview never showed")


def column_row(app: App, name: str):
    return next(c for c in app.tids("builder-column") if c.get_attribute("data-column") == name)


def in_view(app: App, testid: str) -> bool:
    """Whether the element is wholly inside the window and the point at its centre is its own."""
    return app.driver.execute_script(
        """
        const el = arguments[0]; const r = el.getBoundingClientRect();
        if (r.width < 1 || r.height < 1 || r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) return false;
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height / 2, 10));
        return !!hit && (hit === el || el.contains(hit));
        """,
        app.tid(testid),
    )


def preview_texts(app: App) -> list[str]:
    """What the preview frames show, blanks squeezed (a whole-text placeholder gets blank lines
    around its value)."""
    return app.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=builder-preview-frame]')].map(f => f.srcdoc.replace(/\\s+/g, ''))")


def test_every_builder_control_can_be_clicked(app: App, tmp_path: Path, size: str):
    table = tmp_path / "portraits.csv"
    table.write_text(
        "id,title,photo\n"
        f"ada,Ada Lovelace,{LONG_URL}\n"
        "grace,Grace Hopper,https://images.example.com/collections/portraits/2024/grace-hopper-full-resolution.jpg\n"
    )
    open_table(app, table, 3)
    assert app.covered_controls("view-builder") == []
    # The long first value is cut within its cell; the whole of it is in the tooltip.
    photo = column_row(app, "photo")
    first = photo.find_element(By.CSS_SELECTOR, '[data-testid="col-first-value"]')
    assert first.get_attribute("title") == LONG_URL
    assert app.driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", first)
    # Real clicks on "In export" land on the checkboxes, not on the preview.
    for name in ("title", "photo"):
        box = column_row(app, name).find_element(By.CSS_SELECTOR, '[data-testid="col-export"]')
        box.click()
        app.wait(lambda: box.is_selected(), 5, f"the click on {name}'s In export never landed")
    storage = photo.find_element(By.CSS_SELECTOR, '[data-testid="col-storage"]')
    assert storage.is_enabled() and app.driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); const h = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        "return h === arguments[0] || arguments[0].contains(h);", storage)
    if size == "900":
        # The preview moves under the table instead of beside it.
        cols = app.driver.execute_script(
            "const t = document.getElementById('builder-columns').getBoundingClientRect();"
            "const p = document.getElementById('builder-preview').getBoundingClientRect();"
            "return [t.bottom, p.top];")
        assert cols[1] >= cols[0], cols
    assert app.covered_controls("view-builder") == []

    app.tid("builder-check-urls").click()  # these example URLs are not ours to probe
    app.tid("builder-build").click()
    app.wait_text("builder-result", "2 assets from 2 rows")
    assert in_view(app, "builder-result")
    assets = {a["external_id"]: a for a in app.assets()}
    assert set(assets) == {"ada", "grace"}
    assert json.loads(assets["ada"]["context_data"]) == {"title": "Ada Lovelace", "photo": LONG_URL}
    assert app.covered_controls("view-builder") == []


def test_problems_show_next_to_what_they_are_about(app: App, tmp_path: Path, size: str):
    table = tmp_path / "people.csv"
    table.write_text(
        "id,title,photo\n"
        "p1,Ada Lovelace,https://example.com/ada.jpg\n"
        "p2,Grace Hopper,javascript:alert(1)\n"
        "p3,Alan Turing,https://example.com/alan.jpg\n"
    )
    open_table(app, table, 3)
    app.set_value("builder-template", "<h3>{{title}}</h3>")
    app.wait(lambda: any("<h3>AdaLovelace</h3>" in t for t in preview_texts(app)), 30, "the good preview never showed")

    # A typo in a placeholder, typed in the template: said right under it, in sight, with the
    # likely column, in the app's words; the last good preview stays, marked as such.
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'nearest'})", app.tid("builder-template"))
    app.tid("builder-template").click()
    app.set_value("builder-template", "<h3>{{titel}}</h3>")
    app.wait_text("builder-template-errors", "did you mean {{title}}?", 30)
    said = app.tid("builder-template-errors").text
    assert "{{titel}} is not a column of this table" in said, said
    assert "dataConfig" not in said and "dataConfig" not in app.tid("view-builder").text
    gap = app.driver.execute_script(
        "const t = document.getElementById('builder-template').getBoundingClientRect();"
        "const e = document.getElementById('builder-template-errors').getBoundingClientRect();"
        "return [e.top - t.bottom, e.left - t.left];")
    assert 0 <= gap[0] < 12 and abs(gap[1]) < 2, gap
    assert in_view(app, "builder-template-errors")
    assert app.banner() == ""
    app.wait(lambda: app.tid("builder-preview-stale").is_displayed(), 10)
    assert "Last good preview" in app.tid("builder-preview-stale").text
    assert any("<h3>AdaLovelace</h3>" in t for t in preview_texts(app))
    assert app.covered_controls("view-builder") == []

    # Fixed: the problem goes, the preview is current again.
    app.set_value("builder-template", '<h3>{{title}}</h3><img src="{{photo}}" alt="">')
    app.wait(lambda: app.tid("builder-template-errors").text == "", 30, "the fixed problem stayed")
    app.wait(lambda: not app.tid("builder-preview-stale").is_displayed(), 10)
    assert app.banner() == ""
    # A bad row is named by the preview, by its line.
    app.wait_text("builder-preview-errors", "line 3", 30)
    assert "javascript" in app.tid("builder-preview-errors").text

    # A template that does not build is not built; the Build button says where to look.
    app.set_value("builder-template", "<h3>{{titel}}</h3>")
    app.wait_text("builder-template-errors", "did you mean {{title}}?", 30)
    app.tid("builder-check-urls").click()
    app.tid("builder-build").click()
    app.wait_text("builder-result", "Not built", 30)
    assert "under the template" in app.tid("builder-result").text
    assert in_view(app, "builder-result")
    assert app.assets() == []
    app.set_value("builder-template", '<h3>{{title}}</h3><img src="{{photo}}" alt="">')
    app.wait(lambda: app.tid("builder-template-errors").text == "", 30)
    app.tid("builder-build").click()
    app.wait_text("builder-result", "2 assets from 3 rows")
    assert "1 row failed" in app.tid("builder-result").text
    failure = app.tids("builder-failure")
    assert len(failure) == 1 and failure[0].get_attribute("data-line") == "3", [f.text for f in failure]
    assert sorted(a["external_id"] for a in app.assets()) == ["p1", "p3"]


def test_media_urls_are_checked_before_anything_is_imported(app: App, tmp_path: Path, site: str, size: str):
    table = tmp_path / "photos.csv"
    table.write_text(
        "id;title;photo\n"
        f"ada;Ada Lovelace;{site}/ada.png\n"
        f"gone;Nobody;{site}/missing.png\n"
        f"grace;Grace Hopper;{site}/grace.png\n"
    )
    open_table(app, table, 3)
    assert app.tid("builder-check-urls").is_selected()
    assert not app.tid("builder-check-private").is_selected()
    assert not app.tid("builder-skip-bad").is_selected()

    # The URLs are on this computer: refused unless asked, and nothing is imported.
    app.tid("builder-build").click()
    app.wait_text("builder-result", "Nothing imported", 60)
    assert in_view(app, "builder-result")
    refused = app.tids("builder-failure")
    assert len(refused) == 3 and all(f.get_attribute("data-code") == "private-address" for f in refused), [f.text for f in refused]
    assert all("Check private addresses too" in f.text for f in refused)
    assert app.assets() == []

    # Checked: the row whose image answers 404 is named by line and column; still nothing is
    # imported, as in Cloud import.
    app.tid("builder-check-private").click()
    app.tid("builder-build").click()
    app.wait(lambda: [f.get_attribute("data-code") for f in app.tids("builder-failure")] == ["unreachable"], 60,
             "the check never named the missing image alone")
    failure = app.tids("builder-failure")[0]
    assert failure.get_attribute("data-line") == "3" and failure.get_attribute("data-column") == "photo"
    assert failure.text.startswith("line 3, column “photo”:"), failure.text
    assert "404" in failure.text and "missing.png" in failure.text, failure.text
    assert "Nothing imported" in app.tid("builder-result").text
    assert in_view(app, "builder-result")
    assert app.assets() == []

    # The good rows, when asked for: the failing one is left out and named again.
    app.tid("builder-skip-bad").click()
    app.tid("builder-build").click()
    app.wait_text("builder-result", "2 assets from 3 rows", 60)
    result = app.tid("builder-result").text
    assert "1 row not imported because a URL failed the check" in result and "3 URLs checked" in result, result
    assert [f.get_attribute("data-line") for f in app.tids("builder-failure")] == ["3"]
    assert in_view(app, "builder-result")
    assets = {a["external_id"]: a for a in app.assets()}
    assert set(assets) == {"ada", "grace"}
    assert f"{site}/ada.png" in assets["ada"]["data"]
    assert app.covered_controls("view-builder") == []
    # The view as the build left it: its outcome at the top, by the Build button.
    app.driver.execute_script("document.querySelector('#view-builder .builder-cols').scrollTop = 0")
    assert in_view(app, "builder-result")
    app.screenshot("15-builder-default-width" if size == "default" else "16-builder-900")
