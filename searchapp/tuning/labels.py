"""Labelled queries from a file: BEIR qrels (with their queries), or CSV of query and document or passage.

    qrels    query-id <TAB> corpus-id <TAB> score, after a header line (BEIR's layout);
             the query texts come from queries.jsonl beside it (or the one given)
    CSV      a header naming `query` and `document` or `passage` (and optionally `score`);
             one row per relevant (query, document) or (query, passage)

A document is named by its corpus id (`external_id`, as `searchapp eval` and importers
write it), its source name, or its id (8+ hex digits); a passage by its id
(``<doc id>:<n>``) or its text. A score of 0 means judged not relevant: such rows become
explicit negatives, never positives.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from searchapp.errors import EvalDataError


@dataclass(frozen=True, slots=True)
class Label:
    """One judgement: `target` is a document or a passage reference (`kind` says which)."""

    target: str
    kind: str  # "document" or "passage"
    grade: int = 1


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    query_id: str
    text: str
    labels: tuple[Label, ...] = field(default=())

    @property
    def relevant(self) -> tuple[Label, ...]:
        return tuple(label for label in self.labels if label.grade > 0)


def read_labels(path: Path | str, queries: Path | str | None = None) -> list[LabelledQuery]:
    """Labelled queries from a qrels TSV (with queries.jsonl) or a CSV file; see the module doc.

    Raises:
        EvalDataError: the file is missing or malformed (the message names the line).
    """
    source = Path(path).expanduser()
    if source.is_dir():  # a BEIR dataset directory: its test qrels
        queries = queries or source / "queries.jsonl"
        source = source / "qrels" / "test.tsv"
    if not source.is_file():
        raise EvalDataError(f"{source} is not a file; expected BEIR qrels (.tsv) or a CSV of labels")
    if source.suffix.lower() == ".csv":
        return _read_csv(source)
    query_file = Path(queries).expanduser() if queries else _beside(source)
    return _read_qrels(source, _read_queries(query_file))


def _beside(qrels: Path) -> Path:
    for candidate in (qrels.parent / "queries.jsonl", qrels.parent.parent / "queries.jsonl"):
        if candidate.is_file():
            return candidate
    raise EvalDataError(
        f"no queries.jsonl beside {qrels}: qrels name queries by id, so their texts are needed "
        "(pass --queries FILE)"
    )


def _read_queries(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise EvalDataError(f"{path} is not a file; expected queries.jsonl with _id and text")
    found: dict[str, str] = {}
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                found[str(record["_id"])] = str(record["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise EvalDataError(
                    f'{path}:{number}: expected a JSON object with "_id" and "text"; {exc}'
                ) from None
    return found


def _read_qrels(path: Path, queries: Mapping[str, str]) -> list[LabelledQuery]:
    by_query: dict[str, list[Label]] = {}
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
            if not fields or not line.strip():
                continue
            if number == 1 and not fields[-1].strip().lstrip("-").isdigit():
                continue  # the header
            if len(fields) != 3 or not fields[2].strip().isdigit():
                raise EvalDataError(
                    f"{path}:{number}: expected query-id, corpus-id and a score >= 0, tab-separated; "
                    f"got {line.strip()[:80]!r}"
                )
            query_id, doc_id, score = (f.strip() for f in fields)
            if query_id not in queries:
                raise EvalDataError(f"{path}:{number}: query {query_id!r} is not in the queries file")
            by_query.setdefault(query_id, []).append(Label(doc_id, "document", int(score)))
    return [LabelledQuery(qid, queries[qid], tuple(labels)) for qid, labels in by_query.items()]


def _read_csv(path: Path) -> list[LabelledQuery]:
    by_query: dict[str, list[Label]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
        kind = "document" if "document" in columns else "passage" if "passage" in columns else ""
        if "query" not in columns or not kind:
            raise EvalDataError(
                f"{path}: the header must name a 'query' column and a 'document' or 'passage' column; "
                f"got {reader.fieldnames}"
            )
        for number, row in enumerate(reader, start=2):
            query = (row.get(columns["query"]) or "").strip()
            target = (row.get(columns[kind]) or "").strip()
            raw = (row.get(columns["score"]) or "1").strip() if "score" in columns else "1"
            if not query or not target or not raw.isdigit():
                raise EvalDataError(
                    f"{path}:{number}: expected a query, a {kind} and a score >= 0; got {dict(row)}"[:300]
                )
            by_query.setdefault(" ".join(query.split()), []).append(Label(target, kind, int(raw)))
    return [
        LabelledQuery(f"q{index}", text, tuple(labels))
        for index, (text, labels) in enumerate(by_query.items(), start=1)
    ]
