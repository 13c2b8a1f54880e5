"""'Compare two texts': how similar two pieces of text are, on the search score scale."""

from __future__ import annotations

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.library.view import LibraryView
from searchapp.retrieval.scoring import dense_score
from searchapp.ui.feedback import show_error
from searchapp.ui.render import format_score

RESULT_KEY = "compare_result"


def compare_panel(library: LibraryView) -> None:
    with st.expander("Compare two texts", icon=":material/compare_arrows:", key="compare_panel"):
        st.caption(
            "How close in meaning two texts are: the cosine similarity of their embeddings, "
            "shown on the same 0-1 scale as semantic search scores."
        )
        with st.form("compare_form", border=False):
            left, right = st.columns(2)
            text_a = left.text_area("First text", key="compare_a", height=120)
            text_b = right.text_area("Second text", key="compare_b", height=120)
            submitted = st.form_submit_button("Compare", icon=":material/compare_arrows:")
        if submitted:
            try:
                st.session_state[RESULT_KEY] = (text_a, text_b, library.compare(text_a, text_b))
            except SearchAppError as exc:
                st.session_state.pop(RESULT_KEY, None)
                show_error(exc)
                return
        result = st.session_state.get(RESULT_KEY)
        if result is None or result[:2] != (text_a, text_b):
            return
        cosine = float(result[2])
        score = dense_score(cosine)
        st.progress(score, text=f"Similarity {format_score(score)}")
        st.caption(f"Cosine similarity {cosine:.3f} (1: the same meaning; 0 or less: unrelated).")
