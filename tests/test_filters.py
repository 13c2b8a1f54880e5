from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchapp import InvalidFilterError, SearchFilters
from searchapp.filter_values import parse_page_range
from searchapp.filters import combine_and

DOC_A = "a" * 64
DOC_B = "b" * 64


def test_empty_filters_compile_to_nothing() -> None:
    assert SearchFilters().to_where() is None
    assert SearchFilters().to_where_document() is None
    assert SearchFilters().is_empty


def test_single_clause_is_bare_and_two_use_and() -> None:
    assert SearchFilters(file_types=("pdf",)).to_where() == {"file_type": "pdf"}
    assert SearchFilters(file_types=("pdf", "md")).to_where() == {"file_type": {"$in": ["pdf", "md"]}}
    where = SearchFilters(doc_ids=(DOC_A,), page_min=3, page_max=7).to_where()
    assert where == {"$and": [{"doc_id": DOC_A}, {"page": {"$gte": 3}}, {"page": {"$lte": 7}}]}
    assert combine_and([]) is None
    assert combine_and([{"a": 1}]) == {"a": 1}


def test_tags_are_any_of_and_dates_are_numeric() -> None:
    where = SearchFilters(tags=("red", "blue"), ingested_after=100, ingested_before=200).to_where()
    assert where == {
        "$and": [
            {"$or": [{"tags": {"$contains": "red"}}, {"tags": {"$contains": "blue"}}]},
            {"ingested_at": {"$gte": 100}},
            {"ingested_at": {"$lte": 200}},
        ]
    }
    assert SearchFilters(tags=("red",)).to_where() == {"tags": {"$contains": "red"}}


def test_text_contains_is_case_insensitive_and_escaped() -> None:
    clause = SearchFilters(text_contains="C++ (v2).").to_where_document()
    assert clause == {"$regex": r"(?i)C\+\+\ \(v2\)\."}


def test_from_mapping_coerces_user_input() -> None:
    filters = SearchFilters.from_mapping(
        {
            "documents": DOC_A,
            "types": ["pdf", "pdf", "docx"],
            "pages": "3-7",
            "tags": "policy",
            "ingested_after": "2026-01-01",
            "ingested_before": dt.date(2026, 1, 31),
            "text_contains": "  refund ",
        }
    )
    assert filters.doc_ids == (DOC_A,)
    assert filters.file_types == ("pdf", "docx")
    assert (filters.page_min, filters.page_max) == (3, 7)
    assert filters.tags == ("policy",)
    assert filters.text_contains == "refund"
    start = dt.datetime(2026, 1, 1).timestamp()
    end = dt.datetime.combine(dt.date(2026, 1, 31), dt.time.max).timestamp()
    assert filters.ingested_after == int(start)
    assert filters.ingested_before == int(end)


@pytest.mark.parametrize(
    "raw",
    [
        {"documents": {"$ne": "x"}},
        {"documents": [{"$ne": "x"}]},
        {"tags": {"$in": ["a"]}},
        {"file_types": ["pdf", {"$nin": ["md"]}]},
        {"pages": {"$gt": 0}},
        {"page_min": {"$gte": 1}},
        {"page_min": True},
        {"ingested_after": {"$lt": 5}},
        {"text_contains": {"$regex": ".*"}},
        {"$or": [{"doc_id": "x"}]},
        {"source": "x"},
        {"file_types": ["exe"]},
        {"pages": "seven"},
        {"pages": "9-3"},
        {"ingested_after": "yesterday"},
    ],
)
def test_injection_and_bad_values_are_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidFilterError):
        SearchFilters.from_mapping(raw)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(InvalidFilterError, match="tuple of non-empty strings"):
        SearchFilters(doc_ids=({"$ne": "x"},))  # type: ignore[arg-type]
    with pytest.raises(InvalidFilterError, match="expects an integer"):
        SearchFilters(page_min="3")  # type: ignore[arg-type]
    with pytest.raises(InvalidFilterError, match="at most 200 characters"):
        SearchFilters(text_contains="x" * 201)


def test_page_ranges() -> None:
    assert parse_page_range("5") == (5, 5)
    assert parse_page_range("3-") == (3, None)
    assert parse_page_range("-4") == (None, 4)
    assert parse_page_range([2, 9]) == (2, 9)


def test_python_predicate_matches_the_where_semantics() -> None:
    meta = {"doc_id": DOC_A, "file_type": "pdf", "page": 4, "tags": ["x", "y"], "ingested_at": 150}
    assert SearchFilters(doc_ids=(DOC_A, DOC_B), file_types=("pdf",), page_min=4, page_max=4).matches(meta)
    assert SearchFilters(tags=("z", "y"), ingested_after=150, ingested_before=150).matches(meta)
    assert not SearchFilters(tags=("z",)).matches(meta)
    assert not SearchFilters(page_min=5).matches(meta)
    assert not SearchFilters(page_min=1).matches({"file_type": "md"})
    assert SearchFilters(text_contains="ReFuNd").matches(meta, "Refund policy")
    assert not SearchFilters(text_contains="refund").matches(meta, "returns")


# ------------------------------------------------------------------ fuzzing


OUR_OPERATORS = {"$and", "$or", "$in", "$gte", "$lte", "$contains", "$regex"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
filter_keys = st.sampled_from(
    [
        "documents",
        "doc_ids",
        "file_types",
        "types",
        "pages",
        "page_min",
        "page_max",
        "tags",
        "tag",
        "ingested_after",
        "ingested_before",
        "text_contains",
        "$or",
        "$ne",
        "source",
        "page",
    ]
) | st.text(max_size=12)


def _walk(clause: object) -> list[tuple[str, object]]:
    """Every (key, value) pair inside a where clause."""
    pairs: list[tuple[str, object]] = []
    if isinstance(clause, dict):
        for key, value in clause.items():
            pairs.append((key, value))
            pairs.extend(_walk(value))
    elif isinstance(clause, list):
        for item in clause:
            pairs.extend(_walk(item))
    return pairs


@settings(deadline=None)
@given(st.dictionaries(filter_keys, json_values, max_size=5))
def test_any_input_is_either_a_clean_filter_or_an_invalid_filter_error(raw: dict[str, object]) -> None:
    try:
        filters = SearchFilters.from_mapping(raw)
    except InvalidFilterError:
        return
    where = filters.to_where()
    for key, value in _walk(where):
        assert not key.startswith("$") or key in OUR_OPERATORS, key
        if not key.startswith("$") and not isinstance(value, dict):
            assert isinstance(value, str | int), (key, value)
    document = filters.to_where_document()
    assert document is None or set(document) == {"$regex"}
    # A chunk with no metadata and no text passes exactly the filters that filter nothing.
    assert filters.matches({}, "") == filters.is_empty


class _Counted(str):
    """A filter value that counts how often it is read (stripped) and compared."""

    reads = 0
    compares = 0

    def strip(self, chars: str | None = None) -> _Counted:
        _Counted.reads += 1
        return self

    def __eq__(self, other: object) -> bool:
        _Counted.compares += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_an_over_long_list_is_refused_before_any_value_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only token's 95,000 tags cost 72 s of CPU before the 400 (a repeat was looked for
    in a list, value by value, before the list was counted); repeats count too."""
    monkeypatch.setattr(_Counted, "reads", 0)
    for key in ("tags", "documents", "file_types", "exclude_documents"):
        with pytest.raises(InvalidFilterError, match=f"'{key}' takes at most 1000 values; got 2000"):
            SearchFilters.from_mapping({key: [_Counted("pdf")] * 2000})
    assert _Counted.reads == 0
    assert len(SearchFilters.from_mapping({"tags": [f"t{i}" for i in range(1000)]}).tags) == 1000


def test_repeats_are_found_without_comparing_each_value_with_every_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Counted, "compares", 0)
    tags = [_Counted(f"tag-{i}") for i in range(999)]
    filters = SearchFilters.from_mapping({"tags": [*tags, tags[0]]})
    assert filters.tags == tuple(tags)
    assert _Counted.compares < 100  # a list's `in`: about 500,000
