"""The adaptive default: both lists fused with weights read from the query, scores that agree
with the order, and a "no good match" verdict from the list it trusts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from searchapp import Library
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import SourceFile
from searchapp.request import SearchRequest
from searchapp.retrieval.fusion import dense_weight, fuse, keyword_gap
from tests.conftest import ROOT, make_settings

TEXTS = {
    "orchard.txt": "The orchard apples are picked in autumn and stored in the cold barn.",
    "harbour.txt": "The harbour master logs every sailing boat that crosses the bay at night.",
    "kitchen.txt": "Bake the apples with cinnamon; the kitchen smells of autumn for days.",
    "engine.txt": "The engine of the fishing boat was rebuilt after the storm in the bay.",
    "ledger.txt": "The ledger records every invoice paid by the harbour office in autumn.",
}


@pytest.fixture
def filled(tmp_path: Path) -> Library:
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    library = Library.open(settings)
    with Ingestor(library) as ingestor:
        ingestor.ingest([SourceFile(name, data=text.encode()) for name, text in TEXTS.items()])
    return library


def test_the_default_mode_is_adaptive_and_follows_the_rule(filled: Library) -> None:
    with filled:
        query = "autumn apples boat"
        response = filled.search(query, k=5)
        assert response.mode == "adaptive" and response.dense_weight is not None
        dense = [(h.chunk_id, h.cosine or 0.0) for h in filled.search(query, k=100, mode="dense").hits]
        keyword = [
            (h.chunk_id, h.keyword_score or 0.0) for h in filled.search(query, k=100, mode="keyword").hits
        ]
        prepared = filled.searcher.prepare(SearchRequest(query))
        weight = dense_weight(prepared.readable, keyword_gap([s for _, s in keyword]))
        assert response.dense_weight == pytest.approx(weight)
        expected = fuse(dense, keyword, weight)[:5]
        assert [h.chunk_id for h in response.hits] == [cid for cid, _ in expected]
        scores = [h.score for h in response.hits]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        # Scores are the fused ones scaled by one number per query: the ratios stay.
        ratios = {round(h.score / fused, 6) for h, (_, fused) in zip(response.hits, expected, strict=True)}
        assert len(ratios) == 1
        for hit in response.hits:
            assert hit.cosine is not None and (hit.dense_rank or hit.keyword_rank)
        assert response.to_dict()["dense_weight"] == round(weight, 4)


def test_a_query_no_passage_shares_a_word_with_leans_on_meaning(filled: Library) -> None:
    with filled:
        response = filled.search("zeppelin xylophone", k=3)
        assert response.dense_weight == pytest.approx(1.0)  # no BM25 list to weigh against
        assert [h.keyword_rank for h in response.hits] == [None, None, None]


@pytest.mark.model
def test_the_model_cannot_read_arabic_so_adaptive_ranks_it_by_keywords(tmp_path: Path) -> None:
    """Real Arabic passages and a real question (XQuAD), beside English ones, with the real model."""
    corpus = [
        json.loads(line)
        for line in (ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-ar" / "corpus.jsonl").open(
            encoding="utf-8"
        )
    ][:12]
    questions = {
        json.loads(line)["_id"]: json.loads(line)["text"]
        for line in (ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-ar" / "queries.jsonl").open(
            encoding="utf-8"
        )
    }
    judged = [
        line.split("\t")
        for line in (ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-ar" / "qrels" / "test.tsv")
        .read_text()
        .splitlines()[1:]
    ]
    doc_ids = {doc["_id"] for doc in corpus}
    query_id, answer_id, _ = next(row for row in judged if row[1] in doc_ids)
    settings = make_settings(tmp_path)
    with Library.open(settings) as library, Ingestor(library) as ingestor:
        files = [SourceFile(f"{d['_id']}.txt", data=d["text"].encode(), external_id=d["_id"]) for d in corpus]
        files += [SourceFile(name, data=text.encode()) for name, text in TEXTS.items()]
        assert len(ingestor.ingest(files).ingested) == len(files)

        arabic = library.search(questions[query_id], k=5)
        assert arabic.dense_weight == pytest.approx(0.0, abs=0.05)  # the model sees single letters
        keyword = library.search(questions[query_id], k=5, mode="keyword")
        matched = len(keyword.hits)
        assert [h.chunk_id for h in arabic.hits[:matched]] == [h.chunk_id for h in keyword.hits]
        assert all(h.score < 0.05 for h in arabic.hits[matched:])  # no shared word: next to nothing
        assert answer_id in [h.metadata.get("external_id") for h in arabic.hits]  # BM25 finds it
        # Dense mode says its answer means nothing here, however high the cosine.
        assert library.search(questions[query_id], k=5, mode="dense").weak_match

        # No word in common with any passage: meaning alone decides, and finds the orchard.
        english = library.search("fruit gathered during the fall", k=3)
        assert english.dense_weight is not None and english.dense_weight > 0.9
        assert english.hits[0].source == "orchard.txt" and not english.weak_match
        # Shared rare words make BM25's best match decisive: the weight moves to keywords.
        worded = library.search("orchard apples picked in autumn", k=3)
        assert worded.dense_weight is not None and worded.dense_weight < english.dense_weight
        assert worded.hits[0].source == "orchard.txt"
        off_topic = library.search("quantum chromodynamics of gluon fields", k=3)
        assert off_topic.weak_match and off_topic.hits[0].score < english.hits[0].score
