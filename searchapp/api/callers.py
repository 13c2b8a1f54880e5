"""Who is calling: a `Caller` is what every door (HTTP API, MCP) checks before it acts.

A caller is bound to one collection (its team's) and holds one role:

    read   search, similar, compare, passages, documents, originals, jobs, stats
    write  read, plus upload, retag and delete
    admin  write, plus the collection's API tokens (create, list, revoke)

`groups` are the caller's groups inside the collection (from the token or the OIDC
groups claim); `all_groups` is set for the local operator, who sees every document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

Role = Literal["read", "write", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Via = Literal["token", "oidc", "operator"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: its collection, role and groups, and how it proved who it is.

    `subject` names it in logs and in the jobs it starts (``token:<id>``,
    ``oidc:<issuer>#<sub>``, ``operator``); `rate_key` is what rate limits count by.
    """

    collection: str
    role: Role
    subject: str
    via: Via
    groups: tuple[str, ...] = ()
    all_groups: bool = False
    email: str = field(default="", compare=False)

    def may(self, role: Role) -> bool:
        """True when this caller's role includes `role`."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def rate_key(self) -> str:
        return self.subject
