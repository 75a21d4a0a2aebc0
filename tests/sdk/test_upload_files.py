"""upload_files: the SDK reserves a name with getUploadUrl, PUTs the bytes (no content type, the
name unencoded in the query), then registers everything with one POST .../cloud. Checked through
get_assets and in the catalog and the blob folder: files present, bytes equal, batches, priority,
contextData and metadata stored."""

import gzip

import pytest
import requests
from imerit_ango.models.enums import ProjectType

from helpers import fail_message, new_project, png_bytes
from servers import s3  # noqa: F401 (the fixture)


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    made = {
        "cat.png": png_bytes(4, 5),
        "notes with spaces é.txt": "hello, wörld\n".encode(),
        "README": b"no extension at all\n",
        "brain.nii.gz": gzip.compress(b"\x5c\x01\x00\x00" + b"\x00" * 344),
        "odd.tar+gz": b"plus sign in the extension",
    }
    for name, data in made.items():
        (d / name).write_bytes(data)
    return d, made


def assets_by_external_id(sdk, pid):
    got = sdk.get_assets(pid, limit=100)["data"]
    return {a["externalId"]: a for a in got["assets"]}


def test_plain_paths_with_batches_and_priority(hub, sdk, files):
    d, made = files
    pid = new_project(sdk)
    b1 = sdk.create_batch(pid, "b1")["data"]["project"]["_id"]
    paths = [str(d / n) for n in made]
    r = sdk.upload_files(pid, paths, batches=["b1"], priority=7)
    assert r["status"] == "success", r
    assert r["data"]["assets"]["assetsCreated"] == len(paths)

    # SDK quirk: the external ID is the path string as given, not the file name.
    listed = assets_by_external_id(sdk, pid)
    assert set(listed) == set(paths)
    rows = {x["external_id"]: x for x in hub.asset_rows(pid)}
    assert set(rows) == set(paths)
    for name, data in made.items():
        path = str(d / name)
        a, row = listed[path], rows[path]
        assert a["priority"] == row["priority"] == 7
        assert a["batches"] == row["batches"] == [b1]
        assert a["size"] == row["size"] == len(data)
        assert row["data"] == a["data"]
        # The blob is under uploaded-data/<project>/<uuid hex>.<ext>, with the same bytes.
        blob = hub.blob_file(a["data"])
        assert blob.parent == hub.blob_dir(pid)
        assert blob.read_bytes() == data
        assert row["blob_key"] == f"uploaded-data/{pid}/{blob.name}"
        stem = blob.name.split(".", 1)[0]
        assert len(stem) == 32 and int(stem, 16) >= 0
        if name == "README":
            assert blob.name == stem, "no extension, no suffix"
        elif name == "brain.nii.gz":
            assert blob.name.endswith(".nii.gz")
    assert rows[str(d / "cat.png")]["kind"] == "image"
    # Exactly the uploaded files are in the project's folder.
    assert sorted(p.read_bytes() for p in hub.blob_dir(pid).iterdir()) == sorted(made.values())
    # The blob is served back by a signed URL the hub hands out.
    signed = hub.api("GET", "/v2/getSignedUrl", params={"url": listed[str(d / "cat.png")]["data"]})
    assert signed.status_code == 200
    assert requests.get(signed.json()["data"]["signedUrl"], timeout=30).content == made["cat.png"]


def test_dicts_with_external_id_context_and_metadata(hub, sdk, files):
    d, made = files
    pid = new_project(sdk)
    b1 = sdk.create_batch(pid, "b1")["data"]["project"]["_id"]
    b2 = sdk.create_batch(pid, "b2")["data"]["project"]["_id"]
    items = [
        {"data": str(d / "cat.png"), "externalId": "cat-1", "contextData": {"who": "tom", "n": 3},
         "metadata": {"width": 4, "height": 5}},
        {"data": str(d / "notes with spaces é.txt"), "externalId": "notes"},
    ]
    r = sdk.upload_files(pid, items, batches=[b1, "b2"], priority=-3)
    assert r["status"] == "success", r
    listed = assets_by_external_id(sdk, pid)
    assert set(listed) == {"cat-1", "notes"}
    cat = listed["cat-1"]
    assert cat["contextData"] == {"who": "tom", "n": 3}
    assert cat["metadata"] == {"width": 4, "height": 5}
    assert cat["batches"] == [b1, b2] and cat["priority"] == -3
    # The SDK sends contextData/metadata null when not given: stored as empty objects.
    assert listed["notes"]["contextData"] == {} and listed["notes"]["metadata"] == {}
    rows = {x["external_id"]: x for x in hub.asset_rows(pid)}
    assert rows["cat-1"]["context_data"] == {"who": "tom", "n": 3}
    assert rows["cat-1"]["metadata"] == {"width": 4, "height": 5}
    assert rows["cat-1"]["batches"] == [b1, b2]
    assert rows["notes"]["priority"] == -3
    assert hub.blob_file(cat["data"]).read_bytes() == made["cat.png"]
    assert hub.blob_file(listed["notes"]["data"]).read_bytes() == made["notes with spaces é.txt"]


def test_relative_paths_give_relative_external_ids(hub, sdk, files, monkeypatch):
    d, made = files
    pid = new_project(sdk)
    monkeypatch.chdir(d)
    sdk.upload_files(pid, ["cat.png"])
    [row] = hub.asset_rows(pid)
    assert row["external_id"] == "cat.png"
    assert hub.blob_file(row["data"]).read_bytes() == made["cat.png"]


def test_pct_projects_refuse_local_files(hub, sdk, files):
    d, _ = files
    pid = new_project(sdk, "lidar", project_type=ProjectType.PCT)
    with pytest.raises(Exception, match="not supported for PCT"):
        sdk.upload_files(pid, [str(d / "cat.png")])
    assert hub.asset_rows(pid) == []
    assert hub.query("SELECT * FROM reservations WHERE project = ?", pid) == []


def test_unknown_project_is_refused_before_any_upload(hub, sdk, files):
    d, _ = files
    with pytest.raises(Exception, match="does not exist"):
        sdk.upload_files("000000000000000000000000", [str(d / "cat.png")])


def test_unknown_batch_fails_after_the_bytes_were_sent(hub, sdk, files):
    # SDK quirk: batch names are resolved only after every file was PUT, so the files stay on
    # the hub unregistered.
    d, made = files
    pid = new_project(sdk)
    with pytest.raises(Exception, match="Batch nope not found"):
        sdk.upload_files(pid, [str(d / "cat.png")], batches=["nope"])
    assert hub.asset_rows(pid) == []
    assert [p.read_bytes() for p in hub.blob_dir(pid).iterdir()] == [made["cat.png"]]


def test_storage_id_puts_the_files_into_the_bucket(hub, sdk, files, s3):
    d, made = files
    pid = new_project(sdk)
    r = hub.api("POST", "/v2/storages", json=s3.storage_body("uploads-bucket"))
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["storage"]["_id"]
    # getUploadUrl with storageId hands out a presigned PUT into the bucket (s3s-fs on
    # 127.0.0.1); the assets reference the objects, and nothing lands on the hub.
    r = sdk.upload_files(pid, [{"data": str(d / "cat.png"), "externalId": "cat.png"}], storage_id=sid)
    assert r["status"] == "success", r
    [row] = hub.asset_rows(pid)
    assert row["storage"] == sid and row["data"].startswith(f"{s3.endpoint}/photos/uploaded-data/{pid}/")
    assert row["size"] == len(made["cat.png"])
    signed = hub.api("GET", "/v2/getSignedUrl", params={"url": row["data"], "storageId": sid})
    assert signed.status_code == 200, signed.text
    assert requests.get(signed.json()["data"]["signedUrl"], timeout=10).content == made["cat.png"]
    assert not hub.blob_dir(pid).exists() or not any(hub.blob_dir(pid).iterdir())
    r = hub.api("GET", "/v2/getUploadUrl",
                params={"name": "x.png", "project": pid, "storageId": "000000000000000000000000"})
    assert r.status_code == 404 and "storageId" in fail_message(r)


def test_put_without_content_type_and_unencoded_names(hub, sdk, files):
    """What the SDK does by hand, step by step: the raw name in the query, requests.put with
    no content type; the hub stores the bytes whole."""
    d, made = files
    pid = new_project(sdk)
    r = hub.api("GET", f"/v2/getUploadUrl?name=raw name+x.png&project={pid}&type=assets")
    assert r.status_code == 201, r.text
    url = r.json()["data"]["uploadUrl"]
    put = requests.put(url, data=made["cat.png"], timeout=30)
    assert put.status_code == 200, put.text
    assert "content-type" not in {k.lower() for k in put.request.headers}
    blob = hub.blob_file(url)
    # `+` in a query string is a space, as in every form decoder.
    assert blob.name == "raw name x.png"
    assert blob.read_bytes() == made["cat.png"]
    # A name that climbs out of the folder is refused, naming `name`.
    r = hub.api("GET", f"/v2/getUploadUrl?name=../x.png&project={pid}")
    assert r.status_code == 400 and "name" in fail_message(r)
