"""What the HTTP API and the MCP server refuse, and in which words, in process.

Found by an exploratory client: conflicting page filters widened the results, the
`filters` object took an 8-character id prefix or an unknown id as "nothing matches",
an empty tag as no filter and milliseconds as a date far in the future; the MCP `search`
tool ignored unknown arguments (`tags` beside `query`), answered a missing argument with
pydantic's report and told an assistant to run a CLI command; an unknown API token was
told that the server accepts API tokens only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp import Client
from starlette.testclient import TestClient

from searchapp.api.app import create_api
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.api.libraries import OwnLibraries
from searchapp.api.mcp_server import build_mcp, stdio_caller
from searchapp.config import Settings
from searchapp.ingest import ingest_paths
from searchapp.request_schema import request_schema
from tests.conftest import write

REFUND = "# Refunds\n\nA refund is paid within ten days of the returned order."
TRAVEL = "# Travel\n\nA refund of travel costs needs the receipts and the manager's approval."


@pytest.fixture
def api(hash_settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, ApiContext, dict[str, str]]]:
    libraries = OwnLibraries(hash_settings)
    ctx = ApiContext(libraries, ApiConfig())
    library = libraries.library(hash_settings.collection)
    ingest_paths(library, [write(tmp_path / "files" / "refund.md", REFUND)], tags=["policy"])
    ingest_paths(library, [write(tmp_path / "files" / "travel.md", TRAVEL)])
    ids = {r.source: r.doc_id for r in library.documents()}
    _, ids["token"] = ctx.tokens.create(hash_settings.collection, "read")
    try:
        with TestClient(create_api(ctx)) as client:
            yield client, ctx, ids
    finally:
        ctx.close()


def search(api: tuple[TestClient, ApiContext, dict[str, str]], body: dict[str, Any]) -> Any:
    client, _, ids = api
    return client.post("/v1/search", json=body, headers={"Authorization": f"Bearer {ids['token']}"})


def sources(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {hit["source"] for hit in response.json()["results"]}


@pytest.mark.parametrize(
    ("filters", "query", "twice"),
    [
        ({"pages": "2-3", "page_min": 1}, "refund", "page_min"),
        ({"pages": "2", "page_max": 4}, "refund", "page_max"),
        ({"page_max": 4, "pages": "2-3"}, "refund", "page_max"),
        ({"page_min": 1}, "refund page:2-3", "page_min"),  # the same conflict in the query syntax
    ],
)
def test_a_page_bound_given_twice_differently_is_refused_wherever_it_is_given(
    api: Any, filters: dict[str, Any], query: str, twice: str
) -> None:
    response = search(api, {"query": query, "filters": filters})
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{twice} is given twice with different values")


def test_page_bounds_that_agree_or_complete_each_other_are_taken(api: Any) -> None:
    for filters in ({"pages": "2-3", "page_min": 2}, {"pages": "2-", "page_max": 4}):
        assert search(api, {"query": "refund", "filters": filters}).status_code == 200


def test_filter_documents_are_named_as_with_doc_in_the_query(api: Any) -> None:
    ids = api[2]
    prefix = ids["refund.md"][:8]
    assert sources(search(api, {"query": "refund", "filters": {"documents": [prefix]}})) == {"refund.md"}
    assert sources(search(api, {"query": "refund", "filters": {"documents": ["travel"]}})) == {"travel.md"}
    assert sources(search(api, {"query": "refund", "filters": {"documents": ids["travel.md"]}})) == {
        "travel.md"
    }
    kept_out = search(api, {"query": "refund", "filters": {"exclude_documents": [prefix]}})
    assert sources(kept_out) == {"travel.md"}
    missing = search(api, {"query": "refund", "filters": {"documents": ["nosuch"]}})
    assert missing.status_code == 404, missing.text
    detail = missing.json()["detail"]
    assert "filters.documents: 'nosuch' names no document" in detail
    assert "GET /api/v1/documents" in detail and "searchapp docs" not in detail
    # Leaving out a document that is not there leaves out nothing (a kept list outlives documents).
    gone = search(api, {"query": "refund", "filters": {"exclude_documents": ["nosuch", prefix]}})
    assert gone.status_code == 200 and sources(gone) == {"travel.md"}
    too_many = search(
        api, {"query": "refund", "filters": {"exclude_documents": [f"n{i}" for i in range(1001)]}}
    )
    assert too_many.status_code == 400 and "at most 1000" in too_many.json()["detail"]
    # The query's doc: says what an API caller can do, not which command to run.
    typed = search(api, {"query": "refund doc:nosuch"})
    assert typed.status_code == 404 and "searchapp docs" not in typed.json()["detail"]
    assert "GET /api/v1/documents" in typed.json()["detail"]


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"tags": [""]}, "empty value"),
        ({"tags": ["policy", "  "]}, "empty value"),
        ({"documents": [""]}, "empty value"),
        ({"ingested_after": 1796643000000}, "milliseconds"),
        ({"ingested_before": "1796643000000"}, "milliseconds"),
    ],
)
def test_values_the_schema_refuses_are_refused(api: Any, filters: dict[str, Any], words: str) -> None:
    response = search(api, {"query": "refund", "filters": filters})
    assert response.status_code == 400, response.text
    assert words in response.json()["detail"]
    if not isinstance(filters.get("ingested_before"), str):  # a digit string: the core alone sees it
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"query": "refund", "filters": filters}, request_schema())


def test_one_value_where_a_list_is_declared_is_what_the_schema_says(api: Any) -> None:
    body = {"query": "refund", "filters": {"tags": "policy", "file_types": "md"}}
    jsonschema.validate(body, request_schema())
    assert sources(search(api, body)) == {"refund.md"}
    assert sources(search(api, {"query": "refund", "filters": {"ingested_after": 1_700_000_000}}))


def test_an_unknown_token_is_told_it_is_not_known(api: Any) -> None:
    client = api[0]
    for token in ("nope", "sapi_000000000000_" + "A" * 43):
        response = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        detail = response.json()["detail"]
        assert "not known" in detail and "accepts API tokens only" not in detail, detail


def call(ctx: ApiContext, name: str, arguments: dict[str, Any]) -> Any:
    server = build_mcp(ctx, stdio_caller=stdio_caller(ctx, {}))

    async def run() -> Any:
        async with Client(server) as client:
            if name == "list":
                return {t.name: t for t in (await client.list_tools()).tools}
            return await client.call_tool(name, arguments)

    return anyio.run(run)


def error_text(result: Any) -> str:
    assert result.is_error, result.content
    return str(result.content[0].text)


def test_mcp_tools_refuse_unknown_and_missing_arguments_in_a_sentence(api: Any) -> None:
    ctx = api[1]
    text = error_text(call(ctx, "search", {"query": "refund", "tags": ["hr"]}))
    assert "unknown argument 'tags'" in text and '{"filters": {"tags": ...}}' in text, text
    text = error_text(call(ctx, "similar_passages", {"passage_id": "x" * 8 + ":0", "query": "q"}))
    assert "unknown argument 'query'" in text and "passage_id, k, mode" in text, text
    for tool, arguments, argument in (
        ("search", {"k": 3}, "query"),
        ("fetch_passage", {}, "passage_id"),
        ("similar_passages", {"k": 2}, "passage_id"),
    ):
        text = error_text(call(ctx, tool, arguments))
        assert f"the argument {argument!r} is required" in text, text
        assert "pydantic" not in text and "validation error" not in text, text
    tools = call(ctx, "list", {})
    for name in ("search", "fetch_passage", "similar_passages"):
        assert tools[name].input_schema.get("additionalProperties") is False
    for name in ("search", "similar_passages"):
        assert "group" not in tools[name].input_schema["properties"]["k"]["description"]


def test_mcp_search_names_documents_as_doc_does_and_suggests_no_command(api: Any) -> None:
    ctx, ids = api[1], api[2]
    found = call(ctx, "search", {"query": "refund", "filters": {"documents": [ids["refund.md"][:8]]}})
    assert not found.is_error, found.content
    assert {p["citation"]["document"] for p in found.structured_content["passages"]} == {"refund.md"}
    for arguments in (
        {"query": "refund doc:nosuch"},
        {"query": "refund", "filters": {"documents": ["nosuch"]}},
    ):
        text = error_text(call(ctx, "search", arguments))
        assert "names no document" in text and "searchapp docs" not in text and "citation" in text, text


def test_a_list_over_1000_values_is_refused_by_its_count_over_http_and_mcp(api: Any) -> None:
    """Counted before any value is read, repeats included (95,000 tags cost 72 s before a 400)."""
    for filters in ({"tags": ["policy"] * 5000}, {"exclude_documents": ["refund"] * 5000}):
        refused = search(api, {"query": "refund", "filters": filters})
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"].endswith("takes at most 1000 values; got 5000")
    typed = search(api, {"query": "refund " + "tag:policy " * 5000})
    assert (
        typed.status_code == 400
        and typed.json()["detail"] == "a query takes at most 1000 tag: values; got 5000"
    )
    text = error_text(call(api[1], "search", {"query": "refund " + "tag:policy " * 5000}))
    assert "a query takes at most 1000 tag: values; got 5000" in text, text
    assert sources(search(api, {"query": "refund", "filters": {"tags": ["policy"] * 1000}})) == {"refund.md"}


def test_semantic_is_taken_as_dense_over_http_and_mcp(api: Any) -> None:
    """The UI and the results call the dense mode "semantic": a client may too."""
    response = search(api, {"query": "refund", "mode": "semantic"})
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "dense"
    bad = search(api, {"query": "refund", "mode": "psychic"})
    assert bad.status_code == 400 and "dense (or semantic)" in bad.json()["detail"]
    found = call(api[1], "search", {"query": "refund", "mode": "semantic"})
    assert not found.is_error, found.content
    assert found.structured_content["mode"] == "dense"
    tools = call(api[1], "list", {})
    assert "semantic" in json.dumps(tools["search"].input_schema["properties"]["mode"])
