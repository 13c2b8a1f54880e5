"""From a verified sign-in token's claims to a `Caller`: the team, as the UI's sign-in chooses it.

Without a teams table every signed-in user gets the configured collection (as in the UI).
A signed-in user may search and write (upload, retag, delete), as in the UI; token
administration needs an API token with the admin role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from searchapp.api.callers import Caller
from searchapp.api.config import ApiConfig
from searchapp.errors import AccessDeniedError


def caller_from_claims(claims: Mapping[str, Any], config: ApiConfig, default_collection: str) -> Caller:
    """The caller of a verified OIDC token.

    Raises:
        AccessDeniedError: teams are on and the claims name no team (403).
    """
    if config.teams is not None:
        raise AccessDeniedError(
            "teams are configured, and choosing a signed-in user's team from a bearer token needs "
            "searchapp.access (not in this build); use an API token"
        )
    groups_raw = claims.get(config.groups_claim)
    groups = tuple(str(g) for g in groups_raw) if isinstance(groups_raw, list) else ()
    return Caller(
        collection=default_collection,
        role="write",
        subject=f"oidc:{claims.get('iss', '')}#{claims.get('sub', '')}",
        via="oidc",
        groups=groups,
        email=str(claims.get("email", "")),
    )
