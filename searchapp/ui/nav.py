"""The app's pages: script paths (relative to ui/app.py), titles and icons, in menu order.

Not in `pages/`: a folder of that name beside the entry script puts Streamlit in its
legacy multipage mode, where a rerun can run a page script without the entry script
(and without its sign-in check).
"""

from __future__ import annotations

SEARCH_PAGE = "views/search.py"
UPLOAD_PAGE = "views/upload.py"
LIBRARY_PAGE = "views/library.py"
STATUS_PAGE = "views/status.py"
TUNE_PAGE = "views/tune.py"

PAGES: tuple[tuple[str, str, str], ...] = (
    (SEARCH_PAGE, "Search", ":material/search:"),  # the default page
    (UPLOAD_PAGE, "Upload", ":material/upload:"),
    (LIBRARY_PAGE, "Library", ":material/folder_open:"),
    (TUNE_PAGE, "Tune", ":material/model_training:"),
    (STATUS_PAGE, "Status", ":material/monitor_heart:"),
)
