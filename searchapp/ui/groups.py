"""Who may see a document, in the UI: its groups shown, and chosen at upload or later.

A caller who sees everything (no sign-in, an admin) types any group names; anyone else
picks from their own groups (and those the document has), because a document may only
be restricted to groups its editor is in (`searchapp.access.visibility`).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from searchapp.access import Visibility
from searchapp.ui.render import parse_tags, tags_label

EVERYONE = "everyone in this library"


def groups_label(groups: Sequence[str]) -> str:
    """Who sees a document, as inert Markdown."""
    return f"groups {tags_label(groups)}" if groups else EVERYONE


def visibility_label(visibility: Visibility) -> str:
    if visibility is None:
        return "every document"
    mine = f" and to your groups ({tags_label(sorted(visibility))})" if visibility else ""
    return f"documents open to everyone{mine}"


def can_choose(visibility: Visibility, current: Sequence[str] = ()) -> bool:
    """Whether this caller has any groups to choose from (for a document with `current`)."""
    return visibility is None or bool(set(visibility) | set(current))


def groups_input(
    label: str, visibility: Visibility, *, current: Sequence[str] = (), key: str, help_text: str
) -> tuple[str, ...] | None:
    """The groups chosen (empty: everyone); None when this caller has none to choose from."""
    if visibility is None:
        text = st.text_input(
            label,
            value=", ".join(current),
            key=key,
            placeholder="e.g. legal, hr (empty: everyone)",
            help=f"{help_text} Comma-separated group names, as your sign-in provider sends them.",
        )
        return parse_tags(text)
    if not can_choose(visibility, current):
        return None
    options = sorted(set(visibility) | set(current))
    chosen = st.multiselect(
        label, options=options, default=list(current), key=key, placeholder="Everyone", help=help_text
    )
    return tuple(chosen)
