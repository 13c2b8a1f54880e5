"""From a verified sign-in token to a `Caller`: the team and groups, as the UI's sign-in gives them.

The claims become an `Identity` (provider included: the `[auth]` section whose keys
checked the token), and `searchapp.access.membership` picks the collection and the
visibility exactly as for a browser session: the teams table when there is one (an
unknown or unverified address is refused, 403), else the configured collection. A
signed-in user may search and write, as in the UI; a teams entry marked ``admin`` also
manages the collection's API tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from searchapp.access import DEFAULT_PROVIDER, Identity, membership
from searchapp.api.callers import Caller
from searchapp.api.config import ApiConfig


def caller_from_claims(
    provider: str, claims: Mapping[str, Any], config: ApiConfig, default_collection: str
) -> Caller:
    """The caller of a verified OIDC token issued by `provider` ("" for the default one).

    Raises:
        AccessDeniedError: teams are on and the identity has no team (403).
    """
    identity = Identity.from_claims(
        {**claims, "groups": claims.get(config.groups_claim)}, provider=provider or DEFAULT_PROVIDER
    )
    member = membership(identity, config.teams, default_collection=default_collection)
    return Caller(
        collection=member.collection,
        role="admin" if member.admin else "write",
        subject=f"oidc:{identity.key.replace(chr(31), ':')}",
        via="oidc",
        visibility=member.visibility,
        email=identity.email,
    )
