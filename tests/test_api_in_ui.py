"""The API and the MCP server inside `searchapp ui`: one process for an embedded data directory.

The UI's server answers `/api/v1/...` and `/mcp` behind the same tokens, over the UI's own
libraries: a file uploaded through the API is found over MCP and on the UI's search page
(AppTest's page would open its own library; the real server shares one).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.api_server import make_tokens, wait_for_job
from tests.app_server import running_app
from tests.conftest import make_settings
from tests.mcp_discovery import discover
from tests.mcp_raw import call_search, open_session
from tests.oidc_provider import auth_secrets, oidc_provider

pytestmark = pytest.mark.server


def test_the_ui_serves_the_api_and_mcp_in_its_own_process(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    secrets, _ = make_tokens(settings, {"writer": {"collection": settings.collection, "role": "write"}})
    headers = {"Authorization": f"Bearer {secrets['writer']}"}
    (tmp_path / ".streamlit").mkdir(exist_ok=True)  # served behind a proxy at this address
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[searchapp.api]\npublic_url = "https://kb.example.com"\n'
    )
    with running_app(settings, tmp_path) as app, httpx.Client(timeout=60) as client:
        api = f"{app.url}/api/v1"
        assert client.get(f"{api}/me").status_code == 401
        assert client.get(f"{api}/documents/a%0Ab", headers=headers).json()["code"] == "not_found"
        made = client.post(
            f"{api}/documents",
            headers=headers,
            files=[
                (
                    "files",
                    ("kestrel.md", b"# Kestrel\n\nThe kestrel census runs every June.\n", "text/markdown"),
                )
            ],
        )
        assert made.status_code == 202
        status_url = made.json()["status_url"]
        assert status_url.startswith("https://kb.example.com/api/v1/")  # links carry the public address
        assert (
            wait_for_job(client, status_url.replace("https://kb.example.com", app.url), headers)["state"]
            == "done"
        )
        hits = client.post(f"{api}/search", headers=headers, json={"query": "kestrel census"}).json()[
            "results"
        ]
        assert hits[0]["source"] == "kestrel.md"
        assert client.get(f"{app.url}/_stcore/health").text == "ok"  # the UI itself is still there

        async def over_mcp(token_headers: dict[str, str]) -> list[str]:
            transport = streamable_http_client(
                f"{app.url}/mcp", http_client=httpx2.AsyncClient(headers=token_headers, timeout=60)
            )
            async with Client(transport) as mcp:
                result = await mcp.call_tool("search", {"query": "kestrel census", "k": 2})
                passages = result.structured_content["passages"]  # type: ignore[index]
                assert all(p["citation"]["link"].startswith("https://kb.example.com/api/") for p in passages)
                return [p["citation"]["document"] for p in passages]

        assert anyio.run(over_mcp, headers) == ["kestrel.md"]
        # Through the proxy, which forwards the public Host: allowed, where any other name is not.
        assert anyio.run(over_mcp, {**headers, "Host": "kb.example.com"}) == ["kestrel.md"]
        # A body over 1 MB (the API's JSON limit) is refused before it is read; the SDK's was 4 MiB.
        session = open_session(client, f"{app.url}/mcp", headers)
        refused = call_search(client, f"{app.url}/mcp", session, "kestrel " + "x" * 1_100_000)
        assert refused.status_code == 413, refused.text[:200]
        assert "kestrel.md" in call_search(client, f"{app.url}/mcp", session, "kestrel census").text
        stranger = {**headers, "Host": "attacker.example", "Accept": "application/json, text/event-stream"}
        assert client.post(f"{app.url}/mcp", headers=stranger, json={}).status_code == 421
        raw = client.post(
            f"{app.url}/mcp",
            headers={"Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert raw.status_code == 401
        # API tokens only: no authorization server to send an MCP client to, so no OAuth metadata.
        found = discover(f"{app.url}/mcp")
        assert found.resource_metadata is None and "resource_metadata" not in found.www_authenticate


def test_the_uis_mcp_server_sends_clients_to_its_identity_provider(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    with oidc_provider([]) as provider:
        (tmp_path / ".streamlit").mkdir()
        (tmp_path / ".streamlit" / "secrets.toml").write_text(
            auth_secrets(provider, {"@example.com": "documents"})
        )
        issuer = httpx.get(provider.metadata_url, timeout=30).json()["issuer"]
        with running_app(settings, tmp_path) as app:
            found = discover(f"{app.url}/mcp")
    assert found.resource_metadata is not None
    assert [str(server) for server in found.resource_metadata.authorization_servers] == [issuer]
    assert found.authorization_server is not None and str(found.authorization_server.issuer) == issuer
