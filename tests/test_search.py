"""Retrieval: ranking, honest scores, every filter kind, query validation; real model included."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from searchapp import EmptyQueryError, InvalidFilterError, Library, QueryError, SearchFilters
from searchapp.ingest import Ingestor, SourceFile
from searchapp.ingest.files import ingest_paths
from searchapp.storage.terms import keyword_tokens
from tests.conftest import write
from tests.helpers import make_pdf

DOCS = {
    "fruit.md": "# Fruit\n\nApples and pears grow in the orchard behind the farmhouse.",
    "boats.txt": "Sailing boats need a keel, a mast and a good wind to cross the bay.",
    "space.html": "<html><head><title>Space</title></head><body><h1>Rockets</h1>"
    "<p>Rockets carry satellites into orbit around the earth.</p></body></html>",
}


@pytest.fixture
def filled(hash_library: Library, tmp_path: Path) -> Library:
    paths = [write(tmp_path / "docs" / name, text) for name, text in DOCS.items()]
    ingest_paths(hash_library, paths[:2], tags=["nature"])
    ingest_paths(hash_library, paths[2:], tags=["science"])
    pdf = make_pdf([f"Chapter {n}: the orchard apples harvest notes for week {n}." for n in range(1, 6)])
    with Ingestor(hash_library) as ingestor:
        ingestor.ingest([SourceFile(source="harvest.pdf", data=pdf, tags=("nature", "farm"))])
    return hash_library


@pytest.mark.parametrize("mode", ["adaptive", "dense", "keyword", "hybrid"])
def test_scores_follow_the_ranking_on_0_to_1_with_the_cosine_beside_them(filled: Library, mode: str) -> None:
    response = filled.search("orchard apples", k=3, mode=mode)
    assert response.mode == mode
    assert [hit.rank for hit in response.hits] == [1, 2, 3]
    scores = [hit.score for hit in response.hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    query = filled.embedder.embed_query("orchard apples")
    for hit in response.hits:
        # Every hit carries the real cosine similarity of query and passage vectors.
        passage = filled.embedder.embed_documents([hit.text])[0]
        assert hit.cosine == pytest.approx(float(np.dot(query, passage)), abs=1e-4)
        if mode == "dense":
            assert hit.score == pytest.approx(max(0.0, hit.cosine), abs=1e-6)
        elif mode == "keyword":
            ceiling = filled.local.keyword_ceiling(keyword_tokens("orchard apples"))
            assert hit.keyword_score is not None and hit.score == pytest.approx(hit.keyword_score / ceiling)
        elif mode == "adaptive":  # the weighted fusion, times one strength for the whole response
            top = response.hits[0]
            assert hit.fused_score is not None and top.fused_score is not None
            assert hit.score == pytest.approx(hit.fused_score * top.score / top.fused_score)
            assert 0 < top.score <= top.fused_score <= 1
        else:  # reciprocal rank fusion over 2 lists, divided by its maximum 2/61
            assert hit.fused_score is not None and hit.score == pytest.approx(hit.fused_score / (2 / 61))
    assert response.hits[0].source in {"fruit.md", "harvest.pdf"}


def test_filter_by_document(filled: Library) -> None:
    boats = filled.document("boats.txt").doc_id
    response = filled.search("orchard apples", k=10, filters=SearchFilters(doc_ids=(boats,)))
    assert {hit.source for hit in response.hits} == {"boats.txt"}


def test_filter_by_type(filled: Library) -> None:
    response = filled.search("orchard apples", k=10, filters={"file_types": ["html", "txt"]})
    assert {hit.file_type for hit in response.hits} == {"html", "txt"}


def test_filter_by_page_range(filled: Library) -> None:
    response = filled.search("harvest notes", k=10, filters={"pages": "2-3"})
    assert sorted(hit.page for hit in response.hits) == [2, 3]
    assert all(hit.source == "harvest.pdf" for hit in response.hits)


def test_filter_by_tags_any_of(filled: Library) -> None:
    science = filled.search("orchard", k=10, filters={"tags": ["science"]})
    assert {hit.source for hit in science.hits} == {"space.html"}
    either = filled.search("orchard", k=10, filters={"tags": ["science", "farm"]})
    assert {hit.source for hit in either.hits} == {"space.html", "harvest.pdf"}


def test_filter_by_ingested_date(filled: Library) -> None:
    now = int(time.time())
    assert len(filled.search("orchard", k=20, filters={"ingested_after": now - 3600}).hits) == 8
    assert filled.search("orchard", k=20, filters={"ingested_before": now - 3600}).hits == ()
    assert filled.search(
        "orchard", k=20, filters={"ingested_after": "2000-01-01", "ingested_before": now + 5}
    ).hits


def test_filter_by_text_contains_ignores_case(filled: Library) -> None:
    response = filled.search("orchard apples", k=10, filters={"text_contains": "SATELLITES into"})
    assert [hit.source for hit in response.hits] == ["space.html"]
    assert filled.search("x", k=10, filters={"text_contains": "a.b(c"}).hits == ()


def test_filters_combine(filled: Library) -> None:
    response = filled.search(
        "notes", k=10, filters={"tags": ["farm"], "pages": "4-", "text_contains": "week"}
    )
    assert sorted(hit.page for hit in response.hits) == [4, 5]


def test_min_score_drops_weak_passages(filled: Library) -> None:
    everything = filled.search("sailing boats keel mast", k=10)
    cutoff = everything.hits[0].score - 1e-6
    strong = filled.search("sailing boats keel mast", k=10, min_score=cutoff)
    assert [hit.chunk_id for hit in strong.hits] == [everything.hits[0].chunk_id]


def test_filter_injection_is_an_error_not_a_filter(filled: Library) -> None:
    for raw in ({"documents": {"$ne": "x"}}, {"tags": [{"$in": ["science"]}]}, {"$or": []}, {"page": 1}):
        with pytest.raises(InvalidFilterError):
            filled.search("orchard", k=5, filters=raw)


def test_query_validation(filled: Library) -> None:
    for empty in ("", "   \n\t"):
        with pytest.raises(EmptyQueryError, match="the query is empty"):
            filled.search(empty)
    for bad_k in (0, 1001, -3):
        with pytest.raises(QueryError, match="k must be an integer from 1 to 1000"):
            filled.search("orchard", k=bad_k)
    with pytest.raises(QueryError, match="search mode must be one of"):
        filled.search("orchard", mode="psychic")


def test_over_long_query_is_cut_and_the_user_told(filled: Library) -> None:
    response = filled.search("orchard apples " * 400, k=3)
    assert response.query_truncated
    assert response.notices and "only its first" in response.notices[0]
    assert response.hits
    assert not filled.search("orchard apples", k=3).query_truncated


def test_json_shape_matches_the_library(filled: Library) -> None:
    data = filled.search("orchard apples", k=2).to_dict()
    assert set(data) == {
        "query",
        "mode",
        "k",
        "query_truncated",
        "weak_match",
        "dense_weight",
        "notices",
        "took_ms",
        "results",
        "library_empty",
    }
    first = data["results"][0]
    assert {"rank", "score", "chunk_id", "text", "doc_id", "source", "page", "heading", "metadata"} <= set(
        first
    )


# ------------------------------------------------------------------ real model


@pytest.mark.model
def test_real_model_finds_a_known_pdf_passage_by_paraphrase(real_library: Library, shared_pdfs: Path) -> None:
    report = ingest_paths(
        real_library,
        [
            shared_pdfs / "pdfjs__issue13201.pdf",
            shared_pdfs / "unst__fake-memo.pdf",
            shared_pdfs / "pdfjs__tracemonkey.pdf",
        ],
    )
    assert [o.status for o in report.outcomes] == ["ingested"] * 3
    # Bitcoin paper, abstract: "... we propose a solution to the double-spending problem using a
    # peer-to-peer network." Asked in other words:
    response = real_library.search("how to stop someone from spending the same digital coin twice", k=3)
    passages = [h for h in response.hits if h.source == "pdfjs__issue13201.pdf" and "double-spend" in h.text]
    assert passages, [(h.source, h.text[:80]) for h in response.hits]
    assert passages[0].page == 1 and 0.3 < (passages[0].cosine or 0) <= 1.0 and 0 < passages[0].score <= 1
    # TraceMonkey answers this twice: the introduction ("the system identifies hot (frequently
    # executed) bytecode sequences, records them, and compiles them") and the conclusion
    # ("... recording hot traces and generating type-specialized machine code").
    traces = real_library.search("recording types of variables seen at run time to compile hot loops", k=3)
    answers = ("identifies hot (frequently executed) bytecode sequences", "recording hot traces")
    assert any(a in " ".join(h.text.split()) for h in traces.hits for a in answers), [
        h.text[:80] for h in traces.hits
    ]
    assert traces.hits[0].source == "pdfjs__tracemonkey.pdf"
    # The memo: "There were 20,000 bottles of water, 10,000 blankets ..."; filters on the real model.
    memo = real_library.document("unst__fake-memo.pdf").doc_id
    only_memo = real_library.search("how many bottles of water", k=5, filters={"documents": [memo]})
    assert only_memo.hits and {h.source for h in only_memo.hits} == {"unst__fake-memo.pdf"}
    traces = real_library.search("type specialization of loops in a JIT", k=5, filters={"pages": "1-2"})
    assert traces.hits and all(h.source == "pdfjs__tracemonkey.pdf" and h.page in (1, 2) for h in traces.hits)
    contains = real_library.search("compiler", k=5, filters={"text_contains": "TRACEMONKEY"})
    assert contains.hits and all("tracemonkey" in h.text.lower() for h in contains.hits)
