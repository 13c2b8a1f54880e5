"""The sign-in screen and the **Log out** button (sign-in itself: `ui.auth`).

`require_login` runs first in every page run: with sign-in configured, nothing but the
sign-in screen renders until the user is logged in. **Log out** ends the sign-in's
session on the server (`ui.callers`, `ui.sessions`: every copy of its cookie) before
Streamlit deletes the cookie.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st

from searchapp.ui import auth, callers, resources

logger = logging.getLogger(__name__)


def require_login() -> None:
    """Return if the app may render for this session; otherwise draw sign-in and stop."""
    config = auth.auth_config()
    if config is None:
        return
    if not auth.authlib_available():
        st.error(
            "**Sign-in is configured but cannot work.** The secrets have an `[auth]` table, but the "
            "Authlib package is missing. Install it with `pip install 'searchapp[auth]'` and restart.",
            icon=":material/lock:",
        )
        st.stop()
    if auth.is_logged_in():
        with st.sidebar:
            st.caption(f"Signed in as {auth.user_label()}")
            st.button("Log out", on_click=log_out, icon=":material/logout:", key="auth_logout")
        return
    st.title("searchapp", anchor=False)
    st.write("Sign in to search your team's documents.")
    login_buttons(config)
    st.stop()


def log_out() -> None:
    """End this sign-in's session on the server (every copy of its cookie), then Streamlit's."""
    try:
        callers.end_session(resources.load_settings(), auth.request_cookies())
    except Exception:  # log out anyway; `/auth/logout` tries again
        logger.exception("could not end the session on the server")
    st.logout()


def login_buttons(config: Mapping[str, Any], *, key: str = "auth_login") -> None:
    for provider in auth.providers(config) or [None]:
        label = "Log in" if provider is None else f"Log in with {provider.replace('_', ' ').title()}"
        st.button(
            label,
            on_click=st.login,
            args=() if provider is None else (provider,),
            type="primary",
            icon=":material/login:",
            key=f"{key}_{provider or 'default'}",
        )
