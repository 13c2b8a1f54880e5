"""Per-team collections in the UI: `st.user` in, a `Membership` out (`searchapp.access`).

The rules (the teams table, which provider vouches for which entry, exact address
matching, groups) live in `searchapp.access`, so the HTTP API and the MCP server map a
caller to a collection the same way. This module only reads the secrets and the
signed-in user (`ui.auth.current_user`: `st.user`, set by the OIDC sign-in, never by
the browser). Nothing a session can send (query parameters, widgets, session state)
reaches the choice.
"""

from __future__ import annotations

from searchapp.access import Identity, Membership, TeamsTable, membership, provider_names, teams_config
from searchapp.config import Settings
from searchapp.errors import AccessDeniedError
from searchapp.ui import auth, resources


def teams_table() -> TeamsTable | None:
    """The checked teams table from the secrets; None without one.

    Raises:
        ConfigError: a teams table that cannot work (see `searchapp.access.teams`).
    """
    table = teams_config(resources.secrets())
    return None if table is None else TeamsTable.parse(table, provider_names(auth.auth_config()))


def current_identity() -> Identity | None:
    """The signed-in user's identity; None when sign-in is off.

    Raises:
        AccessDeniedError: sign-in is on and nobody is signed in.
    """
    if auth.auth_config() is None:
        return None
    user = auth.current_user()
    if not user:
        raise AccessDeniedError("this app needs to know who you are; sign in first")
    return Identity.from_claims(user)


def session_membership(settings: Settings) -> Membership:
    """The collection and visibility this session may use (`searchapp.access.membership`)."""
    return membership(current_identity(), teams_table(), default_collection=settings.collection)


def session_settings(settings: Settings) -> Settings:
    """The settings this session may use: `settings` with its team's collection, if teams are on."""
    return settings.with_overrides(collection=session_membership(settings).collection)
