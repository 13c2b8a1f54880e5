"""Everything a request needs, built once per server: libraries, tokens, sign-in, limits, jobs.

`ApiContext.authenticate` is the one lock on every door of the HTTP API and the MCP
server: a bearer token in, a `Caller` (collection, role, groups) out, or an error that
becomes 401, 403 or 429.

The teams table is re-read from the secrets while the server runs (at most every
`TEAMS_RELOAD_S`): a member removed from it loses access without a restart. While an
edited file cannot be read, sign-ins are refused (503) rather than judged by the old table.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from searchapp.api import sign_outs
from searchapp.api.callers import Caller, Role
from searchapp.api.config import ApiConfig
from searchapp.api.errors import ApiError
from searchapp.api.identity import caller_from_claims
from searchapp.api.jobs import TABLE as JOBS_TABLE
from searchapp.api.jobs import Jobs
from searchapp.api.libraries import Libraries
from searchapp.api.oidc import OidcVerifier
from searchapp.api.ratelimit import RateLimiter
from searchapp.api.tokens import PREFIX, TokenStore
from searchapp.errors import AccessDeniedError, AuthError, ConfigError, DocumentNotFoundError
from searchapp.library.view import LibraryView
from searchapp.types import StoredPassage

logger = logging.getLogger(__name__)

TEAMS_RELOAD_S = 2.0
TOKEN_HINT = "send 'Authorization: Bearer <token>' (`searchapp tokens create` makes an API token)"
# Neither whether such a token ever existed nor whether it was revoked: the same words for both.
UNKNOWN_TOKEN = "the bearer token is not known here (unknown or revoked); ask for a valid API token"


class ApiContext:
    def __init__(
        self,
        libraries: Libraries,
        config: ApiConfig,
        *,
        token_cache_s: float = 5.0,
        secrets: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        """`secrets`, when given, reads the secrets again: the teams table follows its edits."""
        self.libraries = libraries
        self.config = config
        self._secrets = secrets
        self._teams_checked = time.monotonic()
        self._teams_error: ConfigError | None = None
        self._teams_lock = threading.Lock()
        self.settings = libraries.settings
        home = libraries.library(self.settings.collection)  # opened now: a bad store fails at start
        # Files of uploads that a crash left behind (their jobs died with the process).
        shutil.rmtree(self.settings.data_dir / "uploads", ignore_errors=True)
        self.tokens = TokenStore(home.store.global_table("tokens"), cache_s=token_cache_s)
        self.oidc = OidcVerifier(config.providers)
        # Log-outs in the UI, read at each sign-in token's use (any replica may have written one).
        self.sign_outs = home.store.global_table(sign_outs.TABLE)
        self.limiter = RateLimiter(config.rate)
        self.jobs = Jobs(
            lambda collection: self.libraries.library(collection).store.table(JOBS_TABLE),
            self.libraries.ingestor,
        )

    def close(self) -> None:
        self.jobs.close()

    # ------------------------------------------------------------------ who is calling

    def authenticate(self, authorization: str | None) -> Caller:
        """The caller an ``Authorization`` header proves, after its rate limit.

        Raises:
            AuthError: no bearer token, or one that is not valid here (401).
            AccessDeniedError: a signed-in user who has no team here (403).
            RateLimitedError: the caller is over its rate limit (429).
        """
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if not authorization:
            raise AuthError(f"this API needs a bearer token: {TOKEN_HINT}")
        if scheme.lower() != "bearer" or not value:
            raise AuthError(f"the Authorization header must be 'Bearer <token>': {TOKEN_HINT}")
        caller = self.caller_for_token(value)
        self.limiter.check(caller.rate_key)
        return caller

    def authenticate_cached(self, authorization: str | None) -> Caller | None:
        """`authenticate` when it needs no I/O (an API token checked in the last seconds), else None.

        Lets the HTTP API check most requests on its event loop, without a thread hop.
        """
        scheme, _, value = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip().startswith(PREFIX):
            return None
        token = self.tokens.verify_cached(value.strip())
        if token is None:
            return None
        caller = token.caller()
        self.limiter.check(caller.rate_key)
        return caller

    def caller_for_token(self, token: str) -> Caller:
        """The caller of an API token or an OIDC bearer token (no rate limit)."""
        if token.startswith(PREFIX):
            return self.tokens.verify(token).caller()
        if not self.oidc.enabled:  # only API tokens are valid here, and this is none that is known
            raise AuthError(UNKNOWN_TOKEN)
        provider, claims = self.oidc.claims(token)
        sign_outs.check(self.sign_outs, claims)  # the user signed out of the UI after it was issued: 401
        return caller_from_claims(provider, claims, self.current_teams(), self.settings.collection)

    def current_teams(self) -> ApiConfig:
        """The config with the teams table as the secrets hold it now (re-read every few seconds).

        Raises:
            ApiError: the secrets were edited and cannot be read or checked (503).
        """
        if self._secrets is None:
            return self.config
        with self._teams_lock:
            if time.monotonic() - self._teams_checked >= TEAMS_RELOAD_S:
                self._teams_checked = time.monotonic()
                try:
                    fresh = dict(self._secrets())
                    if fresh != dict(self.config.secrets):
                        teams = ApiConfig.load(fresh).teams
                        self.config = replace(self.config, teams=teams, secrets=fresh)
                        logger.info("the teams table changed; sign-ins follow the new one")
                    self._teams_error = None
                except ConfigError as exc:
                    if self._teams_error is None:
                        logger.error("the edited secrets cannot be used; sign-ins wait: %s", exc)
                    self._teams_error = exc
            if self._teams_error is not None:
                raise ApiError(
                    503,
                    "unavailable",
                    f"sign-in is paused: the teams table was edited and cannot be read ({self._teams_error})",
                )
            return self.config

    @staticmethod
    def require(caller: Caller, role: Role) -> None:
        if not caller.may(role):
            raise AccessDeniedError(
                f"this needs a token with the {role} role; this one ({caller.subject}) has {caller.role}"
            )

    # ------------------------------------------------------------------ what it may see

    def library_for(self, caller: Caller) -> LibraryView:
        """What `caller` may read and write: its own collection, as far as its groups see."""
        return self.libraries.library(caller.collection).view(caller.visibility)

    def passage(
        self, caller: Caller, ref: str, *, before: int, after: int
    ) -> tuple[StoredPassage, list[tuple[int, str]]]:
        """One passage the caller may see, and the passages around it (itself included), in order.

        Raises:
            DocumentNotFoundError: no such passage, or one in a document the caller may not see.
        """
        view = self.library_for(caller)
        full_id = view.passage_id(ref)
        doc_id = full_id.rpartition(":")[0]
        found = (
            self.libraries.library(caller.collection).store.get_chunks(ids=[full_id])
            if view.find_by_id(doc_id) is not None
            else {"ids": []}
        )
        if not found["ids"]:
            raise DocumentNotFoundError(
                f"no stored passage has the id {ref!r}; search results carry passage ids (chunk_id)"
            )
        passage = StoredPassage(chunk_id=full_id, text=found["documents"][0], metadata=found["metadatas"][0])
        return passage, view.neighbours(doc_id, passage.chunk_index, before=before, after=after)
