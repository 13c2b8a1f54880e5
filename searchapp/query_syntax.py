"""The query syntax of the search box, the CLI and the API: words, phrases, exclusions, filters.

    refund "travel policy" -draft type:pdf tag:hr page:3-7 after:2026-01 doc:handbook.pdf

- words are searched for by meaning and by keyword, as always;
- ``"exact phrase"`` keeps only passages that contain the phrase (ignoring case); its
  words are searched for too. Typographic quotes (“…”) work as well;
- ``-word`` keeps out passages holding the word (as the keyword index reads it: any case,
  any ending, so ``-draft`` also keeps out "Drafts"); ``-"a phrase"`` keeps out passages
  containing the phrase;
- ``type:pdf`` (pdf, txt or text, md or markdown, html, docx or word; ``type:pdf,md`` for
  either), ``tag:hr`` (any of the tags given), ``doc:NAME`` (a document's name, part of
  it, or its id), ``page:3-7`` (also ``page:5``, ``page:3-``), ``after:`` and ``before:``
  (``2026-03-31``, ``2026-03`` or ``2026``: whole days, inclusive) filter as the same
  options do.

Only these field names are read as filters, and only when a value follows the colon
with no space, so an ordinary question keeps its words: "ratio: 3 to 1", "note:this" or
"http://example.com" are searched for as typed. A ``-`` before a digit or a space is
kept too ("-5 degrees"). What is an error: a phrase left open, a filter whose value
cannot be read (``type:xls``, ``page:x``, ``after:yesterday``), a page range or date
given twice, or a query that holds nothing to search for but filters and exclusions.
An error names what was expected and how to search for the characters as plain words
(inside quotes).

The design follows Whoosh (the parser behind paperless-ngx) in reading ``field:value``
only for known fields and leaving anything else as text, and Tantivy's lenient parser in
never failing on ordinary punctuation; unlike either, it has no boolean operators (the
ranking is by meaning, so AND/OR would mislead).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from searchapp.errors import InvalidFilterError, QueryError
from searchapp.filter_values import MAX_LIST_ITEMS, parse_page_range, parse_time_bound
from searchapp.filters import SearchFilters
from searchapp.types import FILE_TYPES

FIELDS = ("type", "tag", "doc", "page", "after", "before")
_FIELD_ALIASES = {"types": "type", "tags": "tag", "document": "doc", "pages": "page"}
TYPE_ALIASES = {"text": "txt", "markdown": "md", "htm": "html", "word": "docx"}
_OPEN_QUOTES = '"“„'
_CLOSE_QUOTES = {'"': '"', "“": "”", "„": "“"}
_WORD_START = re.compile(r"[^\W\d_]", re.UNICODE)  # a letter: what makes "-x" an exclusion
_YEAR = re.compile(r"\d{4}")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_PLAIN = "put them in quotes to search for them as plain words"
# A field name (the longest is 8 letters) and a colon before an opening quote.
_QUOTED_FIELD = re.compile(r'([^\s:]{1,8}):["“„]')
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query read with the syntax above.

    Attributes:
        text: the words to rank by: the query less its filters and exclusions, phrases
            without their quotes, in the order typed.
        phrases: passages must contain each of these (ignoring case).
        exclude: passages holding any of these words are left out.
        exclude_phrases: passages containing any of these are left out.
        documents: ``doc:`` values (names, parts of names or ids), for the library to resolve.
        filters: the other field filters.
    """

    text: str = ""
    phrases: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_phrases: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    filters: SearchFilters = field(default_factory=SearchFilters)

    @property
    def narrows(self) -> bool:
        """True when the query itself keeps passages out (phrases or exclusions)."""
        return bool(self.phrases or self.exclude or self.exclude_phrases)


def plain(text: str) -> ParsedQuery:
    """A query taken as typed, every character a word (no syntax)."""
    return ParsedQuery(text=" ".join(text.split()))


def parse_query(query: str) -> ParsedQuery:
    """Read `query` with the syntax in the module docstring.

    Raises:
        QueryError: a phrase left open.
        InvalidFilterError: a filter value that cannot be read, or one given twice.
    """
    words: list[str] = []
    phrases: list[str] = []
    exclude: list[str] = []
    exclude_phrases: list[str] = []
    values: dict[str, list[str]] = {name: [] for name in FIELDS}
    at, end = 0, len(query)
    while at < end:
        if query[at].isspace():
            at += 1
            continue
        char = query[at]
        if char in _OPEN_QUOTES:
            phrase, at = _quoted(query, at)
            if phrase:
                phrases.append(phrase)
                words.append(phrase)
            continue
        if char == "-" and at + 1 < end and query[at + 1] in _OPEN_QUOTES:
            phrase, at = _quoted(query, at + 1)
            if phrase:
                exclude_phrases.append(phrase)
            continue
        quoted = _QUOTED_FIELD.match(query, at)
        if quoted and _field(quoted.group(1)) in FIELDS:
            # tag:"a b": read to the closing quote, never first to the next space (in a query
            # of tag:"x"tag:"x"... with no space, that is the query's end, at every term).
            value, at = _quoted(query, quoted.end() - 1)
            if value:
                values[_field(quoted.group(1))].append(value)
            continue
        token_end = _token_end(query, at)
        token = query[at:token_end]
        if char == "-" and _WORD_START.match(token, 1):
            exclude.append(token[1:])
            at = token_end
            continue
        name, colon, rest = token.partition(":")
        if colon and _field(name) in FIELDS and rest:
            values[_field(name)].append(rest)
        else:
            words.append(token)
        at = token_end
    _at_most("phrases", len(phrases))
    _at_most("-word exclusions", len(exclude))
    _at_most('-"phrase" exclusions', len(exclude_phrases))
    documents, filters = _fields(values)
    return ParsedQuery(
        text=" ".join(" ".join(words).split()),
        phrases=tuple(dict.fromkeys(phrases)),
        exclude=tuple(dict.fromkeys(exclude)),
        exclude_phrases=tuple(dict.fromkeys(exclude_phrases)),
        documents=documents,
        filters=filters,
    )


def _field(name: str) -> str:
    return _FIELD_ALIASES.get(name.casefold(), name.casefold())


def _token_end(query: str, at: int) -> int:
    space = _SPACE.search(query, at)
    return space.start() if space else len(query)


def _at_most(what: str, count: int) -> None:
    """Refuse a query with more than `MAX_LIST_ITEMS` of one kind of term, counted before
    any of them is read further (each costs the searcher work: a scan, a lookup)."""
    if count > MAX_LIST_ITEMS:
        raise QueryError(f"a query takes at most {MAX_LIST_ITEMS} {what}; got {count}")


def _quoted(query: str, at: int) -> tuple[str, int]:
    """The text inside the quotes opening at `at`, and where reading goes on."""
    opening = query[at]
    closings = {_CLOSE_QUOTES[opening], '"', "”"}
    end = at + 1
    while end < len(query) and query[end] not in closings:
        end += 1
    if end >= len(query):
        raise QueryError(
            f"a phrase is not closed: {query[at : at + 40]!r}; add the closing quote, "
            "or remove the opening one"
        )
    return " ".join(query[at + 1 : end].split()), end + 1


def _fields(values: dict[str, list[str]]) -> tuple[tuple[str, ...], SearchFilters]:
    raw: dict[str, Any] = {}
    parts = {name: [p for v in values[name] for p in v.split(",") if p.strip()] for name in ("type", "tag")}
    for name, terms in (("type", parts["type"]), ("tag", parts["tag"]), ("doc", values["doc"])):
        _at_most(f"{name}: values", len(terms))
    types = [_file_type(part) for part in parts["type"]]
    if types:
        raw["file_types"] = types
    tags = [part.strip() for part in parts["tag"]]
    if tags:
        raw["tags"] = tags
    for name, key in (("page", "pages"), ("after", "ingested_after"), ("before", "ingested_before")):
        given = list(dict.fromkeys(values[name]))
        if len(given) > 1:
            raise InvalidFilterError(
                f"{name}: is given twice ({', '.join(f'{name}:{v}' for v in given)}); give it once"
            )
        if given:
            raw[key] = _value(name, given[0])
    documents = tuple(dict.fromkeys(v.strip() for v in values["doc"] if v.strip()))
    return documents, SearchFilters.from_mapping(raw)


def _file_type(value: str) -> str:
    kind = value.strip().casefold().lstrip(".")
    kind = TYPE_ALIASES.get(kind, kind)
    if kind not in FILE_TYPES:
        raise InvalidFilterError(
            f"type:{value} is not a file type this library holds; expected one of "
            f"{', '.join(FILE_TYPES)} (or text, markdown, word); {_PLAIN}"
        )
    return kind


def _value(name: str, value: str) -> Any:
    """A page range or a date bound, read as the same options read them."""
    try:
        if name == "page":
            return parse_page_range(value)
        return parse_time_bound(_date(value, end=name == "before"), end_of_day=name == "before")
    except InvalidFilterError as exc:
        expected = "a page or range like 3-7, 5 or 3-" if name == "page" else "YYYY-MM-DD, YYYY-MM or YYYY"
        raise InvalidFilterError(
            f"{name}:{value} cannot be read ({exc}); expected {expected}; {_PLAIN}"
        ) from None


def _date(value: str, *, end: bool) -> Any:
    """A year or a month as its first (or last) day; anything else as typed."""
    if _YEAR.fullmatch(value):
        return dt.date(int(value), 12 if end else 1, 31 if end else 1)
    month = _MONTH.fullmatch(value)
    if month and 1 <= int(month.group(2)) <= 12:
        year, number = int(month.group(1)), int(month.group(2))
        if not end:
            return dt.date(year, number, 1)
        following = dt.date(year + number // 12, number % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    return value
