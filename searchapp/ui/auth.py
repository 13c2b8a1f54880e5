"""Optional sign-in: `st.login` (OIDC) when secrets hold an `[auth]` table.

Without `[auth]` the app is open to anyone who can reach it (the default for a laptop
or a trusted network). With it, nothing but the sign-in screen renders until the user
is logged in (`ui.sign_in` draws that screen and the **Log out** button); then every
page run checks the sign-in on the server (`ui.callers`). A configuration that cannot
work (Authlib missing, unreadable secrets) stops the app instead of silently leaving it
open. This module reads the configuration and the browser's identity; it imports no
other page code, so every module of the UI may use it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import streamlit as st

from searchapp.access import DEFAULT_PROVIDER, provider_names
from searchapp.ui import identity_cookie, resources


def auth_config() -> Mapping[str, Any] | None:
    """The `[auth]` table from secrets, or None when sign-in is not configured."""
    auth = resources.secrets().get("auth")
    return auth if isinstance(auth, Mapping) and auth else None


def auth_enabled() -> bool:
    try:
        return auth_config() is not None
    except Exception:
        return True  # unreadable secrets: report sign-in as on, and `sign_in.require_login` stops


def cookie_secret() -> str:
    """The key Streamlit signs its identity cookie with: `[auth].cookie_secret`, else its own."""
    from streamlit import config

    auth = auth_config()
    configured = auth.get("cookie_secret") if auth else None
    return str(configured) if configured else str(config.get_option("server.cookieSecret"))


def expected_origin() -> str | None:
    """The origin the identity cookie must name: that of `[auth].redirect_uri`."""
    from streamlit import config

    auth = auth_config()
    redirect = auth.get("redirect_uri") if auth else None
    port = int(config.get_option("server.port"))
    return identity_cookie.origin_of(redirect, port) if isinstance(redirect, str) else None


def request_cookies() -> Mapping[str, str]:
    """The cookies this session's browser sent when it connected (tests replace it)."""
    return dict(st.context.cookies)


def providers(auth: Mapping[str, Any]) -> list[str | None]:
    """None for the default provider (`client_id` directly in `[auth]`), then `[auth.NAME]`s."""
    return [None if name == DEFAULT_PROVIDER else name for name in provider_names(auth)]


def authlib_available() -> bool:
    return importlib.util.find_spec("authlib") is not None


def is_logged_in() -> bool:
    # `st.user.is_logged_in` raises AttributeError where no identity is set (tests, bare runs).
    try:
        return bool(st.user.is_logged_in)
    except AttributeError:
        return False


def current_user() -> Mapping[str, Any]:
    """The claims of the signed-in user (`st.user`, without its tokens); empty when nobody is.

    The one place the UI learns who is using it (`ui.teams` chooses collections by it; tests
    replace it). The claims come from Streamlit's signed identity cookie, set by `st.login`;
    query parameters, widgets and session state never reach them.
    """
    try:
        info = st.user.to_dict()
    except AttributeError:
        return {}
    if info.get("is_logged_in") is not True:
        return {}
    return {key: value for key, value in info.items() if key != "tokens"}


def user_label() -> str:
    for field in ("email", "name"):
        try:
            value = st.user.get(field)
        except AttributeError:
            value = None
        if isinstance(value, str) and value:
            return value
    return "signed in"
