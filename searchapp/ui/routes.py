"""Our routes beside Streamlit's (mounted by `ui/server.py`, before Streamlit's own).

- ``/searchapp/original/…`` and ``/searchapp/download/…``: kept originals, checked at
  each request (`ui.original_links`);
- ``/auth/logout``: ends the sign-in's server-side session (`ui.sessions`) and records
  the sign-out for the API (`api.sign_outs`), then hands over to Streamlit's own
  log-out, which deletes the cookie and signs out at the provider. So a log-out by any
  path ends every copy of the cookie, and of the ID token in it. A log-out another site
  starts (``Sec-Fetch-Site: cross-site`` or ``same-site``) is refused: a forced sign-out.

Streamlit sends the browser to the provider's ``end_session_endpoint`` with the ID token
as ``id_token_hint`` in the URL, where it lands in the provider's access log, proxies and
the browser's history. OpenID Connect RP-Initiated Logout makes the hint RECOMMENDED, not
required, and ``client_id`` (which Streamlit sends too) names the client instead, so the
hint is taken out of that address.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from searchapp.ui import callers, original_links, resources

logger = logging.getLogger(__name__)


def all_routes() -> list[Any]:
    return [*original_links.routes(), logout_route()]


def logout_route() -> Any:
    """Streamlit's ``/auth/logout``, preceded by the end of the server-side session."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse
    from starlette.routing import Route
    from streamlit import config
    from streamlit.web.server.starlette.starlette_auth_routes import create_auth_routes

    base = str(config.get_option("server.baseUrlPath") or "")
    (streamlit_logout,) = [r for r in create_auth_routes(base) if r.path.rstrip("/").endswith("auth/logout")]

    def end(cookies: dict[str, str]) -> None:
        try:
            callers.end_session(resources.load_settings(), cookies)
        except Exception:  # the cookie still goes; the log says the server could not record it
            logger.exception("could not end the session on the server")

    async def logout(request: Any) -> Any:
        if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            # A link or script on another site (or a sibling subdomain): a GET carries the Lax
            # cookies, and would sign the user out against their will. The app's own button
            # is same-origin; a typed address or bookmark is "none".
            return RedirectResponse(f"/{base.strip('/')}/" if base.strip("/") else "/", status_code=303)
        await run_in_threadpool(end, dict(request.cookies))
        response = await streamlit_logout.endpoint(request)
        if "location" in response.headers:
            response.headers["location"] = without_id_token_hint(response.headers["location"])
        return response

    return Route(streamlit_logout.path, logout, methods=["GET"])


def without_id_token_hint(url: str) -> str:
    """`url` without an ``id_token_hint`` parameter (the rest of its query as it was)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, value) for name, value in query if name != "id_token_hint"]
    return url if len(kept) == len(query) else urlunsplit(parts._replace(query=urlencode(kept)))
