"""HTML pages into sections with heading paths, without the page's navigation and footers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.html_nav import is_navigation_block
from searchapp.ingest.markup import (
    HeadingTracker,
    check_chars,
    merge_heading_runs,
    require_text,
    stem,
)
from searchapp.ingest.text import clean_text, decode_text_with_warnings, meaningful_chars
from searchapp.ingest.types import ExtractedDocument, Limits, Section

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

    tracker = HeadingTracker()
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
    """Navigation (by tag, role, or class and id words), a footer, an aside, or the page's
    own header (not an article's)."""
    if tag.name in _BOILERPLATE_TAGS:
        return True
    role = tag.get("role")
    if isinstance(role, str) and role.strip().lower() in _BOILERPLATE_ROLES:
        return True
    if tag.name == "header" and tag.find_parent(_SECTIONING_TAGS) is None:
        return True
    return is_navigation_block(tag)


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
