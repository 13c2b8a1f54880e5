"""Server-side sign-in sessions: log-out ends a session, not just a browser's cookie.

Streamlit's identity cookie is valid for 30 days wherever it is presented; deleting it
at log-out does nothing to a copy. So the server keeps one record per sign-in in the
deployment's record table ``searchapp.global.ui-sessions`` (shared by every replica of
a Chroma server), keyed by a keyed hash of the cookie's signed text (each sign-in's
cookie is different; the table never holds a usable cookie):

- the first page run of a fresh sign-in (its cookie signed less than `ADOPT_WINDOW_S`
  ago) records it as active; an unknown cookie older than that (a sign-in from before
  this table, or one whose record is gone) is refused: sign in again;
- every page run and every request to our routes checks the record: only an active
  one, of the same identity, passes;
- log-out (the button, and ``/auth/logout`` itself) marks it revoked, so the cookie and
  every copy of it stop working at once, in every tab and on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from searchapp.access import Identity
from searchapp.errors import AccessDeniedError
from searchapp.storage.records import RecordTable
from searchapp.ui.identity_cookie import SignedIn

TABLE = "ui-sessions"
ADOPT_WINDOW_S = 600  # a sign-in's first page run comes within seconds of its callback


class SessionEnded(AccessDeniedError):
    """This browser's sign-in is not (or no longer) valid on the server: sign in again."""


SIGNED_OUT = (
    "you signed out of this account (in this tab, another tab or another browser), so this page "
    "no longer has access. Sign in again to go on."
)
UNKNOWN = (
    "this sign-in is not known to the server (it was made before the server kept sign-ins, or its "
    "record is gone). Sign in again to go on."
)
NOT_SIGNED_IN = "you are not signed in, or your sign-in has expired. Sign in to go on."


def session_id(signed: SignedIn, secret: str) -> str:
    key = hashlib.sha256(b"searchapp sessions\x00" + secret.encode("utf-8")).digest()
    return hmac.new(key, signed.raw.encode("utf-8"), hashlib.sha256).hexdigest()


def check(
    table: RecordTable, signed: SignedIn, identity: Identity, *, secret: str, now: float | None = None
) -> str:
    """The id of this sign-in's active session; records a fresh sign-in on first sight.

    Raises:
        SessionEnded: revoked, another identity's, or unknown and not fresh.
    """
    now = time.time() if now is None else now
    sid = session_id(signed, secret)
    record = table.get(sid)
    if record is None:
        if now - signed.signed_at > ADOPT_WINDOW_S:
            raise SessionEnded(UNKNOWN)
        table.insert(
            sid,
            {
                "identity": identity.key,
                "email": identity.email,
                "state": "active",
                "signed_at": signed.signed_at,
            },
            identity=identity.key,
            state="active",
        )
        record = table.get(sid)  # whichever of two racing first runs won: the same values
    if record is None or record.get("identity") != identity.key:
        raise SessionEnded(UNKNOWN)
    if record.get("state") != "active":
        raise SessionEnded(SIGNED_OUT)
    return sid


def revoke(table: RecordTable, signed: SignedIn, identity: Identity, *, secret: str) -> None:
    """End this sign-in's session for good (also one never seen: a log-out right after sign-in)."""
    sid = session_id(signed, secret)
    record = table.get(sid) or {
        "identity": identity.key,
        "email": identity.email,
        "signed_at": signed.signed_at,
    }
    table.put(
        sid, {**record, "state": "revoked", "revoked_at": time.time()}, identity=identity.key, state="revoked"
    )
