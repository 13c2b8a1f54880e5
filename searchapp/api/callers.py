"""Who is calling: a `Caller` is what every door (HTTP API, MCP) checks before it acts.

A caller is bound to one collection (its team's) and holds one role:

    read   search, similar, compare, passages, documents, originals, jobs, stats
    write  read, plus upload, retag, regroup and delete
    admin  write, plus the collection's API tokens (create, list, revoke)

and a `visibility` inside the collection (`searchapp.access.visibility`): None sees every
document (the local operator, an admin token, a teams entry marked admin), else the
caller's groups (a token's groups, or the OIDC groups claim plus its teams entry's), and
a document restricted to groups is visible only to a caller sharing one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from searchapp.access import Visibility

Role = Literal["read", "write", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Via = Literal["token", "oidc", "operator"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: its collection, role and visibility, and how it proved who it is.

    `subject` names it in logs and in the jobs it starts (``token:<id>``,
    ``oidc:<provider>:<issuer>#<sub>``, ``operator``); rate limits count by it.
    """

    collection: str
    role: Role
    subject: str
    via: Via
    visibility: Visibility = frozenset()
    email: str = field(default="", compare=False)

    def may(self, role: Role) -> bool:
        """True when this caller's role includes `role`."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def rate_key(self) -> str:
        return self.subject

    @property
    def groups(self) -> tuple[str, ...]:
        """The caller's groups, sorted (empty for one who sees everything)."""
        return tuple(sorted(self.visibility or ()))

    @property
    def sees_everything(self) -> bool:
        return self.visibility is None
