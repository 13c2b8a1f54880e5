"""PDF text, page by page: pypdfium2 (the default: fast, permissive licence) or pypdf.

pdfium extracts text 10-15x faster than pypdf (docs/benchmarks.md), which matters most
for large files and on a GPU, where pypdf would be the slowest stage. Two of its habits are
corrected here, so that it passes the same table of real PDFs as pypdf
(tests/test_pdf_corpus.py): it returns right-to-left scripts in visual order (reversed),
so pages with Arabic or Hebrew are read again with pypdf, which orders them logically; and
it letter-spaces CJK text set in some fonts ("红 军 作 战"), which is closed up. With
either library, a line wrap inside Chinese or Japanese text is joined without a space
(pypdf breaks some Japanese after every character), so phrases are found across wraps.

Whatever goes wrong inside a PDF library becomes an `IngestError` with a reason: pypdf
raises far more than its own `PyPdfError` on hostile files (fuzzing found ValueError,
TypeError, AttributeError, NotImplementedError, RecursionError, and DependencyError
for AES without `cryptography`), so everything is caught. When the chosen library
cannot open a file at all, the other one gets a try: pdfium repairs files that pypdf
rejects (junk before the header, a missing startxref).
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.cpu_time import cpu_seconds
from searchapp.ingest.garbage import garbage_reason
from searchapp.ingest.pdf_pages import MIN_PAGE_CHARS, nothing_readable, ocr_unusable_pages, page_warnings
from searchapp.ingest.running_lines import drop_running_lines
from searchapp.ingest.text import clean_text, meaningful_chars
from searchapp.ingest.types import ExtractedDocument, Limits, Section
from searchapp.ingest.words import close_gaps, join_hyphenated

# Hebrew, Arabic, Syriac, Thaana, NKo and the Arabic presentation forms.
_RTL_RE = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and Han; not Hangul, which spaces words
_SPACED_CJK_RE = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_ADJACENT_CJK_RE = re.compile(f"(?<=[{_CJK}])(?=[{_CJK}])")
_CJK_CHAR_RE = re.compile(f"[{_CJK}]")
# A CJK line this long that breaks mid-run was wrapped at the margin; shorter ones are
# headings or table cells, whose breaks mean something.
_CJK_WRAPPED_LINE = 12

logging.getLogger("pypdf").setLevel(logging.ERROR)


class _Unopenable(Exception):
    """The library could not open the file (as opposed to: it is password-protected)."""


def extract_pdf(data: bytes, source: str, limits: Limits, *, password: str = "") -> ExtractedDocument:
    """Extract every page's text; pages without a usable text layer are read with OCR.

    `password` opens an encrypted file (never kept).

    Raises:
        IngestError: DAMAGED_PDF, PASSWORD_PROTECTED, NO_TEXT, TOO_LARGE or EMPTY_FILE.
    """
    started = cpu_seconds()  # the file's time limit is counted in CPU time (ingest.cpu_time)
    if not data:
        raise IngestError(FailureReason.EMPTY_FILE, "the file has no content")
    if b"%PDF-" not in data[:1024]:
        raise IngestError(FailureReason.DAMAGED_PDF, "no %PDF header in the first 1 KB: not a PDF file")
    order = [_read_pdfium, _read_pypdf]
    # pdfium does not decode /BrotliDecode streams: it shows such pages as blank.
    if limits.pdf_extractor == "pypdf" or b"/BrotliDecode" in data:
        order.reverse()
    first_error: Exception | None = None
    for reader in order:
        try:
            title, pages = reader(data, limits, password)
        except IngestError:
            raise
        except _Unopenable as exc:
            first_error = first_error or exc
            continue
        if reader is _read_pdfium:
            pages = _rtl_pages_from_pypdf(data, pages, password)
        pages = _garbled_pages_from_other(data, reader is _read_pdfium, pages, password)
        if reader is not order[0]:
            warnings = [f"repaired: read with {reader.__name__[6:]} after {first_error}"]
        else:
            warnings = _repairs(data)
        return _assemble(data, source, title, pages, limits, warnings, started, password)
    raise IngestError(FailureReason.DAMAGED_PDF, f"cannot be opened: {first_error}")


def _repairs(data: bytes) -> list[str]:
    """What the reader silently repaired, so the user knows the file is damaged."""
    junk = data.find(b"%PDF-")
    return [f"repaired: skipped {junk} bytes of junk before the %PDF header"] if junk > 0 else []


def _locked(password: str) -> IngestError:
    if password:
        return IngestError(FailureReason.PASSWORD_PROTECTED, "the password is not right; try it again")
    return IngestError(
        FailureReason.PASSWORD_PROTECTED,
        "it needs a password to open: type it in the upload form, or give searchapp ingest --password",
    )


def _rtl_pages_from_pypdf(data: bytes, pages: list[str | None], password: str) -> list[str | None]:
    """pdfium's pages, except those with right-to-left text, which pypdf orders correctly."""
    rtl = [i for i, text in enumerate(pages) if text and _RTL_RE.search(text)]
    if not rtl:
        return pages
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt(password)
    except Exception:
        return pages  # pdfium's reversed text beats none
    result = list(pages)
    for index in rtl:
        text = _safely(partial(_pypdf_page_text, reader, index))
        if text and meaningful_chars(text) >= MIN_PAGE_CHARS:
            result[index] = text
    return result


def _garbled_pages_from_other(
    data: bytes, read_with_pdfium: bool, pages: list[str | None], password: str
) -> list[str | None]:
    """Pages whose text is garbage, read again with the other library where it does better."""
    garbled = [i for i, text in enumerate(pages) if text and garbage_reason(text)]
    if not garbled:
        return pages
    result = list(pages)
    for index, text in _other_library_texts(data, read_with_pdfium, garbled, password).items():
        if text and not garbage_reason(text) and meaningful_chars(clean_text(text)) >= MIN_PAGE_CHARS:
            result[index] = text
    return result


def _other_library_texts(
    data: bytes, read_with_pdfium: bool, indexes: list[int], password: str
) -> dict[int, str | None]:
    try:
        if read_with_pdfium:
            import pypdf

            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                reader.decrypt(password)
            return {i: _safely(partial(_pypdf_page_text, reader, i)) for i in indexes}
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(data, password=password or None)
        try:
            return {i: _safely(partial(_pdfium_page_text, document, i)) for i in indexes}
        finally:
            document.close()
    except Exception:
        return {}


def _unspace_cjk(text: str) -> str:
    """Close up CJK text that pdfium letter-spaced; leave text with ordinary spacing alone."""
    spaced = len(_SPACED_CJK_RE.findall(text))
    if spaced and spaced > len(_ADJACENT_CJK_RE.findall(text)):
        return _SPACED_CJK_RE.sub("", text)
    return text


def _join_cjk_wraps(text: str) -> str:
    """Join line wraps inside Chinese or Japanese text, which has no spaces between words.

    Two kinds of break are joined: a long line wrapped at the margin, and runs of one- or
    two-character lines (pypdf breaks some Japanese after every character). A break
    after a short line (a heading, a table cell) stays.
    """
    if not _CJK_CHAR_RE.search(text):
        return text
    lines = text.split("\n")
    out = [lines[0]]
    for prev, line in itertools.pairwise(lines):
        joined = (
            prev
            and line
            and _CJK_CHAR_RE.match(prev[-1])
            and _CJK_CHAR_RE.match(line[0])
            and (len(prev) >= _CJK_WRAPPED_LINE or (len(prev) <= 2 and len(line) <= 2))
        )
        if joined:
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def _assemble(
    data: bytes,
    source: str,
    title: str,
    pages: list[str | None],
    limits: Limits,
    warnings: list[str],
    started: float,
    password: str = "",
) -> ExtractedDocument:
    unreadable = [i for i, raw in enumerate(pages) if raw is None]
    cleaned = {i: _page_text(raw) for i, raw in enumerate(pages) if raw is not None}
    empty = [i for i, text in cleaned.items() if meaningful_chars(text) < MIN_PAGE_CHARS]
    # A garbled page keeps its text if OCR cannot read it; one with no letters (only U+FFFD,
    # say) is empty: kept, it would be a passage of nothing.
    garbled = {
        i: reason for i, raw in enumerate(pages) if raw and i not in empty and (reason := garbage_reason(raw))
    }
    ocr = ocr_unusable_pages(data, sorted([*empty, *garbled]), limits, started, password)
    sections: list[Section] = []
    for index, text in cleaned.items():
        if index in ocr.texts:
            sections.append(Section(text=_page_text(ocr.texts[index]), page=index + 1, ocr=True))
        elif index not in empty:
            sections.append(Section(text=text, page=index + 1))
    if not sections:
        raise nothing_readable(data, len(pages), unreadable, empty, ocr, password)
    warnings.extend(page_warnings(len(pages), unreadable, empty, garbled, ocr))
    title = title or _first_line(sections[0].text) or source
    # After OCR, so that scanned pages lose their running head too.
    sections = drop_running_lines(sections)
    return ExtractedDocument(
        file_type="pdf", title=title, sections=tuple(sections), pages=len(pages), warnings=tuple(warnings)
    )


def _page_text(raw: str) -> str:
    """A page's raw text, cleaned, with whole words and CJK line wraps joined."""
    return close_gaps(_join_cjk_wraps(clean_text(join_hyphenated(raw))))


def _check_pages(count: int, limits: Limits) -> None:
    if count > limits.max_pages:
        raise IngestError(
            FailureReason.TOO_LARGE, f"{count} pages; the limit is {limits.max_pages} (SEARCHAPP_MAX_PAGES)"
        )
    if count == 0:
        raise IngestError(FailureReason.DAMAGED_PDF, "no pages found: its page tree is missing or unreadable")


def _collect(texts: Iterator[str | None], limits: Limits) -> list[str | None]:
    pages: list[str | None] = []
    total = 0
    for text in texts:
        total += len(text or "")
        if total > limits.max_chars:
            raise IngestError(
                FailureReason.TOO_LARGE,
                f"more than {limits.max_chars:,} characters of text; the limit is SEARCHAPP_MAX_CHARS",
            )
        pages.append(text)
    return pages


def _read_pypdf(data: bytes, limits: Limits, password: str = "") -> tuple[str, list[str | None]]:
    import pypdf
    from pypdf.errors import FileNotDecryptedError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(password):
            raise _locked(password)
        count = len(reader.pages)
    except IngestError:
        raise
    except FileNotDecryptedError as exc:
        raise _locked(password) from exc
    except (RecursionError, MemoryError) as exc:
        raise IngestError(
            FailureReason.DAMAGED_PDF, f"its structure is too deep or too large ({type(exc).__name__})"
        ) from exc
    except Exception as exc:
        raise _Unopenable(_describe(exc)) from exc
    _check_pages(count, limits)
    title = _pypdf_title(reader)

    def texts() -> Iterator[str | None]:
        for index in range(count):
            yield _safely(partial(_pypdf_page_text, reader, index))

    return title, _collect(texts(), limits)


def _pypdf_page_text(reader: Any, index: int) -> str:
    return str(reader.pages[index].extract_text() or "")


def _pypdf_title(reader: Any) -> str:
    try:
        metadata = reader.metadata
        title = str(metadata.title or "") if metadata else ""
    except Exception:
        return ""
    return _plausible_title(title)


def _read_pdfium(data: bytes, limits: Limits, password: str = "") -> tuple[str, list[str | None]]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data, password=password or None)
    except Exception as exc:
        message = str(exc)
        if "password" in message.lower():
            raise _locked(password) from exc
        raise _Unopenable(_describe(exc)) from exc
    try:
        count = len(document)
        _check_pages(count, limits)
        title = ""
        try:
            title = _plausible_title(str(document.get_metadata_dict().get("Title", "")))
        except Exception:
            title = ""

        def texts() -> Iterator[str | None]:
            for index in range(count):
                yield _safely(partial(_pdfium_page_text, document, index))

        return title, _collect(texts(), limits)
    finally:
        document.close()


def _pdfium_page_text(document: Any, index: int) -> str:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            return _unspace_cjk(str(textpage.get_text_range()))
        finally:
            textpage.close()
    finally:
        page.close()


def _safely(read: Callable[[], Any]) -> str | None:
    """One page's text, or None if the library fails on that page."""
    try:
        return str(read() or "")
    except (IngestError, MemoryError):
        raise
    except Exception:
        return None


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:200] if message else type(exc).__name__


_TITLE_JUNK_RE = re.compile(r"^(untitled|microsoft word - .*|document\d*|.*\.(docx?|pdf|tex|dvi))$", re.I)


def _plausible_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) < 3 or len(title) > 200 or _TITLE_JUNK_RE.match(title):
        return ""
    return title


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if meaningful_chars(line) >= 3:
            return line[:120]
    return ""
