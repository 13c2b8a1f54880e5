"""Per-team collections: the server picks each session's collection from the signed-in user.

A `[searchapp.teams]` table in the secrets (or a top-level `[teams]` table; the same two
places `Settings.load` reads searchapp's own keys from) maps users to collections:

    [searchapp.teams]
    "ada@example.com" = "research"     # an exact address, case-insensitive
    "@example.com" = "staff"           # everyone whose address is at example.com

An exact address beats its domain. The identity is only ever `st.user`'s email claim (set
by the OIDC sign-in, never by the browser), and an email the provider marks unverified
(`email_verified` false) is not used. A user who matches no entry gets no collection at
all: the pages show why and stop. Nothing a session can send (query parameters, widgets,
session state) reaches this choice.

Teams need sign-in (`[auth]`): without it there is no identity to choose by, so that
configuration is refused rather than served. Without a teams table every session uses
the configured collection, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from searchapp.config import Settings
from searchapp.errors import ConfigError, SearchAppError
from searchapp.ui import auth, resources

TEAMS_KEY = "teams"
TEAMS_TABLE = "[searchapp.teams]"


class TeamAccessDenied(SearchAppError):
    """The signed-in user has no team collection (no entry matches, or no usable email)."""


def teams_config(secrets: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The teams table from `[searchapp.teams]` or a top-level `[teams]`; None when neither is set.

    A table that is present but empty, not a table, or given in both places is a
    `ConfigError`: each would otherwise serve the default collection to everyone.
    """
    found: list[tuple[str, Any]] = []
    nested = secrets.get("searchapp")
    if isinstance(nested, Mapping) and TEAMS_KEY in nested:
        found.append((TEAMS_TABLE, nested[TEAMS_KEY]))
    if TEAMS_KEY in secrets:
        found.append(("[teams]", secrets[TEAMS_KEY]))
    if not found:
        return None
    if len(found) > 1:
        raise ConfigError(
            "the secrets define teams twice, in [searchapp.teams] and in a top-level [teams]; "
            "keep one of them"
        )
    where, table = found[0]
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{where} in the secrets must be a table of address = collection entries; got {table!r}"
        )
    if not table:
        raise ConfigError(
            f"{where} in the secrets is empty, so no one could use the app; map at least one "
            'address or domain to a collection ("ada@example.com" = "research"), or remove the table'
        )
    return table


def normalized_teams(teams: Mapping[str, Any]) -> dict[str, str]:
    """`teams` with lower-case keys and stripped values, after checking the shape of each entry.

    Raises:
        ConfigError: a key is neither an address nor ``@domain``, a value is not a
            collection name, or two spellings of one key name different collections.
    """
    result: dict[str, str] = {}
    for raw_key, raw_value in teams.items():
        key = str(raw_key).strip().lower()
        _check_key(str(raw_key), key)
        if not isinstance(raw_value, str) or not raw_value.strip():
            raise ConfigError(
                f"{TEAMS_TABLE} entry {raw_key!r} must name a collection (a string); got {raw_value!r}"
            )
        value = raw_value.strip()
        if result.get(key, value) != value:
            raise ConfigError(
                f"{TEAMS_TABLE} maps {key!r} twice (keys ignore case), to {result[key]!r} and {value!r}; "
                "keep one"
            )
        result[key] = value
    return result


def _check_key(raw: str, key: str) -> None:
    if key.startswith("@"):
        domain = key[1:]
        valid = bool(domain) and "@" not in domain
    else:
        local, _, domain = key.partition("@")
        valid = bool(local) and bool(domain) and "@" not in domain
    if not valid or "*" in key or any(c.isspace() for c in key):
        raise ConfigError(
            f'{TEAMS_TABLE} key {raw!r} must be an email address ("ada@example.com") or a domain '
            'written with a leading @ ("@example.com"); wildcards are not supported'
        )


def _email_verified(value: Any) -> bool:
    """Missing or null: the provider does not say, so the address is used. Otherwise only true."""
    if value is None:
        return True
    if isinstance(value, str):  # some providers (AWS Cognito) send "true"/"false" strings
        return value.strip().lower() == "true"
    return value is True


def collection_for(user: Mapping[str, Any], teams: Mapping[str, Any], default: str) -> str:
    """The collection of `user` (the claims of `st.user`) under `teams`.

    An empty `teams` means teams are off: `default` is returned for anyone. Otherwise the
    user must be logged in with an email address the provider does not mark unverified;
    an exact address entry wins over a ``@domain`` entry (the part after the last ``@``,
    compared whole: ``@example.com`` does not match ``sub.example.com``).

    Raises:
        TeamAccessDenied: no usable email, or no entry matches it.
        ConfigError: `teams` has a malformed entry.
    """
    if not teams:
        return default
    mapping = normalized_teams(teams)
    if user.get("is_logged_in") is not True:
        raise TeamAccessDenied(
            "this app gives each team its own collection and needs to know who you are; sign in first"
        )
    raw_email = user.get("email")
    email = raw_email.strip().lower() if isinstance(raw_email, str) else ""
    _, at, domain = email.rpartition("@")
    if not at or not domain or email.startswith("@"):
        raise TeamAccessDenied(
            "this app gives each team its own collection by email address, and your sign-in "
            "provider sent none for your account. Sign in with an account that has an email address, "
            "or ask the administrator to have the provider include the email claim."
        )
    if not _email_verified(user.get("email_verified")):
        raise TeamAccessDenied(
            f"your sign-in provider reports the email address {email} as not verified, so it cannot "
            "choose your team's collection. Verify the address with the provider, then sign in again."
        )
    collection = mapping.get(email) or mapping.get(f"@{domain}")
    if collection is None:
        raise TeamAccessDenied(
            f"your account ({email}) is not assigned to a team on this server, so there is no "
            f"collection for you. Ask the administrator to add your address or @{domain} to "
            f"{TEAMS_TABLE} in the app's secrets."
        )
    return collection


def team_settings(
    settings: Settings, teams: Mapping[str, Any] | None, user: Mapping[str, Any], *, sign_in: bool
) -> Settings:
    """`settings` with the collection of `user`'s team; `settings` unchanged when `teams` is None.

    Every mapped collection name is checked (as `Settings` checks `collection`) before any
    user is matched, so one bad entry shows up for everyone, not only for its team.

    Raises:
        ConfigError: teams without sign-in, or a malformed teams table.
        TeamAccessDenied: the user has no team collection.
    """
    if teams is None:
        return settings
    if not sign_in:
        raise ConfigError(
            f"the secrets map teams to collections ({TEAMS_TABLE}) but sign-in is not configured, so "
            "there is no user to choose a collection for. Add an [auth] table (see docs/deployment.md) "
            "or remove the teams table"
        )
    for key, collection in normalized_teams(teams).items():
        try:
            settings.with_overrides(collection=collection)
        except ConfigError as exc:
            raise ConfigError(f"{TEAMS_TABLE} entry {key!r}: {exc}") from exc
    return settings.with_overrides(collection=collection_for(user, teams, settings.collection))


def session_settings(settings: Settings) -> Settings:
    """The settings this session may use: `settings` with its team's collection, if teams are on."""
    secrets = resources.secrets()
    teams = teams_config(secrets)
    if teams is None:
        return settings
    return team_settings(settings, teams, auth.current_user(), sign_in=auth.auth_config() is not None)
