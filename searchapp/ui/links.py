"""A `SearchRequest` as URL query parameters and back, so a search can be shared and reloaded.

    ?q=refund+policy+type:pdf&mode=keyword&pages=3-7&tag=hr&tag=2026&after=2026-01-01&group=0

Parameters: ``q`` (the query, with its syntax), ``mode``, ``doc`` (document ids,
repeated), ``type``, ``pages`` (``3-7``, ``3-``, ``-7``), ``tag`` (repeated), ``after``
and ``before`` (YYYY-MM-DD, or epoch seconds when not a whole day), ``contains``, ``min``
(minimum score), ``k``, ``group`` (1 or 0) and ``like`` (a passage id: "more like
this"). A parameter equal to the page's default is left out (`DEFAULTS`). Values are
untrusted: they become a request only through `SearchRequest`'s and
`SearchFilters.from_mapping`'s validation, like every other input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from searchapp.errors import QueryError
from searchapp.filters import SearchFilters
from searchapp.request import MAX_K, SearchRequest

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
DEFAULTS = SearchRequest(k=10, group=True)  # the search page's: ten results, grouped by document


def to_params(request: SearchRequest, defaults: SearchRequest = DEFAULTS) -> dict[str, list[str]]:
    """What differs from `defaults`, each value as a list (a parameter may repeat)."""
    f = request.filters
    params: dict[str, list[str]] = {
        "q": [request.query] if request.query else [],
        "mode": [request.mode] if request.mode and request.mode != defaults.mode else [],
        "doc": list(f.doc_ids),
        "type": list(f.file_types),
        "pages": [_pages(f.page_min, f.page_max)] if (f.page_min, f.page_max) != (None, None) else [],
        "tag": list(f.tags),
        "after": [] if f.ingested_after is None else [_day_or_epoch(f.ingested_after, end=False)],
        "before": [] if f.ingested_before is None else [_day_or_epoch(f.ingested_before, end=True)],
        "contains": [f.text_contains] if f.text_contains else [],
        "min": [] if request.min_score in (None, defaults.min_score) else [f"{request.min_score:g}"],
        "k": [] if request.k == defaults.k else [str(request.k)],
        "group": [] if request.group == defaults.group else ["1" if request.group else "0"],
        "like": [request.like] if request.like else [],
    }
    return {key: values for key, values in params.items() if values}


def from_params(
    params: Mapping[str, str | Sequence[str]], defaults: SearchRequest = DEFAULTS
) -> SearchRequest:
    """Read a link's parameters; unknown parameters are ignored, missing ones are `defaults`'.

    Raises:
        InvalidFilterError: a filter value is not valid.
        QueryError: the query, mode, k, min or group value is not valid.
    """

    def values(key: str) -> list[str]:  # an empty parameter (`?tag=`) says nothing
        raw = params.get(key, [])
        return [v for v in ([raw] if isinstance(raw, str) else [str(v) for v in raw]) if v.strip()]

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
    return SearchRequest(
        query=one("q")[:MAX_QUERY_CHARS],
        like=one("like"),
        k=_k(one("k")) or defaults.k,
        filters=filters,
        mode=one("mode") or defaults.mode,
        min_score=_min_score(one("min")),
        group=defaults.group if _flag(one("group")) is None else bool(_flag(one("group"))),
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
