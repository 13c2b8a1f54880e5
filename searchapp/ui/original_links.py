"""One-click "Open at page N": a signed link to a kept PDF, served by a small route.

The card's link points at ``/searchapp/original/<token>/<name>.pdf#page=N``; the
browser opens it in a new tab and its PDF viewer jumps to the page. Nothing is loaded
into the page beforehand: the route (mounted by `ui/server.py` beside Streamlit's own)
streams the kept original from disk when the link is followed.

The token is the access check. It names one document of one library (a digest of that
library's settings, never a path) and an expiry, signed with HMAC-SHA256 under a key
derived from Streamlit's cookie secret (random per process unless `server.cookieSecret`
is set, which multi-replica deployments do anyway). Tokens are only made while a page
renders, that is after the sign-in check and the team's collection choice in `ui/app.py`,
so a link gives what the session that made it could already download, for
`LINK_LIFETIME_S`, to whoever holds it (like any download link). The route serves PDFs
only, as ``application/pdf`` with ``nosniff``, so no document can run script on the
app's origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from searchapp.errors import DocumentNotFoundError
from searchapp.storage.originals import OriginalsStore

ROUTE_PREFIX = "searchapp/original"
LINK_LIFETIME_S = 8 * 3600  # a working day: a results page left open still works
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{43}$")

# Libraries whose originals the route may serve, by settings digest (see `register`).
_stores: dict[str, OriginalsStore] = {}
_stores_lock = threading.Lock()
_state = {"mounted": False}


@dataclass(frozen=True, slots=True)
class LinkTarget:
    library: str
    doc_id: str
    expires: int


def mark_mounted() -> None:
    """Called by `ui/server.py`: the route exists, so cards may link to it."""
    _state["mounted"] = True


def route_mounted() -> bool:
    return _state["mounted"]


def register(library_key: str, store: OriginalsStore) -> None:
    """Let the route serve `store`'s files for tokens naming `library_key`."""
    with _stores_lock:
        _stores[library_key] = store


def _secret() -> bytes:
    from streamlit import config

    cookie_secret = str(config.get_option("server.cookieSecret"))
    return hashlib.sha256(b"searchapp original links\x00" + cookie_secret.encode("utf-8")).digest()


def _sign(payload: bytes, secret: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, payload, hashlib.sha256).digest()).decode().rstrip("=")


def make_token(
    library_key: str, doc_id: str, *, now: float | None = None, secret: bytes | None = None
) -> str:
    expires = int((time.time() if now is None else now) + LINK_LIFETIME_S)
    payload = f"{library_key}:{doc_id}:{expires}".encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(payload, secret or _secret())}"


def read_token(token: str, *, now: float | None = None, secret: bytes | None = None) -> LinkTarget | None:
    """The target of a valid, unexpired token; None for anything else."""
    if not _TOKEN_RE.match(token):
        return None
    body, signature = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(payload, secret or _secret())):
        return None
    try:
        library, doc_id, expires = payload.decode().split(":")
        target = LinkTarget(library, doc_id, int(expires))
    except ValueError:
        return None
    if target.expires < (time.time() if now is None else now):
        return None
    return target


def link_name(source: str) -> str:
    """The last part of the display name, for the URL (the browser shows it as the title)."""
    name = PurePosixPath(source).name or "document.pdf"
    return quote(name if name.lower().endswith(".pdf") else f"{name}.pdf", safe="")


def url_for(library_key: str, doc_id: str, source: str, page: int) -> str:
    """The link for a card: absolute path on this server, with the page as the fragment."""
    from streamlit import config

    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    token = make_token(library_key, doc_id)
    return f"{prefix}/{ROUTE_PREFIX}/{token}/{link_name(source)}#page={max(1, int(page))}"


def route() -> Any:
    """The Starlette route serving kept PDFs for valid tokens."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route
    from streamlit import config

    async def serve(request: Any) -> Response:
        target = read_token(str(request.path_params["token"]))
        if target is None:
            return PlainTextResponse(
                "This link has expired or is not valid. Go back to the search and click "
                "'Open at page' again.",
                status_code=403,
            )
        with _stores_lock:
            store = _stores.get(target.library)
        try:
            data = store.get(target.doc_id) if store is not None else None
        except DocumentNotFoundError:
            data = None
        if data is None:
            return PlainTextResponse("This document is no longer in the library.", status_code=404)
        return Response(
            data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": "inline",
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    return Route(f"{prefix}/{ROUTE_PREFIX}/{{token}}/{{name}}", serve, methods=["GET", "HEAD"])
