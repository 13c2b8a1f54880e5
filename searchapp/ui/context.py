"""What every page needs first: the settings and the open library, or a clear error."""

from __future__ import annotations

import streamlit as st

from searchapp.config import Settings
from searchapp.errors import SearchAppError
from searchapp.ingest.pipeline import Ingestor
from searchapp.library import Library
from searchapp.sources import Sources
from searchapp.ui import resources, teams
from searchapp.ui.feedback import show_error


def settings_or_stop() -> Settings:
    """This session's settings; with per-team collections, its team's (see `ui.teams`)."""
    try:
        return teams.session_settings(resources.load_settings())
    except SearchAppError as exc:
        show_error(exc)
        st.stop()


def library_or_stop() -> Library:
    """The shared library; on failure an error, a retry button, and the page stops here."""
    settings = settings_or_stop()
    try:
        library = resources.get_library(settings)
        resources.get_watcher(settings)  # sources with watching on are followed from the first page on
        return library
    except SearchAppError as exc:
        show_error(exc)
        st.button("Try again", icon=":material/refresh:", key="retry_open")
        st.stop()


def ingestor_or_stop() -> Ingestor:
    settings = settings_or_stop()
    try:
        return resources.get_ingestor(settings)
    except SearchAppError as exc:
        show_error(exc)
        st.stop()


def sources_or_stop() -> Sources:
    settings = settings_or_stop()
    library_or_stop()
    try:
        return resources.get_sources(settings)
    except SearchAppError as exc:
        show_error(exc)
        st.stop()
