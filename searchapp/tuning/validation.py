"""Scoring a validation split while a model trains: nDCG@10 of its queries over their own candidates.

The split's evaluator is named "val" (its metric in the trainer's log is `VAL_METRIC`);
probes are further sets scored beside it that decide nothing (benchmarks compare what
early stopping would see on each).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchapp.embedding.embedders import set_offline_environment
from searchapp.errors import ModelError


def ndcg_key(name: str) -> str:
    """The nDCG@10 an evaluator named `name` returns (the trainer logs it with ``eval_`` before)."""
    return f"{name}_cosine_ndcg@10"


VAL_NDCG = ndcg_key("val")
VAL_METRIC = f"eval_{VAL_NDCG}"


@dataclass(frozen=True, slots=True)
class Validation:
    """Queries, candidate passages and relevant passage ids for the validation split."""

    queries: Mapping[str, str]
    corpus: Mapping[str, str]
    relevant: Mapping[str, set[str]]


def validation_score(model_dir: Path, validation: Validation) -> float:
    """nDCG@10 of the model in `model_dir` on `validation` (comparing recipes)."""
    set_offline_environment()
    from sentence_transformers import SentenceTransformer

    return float(evaluator(validation)(SentenceTransformer(str(model_dir)))[VAL_NDCG])


def evaluator(validation: Validation, probes: Mapping[str, Validation] | None = None) -> Any:
    """The validation set's evaluator ("val"), followed by one for each probe when there are any."""
    from sentence_transformers.sentence_transformer.evaluation import SequentialEvaluator

    if probes:
        if "val" in probes:
            raise ModelError("a probe cannot be named 'val': that is the validation set's own name")
        named = [_ir(validation, "val"), *(_ir(v, name) for name, v in probes.items())]
        return SequentialEvaluator(named, main_score_function=lambda scores: scores[0])
    return _ir(validation, "val")


def _ir(validation: Validation, name: str) -> Any:
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    return InformationRetrievalEvaluator(
        queries=dict(validation.queries),
        corpus=dict(validation.corpus),
        relevant_docs={q: set(ids) for q, ids in validation.relevant.items()},
        name=name,
        ndcg_at_k=[10],
        mrr_at_k=[10],
        accuracy_at_k=[1],
        precision_recall_at_k=[10],
        map_at_k=[10],
        write_csv=False,
        batch_size=64,
    )
