"""searchapp's web UI. Start it with `searchapp ui`, or `streamlit run ui/app.py`.

Pages: Search (the default), Upload, Library and Status, in `ui/views/`: each is a module
with a `render()` that tests import, run as a page script by `st.navigation`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project root.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from searchapp.errors import SearchAppError  # noqa: E402
from searchapp.ui.feedback import show_error  # noqa: E402
from searchapp.ui.nav import PAGES  # noqa: E402
from searchapp.ui.sign_in import require_login  # noqa: E402


def main() -> None:
    # An emoji icon: Streamlit draws it as a data: URL, where a :material/...: icon makes every
    # page load fetch it from fonts.gstatic.com (offline it fails).
    st.set_page_config(page_title="searchapp", page_icon="🔎", layout="centered")
    try:
        require_login()
    except SearchAppError as exc:
        show_error(exc)
        st.stop()
    pages = [
        st.Page(path, title=title, icon=icon, default=index == 0)
        for index, (path, title, icon) in enumerate(PAGES)
    ]
    page = st.navigation(pages, position="top")
    try:
        page.run()
    except Exception as exc:  # st.stop and st.rerun are BaseExceptions and pass through
        show_error(exc)


main()
