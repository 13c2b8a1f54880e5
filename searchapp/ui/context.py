"""What every page needs first: the checked caller, and its library as it may see it.

Each page run starts with `library_or_stop()` (or `caller_or_stop()`): the caller is
checked at that moment (`ui.callers`: sign-in cookie, team, server-side session), and a
page that cannot go on says why in words meant for the user and stops. Fragments (the
result cards) call `caller_or_stop()` again, so an open tab stops at its next click
after a log-out elsewhere. The check is reused for `RECHECK_S` within one session, so
one page run with several cards costs one look-up.
"""

from __future__ import annotations

import time

import streamlit as st

from searchapp.config import Settings
from searchapp.errors import AccessDeniedError, SearchAppError
from searchapp.ingest.pipeline import Ingestor
from searchapp.library.view import LibraryView
from searchapp.ui import auth, callers, resources, sign_in
from searchapp.ui.callers import Caller
from searchapp.ui.feedback import show_error
from searchapp.ui.render import escape_markdown
from searchapp.ui.sessions import SessionEnded

CALLER_KEY = "_searchapp_caller"
RECHECK_S = 2.0


def caller_or_stop() -> Caller:
    """This session's checked caller; otherwise a message, and the page stops here."""
    try:
        settings = resources.load_settings()
    except SearchAppError as exc:
        show_error(exc)
        st.stop()
    cached = st.session_state.get(CALLER_KEY)
    if cached is not None and _still_fresh(cached, settings):
        return cached[2]  # type: ignore[no-any-return]
    try:
        caller = callers.resolve(settings, auth.request_cookies())
    except SessionEnded as exc:
        st.session_state.pop(CALLER_KEY, None)
        _sign_in_again(exc)
        st.stop()
    except AccessDeniedError as exc:
        st.session_state.pop(CALLER_KEY, None)
        _no_library(exc)
        st.stop()
    except SearchAppError as exc:
        st.session_state.pop(CALLER_KEY, None)
        show_error(exc)
        st.button("Try again", icon=":material/refresh:", key="retry_open")
        st.stop()
    st.session_state[CALLER_KEY] = (time.monotonic(), settings, caller)
    return caller


def _still_fresh(cached: tuple[float, Settings, Caller], settings: Settings) -> bool:
    """A check from the last `RECHECK_S` of these settings, whose library is still the open one."""
    checked, checked_settings, caller = cached
    if time.monotonic() - checked >= RECHECK_S or checked_settings != settings:
        return False
    try:
        return resources.get_library(caller.settings) is caller.library
    except SearchAppError:
        return False


def library_or_stop() -> LibraryView:
    """The team's library as this caller may see it (`Library.view`)."""
    return caller_or_stop().view


def settings_or_stop() -> Settings:
    """This session's settings; with per-team collections, its team's."""
    return caller_or_stop().settings


def ingestor_or_stop() -> Ingestor:
    settings = caller_or_stop().settings
    try:
        return resources.get_ingestor(settings)
    except SearchAppError as exc:
        show_error(exc)
        st.stop()


def _no_library(exc: AccessDeniedError) -> None:
    """Signed in, but no team here: not an error of the app, and not the user's fault."""
    st.info(
        f"**You are signed in, but there is no library for you on this server yet.** "
        f"{escape_markdown(_sentence(str(exc)))}\n\n"
        "You can log out in the sidebar to switch to another account.",
        icon=":material/group_off:",
    )


def _sign_in_again(exc: SessionEnded) -> None:
    st.warning(
        f"**Please sign in again.** {escape_markdown(_sentence(str(exc)))}", icon=":material/lock_clock:"
    )
    config = auth.auth_config()
    if config is not None:
        sign_in.login_buttons(config, key="auth_again")


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]
