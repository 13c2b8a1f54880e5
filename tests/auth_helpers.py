"""Sign-in for tests: Streamlit's identity cookie, signed the way Streamlit signs it.

`signed_cookies` uses Streamlit's own `create_signed_value`, so a change in Streamlit's
cookie format breaks these tests rather than the deployment. AppTest cannot send
cookies, so `CookieJar` stands in for the browser: `ui.auth.request_cookies` is replaced
by one that hands each AppTest the cookie of whoever its `at.user` is (one cookie per
identity, as one browser keeps one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from unittest import mock

from streamlit.web.server.starlette.starlette_app_utils import create_signed_value

SECRET = "s" * 32
ORIGIN = "http://localhost:8501"
AUTH = {
    "redirect_uri": f"{ORIGIN}/oauth2callback",
    "cookie_secret": SECRET,
    "client_id": "searchapp",
    "client_secret": "s",
    "server_metadata_url": "https://id.example/.well-known/openid-configuration",
}


def signed_cookies(
    claims: Mapping[str, Any], *, secret: str = SECRET, origin: str = ORIGIN, signed_at: float | None = None
) -> dict[str, str]:
    """The `_streamlit_user` cookie Streamlit's callback would set for these claims."""
    value = json.dumps(
        {**claims, "origin": origin, "is_logged_in": True, "provider": claims.get("provider", "default")}
    )
    if signed_at is None:
        signed = create_signed_value(secret, "_streamlit_user", value)
    else:  # itsdangerous stamps the time of signing
        with mock.patch("itsdangerous.timed.TimestampSigner.get_timestamp", return_value=int(signed_at)):
            signed = create_signed_value(secret, "_streamlit_user", value)
    return {"_streamlit_user": signed.decode()}


class CookieJar:
    """One browser per identity: the same signed cookie each time it asks (see the module docstring)."""

    def __init__(self) -> None:
        self.cookies: dict[str, dict[str, str]] = {}

    def key(self, claims: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in claims.items() if k != "is_logged_in"}, sort_keys=True)

    def for_claims(self, claims: Mapping[str, Any], **kwargs: Any) -> dict[str, str]:
        key = self.key(claims)
        if key not in self.cookies:
            self.cookies[key] = signed_cookies(claims, **kwargs)
        return self.cookies[key]

    def current(self) -> dict[str, str]:
        """For `ui.auth.request_cookies`: the cookie of this run's `st.user` (none if signed out)."""
        import streamlit as st

        try:
            claims = st.user.to_dict()
        except AttributeError:
            return {}
        if claims.get("is_logged_in") is not True:
            return {}
        return self.for_claims({k: v for k, v in claims.items() if k != "tokens"})
