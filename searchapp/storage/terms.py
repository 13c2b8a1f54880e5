"""The terms of a text for keyword (BM25) search: how both the index and a query are analysed.

Tokens are words folded to a search form (`fold`), Snowball-stemmed (English) with
Lucene's English stopwords removed, as in the standard BM25 baselines (Anserini,
Elasticsearch). A word keeps its combining marks: Devanagari, Tamil or Bengali vowel
signs are part of the word, not breaks in it. Scripts written without spaces between
words (CJK, Thai, Lao, Khmer, Myanmar) become overlapping character bigrams, so a
Chinese query still matches Chinese text.

`TERMS_VERSION` names this analysis; a local index whose terms were made by another is
rebuilt from the store of record (`searchapp.storage.local_index`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import regex

TERMS_VERSION = 2  # 1: words split at every combining mark, accents kept

# Thai, Lao, Myanmar, Khmer, kana, CJK ideographs, Hangul.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
)
_UNSPACED_RE = re.compile(rf"[{_UNSPACED}]")
# ASCII text (most of it) takes the stdlib pattern; other text the one that knows marks.
_ASCII_TOKEN_RE = re.compile(r"[^\W_]+")
_TOKEN_RE = regex.compile(rf"[{_UNSPACED}]+|[[\p{{L}}\p{{N}}\p{{M}}]--[{_UNSPACED}]]+", regex.V1)
_WORD_RE = regex.compile(r"[\p{L}\p{N}\p{M}]+")

# Marks a reader does not type, dropped after canonical decomposition: accents on Latin,
# Greek and Cyrillic letters (so "cafe" finds "café" and "елка" finds "ёлка"), Hebrew
# points, and Arabic short vowels, Quranic signs and the hamza written on an alef (so
# vocalised Arabic matches the unvocalised text people type, as Lucene's Arabic
# normaliser does). Marks of other scripts (Devanagari vowel signs, Japanese voicing)
# change the word and are kept.
_FOLDED_MARKS_RE = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]"
)
# Letters that are not a base letter plus a mark, folded as Lucene's ASCIIFoldingFilter
# does, and the Arabic letters its normaliser unifies.
_FOLDED_LETTERS = str.maketrans(
    {
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ħ": "h",
        "ı": "i",
        "ى": "ي",
        "ة": "ه",
    }
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# Lucene's English stop words (StopAnalyzer), as in Anserini's and Elasticsearch's BM25.
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)


def fold(text: str) -> str:
    """The search form of a text: compatibility forms unified (ligatures, full-width
    letters), case folded, and the marks and letters above folded."""
    if text.isascii():
        return text.casefold()
    text = _FOLDED_MARKS_RE.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", text).casefold().translate(_FOLDED_LETTERS)


def word_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the words of a text are (runs of letters, digits and their marks)."""
    pattern: Any = _ASCII_TOKEN_RE if text.isascii() else _WORD_RE
    for match in pattern.finditer(text):
        yield match.span()


def keyword_tokens(text: str) -> list[str]:
    """The index terms of a text: stemmed words, and bigrams for unspaced scripts."""
    stop = STOPWORDS
    found: list[str] = []
    out: list[str] = []
    text = fold(text)
    for token in _ASCII_TOKEN_RE.findall(text) if text.isascii() else _TOKEN_RE.findall(text):
        if _UNSPACED_RE.match(token):
            out.extend(token[i : i + 2] for i in range(max(1, len(token) - 1)))
        elif token not in stop and (len(token) > 1 or token.isdigit()):
            found.append(token)
    if found:
        out.extend(_stemmer().stemWords(found))
    return out
