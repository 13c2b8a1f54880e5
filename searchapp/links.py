"""A search as URL query parameters and back, so a search can be shared and reloaded.

    ?q=refund+policy&mode=keyword&type=pdf&pages=3-7&tag=hr&tag=2026&after=2026-01-01&group=0

Parameters: ``q`` (query), ``mode``, ``doc`` (document ids, repeated), ``type``, ``pages``
(``3-7``, ``3-``, ``-7``), ``tag`` (repeated), ``after`` and ``before`` (YYYY-MM-DD, or
epoch seconds when not a whole day), ``contains``, ``min`` (minimum score), ``k``,
``group`` (1 or 0) and ``like`` (a passage id: "more like this"). Values are untrusted:
filters go through `SearchFilters.from_mapping` like every other filter input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import get_args

from searchapp.config import SearchMode
from searchapp.errors import QueryError
from searchapp.filters import SearchFilters

PARAMS = (
    "q",
    "mode",
    "doc",
    "type",
    "pages",
    "tag",
    "after",
    "before",
    "contains",
    "min",
    "k",
    "group",
    "like",
)
MAX_QUERY_CHARS = 2000
MAX_K = 1000


@dataclass(frozen=True, slots=True)
class SearchLink:
    """Everything a link restores: the query, the mode, the filters and the view options."""

    query: str = ""
    mode: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    min_score: float | None = None
    k: int | None = None
    group: bool | None = None
    like: str = ""

    def to_params(self) -> dict[str, list[str]]:
        """Only what is set, each value as a list (a parameter may repeat)."""
        f = self.filters
        params: dict[str, list[str]] = {
            "q": [self.query] if self.query else [],
            "mode": [self.mode] if self.mode else [],
            "doc": list(f.doc_ids),
            "type": list(f.file_types),
            "pages": [_pages(f.page_min, f.page_max)] if (f.page_min, f.page_max) != (None, None) else [],
            "tag": list(f.tags),
            "after": [] if f.ingested_after is None else [_day_or_epoch(f.ingested_after, end=False)],
            "before": [] if f.ingested_before is None else [_day_or_epoch(f.ingested_before, end=True)],
            "contains": [f.text_contains] if f.text_contains else [],
            "min": [] if self.min_score is None else [f"{self.min_score:g}"],
            "k": [] if self.k is None else [str(self.k)],
            "group": [] if self.group is None else ["1" if self.group else "0"],
            "like": [self.like] if self.like else [],
        }
        return {key: values for key, values in params.items() if values}

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> SearchLink:
        """Read a link's parameters; unknown parameters are ignored.

        Raises:
            InvalidFilterError: a filter value is not valid.
            QueryError: the mode, k, min or group value is not valid.
        """

        def values(key: str) -> list[str]:
            raw = params.get(key, [])
            return [raw] if isinstance(raw, str) else [str(v) for v in raw]

        def one(key: str) -> str:
            found = values(key)
            return found[-1].strip() if found else ""

        filters = SearchFilters.from_mapping(
            {
                "doc_ids": values("doc"),
                "file_types": values("type"),
                "pages": one("pages") or None,
                "tags": values("tag"),
                "ingested_after": one("after") or None,
                "ingested_before": one("before") or None,
                "text_contains": one("contains") or None,
            }
        )
        mode = one("mode") or None
        if mode is not None and mode not in get_args(SearchMode):
            raise QueryError(f"mode must be one of {', '.join(get_args(SearchMode))}; got {mode!r}")
        return cls(
            query=one("q")[:MAX_QUERY_CHARS],
            mode=mode,
            filters=filters,
            min_score=_min_score(one("min")),
            k=_k(one("k")),
            group=_flag(one("group")),
            like=one("like"),
        )


def _pages(low: int | None, high: int | None) -> str:
    if low is not None and low == high:
        return str(low)
    return f"{'' if low is None else low}-{'' if high is None else high}"


def _day_or_epoch(epoch: int, *, end: bool) -> str:
    """A whole local day as YYYY-MM-DD (what the date filters give), anything else as epoch seconds."""
    day = dt.datetime.fromtimestamp(epoch).date()
    bound = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
    return day.isoformat() if int(bound.timestamp()) == epoch else str(epoch)


def _min_score(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise QueryError(f"min must be a number from 0 to 1; got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise QueryError(f"min must be a number from 0 to 1; got {text!r}")
    return value


def _k(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}; got {text!r}")
    return int(text)


def _flag(text: str) -> bool | None:
    if not text:
        return None
    if text not in ("0", "1"):
        raise QueryError(f"group must be 1 or 0; got {text!r}")
    return text == "1"
