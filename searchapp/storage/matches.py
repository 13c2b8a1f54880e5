"""Where a text shows the words of a query: the words a reader wants marked.

A word matches a query term when its search form (`fold`: no case, no accents) starts
with the term, as keyword search matches "cafe" to "Café". The UI highlights these words
in a result card, and the CLI shows a passage around the first of them; both read them
here, so they mark the same words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

from searchapp.storage.terms import fold, word_spans

# Control characters other than tab and newline (and bidi overrides) are never shown.
_INVISIBLE_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MIN_TERM_CHARS = 2
MAX_TERMS = 24

# Words too common to be worth marking.
_STOPWORD_TEXT = """a an and are as at be but by can do does for from has have how i if in into is it its
    of on or our so than that the their them then there these they this to was we were what
    when where which who why will with you your"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def clean_text(text: str) -> str:
    """Drop control and bidi-override characters; keep tabs and newlines."""
    return _INVISIBLE_RE.sub("", unicodedata.normalize("NFC", text))


def query_terms(query: str) -> list[str]:
    """The words of a query worth marking, in their search form (`fold`: no case, no
    accents), no stopwords, longest first."""
    terms: list[str] = []
    query = clean_text(query)
    for start, end in word_spans(query):
        word = fold(query[start:end])
        if len(word) >= MIN_TERM_CHARS and word not in STOPWORDS and word not in terms:
            terms.append(word)
    return sorted(terms, key=len, reverse=True)[:MAX_TERMS]


def term_spans(text: str, terms: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Where the words of `text` that start with one of `terms` (`query_terms`) are, in order."""
    prefixes = tuple(terms)
    if not prefixes:
        return
    for start, end in word_spans(text):
        if fold(text[start:end]).startswith(prefixes):
            yield start, end
