"""DOCX into sections: paragraphs and tables in document order, split at headings."""

from __future__ import annotations

import io
import re
import zipfile

from ingest.markup import HEADING_SEPARATOR, check_chars, require_text, stem
from ingest.text import clean_text
from ingest.types import ExtractedDocument, Limits, Section
from searchapp.errors import FailureReason, IngestError

_HEADING_STYLE_RE = re.compile(r"^heading\s*(\d)$", re.I)
# A DOCX is a ZIP; refuse archives that would inflate past this before parsing them.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024


def extract_docx(data: bytes, source: str, limits: Limits) -> ExtractedDocument:
    if not data:
        raise IngestError(FailureReason.EMPTY_FILE, "the file has no content")
    _check_archive(data)
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
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
    heading = ""
    title = ""
    offset = 0
    total = 0

    def close() -> None:
        nonlocal lines, offset
        body = clean_text("\n".join(lines))
        if body:
            sections.append(Section(text=body, heading=heading, offset=offset))
            offset += len(body) + 2
        lines = []

    for block in blocks:
        if isinstance(block, Paragraph):
            text = block.text.strip()
            style = (block.style.name if block.style is not None else "") or ""
            match = _HEADING_STYLE_RE.match(style)
            if text and (match or style.lower() == "title"):
                level = int(match.group(1)) if match else 0
                close()
                if style.lower() == "title":
                    title = title or text
                levels = {lvl: t for lvl, t in levels.items() if lvl < level}
                levels[level] = text[:200]
                heading = HEADING_SEPARATOR.join(levels[lvl] for lvl in sorted(levels))
            if text:
                lines.append(text)
                total += len(text)
        elif isinstance(block, Table):
            for row in block.rows:
                # A merged cell is the same <w:tc> repeated: keep it once. Equal values in
                # different cells ("10 | 10 | 20") all stay. (`cells` keeps every element
                # alive, so ids are unique within the row.)
                cells = row.cells
                seen: set[int] = set()
                unique: list[str] = []
                for cell in cells:
                    text = cell.text.strip()
                    if text and id(cell._tc) not in seen:
                        unique.append(text)
                    seen.add(id(cell._tc))
                if unique:
                    lines.append(" | ".join(unique))
                    total += len(lines[-1])
        check_chars(total, limits)
    close()
    require_text(sections, "DOCX file")
    return ExtractedDocument(
        file_type="docx", title=core_title or title or stem(source), sections=tuple(sections)
    )


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
            FailureReason.TOO_LARGE, f"it would unpack to {unpacked / 2**20:,.0f} MB; refusing a ZIP bomb"
        )
