"""MCP over plain HTTP requests: what the SDK's client never sends (a body over the limit).

`open_session` initializes a session as a client does; `call_search` posts one
``tools/call`` of `search`, its body as given, or sent in chunks (no Content-Length).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

import httpx

from tests.mcp_discovery import INITIALIZE

ACCEPT = {"Accept": "application/json, text/event-stream"}


def open_session(client: httpx.Client, url: str, headers: Mapping[str, str]) -> dict[str, str]:
    """An initialized session at `url`: the headers each of its requests carries."""
    opened = client.post(url, headers={**headers, **ACCEPT}, json=INITIALIZE)
    assert opened.status_code == 200, opened.text
    session = {
        **headers,
        **ACCEPT,
        "Content-Type": "application/json",
        "mcp-session-id": opened.headers["mcp-session-id"],
        "mcp-protocol-version": INITIALIZE["params"]["protocolVersion"],  # type: ignore[index]
    }
    ready = client.post(url, headers=session, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert ready.status_code == 202, ready.text
    return session


def call_search(
    client: httpx.Client, url: str, session: Mapping[str, str], query: str, *, chunked: bool = False
) -> httpx.Response:
    """The `search` tool called with `query`; `chunked`: the body streamed without a length."""
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": query, "k": 1}},
    }
    body = json.dumps(call).encode()
    if not chunked:
        return client.post(url, headers=session, content=body)

    def pieces() -> Iterator[bytes]:
        for at in range(0, len(body), 64 * 1024):
            yield body[at : at + 64 * 1024]

    return client.post(url, headers=session, content=pieces())
