"""Per-query candidate lists of both retrievers, cached once, for the fusion study.

For every query of a BEIR set (and for off-topic queries borrowed from other sets), run
through the real scratch index that `searchapp eval` builds (`prepare_index`):

- the dense list: the top `DEPTH` chunks of `Searcher.dense_candidates` (Chroma's HNSW,
  the product's path for an unfiltered query), with their cosines;
- the keyword list: the top `DEPTH` chunks of `Searcher.keyword_candidates` (BM25);
- for every chunk in either list, its exact cosine (local mirror vectors) and its exact
  BM25 score (0 when it holds no query term), so a fusion can score any candidate on
  both scales;
- what is known at query time: the model's word pieces of the query, and the query's
  keyword terms with their document frequency in the index.

Saved as ``<cache>/<label>.npz`` (numbers) and ``<label>.json`` (ids, judgements, pieces).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.config import Settings
from searchapp.evaluation import BeirDataset, load_beir, prepare_index
from searchapp.evaluation.runner import duplicate_groups
from searchapp.filters import SearchFilters
from searchapp.library import Library
from searchapp.storage.terms import keyword_tokens

DEPTH = 300
OFF_TOPIC_PER_SOURCE = 100
SEED = 13


@dataclass(frozen=True)
class QueryCache:
    """One query's candidates. Candidates 0..n_dense-1 are the dense list, in its order."""

    query_id: str
    text: str
    off_topic: bool
    positions: npt.NDArray[np.int64]
    cosine: npt.NDArray[np.float32]
    bm25: npt.NDArray[np.float32]
    n_dense: int
    keyword_order: npt.NDArray[np.int64]  # indices into the candidates, BM25 rank order
    pieces: tuple[str, ...]  # the embedding model's word pieces of the query
    terms: tuple[tuple[str, int], ...]  # keyword terms (with repeats) and their document frequency


@dataclass(frozen=True)
class SetCache:
    label: str
    chunk_doc: npt.NDArray[np.int64]  # local position -> index into doc_ids (-1: none)
    doc_ids: tuple[str, ...]
    qrels: dict[str, dict[str, int]]
    duplicates: dict[str, tuple[str, ...]]
    chunks: int
    collection_pieces: dict[str, int]  # word-piece statistics of every chunk's text
    queries: tuple[QueryCache, ...]


def off_topic_queries(
    target: str, sets: dict[str, BeirDataset], sources: Sequence[str]
) -> list[tuple[str, str]]:
    """(id, text) of up to OFF_TOPIC_PER_SOURCE random queries from each source set."""
    rng = random.Random(f"{SEED}-{target}")
    chosen: list[tuple[str, str]] = []
    for source in sources:
        ids = sorted(sets[source].queries)
        for query_id in rng.sample(ids, min(OFF_TOPIC_PER_SOURCE, len(ids))):
            chosen.append((f"{source}:{query_id}", sets[source].queries[query_id]))
    return chosen


def collect(
    data: BeirDataset,
    settings: Settings,
    data_dir: Path,
    off_topic: Sequence[tuple[str, str]],
    progress: Any = None,
) -> SetCache:
    scratch = prepare_index(data, settings, modes=["dense"], data_dir=data_dir, progress=progress)
    with Library.open(scratch.settings) as library:
        library.sync_local_index()
        local, searcher = library.local, library.searcher
        count = local.count
        stored = []
        for start in range(0, count, 5000):
            stored += local.chunks(list(range(start, min(count, start + 5000))))
        doc_ids = tuple(dict.fromkeys(str(c.metadata.get("external_id", "")) for c in stored))
        doc_index = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        chunk_doc = np.full(count, -1, dtype=np.int64)
        for chunk in stored:
            position = local.positions_of([chunk.chunk_id])[0]
            if position is not None:
                chunk_doc[position] = doc_index[str(chunk.metadata.get("external_id", ""))]
        tokenizer = _tokenizer(library)
        collection = _piece_stats(tokenizer, [c.text for c in stored])
        keyword_index = local._keyword  # the study reads document frequencies
        queries = [(qid, text, False) for qid, text in data.queries.items()]
        queries += [(qid, text, True) for qid, text in off_topic]
        cached = []
        started = time.perf_counter()
        for done, (query_id, text, foreign) in enumerate(queries, start=1):
            prepared = searcher.prepare(text)
            everything = searcher.index.select(SearchFilters())
            dense = searcher.index.dense(prepared.vector, DEPTH, everything)
            keyword = searcher.index.keyword(prepared.terms, DEPTH, everything)
            ids = list(dict.fromkeys([c for c, _ in dense] + [c for c, _ in keyword]))
            positions = np.asarray(local.positions_of(ids), dtype=np.int64)
            cosine = local.cosine(positions, prepared.vector).astype(np.float32)
            every_pos, every_score = local.keyword_search(prepared.terms, count, None)
            bm25_of = dict(zip(every_pos.tolist(), every_score.tolist(), strict=True))
            bm25 = np.asarray([bm25_of.get(int(p), 0.0) for p in positions], dtype=np.float32)
            index = {cid: i for i, cid in enumerate(ids)}
            query_terms = keyword_tokens(prepared.text)
            terms = tuple(zip(query_terms, keyword_index.document_frequencies(query_terms)[1], strict=True))
            cached.append(
                QueryCache(
                    query_id=query_id,
                    text=text,
                    off_topic=foreign,
                    positions=positions,
                    cosine=cosine,
                    bm25=bm25,
                    n_dense=len(dense),
                    keyword_order=np.asarray([index[c] for c, _ in keyword], dtype=np.int64),
                    pieces=tuple(tokenizer.encode(prepared.text, add_special_tokens=False).tokens),
                    terms=terms,
                )
            )
            if done % 500 == 0:
                print(
                    f"  {data.label}: {done}/{len(queries)} queries, {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
    return SetCache(
        label=data.label,
        chunk_doc=chunk_doc,
        doc_ids=doc_ids,
        qrels={q: dict(j) for q, j in data.qrels.items()},
        duplicates=duplicate_groups(data),
        chunks=count,
        collection_pieces=collection,
        queries=tuple(cached),
    )


def _tokenizer(library: Library) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(library.model.tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _piece_stats(tokenizer: Any, texts: Sequence[str]) -> dict[str, int]:
    from searchapp.embedding.readability import piece_stats

    pieces: list[str] = []
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        pieces += encoding.tokens
    return piece_stats(pieces).to_dict()


# ------------------------------------------------------------------ storage


def save(cache: SetCache, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    queries = cache.queries
    lengths = np.asarray([len(q.positions) for q in queries], dtype=np.int64)
    kw_lengths = np.asarray([len(q.keyword_order) for q in queries], dtype=np.int64)
    np.savez_compressed(
        directory / f"{cache.label}.npz",
        chunk_doc=cache.chunk_doc,
        lengths=lengths,
        kw_lengths=kw_lengths,
        positions=np.concatenate([q.positions for q in queries]),
        cosine=np.concatenate([q.cosine for q in queries]),
        bm25=np.concatenate([q.bm25 for q in queries]),
        keyword_order=np.concatenate([q.keyword_order for q in queries]),
        n_dense=np.asarray([q.n_dense for q in queries], dtype=np.int64),
    )
    meta = {
        "label": cache.label,
        "doc_ids": cache.doc_ids,
        "qrels": cache.qrels,
        "duplicates": cache.duplicates,
        "chunks": cache.chunks,
        "collection_pieces": cache.collection_pieces,
        "queries": [
            {"id": q.query_id, "text": q.text, "off_topic": q.off_topic, "pieces": q.pieces, "terms": q.terms}
            for q in queries
        ],
    }
    (directory / f"{cache.label}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def load(directory: Path, label: str) -> SetCache:
    with np.load(directory / f"{label}.npz") as stored:
        arrays = {name: stored[name] for name in stored.files}  # each access would decompress again
    meta = json.loads((directory / f"{label}.json").read_text(encoding="utf-8"))
    ends = np.cumsum(arrays["lengths"])
    kw_ends = np.cumsum(arrays["kw_lengths"])
    queries = []
    for i, q in enumerate(meta["queries"]):
        a, b = (ends[i - 1] if i else 0), ends[i]
        c, d = (kw_ends[i - 1] if i else 0), kw_ends[i]
        queries.append(
            QueryCache(
                query_id=q["id"],
                text=q["text"],
                off_topic=q["off_topic"],
                positions=arrays["positions"][a:b],
                cosine=arrays["cosine"][a:b],
                bm25=arrays["bm25"][a:b],
                n_dense=int(arrays["n_dense"][i]),
                keyword_order=arrays["keyword_order"][c:d],
                pieces=tuple(q["pieces"]),
                terms=tuple((t, int(df)) for t, df in q["terms"]),
            )
        )
    return SetCache(
        label=meta["label"],
        chunk_doc=arrays["chunk_doc"],
        doc_ids=tuple(meta["doc_ids"]),
        qrels=meta["qrels"],
        duplicates={k: tuple(v) for k, v in meta["duplicates"].items()},
        chunks=int(meta["chunks"]),
        collection_pieces=meta["collection_pieces"],
        queries=tuple(queries),
    )


def build_caches(
    targets: Sequence[str],
    paths: dict[str, Path],
    settings: Settings,
    data_dir: Path,
    cache_dir: Path,
    off_topic: dict[str, list[str]],
    progress: Any = None,
) -> None:
    """Collect and save each target set whose cache is missing; `off_topic`: target -> source sets."""
    sets = {name: load_beir(path) for name, path in paths.items()}
    for name in targets:
        if (cache_dir / f"{name}.npz").is_file():
            continue
        data = sets[name]
        print(f"collecting {name} ({len(data.queries)} queries)", flush=True)
        foreign = off_topic_queries(name, sets, off_topic.get(name, []))
        save(collect(data, settings, data_dir, foreign, progress), cache_dir)
