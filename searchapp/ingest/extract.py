"""Pick the extractor for a file and run it: bytes and a name in, sections out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.html import extract_html
from searchapp.ingest.markup import extract_markdown, extract_plain_text
from searchapp.ingest.pdf import extract_pdf
from searchapp.ingest.text import sniff_binary
from searchapp.ingest.types import ExtractedDocument, Limits
from searchapp.ingest.word import extract_docx
from searchapp.types import FileType
from searchapp.units import format_size, megabytes

EXTENSIONS: dict[str, FileType] = {
    ".pdf": "pdf",
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".docx": "docx",
}
SUPPORTED = ", ".join(sorted({ext for ext in EXTENSIONS if len(ext) <= 5}))

_EXTRACTORS: dict[FileType, Callable[[bytes, str, Limits], ExtractedDocument]] = {
    "pdf": extract_pdf,
    "txt": extract_plain_text,
    "md": extract_markdown,
    "html": extract_html,
    "docx": extract_docx,
}


def file_type_of(name: str) -> FileType:
    """The file type for a name, by its extension.

    Raises:
        IngestError: UNSUPPORTED_TYPE for any other extension.
    """
    suffix = PurePosixPath(name.lower()).suffix
    try:
        return EXTENSIONS[suffix]
    except KeyError:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise IngestError(
            FailureReason.UNSUPPORTED_TYPE, f"{shown} is not a supported type; supported: {SUPPORTED}"
        ) from None


def extract(data: bytes, source: str, limits: Limits, *, password: str = "") -> ExtractedDocument:
    """Extract the text of one file (`password` opens an encrypted PDF).

    Raises:
        IngestError: for every way a file can fail (see `FailureReason`).
    """
    file_type = file_type_of(source)
    if not data:
        raise IngestError(FailureReason.EMPTY_FILE, "the file has no content")
    if len(data) > limits.max_bytes:
        raise IngestError(
            FailureReason.TOO_LARGE,
            f"{format_size(len(data))}; the limit is {megabytes(limits.max_bytes)} (SEARCHAPP_MAX_FILE_MB)",
        )
    if file_type == "docx" and not data.startswith(b"PK"):
        binary = sniff_binary(data)
        raise IngestError(
            FailureReason.UNREADABLE, f"not a DOCX file{f' (it is {binary})' if binary else ''}"
        )
    if file_type == "pdf":
        return extract_pdf(data, source, limits, password=password)
    return _EXTRACTORS[file_type](data, source, limits)
