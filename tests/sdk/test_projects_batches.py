"""create_project, get_project, list_projects, create_batch, create_batches, get_batches,
assign_batches: each answer checked through the SDK and again in the hub's catalog."""

import pytest
from imerit_ango.models.enums import ProjectType

from helpers import fail_message, new_project


def test_create_and_get_project(hub, sdk):
    r = sdk.create_project("Cats", "pictures of cats")
    assert r["status"] == "success"
    p = r["data"]["project"]
    assert (p["name"], p["description"], p["type"]) == ("Cats", "pictures of cats", "ango")
    assert p["batches"] == [] and p["assetBuilderTemplates"] == []
    [row] = hub.query("SELECT * FROM projects WHERE id = ?", p["_id"])
    assert (row["name"], row["description"], row["type"]) == ("Cats", "pictures of cats", "ango")

    got = sdk.get_project(p["_id"])
    assert got["status"] == "success"
    assert got["data"]["project"]["_id"] == p["_id"]
    assert got["data"]["project"]["name"] == "Cats"


@pytest.mark.parametrize("kind", [ProjectType.Ango, ProjectType.PCT, ProjectType.IFrame])
def test_create_project_types(hub, sdk, kind):
    # No description: the SDK sends "".
    pid = new_project(sdk, f"typed {kind.value}", project_type=kind)
    assert sdk.get_project(pid)["data"]["project"]["type"] == kind.value
    [row] = hub.query("SELECT type, description FROM projects WHERE id = ?", pid)
    assert row == {"type": kind.value, "description": ""}


def test_list_projects_pages(hub, sdk):
    for i in range(3):
        new_project(sdk, f"list {i}")
    total = hub.query("SELECT COUNT(*) AS n FROM projects")[0]["n"]
    r = sdk.list_projects()
    assert r["data"]["total"] == total
    assert len(r["data"]["projects"]) == min(total, 10)
    seen = []
    page = 1
    while True:
        got = sdk.list_projects(page=page, limit=2)["data"]
        assert got["total"] == total
        if not got["projects"]:
            break
        assert len(got["projects"]) <= 2
        seen += [p["_id"] for p in got["projects"]]
        page += 1
    all_ids = {r["id"] for r in hub.query("SELECT id FROM projects")}
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == all_ids


def test_project_mistakes_are_fail_envelopes(hub, sdk):
    with pytest.raises(Exception) as e:
        sdk.get_project("000000000000000000000000")
    assert "not found" in fail_message(e.value)
    with pytest.raises(Exception) as e:
        sdk.create_project("")
    assert "name" in fail_message(e.value)
    with pytest.raises(Exception) as e:
        sdk.list_projects(page=1, limit=0)
    assert "limit" in fail_message(e.value)
    with pytest.raises(Exception) as e:
        sdk.list_projects(page=0)
    assert "page" in fail_message(e.value)
    r = hub.api("POST", "/v2/project", json={"name": "x", "type": "video"})
    assert r.status_code == 400 and "type" in fail_message(r)
    r = hub.api("GET", "/v2/listProjects", headers={"apikey": "wrong"})
    assert r.status_code == 401 and fail_message(r) == "Invalid API KEY"


def test_create_batch_and_get_batches(hub, sdk):
    pid = new_project(sdk)
    r = sdk.create_batch(pid, "first")
    assert r["status"] == "success"
    b = r["data"]["project"]  # where the SDK's docstring says the created batch is
    assert b["name"] == "first" and len(b["_id"]) == 24
    assert hub.batch_rows(pid) == [{"id": b["_id"], "name": "first"}]
    # The same name again is the same batch, not a second one.
    again = sdk.create_batch(pid, "first")["data"]["project"]
    assert again["_id"] == b["_id"]
    assert len(hub.batch_rows(pid)) == 1
    assert sdk.get_batches(pid) == [{"_id": b["_id"], "name": "first"}]


def test_create_batches_sends_the_full_list(hub, sdk):
    pid = new_project(sdk)
    first = sdk.create_batch(pid, "b1")["data"]["project"]["_id"]
    # The SDK reads the batches, keeps the new names and POSTs existing + new as the full list.
    r = sdk.create_batches(pid, ["b1", "b2", "b3"])
    # SDK quirk: the raw POST response comes back, not a list of batches.
    assert r["status"] == "success"
    names = [b["name"] for b in r["data"]["batches"]]
    assert names == ["b1", "b2", "b3"]
    rows = hub.batch_rows(pid)
    assert [x["name"] for x in rows] == ["b1", "b2", "b3"]
    assert rows[0]["id"] == first, "the existing batch keeps its ID"
    assert sdk.get_batches(pid) == [{"_id": x["id"], "name": x["name"]} for x in rows]
    # Nothing new: the SDK returns [] without calling the hub, and nothing changes.
    assert sdk.create_batches(pid, ["b2", "b1"]) == []
    assert hub.batch_rows(pid) == rows


def test_batch_mistakes_are_fail_envelopes(hub, sdk):
    pid = new_project(sdk)
    with pytest.raises(Exception) as e:
        sdk.create_batch(pid, "")
    assert "name" in fail_message(e.value)
    with pytest.raises(Exception) as e:
        sdk.create_batches(pid, ["dup", "dup"])
    msg = fail_message(e.value)
    assert "batches[1].name" in msg and "dup" in msg
    with pytest.raises(Exception) as e:
        sdk.create_batch("000000000000000000000000", "x")
    assert "not found" in fail_message(e.value)
    assert hub.batch_rows(pid) == []


def test_assign_batches(hub, sdk):
    pid = new_project(sdk)
    b1 = sdk.create_batch(pid, "b1")["data"]["project"]["_id"]
    b2 = sdk.create_batch(pid, "b2")["data"]["project"]["_id"]
    r = sdk.upload_files_cloud(pid, [
        {"data": f"https://example.com/{i}.png", "externalId": f"{i}.png"} for i in range(3)
    ])
    ids = r["data"]["assetIds"]
    # By name and by ID, both accepted.
    r = sdk.assign_batches(pid, ids[:2], ["b1", b2])
    assert r["status"] == "success" and r["data"]["assetsUpdated"] == 2
    rows = {x["id"]: x for x in hub.asset_rows(pid)}
    assert rows[ids[0]]["batches"] == [b1, b2]
    assert rows[ids[1]]["batches"] == [b1, b2]
    assert rows[ids[2]]["batches"] == []
    listed = sdk.get_assets(pid, filters={"batches": [b1, b2]})["data"]
    assert listed["total"] == 2
    assert {a["_id"] for a in listed["assets"]} == set(ids[:2])
    # Assigning again adds nothing twice.
    sdk.assign_batches(pid, [ids[0]], ["b1"])
    assert hub.asset_row(ids[0])["batches"] == [b1, b2]

    with pytest.raises(Exception) as e:
        sdk.assign_batches(pid, [ids[2]], ["nope"])
    assert "Batch nope not found" in fail_message(e.value)
    with pytest.raises(Exception) as e:
        sdk.assign_batches(pid, ["000000000000000000000000"], ["b1"])
    assert "assets[0]" in fail_message(e.value)
    assert hub.asset_row(ids[2])["batches"] == []
