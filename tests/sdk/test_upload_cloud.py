"""upload_files_cloud: public URLs with contextData, metadata, per-asset and request-level
batches, priority, storage_id, and inline HTML; plus what a user sees for each mistake. The SDK
returns the hub's JSON whatever the status here (it does not raise), so failures are read from
that JSON."""

import json

import pytest
import requests

from helpers import fail_message, new_project
from servers import s3  # noqa: F401 (the fixture)


def test_public_urls_with_every_field(hub, sdk):
    pid = new_project(sdk)
    b1 = sdk.create_batch(pid, "b1")["data"]["project"]["_id"]
    b2 = sdk.create_batch(pid, "b2")["data"]["project"]["_id"]
    assets = [
        {"data": "https://example.com/img/cat%201.jpg", "externalId": "cat",
         "metadata": {"width": 640, "height": 480}, "contextData": {"k": "v", "n": [1, 2]}},
        {"data": "https://example.com/vid/a.mp4", "externalId": "clip",
         "metadata": {"frameRate": 25}, "batches": ["b2"]},
        {"data": "https://example.com/doc.pdf", "externalId": "doc",
         "attachments": [{"type": "TEXT", "value": "a note"}]},
    ]
    r = sdk.upload_files_cloud(pid, assets, batches=["b1"], priority=42)
    assert r["status"] == "success", r
    assert r["data"]["assets"]["assetsCreated"] == 3
    assert r["data"]["assets"]["tasksCreated"] == 3
    ids = r["data"]["assetIds"]

    got = {a["externalId"]: a for a in sdk.get_assets(pid)["data"]["assets"]}
    rows = {x["external_id"]: x for x in hub.asset_rows(pid)}
    assert [rows[e]["id"] for e in ("cat", "clip", "doc")] == ids
    cat, clip, doc = got["cat"], got["clip"], got["doc"]
    assert cat["data"] == rows["cat"]["data"] == "https://example.com/img/cat%201.jpg"
    assert cat["metadata"] == rows["cat"]["metadata"] == {"width": 640, "height": 480}
    assert cat["contextData"] == rows["cat"]["context_data"] == {"k": "v", "n": [1, 2]}
    # Request-level batches apply where an asset names none; an asset's own batches win.
    assert cat["batches"] == rows["cat"]["batches"] == [b1]
    assert clip["batches"] == rows["clip"]["batches"] == [b2]
    assert clip["metadata"] == rows["clip"]["metadata"] == {"frameRate": 25}
    assert doc["attachments"] == rows["doc"]["extra"]["attachments"]
    assert {rows[e]["priority"] for e in rows} == {42}
    assert (rows["cat"]["kind"], rows["clip"]["kind"], rows["doc"]["kind"]) == ("image", "video", "pdf")
    # Nothing is copied for a cloud import.
    assert not hub.blob_dir(pid).exists() or not any(hub.blob_dir(pid).iterdir())


def test_storage_id_is_stored_on_every_asset(hub, sdk, s3):
    pid = new_project(sdk)
    # A real private bucket (s3s-fs on 127.0.0.1): objects are checked to exist before import.
    r = hub.api("POST", "/v2/storages", json=s3.storage_body("private-bucket"))
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["storage"]["_id"]
    urls = []
    for i in range(2):
        r = hub.api("GET", "/v2/getUploadUrl",
                    params={"name": f"{i}.png", "project": pid, "type": "assets", "storageId": sid})
        assert r.status_code == 201, r.text
        put = r.json()["data"]["uploadUrl"]
        assert requests.put(put, data=b"\x89PNG\r\n\x1a\n", timeout=10).status_code == 200
        urls.append(put.split("?")[0])
    r = sdk.upload_files_cloud(pid, [{"data": u, "externalId": u[-5:]} for u in urls], storage_id=sid)
    assert r["status"] == "success", r
    got = sdk.get_assets(pid)["data"]["assets"]
    assert [a["storage"] for a in got] == [sid, sid]
    assert [x["storage"] for x in hub.asset_rows(pid)] == [sid, sid]
    # The storage is in use, so it cannot be deleted under the assets...
    with pytest.raises(Exception) as e:
        sdk.delete_storage(sid)
    msg = fail_message(e.value)
    assert sid in msg and "2 asset" in msg
    assert hub.query("SELECT id FROM storages WHERE id = ?", sid) == [{"id": sid}]
    # ...until they are gone.
    sdk.delete_assets(pid, [a["_id"] for a in got])
    assert sdk.delete_storage(sid)["data"]["storage"]["_id"] == sid
    assert hub.query("SELECT id FROM storages WHERE id = ?", sid) == []


def test_unknown_storage_id(hub, sdk):
    pid = new_project(sdk)
    asset = {"data": "https://example.com/a.png", "externalId": "a"}
    # SDK bug: `raise "Storage ID is Invalid!"` raises a string, which Python refuses.
    with pytest.raises(TypeError, match="exceptions must derive from BaseException"):
        sdk.upload_files_cloud(pid, [dict(asset)], storage_id="000000000000000000000000")
    # The same request sent past the SDK's check: a 404 naming the field and the ID.
    r = hub.api("POST", f"/v2/project/{pid}/cloud",
                json={"assets": [{**asset, "storage": "000000000000000000000000"}]})
    assert r.status_code == 404
    msg = fail_message(r)
    assert "assets[0].storage" in msg and "000000000000000000000000" in msg
    assert hub.asset_rows(pid) == []


def test_inline_html_with_upload_local_true(hub, sdk):
    """What upload_files_with_asset_builder sends: inline HTML with uploadLocal "true"."""
    pid = new_project(sdk)
    html = "<div><p>Hello</p><img src='https://example.com/a.png'></div>"
    md = "# Title\n\nSome *markdown* with a link https://example.com/x.txt"
    r = sdk.upload_files_cloud(pid, [
        {"data": html, "externalId": "h", "contextData": {"c": "1"}, "classifications": [], "batches": []},
        {"data": md, "externalId": "m"},
    ], upload_local="true")
    assert r["status"] == "success", r
    rows = {x["external_id"]: x for x in hub.asset_rows(pid)}
    assert rows["h"]["data"] == html and rows["h"]["kind"] == "html"
    assert rows["h"]["context_data"] == {"c": "1"} and rows["h"]["pre_labeled"] == 0
    assert rows["m"]["data"] == md and rows["m"]["kind"] is None
    got = {a["externalId"]: a for a in sdk.get_assets(pid)["data"]["assets"]}
    assert got["h"]["data"] == html and got["m"]["data"] == md


@pytest.mark.parametrize("asset, extra, field", [
    ({"data": "https://example.com/a.png"}, {}, "assets[0].externalId"),
    ({"externalId": "a"}, {}, "assets[0].data"),
    ({"data": "https://example.com/a.png", "externalId": "a", "metadata": "big"}, {}, "assets[0].metadata"),
    ({"data": "https://example.com/a.png", "externalId": "a", "contextData": [1]}, {}, "assets[0].contextData"),
    ({"data": "https://example.com/a.png", "externalId": "a"}, {"priority": 1001}, "priority"),
    ({"data": "https://example.com/a.png", "externalId": "a"}, {"upload_local": "true"}, "assets[0].data"),
    ({"data": "https://example.com/a.png", "externalId": "a"}, {"upload_local": "yes"}, "uploadLocal"),
])
def test_mistakes_come_back_as_fail_envelopes(hub, sdk, asset, extra, field):
    pid = new_project(sdk)
    r = sdk.upload_files_cloud(pid, [asset], **extra)
    msg = fail_message(r)
    assert field in msg, msg
    assert hub.asset_rows(pid) == []
    # The status is a 4xx (the SDK hides it; ask again without the SDK).
    body = {"assets": [asset], "uploadLocal": extra.get("upload_local"), "priority": extra.get("priority", 0)}
    raw = hub.api("POST", f"/v2/project/{pid}/cloud", data=json.dumps(body),
                  headers={"Content-Type": "application/json"})
    assert 400 <= raw.status_code < 500 and field in fail_message(raw)


def test_unknown_batches(hub, sdk):
    pid = new_project(sdk)
    asset = {"data": "https://example.com/a.png", "externalId": "a"}
    # The SDK maps names to IDs first and raises for an unknown one...
    with pytest.raises(Exception, match="Batch nope not found"):
        sdk.upload_files_cloud(pid, [dict(asset)], batches=["nope"])
    with pytest.raises(Exception, match="Batch nope not found"):
        sdk.upload_files_cloud(pid, [{**asset, "batches": ["nope"]}])
    # ...and the hub does the same for requests that skip the SDK.
    r = hub.api("POST", f"/v2/project/{pid}/cloud?batches=%5B%22nope%22%5D", json={"assets": [asset]})
    assert r.status_code == 404 and "nope" in fail_message(r)
    r = hub.api("POST", f"/v2/project/{pid}/cloud", json={"assets": [{**asset, "batches": ["nope"]}]})
    assert r.status_code == 404 and "assets[0].batches" in fail_message(r)
    assert hub.asset_rows(pid) == []
