"""Streamlit's sign-in cookie, verified on the server, for page runs and for our own routes.

`st.login` ends in Streamlit's ``/oauth2callback``, which puts the provider's ID-token
claims (plus ``provider``, ``origin`` and ``is_logged_in``) in the ``_streamlit_user``
cookie: JSON, signed with itsdangerous's ``URLSafeTimedSerializer`` under the auth
cookie secret (``[auth].cookie_secret``, else ``server.cookieSecret``) with the cookie
name as salt, and split into ``_streamlit_user_1..N`` with a ``chunks-N`` main cookie
when large. `read` checks it exactly as Streamlit's WebSocket handler does (signature,
age, and that its origin is the ``redirect_uri``'s), and also returns when it was
signed, which the server-side session record needs (`ui.sessions`).

The cookie is HttpOnly, SameSite=Lax: the browser sends it with page loads and with
top-level navigations to our routes, never to scripts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

USER_COOKIE = "_streamlit_user"
MAX_AGE_S = 31 * 24 * 3600  # Streamlit's: the cookie's 30 days plus a day of grace
_CHUNKS = re.compile(r"^chunks-(\d{1,3})$")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A verified identity cookie: its claims, when it was signed, and its raw text."""

    claims: Mapping[str, Any]
    signed_at: float  # epoch seconds: the sign-in that set it
    raw: str  # the cookie's signed text (every chunk): one sign-in's, and only its


def _loads(secret: str, name: str, value: str) -> tuple[str, float] | None:
    serializer = URLSafeTimedSerializer(secret, salt=name)
    try:
        text, signed = serializer.loads(value, max_age=MAX_AGE_S, return_timestamp=True)
    except (BadSignature, ValueError, TypeError):
        return None
    return (text, signed.timestamp()) if isinstance(text, str) else None


def read(cookies: Mapping[str, str], *, secret: str, origin: str | None) -> SignedIn | None:
    """The verified sign-in cookie in `cookies`; None if absent, forged, expired or not ours."""
    if not secret:
        return None
    main = cookies.get(USER_COOKIE)
    if not main:
        return None
    first = _loads(secret, USER_COOKIE, main)
    if first is None:
        return None
    text, signed_at = first
    raws = [main]
    count = _CHUNKS.match(text)
    if count is not None:
        parts = []
        for index in range(1, int(count.group(1)) + 1):
            name = f"{USER_COOKIE}_{index}"
            value = cookies.get(name)
            part = _loads(secret, name, value) if value else None
            if part is None:
                return None
            parts.append(part[0])
            raws.append(value or "")
        text = "".join(parts)
    try:
        claims = json.loads(text)
    except ValueError:
        return None
    if not isinstance(claims, dict) or claims.get("is_logged_in") is not True:
        return None
    if origin is None or claims.get("origin") != origin:
        return None  # signed for another deployment of the same secret, or no redirect_uri
    return SignedIn(claims=claims, signed_at=signed_at, raw="\x00".join(raws))


def origin_of(redirect_uri: str, port: int | None = None) -> str | None:
    """``scheme://host[:port]`` of the configured ``redirect_uri``, as Streamlit computes it."""
    if not redirect_uri:
        return None
    if "{port}" in redirect_uri and port is not None:
        redirect_uri = redirect_uri.replace("{port}", str(port))
    parts = urlsplit(redirect_uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
