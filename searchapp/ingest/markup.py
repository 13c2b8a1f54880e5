"""Plain text and Markdown into sections that carry their heading path (HTML: `html.py`).

A heading path is the chain of headings above a passage ("Install > On Linux"): it
tells the reader where a hit sits, and it survives chunking because sections are
split on headings before they are split into chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.front_matter import front_matter_end, split_front_matter
from searchapp.ingest.markdown_comments import indent_width, without_html_comments
from searchapp.ingest.text import clean_text, decode_text_with_warnings, meaningful_chars
from searchapp.ingest.types import ExtractedDocument, Limits, Section

HEADING_SEPARATOR = " > "


def stem(source: str) -> str:
    return PurePosixPath(source).stem or source


def check_chars(count: int, limits: Limits) -> None:
    if count > limits.max_chars:
        raise IngestError(
            FailureReason.TOO_LARGE,
            f"{count:,}+ characters of text; the limit is {limits.max_chars:,} (SEARCHAPP_MAX_CHARS)",
        )


# A run of headings with no text under them keeps at most this many characters: about
# one chunk, so such a run never costs more than one chunk.
MAX_HEADING_RUN_CHARS = 600


def merge_heading_runs(sections: list[Section]) -> tuple[list[Section], str]:
    """Sections where each heading stays with the text under it, and a warning or "".

    A section that holds only its heading line ("# Install" followed at once by
    "## On Linux") is not a passage of its own: it is put in front of the next section,
    which keeps its own heading path. A run of such headings keeps at most
    `MAX_HEADING_RUN_CHARS` (the headings nearest the text; at the end of a file, the
    first ones), so it adds one chunk at most and a file's chunk count follows its text,
    not its line count. Headings left out are counted in the warning.
    """
    merged: list[Section] = []
    run: list[Section] = []
    headings = dropped = 0
    for section in sections:
        if section.heading and "\n" not in section.text.strip():
            run.append(section)
            headings += 1
            continue
        if run:
            kept = _within_budget(reversed(run))[::-1]
            dropped += len(run) - len(kept)
            section = _joined([*kept, section], heading=section.heading)
            run = []
        merged.append(section)
    if run:
        kept = _within_budget(run)
        dropped += len(run) - len(kept)
        merged.append(_joined(kept, heading=kept[-1].heading))
    warning = ""
    if dropped:
        warning = (
            f"{dropped:,} of {headings:,} headings with no text under them were left out "
            f"(a run of headings is kept to about {MAX_HEADING_RUN_CHARS:,} characters)"
        )
    return merged, warning


def _within_budget(run: Iterable[Section]) -> list[Section]:
    """The leading sections of `run` that fit the budget together (always at least one)."""
    kept: list[Section] = []
    size = 0
    for section in run:
        size += len(section.text) + 2
        if kept and size > MAX_HEADING_RUN_CHARS:
            break
        kept.append(section)
    return kept


def _joined(sections: list[Section], heading: str) -> Section:
    if len(sections) == 1:
        return sections[0]
    text = "\n\n".join(s.text.strip("\n") for s in sections)
    return Section(text=text, page=sections[0].page, heading=heading, offset=sections[0].offset)


def require_text(sections: list[Section], what: str) -> None:
    if not any(meaningful_chars(s.text) for s in sections):
        raise IngestError(FailureReason.EMPTY_FILE, f"the {what} has no text to index")


# ---------------------------------------------------------------- plain text


def extract_plain_text(data: bytes, source: str, limits: Limits) -> ExtractedDocument:
    raw, encoding, warnings = decode_text_with_warnings(data)
    check_chars(len(raw), limits)
    text = clean_text(raw)
    sections = [Section(text=text)]
    require_text(sections, "file")
    return ExtractedDocument(
        file_type="txt", title=stem(source), sections=tuple(sections), encoding=encoding, warnings=warnings
    )


# ------------------------------------------------------------------ markdown

# A closing run of '#' counts only after a blank: "# Learn C#" is about C#.
_ATX_RE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE_RE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass
class HeadingTracker:
    """The current chain of headings, by level."""

    levels: dict[int, str] = field(default_factory=dict)

    def enter(self, level: int, title: str) -> None:
        self.levels = {lvl: t for lvl, t in self.levels.items() if lvl < level}
        self.levels[level] = title

    @property
    def path(self) -> str:
        return HEADING_SEPARATOR.join(self.levels[lvl] for lvl in sorted(self.levels))


_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS_RE = re.compile(r"[*_`]+")
_MARKUP_CHARS = frozenset("[*_`")


def _markdown_heading_title(text: str) -> str:
    """Heading text without inline markup: links keep their words, emphasis goes."""
    if not _MARKUP_CHARS.isdisjoint(text):
        text = _EMPHASIS_RE.sub("", _LINK_RE.sub(r"\1", text))
    return " ".join(text.split())[:200]


def extract_markdown(data: bytes, source: str, limits: Limits) -> ExtractedDocument:
    raw, encoding, warnings = decode_text_with_warnings(data)
    check_chars(len(raw), limits)
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    raw, front_title, had_front_matter = split_front_matter(raw)
    raw = without_html_comments(raw)
    text = clean_text(raw)
    lines = text.split("\n")
    # clean_text strips indentation, but "    # comment" is indented code, not a heading.
    indented = _indented_lines(raw, lines)
    # A "---" block at the top that is not front matter is kept as text, but its last
    # line followed by "---" is still not a setext heading.
    closes_at = -1 if had_front_matter else front_matter_end(lines)
    tracker = HeadingTracker()
    sections: list[Section] = []
    title = front_title
    start = 0  # character offset of the current section in `text`
    offset = 0
    in_fence: str | None = None
    heading = ""

    def close(end: int) -> None:
        body = text[start:end].strip("\n")
        if body.strip():
            sections.append(Section(text=body, heading=heading, offset=start))

    for i, line in enumerate(lines):
        fence = None if i in indented else _FENCE_RE.match(line)
        if fence:
            in_fence = None if in_fence == fence.group(1) else (in_fence or fence.group(1))
        level, name = 0, ""
        if in_fence is None and not fence and i > closes_at and i not in indented:
            atx = _ATX_RE.match(line)
            if atx:
                level, name = len(atx.group(1)), atx.group(2)
            elif (
                i + 1 < len(lines)
                and line.strip()
                and i + 1 not in indented
                and _SETEXT_RE.match(lines[i + 1])
                and not _SETEXT_RE.match(line)
            ):
                level, name = (1 if lines[i + 1].lstrip().startswith("=") else 2), line
        if level:
            close(offset)
            name = _markdown_heading_title(name)
            tracker.enter(level, name)
            heading = tracker.path
            title = title or (name if level == 1 else "")
            start = offset
        offset += len(line) + 1
    close(len(text))
    require_text(sections, "Markdown file")
    merged, warning = merge_heading_runs(sections)
    return ExtractedDocument(
        file_type="md",
        title=title or stem(source),
        sections=tuple(merged),
        encoding=encoding,
        warnings=(*warnings, warning) if warning else warnings,
    )


def _indented_lines(raw: str, lines: list[str]) -> set[int]:
    """Which of the cleaned `lines` were indented four columns or more in `raw`.

    clean_text keeps every line that is not blank, in order (it strips and squeezes, and
    drops only blank lines), so the source lines that clean to something line up with
    the non-empty cleaned lines.
    """
    sources = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").split("\n")
    flags = [indent_width(source) >= 4 for source in sources if _cleans_to_text(source)]
    targets = [i for i, line in enumerate(lines) if line]
    if len(flags) != len(targets):  # not expected; then indentation is simply not known
        return set()
    return {i for i, flag in zip(targets, flags, strict=True) if flag}


_WORD_CHAR_RE = re.compile(r"\w")


def _cleans_to_text(line: str) -> bool:
    """`bool(clean_text(line))`, fast for the usual line: a word character survives
    cleaning unless it is part of glyph-name noise ("/g12")."""
    if "/g" not in line and _WORD_CHAR_RE.search(line):
        return True
    return bool(clean_text(line))
