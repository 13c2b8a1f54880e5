"""Log-out ends the API's and MCP's access too, not just the browser's cookie.

Streamlit keeps the provider's ID token in the ``_streamlit_user_tokens`` cookie (signed,
not encrypted), and the API and MCP server accept that token as a bearer token. So a
user signs in to the real app (``searchapp ui``'s server) through a real OpenID Connect
provider on 127.0.0.1 (oidc-provider-mock), over HTTP as a browser would; the ID token
taken from the cookie answers ``/api/v1/me`` and ``/mcp``; after ``/auth/logout`` it is
refused by both (and the log-out address at the provider does not carry it); a fresh
sign-in's token works again, the old one still does not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from oidc_provider_mock import User

from searchapp import Library
from searchapp.api import sign_outs
from searchapp.errors import AuthError
from searchapp.storage.records import RecordTable
from searchapp.ui.routes import without_id_token_hint
from tests.app_server import Server, free_port, running_app
from tests.conftest import make_settings
from tests.oidc_provider import Provider, auth_secrets, id_token_in_cookies, oidc_provider

COOKIE_SECRET = "test-cookie-secret-0123456789abcdef"  # tests.oidc_provider.auth_secrets's
ADA = User(sub="ada", claims={"email": "ada@example.com", "email_verified": True})


# ---------------------------------------------------------------------- the rules, on a real table


@pytest.fixture
def table(tmp_path: Path) -> Iterator[RecordTable]:
    with Library.open(make_settings(tmp_path, model="hash:64")) as library:
        yield library.store.global_table(sign_outs.TABLE)


def test_tokens_issued_up_to_a_sign_out_are_refused_and_later_ones_pass(
    table: RecordTable,
) -> None:
    ada = {"iss": "https://id.example", "sub": "ada"}
    sign_outs.check(table, {**ada, "iat": 1000})  # nobody signed out yet
    assert sign_outs.record(table, {**ada, "iat": 990}, now=1000.5) == 1000.5
    for issued in (990, 1000):
        with pytest.raises(AuthError, match="before its user signed out"):
            sign_outs.check(table, {**ada, "iat": issued})
    with pytest.raises(AuthError):
        sign_outs.check(table, ada)  # no iat: nothing shows it is newer
    sign_outs.check(table, {**ada, "iat": 1001})
    sign_outs.check(table, {"iss": "https://id.example", "sub": "bob", "iat": 1})  # another user
    sign_outs.check(table, {"iss": "https://other.example", "sub": "ada", "iat": 1})  # another issuer
    # A provider clock ahead of ours: the signed-out sign-in's own token is the cut-off.
    assert sign_outs.record(table, {**ada, "iat": 5000}, now=2000) == 5000
    # A late or repeated record never moves the cut-off back.
    assert sign_outs.record(table, {**ada, "iat": 10}, now=3000) == 5000
    with pytest.raises(AuthError):
        sign_outs.check(table, {**ada, "iat": 4999})
    assert sign_outs.record(table, {"sub": "ada"}) is None  # no issuer: nothing to record


def test_the_id_token_hint_is_taken_out_of_the_provider_log_out_address() -> None:
    url = "https://id.example/logout?client_id=searchapp&post_logout_redirect_uri=x&id_token_hint=eyJ.a.b"
    assert parse_qs(urlsplit(without_id_token_hint(url)).query) == {
        "client_id": ["searchapp"],
        "post_logout_redirect_uri": ["x"],
    }
    assert without_id_token_hint("/") == "/"


# ---------------------------------------------------------------------- end to end


def sign_in(app: Server, provider: Provider, sub: str) -> tuple[httpx.Client, str]:
    """A browser's authorization-code sign-in to the app; its cookie jar and the ID token in it."""
    browser = httpx.Client(timeout=60, follow_redirects=False)
    # What st.login's button links to: /auth/login with a provider token signed with the cookie secret.
    provider_token = jwt.encode(
        {"provider": "default", "exp": int(time.time()) + 300}, COOKIE_SECRET, algorithm="HS256"
    )
    to_provider = browser.get(f"{app.url}/auth/login", params={"provider": provider_token})
    assert to_provider.status_code in (302, 303, 307), to_provider.text
    chosen = browser.post(to_provider.headers["location"], data={"sub": sub})  # the provider's page
    callback = chosen.headers["location"]
    assert callback.startswith(f"{app.url}/oauth2callback")
    signed_in = browser.get(callback)
    assert signed_in.status_code in (302, 303, 307), signed_in.text
    return browser, id_token_of(browser)


def id_token_of(browser: httpx.Client) -> str:
    return id_token_in_cookies({c.name: c.value for c in browser.cookies.jar}, COOKIE_SECRET)


def me(app: Server, token: str) -> int:
    return httpx.get(
        f"{app.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ).status_code


def mcp_tools(app: Server, token: str) -> list[str]:
    async def run() -> list[str]:
        transport = streamable_http_client(
            f"{app.url}/mcp",
            http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60),
        )
        async with Client(transport) as mcp:
            return [tool.name for tool in (await mcp.list_tools()).tools]

    return anyio.run(run)


def mcp_status(app: Server, token: str) -> int:
    return httpx.post(
        f"{app.url}/mcp",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        timeout=60,
    ).status_code


@pytest.mark.server
def test_after_log_out_the_id_token_from_the_cookie_opens_neither_api_nor_mcp(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    port = free_port()
    with oidc_provider([ADA]) as provider:
        (tmp_path / ".streamlit").mkdir()
        (tmp_path / ".streamlit" / "secrets.toml").write_text(
            auth_secrets(
                provider,
                {"@example.com": "documents"},
                redirect_uri=f"http://127.0.0.1:{port}/oauth2callback",
            )
        )
        with running_app(settings, tmp_path, port=port) as app:
            browser, stolen = sign_in(app, provider, "ada")
            assert me(app, stolen) == 200
            assert "search" in mcp_tools(app, stolen)

            # Another site cannot sign the user out: a cross-site navigation is sent home.
            for site in ("cross-site", "same-site"):
                forced = browser.get(f"{app.url}/auth/logout", headers={"Sec-Fetch-Site": site})
                assert forced.status_code == 303 and forced.headers["location"] == "/"
            assert me(app, stolen) == 200

            left = browser.get(f"{app.url}/auth/logout", headers={"Sec-Fetch-Site": "same-origin"})
            assert left.status_code in (302, 303, 307)
            at_provider = parse_qs(urlsplit(left.headers["location"]).query)
            assert at_provider.get("client_id") == ["searchapp"]
            assert "id_token_hint" not in at_provider  # the token is not put in a URL
            signed_out = time.time()

            assert me(app, stolen) == 401
            assert mcp_status(app, stolen) == 401

            # A fresh sign-in works. Its token must be issued (iat, whole seconds) after the
            # second of the log-out: wait for the next second to begin (not an assertion).
            time.sleep(max(0.0, math.floor(signed_out) + 1 - time.time()))
            browser.close()
            browser, fresh = sign_in(app, provider, "ada")
            assert fresh != stolen
            assert me(app, fresh) == 200
            assert "search" in mcp_tools(app, fresh)
            assert me(app, stolen) == 401  # the old token stays refused
            browser.close()
