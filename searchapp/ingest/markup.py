"""Plain text, Markdown and HTML into sections that carry their heading path.

A heading path is the chain of headings above a passage ("Install > On Linux"): it
tells the reader where a hit sits, and it survives chunking because sections are
split on headings before they are split into chunks.
"""

from __future__ import annotations

import bisect
import importlib
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from searchapp.errors import FailureReason, IngestError
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
class _HeadingTracker:
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
    raw, front_title, had_front_matter = _split_front_matter(raw)
    raw = _without_html_comments(raw)
    text = clean_text(raw)
    lines = text.split("\n")
    # clean_text strips indentation, but "    # comment" is indented code, not a heading.
    indented = _indented_lines(raw, lines)
    # A "---" block at the top that is not front matter is kept as text, but its last
    # line followed by "---" is still not a setext heading.
    front_matter_end = -1 if had_front_matter else _front_matter_end(lines)
    tracker = _HeadingTracker()
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
        if in_fence is None and not fence and i > front_matter_end and i not in indented:
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
    flags = [_indent(source) >= 4 for source in sources if _cleans_to_text(source)]
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


def _indent(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def _front_matter_end(lines: list[str]) -> int:
    """The index of the line that closes a YAML front-matter block ("---" on line one), or -1.

    Its last key line followed by "---" would otherwise read as a setext heading.
    """
    if lines and lines[0] == "---":
        for i in range(1, min(len(lines), 200)):
            if lines[i] in ("---", "..."):
                return i
    return -1


# Front matter ends within this many lines, or it is not front matter.
_MAX_FRONT_MATTER_LINES = 1000
_YAML_KEY_RE = re.compile(r"^[A-Za-z_][\w.-]*[ \t]*:(?:[ \t]|$)")


def _split_front_matter(raw: str) -> tuple[str, str, bool]:
    """`raw` without its front matter, the front matter's title (or ""), and whether it had any.

    YAML front matter is a block from a "---" first line to a "---" (or "...") line;
    TOML front matter the same between "+++" lines. It is metadata, not text to index:
    only its `title`, when a plain string, is used. Malformed front matter never fails
    the file: a "+++" block or a "---" block of "key: value" lines is dropped all the
    same, and a "---" block that is not clearly metadata stays as text.
    """
    lines = raw.split("\n", _MAX_FRONT_MATTER_LINES + 1)
    first = lines[0].rstrip()
    if first == "---":
        closers: tuple[str, ...] = ("---", "...")
    elif first == "+++":
        closers = ("+++",)
    else:
        return raw, "", False
    end = next(
        (i for i in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES)) if lines[i].rstrip() in closers), 0
    )
    if not end:
        return raw, "", False
    block = "\n".join(lines[1:end])
    rest = "\n".join(lines[end + 1 :])
    if first == "+++":
        try:
            meta: object = tomllib.loads(block)
        except (tomllib.TOMLDecodeError, ValueError, RecursionError):
            meta = None
        return rest, _front_matter_title(meta), True
    meta = _load_yaml(block)
    if isinstance(meta, dict) or not block.strip():  # an empty block ("---" twice) too, as in Jekyll
        return rest, _front_matter_title(meta), True
    keys = [line for line in block.split("\n") if line.strip() and not line.lstrip().startswith("#")]
    if keys and _YAML_KEY_RE.match(keys[0]):  # metadata that does not parse: dropped all the same
        return rest, "", True
    return raw, "", False


_YAML_NOT_LOADED = object()


def _load_yaml(block: str) -> object:
    """The YAML document in `block`, or `_YAML_NOT_LOADED` when it does not parse.

    With PyYAML (a safe loader: no objects are built from tags); without it, only simple
    "key: value" lines are read.
    """
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:  # not a declared dependency
        return _simple_yaml(block)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(block, Loader=loader)  # a safe loader: no objects from tags
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return _YAML_NOT_LOADED


def _simple_yaml(block: str) -> object:
    meta: dict[str, str] = {}
    for line in block.split("\n"):
        if _YAML_KEY_RE.match(line):
            key, _, value = line.partition(":")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            meta[key.strip()] = value
    return meta or _YAML_NOT_LOADED


def _front_matter_title(meta: object) -> str:
    if not isinstance(meta, dict):
        return ""
    title = meta.get("title", meta.get("Title"))
    return " ".join(title.split())[:200] if isinstance(title, str) else ""


_FENCE_LINE_RE = re.compile(r"^ {0,3}(```|~~~)")
_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"
_BACKTICKS_RE = re.compile(r"`+")
_INLINE_TOKEN_RE = re.compile(r"`+|<!--")


def _without_html_comments(raw: str) -> str:
    """`raw` without its HTML comments (`<!-- ... -->`), which a Markdown page never shows.

    Comments in fenced or indented code and in code spans are text and stay. Each line
    stays a line (a comment's lines become blank), so indentation still lines up. A
    comment that is never closed is left as it is.
    """
    if _COMMENT_OPEN not in raw:
        return raw
    lines = raw.split("\n")
    out: list[str] = []
    fence: str | None = None
    in_comment = -1  # the index in `out` where an open comment started, or -1
    code_block = False  # inside an indented code block
    for line in lines:
        if in_comment >= 0:
            close = line.find(_COMMENT_CLOSE)
            if close < 0:
                out.append("")
                continue
            line, carried = _inline_without_comments(line[close + len(_COMMENT_CLOSE) :])
            out.append(line)
            in_comment = len(out) - 1 if carried else -1
            continue
        marker = _FENCE_LINE_RE.match(line)
        if marker and _indent(line) < 4:
            fence = None if fence == marker.group(1) else (fence or marker.group(1))
            out.append(line)
            continue
        blank = not line.strip()
        prior_blank = not out or not out[-1].strip()
        code_block = not blank and _indent(line) >= 4 and (prior_blank or code_block)
        if fence is not None or code_block or _COMMENT_OPEN not in line:
            out.append(line)
            continue
        line, carried = _inline_without_comments(line)
        out.append(line)
        if carried:
            in_comment = len(out) - 1
    if in_comment >= 0:  # never closed: not a comment after all, so from there on as it was
        out[in_comment:] = lines[in_comment:]
    return "\n".join(out)


def _inline_without_comments(line: str) -> tuple[str, bool]:
    """`line` without its comments (not inside code spans), and whether a comment runs on.

    A code span runs from a run of backticks to the next run of as many; a run that has
    none is literal backticks. Linear in the line, however its backticks fall.
    """
    runs: dict[int, list[int]] = {}  # the starts of the backtick runs, by length
    for run in _BACKTICKS_RE.finditer(line):
        runs.setdefault(len(run.group()), []).append(run.start())
    parts: list[str] = []
    i = 0
    while (token := _INLINE_TOKEN_RE.search(line, i)) is not None:
        if token.group() == _COMMENT_OPEN:
            parts.append(line[i : token.start()])
            close = line.find(_COMMENT_CLOSE, token.end())
            if close < 0:
                return "".join(parts), True
            i = close + len(_COMMENT_CLOSE)
            continue
        size = len(token.group())
        starts = runs[size]
        after = bisect.bisect_right(starts, token.start())
        end = starts[after] + size if after < len(starts) else token.end()
        parts.append(line[i:end])
        i = end
    parts.append(line[i:])
    return "".join(parts), False


# ---------------------------------------------------------------------- html

_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas", "math"}
_BLOCK_TAGS = {
    *("p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "address"),
    *("ul", "ol", "li", "dl", "dt", "dd", "table", "caption", "tr", "td", "th", "thead", "tbody"),
    *("pre", "blockquote", "figure", "figcaption", "br", "hr", "form", "fieldset", "details", "summary"),
}
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_MAX_HTML_DEPTH = 500


# Page furniture rather than content: dropped when the page has content without it.
_BOILERPLATE_TAGS = {"nav", "footer", "aside"}
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary"}
_SECTIONING_TAGS = ["article", "section", "main"]  # a header inside one heads it: content
_CELL_TAGS = ("td", "th")
_ROW_TAGS = frozenset({"tr", "caption"})


def extract_html(data: bytes, source: str, limits: Limits) -> ExtractedDocument:
    from bs4 import BeautifulSoup

    raw, encoding, warnings = decode_text_with_warnings(data)
    check_chars(len(raw), limits)
    soup = BeautifulSoup(raw, "lxml")
    page_title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    root = soup.body or soup
    sections, first_h1 = _html_sections(root, skip_boilerplate=True)
    if not any(meaningful_chars(s.text) for s in sections):
        # Nothing but navigation, headers and footers: then they are the page.
        sections, first_h1 = _html_sections(root, skip_boilerplate=False)
    require_text(sections, "HTML page")
    merged, warning = merge_heading_runs(sections)
    return ExtractedDocument(
        file_type="html",
        title=page_title or first_h1 or stem(source),
        sections=tuple(merged),
        warnings=(*warnings, warning) if warning else warnings,
        encoding=encoding,
    )


def _html_sections(root: object, *, skip_boilerplate: bool) -> tuple[list[Section], str]:
    """The sections of an HTML page's `root` element, and its first h1 (or "")."""
    from bs4.element import Comment, Doctype, NavigableString, ProcessingInstruction, Tag

    tracker = _HeadingTracker()
    sections: list[Section] = []
    parts: list[str] = []
    heading = ""
    first_h1 = ""
    offset = 0

    def close() -> None:
        nonlocal parts, offset
        body = clean_text("".join(parts))
        if body:
            sections.append(Section(text=body, heading=heading, offset=offset))
            offset += len(body) + 2
        parts = []

    # An explicit stack instead of recursion: hostile HTML can nest thousands deep.
    # Entries: (node, leaving it?, its depth below the root).
    stack: list[tuple[object, bool, int]] = [(root, False, 0)]
    while stack:
        node, leaving, depth = stack.pop()
        if leaving:
            if isinstance(node, Tag) and node.name in _BLOCK_TAGS:
                parts.append("\n")
            continue
        if isinstance(node, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(node, NavigableString):
            parts.append(str(node))
            continue
        if not isinstance(node, Tag) or node.name in _SKIP_TAGS:
            continue
        if skip_boilerplate and _is_boilerplate(node):
            continue
        if node.name in _HEADING_TAGS:
            close()
            name = " ".join(node.get_text(" ").split())[:200]
            if name:
                tracker.enter(_HEADING_TAGS[node.name], name)
                heading = tracker.path
                first_h1 = first_h1 or (name if node.name == "h1" else "")
                parts.append(name + "\n")
            continue
        if node.name == "table" and _is_data_table(node):
            rows = _table_rows(node)
            parts.append("\n" + "\n".join(rows) + "\n")
            continue
        if node.name in _BLOCK_TAGS:
            parts.append("\n")
        # The depth, not the stack size: a long flat page has tens of thousands of siblings.
        if depth > _MAX_HTML_DEPTH:
            raise IngestError(
                FailureReason.UNREADABLE, f"the HTML is nested more than {_MAX_HTML_DEPTH} levels deep"
            )
        stack.append((node, True, depth))
        stack.extend((child, False, depth + 1) for child in reversed(list(node.children)))
    close()
    return sections, first_h1


def _is_boilerplate(tag: Any) -> bool:
    """Navigation, a footer, an aside, or the page's own header (not an article's)."""
    if tag.name in _BOILERPLATE_TAGS:
        return True
    role = tag.get("role")
    if isinstance(role, str) and role.strip().lower() in _BOILERPLATE_ROLES:
        return True
    return bool(tag.name == "header" and tag.find_parent(_SECTIONING_TAGS) is None)


def _is_data_table(table: Any) -> bool:
    """A table of rows and cells, not one that lays out a page (nested tables, headings)."""
    role = table.get("role")
    if isinstance(role, str) and role.strip().lower() in ("presentation", "none"):
        return False
    # Not bs4's find(): its descendants walk the whole subtree on every call.
    return not any(tag.name == "table" or tag.name in _HEADING_TAGS for tag in _tags_below(table))


def _table_rows(table: Any) -> list[str]:
    """One line per row, its cells joined with " | " (as in DOCX); empty cells are left out."""
    lines: list[str] = []
    for tag in _tags_below(table, stop=_ROW_TAGS):
        if tag.name == "caption":
            texts = [_inline_text(tag)]
        else:
            texts = [_inline_text(cell) for cell in tag.children if getattr(cell, "name", None) in _CELL_TAGS]
        texts = [text for text in texts if text]
        if texts:
            lines.append(" | ".join(texts))
    return lines


def _tags_below(node: Any, stop: frozenset[str] = frozenset()) -> Iterator[Any]:
    """The tags under `node` in document order, not looking inside those named in `stop`."""
    from bs4.element import Tag

    stack = [child for child in reversed(node.contents) if isinstance(child, Tag)]
    while stack:
        tag = stack.pop()
        yield tag
        if tag.name not in stop:
            stack.extend(child for child in reversed(tag.contents) if isinstance(child, Tag))


def _inline_text(node: Any) -> str:
    """The text of `node` on one line, without scripts, styles or comments."""
    from bs4.element import Comment, Doctype, NavigableString, ProcessingInstruction, Tag

    parts: list[str] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(item, NavigableString):
            parts.append(str(item))
        elif isinstance(item, Tag) and item.name not in _SKIP_TAGS:
            if item.name in _BLOCK_TAGS:
                parts.append(" ")
            stack.extend(reversed(list(item.children)))
    return " ".join("".join(parts).split())
