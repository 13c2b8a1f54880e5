"""Running headers and footers of PDF pages: a line that opens, or closes, most pages.

A journal's running head ("Overview of the Technology Acceptance Model: ... MY Chuttur"
on 21 of TAMReview's 23 pages) or a "Page 3 of 12" footer repeats on every page; kept,
it starts every page's first passage, and on a page where it stands alone it becomes a
passage that matches the document's topic better than any real text. The rule is the
usual frequency one (Underwood's HathiTrust header.py looks for lines repeated near the
tops of pages), kept conservative: a document of at least 4 pages with text, and a line
(at most 200 characters) that is the first, or the last, line of at least half of them
and of 3 or more, compared with digit runs and white space normalised (so "Page 3 of
12" and "Page 4 of 12" are one line; a line without letters only as a bare page number,
so the rows of a numeric table stay). Both born-digital and OCR'd pages go through it;
a page keeps its line when it has nothing else.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable

from searchapp.ingest.text import meaningful_chars
from searchapp.ingest.types import Section

MIN_PAGES = 4
MIN_REPEATS = 3
MAX_LINE_CHARS = 200
# A header can be two lines (a title, then a page number): looked for twice at each end.
_ROUNDS = 2

_DIGITS_RE = re.compile(r"\d+")
# A page number alone: "12", "- 3 -", "3 / 12", "[3]", "(3)", "3.", "· 3 ·".
_PAGE_NUMBER_RE = re.compile(r"[^\w%]*\d{1,4}(?:\s*/\s*\d{1,4})?[^\w%]*")


def drop_running_lines(sections: list[Section]) -> list[Section]:
    """`sections` (one per page) without the lines that open or close most pages."""
    if len(sections) < MIN_PAGES:
        return sections
    pages = [_lines(section.text) for section in sections]
    for _ in range(_ROUNDS):
        pages = _drop_repeated(pages, first=True)
        pages = _drop_repeated(pages, first=False)
    out: list[Section] = []
    for section, lines in zip(sections, pages, strict=True):
        text = "\n".join(lines).strip()
        if text != section.text:
            section = dataclasses.replace(section, text=text)
        out.append(section)
    return out


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _drop_repeated(pages: list[list[str]], *, first: bool) -> list[list[str]]:
    edge: Callable[[list[str]], int | None] = _first_index if first else _last_index
    keys = [_key(lines, edge(lines)) for lines in pages]
    counts = Counter(key for key in keys if key)
    needed = max(MIN_REPEATS, (len(pages) + 1) // 2)
    running = {key for key, count in counts.items() if count >= needed}
    if not running:
        return pages
    out: list[list[str]] = []
    for lines, key in zip(pages, keys, strict=True):
        index = edge(lines)
        if key in running and index is not None and _has_other_text(lines, index):
            lines = [*lines[:index], *lines[index + 1 :]]
            lines = _trim_blank(lines)
        out.append(lines)
    return out


def _first_index(lines: list[str]) -> int | None:
    return next((i for i, line in enumerate(lines) if line.strip()), None)


def _last_index(lines: list[str]) -> int | None:
    return next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)


def _key(lines: list[str], index: int | None) -> str:
    """The line at `index` with digit runs and white space normalised; "" for none.

    A line without letters is a running line only as a bare page number ("12", "- 3 -"):
    rows of a numeric table ("2001 222,817 42.3%") share one shape from page to page.
    """
    if index is None or len(lines[index]) > MAX_LINE_CHARS:
        return ""
    line = lines[index]
    if not any(ch.isalpha() for ch in line) and not _PAGE_NUMBER_RE.fullmatch(line.strip()):
        return ""
    return " ".join(_DIGITS_RE.sub("0", line).split()).casefold()


def _has_other_text(lines: list[str], index: int) -> bool:
    """Letters or digits besides the line at `index`: rules and dots are no page."""
    return any(meaningful_chars(line) for i, line in enumerate(lines) if i != index)


def _trim_blank(lines: list[str]) -> list[str]:
    start = _first_index(lines) or 0
    end = _last_index(lines)
    return lines[start : end + 1] if end is not None else []
