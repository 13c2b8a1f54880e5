"""Who a caller is: an `Identity` read from OpenID Connect claims, compared exactly.

An identity is the provider that vouched for it (the name of its `[auth]` section:
``default`` for a provider configured directly in `[auth]`, else ``[auth.NAME]``'s
NAME), the token's issuer and subject, its e-mail address, whether the provider
verified that address, and its groups (the ``groups`` claim). Two identities are equal
only when all of these are; the provider is part of who someone is.

E-mail addresses are compared in one normal form (`normalize_email`):

- the domain case-insensitively, as DNS does: IDNA 2008 with UTS 46 mapping, written
  as its ASCII (``xn--``) form, so ``Bücher.example`` and ``xn--bcher-kva.example`` are
  one domain;
- the local part with ASCII letters lower-cased and nothing else folded: no Unicode case
  folding, and canonical composition (NFC) only where it turns no non-ASCII character
  into an ASCII one.

No mapping may turn a non-ASCII character into an ASCII one: ``str.lower()`` maps the
Kelvin sign (U+212A) to ``k`` and NFC maps it to ``K``, which would put
``\\u212aarl@example.com`` in ``karl@example.com``'s team. Such a local part keeps its
code points (and matches only an entry written with them); such a domain is no domain.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import idna

DEFAULT_PROVIDER = "default"  # Streamlit's name for the provider configured directly in [auth]
MAX_GROUPS = 200
MAX_GROUP_CHARS = 200
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _becomes_ascii(text: str, mapping: Callable[[str], str]) -> bool:
    """True when `mapping` turns some non-ASCII character of `text` into ASCII (or nothing)."""
    for char in text:
        if char.isascii():
            continue
        try:
            mapped = mapping(char)
        except (idna.IDNAError, UnicodeError):
            continue  # refused later, where the whole text is mapped
        if mapped.isascii():
            return True
    return False


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _uts46(text: str) -> str:
    return str(idna.uts46_remap(text, std3_rules=True, transitional=False))


def _has_control(text: str) -> bool:
    return any(c.isspace() or unicodedata.category(c)[0] in "CZ" for c in text)


def normalize_local(local: str) -> str:
    """The local part in its compared form (see the module docstring)."""
    # NFC would make some non-ASCII characters ASCII (U+212A -> K): such a part keeps its code points.
    composed = local if _becomes_ascii(local, _nfc) else _nfc(local)
    return composed.translate(_ASCII_LOWER)


def normalize_domain(domain: str) -> str | None:
    """The domain as lower-case ASCII (IDNA A-labels); None when it is not a valid domain."""
    text = domain.translate(_ASCII_LOWER)
    if not text or text.startswith(".") or text.endswith(".") or ".." in text or _has_control(text):
        return None
    labels: list[str] = []
    for label in text.split("."):
        if label.isascii():
            if label.startswith("xn--"):
                try:  # a written A-label must be a valid one
                    idna.decode(label)
                except idna.IDNAError:
                    return None
            if not all(c.isalnum() or c in "-_" for c in label) or label.startswith("-"):
                return None
            labels.append(label)
            continue
        if _becomes_ascii(label, _uts46):
            return None  # a non-ASCII character maps to an ASCII one (U+212A -> k)
        try:
            mapped = _uts46(label)
        except idna.IDNAError:
            return None
        try:
            labels.append(idna.alabel(mapped).decode("ascii"))
        except (idna.IDNAError, UnicodeError):
            return None
    return ".".join(labels)


def normalize_email(raw: Any) -> str:
    """`raw` in the compared form ``local@domain``; "" when it is not a usable address.

    The last ``@`` splits the address; whitespace, control characters, an empty part or
    an invalid domain make it unusable.
    """
    if not isinstance(raw, str):
        return ""
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or "@" in local or _has_control(local):
        return ""
    normal_domain = normalize_domain(domain)
    if normal_domain is None:
        return ""
    return f"{normalize_local(local)}@{normal_domain}"


def normalize_groups(values: Any, *, what: str = "groups") -> tuple[str, ...]:
    """Group names: text, stripped, without duplicates, in the order given.

    Raises:
        ValueError: a name that is not text, empty, too long or holds control characters.
    """
    if values is None:
        return ()
    items: Iterable[Any] = [values] if isinstance(values, str) else values
    if not isinstance(items, Iterable):
        raise ValueError(f"{what} must be a list of group names; got {values!r}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{what} must be names (text); got {item!r}"[:200])
        name = unicodedata.normalize("NFC", item.strip())
        if not name or len(name) > MAX_GROUP_CHARS or any(unicodedata.category(c)[0] == "C" for c in name):
            raise ValueError(
                f"{what}: a group name is 1-{MAX_GROUP_CHARS} printable characters; got {item!r}"[:200]
            )
        if name not in out:
            out.append(name)
    if len(out) > MAX_GROUPS:
        raise ValueError(f"{what}: at most {MAX_GROUPS} groups; got {len(out)}")
    return tuple(out)


def _claim_groups(value: Any) -> frozenset[str]:
    """The ``groups`` claim as names; unreadable entries are dropped, never guessed."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return frozenset()
    names = (unicodedata.normalize("NFC", v.strip()) for v in value if isinstance(v, str))
    return frozenset(n for n in names if n and len(n) <= MAX_GROUP_CHARS)


def _verified(value: Any) -> bool:
    """Missing or null: the provider does not say, so the address is used. Otherwise only true."""
    if value is None:
        return True
    if isinstance(value, str):  # some providers (AWS Cognito) send "true"/"false" strings
        return value.strip().lower() == "true"
    return value is True


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in caller, as its provider vouched for it (see the module docstring).

    `email` is in compared form ("" when the provider sent none or none that is usable);
    `email_claim` is what the provider sent, for messages only (not compared).
    """

    provider: str
    issuer: str = ""
    subject: str = ""
    email: str = ""
    email_verified: bool = True
    groups: frozenset[str] = frozenset()
    name: str = ""
    email_claim: str = field(default="", compare=False)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, provider: str | None = None) -> Identity:
        """An identity from ID-token claims (``st.user``, or a verified bearer token's claims).

        `provider` defaults to the claims' ``provider`` (Streamlit records which `[auth]`
        section signed the user in), then to ``default``.
        """
        named = provider or claims.get("provider")
        raw_email = claims.get("email")
        name = claims.get("name")
        return cls(
            provider=str(named) if isinstance(named, str) and named else DEFAULT_PROVIDER,
            issuer=str(claims.get("iss") or ""),
            subject=str(claims.get("sub") or ""),
            email=normalize_email(raw_email),
            email_verified=_verified(claims.get("email_verified")),
            groups=_claim_groups(claims.get("groups")),
            name=name if isinstance(name, str) else "",
            email_claim=raw_email.strip() if isinstance(raw_email, str) else "",
        )

    @property
    def key(self) -> str:
        """One string naming this identity: provider, issuer and subject (else the e-mail)."""
        who = self.subject or self.email
        return f"{self.provider}\x1f{self.issuer}\x1f{who}"

    @property
    def label(self) -> str:
        """What to show: the address as sent, else the name, else the subject."""
        return self.email_claim or self.email or self.name or self.subject or "signed in"
