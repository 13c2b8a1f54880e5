"""Whole words in PDF text: words hyphenated at line ends, and words split by a gap.

PDF text has no words, only glyphs at positions, and the libraries guess where words
end. Two guesses go wrong often enough to matter for search (docs/quality.md, "Whole
words"):

- Hyphenation at a line end. pdfium replaces the hyphen with U+FFFE and drops the line
  break ("pur\\ufffechase"); pypdf and OCR keep both ("pur-\\nchase"). Either way the
  word is cut in two, and `clean_text` would make the mark a space.
- A gap inside a word ("li brary", "train ing"), from letter spacing or justification.

Both are repaired against a word list (Debian's `wamerican`, /usr/share/dict/words,
installed by scripts/setup.sh), never by guessing alone: two pieces are joined only when
the joined form is a word and the pieces are not both words already, so real words are
never glued together ("in side" stays). A line-end hyphen between two words that do not
make one ("privacy-\\npreserving") stays a hyphen, and so does one after a piece that
holds a hyphen or a digit ("date-format-\\ntofte", "3d-\\nraytrace": names, not words),
unless the joined word is in the list. Without a word list, only pdfium's mark and
lower-case line-end hyphenation are joined.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

WORD_LISTS = (Path("/usr/share/dict/words"), Path("/usr/share/dict/american-english"))

# pdfium's mark, or a hyphen at a line end, between two runs of letters.
_MARKED_RE = re.compile(r"([^\W\d_]+)\ufffe[ \t]*(?:\r?\n[ \t]*)?([^\W\d_]+)")
_LINE_END_RE = re.compile(r"([^\W\d_]+)-[ \t]*\r?\n[ \t]*([^\W\d_]+)")
_HYPHENS = ("-", "\u2010", "\ufffe")
# A token that may be the first piece of a split word (opening punctuation allowed), and
# one that may be the last piece (lower case, closing punctuation allowed).
_LEFT_RE = re.compile(r"[(\[\"'“‘]*([A-Za-z]+)")
_RIGHT_RE = re.compile(r"([a-z]+)[.,;:!?)\]\"'”’]*")


@dataclass(frozen=True, slots=True)
class WordList:
    """Known words: the list's lower-case entries, and its capitalised ones (names)."""

    lower: frozenset[str]
    names: frozenset[str]

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or not word:
            return False
        return word.lower() in self.lower or (word[0].isupper() and word in self.names)

    def __bool__(self) -> bool:
        return bool(self.lower)


EMPTY = WordList(frozenset(), frozenset())


@functools.cache
def system_words() -> WordList:
    """The system's word list, read once per process; empty if there is none."""
    for path in WORD_LISTS:
        try:
            entries = path.read_text(encoding="utf-8", errors="ignore").split()
        except OSError:
            continue
        words = [w for w in entries if w.isalpha()]
        lower = frozenset(w for w in words if w.islower())
        return WordList(lower, frozenset(w for w in words if w[0].isupper()))
    return EMPTY


def join_hyphenated(text: str, words: WordList | None = None) -> str:
    """Raw page text with words hyphenated at line ends made whole (before `clean_text`)."""
    words = system_words() if words is None else words
    if "\ufffe" in text:
        text = _MARKED_RE.sub(lambda m: _join_match(m, words, marked=True), text)
        text = text.replace("\ufffe", "-")
    if "-" in text:
        text = _LINE_END_RE.sub(lambda m: _join_match(m, words, marked=False), text)
    return text


def _join_match(match: re.Match[str], words: WordList, *, marked: bool) -> str:
    left, right = match.group(1), match.group(2)
    # The letters before the break are the end of a longer token when a hyphen or a digit
    # comes right before them: "date-format-|tofte", "3d-|raytrace". Such names keep their
    # hyphen unless the list knows the joined word ("self-con-|tained").
    before = match.string[match.start() - 1] if match.start() else ""
    if (before in _HYPHENS or before.isdigit()) and left + right not in words:
        return f"{left}-{right}"
    return _join_hyphenated(left, right, words, marked=marked)


def close_gaps(text: str, words: WordList | None = None) -> str:
    """Cleaned text with words split by a space joined again ("li brary" -> "library")."""
    words = system_words() if words is None else words
    if not words:
        return text
    return "\n".join(_close_gaps_in_line(line, words) for line in text.split("\n"))


def _close_gaps_in_line(line: str, words: WordList) -> str:
    tokens = line.split(" ")
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if i + 1 < len(tokens):
            left = _LEFT_RE.fullmatch(token)
            right = _RIGHT_RE.fullmatch(tokens[i + 1])
            if left and right and _joins(left.group(1), right.group(1), words):
                out.append(token + tokens[i + 1])
                i += 2
                continue
        out.append(token)
        i += 1
    return " ".join(out)


def _joins(left: str, right: str, words: WordList) -> bool:
    return left + right in words and not (left in words and right in words)


def _join_hyphenated(left: str, right: str, words: WordList, *, marked: bool) -> str:
    joined = left + right
    if joined in words:
        return joined
    if right[0].isupper() or (left in words and right in words):
        return f"{left}-{right}"  # a compound that broke at its hyphen: "Schwarz-Weiß", "well-known"
    if right.islower():
        return joined  # ordinary hyphenation of a word the list does not know
    return f"{left}-{right}" if marked else f"{left}-\n{right}"
