"""A link that opens a kept PDF in a new browser tab at a given page.

Streamlit cannot serve arbitrary files (static serving stays off, and user files never
go into the package), so the PDF travels inside a small HTML snippet that `st.iframe`
shows in its sandboxed frame. A script there turns the bytes into a Blob URL and points
a plain link at ``blob:…#page=N``; the browser's PDF viewer reads the page from the
fragment. The frame's sandbox allows popups that escape it, and a Blob URL made in a
same-origin srcdoc frame belongs to the app's origin, so the new tab may load it.

The snippet carries the whole file, so the UI builds it only when the user asks for it.
"""

from __future__ import annotations

import base64
import html

from searchapp.units import MB

# Bigger files are offered as a download only: the bytes would go over the WebSocket.
MAX_INLINE_BYTES = 50 * MB

_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  body {{ margin: 0; font-family: "Source Sans Pro", system-ui, sans-serif; }}
  a {{ display: inline-block; padding: 0.45rem 0.9rem; border-radius: 0.5rem;
       background: #2563eb; color: #fff; text-decoration: none; font-size: 0.95rem; }}
  a[aria-disabled="true"] {{ background: #9ca3af; pointer-events: none; }}
  a:focus-visible {{ outline: 3px solid #93c5fd; }}
</style></head>
<body>
<a id="open-pdf" href="#" target="_blank" rel="noopener" aria-disabled="true"
   data-page="{page}">Open {name} at page {page} &#8599;</a>
<script>
(function () {{
  var link = document.getElementById("open-pdf");
  var bytes = Uint8Array.from(atob("{data}"), function (c) {{ return c.charCodeAt(0); }});
  var url = URL.createObjectURL(new Blob([bytes], {{ type: "application/pdf" }}));
  link.href = url + "#page={page}";
  link.removeAttribute("aria-disabled");
}})();
</script>
</body></html>
"""


def open_pdf_html(data: bytes, *, name: str, page: int) -> str:
    """The snippet for `st.iframe`: one link, 'Open NAME at page N ↗'.

    Args:
        data: the PDF's bytes.
        name: the display name (untrusted; HTML-escaped).
        page: the 1-based page to open at.
    """
    if page < 1:
        raise ValueError(f"pages start at 1; got {page}")
    return _TEMPLATE.format(
        name=html.escape(name, quote=True),
        page=int(page),
        data=base64.b64encode(data).decode("ascii"),
    )
