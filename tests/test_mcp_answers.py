"""What the MCP tools answer, through the SDK's own client: every answer it accepts arrives.

The SDK's client reads one server-sent event of at most 1 MiB, and each answer is sent
twice (structuredContent and its JSON as text): `search` took k up to 1,000, and from
about 550 passages on the call failed with "Server-sent event exceeded the 1048576 byte
limit". Now k is at most 50, and long passages are cut to fit (said in `notices`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from searchapp import Library, Settings
from searchapp.ingest import ingest_paths
from tests.api_server import LiveApi, live_api, server_env
from tests.conftest import write
from tests.mcp_raw import open_session

pytestmark = pytest.mark.server

# The longest passages the test embedder makes (its window is 256 words), of 4-byte
# characters, under a long heading in a document with a long name: 50 of them are over 1 MiB.
LONG_ENV = {"SEARCHAPP_CHUNK_TOKENS": "254"}
TOKENS: dict[str, dict[str, object]] = {"reader": {"collection": "documents", "role": "read"}}


def long_text() -> str:
    draw = random.Random(7)

    def word() -> str:
        return "".join(chr(0x20000 + draw.randrange(5000)) for _ in range(20))

    heading = "# Walrus " + "".join(word() for _ in range(25))
    return heading + "\n\n" + "\n\n".join("walrus " + " ".join(word() for _ in range(120)) for _ in range(70))


@pytest.fixture(scope="module")
def long_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    root = tmp_path_factory.mktemp("mcp-long")
    environ = server_env(root / "data", root / "home", LONG_ENV)
    (root / "home").mkdir(parents=True, exist_ok=True)
    with Library.open(Settings.load(environ=environ)) as library:
        name = "walrus-" + "w" * 150 + ".md"
        assert not ingest_paths(library, [write(root / "files" / name, long_text())]).failed
    with live_api(root, TOKENS, env=LONG_ENV) as live:
        yield live


def call(live: LiveApi, tool: str, arguments: dict[str, Any]) -> Any:
    async def run() -> Any:
        client = httpx2.AsyncClient(headers=live.auth("reader"), timeout=120)
        async with Client(streamable_http_client(f"{live.url}/mcp", http_client=client)) as mcp:
            if tool == "list":
                return {t.name: t for t in (await mcp.list_tools()).tools}
            return await mcp.call_tool(tool, arguments)

    return anyio.run(run)


def test_the_most_passages_a_tool_takes_arrive_over_http_however_long(long_server: LiveApi) -> None:
    tools = call(long_server, "list", {})
    for name in ("search", "similar_passages"):
        assert tools[name].input_schema["properties"]["k"]["maximum"] == 50
    found = call(long_server, "search", {"query": "walrus", "k": 50})
    assert not found.is_error, found.content
    passages = found.structured_content["passages"]
    assert len(passages) == 50
    # The SDK's client counts an event's characters; one that counts its bytes is served too.
    with httpx.Client(timeout=120) as raw:
        session = open_session(raw, f"{long_server.url}/mcp", long_server.auth("reader"))
        arguments = {"name": "search", "arguments": {"query": "walrus", "k": 50}}
        event = raw.post(
            f"{long_server.url}/mcp",
            headers=session,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": arguments},
        )
        assert event.status_code == 200 and len(event.content) < 1024 * 1024, len(event.content)
    cut = [p for p in passages if p["text"].endswith("…")]
    assert cut and any("cut to" in n and "fetch_passage" in n for n in found.structured_content["notices"])
    # A cut passage comes whole from fetch_passage, and 40 neighbours around one arrive too.
    whole = call(long_server, "fetch_passage", {"passage_id": cut[0]["citation"]["passage_id"]})
    assert whole.structured_content["passage"]["text"].startswith(cut[0]["text"][:-1])
    assert len(whole.structured_content["passage"]["text"]) > len(cut[0]["text"])
    doc_id = cut[0]["citation"]["doc_id"]
    around = call(long_server, "fetch_passage", {"passage_id": f"{doc_id}:30", "before": 20, "after": 20})
    assert not around.is_error, around.content
    assert len(around.structured_content["before"]) == len(around.structured_content["after"]) == 20
    like = call(
        long_server, "similar_passages", {"passage_id": passages[0]["citation"]["passage_id"], "k": 50}
    )
    assert not like.is_error and len(like.structured_content["passages"]) == 50, like.content
    for tool, arguments in (
        ("search", {"query": "walrus", "k": 51}),
        ("similar_passages", {"passage_id": passages[0]["citation"]["passage_id"], "k": 1000}),
    ):
        refused = call(long_server, tool, arguments)
        assert refused.is_error and "k must be an integer from 1 to 50" in refused.content[0].text


def test_a_long_query_is_echoed_short_and_short_passages_get_no_cut_notice() -> None:
    """A pasted page as the query was echoed whole beside the passages, past the event limit
    that cutting passages was meant to keep to; and a cut notice came with nothing cut
    (found by review)."""
    from searchapp.api.mcp_models import ECHO_CHARS, Citation, Passage, SearchResult, echoed, fitted

    page = "walrus " * 100_000
    assert len(echoed(page)) == ECHO_CHARS and echoed(page).endswith("…") and echoed("walrus") == "walrus"
    citation = Citation(document="a.md", doc_id="a" * 64, page=None, heading="", passage_id="a" * 64 + ":0")
    short = [Passage(rank=i, score=0.5, text="short", citation=citation) for i in range(1, 51)]
    answer = SearchResult(query=page, mode="dense", weak_match=False, notices=[], passages=short)
    assert fitted(answer).notices == []
