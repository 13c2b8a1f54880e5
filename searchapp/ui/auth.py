"""Optional sign-in: `st.login` (OIDC) when secrets hold an `[auth]` table.

Without `[auth]` the app is open to anyone who can reach it (the default for a laptop
or a trusted network). With it, nothing but the sign-in screen renders until the user
is logged in. A configuration that cannot work (Authlib missing, unreadable secrets)
stops the app instead of silently leaving it open.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import streamlit as st

from searchapp.ui import resources


def auth_config() -> Mapping[str, Any] | None:
    """The `[auth]` table from secrets, or None when sign-in is not configured."""
    auth = resources.secrets().get("auth")
    return auth if isinstance(auth, Mapping) and auth else None


def auth_enabled() -> bool:
    try:
        return auth_config() is not None
    except Exception:
        return True  # unreadable secrets: report sign-in as on, and `require_login` stops


def providers(auth: Mapping[str, Any]) -> list[str | None]:
    """None for the default provider (`client_id` directly in `[auth]`), then `[auth.NAME]`s."""
    named: list[str | None] = [name for name, value in auth.items() if isinstance(value, Mapping)]
    return ([None] if "client_id" in auth else []) + named


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


def require_login() -> None:
    """Return if the app may render for this session; otherwise draw sign-in and stop."""
    auth = auth_config()
    if auth is None:
        return
    if not authlib_available():
        st.error(
            "**Sign-in is configured but cannot work.** The secrets have an `[auth]` table, but the "
            "Authlib package is missing. Install it with `pip install 'searchapp[auth]'` and restart.",
            icon=":material/lock:",
        )
        st.stop()
    if is_logged_in():
        with st.sidebar:
            st.caption(f"Signed in as {user_label()}")
            st.button("Log out", on_click=st.logout, icon=":material/logout:", key="auth_logout")
        return
    st.title("searchapp", anchor=False)
    st.write("Sign in to search your team's documents.")
    for provider in providers(auth) or [None]:
        label = "Log in" if provider is None else f"Log in with {provider.replace('_', ' ').title()}"
        st.button(
            label,
            on_click=st.login,
            args=() if provider is None else (provider,),
            type="primary",
            icon=":material/login:",
            key=f"auth_login_{provider or 'default'}",
        )
    st.stop()
