"""PDF pages whose text layer is missing or garbage: OCR, and what the user is told.

A page is sent to OCR when its text layer has almost no letters (a scan) or looks like
garbage (`ingest.garbage`). Pages with nothing on them at all (no image, no drawing,
no text object) are blank: there is nothing to read, so they are not sent. OCR is
skipped, with the reason said, when it is turned off (SEARCHAPP_OCR=off), when
Tesseract is missing, or when pdfium, which renders the pages, cannot open the file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.cpu_time import CpuBudget, ocr_cores
from searchapp.ingest.garbage import garbage_reason
from searchapp.ingest.ocr import OcrUnavailable, ocr_pages, usable_languages
from searchapp.ingest.text import meaningful_chars
from searchapp.ingest.types import Limits

MIN_PAGE_CHARS = 10
# OCR may use this share of the file's time limit, but not all: chunking comes after it.
OCR_SHARE_OF_LIMIT = 0.8


@dataclass(frozen=True, slots=True)
class OcrOutcome:
    """What OCR made of the pages it was given (0-based page indexes)."""

    texts: dict[int, str] = field(default_factory=dict)  # pages OCR read
    blank: frozenset[int] = frozenset()  # pages with nothing on them
    failed: dict[int, str] = field(default_factory=dict)  # pages OCR could not read, and why
    skipped: str = ""  # why OCR did not run at all


def ocr_unusable_pages(
    data: bytes, indexes: Sequence[int], limits: Limits, started: float, password: str = ""
) -> OcrOutcome:
    """OCR the given pages of a PDF within the file's time limit, counted in CPU time from
    `started` (a `cpu_seconds` value): OCR may use `OCR_SHARE_OF_LIMIT` of the limit on
    each core it reads pages on, and leaves the rest for chunking."""
    if not indexes:
        return OcrOutcome()
    if b"/BrotliDecode" in data:
        return OcrOutcome(skipped="pdfium, which renders pages for OCR, cannot decode Brotli streams")
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data, password=password or None)
    except Exception:
        return OcrOutcome(skipped="pdfium, which renders pages for OCR, cannot open the file")
    try:
        blank = frozenset(i for i in indexes if _is_blank(document, i))
        if limits.ocr == "off":
            return OcrOutcome(blank=blank, skipped="OCR is off (SEARCHAPP_OCR=off)")
        try:
            languages = usable_languages(limits.ocr_languages)
        except OcrUnavailable as exc:
            return OcrOutcome(blank=blank, skipped=f"OCR is not available: {exc}")
        texts: dict[int, str] = {}
        failed: dict[int, str] = {}
        todo = [i for i in indexes if i not in blank]
        cores = min(ocr_cores(), max(1, len(todo)))
        budget = CpuBudget(limits.timeout_s * OCR_SHARE_OF_LIMIT * cores, start=started)
        for page in ocr_pages(document, todo, languages=languages, budget=budget):
            if page.error:
                failed[page.index] = page.error
            elif meaningful_chars(page.text) < MIN_PAGE_CHARS:
                failed[page.index] = "OCR found no text"
            elif reason := garbage_reason(page.text):
                failed[page.index] = f"OCR's text is garbage too ({reason})"
            else:
                texts[page.index] = page.text
        return OcrOutcome(texts=texts, blank=blank, failed=failed)
    finally:
        document.close()


def _is_blank(document: object, index: int) -> bool:
    """True when the page has no objects at all: nothing that OCR could read."""
    import pypdfium2.raw as pdfium_c

    try:
        page = document[index]  # type: ignore[index]
    except Exception:
        return False
    try:
        return int(pdfium_c.FPDFPage_CountObjects(page.raw)) == 0
    except Exception:
        return False
    finally:
        page.close()


def nothing_readable(
    data: bytes, count: int, unreadable: list[int], empty: list[int], ocr: OcrOutcome, password: str = ""
) -> IngestError:
    """The error for a PDF none of whose pages gave text: damaged or blank, or a scan OCR could not read."""
    if len(unreadable) == count:
        return IngestError(FailureReason.DAMAGED_PDF, f"none of its {count} pages could be read")
    pages = "its page" if count == 1 else f"its {count} pages"
    if len(ocr.blank) == len(empty) == count:
        if _content_streams_broken(data, password):
            return IngestError(
                FailureReason.DAMAGED_PDF, f"the content of {pages} is missing or cannot be decoded"
            )
        what = "its one page is" if count == 1 else f"all of its {count} pages are"
        return IngestError(
            FailureReason.DAMAGED_PDF,
            f"{what} empty (no text, no images, no drawing): the file is damaged or blank",
        )
    why = ocr.skipped or "; ".join(sorted(set(ocr.failed.values()))) or "OCR found no text"
    has = "has" if count == 1 else "have"
    return IngestError(FailureReason.NO_TEXT, f"{pages} {has} no text layer, and {_lower(why)}")


def page_warnings(
    count: int, unreadable: list[int], empty: list[int], garbled: dict[int, str], ocr: OcrOutcome
) -> list[str]:
    """One warning per kind of page trouble, each naming its pages."""
    warnings: list[str] = []
    scanned = [i for i in empty if i in ocr.texts]
    if scanned:
        warnings.append(_pages(scanned, count, "had no text layer and {were} read with OCR"))
    fixed = [i for i in garbled if i in ocr.texts]
    if fixed:
        reason = garbled[fixed[0]]
        what = f"had a garbled text layer ({reason}) and {{were}} read with OCR"
        warnings.append(_pages(fixed, count, what))
    kept = [i for i in garbled if i not in ocr.texts]
    if kept:
        why = _why_not(ocr, kept)
        reason = garbled[kept[0]]
        what = f"{{have}} a garbled text layer ({reason}), indexed as it is{why}"
        warnings.append(_pages(kept, count, what))
    missing = [i for i in empty if i not in ocr.texts and i not in ocr.blank]
    if missing:
        warnings.append(_pages(missing, count, f"{{have}} no text layer{_why_not(ocr, missing)}"))
    if unreadable:
        warnings.append(_pages(unreadable, count, "could not be read (damaged?)"))
    return warnings


def _why_not(ocr: OcrOutcome, indexes: list[int]) -> str:
    why = ocr.skipped or ocr.failed.get(indexes[0], "")
    return f"; {_lower(why)}" if why else ""


def _pages(indexes: list[int], count: int, what: str) -> str:
    """'2 of 5 pages have ...: pages 1-2' from 0-based indexes; {have}/{were} agree in number."""
    one = len(indexes) == 1
    verb = what.format(have="has" if one else "have", were="was" if one else "were")
    return f"{len(indexes)} of {count} pages {verb}: {_ranges(sorted(i + 1 for i in indexes))}"


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:3] != "OCR" else text


def _content_streams_broken(data: bytes, password: str = "") -> bool:
    """True when a page's /Contents is declared but missing, or has bytes that decode to nothing."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt(password)
        pages = list(reader.pages)
    except Exception:
        return False  # pypdf cannot tell: the caller says "damaged or blank"
    try:
        for page in pages:
            if "/Contents" not in page:
                continue
            contents = page["/Contents"].get_object()
            streams = list(contents) if isinstance(contents, list) else [contents]
            for stream in streams:
                stream = stream.get_object() if stream is not None else None
                if stream is None or not hasattr(stream, "get_data"):
                    return True
                if bytes(getattr(stream, "_data", b"")).strip() and not stream.get_data().strip():
                    return True
    except Exception:
        return True
    return False


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> 'pages 1-3, 7'."""
    spans: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], -1]:
        if n == prev + 1:
            prev = n
            continue
        spans.append(f"{start}-{prev}" if prev > start else str(start))
        start = prev = n
    shown = ", ".join(spans[:10]) + (", ..." if len(spans) > 10 else "")
    return f"page{'s' if len(numbers) > 1 else ''} {shown}"
