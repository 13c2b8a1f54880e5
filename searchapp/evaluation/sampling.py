"""A small, seeded slice of a BEIR dataset, for a quick regression run (CI).

The rule: take `queries` of the judged queries at random (seeded; all of them if there
are fewer), every document any of them judges (any grade, 0 included: those are the
hard negatives the judges saw), and as distractors `DISTRACTORS_PER_JUDGED` times as
many other corpus documents at random (seeded), or the whole rest of the corpus if it
is smaller. Queries and documents keep their file order.

Uniformly drawn distractors are easier than the full corpus's near misses, so a
sample's absolute scores run higher than the full set's; what a sample is for is
comparing modes with each other, run after run, on the same draw.
"""

from __future__ import annotations

import dataclasses
import random

from searchapp.errors import EvalDataError
from searchapp.evaluation.beir import BeirDataset, SampleInfo

DISTRACTORS_PER_JUDGED = 4


def sample_dataset(data: BeirDataset, queries: int, seed: int = 0) -> BeirDataset:
    """`data` cut down to `queries` queries, their judged documents and distractors.

    Raises:
        EvalDataError: `queries` is below 1, or the sample has no judged document
            in the corpus.
    """
    if queries < 1:
        raise EvalDataError(f"a sample needs at least 1 query; got {queries}")
    rng = random.Random(seed)
    # Sort before drawing, so the draw does not depend on the order of the file.
    drawn = set(rng.sample(sorted(data.queries), min(queries, len(data.queries))))
    kept = {query_id: text for query_id, text in data.queries.items() if query_id in drawn}
    judged = {doc_id for query_id in kept for doc_id in data.qrels[query_id] if doc_id in data.corpus}
    if not judged:
        raise EvalDataError(
            f"the sample of {len(kept)} queries from {data.name} judges no document of the corpus; "
            "try another --seed or a larger --sample"
        )
    others = sorted(doc_id for doc_id in data.corpus if doc_id not in judged)
    distractors = set(rng.sample(others, min(DISTRACTORS_PER_JUDGED * len(judged), len(others))))
    corpus = {doc_id: doc for doc_id, doc in data.corpus.items() if doc_id in judged or doc_id in distractors}
    return dataclasses.replace(
        data,
        corpus=corpus,
        queries=kept,
        qrels={query_id: data.qrels[query_id] for query_id in kept},
        unknown_qrel_docs=sum(
            1 for query_id in kept for doc_id in data.qrels[query_id] if doc_id not in data.corpus
        ),
        sample=SampleInfo(
            queries=len(kept),
            seed=seed,
            judged_documents=len(judged),
            distractors=len(distractors),
            of_queries=len(data.queries),
            of_documents=len(data.corpus),
        ),
    )
