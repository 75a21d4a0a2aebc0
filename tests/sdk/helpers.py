"""What the SDK tests share: the running hub (catalog and blob access), fail-envelope parsing,
and tiny generated files."""

import json
import sqlite3
import struct
import subprocess
import urllib.parse
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import requests
from imerit_ango.sdk import SDK


@dataclass
class Hub:
    url: str
    key: str
    root: Path
    proc: subprocess.Popen
    log_path: Path
    stdout_lines: list
    # (method, url, status) of every answer seen through sdk() clients and api().
    responses: list = field(default_factory=list)

    def _record(self, response, *args, **kwargs):
        self.responses.append((response.request.method, response.url, response.status_code))

    def sdk(self) -> SDK:
        client = SDK(self.key, host=self.url)
        client.session.hooks["response"].append(self._record)
        return client

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A raw call with the API key, for requests the SDK cannot make."""
        headers = {"apikey": self.key, **kwargs.pop("headers", {})}
        r = requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        self._record(r)
        return r

    # ---- the catalog, read directly ------------------------------------------------------

    def query(self, sql: str, *args) -> list:
        """Rows of a read-only query on the hub's catalog, as dicts."""
        uri = f"file:{self.root / 'catalog.sqlite'}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, args).fetchall()]
        finally:
            conn.close()

    def asset_rows(self, project: str, live_only: bool = True) -> list:
        rows = self.query(
            "SELECT * FROM assets WHERE project = ?" + (" AND deleted = 0" if live_only else "")
            + " ORDER BY seq",
            project,
        )
        for r in rows:
            for col in ("metadata", "context_data", "extra"):
                r[col] = json.loads(r[col])
            r["batches"] = [
                b["batch"]
                for b in self.query(
                    "SELECT ab.batch FROM asset_batches ab JOIN batches b ON b.id = ab.batch"
                    " WHERE ab.asset = ? ORDER BY b.seq",
                    r["id"],
                )
            ]
        return rows

    def asset_row(self, asset_id: str) -> dict:
        rows = self.query("SELECT project FROM assets WHERE id = ?", asset_id)
        assert rows, f"asset {asset_id} is not in the catalog"
        return next(r for r in self.asset_rows(rows[0]["project"], False) if r["id"] == asset_id)

    def batch_rows(self, project: str) -> list:
        return self.query("SELECT id, name FROM batches WHERE project = ? ORDER BY seq", project)

    # ---- blobs ---------------------------------------------------------------------------

    def blob_dir(self, project: str) -> Path:
        return self.root / "uploaded-data" / project

    def blob_file(self, data_url: str) -> Path:
        """The file on disk behind a hub `data` URL."""
        assert data_url.startswith(self.url + "/uploaded-data/"), data_url
        rest = data_url[len(self.url) + 1:].split("?")[0]
        return self.root.joinpath(*[urllib.parse.unquote(p) for p in rest.split("/")])

    # ---- logs ----------------------------------------------------------------------------

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") + "\n".join(self.stdout_lines)


def fail_message(source) -> str:
    """The message of Ango's fail envelope, from an SDK exception (`make_request` raises
    `Exception(response.text)`), a requests response, or an already parsed body."""
    if isinstance(source, requests.Response):
        body = source.json()
    elif isinstance(source, BaseException):
        body = json.loads(str(source))
    else:
        body = source
    assert body.get("status") == "fail", f"not a fail envelope: {body!r}"
    assert isinstance(body.get("message"), str) and body["message"], body
    return body["message"]


def png_bytes(width: int = 2, height: int = 3) -> bytes:
    """A real (tiny, grey) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def new_project(sdk: SDK, name: str = "P", **kwargs) -> str:
    r = sdk.create_project(name, **kwargs)
    assert r["status"] == "success", r
    return r["data"]["project"]["_id"]
