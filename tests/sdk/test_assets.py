"""get_assets (paging and each filter) and delete_assets, compared with the catalog."""

import pytest

from helpers import fail_message, new_project, png_bytes


@pytest.fixture(scope="module")
def project(hub):
    """12 cloud assets: batches a/b spread over them, one pre-labeled, awkward external IDs."""
    sdk = hub.sdk()
    pid = new_project(sdk, "listing")
    ba = sdk.create_batch(pid, "a")["data"]["project"]["_id"]
    bb = sdk.create_batch(pid, "b")["data"]["project"]["_id"]
    assets = []
    for i in range(12):
        batches = [n for n, on in (("a", i % 2 == 0), ("b", i % 3 == 0)) if on]
        assets.append({"data": f"https://example.com/{i}.png", "externalId": f"img {i}.png",
                       "batches": batches})
    assets[5]["classifications"] = [{"title": "Animal", "schemaId": "s1", "answer": "cat"}]
    assets[7]["externalId"] = "crème brûlée.png"
    assets[8]["externalId"] = "a&b.png"
    assets[9]["externalId"] = "a+b.png"
    r = sdk.upload_files_cloud(pid, assets)
    assert r["status"] == "success", r
    assert r["data"]["assets"]["preLabelsCount"] == 1
    return {"id": pid, "a": ba, "b": bb, "ids": r["data"]["assetIds"]}


def ids_of(resp):
    return [a["_id"] for a in resp["data"]["assets"]]


def test_paging(hub, sdk, project):
    pid, ids = project["id"], project["ids"]
    first = sdk.get_assets(pid)  # page=1, limit=10
    assert first["data"]["total"] == 12
    assert ids_of(first) == ids[:10]
    assert ids_of(sdk.get_assets(pid, page=2)) == ids[10:]
    assert ids_of(sdk.get_assets(pid, page=3)) == []
    pages = [ids_of(sdk.get_assets(pid, page=p, limit=5)) for p in (1, 2, 3, 4)]
    assert pages == [ids[:5], ids[5:10], ids[10:], []]
    assert [r["id"] for r in hub.asset_rows(pid)] == ids


@pytest.mark.parametrize("page, limit, field", [(0, 10, "page"), (1, 0, "limit"), (1, 1001, "limit")])
def test_bad_paging_is_a_fail_envelope(hub, sdk, project, page, limit, field):
    with pytest.raises(Exception) as e:
        sdk.get_assets(project["id"], page=page, limit=limit)
    assert f"`{field}`" in fail_message(e.value)


def test_filter_by_id_and_external_id(hub, sdk, project):
    pid, ids = project["id"], project["ids"]
    r = sdk.get_assets(pid, filters={"_id": ids[3]})
    assert ids_of(r) == [ids[3]] and r["data"]["total"] == 1
    r = sdk.get_assets(pid, filters={"externalId": "img 4.png"})
    assert ids_of(r) == [ids[4]]
    r = sdk.get_assets(pid, filters={"externalId": "crème brûlée.png"})
    assert ids_of(r) == [ids[7]]
    [row] = hub.query("SELECT id FROM assets WHERE project = ? AND external_id = ?", pid, "crème brûlée.png")
    assert row["id"] == ids[7]
    assert sdk.get_assets(pid, filters={"externalId": "nothing"})["data"] == {
        "assets": [], "total": 0, "page": 1, "limit": 10}


def test_filter_by_batches_needs_all(hub, sdk, project):
    pid, ids, a, b = project["id"], project["ids"], project["a"], project["b"]
    in_a = [ids[i] for i in range(12) if i % 2 == 0]
    in_b = [ids[i] for i in range(12) if i % 3 == 0]
    in_both = [ids[i] for i in range(12) if i % 6 == 0]
    assert ids_of(sdk.get_assets(pid, limit=100, filters={"batches": [a]})) == in_a
    assert ids_of(sdk.get_assets(pid, limit=100, filters={"batches": [b]})) == in_b
    assert ids_of(sdk.get_assets(pid, limit=100, filters={"batches": [a, b]})) == in_both
    # Names work as well as IDs.
    assert ids_of(sdk.get_assets(pid, limit=100, filters={"batches": ["a", "b"]})) == in_both
    db_both = hub.query(
        "SELECT a.id FROM assets a WHERE a.project = ?"
        " AND EXISTS (SELECT 1 FROM asset_batches x WHERE x.asset = a.id AND x.batch = ?)"
        " AND EXISTS (SELECT 1 FROM asset_batches x WHERE x.asset = a.id AND x.batch = ?) ORDER BY seq",
        pid, a, b)
    assert [r["id"] for r in db_both] == in_both
    with pytest.raises(Exception) as e:
        sdk.get_assets(pid, filters={"batches": ["zzz"]})
    assert "zzz" in fail_message(e.value)


def test_filter_by_pre_labels(hub, sdk, project):
    pid, ids = project["id"], project["ids"]
    assert ids_of(sdk.get_assets(pid, filters={"isPreLabeled": True})) == [ids[5]]
    rest = sdk.get_assets(pid, limit=100, filters={"isPreLabeled": False})
    assert ids_of(rest) == [i for i in ids if i != ids[5]]
    row = hub.asset_row(ids[5])
    assert row["pre_labeled"] == 1
    assert row["extra"]["classifications"] == [{"title": "Animal", "schemaId": "s1", "answer": "cat"}]


def test_filter_mistakes(hub, sdk, project):
    with pytest.raises(Exception) as e:
        sdk.get_assets(project["id"], filters={"color": "red"})
    assert "filters.color" in fail_message(e.value)
    with pytest.raises(Exception) as e:
        sdk.get_assets(project["id"], filters={"isPreLabeled": "yes"})
    assert "filters.isPreLabeled" in fail_message(e.value)
    with pytest.raises(Exception) as e:
        sdk.get_assets("000000000000000000000000")
    assert "not found" in fail_message(e.value)


def test_sdk_does_not_encode_filters(hub, sdk, project):
    """SDK quirk: `filters` goes into the URL unencoded. `&` cuts the JSON short (the hub says
    which parameter is broken), and `+` arrives as a space. Encoded properly, both match."""
    pid, ids = project["id"], project["ids"]
    with pytest.raises(Exception) as e:
        sdk.get_assets(pid, filters={"externalId": "a&b.png"})
    assert "filters" in fail_message(e.value)
    assert sdk.get_assets(pid, filters={"externalId": "a+b.png"})["data"]["total"] == 0
    for ext, i in (("a&b.png", 8), ("a+b.png", 9)):
        r = hub.api("GET", f"/v2/project/{pid}/assets", params={"filters": f'{{"externalId": "{ext}"}}'})
        assert r.status_code == 200 and [a["_id"] for a in r.json()["data"]["assets"]] == [ids[i]]


def test_delete_assets(hub, sdk, tmp_path):
    pid = new_project(sdk, "deleting")
    f = tmp_path / "keep.png"
    f.write_bytes(png_bytes())
    sdk.upload_files(pid, [{"data": str(f), "externalId": "up"}])
    sdk.upload_files_cloud(pid, [{"data": "https://example.com/x.png", "externalId": f"c{i}"} for i in range(3)])
    ids = [r["id"] for r in hub.asset_rows(pid)]
    up_blob = hub.blob_file(hub.asset_rows(pid)[0]["data"])
    r = sdk.delete_assets(pid, [ids[0], ids[2]])
    assert r["status"] == "success" and r["data"]["deletedCount"] == 2
    assert ids_of(sdk.get_assets(pid)) == [ids[1], ids[3]]
    assert sdk.get_assets(pid)["data"]["total"] == 2
    # Soft delete: the rows stay, marked; the uploaded file stays too.
    deleted = {r["id"]: r["deleted"] for r in hub.asset_rows(pid, live_only=False)}
    assert deleted == {ids[0]: 1, ids[1]: 0, ids[2]: 1, ids[3]: 0}
    assert up_blob.read_bytes() == f.read_bytes()
    assert sdk.get_assets(pid, filters={"_id": ids[0]})["data"]["total"] == 0
    # Deleting again (or an unknown ID) deletes nothing.
    assert sdk.delete_assets(pid, [ids[0], "000000000000000000000000"])["data"]["deletedCount"] == 0
    with pytest.raises(Exception) as e:
        sdk.delete_assets("000000000000000000000000", [ids[1]])
    assert "not found" in fail_message(e.value)
    r = hub.api("DELETE", f"/v2/project/{pid}/assets", json={"project": "other", "assets": [ids[1]]})
    assert r.status_code == 400 and "project" in fail_message(r)
    assert ids_of(sdk.get_assets(pid)) == [ids[1], ids[3]]
