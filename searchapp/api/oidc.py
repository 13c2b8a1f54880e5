"""OIDC bearer tokens: JWTs checked against the identity provider's published keys.

The provider is the one the web UI signs in with (`[auth]` in the secrets: its
``server_metadata_url`` and ``client_id``, or one `[auth.NAME]` table per provider). Its
discovery document gives the issuer and the JWKS address; keys are fetched from there
(cached for five minutes, refetched once when a token names an unknown key, as after a
key rotation). A token is accepted only when

- its signature verifies with one of the provider's keys, under an asymmetric algorithm
  (RS*, PS*, ES*, EdDSA; never ``none`` or a shared-secret HS*),
- ``iss`` is exactly the provider's issuer and ``aud`` names this deployment (the
  ``client_id``, or one of the configured extra audiences),
- ``exp`` is in the future (30 s of clock skew allowed) and ``nbf``, if present, has passed.

The claims of an accepted token then choose the caller's team exactly as the UI's
sign-in does (`searchapp.api.identity`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from searchapp.errors import AuthError, ConfigError

logger = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_S = 30
DISCOVERY_TTL_S = 3600


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """One identity provider whose tokens the API accepts."""

    name: str  # "" for the default provider (`client_id` directly in `[auth]`)
    metadata_url: str
    audiences: tuple[str, ...]


def providers_from_auth(
    auth: Mapping[str, Any] | None, extra_audiences: Sequence[str] = ()
) -> tuple[OidcProvider, ...]:
    """The providers of an `[auth]` table (the UI's sign-in settings).

    Raises:
        ConfigError: a provider without ``server_metadata_url`` or ``client_id``.
    """
    if not auth:
        return ()
    tables: list[tuple[str, Mapping[str, Any]]] = []
    if "client_id" in auth:
        tables.append(("", auth))
    tables += [(str(name), value) for name, value in auth.items() if isinstance(value, Mapping)]
    found: list[OidcProvider] = []
    for name, table in tables:
        where = f"[auth.{name}]" if name else "[auth]"
        url = str(table.get("server_metadata_url") or "").strip()
        client_id = str(table.get("client_id") or "").strip()
        if not url or not client_id:
            raise ConfigError(
                f"{where} needs server_metadata_url and client_id for bearer tokens to be checked"
            )
        found.append(
            OidcProvider(name, url, (client_id, *[a for a in extra_audiences if a and a != client_id]))
        )
    return tuple(found)


class _Issuer:
    """One provider's discovery document and keys, fetched lazily and cached."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._fetched = 0.0
        self.issuer = ""
        self._keys: jwt.PyJWKClient | None = None

    def refresh(self) -> None:
        with self._lock:
            if self._keys is not None and time.monotonic() - self._fetched < DISCOVERY_TTL_S:
                return
            try:
                with urllib.request.urlopen(self.provider.metadata_url, timeout=10) as response:
                    meta = json.loads(response.read())
            except (OSError, ValueError) as exc:
                raise AuthError(
                    f"cannot check sign-in tokens: the identity provider's discovery document "
                    f"({self.provider.metadata_url}) could not be read: {exc}"
                ) from exc
            issuer, jwks_uri = str(meta.get("issuer") or ""), str(meta.get("jwks_uri") or "")
            if not issuer or not jwks_uri:
                raise AuthError(
                    f"the discovery document at {self.provider.metadata_url} names no issuer or jwks_uri"
                )
            self.issuer = issuer
            self._keys = jwt.PyJWKClient(jwks_uri, cache_jwk_set=True, lifespan=300, timeout=10)
            self._fetched = time.monotonic()

    def decode(self, token: str) -> dict[str, Any]:
        self.refresh()
        assert self._keys is not None
        try:
            if jwt.get_unverified_header(token).get("kid"):
                keys = [self._keys.get_signing_key_from_jwt(token)]
            else:  # a provider that names no key id (some do): each of its signing keys may have signed it
                keys = self._keys.get_signing_keys()
            for key in keys[:-1]:
                try:
                    return self._checked(token, key)
                except jwt.InvalidSignatureError:
                    continue
            return self._checked(token, keys[-1])
        except jwt.ExpiredSignatureError:
            raise AuthError("the sign-in token has expired; sign in again") from None
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError(
                f"cannot check sign-in tokens: the provider's keys could not be read: {exc}"
            ) from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"the sign-in token is not valid here: {exc}") from None

    def _checked(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=list(self.provider.audiences),
            issuer=self.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return claims


class OidcVerifier:
    """Checks bearer JWTs against every configured provider; the first that accepts one wins."""

    def __init__(self, providers: Sequence[OidcProvider]) -> None:
        self._issuers = [_Issuer(p) for p in providers]

    @property
    def enabled(self) -> bool:
        return bool(self._issuers)

    def authorization_server(self) -> str | None:
        """The issuer of the first provider, exactly as its discovery document names it: where
        an OAuth client (an MCP client) gets tokens this server accepts. None without providers.

        Raises:
            AuthError: the provider's discovery document cannot be read.
        """
        if not self._issuers:
            return None
        first = self._issuers[0]
        first.refresh()
        return first.issuer

    def claims(self, token: str) -> tuple[str, dict[str, Any]]:
        """The name of the provider that issued `token` ("" for the default) and its verified claims.

        Raises:
            AuthError: no provider is configured, or none accepts the token.
        """
        if not self._issuers:
            raise AuthError("this server accepts API tokens only (no identity provider is configured)")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("the bearer token is neither a searchapp API token nor a JWT") from None
        iss = unverified.get("iss")
        last: AuthError | None = None
        for issuer in self._issuers:
            try:
                issuer.refresh()
            except AuthError as exc:
                last = exc
                continue
            if iss == issuer.issuer:
                return issuer.provider.name, issuer.decode(token)
        raise last or AuthError("the sign-in token was issued by a provider this server does not trust")
