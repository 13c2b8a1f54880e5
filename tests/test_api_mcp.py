"""The MCP server through the SDK's own client: over stdio (a child process) and streamable HTTP.

The tools list, a search with citations, a passage with neighbours and similar passages;
over HTTP without a token (401), with a revoked one (401) and with another team's token
(that team's documents only); over stdio as the local operator or as SEARCHAPP_TOKEN's caller.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from searchapp import Library, Settings
from searchapp.ingest import ingest_paths
from tests.api_server import LiveApi, live_api, server_env
from tests.conftest import write
from tests.mcp_discovery import discover
from tests.mcp_raw import call_search, open_session

pytestmark = pytest.mark.server

TOKENS: dict[str, dict[str, object]] = {
    "a_read": {"collection": "documents", "role": "read"},
    "a_revoked": {"collection": "documents", "role": "read", "revoked": True},
    "b_read": {"collection": "team-b", "role": "read"},
}
A_TEXT = "# Kiwi\n\n" + "\n\n".join(
    f"Section {i}: the kiwi orchard rota for week {i} is posted." for i in range(8)
)
PUBLIC_URL = "https://kb.example.com"  # where a reverse proxy serves this server
B_TEXT = "# Bravo\n\nThe marmot archive moves to the basement in March.\n"


def seed(root: Path) -> None:
    """Team A's document in the default collection, team B's in team-b (before any server runs)."""
    environ = server_env(root / "data", root / "home")
    (root / "home").mkdir(parents=True, exist_ok=True)
    for collection, name, text in (("documents", "kiwi.md", A_TEXT), ("team-b", "bravo.md", B_TEXT)):
        settings = Settings.load(environ=environ, collection=collection)
        with Library.open(settings) as library:
            report = ingest_paths(library, [write(root / "files" / name, text)])
            assert not report.failed


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    root = tmp_path_factory.mktemp("mcp-http")
    seed(root)
    with live_api(root, TOKENS, env={"SEARCHAPP_API_PUBLIC_URL": PUBLIC_URL}) as live:
        yield live


def http_client(live: LiveApi, token: str | None, *, host: str | None = None) -> Client:
    """The SDK's client; `host`: the Host header a reverse proxy in front would forward."""
    headers = {"Authorization": f"Bearer {live.tokens[token]}"} if token else {}
    if host:
        headers["Host"] = host
    return Client(
        streamable_http_client(f"{live.url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60))
    )


async def exercise(client: Client, word: str) -> dict[str, Any]:
    """List the tools, search for `word`, fetch the top passage with neighbours, find similar ones."""
    tools = await client.list_tools()
    assert {t.name for t in tools.tools} == {"search", "fetch_passage", "similar_passages"}
    found = await client.call_tool("search", {"query": word, "k": 3})
    assert not found.is_error, found.content
    result = found.structured_content or {}
    if not result.get("passages"):
        return result
    citation = result["passages"][0]["citation"]
    assert set(citation) == {"document", "doc_id", "page", "heading", "passage_id", "link"}
    link = citation["link"]  # none from a stdio server without a public URL (see the stdio test)
    assert link is None or link.endswith(f"/api/v1/documents/{citation['doc_id']}/original")
    passage = await client.call_tool(
        "fetch_passage", {"passage_id": citation["passage_id"], "before": 1, "after": 1}
    )
    assert not passage.is_error and passage.structured_content["passage"]["citation"] == citation  # type: ignore[index]
    similar = await client.call_tool("similar_passages", {"passage_id": citation["passage_id"], "k": 2})
    assert not similar.is_error
    # The passage asked about is named by its id, not sent back whole as the query.
    assert similar.structured_content["query"] == citation["passage_id"]  # type: ignore[index]
    ids = [p["citation"]["passage_id"] for p in similar.structured_content["passages"]]  # type: ignore[index]
    assert citation["passage_id"] not in ids
    return result


def test_http_with_a_token_searches_its_own_team(http_server: LiveApi) -> None:
    async def run() -> None:
        async with http_client(http_server, "a_read") as client:
            result = await exercise(client, "kiwi orchard rota")
            assert result["passages"][0]["citation"]["document"] == "kiwi.md"
            bad = await client.call_tool("fetch_passage", {"passage_id": "f" * 64 + ":0"})
            assert bad.is_error and "no passage has the id" in bad.content[0].text  # type: ignore[union-attr]
            # The search tool takes the core's request: the query syntax, its errors as the core words them.
            tools = {t.name: t for t in (await client.list_tools()).tools}
            schema = tools["search"].input_schema["properties"]
            assert "doc:NAME" in schema["query"]["description"] and schema["k"]["maximum"] == 50
            typed = await client.call_tool("search", {"query": 'rota "week 3" doc:kiwi type:md', "k": 5})
            assert not typed.is_error, typed.content
            passages = typed.structured_content["passages"]  # type: ignore[index]
            assert passages and all("week 3" in p["text"] for p in passages)
            for arguments, words in (
                ({"query": "rota doc:bravo.md"}, "doc:bravo.md names no document"),  # team B's
                ({"query": "rota type:xls"}, "type:xls is not a file type"),
                ({"query": "rota", "k": 0}, "k must be an integer from 1 to 50"),
                ({"query": "rota", "filters": {"visible_to": ["x"]}}, "unknown filter 'visible_to'"),
            ):
                refused = await client.call_tool("search", arguments)
                assert refused.is_error and words in refused.content[0].text, refused.content  # type: ignore[union-attr]
        async with http_client(http_server, "b_read") as client:
            result = await exercise(client, "kiwi orchard rota")
            assert all(p["citation"]["document"] == "bravo.md" for p in result["passages"])

    anyio.run(run)


def test_http_through_a_reverse_proxy_that_forwards_the_public_host(http_server: LiveApi) -> None:
    """Caddy, Traefik and nginx with `Host $host` forward the public name: the SDK's
    DNS-rebinding check refused every such request (421) until the public URL was allowed."""

    async def run() -> None:
        async with http_client(http_server, "a_read", host="kb.example.com") as client:
            result = await exercise(client, "kiwi orchard rota")
            assert result["passages"][0]["citation"]["link"].startswith(f"{PUBLIC_URL}/api/v1/documents/")

    anyio.run(run)
    for host in ("attacker.example", "kb.example.com.attacker.example"):  # rebinding is still refused
        refused = httpx.post(
            f"{http_server.url}/mcp",
            headers={
                **http_server.auth("a_read"),
                "Host": host,
                "Accept": "application/json, text/event-stream",
            },
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            timeout=30,
        )
        assert refused.status_code == 421, (host, refused.status_code)


@pytest.mark.parametrize("token", [None, "a_revoked"])
def test_http_without_a_valid_token_is_refused(http_server: LiveApi, token: str | None) -> None:
    async def run() -> None:
        async with http_client(http_server, token) as client:
            await client.list_tools()

    with pytest.raises(Exception, match="unhandled errors"):  # the SDK's client cannot connect
        anyio.run(run)
    headers = {"Authorization": f"Bearer {http_server.tokens[token]}"} if token else {}
    raw = httpx.post(
        f"{http_server.url}/mcp",
        headers={**headers, "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        timeout=30,
    )
    assert raw.status_code == 401 and raw.headers["www-authenticate"].startswith("Bearer")


def stdio(root: Path, extra: dict[str, str]) -> Client:
    env = server_env(root / "data", root / "home", extra)
    return Client(
        StdioServerParameters(
            command=sys.executable, args=["-m", "searchapp.cli.main", "mcp"], env=env, cwd=str(root)
        )
    )


def test_stdio_as_the_operator_and_as_a_token(tmp_path: Path) -> None:
    seed(tmp_path)
    from tests.api_server import make_tokens

    secrets, _ = make_tokens(Settings.load(environ=server_env(tmp_path / "data", tmp_path / "home")), TOKENS)

    async def run() -> None:
        async with stdio(tmp_path, {}) as client:  # no token: the local operator, default collection
            result = await exercise(client, "kiwi orchard rota")
            assert result["passages"][0]["citation"]["document"] == "kiwi.md"
            # No web address: no link, rather than a path on a server that does not exist.
            assert all(p["citation"]["link"] is None for p in result["passages"])
            tools = {t.name: t for t in (await client.list_tools()).tools}
            link = tools["search"].output_schema["$defs"]["Citation"]["properties"]["link"]  # type: ignore[index]
            assert {"type": "null"} in link["anyOf"] and "SEARCHAPP_API_PUBLIC_URL" in link["description"]
        extra = {"SEARCHAPP_TOKEN": secrets["b_read"], "SEARCHAPP_API_PUBLIC_URL": PUBLIC_URL}
        async with stdio(tmp_path, extra) as client:
            result = await exercise(client, "marmot archive")
            assert {p["citation"]["document"] for p in result["passages"]} == {"bravo.md"}
            doc_id = result["passages"][0]["citation"]["doc_id"]
            assert (
                result["passages"][0]["citation"]["link"]
                == f"{PUBLIC_URL}/api/v1/documents/{doc_id}/original"
            )

    anyio.run(run)


def test_stdio_with_a_revoked_token_does_not_start(tmp_path: Path) -> None:
    seed(tmp_path)
    from tests.api_server import make_tokens

    secrets, _ = make_tokens(Settings.load(environ=server_env(tmp_path / "data", tmp_path / "home")), TOKENS)

    async def run() -> None:
        with anyio.fail_after(60):
            async with stdio(tmp_path, {"SEARCHAPP_TOKEN": secrets["a_revoked"]}) as client:
                await client.list_tools()

    with pytest.raises(
        Exception, match=r"unhandled errors|Connection closed"
    ):  # it exits before the handshake
        anyio.run(run)


def test_with_api_tokens_only_no_authorization_server_is_advertised(http_server: LiveApi) -> None:
    # No identity provider is configured: nothing issues tokens but `searchapp tokens`, so a
    # client finds no protected-resource metadata (it used to name this server itself).
    found = discover(f"{http_server.url}/mcp")
    assert found.www_authenticate.startswith("Bearer ") and "resource_metadata" not in found.www_authenticate
    assert found.resource_metadata is None


def test_http_refuses_a_body_over_1_mb_before_reading_it(http_server: LiveApi) -> None:
    """/mcp had only the SDK's 4 MiB limit: a 3 MB tools/call was read and run. Now a body
    over 1 MB (the API's JSON limit) is answered 413, with a length or sent in chunks, and
    the session goes on."""
    url = f"{http_server.url}/mcp"
    with httpx.Client(timeout=60) as client:
        session = open_session(client, url, http_server.auth("a_read"))
        big = "kiwi orchard rota " + "x" * 1_100_000
        for chunked in (False, True):
            refused = call_search(client, url, session, big, chunked=chunked)
            assert refused.status_code == 413, (chunked, refused.status_code, refused.text[:200])
        found = call_search(client, url, session, "kiwi orchard rota " + "x" * 900_000)
        assert found.status_code == 200 and "kiwi.md" in found.text, found.text[:300]


def test_http_tools_describe_and_bound_every_argument_and_read_counts_alike(http_server: LiveApi) -> None:
    """fetch_passage's arguments had no description or bounds, `before: "2"` was taken where
    `k: "2"` was refused, no tool said it only reads, serverInfo.version was "", and a
    neighbour had no passage id to fetch further with."""
    import searchapp

    async def run() -> None:
        async with http_client(http_server, "a_read") as client:
            assert client.server_info is not None and client.server_info.version == searchapp.__version__
            tools = {t.name: t for t in (await client.list_tools()).tools}
            for tool in tools.values():
                assert tool.annotations is not None and tool.annotations.read_only_hint is True, tool.name
                assert tool.annotations.destructive_hint is False, tool.name
                for name, schema in tool.input_schema["properties"].items():
                    assert schema.get("description"), (tool.name, name)
            fetch = tools["fetch_passage"].input_schema["properties"]
            assert fetch["passage_id"]["type"] == "string" and fetch["passage_id"]["minLength"] == 1
            for name in ("before", "after"):
                assert (fetch[name]["type"], fetch[name]["minimum"], fetch[name]["maximum"]) == (
                    "integer",
                    0,
                    20,
                )
            found = await client.call_tool("search", {"query": "kiwi orchard rota", "k": 1})
            doc_id = found.structured_content["passages"][0]["citation"]["doc_id"]  # type: ignore[index]
            start = f"{doc_id}:0"
            for tool, arguments, words in (
                ("search", {"query": "rota", "k": "2"}, "k must be an integer from 1 to 50; got '2'"),
                (
                    "fetch_passage",
                    {"passage_id": start, "before": "2"},
                    "before must be an integer from 0 to 20",
                ),
                (
                    "fetch_passage",
                    {"passage_id": start, "after": 21},
                    "after must be an integer from 0 to 20",
                ),
                ("fetch_passage", {"passage_id": 7}, "the argument 'passage_id'"),
            ):
                refused = await client.call_tool(tool, arguments)
                assert refused.is_error and words in refused.content[0].text, refused.content  # type: ignore[union-attr]
            # A neighbour's passage id fetches the passages around it in turn.
            first = await client.call_tool("fetch_passage", {"passage_id": start, "before": 0, "after": 2})
            after = first.structured_content["after"]  # type: ignore[index]
            assert [n["passage_id"] for n in after] == [f"{doc_id}:1", f"{doc_id}:2"]
            further = await client.call_tool(
                "fetch_passage", {"passage_id": after[0]["passage_id"], "before": 1}
            )
            assert not further.is_error, further.content
            assert further.structured_content["passage"]["text"] == after[0]["text"]  # type: ignore[index]
            assert further.structured_content["before"][0]["passage_id"] == start  # type: ignore[index]

    anyio.run(run)


def test_http_an_unknown_passage_id_is_called_one_and_the_hint_names_what_mcp_shows(
    http_server: LiveApi,
) -> None:
    """fetch_passage pointed at `chunk_id`, a field no MCP result has, and similar_passages
    with 'nope:1' answered "no document named or with id 'nope'; search without naming a
    document", as if a document name were wrong."""

    async def run() -> None:
        async with http_client(http_server, "a_read") as client:
            found = await client.call_tool("search", {"query": "kiwi orchard rota", "k": 1})
            kiwi = found.structured_content["passages"][0]["citation"]["passage_id"]  # type: ignore[index]
        async with http_client(http_server, "b_read") as client:  # team B may not see kiwi.md
            for tool in ("fetch_passage", "similar_passages"):
                for ref in ("nope", "nope:1", "f" * 64 + ":0", "ffffffff:3", kiwi):
                    refused = await client.call_tool(tool, {"passage_id": ref})
                    text = refused.content[0].text  # type: ignore[union-attr]
                    assert refused.is_error and f"no passage has the id {ref!r}" in text, (tool, text)
                    assert "`citation.passage_id` of a search" in text, text
                    assert "chunk_id" not in text and "naming a document" not in text, text

    anyio.run(run)
