"""DOCX into sections: paragraphs and tables in document order, split at headings."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.markup import HEADING_SEPARATOR, check_chars, merge_heading_runs, require_text, stem
from searchapp.ingest.text import clean_text
from searchapp.ingest.types import ExtractedDocument, Limits, Section
from searchapp.units import megabytes

_HEADING_STYLE_RE = re.compile(r"^heading\s*(\d)$", re.I)
# A DOCX is a ZIP; refuse archives that would inflate past this before parsing them.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024


def extract_docx(data: bytes, source: str, limits: Limits) -> ExtractedDocument:
    if not data:
        raise IngestError(FailureReason.EMPTY_FILE, "the file has no content")
    _check_archive(data)
    try:
        import docx
        from docx.table import Table, _Cell
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

    # python-docx reads lazily: a damaged part can still fail here, with any exception.
    try:
        for block in blocks:
            if isinstance(block, Paragraph):
                text = block.text.strip()
                style = _style_name(block)
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
                    # Each <w:tc> once, in order. `row.cells` repeats a merged cell for every
                    # grid column it spans (gridSpan="99999999" in a 5 KB file: 10^8 cells)
                    # and in every row of a vertical merge. Equal values in different cells
                    # ("10 | 10 | 20") all stay.
                    texts = (_Cell(tc, block).text.strip() for tc in row._tr.tc_lst)
                    unique = [text for text in texts if text]
                    if unique:
                        lines.append(" | ".join(unique))
                        total += len(lines[-1])
            check_chars(total, limits)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(
            FailureReason.UNREADABLE, f"not a readable DOCX file ({type(exc).__name__}: {exc})"[:240]
        ) from exc
    close()
    require_text(sections, "DOCX file")
    merged, warning = merge_heading_runs(sections)
    return ExtractedDocument(
        file_type="docx",
        title=core_title or title or stem(source),
        sections=tuple(merged),
        warnings=(warning,) if warning else (),
    )


def _style_name(paragraph: Any) -> str:
    """The paragraph's style name; "" when styles.xml is damaged (the text is still read)."""
    try:
        style = paragraph.style
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
