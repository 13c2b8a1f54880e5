"""OIDC bearer tokens on the live API, from a real provider on 127.0.0.1 (oidc-provider-mock).

Users sign in through the authorization-code flow and call the API with their ID token.
The token is checked against the provider's keys (discovery + JWKS) and mapped to a team
and groups by the same teams table the UI uses (`searchapp.access`): each user reaches
their own team's documents, as far as their groups see; no team, an unverified address,
a tampered token, one signed with another key, one for another client, or an opaque
token are refused. The MCP server takes the same token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from oidc_provider_mock import User

from tests.api_server import LiveApi, live_api, wait_for_job
from tests.mcp_discovery import discover
from tests.oidc_provider import Provider, auth_secrets, oidc_provider

pytestmark = pytest.mark.server

USERS = [
    User(sub="alice", claims={"email": "alice@example.com", "email_verified": True, "groups": ["legal"]}),
    User(sub="carol", claims={"email": "Carol@Example.com", "email_verified": True, "groups": ["hr"]}),
    User(sub="bob", claims={"email": "bob@partner.org", "email_verified": True}),
    User(sub="mallory", claims={"email": "mallory@elsewhere.org", "email_verified": True}),
    User(sub="eve", claims={"email": "eve@example.com", "email_verified": False}),
]
TEAMS: dict[str, object] = {"@example.com": "team-a", "bob@partner.org": "team-b"}
TOKENS: dict[str, dict[str, object]] = {
    "a_admin": {"collection": "team-a", "role": "admin"},
    "b_admin": {"collection": "team-b", "role": "admin"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApi, Provider, dict[str, str]]]:
    root = tmp_path_factory.mktemp("api-oidc")
    with oidc_provider(USERS) as provider:
        (root / ".streamlit").mkdir()
        (root / ".streamlit" / "secrets.toml").write_text(auth_secrets(provider, TEAMS))
        with live_api(root, TOKENS) as live, httpx.Client(timeout=60) as client:
            ids = {}
            for token, name, text, groups in (
                ("a_admin", "open.md", "# Open\n\nThe heron roster is shared by everyone.\n", ()),
                ("a_admin", "legal.md", "# Legal\n\nThe pangolite settlement is confidential.\n", ("legal",)),
                ("b_admin", "bravo.md", "# Bravo\n\nThe marmot archive moves in March.\n", ()),
            ):
                made = client.post(
                    f"{live.api}/documents",
                    headers=live.auth(token),
                    files=[("files", (name, text.encode(), "text/markdown"))],
                    data={"groups": list(groups)} if groups else None,
                )
                job = wait_for_job(client, made.json()["status_url"], live.auth(token))
                ids[name] = job["report"]["files"][0]["doc_id"]  # type: ignore[index]
            yield live, provider, ids


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def found(live: LiveApi, token: str, query: str) -> set[str]:
    answer = httpx.post(
        f"{live.api}/search", headers=bearer(token), json={"query": query, "k": 10}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return {hit["source"] for hit in answer.json()["results"]}


def test_each_user_reaches_their_team_as_far_as_their_groups_see(world: Any) -> None:
    live, provider, ids = world
    alice, carol, bob = (provider.id_token(sub) for sub in ("alice", "carol", "bob"))
    me = httpx.get(f"{live.api}/me", headers=bearer(alice), timeout=30).json()
    assert me["collection"] == "team-a" and me["via"] == "oidc" and me["groups"] == ["legal"]
    assert me["subject"].startswith("oidc:default:" + provider.url)
    assert "legal.md" in found(live, alice, "pangolite settlement")
    assert "legal.md" not in found(live, carol, "pangolite settlement")  # same team, another group
    assert (
        httpx.get(f"{live.api}/documents/{ids['legal.md']}", headers=bearer(carol), timeout=30).status_code
        == 404
    )
    assert (
        httpx.get(f"{live.api}/documents/{ids['open.md']}", headers=bearer(carol), timeout=30).status_code
        == 200
    )
    assert found(live, bob, "pangolite settlement heron roster") <= {"bravo.md"}
    assert (
        httpx.get(f"{live.api}/documents/{ids['open.md']}", headers=bearer(bob), timeout=30).status_code
        == 404
    )
    # A signed-in user writes as in the UI, but does not manage tokens.
    assert httpx.get(f"{live.api}/tokens", headers=bearer(alice), timeout=30).status_code == 403


@pytest.mark.parametrize(("sub", "words"), [("mallory", "not assigned to a team"), ("eve", "not verified")])
def test_users_without_a_team_are_refused(world: Any, sub: str, words: str) -> None:
    live, provider, _ = world
    answer = httpx.post(
        f"{live.api}/search", headers=bearer(provider.id_token(sub)), json={"query": "heron"}, timeout=30
    )
    assert answer.status_code == 403 and words in answer.json()["detail"]


def test_forged_tampered_and_foreign_tokens_are_refused(world: Any) -> None:
    live, provider, _ = world
    tokens = provider.tokens("alice")
    good = tokens["id_token"]
    head, body, signature = good.split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good).get("kid")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {**claims, "groups": ["legal", "hr"], "exp": int(time.time()) + 600},
        other_key,
        "RS256",
        headers={"kid": kid} if kid else None,
    )
    unsigned = jwt.encode({**claims, "exp": int(time.time()) + 600}, None, "none")  # type: ignore[arg-type]
    refused = {
        "tampered": f"{head}.{body}.{flipped}",
        "forged": forged,
        "alg-none": unsigned,
        "other-client": provider.id_token("alice", client_id="another-app"),
        "opaque-access-token": tokens["access_token"],
    }
    for name, token in refused.items():
        answer = httpx.get(f"{live.api}/me", headers=bearer(token), timeout=30)
        assert answer.status_code == 401, (name, answer.text)
    assert httpx.get(f"{live.api}/me", headers=bearer(good), timeout=30).status_code == 200


def test_the_mcp_server_takes_the_same_sign_in_token(world: Any) -> None:
    live, provider, _ = world
    token = provider.id_token("alice")

    async def run() -> list[str]:
        transport = streamable_http_client(
            f"{live.url}/mcp", http_client=httpx2.AsyncClient(headers=bearer(token), timeout=60)
        )
        async with Client(transport) as client:
            result = await client.call_tool("search", {"query": "pangolite settlement", "k": 3})
            assert not result.is_error, result.content
            return [p["citation"]["document"] for p in result.structured_content["passages"]]  # type: ignore[index]

    assert anyio.run(run)[0] == "legal.md"


def test_mcp_clients_are_sent_to_the_identity_provider_for_tokens(world: Any) -> None:
    live, provider, _ = world
    issuer = httpx.get(provider.metadata_url, timeout=30).json()["issuer"]
    found = discover(f"{live.url}/mcp")
    metadata = found.resource_metadata
    assert metadata is not None and f'resource_metadata="{live.url}/.well-known/' in found.www_authenticate
    assert str(metadata.resource) == f"{live.url}/mcp"
    # The provider's issuer, as its discovery document writes it; never this server itself.
    assert [str(server) for server in metadata.authorization_servers] == [issuer]
    server = found.authorization_server
    assert server is not None and str(server.issuer) == issuer
    assert str(server.authorization_endpoint).startswith(provider.url)


def test_a_member_removed_from_the_teams_table_loses_access_without_a_restart(world: Any) -> None:
    live, provider, _ = world
    assert live.log is not None
    secrets = live.log.parent / ".streamlit" / "secrets.toml"
    before = secrets.read_text()
    alice, carol = provider.id_token("alice"), provider.id_token("carol")

    def answers(token: str, wanted: int) -> httpx.Response:
        deadline = time.monotonic() + 15  # the server re-reads the secrets every few seconds
        while True:
            answer = httpx.get(f"{live.api}/me", headers=bearer(token), timeout=30)
            if answer.status_code == wanted or time.monotonic() > deadline:
                return answer
            time.sleep(0.3)

    assert answers(carol, 200).status_code == 200
    try:
        secrets.write_text(
            auth_secrets(provider, {"alice@example.com": "team-a", "bob@partner.org": "team-b"})
        )
        removed = answers(carol, 403)
        assert removed.status_code == 403 and "not assigned to a team" in removed.json()["detail"]
        assert answers(alice, 200).json()["collection"] == "team-a"  # an exact entry still holds
        secrets.write_text(before.replace("[searchapp.teams]", '[searchapp.teams]\n"@example.com" = 7'))
        broken = answers(alice, 503)  # never judged by the old table while the new one is broken
        assert broken.status_code == 503 and "teams table" in broken.json()["detail"], broken.text
    finally:
        secrets.write_text(before)
    assert answers(carol, 200).status_code == 200
