"""DOCX into sections: the text Word shows, in document order, split at headings.

The body is walked as XML (python-docx's lxml elements), because python-docx's own
paragraph and table objects skip whatever sits inside a wrapper: content controls
(`w:sdt`), tracked insertions (`w:ins`), custom XML, text boxes, tables nested in cells.
The walk looks through every element it does not name, so a wrapper never hides text,
and leaves out what Word does not show as text: tracked deletions, hidden runs
(`w:vanish`), field instructions, the second copy in `mc:AlternateContent`, and the
settings of paragraphs, runs, tables and content controls. Footnotes and endnotes follow
the body, in sections of their own.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.markup import HEADING_SEPARATOR, check_chars, merge_heading_runs, require_text, stem
from searchapp.ingest.text import clean_text
from searchapp.ingest.types import ExtractedDocument, Limits, Section
from searchapp.units import megabytes

_HEADING_STYLE_RE = re.compile(r"^heading\s*(\d)$", re.I)
# A DOCX is a ZIP; refuse archives that would inflate past this before parsing them.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024

_Element = Any  # an lxml element (lxml ships no type hints)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_P, _TBL, _TR, _TC, _R = _W + "p", _W + "tbl", _W + "tr", _W + "tc", _W + "r"
_T, _FLD_CHAR, _TEXT_BOX = _W + "t", _W + "fldChar", _W + "txbxContent"
_ALTERNATE, _CHOICE, _FALLBACK = _MC + "AlternateContent", _MC + "Choice", _MC + "Fallback"
_BLOCKS = frozenset({_P, _TBL})
# Characters a run holds besides <w:t>. <w:softHyphen/> shows only at a line end: nothing.
_RUN_CHARS = {_W + "tab": "\t", _W + "ptab": "\t", _W + "br": "\n", _W + "cr": "\n"}
_RUN_CHARS[_W + "noBreakHyphen"] = "-"
# Never read into. Any other element is looked through for what it holds.
_SKIPPED = frozenset(
    _W + name
    for name in (
        "del",  # a tracked deletion (its text is <w:delText>)
        "moveFrom",  # where tracked-moved text used to be; <w:moveTo> holds it now
        "sdtPr",  # content control settings, including its placeholder's name
        "sdtEndPr",
        "pPr",
        "rPr",
        "tblPr",
        "tblGrid",
        "tblPrEx",
        "trPr",
        "tcPr",
        "sectPr",
    )
)
# `w:type` of the notes Word draws itself: the separator line and its continuation.
_NOTE_TYPES_SHOWN = frozenset({None, "normal"})


def extract_docx(data: bytes, source: str, limits: Limits) -> ExtractedDocument:
    if not data:
        raise IngestError(FailureReason.EMPTY_FILE, "the file has no content")
    _check_archive(data)
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        body = document.element.body
        core_title = (document.core_properties.title or "").strip()
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(
            FailureReason.UNREADABLE, f"not a readable DOCX file ({type(exc).__name__}: {exc})"[:240]
        ) from exc

    levels: dict[int, str] = {}
    sections: list[Section] = []
    lines: list[str] = []
    warnings: list[str] = []
    heading = ""
    title = ""
    offset = 0
    total = 0
    styles = _StyleNames(document)
    reader = _Reader(body)

    def close() -> None:
        nonlocal lines, offset
        text = clean_text("\n".join(lines))
        if text:
            sections.append(Section(text=text, heading=heading, offset=offset))
            offset += len(text) + 2
        lines = []

    def add(new_lines: list[str]) -> None:
        nonlocal total
        for line in new_lines:
            lines.append(line)
            total += len(line)

    # python-docx reads lazily: a damaged part can still fail here, with any exception.
    try:
        for block in _children(body, _BLOCKS):
            if block.tag == _P:
                text, boxes = reader.paragraph(block)
                style = styles.of(block)
                match = _HEADING_STYLE_RE.match(style)
                if text and (match or style.lower() == "title"):
                    level = int(match.group(1)) if match else 0
                    close()
                    if style.lower() == "title":
                        title = title or text
                    levels = {lvl: t for lvl, t in levels.items() if lvl < level}
                    levels[level] = text[:200]
                    heading = HEADING_SEPARATOR.join(levels[lvl] for lvl in sorted(levels))
                add([text, *boxes] if text else boxes)
            else:
                add(reader.table(block))
            check_chars(total, limits)
        close()
        for notes_heading, notes in _notes(document, warnings):
            heading = notes_heading
            for note in notes:
                note_lines = reader.story(note)
                if note_lines and not lines:
                    lines.append(heading)  # the section's first line, as a heading's own line is
                add(note_lines)
                check_chars(total, limits)
            close()
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(
            FailureReason.UNREADABLE, f"not a readable DOCX file ({type(exc).__name__}: {exc})"[:240]
        ) from exc
    require_text(sections, "DOCX file")
    merged, warning = merge_heading_runs(sections)
    return ExtractedDocument(
        file_type="docx",
        title=core_title or title or stem(source),
        sections=tuple(merged),
        warnings=tuple(warnings) + ((warning,) if warning else ()),
    )


class _Reader:
    """The shown text of paragraphs and tables, with the state of the fields open around them.

    A complex field runs from `<w:fldChar begin>` through its instruction
    (`<w:instrText>`, or a nested field's result), `separate`, its result, to `end`,
    and may span paragraphs (a table of contents does). Only the result is shown.
    """

    def __init__(self, body: _Element) -> None:
        self._fields = _Fields()
        # Fields of a damaged file that never reach `separate` or `end`: read as if absent,
        # or their instruction would hide the rest of the story. Stories never share one.
        self._dangling = _dangling_fields(body)

    def story(self, container: _Element) -> list[str]:
        """The lines of a text box or a note: its paragraphs and tables, its own fields."""
        self._dangling |= _dangling_fields(container)
        saved, self._fields = self._fields, _Fields()
        try:
            return self.blocks(container)
        finally:
            self._fields = saved

    def paragraph(self, p: _Element) -> tuple[str, list[str]]:
        """The paragraph's text, and the lines of the text boxes anchored in it."""
        parts: list[str] = []
        boxes: list[_Element] = []
        self._inline(p, parts, boxes)
        return "".join(parts).strip(), [line for box in boxes for line in self.story(box)]

    def table(self, tbl: _Element) -> list[str]:
        """One line per row, its cells joined with " | "; a nested table's rows stay in its cell."""
        lines = []
        for tr in _children(tbl, frozenset({_TR})):
            if _deleted_row(tr):
                continue
            # Each <w:tc> once, in order. python-docx's `row.cells` repeats a merged cell for
            # every grid column it spans (gridSpan="99999999" in a 5 KB file: 10^8 cells)
            # and in every row of a vertical merge. Equal values in different cells
            # ("10 | 10 | 20") all stay.
            texts = ("\n".join(self.blocks(tc)).strip() for tc in _children(tr, frozenset({_TC})))
            unique = [text for text in texts if text]
            if unique:
                lines.append(" | ".join(unique))
        return lines

    def blocks(self, container: _Element) -> list[str]:
        """The lines of the paragraphs and tables in a table cell, text box or note."""
        lines: list[str] = []
        for block in _children(container, _BLOCKS):
            if block.tag == _P:
                text, boxes = self.paragraph(block)
                lines.extend([text, *boxes] if text else boxes)
            else:
                lines.extend(self.table(block))
        return lines

    def _inline(self, parent: _Element, parts: list[str], boxes: list[_Element]) -> None:
        for child in parent.iterchildren():
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIPPED:
                continue  # comments and processing instructions have a function as their tag
            if tag == _R:
                self._run(child, parts, boxes)
            elif tag == _ALTERNATE:
                branch = _chosen(child)
                if branch is not None:
                    self._inline(branch, parts, boxes)
            else:  # hyperlinks, content controls, insertions, simple fields' results ...
                self._inline(child, parts, boxes)

    def _run(self, run: _Element, parts: list[str], boxes: list[_Element]) -> None:
        hidden = _hidden(run)
        for child in run.iterchildren():
            tag = child.tag
            if tag == _FLD_CHAR:  # even in a hidden run: it still opens or closes a field
                if child not in self._dangling:
                    self._fields.mark(child)
            elif hidden or self._fields.hiding or not isinstance(tag, str) or tag in _SKIPPED:
                continue
            elif tag == _T:
                parts.append(child.text or "")
            elif tag in _RUN_CHARS:
                parts.append(_RUN_CHARS[tag])
            else:  # <w:drawing>, <w:pict>, <mc:AlternateContent>: text boxes, if any
                inner = _chosen(child) if tag == _ALTERNATE else child
                if inner is not None:
                    boxes.extend(_children(inner, frozenset({_TEXT_BOX})))
            # <w:instrText>, <w:delText>, <w:sym> ... are neither: never read.


class _Fields:
    """The complex fields open at one point of a story, innermost last."""

    def __init__(self) -> None:
        self._open: list[tuple[_Element, bool]] = []  # (its begin, past its `separate` yet)
        self.hiding = 0  # how many open fields are still in their instruction

    def mark(self, char: _Element) -> None:
        """Take one `<w:fldChar>`."""
        kind = char.get(_W + "fldCharType")
        if kind == "begin":
            self._open.append((char, False))
            self.hiding += 1
        elif kind == "separate":
            # A `separate` belongs to the innermost field still in its instruction. Fields
            # opened inside it and already past theirs lost their `end` (a damaged file):
            # close them here, or this field's result would stay hidden.
            while self._open and self._open[-1][1]:
                self._open.pop()
            if self._open:
                self._open[-1] = (self._open[-1][0], True)
                self.hiding -= 1
        elif kind == "end" and self._open and not self._open.pop()[1]:
            self.hiding -= 1

    def in_instruction(self) -> list[_Element]:
        """The begins of the open fields that have not reached their `separate`."""
        return [begin for begin, separated in self._open if not separated]


def _dangling_fields(container: _Element) -> set[_Element]:
    """The begins of the fields in `container`'s own story that reach neither `separate` nor
    `end`. Leaving them out changes nothing else: no `separate` or `end` was theirs."""
    fields = _Fields()
    for char in container.iter(_FLD_CHAR):
        if _in_story(char, container):
            fields.mark(char)
    return set(fields.in_instruction())


def _in_story(char: _Element, container: _Element) -> bool:
    """Whether the walk of `container`'s story meets this `<w:fldChar>`: in a run, not in
    a text box (a story of its own), a skipped element, an unchosen branch or a deleted row."""
    node = char.getparent()
    if node is None or node.tag != _R:
        return False
    while node is not container:
        parent = node.getparent()
        if parent is None:
            return False
        tag = node.tag
        if tag in _SKIPPED or tag == _TEXT_BOX or (tag == _TR and _deleted_row(node)):
            return False
        if parent.tag == _ALTERNATE and _chosen(parent) is not node:
            return False
        node = parent
    return True


def _deleted_row(tr: _Element) -> bool:
    """Whether the table row was deleted with changes tracked."""
    properties = tr.find(_W + "trPr")
    return properties is not None and properties.find(_W + "del") is not None


def _children(parent: _Element, wanted: frozenset[str]) -> Iterator[_Element]:
    """The `wanted` elements under `parent` in document order, looked for through wrappers
    (content controls, insertions, custom XML, drawings) but not inside each other."""
    for child in parent.iterchildren():
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIPPED:
            continue
        if tag in wanted:
            yield child
        elif tag == _ALTERNATE:
            branch = _chosen(child)
            if branch is not None:
                yield from _children(branch, wanted)
        else:
            yield from _children(child, wanted)


def _chosen(alternate: _Element) -> _Element | None:
    """One branch of `mc:AlternateContent`: both hold the same text (a text box is drawn
    twice, DrawingML in the choice, VML in the fallback). The first choice, else the fallback."""
    choice = alternate.find(_CHOICE)
    return choice if choice is not None else alternate.find(_FALLBACK)


def _hidden(run: _Element) -> bool:
    """Whether the run is formatted hidden (`<w:vanish/>`, not `w:val="0"`)."""
    properties = run.find(_W + "rPr")
    vanish = properties.find(_W + "vanish") if properties is not None else None
    return vanish is not None and vanish.get(_W + "val") not in ("0", "false", "off")


def _notes(document: Any, warnings: list[str]) -> Iterator[tuple[str, list[_Element]]]:
    """("Footnotes", notes) and ("Endnotes", notes) for the parts the document has, without
    the separator notes. A part that cannot be parsed is left out with a warning."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.parser import parse_xml

    for name, reltype, tag in (
        ("Footnotes", RT.FOOTNOTES, "footnote"),
        ("Endnotes", RT.ENDNOTES, "endnote"),
    ):
        for rel in list(document.part.rels.values()):
            if rel.reltype != reltype or rel.is_external:
                continue
            try:
                root = parse_xml(rel.target_part.blob)
            except Exception as exc:
                warnings.append(f"its {name.lower()} could not be read ({type(exc).__name__})")
                continue
            notes = [
                note for note in root.iterchildren(_W + tag) if note.get(_W + "type") in _NOTE_TYPES_SHOWN
            ]
            yield name, notes


class _StyleNames:
    """Paragraph style names by style id; "" when styles.xml is damaged (the text is still read)."""

    def __init__(self, document: Any) -> None:
        self._document = document
        self._names: dict[str | None, str] = {}

    def of(self, p: _Element) -> str:
        properties = p.find(_W + "pPr")
        style = properties.find(_W + "pStyle") if properties is not None else None
        style_id = style.get(_W + "val") if style is not None else None
        if style_id not in self._names:
            self._names[style_id] = self._look_up(style_id)
        return self._names[style_id]

    def _look_up(self, style_id: str | None) -> str:
        try:
            from docx.enum.style import WD_STYLE_TYPE

            style = self._document.part.get_style(style_id, WD_STYLE_TYPE.PARAGRAPH)
            return str(style.name or "") if style is not None else ""
        except Exception:
            return ""


def _check_archive(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise IngestError(FailureReason.UNREADABLE, "not a DOCX file (it is not a ZIP archive)") from exc
    except Exception as exc:
        raise IngestError(
            FailureReason.UNREADABLE, f"not a readable DOCX file ({type(exc).__name__})"
        ) from exc
    if "word/document.xml" not in names:
        raise IngestError(FailureReason.UNREADABLE, "not a DOCX file (no word/document.xml inside)")
    if unpacked > MAX_UNPACKED_BYTES:
        raise IngestError(
            FailureReason.TOO_LARGE, f"it would unpack to {megabytes(unpacked)}; refusing a ZIP bomb"
        )
