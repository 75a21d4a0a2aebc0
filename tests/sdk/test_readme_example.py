"""The README's five-line example, run as written (only the URL and key filled in)."""

import textwrap

from helpers import png_bytes

README_EXAMPLE = textwrap.dedent("""\
    from imerit_ango.sdk import SDK
    sdk = SDK("KEY", host="http://127.0.0.1:8080")  # your hub's URL and API key
    project = sdk.create_project("Cats")["data"]["project"]["_id"]
    sdk.upload_files(project, [{"data": "photos/cat.png", "externalId": "cat.png"}])
    print(sdk.get_assets(project)["data"]["total"], "asset(s) in", project)
""")


def test_readme_example(hub, tmp_path, monkeypatch, capsys):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.png").write_bytes(png_bytes())
    monkeypatch.chdir(tmp_path)
    code = README_EXAMPLE.replace('"KEY"', repr(hub.key)).replace('"http://127.0.0.1:8080"', repr(hub.url))
    assert code.count("\n") == 5 and code != README_EXAMPLE
    exec(compile(code, "README example", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("1 asset(s) in ")
    project = out.split()[-1]
    [row] = hub.asset_rows(project)
    assert row["external_id"] == "cat.png" and row["kind"] == "image"
    assert hub.blob_file(row["data"]).read_bytes() == png_bytes()
