"""create_storage, get_storages, delete_storage, list_storage_files, and upload_files /
upload_files_cloud with a storage_id, against a real S3 server (s3s-fs on 127.0.0.1). The hub keeps
storage integrations (credentials sealed in the catalog's `secret` column), tries them before
storing them, and reaches their buckets; every answer must leave the credentials out."""

import base64
import json
import subprocess

import pytest
import requests
from imerit_ango.models.enums import StorageProvider
from imerit_ango.models.storage import Storage

from helpers import fail_message, new_project
from servers import BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, s3  # noqa: F401 (the fixture)

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# A service-account key of the right form (its RSA key is parsed when the storage is created).
GCP_PEM = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                         check=True, capture_output=True, text=True).stdout
GCP_KEY = json.dumps({"type": "service_account", "private_key": GCP_PEM,
                      "client_email": "sdk-test@assetdrop-test.iam.gserviceaccount.com"})
AZURE_KEY = base64.b64encode(b"azure-account-key-for-the-sdk-tests-0123456789").decode()
SECRETS = [AWS_SECRET, GCP_PEM.splitlines()[1], AZURE_KEY, S3_SECRET_KEY]
PUBLIC_FIELDS = {"_id", "name", "provider", "type", "region", "bucket", "endpoint", "pathStyle", "createdAt"}


def assert_no_secret(text: str):
    for s in SECRETS + [AWS_KEY_ID]:
        assert s not in text, "a credential leaked"


@pytest.fixture(scope="module")
def storages(hub, s3):
    sdk = hub.sdk()
    made = {}
    r = sdk.create_storage(Storage("s3", StorageProvider.AWS, AWS_KEY_ID, AWS_SECRET, "eu-west-1"))
    made["s3"] = r
    r = sdk.create_storage(Storage("gcs", StorageProvider.GCP, credentials=GCP_KEY))
    made["gcs"] = r
    r = sdk.create_storage(Storage("azure", StorageProvider.AZURE, "account", AZURE_KEY))
    made["azure"] = r
    # With a bucket, the credentials are tried on it: this one is a real S3 server's.
    r = hub.api("POST", "/v2/storages", json=s3.storage_body("rest"))
    assert r.status_code == 201, r.text
    made["rest"] = r.json()
    return made


def test_create_storage_keeps_credentials_inside(hub, storages):
    for name, r in storages.items():
        assert r["status"] == "success"
        s = r["data"]["storage"]
        assert set(s) <= PUBLIC_FIELDS and s["name"] == name
        assert_no_secret(json.dumps(r))
    s3 = storages["s3"]["data"]["storage"]
    assert (s3["provider"], s3["type"], s3["region"]) == ("AWS", "aws", "eu-west-1")
    gcs = storages["gcs"]["data"]["storage"]
    assert (gcs["provider"], gcs["type"], gcs["region"]) == ("GCP", "gcs", "eu-central-1")
    rest = storages["rest"]["data"]["storage"]
    assert (rest["provider"], rest["type"], rest["bucket"], rest["region"]) == ("AWS", "aws", BUCKET, "us-east-1")
    # In the catalog: provider by its REST name, the public part in `config`, the credentials
    # sealed in `secret` (none of them readable there).
    rows = {r["name"]: r for r in hub.query("SELECT * FROM storages")}
    assert rows["s3"]["id"] == s3["_id"] and rows["s3"]["provider"] == "aws"
    assert json.loads(rows["s3"]["config"]) == {"region": "eu-west-1", "bucket": None}
    assert rows["azure"]["provider"] == "azure"
    assert json.loads(rows["rest"]["config"])["bucket"] == BUCKET
    for row in rows.values():
        assert row["secret"].startswith("sealed:v1:")
        assert_no_secret(row["secret"] + row["config"])


def test_credentials_that_do_not_work_are_refused_before_they_are_stored(hub, sdk, s3, storages):
    before = hub.query("SELECT COUNT(*) AS n FROM storages")[0]["n"]
    wrong = s3.storage_body("wrong-secret")
    wrong["credentials"]["secretAccessKey"] = "not-the-secret-key"
    missing = s3.storage_body("missing-bucket")
    missing["bucket"] = "no-such-bucket"
    for body, says in [(wrong, "credentials"), (missing, "no-such-bucket")]:
        r = hub.api("POST", "/v2/storages", json=body)
        assert r.status_code == 400, r.text
        assert says in fail_message(r) and "not-the-secret-key" not in r.text
    # Their form, through the SDK: an Azure key that is not base64, a GCP key without an RSA key.
    for storage, says in [(Storage("az-bad", StorageProvider.AZURE, "account", "not base64!"), "base64"),
                          (Storage("gcp-bad", StorageProvider.GCP, credentials=json.dumps(
                              {"type": "service_account", "private_key": "nope", "client_email": "a@b"})), "RSA")]:
        with pytest.raises(Exception) as e:
            sdk.create_storage(storage)
        assert says in fail_message(e.value)
    assert hub.query("SELECT COUNT(*) AS n FROM storages")[0]["n"] == before


def test_get_storages(hub, sdk, storages):
    r = sdk.get_storages()
    assert r["status"] == "success"
    assert [s["name"] for s in r["data"]["storages"]] == ["s3", "gcs", "azure", "rest"]
    assert r["data"]["total"] == 4
    assert all(set(s) <= PUBLIC_FIELDS for s in r["data"]["storages"])
    assert_no_secret(json.dumps(r))
    sid = storages["gcs"]["data"]["storage"]["_id"]
    one = sdk.get_storages(sid)
    assert one == storages["gcs"]["data"]["storage"]
    # SDK quirk: an unknown ID gives back the whole (empty) answer, not None.
    assert sdk.get_storages("000000000000000000000000")["data"]["storages"] == []
    # Paged, limit at most 100.
    r = hub.api("GET", "/v2/storages", params={"page": 2, "limit": 3})
    assert r.status_code == 200
    assert [s["name"] for s in r.json()["data"]["storages"]] == ["rest"]
    assert r.json()["data"]["total"] == 4
    r = hub.api("GET", "/v2/storages", params={"limit": 101})
    assert r.status_code == 400 and "limit" in fail_message(r)
    r = hub.api("GET", f"/v2/storages/{sid}")
    assert r.status_code == 200 and r.json()["data"]["storage"]["_id"] == sid
    assert_no_secret(r.text)


def test_files_of_a_real_bucket(hub, sdk, s3, tmp_path):
    r = hub.api("POST", "/v2/storages", json=s3.storage_body("real-s3"))
    assert r.status_code == 201, r.text
    storage = r.json()["data"]["storage"]
    assert storage["endpoint"] == s3.endpoint and S3_SECRET_KEY not in r.text
    sid = storage["_id"]
    pid = new_project(sdk)
    files = {"cat.png": b"\x89PNG\r\n\x1a\n" + b"c" * 20, "dog.png": b"\x89PNG\r\n\x1a\n" + b"d" * 30}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    # upload_files with a storage: presigned PUTs straight into the bucket, then the objects are
    # registered by reference (uploadLocal "true" does not copy storage objects to the hub).
    r = sdk.upload_files(pid, [{"data": str(tmp_path / n), "externalId": n} for n in files], storage_id=sid)
    assert r["status"] == "success", r
    rows = {x["external_id"]: x for x in hub.asset_rows(pid)}
    assert set(rows) == set(files)
    for name, row in rows.items():
        assert row["storage"] == sid
        assert row["data"].startswith(f"{s3.endpoint}/photos/uploaded-data/{pid}/"), row["data"]
        assert row["size"] == len(files[name])
    assert not hub.blob_dir(pid).exists() or not any(hub.blob_dir(pid).iterdir())

    # list_storage_files: the objects, with presigned GET URLs that work (the bucket is private).
    listing = sdk.list_storage_files(sid, "photos", f"uploaded-data/{pid}/")
    got = {f["key"]: f for f in listing["data"]["files"]}
    assert set(got) == {r["data"].split("/photos/", 1)[1] for r in rows.values()}
    for f in got.values():
        body = requests.get(f["signedUrl"], timeout=10)
        assert body.status_code == 200
        assert body.content in files.values()
        assert requests.get(f["url"], timeout=10).status_code == 403
    top = sdk.list_storage_files(sid, "photos", "", get_signed_urls=False)["data"]
    assert [d["key"] for d in top["folders"]] == ["uploaded-data/"]
    assert all("signedUrl" not in f for f in top["files"])

    # upload_files_cloud with the objects' URLs: each is checked to exist first. The SDK does
    # not raise on failure: it returns the fail envelope, naming the asset.
    url = next(iter(got.values()))["url"]
    r = sdk.upload_files_cloud(pid, [{"data": url, "externalId": "again"}], storage_id=sid)
    assert r["status"] == "success", r
    r = sdk.upload_files_cloud(pid, [{"data": url, "externalId": "ok"},
                                     {"data": f"{s3.endpoint}/photos/missing.png", "externalId": "x"}],
                               storage_id=sid)
    assert r["status"] == "fail" and "assets[1].data" in r["message"] and "missing.png" in r["message"]
    assert len(hub.asset_rows(pid)) == 3

    # The storage is in use: it cannot be deleted under its assets.
    with pytest.raises(Exception) as e:
        sdk.delete_storage(sid)
    assert sid in fail_message(e.value) and "3 asset" in fail_message(e.value)


def test_list_storage_files_mistakes(hub, sdk, storages):
    with pytest.raises(Exception) as e:
        sdk.list_storage_files("000000000000000000000000", "b")
    assert "storage 000000000000000000000000 not found" in fail_message(e.value)
    # A storage registered without a bucket needs one named.
    sid = storages["s3"]["data"]["storage"]["_id"]
    r = hub.api("GET", f"/v2/storages/{sid}/files")
    assert r.status_code == 400 and "bucketName" in fail_message(r)
    r = hub.api("GET", f"/v2/storages/{sid}/files", params={"bucketName": "b", "page": 2})
    assert r.status_code == 400 and "scrollToken" in fail_message(r)
    r = hub.api("GET", f"/v2/storages/{sid}/files", params={"bucketName": "b", "limit": 0})
    assert r.status_code == 400 and "limit" in fail_message(r)
    assert_no_secret(r.text)


def test_delete_storage(hub, sdk):
    sid = sdk.create_storage(Storage("doomed", StorageProvider.AWS, "AKIADOOMED", AWS_SECRET))["data"]["storage"]["_id"]
    assert hub.query("SELECT name FROM storages WHERE id = ?", sid) == [{"name": "doomed"}]
    r = sdk.delete_storage(sid)
    assert r["status"] == "success" and r["data"]["storage"]["_id"] == sid
    assert_no_secret(json.dumps(r))
    assert hub.query("SELECT * FROM storages WHERE id = ?", sid) == []
    assert sid not in [s["_id"] for s in sdk.get_storages()["data"]["storages"]]
    with pytest.raises(Exception) as e:
        sdk.delete_storage(sid)
    assert f"storage {sid} not found" in fail_message(e.value)
    # The name is free again.
    sdk.create_storage(Storage("doomed", StorageProvider.AWS, "AKIADOOMED", AWS_SECRET))


@pytest.mark.parametrize("storage, field", [
    (Storage("no-keys", StorageProvider.AWS), "publicKey"),
    (Storage("half", StorageProvider.AWS, public_key="AKIA"), "privateKey"),
    (Storage("no-creds", StorageProvider.GCP), "credentials"),
    (Storage("", StorageProvider.AWS, "AKIA", AWS_SECRET), "name"),
])
def test_sdk_storage_mistakes(hub, sdk, storage, field):
    before = hub.query("SELECT COUNT(*) AS n FROM storages")[0]["n"]
    with pytest.raises(Exception) as e:
        sdk.create_storage(storage)
    assert field in fail_message(e.value)
    assert hub.query("SELECT COUNT(*) AS n FROM storages")[0]["n"] == before


def test_duplicate_name_is_a_conflict(hub, sdk, storages):
    with pytest.raises(Exception) as e:
        sdk.create_storage(Storage("s3", StorageProvider.AWS, "AKIAOTHER", "other-secret"))
    msg = fail_message(e.value)
    assert "name" in msg and "s3" in msg and "other-secret" not in msg
    r = hub.api("POST", "/v2/storages/", json={"name": "s3", "provider": "AWS", "publicKey": "A", "privateKey": "B"})
    assert r.status_code == 409


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "provider": "DROPBOX", "publicKey": "a", "privateKey": "b"}, "provider"),
    ({"name": "x", "type": "s3", "bucket": "b", "credentials": {}}, "type"),
    ({"name": "x", "publicKey": "a"}, "provider"),
    ({"name": "x", "provider": "AWS", "type": "aws"}, "provider"),
    ({"name": "x", "type": "aws", "credentials": {"accessKeyId": "a", "secretAccessKey": "b"}}, "bucket"),
    ({"name": "x", "type": "aws", "bucket": "b", "credentials": {"accessKeyId": "a"}}, "credentials.secretAccessKey"),
    ({"name": "x", "type": "gcs", "bucket": "b", "credentials": "text"}, "credentials"),
    ({"name": "x", "provider": "AWS", "publicKey": "a", "privateKey": 5}, "privateKey"),
    ({"name": "x", "provider": "AWS", "publicKey": "a", "privateKey": "b", "colour": 1}, "colour"),
    ({"name": 3, "provider": "AWS"}, "name"),
])
def test_rest_storage_mistakes(hub, body, field):
    before = hub.query("SELECT COUNT(*) AS n FROM storages")[0]["n"]
    r = hub.api("POST", "/v2/storages", json=body)
    assert r.status_code == 400, r.text
    assert field in fail_message(r)
    assert hub.query("SELECT COUNT(*) AS n FROM storages")[0]["n"] == before


def test_no_credential_in_the_hub_logs(hub, storages):
    # Runs last in this module: by now every storage call above has been logged (at debug).
    assert_no_secret(hub.log_text())
