"""A search as one value: what to look for, how many, where, in which mode.

Every front end builds a `SearchRequest` (the CLI from its arguments, the UI from its
widgets and the URL, the Python API from keyword arguments or `from_mapping`, an HTTP
client from JSON), and the library answers it (`Library.find`). It is validated once,
when it is made; the query syntax (`searchapp.query_syntax`) is read then too.

As JSON (`to_dict` / `from_mapping`; every key optional, unknown keys refused):

    {"query": "refund \\"travel policy\\" -draft type:pdf", "k": 10, "mode": "adaptive",
     "filters": {"tags": ["hr"], "pages": "3-7"}, "min_score": 0.3, "group": true}

- ``query``: what to look for, with the query syntax unless ``syntax`` is false;
- ``like``: instead of words, a stored passage's id ("more like this"); the passage's own
  vector and text are the query, and the query's filters, phrases and exclusions apply;
- ``k``: results, 1-1000 (passages; with ``group``, documents);
- ``filters``: what `SearchFilters.from_mapping` accepts;
- ``mode``: adaptive, hybrid, dense or keyword (null: the library's default); semantic
  is another name for dense (what the UI and the results call it), read as dense;
- ``min_score``: leave out results scoring below this (0-1);
- ``group``: one result per document, its best passage first;
- ``syntax``: read ``query`` with the query syntax (default true; false takes every
  character as a word, as the evaluation does with its datasets' queries).

Filters given both as options and in the query add up where a filter takes several values
(types, tags, documents: any of them); a page range, date or "text contains" given in both
places must agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, get_args

import numpy as np
import numpy.typing as npt

from searchapp.config import MODE_SYNONYMS, SearchMode, mode_list
from searchapp.errors import QueryError
from searchapp.filter_values import one_value
from searchapp.filters import SearchFilters
from searchapp.query_syntax import ParsedQuery, parse_query, plain

SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
# What a request's mode may be given as: the modes and their other names (read as the mode).
MODE_NAMES: tuple[str, ...] = SEARCH_MODES + tuple(MODE_SYNONYMS)
MAX_K = 1000
MAX_QUERY_CHARS = 20_000  # longer text is cut before tokenizing (`searchapp.retrieval.query`)
_SINGLE = ("page_min", "page_max", "ingested_after", "ingested_before", "text_contains")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One search, validated (see the module docstring for every field).

    `parsed` is the query read with the syntax, and `scope` the filters that apply: the
    given `filters` and the query's own, merged (``doc:`` names are resolved by the
    library, `Library.find`, into `filters.doc_ids`).

    Raises:
        QueryError: a value of the wrong type or out of range, or bad query syntax.
        InvalidFilterError: a filter that cannot be read, or one given twice differently.
    """

    query: str = ""
    like: str = ""
    k: int = 10
    filters: SearchFilters = field(default_factory=SearchFilters)
    mode: str | None = None
    min_score: float | None = None
    group: bool = False
    syntax: bool = True
    parsed: ParsedQuery = field(init=False, repr=False, compare=False)
    scope: SearchFilters = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("query", "like"):
            if not isinstance(getattr(self, name), str):
                raise QueryError(f"{name!r} must be text; got {type(getattr(self, name)).__name__}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise QueryError(f"k must be an integer from 1 to {MAX_K}; got {self.k!r}")
        if not isinstance(self.filters, SearchFilters):
            raise QueryError(f"filters must be SearchFilters; got {type(self.filters).__name__}")
        if self.mode is not None:
            if self.mode not in MODE_NAMES:
                raise QueryError(f"search mode must be one of {mode_list()}; got {self.mode!r}")
            object.__setattr__(self, "mode", MODE_SYNONYMS.get(self.mode, self.mode))
        score = self.min_score
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise QueryError(f"min_score must be a number from 0 to 1; got {score!r}")
        if score is not None and not 0.0 <= score <= 1.0:
            raise QueryError(f"min_score must be a number from 0 to 1; got {score!r}")
        for name in ("group", "syntax"):
            if not isinstance(getattr(self, name), bool):
                raise QueryError(f"{name!r} must be true or false; got {getattr(self, name)!r}")
        parsed = parse_query(self.query) if self.syntax else plain(self.query)
        object.__setattr__(self, "parsed", parsed)
        object.__setattr__(self, "scope", merged(self.filters, parsed.filters))

    # ------------------------------------------------------------------ reading

    @property
    def text(self) -> str:
        """The words to rank by (the query less its syntax)."""
        return self.parsed.text

    @property
    def narrowed(self) -> bool:
        """True when anything keeps passages out: filters, phrases or exclusions."""
        return not self.scope.is_empty or self.parsed.narrows

    def with_defaults(self, *, mode: str) -> SearchRequest:
        """This request with `mode` where it names none."""
        return self if self.mode is not None else replace(self, mode=mode)

    # ---------------------------------------------------------------- JSON and back

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, and `from_mapping(to_dict())` gives an equal request."""
        data: dict[str, Any] = {
            "query": self.query,
            "like": self.like,
            "k": self.k,
            "filters": self.filters.to_dict(),
            "mode": self.mode,
            "min_score": self.min_score,
            "group": self.group,
            "syntax": self.syntax,
        }
        return data

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SearchRequest:
        """Validate untrusted input (JSON, a form) into a request; keys as in `to_dict`.

        Raises:
            QueryError: an unknown key, or a value of the wrong type.
            InvalidFilterError: a filter that `SearchFilters.from_mapping` refuses.
        """
        if not isinstance(raw, Mapping):
            raise QueryError(
                f"a search request must be a mapping of names to values; got {type(raw).__name__}"
            )
        allowed = [f.name for f in fields(cls) if f.init]
        unknown = [key for key in raw if key not in allowed]
        if unknown:
            raise QueryError(f"unknown search request key {unknown[0]!r}; allowed: {', '.join(allowed)}")
        values = {key: value for key, value in raw.items() if value is not None}
        if "filters" in values and not isinstance(values["filters"], SearchFilters):
            values["filters"] = SearchFilters.from_mapping(values["filters"])
        if isinstance(values.get("min_score"), int) and not isinstance(values["min_score"], bool):
            values["min_score"] = float(values["min_score"])
        return cls(**values)


def merged(given: SearchFilters, typed: SearchFilters) -> SearchFilters:
    """The filters of both: values added where a filter takes several, one value where it takes one.

    Raises:
        InvalidFilterError: a single-valued filter set differently in each.
    """
    if typed.is_empty:
        return given
    if given.is_empty:
        return typed
    values: dict[str, Any] = {}
    for name in ("doc_ids", "file_types", "tags", "exclude_doc_ids"):
        values[name] = tuple(dict.fromkeys(getattr(given, name) + getattr(typed, name)))
    for name in _SINGLE:
        values[name] = one_value(
            name, getattr(given, name), getattr(typed, name), first="as an option", second="in the query"
        )
    # Visibility is never typed (`Library.view` sets it on the given filters): it must survive.
    return SearchFilters(**values, visible_to=given.visible_to)


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    """A request made ready to score: its text cut to the model's window and embedded.

    `terms` are what BM25 matches, `exclude_terms` the index terms of the query's
    ``-word`` exclusions; `readable` is how much of the text the model can read (0-1).
    """

    text: str
    vector: npt.NDArray[np.float32] = field(repr=False)
    terms: tuple[str, ...] = ()
    exclude_terms: tuple[str, ...] = ()
    readable: float = 1.0
    truncated: bool = False
    notices: tuple[str, ...] = ()
