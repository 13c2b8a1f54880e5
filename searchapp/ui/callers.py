"""Who is asking, and what they may use: one answer for page runs and for our routes.

`resolve(settings, cookies)` is the whole check, run at the time of each page run (in
`ui.context`) and each request to a route of ours (`ui.original_links`):

1. sign-in off: everyone uses the configured collection and sees everything;
2. sign-in on: Streamlit's identity cookie, verified here (`ui.identity_cookie`), gives
   the identity; the teams table (`searchapp.access`) its collection and groups;
3. the team's library is opened on demand (so a route works on every replica, also
   before anyone of that team opened a page there);
4. the server-side session record must be active (`ui.sessions`): log-out ends it, and
   records the sign-out for the API (`api.sign_outs`): the user's ID token, which
   Streamlit keeps in a readable cookie, stops working as a bearer token too.

A caller reads through `Caller.view`, scoped to what it may see.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from searchapp.access import Identity, Membership, membership
from searchapp.api import sign_outs
from searchapp.config import Settings
from searchapp.errors import AccessDeniedError, SearchAppError
from searchapp.library import Library
from searchapp.library.view import LibraryView
from searchapp.ui import auth, identity_cookie, resources, sessions, teams
from searchapp.ui.sessions import SessionEnded

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """A checked caller: what it may use, its team's library, and its session (if signed in)."""

    membership: Membership
    library: Library
    session_id: str = ""

    @property
    def settings(self) -> Settings:
        return self.library.settings

    @property
    def view(self) -> LibraryView:
        return self.library.view(self.membership.visibility)


def _signed_in(cookies: Mapping[str, str]) -> identity_cookie.SignedIn | None:
    return identity_cookie.read(cookies, secret=auth.cookie_secret(), origin=auth.expected_origin())


def resolve(settings: Settings, cookies: Mapping[str, str]) -> Caller:
    """The caller presenting `cookies` (see the module docstring).

    Raises:
        ConfigError: sign-in or teams are configured wrongly.
        SessionEnded: sign-in is on and the cookie is missing, invalid, or its session ended.
        AccessDeniedError: a valid sign-in with no team here.
        SearchAppError: the team's library cannot be opened.
    """
    table = teams.teams_table()
    if auth.auth_config() is None:
        return Caller(
            membership(None, table, default_collection=settings.collection), resources.get_library(settings)
        )
    signed = _signed_in(cookies)
    if signed is None:
        raise SessionEnded(sessions.NOT_SIGNED_IN)
    identity = Identity.from_claims(signed.claims)
    member = membership(identity, table, default_collection=settings.collection)
    library = resources.get_library(settings.with_overrides(collection=member.collection))
    sid = sessions.check(
        library.store.global_table(sessions.TABLE), signed, identity, secret=auth.cookie_secret()
    )
    return Caller(member, library, sid)


def end_session(settings: Settings, cookies: Mapping[str, str]) -> bool:
    """Revoke the session of the sign-in in `cookies`, and the user's sign-in tokens issued
    until now (`api.sign_outs`); True if there was one to end.

    Reached through the user's team library, or any team's when the user has none now:
    every collection of a deployment shares the one global table.
    """
    if auth.auth_config() is None:
        return False
    signed = _signed_in(cookies)
    if signed is None:
        return False
    identity = Identity.from_claims(signed.claims)
    table = teams.teams_table()
    try:
        collection = membership(identity, table, default_collection=settings.collection).collection
    except AccessDeniedError:
        collection = min(table.collections) if table is not None else settings.collection
    try:
        library = resources.get_library(settings.with_overrides(collection=collection))
        sessions.revoke(
            library.store.global_table(sessions.TABLE), signed, identity, secret=auth.cookie_secret()
        )
        sign_outs.record(library.store.global_table(sign_outs.TABLE), signed.claims)
    except SearchAppError as exc:
        logger.warning("could not record the log-out of %s on the server: %s", identity.label, exc)
        return False
    return True
