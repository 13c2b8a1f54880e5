"""Sign-outs: after a user logs out of the UI, the sign-in tokens issued to them until then stop working.

The UI's identity cookie holds the provider's ID token (Streamlit keeps it in
``_streamlit_user_tokens``, signed but readable), and the API and MCP server accept that
token as a bearer token until it expires. Ending the UI's session (`ui.sessions`) does
nothing to a copy of the token, so a log-out also records, per user (issuer and
subject), the time of the log-out in the deployment's record table
``searchapp.global.sign-outs`` (beside the data, or on the shared Chroma server: every
UI replica and every ``searchapp serve`` reads the same record). The API then refuses
that user's tokens issued (``iat``) at or before it; a token from a later sign-in (the
UI's, or a script's from the provider) works as before. This is the provider-side
"not before" revocation of Keycloak and others, kept where this deployment can keep it:
a provider does not revoke the ID tokens it has already issued.

The cut-off is the later of this server's clock at log-out and the ``iat`` of the
signed-out sign-in's own token, so a provider whose clock runs ahead cannot keep that
token alive; a provider whose clock runs behind makes a token issued right after a
log-out (within the difference) be refused: keep clocks in step (NTP). A token without
``iat`` of a user who has signed out is refused (nothing shows it is newer).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from searchapp.errors import AuthError
from searchapp.storage.records import RecordTable

TABLE = "sign-outs"
SIGNED_OUT = "this sign-in token was issued before its user signed out; sign in again for a new one"


def _key(issuer: str, subject: str) -> str:
    return hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def record(table: RecordTable, claims: Mapping[str, Any], *, now: float | None = None) -> float | None:
    """Record that the user of these verified ID-token claims signed out; the cut-off, or None
    when the claims name no issuer and subject (nothing to record)."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not issuer or not subject:
        return None
    key = _key(issuer, subject)
    cutoff = max(time.time() if now is None else now, _number(claims.get("iat")) or 0.0)
    earlier = _number((table.get(key) or {}).get("signed_out_at"))
    cutoff = max(cutoff, earlier or 0.0)  # never moved back by a late write
    table.put(key, {"issuer": issuer, "subject": subject, "signed_out_at": cutoff}, issuer=issuer)
    return cutoff


def check(table: RecordTable, claims: Mapping[str, Any]) -> None:
    """Pass a verified token whose user has not signed out since it was issued.

    Raises:
        AuthError: the token was issued at or before its user's last sign-out (401).
        StoreError: the table cannot be read (the token is not let through unchecked).
    """
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str):
        raise AuthError("the sign-in token names no issuer or subject")
    found = table.get(_key(issuer, subject))
    cutoff = _number((found or {}).get("signed_out_at"))
    if cutoff is None:
        return
    issued = _number(claims.get("iat"))
    if issued is None or issued <= cutoff:
        raise AuthError(SIGNED_OUT)
