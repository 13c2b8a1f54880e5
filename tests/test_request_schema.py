"""The JSON Schema of a search request says what `SearchRequest.from_mapping` reads, and no more.

The HTTP API serves it and the MCP server's tools publish parts of it, while the core
alone validates; so the keys must be the core's, the bounds the core's, and every
request the core writes (`to_dict`) must meet it. (That no body the schema allows makes
the server fail is checked by schemathesis against a live server, tests/test_api_schema.py.)
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import jsonschema
import pytest

from searchapp.errors import InvalidFilterError, QueryError
from searchapp.filters import SearchFilters
from searchapp.request import MAX_K, MODE_NAMES, SearchRequest
from searchapp.request_schema import filters_schema, request_schema
from searchapp.types import FILE_TYPES

REQUEST = request_schema()
FILTERS = filters_schema()


def test_the_keys_are_the_ones_from_mapping_reads() -> None:
    assert list(REQUEST["properties"]) == [f.name for f in fields(SearchRequest) if f.init]
    assert set(SearchRequest(query="x").to_dict()) == set(REQUEST["properties"])
    with pytest.raises(QueryError) as caught:
        SearchRequest.from_mapping({"nope": 1})
    listed = str(caught.value).split("allowed: ")[1].split(", ")
    assert listed == list(REQUEST["properties"])
    with pytest.raises(InvalidFilterError) as refused:
        SearchFilters.from_mapping({"nope": 1})
    assert set(str(refused.value).split("allowed: ")[1].split(", ")) == set(FILTERS["properties"])
    assert REQUEST["properties"]["filters"] == FILTERS
    assert REQUEST["additionalProperties"] is False and FILTERS["additionalProperties"] is False


@pytest.mark.parametrize(
    "request_",
    [
        SearchRequest(query="refund"),
        SearchRequest(query='refund "travel policy" -draft type:pdf tag:hr page:3-7 after:2026-01', k=MAX_K),
        SearchRequest(like="a" * 64 + ":3", mode="dense", min_score=0.0, group=True),
        SearchRequest(
            query="x",
            k=1,
            mode="keyword",
            min_score=1.0,
            syntax=False,
            filters=SearchFilters(
                doc_ids=("a" * 64,),
                file_types=FILE_TYPES,
                page_min=2,
                page_max=9,
                tags=("hr", "two words"),
                ingested_after=1_700_000_000,
                ingested_before=1_800_000_000,
                text_contains="laptop",
            ),
        ),
    ],
)
def test_every_request_the_core_writes_meets_the_schema_and_reads_back(request_: SearchRequest) -> None:
    data = request_.to_dict()
    jsonschema.validate(data, REQUEST)
    assert SearchRequest.from_mapping(data) == request_


@pytest.mark.parametrize(
    "fields_",
    [
        {"k": 1},
        {"k": MAX_K},
        *({"mode": mode} for mode in MODE_NAMES),
        {"mode": None},
        {"min_score": 0},
        {"min_score": 1},
        {"filters": {"file_types": list(FILE_TYPES)}},
        {"filters": {"pages": "3-7"}},
        {"filters": {"pages": 5}},
        {"filters": {"ingested_after": "2026-01-31", "ingested_before": 1_900_000_000}},
        {"filters": {"text_contains": "x" * FILTERS["properties"]["text_contains"]["maxLength"]}},
    ],
)
def test_the_edges_the_schema_allows_the_core_takes(fields_: dict[str, Any]) -> None:
    body = {"query": "refund", **fields_}
    jsonschema.validate(body, REQUEST)
    SearchRequest.from_mapping(body)


@pytest.mark.parametrize(
    "fields_",
    [
        {"k": 0},
        {"k": MAX_K + 1},
        {"k": "5"},
        {"mode": "magic"},
        {"min_score": 1.5},
        {"group": "yes"},
        {"query": 5},
        {"filters": {"file_types": ["exe"]}},
        {"filters": {"page_min": 0}},
        {"filters": {"visible_to": ["hr"]}},
        {"filters": {"text_contains": "x" * (FILTERS["properties"]["text_contains"]["maxLength"] + 1)}},
        {"visible_to": ["hr"]},
    ],
)
def test_what_the_schema_refuses_the_core_refuses(fields_: dict[str, Any]) -> None:
    body = {"query": "refund", **fields_}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, REQUEST)
    with pytest.raises(QueryError):
        SearchRequest.from_mapping(body)
