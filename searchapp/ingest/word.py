"""DOCX into sections: the text Word shows, in document order, split at headings.

The body is walked as XML (python-docx's lxml elements), because python-docx's own
paragraph and table objects skip whatever sits inside a wrapper: content controls
(`w:sdt`), tracked insertions (`w:ins`), custom XML, text boxes, tables nested in cells.
The walk looks through every element it does not name, so a wrapper never hides text,
and leaves out what Word does not show as text: tracked deletions, hidden runs
(`w:vanish`), field instructions, the second copy in `mc:AlternateContent`, and the
settings of paragraphs, runs, tables and content controls. Footnotes and endnotes follow
the body, in sections of their own.

This module opens the file (refusing what is not a DOCX, or would unpack too large), finds
the headings by paragraph style, and gathers the notes; the walk itself is in
`searchapp.ingest.word_xml`.
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
from searchapp.ingest.word_xml import BLOCKS, Element, P, StoryReader, W, children
from searchapp.units import megabytes

_HEADING_STYLE_RE = re.compile(r"^heading\s*(\d)$", re.I)
# A DOCX is a ZIP; refuse archives that would inflate past this before parsing them.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024

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
    reader = StoryReader(body)

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
        for block in children(body, BLOCKS):
            if block.tag == P:
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


def _notes(document: Any, warnings: list[str]) -> Iterator[tuple[str, list[Element]]]:
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
            notes = [note for note in root.iterchildren(W + tag) if note.get(W + "type") in _NOTE_TYPES_SHOWN]
            yield name, notes


class _StyleNames:
    """Paragraph style names by style id; "" when styles.xml is damaged (the text is still read)."""

    def __init__(self, document: Any) -> None:
        self._document = document
        self._names: dict[str | None, str] = {}

    def of(self, p: Element) -> str:
        properties = p.find(W + "pPr")
        style = properties.find(W + "pStyle") if properties is not None else None
        style_id = style.get(W + "val") if style is not None else None
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
