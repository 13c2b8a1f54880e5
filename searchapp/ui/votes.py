"""👍/👎 on every result card, and "None of these are right" under the results.

Verdicts go to the library's feedback log (`searchapp.feedback`), under the signed-in user
when there is one (the caller's e-mail, as the teams table matched it). A caller votes only
on passages its view showed it, and reads back only its own verdicts. They never reorder
results: they are what `searchapp tune` and the "no good match" calibration learn from,
after measuring themselves on held-out queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.feedback import FeedbackLog
from searchapp.types import Hit
from searchapp.ui.callers import Caller
from searchapp.ui.feedback import show_error

_THUMBS = {1: "good", 0: "bad"}  # st.feedback("thumbs") gives 1 for 👍 and 0 for 👎


def user_name(caller: Caller) -> str:
    """Who is voting: the signed-in user's e-mail (else name, else subject); "" with sign-in off."""
    identity = caller.membership.identity
    if identity is None:
        return ""
    return identity.email or identity.name or identity.subject


def _token(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()[:12]


def _earlier(caller: Caller, query: str) -> dict[str, str]:
    """This user's verdicts on this query (passage id or "*none*" -> verdict), read once per query."""
    key = f"votes-{_token(query)}"
    if key not in st.session_state:
        try:
            found = FeedbackLog.of(caller.library).for_query(query, user_name(caller))
        except SearchAppError:
            found = {}
        st.session_state[key] = {target: item.verdict for target, item in found.items()}
    value: dict[str, str] = st.session_state[key]
    return value


def feedback_row(hit: Hit, caller: Caller, query: str, mode: str) -> None:
    """👍/👎 for one passage; choosing again replaces the verdict, clearing it takes it back."""
    if not query:
        return
    key = f"vote-{_token(query)}-{hit.chunk_id}"
    if key not in st.session_state:
        earlier = _earlier(caller, query).get(hit.chunk_id)
        st.session_state[key] = {"good": 1, "bad": 0}.get(earlier or "")
    st.feedback("thumbs", key=key, on_change=_voted, args=(key, caller, query, hit, mode))


def _voted(key: str, caller: Caller, query: str, hit: Hit, mode: str) -> None:
    value = st.session_state.get(key)
    log = FeedbackLog.of(caller.library)
    user = user_name(caller)
    try:
        if value is None:
            for item in log.list(query=query):
                if item.chunk_id == hit.chunk_id and item.user == user:
                    log.remove(item.feedback_id)
            st.toast("Verdict taken back.")
        else:
            log.add(query, _THUMBS[int(value)], hit=hit, mode=mode, user=user)
            st.toast("Thanks: kept with the library to tune it. Results are not reordered by it.")
    except SearchAppError as exc:
        show_error(exc)
    st.session_state.pop(f"votes-{_token(query)}", None)


def none_of_these(query: str, hits: Sequence[Hit], caller: Caller, mode: str) -> None:
    """The button under the results, and what it recorded."""
    if not query or not hits:
        return
    recorded = _earlier(caller, query).get("*none*") == "none"
    if recorded:
        st.caption("You said none of these passages answers this query; it is kept to tune the library.")
        return
    if st.button(
        "None of these are right",
        key=f"none-{_token(query)}",
        icon=":material/thumb_down_off_alt:",
        help="Tells the library that it has no good answer for this query (for tuning and for the "
        "'no good match' notice). Results are not reordered by it.",
    ):
        try:
            FeedbackLog.of(caller.library).add(query, "none", shown=hits, mode=mode, user=user_name(caller))
        except SearchAppError as exc:
            show_error(exc)
            return
        st.session_state.pop(f"votes-{_token(query)}", None)
        st.rerun()
