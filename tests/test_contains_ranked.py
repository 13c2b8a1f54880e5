""" "Text contains" with a needle most chunks hold: ranked first, then checked, same answers.

For a common needle, `ChunkIndex` ranks the rows the other filters admit and checks the
best of them (`searchapp.storage.chunk_index.Selection`). Every mode, with and without
another filter, must return exactly what the index path (the full row list) returns, also
when the needle is rare among the other filter's rows (the fallback) and when fewer rows
than asked for hold it.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from searchapp import Library, SearchFilters
from searchapp.storage import chunk_index
from searchapp.storage.chunk_index import Selection
from searchapp.storage.terms import keyword_tokens
from searchapp.types import PreparedChunk, PreparedDocument

WORDS = "apple pear plum cider orchard harvest volunteer tuesday festival ledger quota river".split()


def fill(library: Library, docs: int = 60, chunks: int = 12) -> None:
    rng = random.Random(7)
    prepared = []
    for d in range(docs):
        texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) for _ in range(chunks)]
        if d % 10 == 0:  # a rare word, in a few chunks of a few documents
            texts[0] += " zebrafish"
        if d % 10 == 3:  # these documents hold no "e" at all
            texts = ["plum", "qu", "cod"] * (chunks // 3)
        prepared.append(
            PreparedDocument(
                doc_id=f"{d:064x}",
                source=f"doc-{d}.md",
                file_type="md" if d % 2 else "txt",
                title="",
                original=f"doc {d}".encode(),
                chunks=tuple(
                    PreparedChunk(text=t, index=i, start=0, tokens=len(t.split()))
                    for i, t in enumerate(texts)
                ),
                vectors=library.embedder.embed_documents(texts),
            )
        )
    library.commit(prepared)


def same_up_to_ties(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """Equal scores in order, and the same ids for every score above the last one (which
    a tie may split either way)."""
    assert [round(s, 5) for _, s in got] == [round(s, 5) for _, s in expected]
    if expected:
        cut = round(expected[-1][1], 5)
        assert {c for c, s in got if round(s, 5) > cut} == {c for c, s in expected if round(s, 5) > cut}


CASES = [
    ("e", {}),  # nearly every chunk
    ("Pl", {}),  # mixed case, a short needle
    ("apple pear", {}),  # a phrase across a space
    ("e", {"file_types": ("md",)}),  # with another filter
    ("e", {"doc_ids": tuple(f"{d:064x}" for d in (3, 13, 23))}),  # documents without it
    ("zebrafish", {}),  # rare: the index path either way
]


@pytest.mark.parametrize(("needle", "other"), CASES)
def test_rank_then_check_equals_the_index_path(
    hash_library: Library, monkeypatch: pytest.MonkeyPatch, needle: str, other: dict[str, object]
) -> None:
    fill(hash_library)
    index = hash_library.searcher.index
    filters = SearchFilters(text_contains=needle, **other)  # type: ignore[arg-type]
    vector = hash_library.embedder.embed_query("apple harvest festival")
    terms = keyword_tokens("apple harvest festival")
    monkeypatch.setattr(chunk_index, "MIN_SHARE", 2.0)  # never: the index path
    full = index.select(filters)
    monkeypatch.setattr(chunk_index, "MIN_SHARE", 0.0)  # always, however many texts
    monkeypatch.setattr(chunk_index, "CHECK_COST", 0)
    ranked = index.select(filters)
    assert ranked.needle == needle and full.needle == ""
    for k in (1, 5, 50, 400):
        same_up_to_ties(index.dense(vector, k, ranked), index.dense(vector, k, full))
        same_up_to_ties(index.keyword(terms, k, ranked), index.keyword(terms, k, full))
    for mode in ("dense", "keyword", "hybrid", "adaptive"):
        hits = hash_library.search("apple harvest", k=30, mode=mode, filters=filters).hits
        assert all(needle.casefold() in hit.text.casefold() for hit in hits)
        assert len(hits) == min(30, int(np.count_nonzero(full.mask))) or mode != "dense"


def test_a_common_needle_takes_the_ranked_path_and_a_rare_one_the_index(hash_library: Library) -> None:
    fill(hash_library)
    index = hash_library.searcher.index
    common = index.select(SearchFilters(text_contains="e"))
    rare = index.select(SearchFilters(text_contains="zebrafish"))
    assert common.needle == "e" and common.share > 0.5
    assert common.mask is not None and int(np.count_nonzero(common.mask)) == hash_library.local.count
    assert rare.needle == "" and rare.mask is not None
    assert int(np.count_nonzero(rare.mask)) == 6


def test_a_needle_far_rarer_than_its_estimate_falls_back_to_the_index(hash_library: Library) -> None:
    # Estimated in every row but held by 6 of 720: three rounds of ranking and checking
    # do not find k rows, and the trigram index answers instead, exactly.
    fill(hash_library)
    index = hash_library.searcher.index
    filters = SearchFilters(text_contains="zebrafish")
    full = index.select(filters)
    wrong = Selection(filters, hash_library.local.mask(filters, contains=False), "zebrafish", share=1.0)
    vector = hash_library.embedder.embed_query("apple zebrafish")
    for k in (1, 10):
        same_up_to_ties(index.dense(vector, k, wrong), index.dense(vector, k, full))
        same_up_to_ties(index.keyword(["zebrafish"], k, wrong), index.keyword(["zebrafish"], k, full))
    assert len(index.dense(vector, 10, wrong)) == int(np.count_nonzero(full.mask)) == 6
