"""A real S3 server for the SDK tests that reach private buckets: s3s-fs (it checks SigV4
signatures and expiry), installed by `scripts/servers.sh` under the cargo target dir and started on
127.0.0.1 for one test module. A missing install fails the test, naming that script.

Use it by importing the fixture into a test module: `from servers import s3  # noqa: F401`."""

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
S3_ACCESS_KEY = "AKIDSDKTESTSERVER001"
S3_SECRET_KEY = "sdk-test-secret-key-for-s3s-fs-0123456789"
BUCKET = "photos"


def servers_bin() -> Path:
    given = os.environ.get("ASSETDROP_TEST_SERVERS")
    if given:
        return Path(given)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "servers" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3:
    endpoint: str

    def storage_body(self, name: str) -> dict:
        """The REST body registering this server's bucket as a storage integration."""
        return {"name": name, "type": "aws", "bucket": BUCKET, "region": "us-east-1",
                "endpoint": self.endpoint,
                "credentials": {"accessKeyId": S3_ACCESS_KEY, "secretAccessKey": S3_SECRET_KEY}}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    binary = servers_bin() / "s3s-fs"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run scripts/servers.sh (it installs the test storage servers)")
    root = tmp_path_factory.mktemp("s3-data")
    (root / BUCKET).mkdir()
    port = free_port()
    log = open(root.parent / f"{root.name}.log", "wb")
    proc = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--access-key", S3_ACCESS_KEY,
         "--secret-key", S3_SECRET_KEY, str(root)],
        stdout=log, stderr=log,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"s3s-fs did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
    yield S3(endpoint=f"http://127.0.0.1:{port}")
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
