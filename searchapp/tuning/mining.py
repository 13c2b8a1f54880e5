"""Hard negatives: passages the current model and BM25 rank high for a query, but that do not answer it.

Candidates are the top of both lists (the library's own dense and keyword search, so the
negatives are the mistakes this library actually makes), fused by reciprocal rank. The
guard against false negatives (a passage that does answer, but nobody labelled it):

- never a passage of a document labelled relevant for the query (its neighbours often answer too);
- never a passage the current model puts at least as close to the query as the labelled
  positive (GISTEmbed's rule, with the base model as the guide): the labels are incomplete,
  and such a passage is as likely to be an unlabelled answer as a mistake;
- never the same text as the positive.

Explicit negatives (👎, score-0 labels) are kept first: a person said so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from searchapp.library import Library
from searchapp.request import SearchRequest
from searchapp.retrieval.fusion import reciprocal_rank_fusion
from searchapp.tuning.examples import Example

CANDIDATES = 30  # from each list


@dataclass(frozen=True, slots=True)
class MiningStats:
    examples: int
    with_negative: int
    guarded: int  # candidates dropped by the false-negative guard

    def to_dict(self) -> dict[str, int]:
        return {"examples": self.examples, "with_negative": self.with_negative, "guarded": self.guarded}


def mine_negatives(
    library: Library,
    examples: Sequence[Example],
    *,
    per_example: int = 1,
    relevant_docs: Mapping[str, frozenset[str]] | None = None,
) -> tuple[list[Example], MiningStats]:
    """Each example with up to `per_example` negatives (explicit ones first, then mined)."""
    if not examples:
        return [], MiningStats(0, 0, 0)
    positives = library.embedder.embed_documents([e.positive for e in examples])
    queries = sorted({e.query for e in examples})
    query_vectors = dict(zip(queries, library.embedder.embed_documents(queries), strict=True))
    lists = {query: _candidates(library, query) for query in queries}
    out: list[Example] = []
    guarded = 0
    for example, positive in zip(examples, positives, strict=True):
        vector = query_vectors[example.query]
        floor = float(np.dot(vector, positive))
        skip_docs = set((relevant_docs or {}).get(example.query_id, frozenset())) | {example.positive_doc}
        chosen = list(example.negatives[:per_example])
        for _, text, doc_id, cosine in lists[example.query]:
            if len(chosen) >= per_example:
                break
            if doc_id in skip_docs or text == example.positive or text in chosen:
                continue
            if cosine >= floor:
                guarded += 1
                continue
            chosen.append(text)
        out.append(replace(example, negatives=tuple(chosen)))
    with_negative = sum(1 for e in out if e.negatives)
    return out, MiningStats(len(out), with_negative, guarded)


def _candidates(library: Library, query: str) -> list[tuple[str, str, str, float]]:
    """(chunk id, text, doc id, cosine) by fused rank over the dense and keyword top lists."""
    dense = library.find(SearchRequest(query, k=CANDIDATES, mode="dense", syntax=False)).hits
    keyword = library.find(SearchRequest(query, k=CANDIDATES, mode="keyword", syntax=False)).hits
    hits = {hit.chunk_id: hit for hit in (*dense, *keyword)}
    order = list(hits)
    position = {cid: i for i, cid in enumerate(order)}
    fused = reciprocal_rank_fusion(
        [[position[h.chunk_id] for h in dense], [position[h.chunk_id] for h in keyword]]
    )
    found = []
    for item, _ in fused:
        hit = hits[order[item]]
        found.append(
            (hit.chunk_id, hit.text, hit.doc_id, float(hit.cosine if hit.cosine is not None else -1.0))
        )
    return found
