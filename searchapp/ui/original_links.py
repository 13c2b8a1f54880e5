"""Kept originals over our own routes: "Download original" and one-click "Open at page N".

Both links point at a route of ours (mounted by `ui/server.py` beside Streamlit's), never
at Streamlit's ``/media`` store, whose URLs are bearer URLs: the same for the same bytes,
served to anyone who has them, for a while after the session that made them ends.

    /searchapp/original/<token>/<name>.pdf#page=N   a PDF, shown inline, at the page
    /searchapp/download/<token>/<name>              any original, as an attachment

The token names a document of a collection and is signed (HMAC-SHA256) under a key
derived from the auth cookie secret (``[auth].cookie_secret``, else Streamlit's
``server.cookieSecret``), so links survive a restart and work on every replica that
shares the secret. It does not expire and grants nothing by itself: **every request is
checked when it is made** (`ui.callers.resolve`), exactly as a page run is: with sign-in
on, a valid identity cookie, an active server-side session, a team whose collection is
the link's, and a document the caller's groups may see. Anything else is refused: 401
(not signed in, or signed out), 403 (no team here, a changed token), 404 (not in the
caller's library, or not visible to it). The team's library is opened on demand, so a
link works on a replica where nobody of that team has opened the app yet.

Responses are ``no-store``, ``nosniff`` and send no referrer; only PDFs are shown
inline (``application/pdf``), everything else is an attachment under a CSP sandbox, and
HTML never goes out as ``text/html``, so no uploaded file can run script on the app's
origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from searchapp.errors import AccessDeniedError, DocumentNotFoundError, SearchAppError
from searchapp.ui import auth, callers, resources
from searchapp.ui.sessions import SessionEnded

logger = logging.getLogger(__name__)

OPEN_PREFIX = "searchapp/original"
DOWNLOAD_PREFIX = "searchapp/download"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{43}$")
_state = {"mounted": False}
MIME_TYPES = {
    "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "html": "application/octet-stream",  # never text/html: it would run on our origin if opened
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True, slots=True)
class LinkTarget:
    collection: str
    doc_id: str


def mark_mounted() -> None:
    """Called by `ui/server.py`: the routes exist, so cards may link to them."""
    _state["mounted"] = True


def route_mounted() -> bool:
    return _state["mounted"]


def link_secret() -> bytes:
    return hashlib.sha256(b"searchapp original links\x00" + auth.cookie_secret().encode("utf-8")).digest()


def _sign(payload: bytes, secret: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, payload, hashlib.sha256).digest()).decode().rstrip("=")


def make_token(collection: str, doc_id: str, *, secret: bytes | None = None) -> str:
    payload = f"v2:{collection}:{doc_id}".encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(payload, secret or link_secret())}"


def read_token(token: str, *, secret: bytes | None = None) -> LinkTarget | None:
    """What a validly signed token names; None for anything else."""
    if not _TOKEN_RE.match(token):
        return None
    body, signature = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(payload, secret or link_secret())):
        return None
    try:
        version, collection, doc_id = payload.decode().split(":")
    except ValueError:
        return None
    return LinkTarget(collection, doc_id) if version == "v2" else None


def file_name(source: str) -> str:
    """The last part of the display name: what the browser saves or shows it as."""
    return PurePosixPath(source).name or "document"


def link_name(source: str) -> str:
    """`file_name` for a PDF link, URL-quoted (the browser shows it as the tab title)."""
    name = file_name(source)
    return quote(name if name.lower().endswith(".pdf") else f"{name}.pdf", safe="")


def _prefix() -> str:
    from streamlit import config

    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


def open_url(collection: str, doc_id: str, source: str, page: int) -> str:
    """The "Open at page" link: a path on this server, with the page as the fragment."""
    token = make_token(collection, doc_id)
    return f"{_prefix()}/{OPEN_PREFIX}/{token}/{link_name(source)}#page={max(1, int(page))}"


def download_url(collection: str, doc_id: str, source: str) -> str:
    token = make_token(collection, doc_id)
    return f"{_prefix()}/{DOWNLOAD_PREFIX}/{token}/{quote(file_name(source), safe='')}"


def answer(token: str, cookies: dict[str, str], *, download: bool) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers for a request to either route (blocking: run it off the loop)."""
    target = read_token(token)
    if target is None:
        return _text(403, "This link is not valid. Go back to the search and click the link again.")
    try:
        caller = callers.resolve(resources.load_settings(), cookies)
    except SessionEnded:
        return _text(401, "Sign in to open this document: open the app, sign in, and click the link again.")
    except AccessDeniedError:
        return _text(403, "Your account has no library on this server.")
    except SearchAppError as exc:
        logger.warning("cannot serve an original: %s", exc)
        return _text(503, "The library cannot be opened right now; try again in a moment.")
    record = (
        caller.view.find_by_id(target.doc_id) if caller.settings.collection == target.collection else None
    )
    if record is None or (not download and record.file_type != "pdf"):
        return _text(404, "This document is not in your library (it may have been deleted).")
    try:
        data = caller.view.original(target.doc_id)
    except DocumentNotFoundError:
        return _text(404, "This document is not in your library (it may have been deleted).")
    name = file_name(record.source)
    disposition = "attachment" if download else "inline"
    ascii_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    headers = {
        "Content-Type": MIME_TYPES.get(record.file_type, "application/octet-stream")
        if download
        else "application/pdf",
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        **_SAFE_HEADERS,
        # Chromium will not show a PDF under a sandbox policy; its viewer runs no script of the file.
        **({"Content-Security-Policy": "sandbox"} if download else {}),
    }
    return 200, data, headers


_SAFE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _text(status: int, message: str) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Security-Policy": "sandbox"}
    return status, message.encode(), {**headers, **_SAFE_HEADERS}


def routes() -> list[Any]:
    """The two Starlette routes (under `server.baseUrlPath` when one is set)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    def endpoint(download: bool) -> Any:
        async def serve(request: Any) -> Response:
            status, body, headers = await run_in_threadpool(
                answer, str(request.path_params["token"]), dict(request.cookies), download=download
            )
            return Response(body, status_code=status, headers=headers)

        return serve

    prefix = _prefix()
    return [
        Route(f"{prefix}/{OPEN_PREFIX}/{{token}}/{{name}}", endpoint(False), methods=["GET", "HEAD"]),
        Route(f"{prefix}/{DOWNLOAD_PREFIX}/{{token}}/{{name}}", endpoint(True), methods=["GET", "HEAD"]),
    ]
