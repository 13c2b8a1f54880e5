"""With the real model, the API's search gives exactly the Python API's hits.

The bundled sample documents are ingested and searched in-process first (every mode,
grouped, filtered, with a minimum score, similar passages); then `searchapp serve` opens
the same data directory and answers the same requests: the same passages in the same
order, the same scores (to 1e-5), the weak-match verdict and the dense weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from searchapp import Library, Settings
from searchapp.ingest import ingest_paths
from searchapp.samples import SAMPLE_TAG, sample_paths
from tests.api_server import live_api

pytestmark = [pytest.mark.model, pytest.mark.server]

REQUESTS: list[dict[str, Any]] = [
    {"query": "how many senators does each state have", "k": 5},
    {"query": "how many senators does each state have", "k": 5, "mode": "dense"},
    {"query": "brass instruments of the orchestra", "k": 4, "mode": "keyword"},
    {"query": "brass instruments of the orchestra", "k": 4, "mode": "hybrid"},
    {"query": "what is a mathematical proof", "k": 3, "group": True},
    {"query": "the president's veto", "k": 5, "filters": {"file_types": ["pdf"], "pages": "1-3"}},
    {"query": "violins and cellos", "k": 5, "min_score": 0.3, "filters": {"tags": [SAMPLE_TAG]}},
    {"query": "zxqv blorft", "k": 3},
]
FIELDS = ("mode", "k", "weak_match", "dense_weight", "notices", "query_truncated")


def same(api: dict[str, Any], local: dict[str, Any]) -> None:
    assert {k: api[k] for k in FIELDS} == {k: local[k] for k in FIELDS}
    assert [(h["chunk_id"], h["rank"]) for h in api["results"]] == [
        (h["chunk_id"], h["rank"]) for h in local["results"]
    ]
    # Scores to 1e-5: the server reads the keyword index back from disk, summed in another order.
    for ours, theirs in zip(api["results"], local["results"], strict=True):
        assert ours["score"] == pytest.approx(theirs["score"], abs=1e-5)
        assert ours["cosine"] == pytest.approx(theirs["cosine"], abs=1e-5)
    if local.get("groups") is not None:
        assert [g["doc_id"] for g in api["groups"]] == [g["doc_id"] for g in local["groups"]]


def test_the_api_search_matches_the_python_api(tmp_path: Path) -> None:
    env = {
        "SEARCHAPP_MODEL": "all-MiniLM-L6-v2",
        "SEARCHAPP_CHUNK_TOKENS": "200",
        "SEARCHAPP_CHUNK_OVERLAP": "32",
    }
    data_dir = tmp_path / "data"
    settings = Settings.load(environ={}, data_dir=data_dir, workers=1, min_free_mb=1)
    with Library.open(settings) as library:
        report = ingest_paths(library, sample_paths(), tags=[SAMPLE_TAG])
        assert len(report.ingested) == 3
        local = [library.search(**request).to_dict() for request in REQUESTS]
        first = local[0]["results"][0]["chunk_id"]
        local_similar = library.similar(first, k=4).to_dict()
    assert all(r["results"] for r in local[:-1])

    tokens: dict[str, dict[str, object]] = {"reader": {"collection": "documents", "role": "read"}}
    with live_api(tmp_path, tokens, env=env) as live, httpx.Client(timeout=120) as client:
        for request, expected in zip(REQUESTS, local, strict=True):
            answer = client.post(f"{live.api}/search", headers=live.auth("reader"), json=request)
            assert answer.status_code == 200, answer.text
            same(answer.json(), expected)
        similar = client.post(
            f"{live.api}/similar", headers=live.auth("reader"), json={"passage_id": first, "k": 4}
        )
        same(similar.json(), local_similar)
