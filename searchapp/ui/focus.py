"""Put the cursor in the search box when the Search page loads.

Streamlit's text input has no autofocus, so a few lines of script (ours, fixed: no user
input reaches it) focus the box once it exists, unless the user is already typing
somewhere else.
"""

from __future__ import annotations

import streamlit as st

_SCRIPT = """<script>
(function () {
  var tries = 0;
  function focusBox() {
    var box = document.querySelector('input[aria-label="Search query"]');
    if (!box) {
      if (tries++ < 100) { setTimeout(focusBox, 100); }
      return;
    }
    if (box.dataset.searchappFocused) { return; }
    box.dataset.searchappFocused = "1";
    var active = document.activeElement;
    if (!active || active === document.body) { box.focus(); }
  }
  focusBox();
})();
</script>"""


def focus_search_box() -> None:
    st.html(_SCRIPT, unsafe_allow_javascript=True, width="content")
