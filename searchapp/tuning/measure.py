"""Held-out quality of a model, base against tuned, in every mode, with the app's own evaluation.

The held-out queries are never trained on and never used to choose anything. Each model
gets its own scratch index of the same corpus (`searchapp.evaluation`: built once per
model and corpus, then reused), so the figures are what the library would answer.

The corpus is the library's own documents (their passages joined back into text), or,
when the labels come from a BEIR dataset whose documents the library holds, that
dataset's corpus (the same text, and its scratch index is shared with `searchapp eval`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchapp.config import Settings
from searchapp.evaluation.beir import BeirDataset, load_beir
from searchapp.evaluation.report import EvalReport
from searchapp.evaluation.runner import run_evaluation
from searchapp.evaluation.scratch import default_collection
from searchapp.library import Library

CHECK_DIR = Path(__file__).parent / "checkset"
CHECK_SETS = ("xquad-en-check", "dbpedia-entity-check")


@dataclass(frozen=True, slots=True)
class ModeDelta:
    """One mode's held-out scores, base against tuned."""

    mode: str
    base_ndcg: float
    tuned_ndcg: float
    base_recall: float
    tuned_recall: float

    @property
    def gain(self) -> float:
        return self.tuned_ndcg - self.base_ndcg

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "base_ndcg10": round(self.base_ndcg, 4),
            "tuned_ndcg10": round(self.tuned_ndcg, 4),
            "ndcg10_gain": round(self.gain, 4),
            "base_recall10": round(self.base_recall, 4),
            "tuned_recall10": round(self.tuned_recall, 4),
        }


@dataclass(frozen=True, slots=True)
class SetComparison:
    """Every mode of one evaluation set, base against tuned."""

    dataset: str
    queries: int
    modes: tuple[ModeDelta, ...]

    def mode(self, name: str) -> ModeDelta:
        for delta in self.modes:
            if delta.mode == name:
                return delta
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "queries": self.queries, "modes": [m.to_dict() for m in self.modes]}


def compare(base: EvalReport, tuned: EvalReport) -> SetComparison:
    return SetComparison(
        dataset=base.label,
        queries=base.queries,
        modes=tuple(
            ModeDelta(m.mode, m.ndcg, tuned.mode(m.mode).ndcg, m.recall, tuned.mode(m.mode).recall)
            for m in base.modes
        ),
    )


def model_tag(model: str) -> str:
    """A short, stable name for a model in scratch collection names."""
    return hashlib.sha256(model.encode("utf-8")).hexdigest()[:8]


def evaluate(
    data: BeirDataset,
    settings: Settings,
    model: str,
    root: Path,
    *,
    base: bool,
    modes: Sequence[str] | None = None,
) -> EvalReport:
    """`data` through `model` (its own scratch index under `root`, reused while it matches)."""
    scratch_settings, collection = scratch_target(data, settings, model, base=base)
    return run_evaluation(data, scratch_settings, modes=modes, data_dir=root, collection=collection)


def scratch_target(data: BeirDataset, settings: Settings, model: str, *, base: bool) -> tuple[Settings, str]:
    """The settings and collection name of `model`'s scratch index of `data`: local, and for the
    base model the very index `searchapp eval` builds."""
    name = default_collection(data.label)
    collection = name if base else f"{name[:50]}-{model_tag(model)}"
    return dataclasses.replace(
        settings.with_overrides(model=model), server_url="", server_token=""
    ), collection


def check_sets() -> list[BeirDataset]:
    """The general check set shipped with searchapp (see checkset/README.md)."""
    return [load_beir(CHECK_DIR / name) for name in CHECK_SETS]


def heldout_from_beir(
    corpus_dir: Path, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]]
) -> BeirDataset:
    """The BEIR dataset in `corpus_dir`, cut to the held-out queries and their judgements."""
    full = load_beir(corpus_dir)
    kept = {q: dict(j) for q, j in qrels.items() if q in queries}
    return dataclasses.replace(full, queries={q: queries[q] for q in kept}, qrels=kept)


def heldout_from_library(
    library: Library, queries: Mapping[str, str], relevant: Mapping[str, frozenset[str]], directory: Path
) -> BeirDataset:
    """A BEIR dataset of the library's documents (their passages joined again) and the held-out
    queries, written to `directory` (so its corpus file fingerprints its scratch index)."""
    texts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    titles: dict[str, str] = {}
    for _, chunk_texts, metas, _ in library.store.iter_chunks(include_embeddings=False):
        for text, meta in zip(chunk_texts, metas, strict=True):
            doc_id = str(meta.get("doc_id", ""))
            texts[doc_id].append((int(meta.get("chunk", 0) or 0), int(meta.get("start", 0) or 0), text))
            titles.setdefault(doc_id, str(meta.get("title", "")))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "qrels").mkdir(exist_ok=True)
    with (directory / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for doc_id in sorted(texts):
            record = {"_id": doc_id, "title": "", "text": _joined(texts[doc_id])}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    kept = {q: docs for q, docs in relevant.items() if q in queries and docs & texts.keys()}
    ids = {q: f"h{i}" for i, q in enumerate(sorted(kept))}
    with (directory / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query_id, short in ids.items():
            handle.write(json.dumps({"_id": short, "text": queries[query_id]}, ensure_ascii=False) + "\n")
    with (directory / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query_id, short in ids.items():
            for doc_id in sorted(kept[query_id] & texts.keys()):
                handle.write(f"{short}\t{doc_id}\t1\n")
    return load_beir(directory)


def _joined(parts: list[tuple[int, int, str]]) -> str:
    """A document's text from its overlapping passages, in order, each overlap once."""
    out = ""
    for _, _, text in sorted(parts):
        if not out:
            out = text
            continue
        overlap = _overlap(out, text)
        out += ("" if overlap else "\n") + text[overlap:]
    return re.sub(r"[ \t]+", " ", out)


def _overlap(left: str, right: str) -> int:
    """The longest end of `left` that starts `right` (passages overlap by a few dozen tokens)."""
    tail, probe = left[-2000:], right[:16]
    position = tail.find(probe) if len(probe) == 16 else -1
    while position != -1:
        if right.startswith(tail[position:]):
            return len(tail) - position
        position = tail.find(probe, position + 1)
    return 0
