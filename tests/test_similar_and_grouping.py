"""More like this, the similarity of two texts, grouping by document, and the score contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from searchapp import DocumentNotFoundError, EmptyQueryError, Library, SearchFilters
from searchapp.ingest import Ingestor, SourceFile
from searchapp.retrieval.fusion import DENSE_NO_MATCH_BELOW, KEYWORD_NO_MATCH_BELOW
from searchapp.retrieval.grouping import group_by_document, passages_for
from searchapp.retrieval.scoring import Evidence, dense_score, fused_score, keyword_score, weak_match
from searchapp.storage.terms import keyword_tokens
from searchapp.types import Hit
from tests.helpers import make_pdf

TEXTS = {
    "boats.txt": "Sailing boats need a keel, a mast and a good wind to cross the bay.",
    "fruit.md": "# Fruit\n\nApples and pears grow in the orchard behind the farmhouse.",
    "notes.txt": "The harbour master logs every sailing boat that crosses the bay at night.",
}
HARVEST = make_pdf([f"Chapter {n}: the orchard apples harvest notes for week {n}." for n in range(1, 6)])


@pytest.fixture
def filled(hash_library: Library) -> Library:
    files = [SourceFile(name, data=text.encode()) for name, text in TEXTS.items()]
    files.append(SourceFile("harvest.pdf", data=HARVEST, tags=("farm",)))
    with Ingestor(hash_library) as ingestor:
        assert not ingestor.ingest(files).failed
    return hash_library


def _hit(chunk: str, doc: str, rank: int, score: float, cosine: float | None = None) -> Hit:
    return Hit(rank=rank, score=score, chunk_id=chunk, text=chunk, metadata={"doc_id": doc}, cosine=cosine)


# ---------------------------------------------------------------------- grouping


def test_groups_follow_their_best_hit_and_keep_the_others_in_order() -> None:
    hits = [
        _hit("a1", "A", 1, 0.9),
        _hit("b1", "B", 2, 0.8),
        _hit("a2", "A", 3, 0.7),
        _hit("c1", "C", 4, 0.6),
    ]
    groups = group_by_document(hits)
    assert [g.doc_id for g in groups] == ["A", "B", "C"]
    assert [h.chunk_id for h in groups[0].hits] == ["a1", "a2"]
    assert [g.best.score for g in groups] == [0.9, 0.8, 0.6]
    assert [g.doc_id for g in group_by_document(hits, limit=2)] == ["A", "B"]
    assert group_by_document([]) == ()
    assert passages_for(10, 1000) == 50 and passages_for(400, 1000) == 1000


def test_search_grouped_returns_k_documents_with_their_other_passages(filled: Library) -> None:
    response = filled.search("orchard apples harvest", k=2, group=True, mode="keyword")
    assert response.groups is not None and len(response.groups) == 2
    harvest = next(g for g in response.groups if g.best.source == "harvest.pdf")
    assert len(harvest.others) == 4  # all five weeks matched; the best one leads
    assert {h.page for h in harvest.hits} == {1, 2, 3, 4, 5}
    assert [g.best.score for g in response.groups] == sorted(
        (g.best.score for g in response.groups), reverse=True
    )
    assert [h.rank for h in response.hits] == sorted(h.rank for h in response.hits)
    assert {h.chunk_id for h in response.hits} == {h.chunk_id for g in response.groups for h in g.hits}
    data = response.to_dict()
    assert [g["source"] for g in data["groups"]] == [g.best.source for g in response.groups]
    assert "groups" not in filled.search("orchard", k=2).to_dict()


# ------------------------------------------------------------------ more like this


def test_similar_uses_the_stored_vector_and_leaves_the_passage_out(
    filled: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = filled.search("sailing boats keel mast", k=1, mode="dense").hits[0]
    calls: list[str] = []
    original = filled.embedder.embed_query
    monkeypatch.setattr(filled.embedder, "embed_query", lambda text: calls.append(text) or original(text))
    response = filled.similar(seed.chunk_id, k=10, mode="dense")
    assert calls == []  # no re-embedding: the stored vector is the query
    assert seed.chunk_id not in {h.chunk_id for h in response.hits}
    assert response.hits[0].source == "notes.txt"  # shares "sailing", "boat", "bay"
    stored = filled.store.get_chunks(ids=[seed.chunk_id], include_embeddings=True)["embeddings"][0]
    passage = filled.store.get_chunks(ids=[response.hits[0].chunk_id], include_embeddings=True)["embeddings"][
        0
    ]
    assert response.hits[0].cosine == pytest.approx(float(np.dot(stored, passage)), abs=1e-5)
    assert response.query == seed.text


@pytest.mark.parametrize("mode", ["adaptive", "dense", "keyword", "hybrid"])
def test_similar_keeps_the_filters_in_every_mode(filled: Library, mode: str) -> None:
    seed = filled.search("orchard apples", k=1, mode="dense").hits[0]
    only_pdf = SearchFilters(file_types=("pdf",))
    response = filled.similar(seed.chunk_id, k=10, filters=only_pdf, mode=mode)
    assert response.hits and {h.source for h in response.hits} == {"harvest.pdf"}
    assert seed.chunk_id not in {h.chunk_id for h in response.hits}
    assert response.mode == mode


def test_similar_takes_a_short_passage_id_and_names_an_unknown_one(filled: Library) -> None:
    seed = filled.search("orchard", k=1).hits[0]
    short = f"{seed.doc_id[:12]}:{seed.chunk_index}"
    assert filled.passage_id(short) == seed.chunk_id
    assert [h.chunk_id for h in filled.similar(short, k=3).hits] == [
        h.chunk_id for h in filled.similar(seed.chunk_id, k=3).hits
    ]
    with pytest.raises(DocumentNotFoundError, match="no stored passage has the id"):
        filled.similar(seed.doc_id + ":999")


# ------------------------------------------------------------------ compare texts


def test_compare_is_the_cosine_of_the_two_embeddings(filled: Library) -> None:
    a, b = "sailing boats in the bay", "apples in the orchard"
    expected = float(np.dot(filled.embedder.embed_query(a), filled.embedder.embed_query(b)))
    assert filled.compare(a, b) == pytest.approx(expected, abs=1e-6)
    assert filled.compare(a, a) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(EmptyQueryError):
        filled.compare(a, "  ")


# ------------------------------------------------------------------ score contract


def test_score_functions_map_onto_0_to_1() -> None:
    assert dense_score(-0.2) == 0.0 and dense_score(0.42) == 0.42 and dense_score(1.0000001) == 1.0
    assert keyword_score(3.0, 12.0) == 0.25 and keyword_score(5.0, 0.0) == 0.0
    assert fused_score(2 / 61, lists=2, rank_constant=60) == pytest.approx(1.0)
    assert fused_score(1 / 61, lists=2, rank_constant=60) == pytest.approx(0.5)


def test_weak_match_asks_the_right_number_per_mode() -> None:
    def evidence(cos: float, bm25: float, *, readable: float = 1.0, weight: float = 1.0) -> Evidence:
        return Evidence(top_cosine=cos, top_bm25=bm25, ceiling=10.0, readable=readable, weight=weight)

    low, high = DENSE_NO_MATCH_BELOW - 0.01, DENSE_NO_MATCH_BELOW + 0.01
    assert weak_match("dense", evidence(low, 9.0)) and not weak_match("dense", evidence(high, 0.0))
    # The model cannot read the query: its cosine means nothing, however high.
    assert weak_match("dense", evidence(0.9, 9.0, readable=0.1))
    share_low, share_high = 10 * (KEYWORD_NO_MATCH_BELOW - 0.01), 10 * (KEYWORD_NO_MATCH_BELOW + 0.01)
    assert weak_match("keyword", evidence(0.9, share_low)) and not weak_match(
        "keyword", evidence(0.0, share_high)
    )
    # The fused modes ask the list the weights trust more.
    for mode in ("adaptive", "hybrid"):
        assert weak_match(mode, evidence(low, 9.0, weight=0.8))
        assert not weak_match(mode, evidence(0.1, share_high, weight=0.2))
    strong = evidence(0.6, 5.0, weight=0.75)
    assert strong.strength == pytest.approx(0.75 * 0.6 + 0.25 * 0.5)


def test_keyword_scores_are_a_share_of_the_querys_ceiling(filled: Library) -> None:
    hits = filled.search("sailing bay", k=5, mode="keyword").hits
    ceiling = filled.local.keyword_ceiling(keyword_tokens("sailing bay"))
    assert ceiling > 0 and all(0 < h.score <= 1 for h in hits)
    assert [h.score for h in hits] == [pytest.approx((h.keyword_score or 0) / ceiling) for h in hits]
    # A word the corpus lacks adds nothing to the ceiling (no passage could match it), so
    # the same passages keep their scores; a word the corpus has raises it.
    unmatched = filled.search("sailing bay zeppelin", k=5, mode="keyword").hits
    assert [(h.chunk_id, round(h.score, 6)) for h in unmatched] == [
        (h.chunk_id, round(h.score, 6)) for h in hits
    ]
    wider = filled.local.keyword_ceiling(keyword_tokens("sailing bay apples"))
    assert wider > ceiling


def test_a_page_range_notice_names_what_it_leaves_out(filled: Library) -> None:
    response = filled.search("orchard", k=5, filters={"pages": "1-2"})
    assert {h.source for h in response.hits} == {"harvest.pdf"}
    assert response.notices == (
        "The page range leaves out 3 documents without pages (Markdown, text): only PDF passages have "
        "page numbers. Clear the page range to search them too.",
    )
    assert filled.search("orchard", k=5, filters={"pages": "1-2", "tags": ["farm"]}).notices == ()


# ---------------------------------------------------------------------- real model


@pytest.mark.model
def test_real_model_more_like_this_and_compare(real_library: Library, tmp_path: Path) -> None:
    from searchapp.samples import SAMPLE_TAG, sample_paths

    with Ingestor(real_library) as ingestor:
        report = ingestor.ingest([SourceFile(p.name, path=p, tags=(SAMPLE_TAG,)) for p in sample_paths()])
    assert not report.failed
    seed = real_library.search("violin viola violoncello double-bass", k=1, mode="dense").hits[0]
    assert seed.source == "the-modern-orchestra.txt"
    similar = real_library.similar(seed.chunk_id, k=5, mode="dense")
    assert similar.hits[0].source == "the-modern-orchestra.txt"
    assert seed.chunk_id not in {h.chunk_id for h in similar.hits}
    close = real_library.compare("The president may be impeached.", "Removal of the president from office")
    far = real_library.compare("The president may be impeached.", "A recipe for chocolate cake")
    assert close > 0.5 > 0.2 > far
    off_topic = real_library.search("recipe for chocolate cake", k=5)
    assert off_topic.weak_match
    assert not real_library.search("who has the power to declare war", k=5).weak_match
