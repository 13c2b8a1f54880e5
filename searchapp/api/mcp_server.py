"""The MCP server: search, a passage with its neighbours, and similar passages, with citations.

Built with the official `mcp` SDK (`MCPServer`). Three tools, each answering with
citations an assistant can quote (document, page, heading, passage id and a link to the
original, which needs the same token; no link over stdio unless SEARCHAPP_API_PUBLIC_URL
says where the HTTP API is):

    search            ranked passages for a question (the query syntax, any mode, filters,
                      minimum score: the core's `SearchRequest`, validated by the core)
    fetch_passage     one passage by id, with the passages before and after it
    similar_passages  passages like a given one ("more like this")

Who may call is decided exactly as for the HTTP API (`ApiContext.caller_for_token`):
over streamable HTTP every request carries ``Authorization: Bearer <token>`` (an API
token or the identity provider's JWT; the SDK answers 401 without one), and each tool
call counts against that caller's rate limit. Over stdio the server is a child process
of the assistant: it runs as the token in ``SEARCHAPP_TOKEN`` when that is set, and
otherwise as the local operator (who can read the data directory anyway) with full access
to the configured collection.

Where a client gets a token (`auth_settings`): with an identity provider configured, the
OAuth protected-resource metadata (RFC 9728, `/.well-known/oauth-protected-resource/mcp`,
served by the SDK and named in every 401) names that provider's issuer as the
authorization server. With API tokens only there is no authorization server to name, so
no metadata is served: a client is given its token by whoever configures it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from searchapp import __version__
from searchapp.api.callers import Caller
from searchapp.api.context import ApiContext
from searchapp.api.deps import original_link
from searchapp.api.errors import for_service
from searchapp.api.mcp_args import (
    K_HELP,
    MAX_AROUND,
    MAX_K,
    PASSAGE_ID,
    StrictTool,
    around,
    checked_count,
    checked_k,
    described,
)
from searchapp.api.mcp_models import (
    Citation,
    Neighbour,
    Passage,
    PassageWithContext,
    SearchResult,
    StoredText,
    echoed,
    fitted,
)
from searchapp.api.oidc import OidcVerifier
from searchapp.api.searching import MCP_LISTING, search_request, told_if_empty
from searchapp.errors import AmbiguousDocumentError, AuthError, DocumentNotFoundError, SearchAppError
from searchapp.types import Hit, SearchResponse, StoredPassage

logger = logging.getLogger(__name__)

TOKEN_ENV = "SEARCHAPP_TOKEN"
INSTRUCTIONS = (
    "Search the team's documents by meaning. Use `search` with a question in natural language; "
    "quote passages with their citation (document, page) and link. `fetch_passage` gives more "
    "context around a passage; `similar_passages` finds passages like one you found."
)


class _Verifier:
    """The SDK's token check over HTTP: the same tokens and sign-in as the HTTP API."""

    def __init__(self, context: Callable[[], ApiContext]) -> None:
        self.context = context

    async def verify_token(self, token: str) -> AccessToken | None:
        import anyio.to_thread

        try:
            caller = await anyio.to_thread.run_sync(lambda: self.context().caller_for_token(token))
        except SearchAppError:
            return None
        return AccessToken(
            token=token, client_id=caller.subject, scopes=[caller.role], subject=caller.subject
        )


def auth_settings(http_base: str, oidc: OidcVerifier | None) -> AuthSettings:
    """How the SDK tells MCP clients where to get a token, for a server at `http_base`.

    With an identity provider, its issuer (as its discovery document names it, the string
    a client checks the provider's metadata against) is the authorization server of the
    protected-resource metadata. Without one, or while its discovery document cannot be
    read at start, no metadata is served rather than metadata naming a server that issues
    nothing (the SDK would name `issuer_url`, and its model needs one).
    """
    if oidc is not None and oidc.enabled:
        try:
            return _auth(http_base, oidc.authorization_server())
        except (AuthError, ValidationError) as exc:  # unreachable, or an issuer that is no URL
            logger.warning("MCP clients are not told where to sign in (restart to retry): %s", exc)
    return _auth(http_base, None)


def _auth(http_base: str, issuer: str | None) -> AuthSettings:
    # Strings, validated by the model, so that a path-less URL keeps no trailing slash.
    return AuthSettings.model_validate(
        {
            # Unused without resource_server_url: the SDK serves no metadata and no OAuth endpoints.
            "issuer_url": issuer or http_base,
            "resource_server_url": f"{http_base}/mcp" if issuer else None,
            # Tokens come from `searchapp tokens` or the identity provider; `_Verifier` checks
            # them (an ID token's audience included), so the SDK need not.
            "validate_token_resource": False,
        }
    )


def build_mcp(
    ctx: ApiContext | Callable[[], ApiContext],
    *,
    http_base: str = "",
    stdio_caller: Caller | None = None,
    oidc: OidcVerifier | None = None,
) -> MCPServer[Any]:
    """The MCP server over `ctx`. With `http_base` (the server's own URL) it checks bearer tokens.

    `ctx` may be a function that gives the context on first use (the web UI builds its
    context on the first request, not while its server starts).

    `stdio_caller` is who a stdio server acts for (see `stdio_caller`). `oidc` is the
    identity provider whose issuer clients are sent to for tokens (see `auth_settings`).
    """
    context: Callable[[], ApiContext] = ctx if callable(ctx) else (lambda: ctx)
    auth = None
    verifier = None
    if http_base:
        auth = auth_settings(http_base, oidc)
        verifier = _Verifier(context)
    who = _caller_source(context, stdio_caller)

    def cite(hit: Hit | StoredPassage) -> Citation:
        page = hit.page if hit.file_type == "pdf" else None
        # A stdio server has no address of its own: without a public one a link would be a
        # path on no server, which an assistant would show as a broken link.
        base = context().config.public_url or http_base
        return Citation(
            document=hit.source,
            doc_id=hit.doc_id,
            page=hit.page,
            heading=hit.heading,
            passage_id=hit.chunk_id,
            link=original_link(f"{base}/api", hit.doc_id, page) if base else None,
        )

    def result(response: SearchResponse, *, asked: str | None = None) -> SearchResult:
        """The answer; `asked`: what to echo as its query instead of the core's (for a similar
        search the core's is the whole source passage, text the assistant already has)."""
        response = told_if_empty(response)
        return fitted(
            SearchResult(
                query=echoed(response.query if asked is None else asked),
                mode=response.mode,
                weak_match=response.weak_match,
                notices=list(response.notices),
                library_empty=response.library_empty,
                passages=[
                    Passage(rank=h.rank, score=round(h.score, 4), text=h.text, citation=cite(h))
                    for h in response.hits
                ],
            )
        )

    def search(
        query: Annotated[Any, described("query")],
        k: Annotated[Any, described("k", default=5, description=K_HELP, maximum=MAX_K)] = 5,
        mode: Annotated[Any, described("mode")] = None,
        filters: Annotated[Any, described("filters", nullable=True)] = None,
        min_score: Annotated[Any, described("min_score")] = None,
    ) -> SearchResult:
        """Find the passages of the team's documents that answer `query`.

        `query` is natural language, with the query syntax if useful: "exact phrase",
        -word, type:pdf, tag:hr, doc:NAME, page:3-7, after:2026-01-31, before:2026-03.
        `mode`: adaptive (default), hybrid, dense (or semantic) or keyword. `filters` (all optional):
        file_types (["pdf"]), pages ("3-7"), tags (["hr"]), documents (ids or names, as
        doc:), ingested_after / ingested_before ("2026-01-31"), text_contains ("laptop").
        Filters go inside `filters`, never beside `query`.
        """
        with _tool_errors():
            reader = context().library_for(who())
            fields = {
                "query": query,
                "k": checked_k(k),
                "mode": mode,
                "filters": filters,
                "min_score": min_score,
            }
            return result(reader.find(search_request(reader, fields, listing=MCP_LISTING)))

    def fetch_passage(
        passage_id: Annotated[str, PASSAGE_ID],
        before: Annotated[Any, around("before")] = 1,
        after: Annotated[Any, around("after")] = 1,
    ) -> PassageWithContext:
        """One passage by its id (from a citation), with `before`/`after` passages around it (0-20).

        It comes without rank or score: only a search ranks passages. Each neighbour has its
        own `passage_id`, to fetch further."""
        with _tool_errors():
            caller = who()
            before = checked_count("before", before, 0, MAX_AROUND)
            after = checked_count("after", after, 0, MAX_AROUND)
            with _passage_named(passage_id):
                found, near = context().passage(caller, passage_id, before=before, after=after)

            def neighbour(index: int, text: str) -> Neighbour:
                return Neighbour(chunk=index, passage_id=f"{found.doc_id}:{index}", text=text)

            return fitted(
                PassageWithContext(
                    passage=StoredText(text=found.text, citation=cite(found)),
                    before=[neighbour(i, t) for i, t in near if i < found.chunk_index],
                    after=[neighbour(i, t) for i, t in near if i > found.chunk_index],
                )
            )

    def similar_passages(
        passage_id: Annotated[str, PASSAGE_ID],
        k: Annotated[Any, described("k", default=5, description=K_HELP, maximum=MAX_K)] = 5,
        mode: Annotated[Any, described("mode")] = None,
    ) -> SearchResult:
        """Passages like the one with this id (from a citation), the passage itself left out."""
        with _tool_errors():
            reader = context().library_for(who())
            fields = {"like": passage_id, "k": checked_k(k), "mode": mode}
            with _passage_named(passage_id):  # nothing else in this request names a document
                found = reader.find(search_request(reader, fields, listing=MCP_LISTING))
            return result(found, asked=passage_id)

    return MCPServer(
        name="searchapp",
        version=__version__,
        instructions=INSTRUCTIONS,
        token_verifier=verifier,
        auth=auth,
        log_level="WARNING",
        tools=[StrictTool.of(tool) for tool in (search, fetch_passage, similar_passages)],
    )


def _caller_source(context: Callable[[], ApiContext], stdio_caller: Caller | None) -> Callable[[], Caller]:
    def who() -> Caller:
        ctx = context()
        access = get_access_token()
        if access is not None:
            caller = ctx.caller_for_token(access.token)
        elif stdio_caller is not None:
            caller = stdio_caller
        else:
            raise AuthError("this MCP server needs a bearer token")
        ctx.limiter.check(caller.rate_key)
        return caller

    return who


def stdio_caller(ctx: ApiContext, environ: dict[str, str] | None = None) -> Caller:
    """Who a stdio server acts for: the token in SEARCHAPP_TOKEN, else the local operator.

    Raises:
        AuthError: SEARCHAPP_TOKEN is set but not valid here.
    """
    environ = dict(os.environ) if environ is None else environ
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return ctx.caller_for_token(token)
    return Caller(
        collection=ctx.settings.collection, role="admin", subject="operator", via="operator", visibility=None
    )


# Where an assistant gets a passage id: the core's own hint names the API's `chunk_id`.
PASSAGE_IDS = (
    "pass the `citation.passage_id` of a search or similar_passages result, or a neighbour's "
    "`passage_id` from fetch_passage"
)


@contextmanager
def _passage_named(ref: str) -> Iterator[None]:
    """The core's "no such passage" (or "no such document", for the part of a short id before
    the colon) as what it is to the assistant: an unknown passage id, and where to get one."""
    try:
        yield
    except AmbiguousDocumentError as exc:  # a short document id that several documents start with
        raise DocumentNotFoundError(f"the passage id {ref!r} is ambiguous ({exc}); {PASSAGE_IDS}") from exc
    except DocumentNotFoundError as exc:
        raise DocumentNotFoundError(f"no passage has the id {ref!r}; {PASSAGE_IDS}") from exc


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The core's errors as tool errors the assistant reads (never a traceback)."""
    try:
        yield
    except SearchAppError as exc:
        raise ToolError(for_service(str(exc), MCP_LISTING)) from exc
