"""Training examples from the three sources: feedback, a labelled file, and document structure.

An example is a query, one passage that answers it, and passages known not to (👎, a
score-0 label, or "none of these are right"); `mining` adds hard negatives later. Labels
that name a whole document are turned into its passage the current model finds closest
to the query: the library searches passages, and a document's best passage is what its
rank depends on (MaxP).
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from searchapp.errors import EvalDataError, QueryError
from searchapp.feedback import Feedback
from searchapp.library import Library
from searchapp.query_syntax import parse_query, plain
from searchapp.tuning.labels import LabelledQuery
from searchapp.types import DocumentRecord

logger = logging.getLogger(__name__)

SOURCES = ("feedback", "labels", "structure")
# Title/heading pairs are plentiful; each costs training time (about 2 s a pair an epoch on
# two loaded cores), so a seeded sample of this many is trained on.
MAX_STRUCTURE_EXAMPLES = 400
_MIN_HEADING_CHARS = 4


@dataclass(frozen=True, slots=True)
class Example:
    """One query with a passage that answers it (and passages that do not)."""

    query_id: str
    query: str
    positive: str
    positive_id: str = ""  # the passage's id when it is stored in the library
    positive_doc: str = ""  # its document's id
    negatives: tuple[str, ...] = field(default=())  # texts of passages judged wrong
    source: str = "labels"


@dataclass(frozen=True, slots=True)
class Resolved:
    """Examples built from labels, and what could not be matched to the library."""

    examples: tuple[Example, ...]
    unmatched: tuple[str, ...] = ()  # "query id: target" for labels naming nothing in the library
    relevant_docs: dict[str, frozenset[str]] = field(default_factory=dict)  # query id -> doc ids


class DocumentFinder:
    """Documents by corpus id (external_id), source name or id prefix."""

    def __init__(self, records: Sequence[DocumentRecord]) -> None:
        self.by_external = {r.external_id: r.doc_id for r in records if r.external_id}
        self.by_source = {r.source: r.doc_id for r in records}
        self.ids = [r.doc_id for r in records]

    def find(self, ref: str) -> str | None:
        if ref in self.by_external:
            return self.by_external[ref]
        if ref in self.by_source:
            return self.by_source[ref]
        if re.fullmatch(r"[0-9a-f]{8,64}", ref):
            matches = [doc_id for doc_id in self.ids if doc_id.startswith(ref)]
            return matches[0] if len(matches) == 1 else None
        return None


def from_labels(library: Library, queries: Sequence[LabelledQuery]) -> Resolved:
    """One example per relevant (query, passage); document labels take their best passage."""
    finder = DocumentFinder(library.documents())
    wanted_docs: dict[str, set[str]] = defaultdict(set)  # query id -> relevant doc ids
    negatives: dict[str, set[str]] = defaultdict(set)  # query id -> doc ids judged not relevant
    passages: dict[str, list[str]] = defaultdict(list)  # query id -> passage refs
    unmatched: list[str] = []
    for query in queries:
        for label in query.labels:
            if label.kind == "passage":
                if label.grade > 0:
                    passages[query.query_id].append(label.target)
                continue
            doc_id = finder.find(label.target)
            if doc_id is None:
                unmatched.append(f"{query.query_id}: {label.target}")
            elif label.grade > 0:
                wanted_docs[query.query_id].add(doc_id)
            else:
                negatives[query.query_id].add(doc_id)
    chunks = _chunks_of({d for docs in wanted_docs.values() for d in docs}, library)
    texts = {q.query_id: q.text for q in queries}
    ids = [q.query_id for q in queries if wanted_docs.get(q.query_id)]
    vectors = library.embedder.embed_documents([texts[q] for q in ids]) if ids else np.zeros((0, 1))
    examples: list[Example] = []
    for query_id, vector in zip(ids, vectors, strict=True):
        for doc_id in sorted(wanted_docs[query_id]):
            rows = chunks.get(doc_id)
            if not rows:
                unmatched.append(f"{query_id}: {doc_id[:12]} (no passages)")
                continue
            best = max(rows, key=lambda row: float(np.dot(row[2], vector)))
            examples.append(Example(query_id, texts[query_id], best[1], best[0], doc_id, source="labels"))
    for query_id, refs in passages.items():
        for ref in refs:
            stored = library.store.get_chunks(ids=[ref]) if ":" in ref else {"ids": []}
            if stored["ids"]:
                meta = (stored["metadatas"] or [{}])[0] or {}
                text = (stored["documents"] or [""])[0]
                examples.append(
                    Example(
                        query_id, texts[query_id], text, ref, str(meta.get("doc_id", "")), source="labels"
                    )
                )
                wanted_docs[query_id].add(str(meta.get("doc_id", "")))
            else:
                examples.append(Example(query_id, texts[query_id], ref, source="labels"))
    relevant = {q: frozenset(docs) for q, docs in wanted_docs.items()}
    return Resolved(tuple(examples), tuple(unmatched), relevant)


def from_feedback(items: Iterable[Feedback]) -> list[Example]:
    """👍 passages are positives; 👎 passages and "none of these" are that query's negatives."""
    good: dict[str, list[Feedback]] = defaultdict(list)
    bad: dict[str, list[str]] = defaultdict(list)
    for item in items:
        if item.verdict == "good" and item.passage:
            good[item.query].append(item)
        elif item.verdict == "bad" and item.passage:
            bad[item.query].append(item.passage)
    examples = []
    for query, items_for_query in good.items():
        words = _words(query)
        if not words:
            continue
        wrong = tuple(
            dict.fromkeys(p for p in bad.get(query, ()) if p not in {i.passage for i in items_for_query})
        )
        for item in {i.passage: i for i in items_for_query}.values():
            examples.append(
                Example(
                    query_id=f"fb:{query}",
                    query=words,
                    positive=item.passage,
                    positive_id=item.chunk_id,
                    positive_doc=item.doc_id,
                    negatives=wrong,
                    source="feedback",
                )
            )
    return examples


def _words(query: str) -> str:
    """What a model should learn from a typed query: its words, less the query syntax
    (filters, exclusions, the quotes of a phrase)."""
    try:
        return parse_query(query).text
    except QueryError:
        return plain(query).text


def from_structure(library: Library, *, seed: int = 0, limit: int = MAX_STRUCTURE_EXAMPLES) -> list[Example]:
    """(heading, the passage under it) and (title, the document's first passage) pairs.

    Only headings and titles that are words (not a file name, not a bare number) count, and
    the heading text is cut from the front of its passage, so the pair is not a copy.
    """
    examples: list[Example] = []
    seen: set[tuple[str, str]] = set()
    for ids, texts, metas, _ in library.store.iter_chunks(include_embeddings=False):
        for chunk_id, text, meta in zip(ids, texts, metas, strict=True):
            doc_id = str(meta.get("doc_id", ""))
            heading = str(meta.get("heading", "")).split(" > ")[-1].strip()
            title = str(meta.get("title", "")).strip()
            source_stem = str(meta.get("source", "")).rsplit("/", 1)[-1].rsplit(".", 1)[0]
            query = ""
            if heading and _wordy(heading):
                query = heading
            elif meta.get("chunk") == 0 and title and title != source_stem and _wordy(title):
                query = title
            if not query or (doc_id, query) in seen:
                continue
            body = _without_prefix(text, query)
            if len(body) < 40:
                continue
            seen.add((doc_id, query))
            examples.append(
                Example(f"st:{doc_id[:12]}:{query}", query, body, chunk_id, doc_id, source="structure")
            )
    if len(examples) > limit:
        examples = random.Random(seed).sample(examples, limit)
    return examples


def _wordy(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    return len(text) >= _MIN_HEADING_CHARS and letters >= 3 and letters / max(1, len(text)) > 0.5


def _without_prefix(text: str, prefix: str) -> str:
    stripped = text.lstrip("# \n\t")
    if stripped.lower().startswith(prefix.lower()):
        stripped = stripped[len(prefix) :]
    return stripped.strip(" \n\t:.-")


def _chunks_of(doc_ids: set[str], library: Library) -> dict[str, list[tuple[str, str, Any]]]:
    """(chunk id, text, vector) of every passage of these documents, by document."""
    found: dict[str, list[tuple[str, str, Any]]] = defaultdict(list)
    ordered = sorted(doc_ids)
    for start in range(0, len(ordered), 200):
        part = ordered[start : start + 200]
        where = {"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}}
        result = library.store.get_chunks(where=where, include_embeddings=True)
        vectors = np.asarray(result["embeddings"], dtype=np.float32).reshape(len(result["ids"]), -1)
        for cid, text, meta, vector in zip(
            result["ids"], result["documents"] or [], result["metadatas"] or [], vectors, strict=True
        ):
            found[str((meta or {}).get("doc_id", ""))].append((cid, text, vector))
    return found


def require_examples(examples: Sequence[Example], sources: Sequence[str]) -> None:
    if not examples:
        raise EvalDataError(
            f"no training examples from {', '.join(sources)}: give labels that match documents in the "
            "library, record 👍 feedback on search results, or add documents with titles and headings"
        )
