"""What the API server reads besides `Settings`: sign-in providers, teams, limits.

One deployment has one configuration: the API reads the same secrets file as the web UI
(`.streamlit/secrets.toml` under the directory it starts from, then
`~/.streamlit/secrets.toml`, or the file given with ``--secrets``), so its identity
provider (`[auth]`) and its teams (`[searchapp.teams]`, read and checked by
`searchapp.access`, exactly as the UI reads them) are the UI's. API-only settings go
in a `[searchapp.api]` table or in ``SEARCHAPP_API_*`` variables (which win):

    rate_per_minute   requests a minute per caller (600; 0 turns limits off)
    rate_burst        requests at once per caller (60)
    max_upload_mb     one upload request, all files together (200; each file also
                      obeys SEARCHAPP_MAX_FILE_MB)
    public_url        the address clients reach the server at, for links in answers
                      (default: the address each request came to)
    audiences         extra JWT audiences to accept besides each provider's client_id
    groups_claim      the JWT claim that lists a user's groups ("groups")
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchapp.access import TeamsTable, provider_names, teams_config
from searchapp.api.oidc import OidcProvider, providers_from_auth
from searchapp.api.ratelimit import RateLimit
from searchapp.errors import ConfigError

ENV_PREFIX = "SEARCHAPP_API_"


def secrets_paths(cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks for secrets, lowest priority first."""
    return [Path.home() / ".streamlit" / "secrets.toml", (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def read_secrets(paths: list[Path]) -> dict[str, Any]:
    """The merged secrets files that exist (a later file's top-level keys win).

    Raises:
        ConfigError: a file exists but is not valid TOML (it may hold `[auth]`: the API
            never starts without it because of a typo).
    """
    merged: dict[str, Any] = {}
    for path in paths:
        if not path.is_file():
            continue
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the secrets file {path}: {exc}") from exc
    return merged


@dataclass(frozen=True, slots=True)
class ApiConfig:
    providers: tuple[OidcProvider, ...] = ()
    teams: TeamsTable | None = None  # None: teams are off (everyone uses the configured collection)
    rate: RateLimit = field(default_factory=RateLimit)
    max_upload_mb: int = 200
    public_url: str = ""
    groups_claim: str = "groups"
    secrets: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, secrets: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ApiConfig:
        """From the secrets (`[auth]`, teams, `[searchapp.api]`) and ``SEARCHAPP_API_*`` variables.

        Raises:
            ConfigError: a value of the wrong type, or an `[auth]` provider that cannot be checked.
        """
        environ = os.environ if environ is None else environ
        nested = secrets.get("searchapp")
        table = nested.get("api") if isinstance(nested, Mapping) else None
        values: dict[str, Any] = dict(table) if isinstance(table, Mapping) else {}
        for key, raw in environ.items():
            if key.startswith(ENV_PREFIX):
                values[key[len(ENV_PREFIX) :].lower()] = raw
        known = {"rate_per_minute", "rate_burst", "max_upload_mb", "public_url", "audiences", "groups_claim"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown API setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        audiences = values.get("audiences", [])
        if isinstance(audiences, str):
            audiences = [a.strip() for a in audiences.split(",") if a.strip()]
        auth = secrets.get("auth")
        auth = auth if isinstance(auth, Mapping) else None
        table = teams_config(secrets)
        return cls(
            providers=providers_from_auth(auth, list(audiences)),
            teams=None if table is None else TeamsTable.parse(table, provider_names(auth)),
            rate=RateLimit(
                per_minute=_int(values, "rate_per_minute", 600), burst=_int(values, "rate_burst", 60)
            ),
            max_upload_mb=_int(values, "max_upload_mb", 200, minimum=1),
            public_url=str(values.get("public_url", "")).strip().rstrip("/"),
            groups_claim=str(values.get("groups_claim", "groups")).strip() or "groups",
            secrets=secrets,
        )


def _int(values: Mapping[str, Any], name: str, default: int, *, minimum: int = 0) -> int:
    raw = values.get(name, default)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be an integer; got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be at least {minimum}; got {value}")
    return value
