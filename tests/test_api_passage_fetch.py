"""A passage fetched by id, over HTTP and MCP, in process: no rank or score, since no search ranked it.

`GET /passages/{id}` and the MCP tool `fetch_passage` used to answer rank 1 and score 1.0
for any passage, as if a search had found it the best possible match.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from starlette.testclient import TestClient

from searchapp.api.app import create_api
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.api.libraries import OwnLibraries
from searchapp.api.mcp_server import build_mcp, stdio_caller
from searchapp.config import Settings
from searchapp.feedback import FeedbackLog
from searchapp.ingest import ingest_paths
from tests.conftest import write

TEXT = "# Herons\n\n" + "\n\n".join(
    f"Paragraph {i} is about heron number {i} and its nest." for i in range(8)
)
RANKED = {"rank", "score", "cosine", "fused_score", "dense_rank", "keyword_rank", "keyword_score"}


@pytest.fixture
def api(hash_settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, ApiContext, str, str]]:
    libraries = OwnLibraries(hash_settings)
    ctx = ApiContext(libraries, ApiConfig())
    library = libraries.library(hash_settings.collection)
    ingest_paths(library, [write(tmp_path / "files" / "herons.md", TEXT)])
    doc_id = library.documents()[0].doc_id
    _, token = ctx.tokens.create(hash_settings.collection, "write")
    try:
        with TestClient(create_api(ctx)) as client:
            yield client, ctx, doc_id, token
    finally:
        ctx.close()


def test_a_passage_fetched_over_http_has_no_rank_or_score(api: Any) -> None:
    client, _, doc_id, token = api
    got = client.get(f"/v1/passages/{doc_id}:1", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    passage = got.json()["passage"]
    assert passage["chunk_id"] == f"{doc_id}:1" and passage["chunk"] == 1 and passage["source"] == "herons.md"
    assert RANKED.isdisjoint(passage), passage
    # The schema says so too: the passage is not a search hit.
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    ref = schema["PassageOut"]["properties"]["passage"]["$ref"].rsplit("/", 1)[-1]
    assert RANKED.isdisjoint(schema[ref]["properties"]) and "rank" in schema[ref]["description"]
    # A search still ranks and scores its hits.
    found = client.post(
        "/v1/search", json={"query": "heron nest"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert {"rank", "score"} <= set(found.json()["results"][0])


def test_a_passage_fetched_over_mcp_has_no_rank_or_score(api: Any) -> None:
    ctx, doc_id = api[1], api[2]
    server = build_mcp(ctx, stdio_caller=stdio_caller(ctx, {}))

    async def run() -> Any:
        async with Client(server) as client:
            return await client.call_tool("fetch_passage", {"passage_id": f"{doc_id}:2"})

    result = anyio.run(run)
    assert not result.is_error, result.content
    passage = result.structured_content["passage"]
    assert set(passage) == {"text", "citation"} and passage["citation"]["passage_id"] == f"{doc_id}:2"


def test_a_label_on_a_fetched_passage_keeps_the_rank_the_client_gives(
    api: Any, hash_settings: Settings
) -> None:
    client, ctx, doc_id, token = api
    headers = {"Authorization": f"Bearer {token}"}
    for rank in (3, 0):
        body = {"query": f"heron {rank}", "verdict": "good", "passage_id": f"{doc_id}:1", "rank": rank}
        answer = client.post("/v1/feedback", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        assert answer.json()["rank"] == rank
    log = FeedbackLog.of(ctx.libraries.library(hash_settings.collection))
    assert sorted(item.rank for item in log.list()) == [0, 3]
