"""Teams: which collection a signed-in identity uses, and which groups it sees there.

A ``[searchapp.teams]`` table in the secrets (or a top-level ``[teams]`` table; the
same two places `Settings.load` reads searchapp's own keys from) maps addresses and
domains to collections:

    [searchapp.teams]
    "ada@example.com" = "research"     # an exact address
    "@example.com" = "staff"           # everyone whose address is at example.com
    "lee@example.com" = { collection = "research", groups = ["legal"], admin = true }

An entry's value is a collection name, or a table with ``collection`` and optionally
``groups`` (added to the groups the provider sends) and ``admin`` (sees every document
of the collection, whatever its groups, and may give documents any groups).

**Which provider vouches for an entry.** With one sign-in provider configured, the
entries above are vouched for by it (today's single-provider configurations keep
working). With several (``[auth.google]``, ``[auth.microsoft]``, or a default provider
beside a named one) an entry must name its provider, by sitting in that provider's
table, or the table is refused as ambiguous:

    [searchapp.teams.google]
    "@example.com" = "staff"
    [searchapp.teams.microsoft]
    "@partner.org" = "partner-docs"

A key without ``@`` whose value is a table is such a provider table (``default`` names
the provider configured directly in ``[auth]``). An identity signed in by a provider
matches only that provider's entries: ``ada@example.com`` vouched for by another
provider is someone else.

Matching (`TeamsTable.resolve`): the address in compared form (`access.identity`), an
exact address before its ``@domain`` (the whole part after the ``@``: ``@example.com``
matches neither ``sub.example.com`` nor ``notexample.com``; no wildcards). An address the
provider marks unverified, a missing address, or one no entry matches gets no
collection (`AccessDeniedError`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from searchapp.access.identity import (
    DEFAULT_PROVIDER,
    Identity,
    normalize_domain,
    normalize_email,
    normalize_groups,
)
from searchapp.access.visibility import Visibility
from searchapp.config import is_collection_name
from searchapp.errors import AccessDeniedError, ConfigError

TEAMS_KEY = "teams"
TEAMS_TABLE = "[searchapp.teams]"
_ENTRY_KEYS = {"collection", "groups", "admin"}


@dataclass(frozen=True, slots=True)
class TeamEntry:
    """What one teams entry gives: a collection, extra groups, and whether it is an admin."""

    collection: str
    groups: frozenset[str] = frozenset()
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Membership:
    """What a caller may use: a collection, and what it sees there.

    `visibility` is None when the caller sees every document of the collection (no
    sign-in, or an admin); otherwise the caller's groups, and a document restricted to
    groups is visible only if it shares one of them (`access.visibility`).
    """

    collection: str
    visibility: Visibility
    identity: Identity | None = None
    admin: bool = False


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


def provider_names(auth: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The sign-in providers an ``[auth]`` table configures, by the names Streamlit gives them."""
    if not auth:
        return ()
    named = tuple(name for name, value in auth.items() if isinstance(value, Mapping))
    return ((DEFAULT_PROVIDER,) if "client_id" in auth else ()) + named


@dataclass(frozen=True, slots=True)
class TeamsTable:
    """A parsed, checked teams table: entries by (provider, address or ``@domain``)."""

    entries: Mapping[tuple[str, str], TeamEntry]
    providers: tuple[str, ...]

    @classmethod
    def parse(cls, table: Mapping[str, Any], providers: Sequence[str]) -> TeamsTable:
        """Check every entry (and every collection name) now, so one typo shows up for everyone.

        Raises:
            ConfigError: no sign-in provider, an entry without a provider where several are
                configured, a table naming an unknown provider, a key that is neither an
                address nor ``@domain``, a bad value, or two spellings of one key that differ.
        """
        providers = tuple(providers)
        if not providers:
            raise ConfigError(
                f"the secrets map teams to collections ({TEAMS_TABLE}) but sign-in is not configured, "
                "so there is no user to choose a collection for. Add an [auth] table (see "
                "docs/deployment.md) or remove the teams table"
            )
        entries: dict[tuple[str, str], TeamEntry] = {}
        loose = {k: v for k, v in table.items() if not _is_provider_table(k, v)}
        sections = {str(k): v for k, v in table.items() if _is_provider_table(k, v)}
        if loose and len(providers) > 1:
            raise ConfigError(
                f"{TEAMS_TABLE} has entries that name no sign-in provider ({_first(loose)} …), but "
                f"several are configured ({', '.join(providers)}), so it is not clear which may vouch "
                f"for them. Put each entry in its provider's table, e.g. [searchapp.teams.{providers[-1]}]"
            )
        if loose:
            _add(entries, providers[0], loose, TEAMS_TABLE)
        for name, section in sections.items():
            if name not in providers:
                raise ConfigError(
                    f"[searchapp.teams.{name}] names no configured sign-in provider; the [auth] table "
                    f"configures {', '.join(providers)}"
                )
            if not section:
                raise ConfigError(f"[searchapp.teams.{name}] is empty; add entries or remove it")
            _add(entries, name, section, f"[searchapp.teams.{name}]")
        return cls(entries=entries, providers=providers)

    @property
    def collections(self) -> frozenset[str]:
        return frozenset(entry.collection for entry in self.entries.values())

    def entry_for(self, identity: Identity) -> TeamEntry:
        """The entry that admits `identity` (see the module docstring).

        Raises:
            AccessDeniedError: no usable verified address, or no entry of its provider matches.
        """
        email = identity.email
        if not email:
            sent = f" ({identity.email_claim!r} is not a usable address)" if identity.email_claim else ""
            raise AccessDeniedError(
                "this app gives each team its own collection by email address, and your sign-in "
                f"provider sent none for your account{sent}. Sign in with an account that has an email "
                "address, or ask the administrator to have the provider include the email claim."
            )
        if not identity.email_verified:
            raise AccessDeniedError(
                f"your sign-in provider reports the email address {identity.label} as not verified, so it "
                "cannot choose your team's collection. Verify the address with the provider, then sign "
                "in again."
            )
        domain = email.rpartition("@")[2]
        found = self.entries.get((identity.provider, email)) or self.entries.get(
            (identity.provider, f"@{domain}")
        )
        if found is None:
            provider = f" signed in with {identity.provider}" if len(self.providers) > 1 else ""
            raise AccessDeniedError(
                f"your account ({identity.label}){provider} is not assigned to a team on this server, so "
                f"there is no collection for you. Ask the administrator to add your address or "
                f"@{domain} to {TEAMS_TABLE} in the app's secrets."
            )
        return found

    def resolve(self, identity: Identity) -> Membership:
        """The collection `identity` uses and what it sees there."""
        entry = self.entry_for(identity)
        visibility = None if entry.admin else identity.groups | entry.groups
        return Membership(entry.collection, visibility, identity, admin=entry.admin)


def membership(identity: Identity | None, teams: TeamsTable | None, *, default_collection: str) -> Membership:
    """What a caller may use: `identity` None means sign-in is off (everything, as before).

    Without teams every caller uses `default_collection`; a signed-in one sees the
    documents open to everyone plus those of its groups.
    """
    if identity is None:
        if teams is not None:
            raise ConfigError(f"{TEAMS_TABLE} needs sign-in; there is no identity to choose a team by")
        return Membership(default_collection, None)
    if teams is None:
        return Membership(default_collection, identity.groups, identity)
    return teams.resolve(identity)


def _is_provider_table(key: Any, value: Any) -> bool:
    return isinstance(value, Mapping) and "@" not in str(key) and not (_ENTRY_KEYS & set(value))


def _first(entries: Mapping[str, Any]) -> str:
    return repr(next(iter(entries)))


def _add(
    entries: dict[tuple[str, str], TeamEntry], provider: str, table: Mapping[str, Any], where: str
) -> None:
    for raw_key, raw_value in table.items():
        key = _normal_key(str(raw_key), where)
        entry = _entry(raw_key, raw_value, where)
        known = entries.get((provider, key))
        if known is not None and known != entry:
            raise ConfigError(
                f"{where} maps {key!r} twice (keys ignore case), to {known.collection!r} and "
                f"{entry.collection!r}; keep one"
            )
        entries[(provider, key)] = entry


def _normal_key(raw: str, where: str) -> str:
    key = raw.strip()
    if key.startswith("@"):
        domain = normalize_domain(key[1:]) if "@" not in key[1:] else None
        normal = f"@{domain}" if domain else ""
    else:
        normal = normalize_email(key)
    if not normal or "*" in key:
        raise ConfigError(
            f'{where} key {raw!r} must be an email address ("ada@example.com") or a domain '
            'written with a leading @ ("@example.com"); wildcards are not supported'
        )
    return normal


def _entry(raw_key: Any, value: Any, where: str) -> TeamEntry:
    collection: Any = value
    groups: tuple[str, ...] = ()
    admin: Any = False
    if isinstance(value, Mapping):
        unknown = set(value) - _ENTRY_KEYS
        if unknown:
            raise ConfigError(
                f"{where} entry {raw_key!r} has unknown keys {sorted(unknown)}; "
                f"allowed: {', '.join(sorted(_ENTRY_KEYS))}"
            )
        collection, admin = value.get("collection"), value.get("admin", False)
        if not isinstance(admin, bool):
            raise ConfigError(f"{where} entry {raw_key!r}: admin must be true or false; got {admin!r}")
        try:
            groups = normalize_groups(value.get("groups"), what=f"{where} entry {raw_key!r}: groups")
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    if not isinstance(collection, str) or not collection.strip():
        raise ConfigError(f"{where} entry {raw_key!r} must name a collection (a string); got {collection!r}")
    collection = collection.strip()
    if not is_collection_name(collection):
        raise ConfigError(
            f"{where} entry {raw_key!r}: a collection name is 3-62 characters of letters, digits, '.', "
            f"'_' or '-', starting and ending with a letter or digit; got {collection!r}"
        )
    return TeamEntry(collection, frozenset(groups), admin)
