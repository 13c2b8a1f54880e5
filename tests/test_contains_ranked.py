""" "Text contains" and phrases most chunks hold: ranked first, then checked, same answers.

For a common needle, `ChunkIndex.candidates` ranks the rows the other filters, phrases and
exclusions admit and checks the best of them (`searchapp.storage.contains_ranked`). Every
mode, with and without another filter, a phrase or an exclusion from the query syntax,
must return exactly what the index path (the full row list) returns, also when the needle
is rare among the other filter's rows (the fallback), when fewer rows than asked for hold
it, for the document count a grouped request needs, and for a caller who sees only some
groups (`SearchFilters.visible_to`: hidden rows are never among those ranked).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from searchapp import Library, SearchFilters
from searchapp.request import SEARCH_MODES, SearchRequest
from searchapp.storage import contains_index, contains_ranked
from searchapp.storage.chunk_index import Candidates
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
                groups=("hr",) if d % 4 == 1 else (),  # hidden from callers outside "hr"
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


def candidates(library: Library, request: SearchRequest, depth: int) -> Candidates:
    query = library.searcher.prepare(request)
    return library.searcher.index.candidates(request, query, depth)


CASES = [
    ("apple harvest festival", {"text_contains": "e"}),  # nearly every chunk
    ("apple harvest festival", {"text_contains": "Pl"}),  # mixed case, a short needle
    ("apple harvest festival", {"text_contains": "apple pear"}),  # across a space
    ("apple harvest festival", {"text_contains": "e", "file_types": ("md",)}),  # another filter
    ("apple harvest festival", {"text_contains": "e", "doc_ids": tuple(f"{d:064x}" for d in (3, 13, 23))}),
    ('apple "an" harvest', {}),  # a phrase of the query syntax
    ('apple "an" harvest -cider', {"text_contains": "e"}),  # two needles and an exclusion
    ('apple harvest -"plum"', {"text_contains": "r"}),  # an excluded phrase
    ("apple zebrafish", {"text_contains": "zebrafish"}),  # rare: the index path either way
    ("apple harvest festival", {"text_contains": "e", "visible_to": ()}),  # a caller in no group
    ('apple "an" harvest', {"visible_to": ("hr",)}),  # the caller's groups and a phrase
]


@pytest.mark.parametrize(("text", "filters"), CASES)
def test_rank_then_check_equals_the_index_path(
    hash_library: Library, monkeypatch: pytest.MonkeyPatch, text: str, filters: dict[str, object]
) -> None:
    fill(hash_library)
    for mode in SEARCH_MODES:
        for k in (1, 5, 50, 400):
            for group in (False, True):
                request = SearchRequest(text, k=k, mode=mode, filters=SearchFilters(**filters), group=group)  # type: ignore[arg-type]
                monkeypatch.setattr(contains_ranked, "MIN_SHARE", 2.0)  # never: the index path
                full = candidates(hash_library, request, k)
                monkeypatch.setattr(contains_ranked, "MIN_SHARE", 0.0)  # always, however many texts
                monkeypatch.setattr(contains_ranked, "CHECK_COST", 0)
                ranked = candidates(hash_library, request, k)
                same_up_to_ties(ranked.dense, full.dense)
                same_up_to_ties(ranked.keyword, full.keyword)
                assert ranked.ceiling == full.ceiling
                # Grouped: the same count, or at least k documents (all the searcher asks).
                assert ranked.documents == full.documents or min(ranked.documents, full.documents) >= k
    for mode in SEARCH_MODES:
        request = SearchRequest(text, k=30, mode=mode, filters=SearchFilters(**filters))  # type: ignore[arg-type]
        monkeypatch.setattr(contains_ranked, "MIN_SHARE", 2.0)
        admitted = len(candidates(hash_library, request, 1000).dense)  # the index path's every row
        monkeypatch.setattr(contains_ranked, "MIN_SHARE", 0.0)
        hits = hash_library.find(request).hits
        needles = [str(filters.get("text_contains", "")), *request.parsed.phrases]
        assert all(n.casefold() in h.text.casefold() for h in hits for n in needles)
        if '-"plum"' in text:
            assert not any("plum" in h.text.casefold() for h in hits)
        if filters.get("visible_to") == ():  # restricted documents are not there for it
            assert hits and not any(int(h.doc_id, 16) % 4 == 1 for h in hits)
        if mode == "dense":  # an exact scan returns k when k pass
            assert len(hits) == min(30, admitted)


def test_a_common_needle_is_checked_on_ranked_rows_and_never_listed(
    hash_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(hash_library)
    local = hash_library.local
    assert contains_ranked.common(local, ["e", "zebrafish", "E"]) == ("e", "E")
    assert local.contains_share(["e"]) > 0.5 and local.contains_share(["zebrafish"]) < 0.01
    listed: list[str] = []
    original = contains_index.ContainsIndex.rows_containing

    def spy(self: contains_index.ContainsIndex, needle: str, within: object = None) -> object:
        listed.append(needle)
        return original(self, needle, within)  # type: ignore[arg-type]

    monkeypatch.setattr(contains_index.ContainsIndex, "rows_containing", spy)
    # At 720 rows the index lists a needle's rows about as fast as texts are checked; the
    # measured cost (CHECK_COST) sends only large collections down the ranked path.
    monkeypatch.setattr(contains_ranked, "CHECK_COST", 1)
    for mode in SEARCH_MODES:
        hits = hash_library.find(SearchRequest('apple "e" harvest', k=10, mode=mode)).hits
        assert len(hits) == 10 and all("e" in h.text for h in hits)
    assert listed == []
    hits = hash_library.find(SearchRequest('apple "zebrafish"', k=10, mode="dense")).hits
    assert len(hits) == 6 and listed == ["zebrafish"]


def test_a_needle_far_rarer_than_its_estimate_falls_back_to_the_index(
    hash_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Estimated in every row but held by 6 of 720: the rounds of ranking and checking do
    # not find k rows, and the trigram index answers instead, exactly; or the last round
    # has checked every row, which is exact too.
    fill(hash_library)
    local = hash_library.local
    vector = hash_library.embedder.embed_query("apple zebrafish")
    exact = local.mask(SearchFilters(text_contains="zebrafish"))
    asked: list[tuple[int, bool]] = []  # (n, ranked among every row)

    def ranked(n: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        asked.append((n, rows is None))
        return local.dense_search(vector, n, local.mask(SearchFilters()) if rows is None else rows)

    for rounds, k in ((3, 1), (3, 10), (1, 10)):
        monkeypatch.setattr(contains_ranked, "ROUNDS", rounds)
        asked.clear()
        check = contains_ranked.Check(local, ("zebrafish",), None)
        check.share, check.listed = 1.0, float("inf")
        positions, scores = check.top(ranked, k)
        expected, expected_scores = local.dense_search(vector, k, exact)
        assert sorted(positions.tolist()) == sorted(expected.tolist())
        assert np.allclose(np.sort(scores), np.sort(expected_scores))
        assert check.documents(k) >= min(k, 6)
    # One round of 47 rows finds fewer than 10: the index lists the rare word's 6 rows,
    # and its six documents are counted exactly.
    assert asked == [(47, True), (10, False)] and len(positions) == 6
    assert check.documents(10) == 6
