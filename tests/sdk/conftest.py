"""Fixtures that run the official Ango SDK (`imerit_ango`) against a real `assetdrop serve`.

Each test module gets a fresh hub: the real binary (`target/debug/assetdrop`, or
`$ASSETDROP_BIN`) on 127.0.0.1 with a random port, a random API key and a temp root. Tests talk
to it through `SDK(api_key, host=url)` and check what the hub stored by reading its catalog
(`ROOT/catalog.sqlite`, opened read-only) and its blob folder (`ROOT/uploaded-data/<project>/`).

Every HTTP answer the SDK's session (and `Hub.api`) receives is recorded; after each test the hub
must still be running and must not have answered any 5xx other than the deliberate 501s.
"""

import os
import secrets
import subprocess
import threading
from pathlib import Path

import pytest

from helpers import Hub

REPO = Path(__file__).resolve().parents[2]


def hub_binary() -> Path:
    given = os.environ.get("ASSETDROP_BIN")
    if given:
        return Path(given)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "assetdrop"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    binary = hub_binary()
    if not binary.exists():
        pytest.fail(f"{binary} does not exist: run `cargo build --locked` (tests/sdk/run.sh does)")
    root = tmp_path_factory.mktemp("hub-root")
    key = secrets.token_hex(16)
    log_path = root.parent / f"{root.name}.stderr.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(binary), "serve", "--root", str(root), "--listen", "127.0.0.1:0", "--api-key", key],
        stdout=subprocess.PIPE,
        stderr=log,
        # Log as much as the hub can, so the "no secret in the logs" checks see everything.
        env={**os.environ, "ASSETDROP_LOG": "debug"},
    )
    first = proc.stdout.readline().decode().strip()
    if not first.startswith("listening on "):
        proc.kill()
        proc.wait()
        log.close()
        pytest.fail(f"first line of serve was {first!r}; stderr:\n{log_path.read_text()}")
    url = first.removeprefix("listening on ")
    stdout_lines = [first]

    def drain():
        # Keep reading so the hub never writes into a full pipe.
        for line in proc.stdout:
            stdout_lines.append(line.decode(errors="replace").rstrip("\n"))

    threading.Thread(target=drain, daemon=True).start()
    h = Hub(url=url, key=key, root=root, proc=proc, log_path=log_path, stdout_lines=stdout_lines)
    yield h
    proc.terminate()
    try:
        code = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    log.close()
    assert code == 0, f"the hub exited with {code} on SIGTERM; stderr:\n{log_path.read_text()}"


@pytest.fixture
def sdk(hub):
    """The official SDK pointed at the hub (a new client per test, as a script would make)."""
    return hub.sdk()


@pytest.fixture(autouse=True)
def hub_stays_healthy(request):
    if "hub" not in request.fixturenames:
        yield
        return
    hub = request.getfixturevalue("hub")
    seen = len(hub.responses)
    yield
    assert hub.proc.poll() is None, f"the hub died; stderr:\n{hub.log_text()}"
    bad = [r for r in hub.responses[seen:] if r[2] >= 500 and r[2] != 501]
    assert not bad, f"the hub answered 5xx: {bad}; stderr:\n{hub.log_text()}"
