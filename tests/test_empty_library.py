"""A search of an empty library says the library is empty, in the core and every front end.

It used to answer like a search that matched nothing ("No passages matched. Try other
words, or fewer filters."), or with an empty list and no word at all (API, MCP). The core
sets `SearchResponse.library_empty` once; the CLI, the API and the MCP server word it for
their users (the UI's Search page shows its guide to Upload, tests/test_ui_apptest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from starlette.testclient import TestClient
from typer.testing import CliRunner

from searchapp import Library
from searchapp.api.app import create_api
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.api.libraries import OwnLibraries
from searchapp.api.mcp_server import build_mcp, stdio_caller
from searchapp.cli.main import app
from searchapp.config import Settings
from searchapp.ingest import ingest_paths
from tests.conftest import write

MODES = ("adaptive", "hybrid", "dense", "keyword")


def test_the_core_says_the_library_is_empty_and_only_then(hash_library: Library, tmp_path: Path) -> None:
    for mode in MODES:
        for group in (False, True):
            response = hash_library.search("travel expenses", mode=mode, group=group)
            assert response.hits == () and response.library_empty, (mode, group)
            assert response.to_dict()["library_empty"] is True
    ingest_paths(hash_library, [write(tmp_path / "a.md", "# Travel\n\nTravel expenses need receipts.")])
    assert not hash_library.search("travel expenses").library_empty
    # Nothing matched in a library that has documents: not empty.
    missed = hash_library.search("travel expenses", filters={"file_types": ["pdf"]})
    assert missed.hits == () and not missed.library_empty


def test_a_caller_who_sees_no_document_is_told_the_library_is_empty(
    hash_library: Library, tmp_path: Path
) -> None:
    ingest_paths(hash_library, [write(tmp_path / "a.md", "# Legal\n\nThe settlement.")], groups=["legal"])
    assert hash_library.view(frozenset({"hr"})).search("settlement").library_empty
    assert not hash_library.view(frozenset({"legal"})).search("settlement").library_empty


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    env = {
        "SEARCHAPP_DATA_DIR": str(tmp_path / "data"),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
    }
    return lambda *args: CliRunner().invoke(app, list(args), env=env)


def test_the_cli_says_the_library_is_empty_on_stderr_with_the_ingest_command(
    cli: Any, tmp_path: Path
) -> None:
    result = cli("search", "travel expenses")
    assert result.exit_code == 1  # as for no results
    assert "The library is empty" in result.stderr and "searchapp ingest PATH" in result.stderr
    assert "No passages matched" not in result.stderr and result.stdout == ""
    as_json = cli("search", "travel expenses", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["library_empty"] is True
    assert "searchapp ingest PATH" in as_json.stderr
    write(tmp_path / "a.md", "# Travel\n\nTravel expenses need receipts.")
    assert cli("ingest", str(tmp_path / "a.md")).exit_code == 0
    missed = cli("search", "travel expenses", "--type", "pdf")
    assert missed.exit_code == 1 and "No passages matched" in missed.stderr
    assert "library is empty" not in missed.stderr


@pytest.fixture
def api(hash_settings: Settings) -> Iterator[tuple[TestClient, ApiContext, dict[str, str]]]:
    ctx = ApiContext(OwnLibraries(hash_settings), ApiConfig())
    _, token = ctx.tokens.create(hash_settings.collection, "read")
    try:
        with TestClient(create_api(ctx)) as client:
            yield client, ctx, {"Authorization": f"Bearer {token}"}
    finally:
        ctx.close()


def test_the_api_answers_library_empty_with_a_notice_the_schema_documents(api: Any) -> None:
    client, _, headers = api
    answer = client.post("/v1/search", json={"query": "travel expenses", "group": True}, headers=headers)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["library_empty"] is True and data["results"] == []
    assert any("holds no documents" in n and "POST /api/v1/documents" in n for n in data["notices"])
    field = client.get("/openapi.json").json()["components"]["schemas"]["SearchOut"]["properties"]
    assert (
        field["library_empty"]["type"] == "boolean"
        and "no documents" in field["library_empty"]["description"]
    )


def test_the_mcp_search_tool_says_the_library_is_empty(api: Any) -> None:
    ctx = api[1]
    server = build_mcp(ctx, stdio_caller=stdio_caller(ctx, {}))

    async def run() -> Any:
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            return tools["search"], await client.call_tool("search", {"query": "travel expenses"})

    tool, result = anyio.run(run)
    assert not result.is_error, result.content
    found = result.structured_content
    assert found["library_empty"] is True and found["passages"] == []
    assert any("holds no documents" in notice for notice in found["notices"])
    assert "library_empty" in (tool.output_schema or {}).get("properties", {})
