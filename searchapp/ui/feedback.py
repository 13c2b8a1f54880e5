"""How the UI tells people that something went wrong, or that there is nothing yet.

Library errors carry messages written for users ("what was expected, what to do"),
so they are shown as they are; anything else is logged with its traceback and shown
as one line, so the app never dies with a stack trace on screen.
"""

from __future__ import annotations

import logging

import streamlit as st

from searchapp.errors import (
    AccessDeniedError,
    ConfigError,
    EmptyQueryError,
    InvalidFilterError,
    ModelError,
    ModelMismatchError,
    QueryError,
    SearchAppError,
    StorageFullError,
    StoreLockedError,
    StoreUnavailableError,
)
from searchapp.ui.nav import UPLOAD_PAGE
from searchapp.ui.render import escape_markdown

logger = logging.getLogger(__name__)

_TITLES: tuple[tuple[type[SearchAppError], str], ...] = (
    (EmptyQueryError, "Type something to search for"),
    (InvalidFilterError, "A filter is not valid"),
    (QueryError, "The search could not run"),
    (StoreLockedError, "The library is in use by another program"),
    (StoreUnavailableError, "The Chroma server cannot be reached"),
    (ModelMismatchError, "The library was built with another model"),
    (StorageFullError, "The disk is full"),
    (ModelError, "The embedding model cannot be loaded"),
    (ConfigError, "A setting is wrong"),
    (AccessDeniedError, "Not allowed"),
    (SearchAppError, "Something went wrong"),
)


def error_title(exc: SearchAppError) -> str:
    for kind, title in _TITLES:
        if isinstance(exc, kind):
            return title
    return "Something went wrong"


def show_error(exc: BaseException) -> None:
    """One `st.error` for `exc`: a title plus the library's own message, escaped."""
    if isinstance(exc, SearchAppError):
        st.error(f"**{error_title(exc)}.** {escape_markdown(str(exc))}", icon=":material/error:")
        return
    logger.exception("unexpected error in the UI", exc_info=exc)
    st.error(
        f"**Something unexpected went wrong** ({escape_markdown(type(exc).__name__)}). "
        "The details are in the server log; try again, or reload the page.",
        icon=":material/error:",
    )


def empty_library_guide() -> None:
    """What a newcomer sees before anything is uploaded."""
    st.info(
        "**Your library is empty.** Add a few documents and search them by meaning:\n\n"
        "1. Open **Upload** and drop in PDFs, Word files (DOCX), text, Markdown or HTML.\n"
        "2. Wait for the green check: each file is split into passages and indexed.\n"
        "3. Come back here, type a question, and press **Enter**.\n\n"
        "Or try it first with a few public-domain sample documents.",
        icon=":material/lightbulb:",
    )
    st.page_link(UPLOAD_PAGE, label="Upload documents", icon=":material/upload:")
