"""API tokens: made once, shown once, kept only as a hash in the deployment's token table.

A token reads ``sapi_<id>_<secret>``: `id` (12 hex digits) finds its record, the secret
(32 random bytes) proves it. The table (`store.global_table("tokens")`, so every client
of a Chroma server sees the same tokens) keeps the SHA-256 of the whole token, never the
token: a secret with 256 bits of entropy needs no slow hash, and a stolen table gives
nothing to sign in with. Each record names one collection (a team), one role, optional
groups, an expiry and, once revoked, when.

Verification reads the record at most once per `cache_s` seconds per token, so a token
revoked from another process (the CLI next to a server-mode deployment) stops working
within that time everywhere; one revoked through this `TokenStore` stops at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from searchapp.access import normalize_groups
from searchapp.api.callers import ROLES, Caller, Role
from searchapp.config import Settings
from searchapp.errors import AuthError, ConfigError, DocumentNotFoundError
from searchapp.storage.records import RecordTable

PREFIX = "sapi_"
_TOKEN_RE = re.compile(r"^sapi_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_DURATION_RE = re.compile(r"^(\d{1,5})\s*([hdw])$")


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One token's record, without its secret (which is never stored)."""

    token_id: str
    collection: str
    role: Role
    groups: tuple[str, ...] = ()
    name: str = ""
    created_at: int = 0
    expires_at: int = 0  # 0: never
    revoked_at: int = 0  # 0: not revoked

    def state(self, now: float) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "active"

    def caller(self) -> Caller:
        """An admin token sees every document of its collection; others see theirs and the open ones."""
        return Caller(
            collection=self.collection,
            role=self.role,
            subject=f"token:{self.token_id}",
            via="token",
            visibility=None if self.role == "admin" else frozenset(self.groups),
        )

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        data = asdict(self)
        data["groups"] = list(self.groups)
        data["state"] = self.state(time.time() if now is None else now)
        return data

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ApiToken:
        return cls(
            token_id=str(record["token_id"]),
            collection=str(record["collection"]),
            role=_role(record.get("role")),
            groups=tuple(str(g) for g in record.get("groups", ())),
            name=str(record.get("name", "")),
            created_at=int(record.get("created_at", 0)),
            expires_at=int(record.get("expires_at", 0)),
            revoked_at=int(record.get("revoked_at", 0)),
        )


def _role(value: Any) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise ConfigError(f"a token's role must be one of {', '.join(ROLES)}; got {value!r}")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_expiry(text: str | None, *, now: float | None = None) -> int:
    """Epoch seconds from ``never``, a duration (``12h``, ``90d``, ``8w``) or a date (``2027-01-31``).

    Raises:
        ConfigError: anything else, or a moment in the past.
    """
    now = time.time() if now is None else now
    value = (text or "").strip().lower()
    if value in ("never", "0"):
        return 0
    match = _DURATION_RE.match(value)
    if match:
        seconds = int(match.group(1)) * {"h": 3600, "d": 86400, "w": 7 * 86400}[match.group(2)]
        if seconds <= 0:
            raise ConfigError(f"a token's lifetime must be positive; got {text!r}")
        return int(now + seconds)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"a token's expiry is 'never', a duration (12h, 90d, 8w) or a date (2027-01-31); got {text!r}"
        ) from None
    if moment.tzinfo is None and len(value) == 10:
        moment = dt.datetime.combine(moment.date(), dt.time.max)
    expires = int(moment.timestamp())
    if expires <= now:
        raise ConfigError(f"the expiry {text!r} is in the past")
    return expires


def check_groups(groups: Sequence[str]) -> tuple[str, ...]:
    """Group names as `searchapp.access` keeps them (stripped, no duplicates, no control characters)."""
    try:
        return normalize_groups([g for g in groups if g.strip()])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


class TokenStore:
    """Creates, lists, revokes and verifies API tokens kept in one record table."""

    def __init__(self, table: RecordTable, *, cache_s: float = 5.0) -> None:
        self.table = table
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, ApiToken | None, str]] = {}
        self._lock = threading.Lock()

    def create(
        self,
        collection: str,
        role: str,
        *,
        groups: Sequence[str] = (),
        expires_at: int = 0,
        name: str = "",
    ) -> tuple[ApiToken, str]:
        """A new token and its secret text (shown once; only its hash is kept).

        Raises:
            ConfigError: a bad collection name, role, group or name.
        """
        Settings(collection=collection)  # the collection name is checked like SEARCHAPP_COLLECTION
        if len(name) > 200:
            raise ConfigError(f"a token's name is at most 200 characters; got {len(name)}")
        token_id = secrets.token_hex(6)
        secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        token = ApiToken(
            token_id=token_id,
            collection=collection,
            role=_role(role),
            groups=check_groups(groups),
            name=name.strip(),
            created_at=int(time.time()),
            expires_at=expires_at,
        )
        record = {**token.to_dict(), "hash": digest(secret)}
        record.pop("state")
        if not self.table.insert(token_id, record, collection=collection):
            raise ConfigError("a token id was drawn twice; create the token again")
        return token, secret

    def tokens(self, collection: str | None = None) -> list[ApiToken]:
        """Every token (or those of one collection), newest first."""
        found = self.table.find({"collection": collection} if collection else None)
        tokens = [ApiToken.from_record(r) for r in found.values() if "token_id" in r]
        return sorted(tokens, key=lambda t: (-t.created_at, t.token_id))

    def revoke(self, token_id: str, *, collection: str | None = None) -> ApiToken:
        """Revoke a token (for good); `collection` limits it to that collection's tokens.

        Raises:
            DocumentNotFoundError: no such token (in that collection).
        """
        record = self.table.get(token_id.strip()) if re.fullmatch(r"[0-9a-f]{12}", token_id.strip()) else None
        if record is None or (collection is not None and record.get("collection") != collection):
            raise DocumentNotFoundError(
                f"no API token with id {token_id!r}; `searchapp tokens list` lists them"
            )
        if not record.get("revoked_at"):
            record["revoked_at"] = int(time.time())
            self.table.put(token_id, record, collection=str(record["collection"]))
        with self._lock:
            self._cache.pop(token_id, None)
        return ApiToken.from_record(record)

    def verify(self, text: str, *, now: float | None = None) -> ApiToken:
        """The token `text` proves, if it is known, unexpired and not revoked.

        Raises:
            AuthError: otherwise (the message says which, never anything about other tokens).
        """
        found = self._verify(text, time.time() if now is None else now, cached_only=False)
        assert found is not None
        return found

    def verify_cached(self, text: str) -> ApiToken | None:
        """`verify` without reading the store: None when the token's record is not cached now."""
        return self._verify(text, time.time(), cached_only=True)

    def _verify(self, text: str, now: float, *, cached_only: bool) -> ApiToken | None:
        match = _TOKEN_RE.match(text.strip())
        if match is None:
            raise AuthError("the bearer token is not a searchapp API token or a valid sign-in token")
        token_id = match.group(1)
        looked_up = self._lookup(token_id, now, cached_only=cached_only)
        if looked_up is None:
            return None
        token, hashed = looked_up
        if token is None or not hmac.compare_digest(hashed, digest(text.strip())):
            raise AuthError("the API token is not known here (revoked and deleted, or mistyped)")
        state = token.state(now)
        if state != "active":
            raise AuthError(f"the API token {token_id} is {state}; ask for a new one")
        return token

    def _lookup(
        self, token_id: str, now: float, *, cached_only: bool = False
    ) -> tuple[ApiToken | None, str] | None:
        with self._lock:
            cached = self._cache.get(token_id)
        if cached is not None and now - cached[0] < self.cache_s:
            return cached[1], cached[2]
        if cached_only:
            return None
        record = self.table.get(token_id)
        token = ApiToken.from_record(record) if record is not None else None
        hashed = str(record.get("hash", "")) if record is not None else ""
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token_id] = (now, token, hashed)
        return token, hashed
