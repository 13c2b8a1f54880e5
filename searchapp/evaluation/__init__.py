"""Built-in retrieval evaluation: BEIR datasets through searchapp's own ingest and search.

    from searchapp import Settings
    from searchapp.evaluation import run_evaluation

    report = run_evaluation("/data/scifact", Settings.load(), modes=["dense"])
    print(report.table())

The corpus is embedded once into a scratch data directory (``<data_dir>/eval``) and
reused while the corpus, model and chunk settings stay the same.
"""

from __future__ import annotations

from searchapp.evaluation.beir import BeirDataset, CorpusDoc, SampleInfo, load_beir
from searchapp.evaluation.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k
from searchapp.evaluation.report import EvalReport, IndexInfo, ModeResult, results_table
from searchapp.evaluation.runner import run_evaluation
from searchapp.evaluation.sampling import sample_dataset
from searchapp.evaluation.scratch import (
    EvalProgress,
    ModeNotOfferedError,
    ScratchIndex,
    prepare_index,
    resolve_modes,
)

__all__ = [
    "BeirDataset",
    "CorpusDoc",
    "EvalProgress",
    "EvalReport",
    "IndexInfo",
    "ModeNotOfferedError",
    "ModeResult",
    "SampleInfo",
    "ScratchIndex",
    "load_beir",
    "mrr_at_k",
    "ndcg_at_k",
    "percentile",
    "prepare_index",
    "recall_at_k",
    "resolve_modes",
    "results_table",
    "run_evaluation",
    "sample_dataset",
]
