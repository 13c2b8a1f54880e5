"""Load a retrieval benchmark in BEIR's layout: a corpus, queries and graded judgements.

    DIR/corpus.jsonl        {"_id": ..., "title": ..., "text": ...}  (title optional)
    DIR/queries.jsonl       {"_id": ..., "text": ...}
    DIR/qrels/<split>.tsv   query-id <TAB> corpus-id <TAB> score, after a header line

Ids are compared as strings (BEIR files mix "3" and 3). Scores are integers >= 0; 0
means judged not relevant. Only queries that have judgements in the split are kept.
Every problem is an `EvalDataError` naming the file, the line, what was expected and
what was found, because a silently skipped line would silently change the scores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from searchapp.errors import EvalDataError

_SNIPPET = 80
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z_-]*")


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """How a dataset was cut down (see `evaluation.sampling`)."""

    queries: int
    seed: int
    judged_documents: int
    distractors: int
    of_queries: int
    of_documents: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BeirDataset:
    """One split of a BEIR dataset, ready to evaluate.

    Attributes:
        name: the directory's name ("scifact").
        corpus: every corpus document by id, in file order.
        queries: query text by id, only for queries judged in this split, in file order.
        qrels: query id -> corpus id -> graded relevance (0 = judged not relevant).
        unknown_qrel_docs: judgements that name a document missing from the corpus
            (tolerated, as BEIR does; such a document can never be retrieved).
        sample: how the set was sampled; None for the whole split.
    """

    name: str
    path: Path
    split: str
    corpus: Mapping[str, CorpusDoc]
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]
    unknown_qrel_docs: int = 0
    sample: SampleInfo | None = None

    @property
    def corpus_file(self) -> Path:
        return self.path / "corpus.jsonl"

    @property
    def label(self) -> str:
        """The name, with the sample's size and seed for a sample ("scifact-s50-seed0")."""
        if self.sample is None:
            return self.name
        return f"{self.name}-s{self.sample.queries}-seed{self.sample.seed}"


def load_beir(path: Path | str, split: str = "test") -> BeirDataset:
    """Read and check a BEIR dataset directory.

    Raises:
        EvalDataError: a file is missing, a line is malformed, or the files disagree.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise EvalDataError(f"{root} is not a directory; expected a BEIR dataset directory")
    corpus_file = _required(root / "corpus.jsonl", root)
    queries_file = _required(root / "queries.jsonl", root)
    qrels_file = root / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []
        raise EvalDataError(
            f"{qrels_file} is missing: no judgements for split {split!r}; "
            + (f"available splits: {', '.join(found)}" if found else "the qrels directory has no .tsv files")
        )

    corpus: dict[str, CorpusDoc] = {}
    for lineno, record in _json_lines(corpus_file):
        doc_id = _id(record, corpus_file, lineno)
        if doc_id in corpus:
            raise EvalDataError(f"{corpus_file}:{lineno}: duplicate _id {doc_id!r}")
        corpus[doc_id] = CorpusDoc(
            doc_id=doc_id,
            title=_text(record, "title", corpus_file, lineno, required=False),
            text=_text(record, "text", corpus_file, lineno, required=True),
        )
    if not corpus:
        raise EvalDataError(f"{corpus_file} has no documents")

    qrels, lines = _read_qrels(qrels_file)
    all_queries: dict[str, tuple[str, int]] = {}
    for lineno, record in _json_lines(queries_file):
        query_id = _id(record, queries_file, lineno)
        all_queries[query_id] = (_text(record, "text", queries_file, lineno, required=True), lineno)

    missing = [q for q in qrels if q not in all_queries]
    if missing:
        shown = ", ".join(repr(q) for q in missing[:5])
        raise EvalDataError(
            f"{qrels_file}:{lines[missing[0]]}: query {missing[0]!r} is judged but not in "
            f"{queries_file.name}; {len(missing)} judged queries are missing from it ({shown})"
        )
    queries: dict[str, str] = {}
    for query_id, (text, lineno) in all_queries.items():
        if query_id not in qrels:
            continue
        if not text.strip():
            raise EvalDataError(f"{queries_file}:{lineno}: query {query_id!r} has empty text")
        queries[query_id] = text
    unknown = sum(1 for judged in qrels.values() for doc_id in judged if doc_id not in corpus)
    return BeirDataset(
        name=root.resolve().name,
        path=root,
        split=split,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        unknown_qrel_docs=unknown,
    )


def _required(path: Path, root: Path) -> Path:
    if not path.is_file():
        raise EvalDataError(
            f"{path} is missing; a BEIR dataset directory holds corpus.jsonl, queries.jsonl "
            f"and qrels/<split>.tsv (looked in {root})"
        )
    return path


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with 1-based numbers; decoding errors name the line."""
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise EvalDataError(f"{path}:{lineno}: expected UTF-8 text; {exc.reason}") from None
            if line.strip():
                yield lineno, line.rstrip("\r\n")


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in _lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(
                f"{path}:{lineno}: expected one JSON object per line; got {_snippet(line)} ({exc.msg})"
            ) from None
        if not isinstance(record, dict):
            raise EvalDataError(
                f"{path}:{lineno}: expected a JSON object; got {type(record).__name__} {_snippet(line)}"
            )
        yield lineno, record


def _id(record: Mapping[str, Any], path: Path, lineno: int) -> str:
    value = record.get("_id")
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise EvalDataError(f'{path}:{lineno}: expected "_id" to be a non-empty string; got {value!r}')
    return str(value).strip()


def _text(record: Mapping[str, Any], key: str, path: Path, lineno: int, *, required: bool) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        got = "nothing" if key not in record else f"{type(value).__name__} {value!r}"[:_SNIPPET]
        raise EvalDataError(f'{path}:{lineno}: expected "{key}" to be a string; got {got}')
    return value


def _read_qrels(path: Path) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """(query id -> corpus id -> score, query id -> first line), skipping the header."""
    qrels: dict[str, dict[str, int]] = {}
    first_line: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    for position, (lineno, line) in enumerate(_lines(path)):
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if position == 0 and _is_header(fields):
            continue
        if len(fields) != 3 or not all(fields):
            raise EvalDataError(
                f"{path}:{lineno}: expected 3 tab-separated fields (query-id, corpus-id, score); "
                f"got {len([f for f in fields if f])}: {_snippet(line)}"
            )
        query_id, doc_id, raw_score = fields
        try:
            score = int(raw_score)
        except ValueError:
            score = -1
        if score < 0:
            raise EvalDataError(
                f"{path}:{lineno}: expected the score to be an integer >= 0; got {raw_score!r}"
            )
        if (query_id, doc_id) in seen:
            raise EvalDataError(
                f"{path}:{lineno}: query {query_id!r} and document {doc_id!r} are judged twice "
                f"(also on line {seen[query_id, doc_id]})"
            )
        seen[query_id, doc_id] = lineno
        qrels.setdefault(query_id, {})[doc_id] = score
        first_line.setdefault(query_id, lineno)
    if not qrels:
        raise EvalDataError(f"{path} has no judgements (only a header, or nothing)")
    return qrels, first_line


def _is_header(fields: list[str]) -> bool:
    """BEIR writes "query-id corpus-id score"; take any first line whose score column is a word."""
    return len(fields) == 3 and _WORD_RE.fullmatch(fields[2]) is not None


def _snippet(line: str) -> str:
    return repr(line if len(line) <= _SNIPPET else line[:_SNIPPET] + "…")
