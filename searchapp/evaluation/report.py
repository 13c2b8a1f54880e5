"""What an evaluation returns: one `ModeResult` per retrieval mode inside an `EvalReport`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from searchapp.evaluation.beir import SampleInfo


@dataclass(frozen=True, slots=True)
class ModeResult:
    """Mean document-level scores of one retrieval mode over every evaluated query.

    Attributes:
        k: the cut-off of `ndcg`, `recall` and `mrr` (Recall@100 is always at 100).
        latency_p50_ms, latency_p95_ms: end-to-end `Library.search` time per query.
        chunks_requested: passages asked of `Library.search` per query (more were asked,
            once per query, where these did not hold enough distinct documents).
        min_documents: the fewest distinct documents any query's ranking held.
        deepened_queries: queries that needed the larger request.
    """

    mode: str
    queries: int
    k: int
    ndcg: float
    recall: float
    recall_100: float
    mrr: float
    latency_p50_ms: float
    latency_p95_ms: float
    seconds: float
    chunks_requested: int
    min_documents: int
    deepened_queries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "queries": self.queries,
            f"ndcg@{self.k}": round(self.ndcg, 4),
            f"recall@{self.k}": round(self.recall, 4),
            "recall@100": round(self.recall_100, 4),
            f"mrr@{self.k}": round(self.mrr, 4),
            "latency_p50_ms": round(self.latency_p50_ms, 2),
            "latency_p95_ms": round(self.latency_p95_ms, 2),
            "seconds": round(self.seconds, 2),
            "chunks_requested": self.chunks_requested,
            "min_documents": self.min_documents,
            "deepened_queries": self.deepened_queries,
        }


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """The scratch index the queries ran against, and whether this run built it.

    `ingest_seconds` is the time the build took, also when a later run reuses it.
    """

    data_dir: str
    collection: str
    model: str
    chunk_tokens: int
    chunk_overlap: int
    documents: int
    chunks: int
    reused: bool
    ingest_seconds: float
    failed_documents: int = 0
    backend: str = ""  # what embedded the queries, e.g. "openvino (bf16)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_dir": self.data_dir,
            "collection": self.collection,
            "model": self.model,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "documents": self.documents,
            "chunks": self.chunks,
            "reused": self.reused,
            "ingest_seconds": round(self.ingest_seconds, 1),
            "failed_documents": self.failed_documents,
            "backend": self.backend,
        }


@dataclass(frozen=True, slots=True)
class EvalReport:
    dataset: str
    split: str
    k: int
    corpus_documents: int
    queries: int
    index: IndexInfo
    modes: tuple[ModeResult, ...]
    sample: SampleInfo | None = None

    @property
    def label(self) -> str:
        """The dataset's name, with the sample's size and seed for a sample."""
        if self.sample is None:
            return self.dataset
        return f"{self.dataset}-s{self.sample.queries}-seed{self.sample.seed}"

    def mode(self, name: str) -> ModeResult:
        for result in self.modes:
            if result.mode == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "k": self.k,
            "corpus_documents": self.corpus_documents,
            "queries": self.queries,
            "index": self.index.to_dict(),
            "modes": [m.to_dict() for m in self.modes],
            "sample": self.sample.to_dict() if self.sample is not None else None,
        }

    def table(self) -> str:
        """The scores as an aligned text table, one row per mode."""
        return results_table([self])

    def summary(self) -> str:
        """One line: what was evaluated against what."""
        index = self.index
        return (
            f"{self.dataset} ({self.split}): {self.queries} queries, {self.corpus_documents:,} documents, "
            f"{index.chunks:,} chunks; model {index.model}"
            f"{f' on {index.backend}' if index.backend else ''}; chunks of {index.chunk_tokens} tokens, "
            f"overlap {index.chunk_overlap}"
            + (
                f"; sampled (seed {self.sample.seed}) from {self.sample.of_queries:,} queries "
                f"and {self.sample.of_documents:,} documents"
                if self.sample is not None
                else ""
            )
        )


def results_table(reports: Sequence[EvalReport]) -> str:
    """One aligned text table for several evaluations: a row per dataset and mode."""
    if not reports:
        return ""
    k = reports[0].k
    header = ("dataset", "mode", f"nDCG@{k}", f"Recall@{k}", "Recall@100", f"MRR@{k}", "p50 ms", "p95 ms")
    rows = [
        (
            report.label,
            m.mode,
            f"{m.ndcg:.4f}",
            f"{m.recall:.4f}",
            f"{m.recall_100:.4f}",
            f"{m.mrr:.4f}",
            f"{m.latency_p50_ms:.1f}",
            f"{m.latency_p95_ms:.1f}",
        )
        for report in reports
        for m in report.modes
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
