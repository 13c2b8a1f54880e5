"""How well OCR read a page: its character error rate and word recall against a reference.

Both sides are normalised the same way first (`normalise`): NFKC, typographic quotes and
dashes folded, soft hyphens and pdfium's line-end hyphen marks dropped, a word hyphenated
across lines joined, whitespace collapsed. The OCR benchmark (benchmarks/bench_ocr.py)
and the OCR tests measure with these. The edit distance comes from rapidfuzz, a
development dependency (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00ad": "",  # soft hyphen
        "\ufffe": "",  # pdfium's mark for a word hyphenated at the end of a line
        "\u2022": "*",
    }
)
_LINE_END_HYPHEN_RE = re.compile(r"(?<=\w)-\s+(?=\w)")


def normalise(text: str) -> str:
    """Text as both sides of a comparison see it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    # A word hyphenated across lines is one word, whichever way each side marks it.
    return " ".join(_LINE_END_HYPHEN_RE.sub("", text).split())


def cer_parts(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edits, reference characters): the character error rate is their ratio, summed over pages."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(reference, hypothesis), len(reference)


def word_recall(reference: str, hypothesis: str) -> float:
    """The share of the reference's words (with their counts) that the hypothesis holds."""
    ref = Counter(w.strip(".,;:()[]\"'!?").lower() for w in reference.split())
    hyp = Counter(w.strip(".,;:()[]\"'!?").lower() for w in hypothesis.split())
    ref.pop("", None)
    return sum((ref & hyp).values()) / max(1, sum(ref.values()))
