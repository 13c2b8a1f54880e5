"""The HTTP API's error answers name what an HTTP client can use, and its schema lists them.

Found by an exploratory integrator: 404s pointed at routes without their `/api` prefix
and at command-line commands, and the 413 every JSON route answers was missing from the
schema of all but the upload.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from searchapp.api.app import create_api
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.api.libraries import OwnLibraries
from searchapp.config import Settings


@pytest.fixture
def api(hash_settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    libraries = OwnLibraries(hash_settings)
    ctx = ApiContext(libraries, ApiConfig())
    _, secret = ctx.tokens.create(hash_settings.collection, "admin")
    try:
        with TestClient(create_api(ctx)) as client:
            yield client, {"Authorization": f"Bearer {secret}"}
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("method", "path", "words"),
    [
        ("get", "/v1/documents/" + "ab" * 32, "GET /api/v1/documents"),
        ("get", "/v1/documents/notes.txt", "GET /api/v1/documents"),
        ("post", "/v1/sources/nope/sync", "GET /api/v1/sources"),
        ("delete", "/v1/tokens/000000000000", "GET /api/v1/tokens"),
    ],
)
def test_a_404_names_the_route_that_lists_what_exists(api: Any, method: str, path: str, words: str) -> None:
    client, auth = api
    answer = getattr(client, method)(path, headers=auth)
    assert answer.status_code == 404, answer.text
    detail = answer.json()["detail"]
    assert words in detail and "searchapp " not in detail, detail


def test_every_route_with_a_body_lists_413(api: Any) -> None:
    client, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    with_body = [(p, m, op) for p, ops in paths.items() for m, op in ops.items() if "requestBody" in op]
    assert with_body
    for path, method, operation in with_body:
        assert "413" in operation["responses"], (method, path)


def test_an_id_prefix_several_documents_share_is_called_ambiguous_not_missing(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight hex digits that two documents start with (found by review: a 404 "no document")."""
    from searchapp.errors import AmbiguousDocumentError
    from searchapp.library.view import LibraryView

    def ambiguous(self: Any, ref: str) -> Any:
        raise AmbiguousDocumentError(f"{ref!r} matches 2 documents; give more of the id")

    monkeypatch.setattr(LibraryView, "document", ambiguous)
    client, auth = api
    answer = client.get("/v1/documents/abcd1234", headers=auth)
    assert answer.status_code == 404 and "matches 2 documents" in answer.json()["detail"], answer.text


def test_find_document_raises_ambiguous_for_a_shared_prefix_only() -> None:
    from searchapp.errors import AmbiguousDocumentError, DocumentNotFoundError
    from searchapp.library.finding import find_document
    from searchapp.types import DocumentRecord

    records = [DocumentRecord("abcd1234" + c * 56, f"{c}.txt", "txt", c, 1, 1, 0) for c in ("e", "f")]
    with pytest.raises(AmbiguousDocumentError, match="matches 2 documents"):
        find_document(records, "abcd1234")
    with pytest.raises(DocumentNotFoundError) as missing:
        find_document(records, "ffff0000")
    assert not isinstance(missing.value, AmbiguousDocumentError)
    assert find_document(records, "abcd1234e").source == "e.txt"
