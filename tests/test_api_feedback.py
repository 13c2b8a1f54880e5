"""Relevance labels over the HTTP API (`POST /api/v1/feedback`), in process (Starlette's TestClient).

A label lands in the same feedback log as the UI's 👍/👎, under the calling token's name;
a passage of a document the caller may not see is missing (404) and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from searchapp.api.app import create_api
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.api.libraries import OwnLibraries
from searchapp.config import Settings
from searchapp.feedback import FeedbackLog
from searchapp.ingest import ingest_paths
from tests.conftest import write


@pytest.fixture
def api(hash_settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, ApiContext, dict[str, str]]]:
    libraries = OwnLibraries(hash_settings)
    ctx = ApiContext(libraries, ApiConfig())
    library = libraries.library(hash_settings.collection)
    write(tmp_path / "open" / "travel.md", "# Travel\n\nTravel claims are paid within five days.")
    write(tmp_path / "legal" / "memo.md", "# Memo\n\nThe settlement stays confidential until March.")
    ingest_paths(library, [tmp_path / "open"])
    ingest_paths(library, [tmp_path / "legal"], groups=["legal"])
    ids = {r.source: f"{r.doc_id}:0" for r in library.documents()}
    hr, hr_secret = ctx.tokens.create(hash_settings.collection, "read", groups=["hr"])
    ids |= {"hr": hr_secret, "hr_subject": f"token:{hr.token_id}"}
    try:
        with TestClient(create_api(ctx)) as client:
            yield client, ctx, ids
    finally:
        ctx.close()


def test_a_label_is_kept_under_the_callers_name_and_hidden_passages_are_missing(
    api: tuple[TestClient, ApiContext, dict[str, str]], hash_settings: Settings
) -> None:
    client, ctx, ids = api
    auth = {"Authorization": f"Bearer {ids['hr']}"}
    body = {"query": "when are travel claims paid", "verdict": "good", "passage_id": ids["travel.md"]}
    response = client.post("/v1/feedback", json={**body, "rank": 1, "mode": "hybrid"}, headers=auth)
    assert response.status_code == 201, response.text
    good = response.json()
    assert good["user"] == ids["hr_subject"] and good["source"] == "travel.md" and good["rank"] == 1
    assert "five days" in good["passage"] and good["chunk_id"] == ids["travel.md"]

    none = {"query": "parking for visitors", "verdict": "none", "shown": [ids["travel.md"]]}
    assert client.post("/v1/feedback", json=none, headers=auth).status_code == 201

    # A passage of a document the caller's groups may not see: missing, as one that never was.
    hidden = client.post("/v1/feedback", json={**body, "passage_id": ids["memo.md"]}, headers=auth)
    assert hidden.status_code == 404 and "confidential" not in hidden.text
    shown_hidden = {**none, "shown": [ids["travel.md"], ids["memo.md"]]}
    assert client.post("/v1/feedback", json=shown_hidden, headers=auth).status_code == 404
    # Bad input: a clear 400 or 422, and no token: 401.
    assert client.post("/v1/feedback", json={**body, "passage_id": None}, headers=auth).status_code == 400
    assert client.post("/v1/feedback", json={**body, "verdict": "maybe"}, headers=auth).status_code == 422
    assert client.post("/v1/feedback", json={**body, "query": "  "}, headers=auth).status_code == 400
    assert client.post("/v1/feedback", json=body).status_code == 401

    items = FeedbackLog.of(ctx.libraries.library(hash_settings.collection)).list()
    assert [(i.verdict, i.query, i.user) for i in items] == [
        ("good", "when are travel claims paid", ids["hr_subject"]),
        ("none", "parking for visitors", ids["hr_subject"]),
    ]
    assert items[1].shown == (ids["travel.md"],)
