"""The desktop app driven in a real window: an X server (Xvfb), Debian's WebKitWebDriver
launching the built app (TAURI_WEBVIEW_AUTOMATION), selenium as the client, and the hub's own
catalog (`ROOT/catalog.sqlite`, read-only) and blob folder to check what arrived.

Each `app` starts the app on a fresh data folder (`ASSETDROP_ROOT`) and settings folder
(`ASSETDROP_CONFIG_DIR`), exactly as a first-time user would meet it. `ango_hub` starts the strict
stand-in of Ango Hub's documented API (`examples/ango_standin.rs`) for the tests that need one;
what arrived there is checked through that API, as with the real Ango Hub.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
if not TARGET.is_absolute():
    TARGET = REPO / TARGET
APP = Path(os.environ.get("ASSETDROP_DESKTOP_BIN", TARGET / "debug" / "assetdrop-desktop"))
CLI = Path(os.environ.get("ASSETDROP_BIN", TARGET / "debug" / "assetdrop"))
STANDIN = Path(os.environ.get("ASSETDROP_ANGO_STANDIN_BIN", TARGET / "debug" / "examples" / "ango_standin"))
SHOTS = Path(os.environ.get("ASSETDROP_SCREENSHOTS", TARGET / "e2e-screenshots"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def display():
    """An X server of our own; DISPLAY for everything the tests start."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is missing: run scripts/deps.sh (apt package xvfb)")
    r, w = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(w,),
        stderr=subprocess.DEVNULL,
    )
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    if not number:
        xvfb.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    xvfb.kill()
    xvfb.wait()


class App:
    """One running app, its WebDriver session and its data folder."""

    def __init__(self, display: str, root: Path, config: Path, env: dict[str, str] | None = None):
        if not APP.exists():
            pytest.fail(f"{APP} is missing: build it with `cargo build -p assetdrop-desktop`")
        self.display = display
        self.root = root
        self.config = config
        self.port = free_port()
        run_env = {
            **os.environ,
            "DISPLAY": display,
            "TAURI_WEBVIEW_AUTOMATION": "true",
            "ASSETDROP_ROOT": str(root),
            "ASSETDROP_CONFIG_DIR": str(config),
            "GSETTINGS_BACKEND": "memory",
            "NO_AT_BRIDGE": "1",
            **(env or {}),
        }
        run_env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.log = open(root.parent / f"{root.name}-driver.log", "wb")  # noqa: SIM115
        self.driver_proc = subprocess.Popen(
            ["WebKitWebDriver", f"--port={self.port}"], env=run_env, stdout=self.log, stderr=self.log
        )
        deadline = time.time() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    self.driver_proc.kill()
                    pytest.fail("WebKitWebDriver did not answer")
                time.sleep(0.1)
        opts = ArgOptions()
        opts.set_capability("webkitgtk:browserOptions", {"binary": str(APP), "args": []})
        self.driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{self.port}", options=opts)
        self.driver.set_script_timeout(120)
        WebDriverWait(self.driver, 60).until(
            lambda d: d.execute_script("return document.body && document.body.dataset.ready === 'true'")
        )

    # --- page helpers -------------------------------------------------------------------
    def tid(self, testid: str):
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def tids(self, testid: str):
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait(self, condition, timeout: float = 60, message: str = ""):
        return WebDriverWait(
            self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
        ).until(lambda _d: condition(), message)

    def wait_text(self, testid: str, needle: str, timeout: float = 60) -> str:
        self.wait(lambda: needle in self.tid(testid).text, timeout, f"{testid} never said {needle!r}: {self.tid(testid).text!r}")
        return self.tid(testid).text

    def show(self, view: str):
        self.tid(f"nav-{view}").click()
        self.wait(lambda: self.tid(f"view-{view}").is_displayed())

    def choose_hub(self, choice: str):
        """Picks Local, Ango Hub or Self-hosted in Settings and waits for its panel. A connect still
        under way is waited for first: its message moves the page under the pointer."""
        self.settings_settled()
        self.tid(f"settings-choice-{choice}").click()
        button = {"local": "settings-use-local", "ango": "settings-connect-ango",
                  "self-hosted": "settings-connect-self-hosted"}[choice]
        self.wait(lambda: self.tid(button).is_displayed(), message=f"the {choice} panel never showed")

    def connect_self_hosted(self, url: str, key: str):
        """Connects to the hub at `url` with `key` through Settings, as a user would, and waits
        until the switch has finished."""
        self.show("settings")
        self.choose_hub("self-hosted")
        self.set_value("settings-self-hosted-url", url)
        self.set_value("settings-self-hosted-key", key)
        self.tid("settings-connect-self-hosted").click()
        self.wait(lambda: self.tid("settings-status").get_attribute("data-mode") == "selfHosted")
        self.settings_settled()

    def start_upload(self):
        """Presses Upload once it is enabled and waits until the upload has begun (the button
        is disabled while one runs, and a summary shows when it ends). A press the page never
        got, because the list repainted under the pointer, is pressed again."""
        for attempt in range(3):
            self.wait(lambda: self.tid("upload-start").is_enabled(), message="Upload never became enabled")
            self.tid("upload-start").click()
            try:
                self.wait(lambda: not self.tid("upload-start").is_enabled() or self.tid("upload-summary").text, 15)
                return
            except TimeoutException:
                if attempt == 2:
                    raise

    def cancel_upload(self):
        """Presses Cancel on the running upload and waits until the page took the press (the
        overall line says "Cancelling…", or the upload already ended)."""
        for attempt in range(3):
            self.wait(lambda: self.tid("upload-cancel").is_displayed() and self.tid("upload-cancel").is_enabled(),
                      message="Cancel never became usable")
            self.tid("upload-cancel").click()
            try:
                self.wait(lambda: "Cancelling" in self.tid("overall-text").get_attribute("textContent")
                          or self.tid("upload-summary").is_displayed(), 10)
                return
            except TimeoutException:
                if attempt == 2:
                    raise

    def settings_settled(self):
        """Waits until a connect or "Use the local hub" started in Settings has finished."""
        self.wait(lambda: self.tid("view-settings").get_attribute("data-busy") is None,
                  message="the settings change never finished")

    def new_project(self, name: str) -> str:
        """Creates a project with the inline "+ New project" control; returns its ID once the
        picker shows it."""
        self.show("upload")
        self.tid("project-new").click()
        self.tid("project-new-name").send_keys(name)
        self.tid("project-new-save").click()
        picked = lambda: self.tid("project-select").find_element(By.CSS_SELECTOR, "option:checked")
        self.wait(lambda: picked().text == name)
        return self.tid("project-select").get_attribute("value")

    def banner(self) -> str:
        b = self.tid("error-banner")
        return b.text if b.is_displayed() else ""

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        # Let transitions and lazy thumbnails settle.
        time.sleep(0.4)
        self.driver.save_screenshot(str(path))
        return path

    def drop(self, paths: list[Path], onto: str = "drop-zone"):
        """Drags `paths` from another X client and drops them on the element `onto` (a real OS
        drop, the only kind that lets the app read what was dropped). The view on screen gets
        them: the drop zone in Upload, `cloud-source` in Cloud import, `builder-source` in the
        asset builder."""
        target = self.rect(onto)
        assert target["w"] > 0 and target["h"] > 0, f"{onto} is not on screen"
        real_drag(self.display, paths, target)

    def invoke(self, command: str, args: dict) -> dict:
        """Calls an app command from page script, as any script in the page could: `{"ok": answer}`
        or `{"err": {code, message}}`, and `heard`, what its channels sent. An argument given
        as the string "channel" becomes a channel."""
        return self.driver.execute_async_script(
            """
            const [command, args, done] = arguments;
            const { invoke, Channel } = window.__TAURI__.core;
            const heard = [];
            const channel = () => { const c = new Channel(); c.onmessage = (m) => heard.push(m); return c; };
            const real = Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v === 'channel' ? channel() : v]));
            invoke(command, real).then(
              (ok) => setTimeout(() => done({ ok, heard }), 200),
              (err) => setTimeout(() => done({ err, heard }), 200));
            """,
            command,
            args,
        )

    def thumb_loads(self, url: str) -> int:
        """The width of the image at `url` as the page loads it (the `thumb` protocol), -1 when
        it does not load."""
        return self.driver.execute_async_script(
            "const [src, done] = arguments; const i = new Image();"
            "i.onload = () => done(i.naturalWidth); i.onerror = () => done(-1); i.src = src;",
            url,
        )

    def rect(self, testid: str) -> dict:
        return self.driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return {x: r.left + window.screenX, y: r.top + window.screenY, w: r.width, h: r.height};",
            self.tid(testid),
        )

    def set_value(self, testid: str, value: str):
        """Sets an input or textarea the way typing would, firing `input`."""
        self.driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            self.tid(testid),
            value,
        )

    def select(self, testid: str, value: str, within=None):
        el = within.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]') if within else self.tid(testid)
        self.driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            el,
            value,
        )

    def resize(self, width: int, height: int):
        """Sets the window's outer size (the default is 1180×760; 900×600 is the small laptop
        case) and waits for the page to take it."""
        self.driver.set_window_size(width, height)
        self.wait(lambda: abs(self.driver.execute_script("return window.outerWidth") - width) <= 2,
                  10, f"the window never became {width} wide")
        time.sleep(0.3)

    def covered_controls(self, testid: str) -> list[str]:
        """Every control in the element `testid` (and the header) that a click cannot reach:
        scrolled into view, the point at its centre belongs to something else, or part of it
        lies outside the window or the box that clips it. Empty when nothing sits under
        anything else."""
        return self.driver.execute_script(
            """
            const root = arguments[0];
            const controls = [...document.querySelectorAll('header button, header select'),
              ...root.querySelectorAll('button, input, select, textarea, iframe, a[href], th, [role=tab], [tabindex="0"]')];
            const name = (el) => `${el.tagName.toLowerCase()}${el.dataset.testid ? `[${el.dataset.testid}]` : ''}`
              + `${el.id ? `#${el.id}` : ''} "${(el.innerText || el.value || el.placeholder || '').trim().slice(0, 30)}"`;
            const bad = [];
            for (const el of controls) {
              const style = getComputedStyle(el);
              if (!el.getClientRects().length || style.visibility === 'hidden') continue;
              el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
              const r = el.getBoundingClientRect();
              if (r.width < 1 || r.height < 1) continue;
              if (r.left < -0.5 || r.top < -0.5 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5) {
                bad.push(`${name(el)} lies outside the window (${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)} in ${innerWidth}×${innerHeight})`);
                continue;
              }
              for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                const ps = getComputedStyle(p);
                if (ps.overflowX === 'visible' && ps.overflowY === 'visible') continue;
                const c = p.getBoundingClientRect();
                if (r.right > c.right + 0.5 || r.left < c.left - 0.5 || r.bottom > c.bottom + 0.5 || r.top < c.top - 0.5) {
                  bad.push(`${name(el)} is cut off by ${name(p)}`);
                }
                break;
              }
              const x = r.left + r.width / 2; const y = r.top + Math.min(r.height / 2, 10);
              const hit = document.elementFromPoint(x, y);
              if (!hit || (hit !== el && !el.contains(hit) && !hit.contains(el) && hit.control !== el)) {
                bad.push(`${name(el)} is under ${hit ? name(hit) : 'nothing'}`);
              }
            }
            return bad;
            """,
            self.tid(testid),
        )

    # --- the hub's side -----------------------------------------------------------------
    def catalog(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"file:{self.root / 'catalog.sqlite'}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def assets(self, project_name: str = "Default project") -> list[sqlite3.Row]:
        with self.catalog() as db:
            return db.execute(
                "SELECT a.* FROM assets a JOIN projects p ON p.id = a.project "
                "WHERE p.name = ? AND a.deleted = 0 ORDER BY a.seq",
                (project_name,),
            ).fetchall()

    def batches_of(self, asset_id: str) -> list[str]:
        with self.catalog() as db:
            return [
                r[0]
                for r in db.execute(
                    "SELECT b.name FROM asset_batches ab JOIN batches b ON b.id = ab.batch WHERE ab.asset = ? ORDER BY b.name",
                    (asset_id,),
                )
            ]

    def close(self):
        try:
            self.driver.quit()
        except WebDriverException:
            pass
        self.driver_proc.kill()
        self.driver_proc.wait()
        self.log.close()


@pytest.fixture
def app(display, tmp_path):
    a = App(display, tmp_path / "root", tmp_path / "config")
    yield a
    a.close()


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    """The generated media folder (good/ and bad/), made once per run."""
    out = tmp_path_factory.mktemp("media")
    subprocess.run(["bash", str(REPO / "tests/data/make_media_fixtures.sh"), str(out)], check=True)
    return out


class AngoHub:
    """A running stand-in of Ango Hub: its API URL and key, and reads through its documented API."""

    def __init__(self, url: str, key: str, store: str):
        self.url = url
        self.key = key
        self.store = store

    def get(self, path: str, **query) -> dict:
        """The `data` of a GET on the API."""
        q = f"?{urllib.parse.urlencode(query)}" if query else ""
        req = urllib.request.Request(f"{self.url}{path}{q}", headers={"apikey": self.key})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)["data"]

    def projects(self) -> list[dict]:
        return self.get("/v2/listProjects", page=1, limit=100)["projects"]

    def assets(self, project: str) -> list[dict]:
        """Every asset of a project, a page of 100 at a time."""
        out, page = [], 1
        while True:
            got = self.get(f"/v2/project/{project}/assets", page=page, limit=100)
            out.extend(got["assets"])
            if len(got["assets"]) < 100 or len(out) >= got["total"]:
                return out
            page += 1

    def content(self, data_url: str) -> bytes:
        """The bytes behind an asset's URL, through a signed URL as any reader gets them."""
        signed = self.get("/v2/getSignedUrl", url=data_url)["signedUrl"]
        with urllib.request.urlopen(signed, timeout=30) as r:
            return r.read()


@pytest.fixture
def ango_hub():
    """The strict stand-in of Ango Hub's documented API on loopback ports, with a key of its own;
    it serves until its standard input closes."""
    if not STANDIN.exists():
        pytest.fail(f"{STANDIN} is missing: build it with `cargo build --example ango_standin`")
    key = f"ango-{secrets.token_hex(8)}"
    proc = subprocess.Popen(
        [str(STANDIN)],
        env={**os.environ, "ANGO_STANDIN_KEY": key},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.match(r"listening on (\S+) key (\S+) store (\S+)", line)
        if not m:
            pytest.fail(f"the Ango Hub stand-in did not start: {line!r}")
        # Anything it prints later must not fill the pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield AngoHub(m.group(1), m.group(2), m.group(3))
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serve_folder(folder: Path):
    """A quiet web server on loopback for the files in `folder` (any other path answers 404);
    yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def real_drag(display: str, paths: list[Path], target: dict, while_held=None):
    """Drags `paths` from another X client onto the screen rectangle `target` (XDND); with
    `while_held`, calls it while the pointer is over the target with the button down, before
    the drop."""
    env = {**os.environ, "DISPLAY": display, "GSETTINGS_BACKEND": "memory", "NO_AT_BRIDGE": "1"}
    src_x, src_y = 1090, 690
    helper = subprocess.Popen(
        ["/usr/bin/python3", str(HERE / "drag_source.py"), str(src_x), str(src_y), *map(str, paths)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert helper.stdout.readline().strip() == "ready", "the drag source did not start"
        x0, y0 = src_x + 40, src_y + 30
        x1, y1 = int(target["x"] + target["w"] / 2), int(target["y"] + target["h"] / 2)

        def xdo(*args):
            subprocess.run(["xdotool", *map(str, args)], env=env, check=True)

        xdo("mousemove", x0, y0)
        time.sleep(0.2)
        xdo("mousedown", 1)
        for i in range(1, 13):
            xdo("mousemove", x0 + (x1 - x0) * i // 12, y0 + (y1 - y0) * i // 12)
            time.sleep(0.1)
        time.sleep(0.5)
        if while_held:
            while_held()
        xdo("mouseup", 1)
        helper.wait(timeout=15)
    finally:
        if helper.poll() is None:
            helper.kill()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, a screenshot of the window as it was (target/e2e-screenshots/failed-*)."""
    outcome = yield
    report = outcome.get_result()
    a = item.funcargs.get("app") if hasattr(item, "funcargs") else None
    if report.failed and call.when == "call" and isinstance(a, App):
        try:
            a.screenshot(f"failed-{item.name}")
        except Exception:  # noqa: BLE001 - the report matters more than the picture
            pass
