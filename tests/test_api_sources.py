"""Sources over the HTTP API: listed as far as the caller's groups see, synced with the write role.

In-process (FastAPI's TestClient) over a real library (hash embedder, real Chroma) and a
real folder; the API's own token store, roles and errors.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from searchapp import Library, Settings
from searchapp.api.app import create_api
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.ingest.pipeline import Ingestor
from searchapp.sources import Sources, SourceSpec
from tests.conftest import write
from tests.sources_helpers import backdate


class _Libraries:
    """The `Libraries` of one open library (the collection of `hash_library`)."""

    def __init__(self, library: Library) -> None:
        self.settings: Settings = library.settings
        self._library = library
        self._ingestor = Ingestor(library, workers=1)

    def library(self, collection: str) -> Library:
        assert collection == self.settings.collection
        return self._library

    def ingestor(self, collection: str) -> Ingestor:
        return self._ingestor

    def close(self) -> None:
        self._ingestor.close()


@pytest.fixture
def api(
    hash_library: Library, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Path]]:
    root = tmp_path / "share"
    write(root / "pay.md", "# Pay\n\nsalary bands and the bonus pool of the year")
    write(root / "open.md", "# Open\n\nthe office opens at nine every weekday")
    for path in root.iterdir():
        backdate(path, random.Random(2))
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("hr", root, include=["pay.md"], groups=["hr"]))
        sources.add(SourceSpec.create("all", root, include=["open.md"]))
    libraries = _Libraries(hash_library)
    ctx = ApiContext(libraries, ApiConfig())  # type: ignore[arg-type]
    collection = hash_library.settings.collection
    headers = {}
    for name, role, groups in (
        ("admin", "admin", ()),
        ("sales_writer", "write", ("sales",)),
        ("hr_writer", "write", ("hr",)),
        ("hr_reader", "read", ("hr",)),
    ):
        _, secret = ctx.tokens.create(collection, role, groups=groups)
        headers[name] = {"Authorization": f"Bearer {secret}"}
    try:
        with TestClient(create_api(ctx)) as client:
            yield client, headers, root
    finally:
        ctx.close()
        libraries.close()


def _names(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    answer = client.get("/v1/sources", headers=auth)
    assert answer.status_code == 200, answer.text
    return {s["name"]: s for s in answer.json()["sources"]}


def test_sources_are_listed_as_far_as_the_callers_groups_see(api: Any) -> None:
    client, auth, root = api
    admin = _names(client, auth["admin"])
    assert sorted(admin) == ["all", "hr"] and admin["hr"]["location"] == str(root)
    assert admin["hr"]["groups"] == ["hr"] and admin["hr"]["status"]["outcome"] == "never"
    sales = _names(client, auth["sales_writer"])
    assert sorted(sales) == ["all"] and sales["all"]["location"] == ""  # no server paths
    assert sorted(_names(client, auth["hr_reader"])) == ["all", "hr"]
    assert client.get("/v1/sources").status_code == 401


def test_a_sync_through_the_api_follows_the_folder_and_keeps_the_sources_groups(
    api: Any, hash_library: Library
) -> None:
    client, auth, root = api
    # A reader may not sync; a source the caller cannot see is not found, as one that does not exist.
    assert client.post("/v1/sources/hr/sync", headers=auth["hr_reader"]).status_code == 403
    for name in ("hr", "nowhere"):
        missing = client.post(f"/v1/sources/{name}/sync", headers=auth["sales_writer"])
        assert missing.status_code == 404 and "no source named" in missing.json()["detail"]
    dry = client.post("/v1/sources/hr/sync", params={"dry_run": "true"}, headers=auth["hr_writer"]).json()
    assert dry["outcome"] == "dry-run" and [a["kind"] for a in dry["actions"]] == ["ingest"]
    assert hash_library.documents() == []
    report = client.post("/v1/sources/hr/sync", headers=auth["hr_writer"]).json()
    assert report["outcome"] == "ok" and report["counts"]["new"] == 1, report
    assert hash_library.document("hr/pay.md").groups == ("hr",)
    assert client.post("/v1/sources/all/sync", headers=auth["sales_writer"]).json()["counts"]["new"] == 1
    query = {"query": "salary bands bonus pool", "k": 5}
    hits = client.post("/v1/search", json=query, headers=auth["hr_reader"]).json()["results"]
    assert hits[0]["source"] == "hr/pay.md"
    hits = client.post("/v1/search", json=query, headers=auth["sales_writer"]).json()["results"]
    assert "hr/pay.md" not in {h["source"] for h in hits}
    # Deleting a synced document by hand says the next sync brings it back; a sync does.
    opened = hash_library.document("all/open.md").doc_id
    deleted = client.delete(f"/v1/documents/{opened}", headers=auth["sales_writer"]).json()
    assert "open.md still holds it" in deleted["returns"] and "--exclude /open.md" in deleted["returns"]
    assert client.post("/v1/sources/all/sync", headers=auth["sales_writer"]).json()["counts"]["new"] == 1
    # A deletion follows; removing every document of a source needs a sees-all caller's confirmation.
    (root / "pay.md").unlink()
    blocked = client.post("/v1/sources/hr/sync", headers=auth["hr_writer"]).json()
    assert blocked["outcome"] == "blocked" and hash_library.document("hr/pay.md")
    confirm = {"allow_mass_delete": "true"}
    assert client.post("/v1/sources/hr/sync", params=confirm, headers=auth["hr_writer"]).status_code == 403
    done = client.post("/v1/sources/hr/sync", params=confirm, headers=auth["admin"]).json()
    assert done["outcome"] == "ok" and done["counts"]["deleted"] == 1
    assert [r.source for r in hash_library.documents()] == ["all/open.md"]
    assert _names(client, auth["admin"])["hr"]["status"]["outcome"] == "ok"


def test_the_response_models_mirror_the_sources_dicts(hash_library: Library, tmp_path: Path) -> None:
    from searchapp.api import models

    write(tmp_path / "a.md", "# A\n\nsome text")
    backdate(tmp_path / "a.md", random.Random(1))  # settled: not a file being written
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("team", tmp_path))
        (report,) = sources.sync("team")
        (info,) = sources.all()
    assert set(info.to_dict()) == set(models.SourceOut.model_fields)
    assert set(info.status.to_dict()) == set(models.SyncStatusOut.model_fields)
    assert set(report.to_dict()) == set(models.SyncReportOut.model_fields)
    assert set(report.to_dict()["actions"][0]) == set(models.SyncActionOut.model_fields)


def test_server_paths_stay_out_of_messages_for_a_caller_who_does_not_see_everything(
    api: Any, tmp_path: Path
) -> None:
    """A missing folder's sync says where it looked: to an admin, not to an hr writer."""
    client, auth, root = api
    root.rename(tmp_path / "unmounted")
    restricted = client.post("/v1/sources/hr/sync", headers=auth["hr_writer"]).json()
    assert restricted["outcome"] == "blocked" and "does not exist" in restricted["message"]
    assert str(tmp_path) not in str(restricted) and "(the source's folder)" in restricted["message"]
    status = _names(client, auth["hr_writer"])["hr"]["status"]
    assert "does not exist" in status["message"] and str(tmp_path) not in str(status)
    admin = client.post("/v1/sources/hr/sync", headers=auth["admin"]).json()
    assert str(root) in admin["message"]
    assert str(root) in _names(client, auth["admin"])["hr"]["status"]["message"]


def test_an_s3_sources_bucket_endpoint_and_key_stay_out_of_what_a_restricted_caller_reads() -> None:
    """s3errors names the bucket bare, objects as bucket/key, and the access key it sent."""
    from searchapp.sources.redact import redact

    spec = SourceSpec.create("hr", "s3://acme-hr-private/docs", endpoint_url="http://10.0.0.5:9000")
    status = {
        "location": spec.location,
        "endpoint_url": spec.endpoint_url,
        "message": "access denied for bucket 'acme-hr-private' of source 'hr' at http://10.0.0.5:9000: "
        "got AccessDenied with access key id 'AKIA...WXYZ' (from env)",
        "errors": [["a.pdf", "FileNotFoundError: acme-hr-private/docs/a.pdf"]],
        "other": "acme-hr-private-archive is another bucket; /srv/share2 another folder",
    }
    shown = redact(status, spec)
    flat = str(shown)
    for secret in ("acme-hr-private'", "acme-hr-private/", "10.0.0.5", "AKIA", "from env"):
        assert secret not in flat, (secret, flat)
    assert shown["location"] == shown["endpoint_url"] == ""
    assert "access denied for bucket" in shown["message"] and "acme-hr-private-archive" in shown["other"]
    folder = SourceSpec.create("x", "/srv/share")
    assert redact({"message": "no /srv/share/a; /srv/share2/b; /srv/share."}, folder)["message"] == (
        "no (the source's folder)/a; /srv/share2/b; (the source's folder)."
    )
    # Found by the second review: a trailing '/', AWS's virtual-hosted URLs, and a source
    # named after its bucket (its name is not a secret, and names are not messages).
    slashed = SourceSpec.create("hr", "s3://acme-hr/docs/", endpoint_url="http://minio.internal:9000/")
    message = 'URL: "http://minio.internal:9000/acme-hr?list-type=2"; https://acme-hr.s3.amazonaws.com/docs'
    assert "minio" not in str(redact({"message": message}, slashed))
    assert "acme-hr" not in str(redact({"message": message}, slashed))
    same = SourceSpec.create("team-docs", "s3://team-docs")
    data = {"name": "team-docs", "message": "cannot list bucket 'team-docs' of source 'team-docs'"}
    assert redact(data, same) == {**data}
    assert redact({"name": "acme-hr", "tags": ["acme-hr"]}, spec) == {"name": "acme-hr", "tags": ["acme-hr"]}


def test_a_sync_report_names_no_document_the_caller_cannot_see(
    api: Any, hash_library: Library, tmp_path: Path
) -> None:
    """The open copy of an hr file goes: the document is hr's alone again, and the sales
    writer who synced the open share is not told its name or groups, in a dry run either,
    nor where it moved (found by the reviews)."""
    client, auth, _ = api
    files = {
        "hr-share": ("policy.md", "salaries.md"),
        "open-share": ("policy.md",),
        "a-share": ("salaries.md",),
    }
    for folder, names in files.items():
        for name in names:
            write(tmp_path / folder / name, f"# {name}\n\nsalary review dates and bands for every team")
            backdate(tmp_path / folder / name, random.Random(5))
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("hrdocs", tmp_path / "hr-share", groups=["hr"]))
        sources.add(SourceSpec.create("open", tmp_path / "open-share"))
        sources.add(SourceSpec.create("aopen", tmp_path / "a-share"))  # sorts first: it names its copy
        sources.sync()
    assert hash_library.document("aopen/salaries.md").groups == ()
    assert hash_library.document("hrdocs/policy.md").groups == ()
    (tmp_path / "open-share" / "policy.md").unlink()
    (tmp_path / "a-share" / "salaries.md").unlink()
    for name, counts in (("open", {"retagged": 1}), ("aopen", {"retagged": 1, "moved": 1})):
        for dry in ({"dry_run": "true"}, {}):
            report = client.post(f"/v1/sources/{name}/sync", params=dry, headers=auth["sales_writer"]).json()
            assert {k: report["counts"][k] for k in counts} == counts, report
            assert report["actions"] == [] and "hrdocs" not in str(report) and "'hr'" not in str(report), (
                report
            )
    assert hash_library.document("hrdocs/policy.md").groups == ("hr",)
    assert hash_library.document("hrdocs/salaries.md").groups == ("hr",)
