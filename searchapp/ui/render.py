"""Pure text helpers for the UI: inert Markdown, query-term highlighting, labels.

Document text is untrusted. `st.markdown` already refuses raw HTML, but it still turns
Markdown into live links, remote images (tracking pixels), `$math$` and `:directives:`.
So every piece of document text that reaches Markdown goes through `escape_markdown`,
which backslash-escapes all ASCII punctuation (CommonMark allows that for every one of
them), and the only markup in the output is the markup added here.

Escapes do not stop GFM's autolink literals (`www.x.org`, `https://…`, `a@b.org`):
they are found in the text after parsing, escapes already resolved (seen in Chromium).
An invisible WORD JOINER inside each such pattern stops them; the text reads the same.

No Streamlit import: these functions are unit-tested directly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from searchapp import units

# Matching lives below the UI, as the CLI shows matches too; these two are the UI's helpers as well.
from searchapp.storage.matches import clean_text as clean_text
from searchapp.storage.matches import query_terms as query_terms
from searchapp.storage.matches import term_spans
from searchapp.types import Hit

# Every ASCII punctuation character may be backslash-escaped in CommonMark.
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
_SPACES_RE = re.compile(r"\s+")
WORD_JOINER = "\u2060"
# Where GFM would start an autolink: "://" (URLs), "www." and the "@" of an e-mail address.
_AUTOLINK_RE = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<!\u2060)(?=@)", re.IGNORECASE)

HIGHLIGHT_COLOR = "yellow"  # its shade is set in .streamlit/config.toml


def defuse_autolinks(text: str) -> str:
    """Put a WORD JOINER where GFM would turn plain text into a link (idempotent)."""
    return _AUTOLINK_RE.sub(WORD_JOINER, text)


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _ASCII_PUNCTUATION else ch for ch in text)


def escape_markdown(text: str) -> str:
    """`text` as Markdown that renders literally: no links, images, HTML, math or emphasis.

    Newlines are kept; `flow` or `one_line` decide what they become.
    """
    return _escape(defuse_autolinks(clean_text(text)))


def one_line(text: str) -> str:
    """Untrusted text for a label: escaped, whitespace collapsed to single spaces."""
    return escape_markdown(_SPACES_RE.sub(" ", text).strip())


def flow(text: str) -> list[str]:
    """Paragraphs of a passage, each on one line (PDF line breaks are not sentence breaks)."""
    paragraphs = _BLANK_LINE_RE.split(clean_text(text).replace("\r\n", "\n").replace("\r", "\n"))
    return [p for p in (_SPACES_RE.sub(" ", raw).strip() for raw in paragraphs) if p]


def highlight(text: str, terms: Sequence[str]) -> str:
    """Escaped Markdown of one line of text, with words that start with a term highlighted.

    A word matches in its search form, as keyword search matches it: "cafe" marks "Café".
    Every piece is escaped before any markup is added, and a highlighted word holds only
    letters, digits and their marks.
    """
    text = defuse_autolinks(clean_text(text))
    out: list[str] = []
    position = 0
    for start, end in term_spans(text, terms):
        before = text[position:start]
        out.append(_escape(before))
        # A directive right after a ':' is not parsed; a word joiner separates them.
        joiner = WORD_JOINER if before.endswith(":") else ""
        out.append(f"{joiner}:{HIGHLIGHT_COLOR}-background[**{_escape(text[start:end])}**]")
        position = end
    out.append(_escape(text[position:]))
    return "".join(out)


def passage_markdown(text: str, terms: Sequence[str]) -> str:
    """A passage as inert Markdown paragraphs with the query terms highlighted."""
    return "\n\n".join(highlight(paragraph, terms) for paragraph in flow(text)) or "*(empty passage)*"


MODE_LABELS = {"adaptive": "Adaptive", "dense": "Semantic", "keyword": "Keyword", "hybrid": "Hybrid"}


def score_fraction(score: float) -> float:
    """A 0-1 score as the fill of a bar (anything outside shows empty or full)."""
    return min(1.0, max(0.0, float(score)))


def format_score(score: float) -> str:
    return f"{score:.3f}"


def score_label(score: float, mode: str) -> str:
    """The card's big number, naming the mode that produced it: 'Hybrid score 0.984'."""
    return f"{MODE_LABELS.get(mode, mode.title())} score {format_score(score)}"


def score_details(hit: Hit, mode: str) -> str:
    """How a hit got its place: 'cosine 0.741 · semantic #1 · keyword #2 (BM25 7.21)'."""
    parts: list[str] = []
    if hit.cosine is not None:
        parts.append(f"cosine similarity {hit.cosine:.3f}")
    if hit.dense_rank is not None and mode != "dense":
        parts.append(f"semantic #{hit.dense_rank}")
    if hit.keyword_rank is not None and mode != "keyword":
        parts.append(f"keyword #{hit.keyword_rank}")
    if hit.keyword_score is not None:
        parts.append(f"BM25 {hit.keyword_score:.2f}")
    if mode in ("hybrid", "adaptive") and hit.keyword_rank is None:
        parts.append("no keyword match")
    return " · ".join(parts)


def format_size(size: int) -> str:
    """Bytes in SI units, as everywhere in searchapp: 980 B, 12.3 kB, 4.1 MB."""
    return units.format_size(size)


def format_time(epoch: int) -> str:
    """Epoch seconds as local 'YYYY-MM-DD HH:MM'; '—' when unknown."""
    if epoch <= 0:
        return "—"
    return dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M")


def location_label(source: str, page: int | None, heading: str) -> str:
    """'**name** · page 3 · Heading' as inert Markdown (the name and heading are untrusted)."""
    parts = [f"**{one_line(source)}**" if source.strip() else "**(unnamed)**"]
    if page is not None:
        parts.append(f"page {page}")
    if heading.strip():
        parts.append(one_line(heading))
    return " · ".join(parts)


def tags_label(tags: Iterable[str]) -> str:
    """Tags as inert Markdown, comma-separated."""
    return ", ".join(one_line(tag) for tag in tags)


def parse_tags(text: str) -> tuple[str, ...]:
    """'a, b ,a' -> ('a', 'b'): comma-separated, trimmed, de-duplicated, order kept."""
    return tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
