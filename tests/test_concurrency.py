"""8 query threads and 1 ingest thread share one library for 60 s (the UI's situation).

Every query, in every mode (adaptive, the default, included), must keep its filters and
number its hits; at the end the library must hold exactly what ingest acknowledged (each
file's chunk count as its outcome reported it, nothing of a deleted one), and a search
must find only those documents.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from searchapp import Library, SearchFilters
from searchapp.health import check_library
from searchapp.ingest import Ingestor, SourceFile
from tests.conftest import sized

DURATION_S = float(sized(ci=15, full=60))
QUERY_THREADS = 8
WORDS = "invoice refund contract payroll laptop printer network backup audit travel budget policy".split()
QUERIES = [
    "when are invoices due",
    "refund policy for laptops",
    "network backup schedule",
    "travel budget audit",
]


def _document(rng: random.Random, n: int) -> SourceFile:
    text = f"# Note {n}\n\n" + "\n\n".join(" ".join(rng.choices(WORDS, k=45)) for _ in range(3))
    return SourceFile(source=f"note{n}.md", data=text.encode(), tags=(rng.choice(["red", "blue"]),))


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_queries_and_ingest_in_parallel(real_library: Library, tmp_path: Path) -> None:
    library = real_library
    rng = random.Random(11)
    with Ingestor(library, workers=1) as ingestor:
        initial = ingestor.ingest([_document(rng, n) for n in range(10)])
        errors: list[str] = []
        queries = [0] * QUERY_THREADS
        expected = {o.source: o.chunks for o in initial.ingested}  # source -> chunks, as ingest acknowledged
        assert len(expected) == 10
        deadline = time.monotonic() + DURATION_S

        def ingest_loop() -> None:
            n = 10
            while time.monotonic() < deadline:
                try:
                    report = ingestor.ingest(
                        [_document(rng, n), _document(rng, rng.randrange(n))]
                    )  # new + edit
                    for outcome in report.outcomes:
                        if outcome.status == "failed":
                            errors.append(f"ingest {outcome.source}: {outcome.message}")
                        elif outcome.status == "ingested":
                            expected[outcome.source] = outcome.chunks
                    if n % 7 == 0:
                        library.delete(f"note{n}.md")
                        expected.pop(f"note{n}.md")
                    n += 1
                except Exception as exc:
                    errors.append(f"ingest: {type(exc).__name__}: {exc}")

        def query_loop(slot: int) -> None:
            local = random.Random(slot)
            while time.monotonic() < deadline:
                mode = local.choice(["adaptive", "dense", "keyword", "hybrid"])
                filters = local.choice(
                    [
                        SearchFilters(),
                        SearchFilters(tags=("red",)),
                        SearchFilters(file_types=("md",), text_contains="audit"),
                    ]
                )
                try:
                    response = library.search(local.choice(QUERIES), k=5, filters=filters, mode=mode)
                    ranks = [hit.rank for hit in response.hits]
                    assert ranks == list(range(1, len(ranks) + 1))
                    assert response.mode == mode and all(0.0 <= hit.score <= 1.0 for hit in response.hits)
                    assert all(filters.matches(hit.metadata, hit.text) for hit in response.hits)
                    queries[slot] += 1
                except Exception as exc:
                    errors.append(f"query ({mode}): {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=ingest_loop)] + [
            threading.Thread(target=query_loop, args=(slot,)) for slot in range(QUERY_THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DURATION_S + 120)
    assert not errors, errors[:5]
    assert not any(thread.is_alive() for thread in threads)
    records = library.documents(include_pending=True)
    assert all(r.state == "done" for r in records)
    assert {r.source: r.chunks for r in records} == expected  # what ingest acknowledged, no more
    assert library.store.count_chunks() == library.local.count == sum(expected.values())
    for mode in ("adaptive", "dense", "keyword", "hybrid"):
        found = {hit.source for hit in library.search("invoice refund audit", k=50, mode=mode).hits}
        assert found and found <= set(expected), (mode, found - set(expected))
    assert check_library(library).ok
    print(f"{sum(queries)} queries and {len(records)} documents in {DURATION_S:.0f} s, no errors")
    assert sum(queries) > 100
