"""A real OpenID Connect provider on 127.0.0.1 (oidc-provider-mock) and its ID tokens, for tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import httpx
from itsdangerous import URLSafeTimedSerializer
from oidc_provider_mock import User, run_server_in_thread

REDIRECT_URI = "http://127.0.0.1:9/oauth2callback"


@dataclass(frozen=True)
class Provider:
    url: str  # the issuer, http://127.0.0.1:PORT

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def tokens(
        self, sub: str, *, client_id: str = "searchapp", scope: str = "openid email profile"
    ) -> dict[str, str]:
        """Sign `sub` in through the authorization-code flow, as a browser would; the token response."""
        meta = httpx.get(self.metadata_url, timeout=30).json()
        params = {
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": scope,
            "state": "state",
            "nonce": "nonce",
        }
        answer = httpx.post(meta["authorization_endpoint"], params=params, data={"sub": sub}, timeout=30)
        code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
        token = httpx.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "client_secret": "not-checked-by-the-mock",
            },
            timeout=30,
        )
        token.raise_for_status()
        data: dict[str, str] = token.json()
        return data

    def id_token(self, sub: str, **kwargs: str) -> str:
        return self.tokens(sub, **kwargs)["id_token"]


@contextmanager
def oidc_provider(users: Sequence[User]) -> Iterator[Provider]:
    with run_server_in_thread(user_claims=users) as server:
        yield Provider(f"http://127.0.0.1:{server.server_port}")


def id_token_in_cookies(cookies: Mapping[str, str], secret: str) -> str:
    """The provider's ID token in Streamlit's ``_streamlit_user_tokens`` cookie (signed, not
    encrypted: whoever holds a copy of the cookie reads it)."""
    name = "_streamlit_user_tokens"

    def part(cookie: str) -> str:
        text: str = URLSafeTimedSerializer(secret, salt=cookie).loads(cookies[cookie])
        return text

    text = part(name)
    chunks = re.fullmatch(r"chunks-(\d+)", text)
    if chunks is not None:
        text = "".join(part(f"{name}_{i}") for i in range(1, int(chunks.group(1)) + 1))
    token: str = json.loads(text)["id_token"]
    return token


def auth_secrets(provider: Provider, teams: dict[str, object], redirect_uri: str = REDIRECT_URI) -> str:
    """A secrets.toml with `[auth]` for `provider` and a teams table (TOML text)."""
    lines = [
        "[auth]",
        f'redirect_uri = "{redirect_uri}"',
        'cookie_secret = "test-cookie-secret-0123456789abcdef"',
        'client_id = "searchapp"',
        'client_secret = "not-checked-by-the-mock"',
        f'server_metadata_url = "{provider.metadata_url}"',
        "",
        "[searchapp.teams]",
    ]
    for key, value in teams.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {_toml(v)}" for k, v in value.items())
            lines.append(f'"{key}" = {{ {inner} }}')
        else:
            lines.append(f'"{key}" = {_toml(value)}')
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"'
