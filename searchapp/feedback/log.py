"""The feedback log of one collection: add, list, export and import (JSONL).

One record per (user, query, passage): a person who changes their mind replaces their
earlier verdict on the same passage for the same query, rather than adding a contradiction.
"No good match" ("none of these are right") is one record per (user, query), naming the
passages that were shown. Queries are compared with their whitespace folded and case kept
(case can matter for names and acronyms).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from searchapp.errors import QueryError
from searchapp.storage.records import RecordTable
from searchapp.types import Hit, StoredPassage

if TYPE_CHECKING:
    from searchapp.library import Library

Verdict = Literal["good", "bad", "none"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
TABLE = "feedback"
MAX_QUERY_CHARS = 2000
MAX_PASSAGE_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Feedback:
    """One verdict on one search.

    Attributes:
        feedback_id: stable for (user, query, passage): a new verdict replaces the old one.
        query: the query as the user typed it (whitespace folded).
        verdict: "good" (👍: this passage answers the query), "bad" (👎: it does not), or
            "none" (none of the shown passages is right).
        mode: the retrieval mode that produced the results.
        chunk_id: the passage judged ("" for "none").
        passage: its text as shown, so the verdict survives a re-ingest that changes ids.
        doc_id, source: the passage's document.
        rank: where the passage was shown (1 = first), 0 when unknown or for "none".
        shown: for "none", the passages that were shown (chunk ids, best first).
        user: who said it (the signed-in user's e-mail or name), "" when nobody was signed in.
        at: when (epoch seconds).
    """

    feedback_id: str
    query: str
    verdict: Verdict
    mode: str = ""
    chunk_id: str = ""
    passage: str = ""
    doc_id: str = ""
    source: str = ""
    rank: int = 0
    shown: tuple[str, ...] = field(default=())
    user: str = ""
    at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shown"] = list(self.shown)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Feedback:
        """A record from its dict form (an export line); an id is derived when missing.

        Raises:
            QueryError: a field is missing or has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise QueryError(f"a feedback record is a JSON object; got {type(data).__name__}")
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise QueryError(f"unknown feedback fields {sorted(unknown)}; known: {', '.join(_FIELDS)}")
        query = _clean_query(data.get("query"))
        verdict = _verdict(data.get("verdict"))
        chunk_id = _text(data, "chunk_id")
        if verdict != "none" and not chunk_id and not _text(data, "passage"):
            raise QueryError(f"a {verdict!r} verdict names its passage (chunk_id or passage); got neither")
        user = _text(data, "user")
        rank = data.get("rank", 0)
        at = data.get("at", 0.0)
        shown = data.get("shown", ())
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
            raise QueryError(f"rank is a whole number >= 0; got {rank!r}")
        if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
            raise QueryError(f"at is a time in epoch seconds; got {at!r}")
        if not isinstance(shown, list | tuple) or not all(isinstance(s, str) for s in shown):
            raise QueryError(f"shown is a list of passage ids; got {shown!r}")
        passage = _text(data, "passage")[:MAX_PASSAGE_CHARS]
        return cls(
            feedback_id=_text(data, "feedback_id") or feedback_key(user, query, chunk_id or passage, verdict),
            query=query,
            verdict=verdict,
            mode=_text(data, "mode"),
            chunk_id=chunk_id,
            passage=passage,
            doc_id=_text(data, "doc_id"),
            source=_text(data, "source"),
            rank=rank,
            shown=tuple(shown),
            user=user,
            at=float(at) or time.time(),
        )


_FIELDS = tuple(Feedback.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: records written, and the lines that were refused (line, why)."""

    written: int
    errors: tuple[tuple[int, str], ...] = ()

    def summary(self) -> str:
        text = f"{self.written} feedback records imported"
        return text + (f", {len(self.errors)} lines refused" if self.errors else "")


def feedback_key(user: str, query: str, passage: str, verdict: str) -> str:
    """The record id: one per (user, query, passage); "none" is one per (user, query)."""
    target = "*none*" if verdict == "none" else passage
    raw = json.dumps([user, query, target], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


class FeedbackLog:
    """The feedback of one collection, in its record table."""

    def __init__(self, table: RecordTable) -> None:
        self.table = table

    @classmethod
    def of(cls, library: Library) -> FeedbackLog:
        return cls(library.store.table(TABLE))

    def add(
        self,
        query: str,
        verdict: str,
        *,
        hit: Hit | StoredPassage | None = None,
        shown: Sequence[Hit | StoredPassage] = (),
        mode: str = "",
        user: str = "",
        passage: str = "",
        chunk_id: str = "",
        rank: int | None = None,
    ) -> Feedback:
        """Record a verdict; it replaces this user's earlier verdict on the same passage and query.

        "good" and "bad" name their passage (`hit`, or `chunk_id`/`passage`); "none" names
        the passages that were shown (`shown`). `rank` is where the passage was shown
        (default: the hit's own rank; 0, unknown, for a passage fetched by id).

        Raises:
            QueryError: an unknown verdict, an empty query, or a verdict without its passage.
        """
        data: dict[str, Any] = {
            "query": query,
            "verdict": verdict,
            "mode": mode,
            "user": user,
            "chunk_id": chunk_id,
            "passage": passage,
            "shown": [h.chunk_id for h in shown],
            "at": time.time(),
        }
        if hit is not None:
            if rank is None:
                rank = hit.rank if isinstance(hit, Hit) else 0
            data.update(
                chunk_id=hit.chunk_id, passage=hit.text, doc_id=hit.doc_id, source=hit.source, rank=rank
            )
        item = Feedback.from_dict(data)
        self._write([item])
        return item

    def remove(self, feedback_id: str) -> None:
        """Take a verdict back (clicking 👍 again, say)."""
        self.table.delete([feedback_id])

    def get(self, feedback_id: str) -> Feedback | None:
        record = self.table.get(feedback_id)
        return Feedback.from_dict(record) if record is not None else None

    def list(
        self, *, verdict: str | None = None, user: str | None = None, query: str | None = None
    ) -> list[Feedback]:
        """Every verdict (or those matching), oldest first."""
        where: dict[str, Any] = {}
        if verdict is not None:
            where["verdict"] = _verdict(verdict)
        if user is not None:
            where["user"] = user
        if query is not None:
            where["query"] = _clean_query(query)
        if len(where) > 1:
            where = {"$and": [{key: value} for key, value in where.items()]}
        found = [Feedback.from_dict(value) for value in self.table.find(where or None).values()]
        return sorted(found, key=lambda item: (item.at, item.feedback_id))

    def for_query(self, query: str, user: str) -> dict[str, Feedback]:
        """This user's verdicts on one query, by passage id ("*none*" for "none of these")."""
        return {
            (item.chunk_id if item.verdict != "none" else "*none*"): item
            for item in self.list(query=query)
            if item.user == user
        }

    def count(self) -> int:
        return self.table.count()

    def export_lines(self) -> Iterator[str]:
        """One JSON object per line, oldest first (`import_lines` reads them back)."""
        for item in self.list():
            yield json.dumps(item.to_dict(), ensure_ascii=False, sort_keys=True)

    def import_lines(self, lines: Iterable[str]) -> ImportReport:
        """Read JSONL feedback (an export, or records written by another tool).

        A record with an id already held replaces it, so importing the same file twice
        changes nothing. A bad line is reported with its number; the others are imported.
        """
        items: list[Feedback] = []
        errors: list[tuple[int, str]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                items.append(Feedback.from_dict(json.loads(line)))
            except (ValueError, QueryError) as exc:
                errors.append((number, str(exc)))
        self._write(items)
        return ImportReport(written=len(items), errors=tuple(errors))

    def _write(self, items: Sequence[Feedback]) -> None:
        self.table.put_many(
            [
                (
                    item.feedback_id,
                    item.to_dict(),
                    {
                        "verdict": item.verdict,
                        "query": item.query,
                        "user": item.user,
                        "mode": item.mode,
                        "chunk_id": item.chunk_id,
                        "at": item.at,
                    },
                )
                for item in items
            ]
        )


def _clean_query(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QueryError(f"feedback needs the query it judges; got {value!r}")
    return " ".join(value.split())[:MAX_QUERY_CHARS]


def _verdict(value: Any) -> Verdict:
    if value not in VERDICTS:
        raise QueryError(f"a verdict is one of {', '.join(VERDICTS)}; got {value!r}")
    verdict: Verdict = value
    return verdict


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise QueryError(f"{key} is text; got {type(value).__name__} {value!r}"[:200])
    return value
