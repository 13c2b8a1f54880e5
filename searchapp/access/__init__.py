"""Who may use what: identities, teams and per-group visibility, for every front end alike.

The UI's sign-in, the HTTP API's bearer tokens and the MCP server all answer the same
two questions here, so a user reaches the same documents through each:

1. **Which collection?** `Identity.from_claims(claims, provider=...)` reads an identity
   from verified OpenID Connect claims (``st.user``, or a checked JWT); `teams_config`
   finds the teams table in the secrets, `TeamsTable.parse(table, providers)` checks it
   (`provider_names(auth)` lists the configured providers), and `membership(identity,
   teams, default_collection=...)` gives a `Membership`: the collection, the caller's
   `Visibility`, and the identity. No usable verified address, or no matching entry:
   `AccessDeniedError` (a user-facing message). A table that cannot work: `ConfigError`.

2. **Which documents?** `Membership.visibility` (None: everything; else the caller's
   groups) goes to `Library.view(visibility)`, the scoped reader every front end uses
   for a caller: search, similar, documents, originals, neighbours and stats all see
   only what the caller may see (`access.visibility`).

3. **Which uploads?** `Ingestor.ingest(files, visibility=...)` lets a caller give files
   only its own groups, and never replace, retag or learn of a document hidden from it
   (the file fails as "not allowed"); `LibraryView.update_groups` checks the same.

Interface (stable):

    Identity(provider, issuer, subject, email, email_verified, groups, name)
    Identity.from_claims(claims, *, provider=None) -> Identity;  identity.key -> str
    normalize_email(raw) -> str ("" if unusable);  normalize_groups(values) -> tuple[str, ...]
    teams_config(secrets) -> Mapping | None;  provider_names(auth) -> tuple[str, ...]
    TeamsTable.parse(table, providers) -> TeamsTable;  .resolve(identity) -> Membership
    membership(identity | None, teams | None, *, default_collection) -> Membership
    Membership(collection, visibility, identity, admin)
    Visibility = frozenset[str] | None;  can_see(groups, visibility);  check_assignable(groups, visibility)
"""

from __future__ import annotations

from searchapp.access.identity import DEFAULT_PROVIDER, Identity, normalize_email, normalize_groups
from searchapp.access.teams import (
    TEAMS_TABLE,
    Membership,
    TeamEntry,
    TeamsTable,
    membership,
    provider_names,
    teams_config,
)
from searchapp.access.visibility import Visibility, as_filter, can_see, check_assignable

__all__ = [
    "DEFAULT_PROVIDER",
    "TEAMS_TABLE",
    "Identity",
    "Membership",
    "TeamEntry",
    "TeamsTable",
    "Visibility",
    "as_filter",
    "can_see",
    "check_assignable",
    "membership",
    "normalize_email",
    "normalize_groups",
    "provider_names",
    "teams_config",
]
