"""The local index: exact filtered search, BM25, hybrid fusion, and staying in step with Chroma."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from searchapp import Library, SearchFilters
from searchapp.ingest import Ingestor, SourceFile
from searchapp.ingest.files import ingest_paths
from searchapp.retrieval.fusion import reciprocal_rank_fusion
from searchapp.storage.keyword_index import KeywordIndex
from searchapp.storage.terms import keyword_tokens
from tests.conftest import make_settings, write
from tests.helpers import make_pdf

WORDS = [
    "river",
    "mountain",
    "invoice",
    "payroll",
    "rocket",
    "orbit",
    "apple",
    "harvest",
    "keel",
    "mast",
    "engine",
    "compiler",
    "trace",
    "loop",
    "contract",
    "refund",
    "policy",
    "laptop",
    "printer",
    "network",
    "server",
    "backup",
    "archive",
    "summer",
    "winter",
    "market",
]


def _corpus(library: Library, n_docs: int = 30, seed: int = 7) -> None:
    rng = random.Random(seed)
    files = []
    for i in range(n_docs):
        kind = ("txt", "md", "pdf")[i % 3]
        tags = tuple(rng.sample(["red", "green", "blue", "gold"], k=rng.randint(0, 2)))
        if kind == "pdf":
            pages = [" ".join(rng.choices(WORDS, k=60)) for _ in range(rng.randint(1, 4))]
            files.append(SourceFile(source=f"doc{i}.pdf", data=make_pdf(pages), tags=tags))
        else:
            text = "\n\n".join(" ".join(rng.choices(WORDS, k=50)) for _ in range(3))
            files.append(SourceFile(source=f"doc{i}.{kind}", data=text.encode(), tags=tags))
    with Ingestor(library) as ingestor:
        report = ingestor.ingest(files)
    assert len(report.ingested) == n_docs


@pytest.fixture(scope="module")
def corpus_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """A read-only library shared by the tests that only search."""
    settings = make_settings(
        tmp_path_factory.mktemp("corpus"), model="hash:64", chunk_tokens=40, chunk_overlap=5
    )
    with Library.open(settings) as library:
        _corpus(library)
        yield library


def _brute_force(library: Library, query: str, filters: SearchFilters, k: int) -> list[tuple[str, float]]:
    """Top-k by exact cosine over everything Chroma holds, filtered in Python."""
    data = library.store.get_chunks(include_embeddings=True)
    vector = library.embedder.embed_query(query)
    scored = [
        (cid, float(np.asarray(emb, dtype=np.float32) @ vector))
        for cid, emb, meta, text in zip(
            data["ids"], data["embeddings"], data["metadatas"], data["documents"], strict=True
        )
        if filters.matches(meta, text)
    ]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:k]


FILTERS = [
    SearchFilters(file_types=("pdf",)),
    SearchFilters(file_types=("txt", "md")),
    SearchFilters(page_min=2, page_max=3),
    SearchFilters(tags=("red", "gold")),
    SearchFilters(text_contains="INVOICE pay"),
    SearchFilters(file_types=("pdf",), tags=("blue",), page_min=1),
]


@pytest.mark.parametrize("filters", FILTERS)
def test_filtered_dense_search_equals_brute_force(corpus_library: Library, filters: SearchFilters) -> None:
    hash_library = corpus_library
    expected = _brute_force(hash_library, "payroll invoice refund", filters, k=10)
    assert expected, "the filter should admit something"
    got = hash_library.search("payroll invoice refund", k=10, filters=filters, mode="dense").hits
    assert [h.chunk_id for h in got] == [cid for cid, _ in expected] or (
        # equal scores may tie-break differently; the scores must still match exactly
        [round(h.cosine or 0, 5) for h in got] == [round(s, 5) for _, s in expected]
    )
    assert [round(h.cosine or 0, 5) for h in got] == [round(s, 5) for _, s in expected]
    assert [h.score for h in got] == [max(0.0, h.cosine or 0) for h in got]
    assert all(filters.matches(h.metadata, h.text) for h in got)


def test_local_and_chroma_filtering_agree(corpus_library: Library) -> None:
    hash_library = corpus_library
    doc = hash_library.document("doc3.txt").doc_id
    filters = SearchFilters(doc_ids=(doc,), file_types=("txt",))
    local = hash_library.search("market summer", k=5, filters=filters, mode="dense").hits
    ids, distances = hash_library.store.query_ids(
        hash_library.embedder.embed_query("market summer"), 5, where=filters.to_where()
    )
    assert [h.chunk_id for h in local] == ids
    assert [round(h.cosine or 0, 5) for h in local] == [round(1 - d, 5) for d in distances]


@pytest.mark.parametrize("mode", ["adaptive", "dense", "keyword", "hybrid"])
@pytest.mark.parametrize("filters", FILTERS)
def test_every_filter_applies_in_every_mode(
    corpus_library: Library, mode: str, filters: SearchFilters
) -> None:
    hits = corpus_library.search("invoice payroll contract engine", k=50, filters=filters, mode=mode).hits
    assert hits
    assert all(filters.matches(h.metadata, h.text) for h in hits)


def test_keyword_mode_ranks_by_bm25_and_carries_the_cosine(hash_library: Library, tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "The zebrafish genome encodes a Hox cluster.")
    write(tmp_path / "b.txt", "Mice and rats are common laboratory animals.")
    write(tmp_path / "c.txt", "Zebrafish zebrafish zebrafish larvae regenerate fins.")
    ingest_paths(hash_library, [tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"])
    hits = hash_library.search("zebrafish", k=5, mode="keyword").hits
    assert [h.source for h in hits] == ["c.txt", "a.txt"]  # b.txt has no matching term
    assert hits[0].keyword_score is not None and hits[0].keyword_score > hits[1].keyword_score  # type: ignore[operator]
    vector = hash_library.embedder.embed_query("zebrafish")
    passage = hash_library.embedder.embed_documents([hits[0].text])[0]
    assert hits[0].cosine == pytest.approx(float(vector @ passage), abs=1e-5)
    assert 1 >= hits[0].score > hits[1].score > 0  # BM25 as a share of the query's ceiling


def test_hybrid_fuses_both_rankings(corpus_library: Library) -> None:
    hash_library = corpus_library
    dense = [h.chunk_id for h in hash_library.search("compiler trace loop", k=100, mode="dense").hits]
    keyword = [h.chunk_id for h in hash_library.search("compiler trace loop", k=100, mode="keyword").hits]
    hits = hash_library.search("compiler trace loop", k=10, mode="hybrid").hits
    ids = sorted(set(dense) | set(keyword))
    expected = reciprocal_rank_fusion([[ids.index(c) for c in dense], [ids.index(c) for c in keyword]])[:10]
    assert [round(h.fused_score or 0, 9) for h in hits] == [round(score, 9) for _, score in expected]
    for hit in hits:
        assert hit.dense_rank == (dense.index(hit.chunk_id) + 1 if hit.chunk_id in dense else None)
        assert hit.keyword_rank == (keyword.index(hit.chunk_id) + 1 if hit.chunk_id in keyword else None)
        assert -1 <= hit.score <= 1
    assert hits[0].to_dict()["fused_score"] == round(hits[0].fused_score or 0, 6)


def test_reciprocal_rank_fusion_by_hand() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2][1] == pytest.approx(1 / 62)


def test_keyword_tokens() -> None:
    assert keyword_tokens("The Running of the Bulls, 2026!") == ["run", "bull", "2026"]
    assert keyword_tokens("東京大学") == ["東京", "京大", "大学"]
    assert keyword_tokens("a") == []


def test_the_index_follows_every_write(hash_library: Library, tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "The quarterly zebrafish report is late.")
    other = write(tmp_path / "b.txt", "Payroll runs on Fridays.")
    ingest_paths(hash_library, [path, other], tags=["x"])
    assert hash_library.local.count == hash_library.store.count_chunks() == 2
    assert [h.source for h in hash_library.search("zebrafish", mode="keyword").hits] == ["a.txt"]
    write(path, "The quarterly narwhal report is late.")
    ingest_paths(hash_library, [path])
    assert hash_library.search("zebrafish", mode="keyword").hits == ()
    assert [h.source for h in hash_library.search("narwhal", mode="keyword").hits] == ["a.txt"]
    hash_library.update_tags(hash_library.document("a.txt").doc_id, ["y"])
    assert [
        h.source for h in hash_library.search("report", mode="keyword", filters={"tags": ["y"]}).hits
    ] == ["a.txt"]
    assert hash_library.search("report", mode="keyword", filters={"tags": ["x"]}).hits == ()
    hash_library.delete("a.txt")
    assert hash_library.search("narwhal", mode="keyword").hits == ()
    assert hash_library.local.count == hash_library.store.count_chunks() == 1


def test_the_index_survives_a_restart_without_rebuilding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        _corpus(library, n_docs=6)
        before = [h.chunk_id for h in library.search("river engine", k=5, mode="hybrid").hits]
        contains = [h.chunk_id for h in library.search("river", k=50, filters={"text_contains": "ER E"}).hits]
    added: list[int] = []
    monkeypatch.setattr(KeywordIndex, "add", lambda self, positions, *a, **k: added.extend(positions))
    with Library.open(settings) as library:
        assert library.sync_local_index(force=True) is False  # matches Chroma: nothing rebuilt
        assert added == []  # BM25 read from its saved segments: no row re-added from its terms
        assert [h.chunk_id for h in library.search("river engine", k=5, mode="hybrid").hits] == before
        assert [
            h.chunk_id for h in library.search("river", k=50, filters={"text_contains": "ER E"}).hits
        ] == contains


def test_reopen_reads_the_saved_columns_unless_they_are_stale_or_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from searchapp.storage import local_columns

    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        _corpus(library, n_docs=6)
        library.delete(library.documents()[0].doc_id)  # a dead row is not saved
        flt = {"file_types": ["pdf"], "text_contains": "river"}
        before = {
            m: [h.chunk_id for h in library.search("river orbit", k=8, mode=m, filters=flt).hits]
            for m in ("dense", "keyword", "hybrid")
        }
        count = library.local.count

    def search_all(library: Library) -> dict[str, list[str]]:
        return {
            m: [h.chunk_id for h in library.search("river orbit", k=8, mode=m, filters=flt).hits]
            for m in before
        }

    appended: list[str] = []
    original_append = local_columns.Columns.append
    monkeypatch.setattr(
        local_columns.Columns,
        "append",
        lambda self, cid, *a: appended.append(cid) or original_append(self, cid, *a),
    )
    with Library.open(settings) as library:
        assert appended == []  # read from columns.bin, no row parsed
        assert library.local.count == count and search_all(library) == before
        ingest_paths(library, [write(tmp_path / "new.txt", "river orbit river")])  # a write after the save
        library.local._generation = "not-saved"  # ... and a crash before the next close saves again
        library.local._save_columns = lambda: None  # type: ignore[method-assign]
    with Library.open(settings) as library:
        assert appended  # stale columns: read from the rows instead
        assert library.local.count == count + 1
        after = search_all(library)
    snapshot = settings.index_dir / "columns.bin"
    data = bytearray(snapshot.read_bytes())
    data[-5] ^= 0xFF  # damage the saved columns
    snapshot.write_bytes(bytes(data))
    appended.clear()
    with Library.open(settings) as library:
        assert appended and search_all(library) == after


def test_an_empty_library_closes_and_reopens(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        assert library.local.count == 0
    with Library.open(settings) as library:
        assert library.search("anything", mode="hybrid", filters={"text_contains": "any"}).hits == ()


def test_a_torn_keyword_segment_is_repaired_from_the_rows(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        _corpus(library, n_docs=8)
        expected = [
            (h.chunk_id, h.keyword_score) for h in library.search("river orbit", k=20, mode="keyword").hits
        ]
    segments = sorted(settings.index_dir.glob("keyword-*/seg-*.bin"), key=lambda p: p.stat().st_size)
    assert segments
    torn = segments[-1]
    torn.write_bytes(torn.read_bytes()[:-100])  # a write cut short
    with Library.open(settings) as library:
        got = [
            (h.chunk_id, h.keyword_score) for h in library.search("river orbit", k=20, mode="keyword").hits
        ]
        assert got == expected


def test_a_crash_between_chroma_and_the_local_index_is_repaired(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        ingest_paths(library, [write(tmp_path / "a.txt", "Payroll runs on Fridays.")])
        # A write that reached Chroma but not the local index (the process died in between):
        library.store.set_generation("crashed-write")
        vector = library.embedder.embed_documents(["a lonely narwhal"])
        library.store.add_chunks(
            ["x:0"], vector, ["a lonely narwhal"], [{"doc_id": "x", "chunk": 0, "source": "x.txt"}]
        )
    with Library.open(settings) as library:
        assert library.local.generation == "crashed-write"
        assert [h.chunk_id for h in library.search("narwhal", mode="keyword").hits] == ["x:0"]
        assert library.local.count == 2
    shutil.rmtree(settings.index_dir)  # a lost or deleted local index is rebuilt too
    with Library.open(settings) as library:
        assert library.local.count == 2
        assert library.search("payroll", mode="keyword").hits[0].source == "a.txt"


@pytest.mark.model
def test_real_model_hybrid_catches_what_each_retriever_misses(
    real_library: Library, shared_pdfs: Path
) -> None:
    ingest_paths(
        real_library, [shared_pdfs / "pdfjs__tracemonkey.pdf", shared_pdfs / "unst__multi-column-2p.pdf"]
    )
    # A rare identifier: keyword search nails it; hybrid keeps it on top.
    keyword = real_library.search("nanojit LIR", k=3, mode="keyword").hits
    assert keyword and all("nanojit" in h.text.lower() or "lir" in h.text.lower() for h in keyword)
    hybrid = real_library.search("nanojit LIR", k=3, mode="hybrid").hits
    assert hybrid[0].chunk_id in {h.chunk_id for h in keyword}
    # A paraphrase with no shared words: dense finds the DPR paper; hybrid keeps it.
    question = "learning vector representations of questions and text to find answers"
    dense = real_library.search(question, k=3, mode="dense").hits
    assert dense[0].source == "unst__multi-column-2p.pdf"
    assert real_library.search(question, k=3, mode="hybrid").hits[0].source == "unst__multi-column-2p.pdf"
    for hit in hybrid:
        assert hit.fused_score is not None and 0 < hit.score <= 1


def _int8_pass_spy(monkeypatch: pytest.MonkeyPatch, *, min_rows: int) -> list[int]:
    """Send scans of `min_rows` admitted rows or more through the int8 first pass, and
    record how many rows each such scan admitted."""
    from searchapp.storage import exact_scan
    from searchapp.storage import local_index as li

    monkeypatch.setattr(exact_scan, "MIN_ROWS", min_rows)
    taken: list[int] = []
    original = li.exact_top_k

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        taken.append(len(args[4]))
        return original(*args, **kwargs)

    monkeypatch.setattr(li, "exact_top_k", spy)
    return taken


@pytest.mark.parametrize("file_type", ["pdf", "md"], ids=["broad-filter", "narrow-filter"])
def test_the_int8_first_pass_for_big_collections_is_still_exact(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file_type: str
) -> None:
    """Filters over many rows score int8 codes first; the answer must equal brute force,
    also after writes that add rows the int8 copy has not seen yet."""
    from searchapp.storage import local_index as li

    taken = _int8_pass_spy(monkeypatch, min_rows=100)
    rng = np.random.default_rng(3)
    base = rng.standard_normal((300, 64)).astype(np.float32)
    # Near-duplicates make near-ties, the hard case for a lossy first pass.
    vectors = np.concatenate([base, base + 1e-3 * rng.standard_normal(base.shape).astype(np.float32)] * 3)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[::5] *= 2.5  # not unit length: the bound must not assume it
    index = li.LocalIndex(tmp_path / "idx", dimension=64, mirror_vectors=True)
    adds = [
        (
            f"d{i % 7}:{i}",
            "text",
            {"doc_id": f"d{i % 7}", "file_type": "pdf" if i % 3 else "md", "page": 1 + i % 9},
            vectors[i],
            "text",
        )
        for i in range(len(vectors))
    ]
    # Queries, then writes that pass the first capacity (1024 rows), then queries again.
    for start, written in ((0, 600), (600, len(vectors))):
        index.apply(generation=f"g{written}", add=adds[start:written])
        mask = index.mask(SearchFilters(file_types=(file_type,)))
        admitted = np.flatnonzero(mask[:written])
        for _ in range(100):
            query = rng.standard_normal(64).astype(np.float32)
            query /= np.linalg.norm(query)
            positions, scores = index.dense_search(query, 10, mask)
            exact = vectors[admitted] @ query
            expected = admitted[np.argsort(-exact, kind="stable")[:10]]
            assert np.allclose(scores, vectors[expected] @ query, atol=1e-6)
            assert set(positions) == set(expected) or np.allclose(
                np.sort(scores), np.sort(vectors[positions] @ query)
            )
    assert taken and set(taken) == {len(np.flatnonzero(mask[:600])), len(admitted)}
    index.close()


def test_the_int8_error_bound_holds_for_hard_vectors() -> None:
    """|kernel score - exact score| <= |q| * bound for spiky, tiny, long, short and zero rows,
    and a query along a row's quantisation error comes close to its bound (it is tight)."""
    from searchapp.storage import int8_kernels
    from searchapp.storage.exact_scan import quantize

    rng = np.random.default_rng(11)
    for trial in range(6):
        x = rng.standard_normal((4000, 384))
        if trial % 2:
            x[:, :4] *= 50  # a few dominant components: coarse steps for the rest
        x[:, 300:] *= 1e-6  # tiny components
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x *= rng.choice([0.01, 1.0, 3.0], size=(len(x), 1))
        x[0] = 0.0
        x = x.astype(np.float32)
        rows, bounds = quantize(x)
        worst_case = (rows.codes[trial + 1] * np.float64(rows.scales[trial + 1])) - x[trial + 1]
        for q in (x[trial + 1] + 1e-3 * rng.standard_normal(384), worst_case / np.linalg.norm(worst_case)):
            q32 = q.astype(np.float32)
            out = np.empty(len(x), dtype=np.float32)
            int8_kernels.scores(rows.codes, rows.scales, q32, np.arange(len(x)), out)
            error = np.abs(out - x.astype(np.float64) @ q32.astype(np.float64))
            bound = bounds * np.linalg.norm(q32.astype(np.float64))
            assert (error <= bound).all(), float((error - bound).max())
        assert error[trial + 1] > 0.99 * bound[trial + 1]  # the worst case reaches the bound
        assert rows.max_bound == float(bounds.max())


@pytest.mark.model
def test_real_model_filtered_search_through_the_int8_pass_equals_brute_force(
    monkeypatch: pytest.MonkeyPatch, real_library: Library, shared_pdfs: Path
) -> None:
    ingest_paths(
        real_library, [shared_pdfs / "pdfjs__tracemonkey.pdf", shared_pdfs / "unst__multi-column-2p.pdf"]
    )
    taken = _int8_pass_spy(monkeypatch, min_rows=20)  # these few rows take the big collections' path
    queries = ["trace trees for nested loops", "dense passage retrieval", "type specialization", "memory"]
    for filters in (SearchFilters(file_types=("pdf",)), SearchFilters(page_min=2, page_max=9)):
        for query in queries:
            expected = _brute_force(real_library, query, filters, k=5)
            got = real_library.search(query, k=5, filters=filters, mode="dense").hits
            # float32 dot products: the summation order (and so the last digit) differs by CPU
            assert [h.score for h in got] == pytest.approx([s for _, s in expected], abs=1e-5)
            assert {h.chunk_id for h in got} == {cid for cid, _ in expected}
    assert len(taken) == 8 and min(taken) >= 20


def test_an_unfiltered_dense_query_is_scored_exactly_not_by_hnsw(
    hash_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma's HNSW missed 63 of 500 true top-10 passages in a library full of near copies
    (docs/benchmarks.md); a local library scores every passage instead, as a filter would."""
    from searchapp.storage import chunk_index

    files = [
        SourceFile(f"copy{i}.txt", data=f"Quarterly report {i}, page {i % 7} of the same template.".encode())
        for i in range(300)
    ]
    files.append(
        SourceFile("refunds.txt", data=b"Customer refunds are processed by the finance team in 14 days.")
    )
    with Ingestor(hash_library) as ingestor:
        ingestor.ingest(files)
    asked: list[int] = []
    original = hash_library.store.query_ids
    monkeypatch.setattr(
        hash_library.store, "query_ids", lambda *a, **kw: asked.append(1) or original(*a, **kw)
    )
    stored = hash_library.store.get_chunks(include_embeddings=True)
    vectors = np.asarray(stored["embeddings"], dtype=np.float32)
    for query in ("customer refunds processed by finance", "quarterly report template page 3"):
        vector = hash_library.embedder.embed_documents([query])[0]
        brute = np.sort(vectors @ vector)[::-1][:10]
        hits = hash_library.search(query, k=10, mode="dense").hits
        assert np.allclose([hit.cosine for hit in hits], brute, atol=1e-5)  # the true top 10 (ties aside)
    assert (
        hash_library.search("customer refunds processed by finance", k=1, mode="dense").hits[0].source
        == "refunds.txt"
    )
    assert asked == []  # no unfiltered query went to HNSW
    monkeypatch.setattr(chunk_index, "EXACT_UNFILTERED_ROWS", 100)  # a library past the bound
    hash_library.search("how fast are refunds paid", k=10, mode="dense")
    assert asked  # HNSW answers there
