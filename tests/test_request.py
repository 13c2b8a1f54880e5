"""A search request as one value: the query syntax, validation, JSON and back (pure, no library)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from searchapp import InvalidFilterError, QueryError, SearchFilters, query_syntax
from searchapp.query_syntax import parse_query
from searchapp.request import SearchRequest


def _day(day: str, *, end: bool = False) -> int:
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time.max if end else dt.time.min)
    return int(moment.timestamp())


def test_every_part_of_the_syntax_is_read() -> None:
    parsed = parse_query(
        'refund "Travel  Policy" -draft -"old version" type:pdf,MD tag:hr tag:"human resources" '
        "doc:handbook page:3-7 after:2026-01 before:2026"
    )
    assert parsed.text == "refund Travel Policy"
    assert parsed.phrases == ("Travel Policy",)
    assert parsed.exclude == ("draft",)
    assert parsed.exclude_phrases == ("old version",)
    assert parsed.documents == ("handbook",)
    assert parsed.filters == SearchFilters(
        file_types=("pdf", "md"),
        tags=("hr", "human resources"),
        page_min=3,
        page_max=7,
        ingested_after=_day("2026-01-01"),
        ingested_before=_day("2026-12-31", end=True),
    )


@pytest.mark.parametrize(
    "question",
    [
        "ratio: 3 to 1",
        "note:this is not a field",
        "see http://example.com/a:b for details",
        "temperature -5 degrees and - dashes - alone",
        "Type: 2 diabetes treatment",
        "well-known side-effects",
        'a 5" screen',
        "C++ and C# compared",
        "time 10:30 at page 4",
    ],
)
def test_an_ordinary_question_keeps_every_word(question: str) -> None:
    parsed = parse_query(question)
    assert parsed.text == " ".join(question.split())
    assert not parsed.narrows and parsed.filters.is_empty and not parsed.documents


def test_month_and_year_bounds_are_whole_periods() -> None:
    assert parse_query("x before:2026-02").filters.ingested_before == _day("2026-02-28", end=True)
    assert parse_query("x before:2024-12").filters.ingested_before == _day("2024-12-31", end=True)
    assert parse_query("x after:2026").filters.ingested_after == _day("2026-01-01")
    assert parse_query("x after:2026-03-14").filters.ingested_after == _day("2026-03-14")


def test_typographic_quotes_and_aliases() -> None:
    parsed = parse_query("“exact words” type:word,markdown Pages:5 TAG:ops")
    assert parsed.phrases == ("exact words",)
    assert parsed.filters.file_types == ("docx", "md")
    assert (parsed.filters.page_min, parsed.filters.page_max) == (5, 5)
    assert parsed.filters.tags == ("ops",)


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        ('refund "travel policy', QueryError, "a phrase is not closed"),
        ("refund type:xls", InvalidFilterError, r"type:xls is not a file type.*in quotes"),
        ("refund page:x", InvalidFilterError, r"page:x cannot be read.*3-7"),
        ("refund page:7-3", InvalidFilterError, "page range is empty"),
        ("refund after:yesterday", InvalidFilterError, r"after:yesterday cannot be read.*YYYY-MM-DD"),
        ("refund page:3 page:4", InvalidFilterError, "page: is given twice"),
        ("refund before:2026-13", InvalidFilterError, "before:2026-13 cannot be read"),
    ],
)
def test_bad_syntax_is_a_clear_error(query: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        SearchRequest(query)


@pytest.mark.parametrize(
    ("term", "what"),
    [
        ("tag:hr", "tag: values"),
        ('tag:"h r"', "tag: values"),
        ("type:pdf", "type: values"),
        ("doc:handbook", "doc: values"),
        ('"a phrase"', "phrases"),
        ("-draft", "-word exclusions"),
        ('-"a draft"', '-"phrase" exclusions'),
    ],
)
def test_a_query_takes_at_most_1000_terms_of_a_kind_counted_first(term: str, what: str) -> None:
    """20,000 tag: terms cost 2.5 s before the 400, 120,000 over MCP 101 s (each value was
    looked for among the ones before it); repeats count, as each is read."""
    parse_query(" ".join(["refund"] + [term] * 1000))
    with pytest.raises(QueryError, match=f"a query takes at most 1000 {what}; got 1001$"):
        SearchRequest(" ".join(["refund"] + [term] * 1001))
    with pytest.raises(QueryError, match="at most 1000 tag: values; got 2000"):
        parse_query("refund tag:" + ",".join(["a", "b"] * 1000))  # one term, many values


def test_reading_a_query_reads_each_character_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tag:"x"tag:"x"... (no space) was read to its end at every term: quadratic in its length."""
    scanned: list[int] = []
    token_end = query_syntax._token_end

    def counted(query: str, at: int) -> int:
        end = token_end(query, at)
        scanned.append(end - at)
        return end

    monkeypatch.setattr(query_syntax, "_token_end", counted)
    query = "refund " + 'tag:"ab"' * 500 + ' doc:"x"tag:y'
    parsed = parse_query(query)
    assert parsed.filters.tags == ("ab", "y") and parsed.documents == ("x",)
    assert sum(scanned) <= len(query)


def test_syntax_off_takes_every_character_as_a_word() -> None:
    request = SearchRequest('refund "travel policy -draft type:xls', syntax=False)
    assert request.text == 'refund "travel policy -draft type:xls'
    assert not request.parsed.narrows and request.scope.is_empty


def test_a_request_is_validated_when_made() -> None:
    for bad, message in (
        ({"k": 0}, "k must be an integer from 1 to 1000"),
        ({"k": True}, "k must be an integer"),
        ({"mode": "psychic"}, "search mode must be one of"),
        ({"min_score": 1.5}, "min_score must be a number from 0 to 1"),
        ({"group": "yes"}, "'group' must be true or false"),
        ({"query": 7}, "'query' must be text"),
    ):
        with pytest.raises(QueryError, match=message):
            SearchRequest(**bad)  # type: ignore[arg-type]


def test_filters_from_options_and_from_the_query_add_up_or_must_agree() -> None:
    request = SearchRequest(
        "x type:pdf tag:hr page:3-7",
        filters=SearchFilters(file_types=("md",), tags=("hr", "ops"), page_min=3, page_max=7),
    )
    assert request.scope == SearchFilters(
        file_types=("md", "pdf"), tags=("hr", "ops"), page_min=3, page_max=7
    )
    with pytest.raises(InvalidFilterError, match="page_min is given twice"):
        SearchRequest("x page:2-7", filters=SearchFilters(page_min=3, page_max=7))


def test_json_and_back() -> None:
    request = SearchRequest(
        query='refund "travel policy" -draft type:pdf',
        k=25,
        filters=SearchFilters(tags=("hr",), page_min=2, text_contains="desk"),
        mode="keyword",
        min_score=0.25,
        group=True,
    )
    data = json.loads(json.dumps(request.to_dict()))
    assert SearchRequest.from_mapping(data) == request
    assert data["filters"] == {"tags": ["hr"], "page_min": 2, "text_contains": "desk"}
    assert SearchRequest.from_mapping({"query": "x", "min_score": 1, "mode": None}).min_score == 1.0
    assert SearchRequest.from_mapping({}) == SearchRequest()
    like = SearchRequest(like="a" * 64 + ":3", k=3)
    assert SearchRequest.from_mapping(like.to_dict()) == like


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"q": "x"}, "unknown search request key 'q'"),
        ({"parsed": {}}, "unknown search request key 'parsed'"),
        ({"k": "10"}, "k must be an integer"),
        ({"filters": {"$ne": 1}}, "unknown filter"),
        ({"filters": ["pdf"]}, "filters must be a mapping"),
        ({"group": 1}, "'group' must be true or false"),
    ],
)
def test_untrusted_input_is_refused_clearly(raw: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        SearchRequest.from_mapping(raw)
    with pytest.raises(QueryError, match="must be a mapping"):
        SearchRequest.from_mapping(["query"])  # type: ignore[arg-type]
