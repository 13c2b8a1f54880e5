"""A search request as URL parameters and back (`searchapp.ui.links`), and the signed "Open at page" tokens."""

from __future__ import annotations

import datetime as dt

import pytest

from searchapp import InvalidFilterError, QueryError, SearchFilters
from searchapp.request import SearchRequest
from searchapp.ui import original_links
from searchapp.ui.links import DEFAULTS, from_params, to_params

DAY = dt.date(2026, 3, 14)


def _epoch(day: dt.date, end: bool) -> int:
    return int(dt.datetime.combine(day, dt.time.max if end else dt.time.min).timestamp())


@pytest.mark.parametrize(
    "search",
    [
        DEFAULTS,
        SearchRequest(query="refund policy & returns type:pdf -draft", mode="keyword", group=True),
        SearchRequest(
            query="x",
            mode="hybrid",
            filters=SearchFilters(
                doc_ids=("a" * 64, "b" * 64),
                file_types=("pdf", "md"),
                page_min=3,
                page_max=7,
                tags=("hr", "2026", "a b"),
                ingested_after=_epoch(DAY, end=False),
                ingested_before=_epoch(DAY, end=True),
                text_contains="front desk",
            ),
            min_score=0.35,
            k=25,
            group=False,
            like="a" * 64 + ":12",
        ),
        SearchRequest(filters=SearchFilters(page_min=4), group=True),
        SearchRequest(filters=SearchFilters(page_max=9, ingested_after=1_700_000_123)),  # not a whole day
        SearchRequest(filters=SearchFilters(page_min=5, page_max=5), group=True, k=50, min_score=0.5),
    ],
)
def test_a_link_round_trips(search: SearchRequest) -> None:
    assert from_params(to_params(search)) == search


def test_params_are_short_and_readable() -> None:
    request = SearchRequest(
        query="refunds",
        mode="dense",
        filters=SearchFilters(
            file_types=("pdf",), page_min=3, tags=("hr", "2026"), ingested_after=_epoch(DAY, False)
        ),
        group=False,
    )
    assert to_params(request) == {
        "q": ["refunds"],
        "mode": ["dense"],
        "type": ["pdf"],
        "pages": ["3-"],
        "tag": ["hr", "2026"],
        "after": ["2026-03-14"],
        "group": ["0"],
    }
    assert from_params({"q": "refunds", "unknown": "ignored"}) == SearchRequest(query="refunds", group=True)
    # An empty parameter (a hand-edited link, a form left blank) says nothing, as before.
    assert from_params({"q": "refunds", "tag": "", "type": [" "]}) == SearchRequest(
        query="refunds", group=True
    )


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"mode": "psychic"}, QueryError, "mode must be one of"),
        ({"q": 'refund "policy'}, QueryError, "a phrase is not closed"),
        ({"q": "refund type:exe"}, InvalidFilterError, "type:exe is not a file type"),
        ({"k": "0"}, QueryError, "k must be a whole number"),
        ({"k": "ten"}, QueryError, "k must be a whole number"),
        ({"min": "2"}, QueryError, "min must be a number from 0 to 1"),
        ({"group": "yes"}, QueryError, "group must be 1 or 0"),
        ({"pages": "seven"}, InvalidFilterError, "page range must look like"),
        ({"type": "exe"}, InvalidFilterError, "unknown file type"),
        ({"after": "last tuesday"}, InvalidFilterError, "a date filter expects"),
        ({"pages": "7-3"}, InvalidFilterError, "page range is empty"),
    ],
)
def test_bad_params_are_clear_errors(params: dict[str, str], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        from_params(params)


def test_an_over_long_query_is_cut() -> None:
    assert len(from_params({"q": "x" * 5000}).query) == 2000


# ----------------------------------------------------------- "Open at page" tokens

SECRET = b"k" * 32


def test_a_token_names_its_collection_and_document_under_one_secret() -> None:
    """A token grants nothing by itself (every request is checked); it only names a document,
    and it never expires, so links survive a restart (tests/test_original_routes.py)."""
    token = original_links.make_token("lib", "d" * 64, secret=SECRET)
    assert original_links.read_token(token, secret=SECRET) == original_links.LinkTarget("lib", "d" * 64)
    assert original_links.read_token(token, secret=b"another secret" * 3) is None


def test_a_changed_or_malformed_token_is_refused() -> None:
    token = original_links.make_token("lib", "d" * 64, secret=SECRET)
    body, signature = token.split(".")
    other = original_links.make_token("lib", "e" * 64, secret=SECRET).split(".")[0]
    for bad in (
        f"{other}.{signature}",
        f"{body}.{signature[::-1]}",
        body,
        "",
        "a.b",
        f"{body}.{signature}x",
        "../etc",
    ):
        assert original_links.read_token(bad, secret=SECRET) is None, bad
    assert original_links.read_token(token, secret=SECRET) is not None


def test_link_names_are_url_safe_pdf_names() -> None:
    assert original_links.link_name("reports/Q3 report.pdf") == "Q3%20report.pdf"
    assert original_links.link_name("../../etc/passwd") == "passwd.pdf"
    assert original_links.link_name("") == "document.pdf"
