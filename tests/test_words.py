"""Whole words in PDF text (`ingest.words`): hyphenation at line ends and split words.

The unit tests use a small hand-made word list, so each expectation is known by
construction; the corpus test uses the system list (Debian's wamerican) on real PDFs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from searchapp.ingest.pdf import _join_cjk_wraps, _page_text, _read_pdfium, _read_pypdf
from searchapp.ingest.text import clean_text
from searchapp.ingest.types import Limits
from searchapp.ingest.words import WordList, close_gaps, join_hyphenated, system_words

WORDS = WordList(
    lower=frozenset(
        "the library is a similarity training in side an other well known fine tuned non reversible "
        "purchase of and producer re search pro format contained".split()
    ),
    names=frozenset({"Torvalds"}),
)


@pytest.mark.parametrize(
    ("raw", "whole"),
    [
        ("pur\ufffechase of", "purchase of"),  # pdfium's mark for a line-end hyphen
        ("non\ufffe\r\nreversible", "non-reversible"),  # two words: a compound, the hyphen stays
        ("Schwarz\ufffeWeiß", "Schwarz-Weiß"),  # a capital after the break: a compound
        ("pro-\nducer", "producer"),  # pypdf and OCR keep the hyphen and the break
        ("well-\nknown", "well-known"),
        ("Übungsauf-\ngaben", "Übungsaufgaben"),  # unknown to the list, lower case: hyphenation
        ("Layout-\nParser", "Layout-Parser"),
        ("a well-known fact", "a well-known fact"),  # a hyphen inside a line is left alone
        ("page 12-\n13", "page 12-\n13"),  # not letters
        # Names that hold a hyphen or a digit before the break keep the hyphen: the
        # benchmarks "date-format-tofte" and "3d-raytrace" in tracemonkey's page 11.
        ("date-format-\ntofte", "date-format-tofte"),
        ("date-format\ufffetofte", "date-format-tofte"),
        ("3d-\nraytrace and", "3d-raytrace and"),
        ("3d\ufffe\nraytrace", "3d-raytrace"),
        ("self-con-\ntained", "self-contained"),  # unless the list knows the joined word
    ],
)
def test_line_end_hyphenation_is_joined_only_into_whole_words(raw: str, whole: str) -> None:
    assert join_hyphenated(raw, WORDS) == whole


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("the li brary is", "the library is"),
        ("sim ilarity, train ing.", "similarity, training."),
        ("(sim ilarity)", "(similarity)"),
        ("in side an other", "in side an other"),  # both pieces are words: never glued
        ("re search", "re search"),
        ("Tor valds", "Torvalds"),  # a name from the list
        ("li Brary", "li Brary"),  # a capital starts a new word
        ("li\nbrary", "li\nbrary"),  # not across lines
    ],
)
def test_split_words_are_joined_without_gluing_real_words(text: str, whole: str) -> None:
    assert close_gaps(text, WORDS) == whole


def test_without_a_word_list_only_hyphenation_is_joined() -> None:
    empty = WordList(frozenset(), frozenset())
    assert join_hyphenated("pur\ufffechase and pro-\nducer", empty) == "purchase and producer"
    assert close_gaps("the li brary", empty) == "the li brary"


# ------------------------------------------------------------- the real corpus

_TOKEN_RE = re.compile(r"(?<![A-Za-z])[A-Za-z][a-z]+(?![A-Za-z])")


def non_word_share(text: str, words: WordList) -> float:
    tokens = _TOKEN_RE.findall(text)
    return sum(1 for t in tokens if t not in words) / len(tokens)


@pytest.mark.parametrize("reader", [_read_pdfium, _read_pypdf], ids=["pdfium", "pypdf"])
def test_the_split_word_rate_falls_on_the_shared_two_column_papers(reader: object, shared_pdfs: Path) -> None:
    """Figures for all English text PDFs are in docs/quality.md (bench_words.py, at commit d5574bf)."""
    words = system_words()
    if not words:
        pytest.fail("no word list at /usr/share/dict/words: apt-get install wamerican (scripts/setup.sh)")
    for name in ("pdfjs__tracemonkey.pdf", "unst__multi-column-2p.pdf"):
        _, pages = reader((shared_pdfs / name).read_bytes(), Limits())  # type: ignore[operator]
        raw = "\n".join(p or "" for p in pages)
        before = non_word_share(_join_cjk_wraps(clean_text(raw)), words)
        after = non_word_share(_page_text(raw), words)
        assert after < before - 0.01, (name, before, after)
        text = _page_text(raw)
        assert "ef ficient" not in text and "us ing" not in text
    assert "efficient" in text and "embeddings" in text
