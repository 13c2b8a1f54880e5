"""Value types of the write path: limits, extracted sections, files to ingest, per-file outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from searchapp.errors import FailureReason
from searchapp.types import DocumentRecord, FileType
from searchapp.units import MB

Status = Literal["ingested", "unchanged", "failed"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-file limits; exceeding one fails that file with a clear reason."""

    max_bytes: int = 100 * MB
    max_pages: int = 2000
    max_chars: int = 10_000_000
    timeout_s: float = 120.0
    pdf_extractor: str = "pdfium"
    ocr: str = "auto"  # "auto": OCR pages without a usable text layer; "off": never
    ocr_languages: str = "eng+rus"  # Tesseract models, tried in this order


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text that shares a page and a heading path.

    `offset` is where the section starts: within its page for PDFs, within the
    document's extracted text otherwise.
    """

    text: str
    page: int | None = None
    heading: str = ""
    offset: int = 0
    ocr: bool = False  # the text was read from the page's image, not its text layer


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """What an extractor read from one file."""

    file_type: FileType
    title: str
    sections: tuple[Section, ...]
    pages: int = 0
    encoding: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file to ingest: bytes from an upload, or a path on disk.

    `source` is the display name and the key under which an edited file replaces its
    older version. It is never used as a path. `groups` restricts the document to those
    groups (`searchapp.access.visibility`); none keeps the groups of the version it
    replaces, if any. `external_id` is the caller's own id for
    the document (a corpus id, a database key); when given, every chunk and the catalog
    record carry it as metadata ``external_id``, so hits map back to the caller's ids.
    `password` opens an encrypted PDF; it is never stored, logged or shown in a repr.
    """

    source: str
    path: Path | None = None
    data: bytes | None = None
    mtime: int = 0
    tags: tuple[str, ...] = ()
    external_id: str = ""
    password: str = field(default="", repr=False, compare=False)
    groups: tuple[str, ...] = ()  # restricted to these groups; none: everyone of the collection
    ingested_at: int = 0  # 0: now; a rebuild from the originals passes each document's first date

    @classmethod
    def stored(cls, record: DocumentRecord, data: bytes) -> SourceFile:
        """A stored document as a file to ingest again: its original, under its recorded name,
        tags, groups and ingest date (the same document read again is not a new version)."""
        return cls(
            source=record.source,
            data=data,
            mtime=record.mtime,
            tags=record.tags,
            external_id=record.external_id,
            groups=record.groups,
            ingested_at=record.ingested_at,
        )

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError(f"{self.source}: neither data nor a path was given")
        return self.path.read_bytes()

    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        return self.path.stat().st_size if self.path is not None else 0


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """How one file ended: ingested (with its chunk count), unchanged, or failed (with why)."""

    source: str
    status: Status
    chunks: int = 0
    doc_id: str = ""
    reason: FailureReason | None = None
    detail: str = ""
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def message(self) -> str:
        if self.status == "ingested":
            return f"ingested, {self.chunks} chunks"
        if self.status == "unchanged":
            return f"unchanged{' (' + self.detail + ')' if self.detail else ''}"
        label = self.reason.label if self.reason else "failed"
        return f"failed: {label}: {self.detail}" if self.detail else f"failed: {label}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "chunks": self.chunks,
            "doc_id": self.doc_id,
            "reason": self.reason.value if self.reason else None,
            "detail": self.detail,
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class IngestReport:
    """Every file's outcome, in the order the files were given."""

    outcomes: tuple[FileOutcome, ...] = field(default=())

    def by_status(self, status: Status) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ingested(self) -> list[FileOutcome]:
        return self.by_status("ingested")

    @property
    def unchanged(self) -> list[FileOutcome]:
        return self.by_status("unchanged")

    @property
    def failed(self) -> list[FileOutcome]:
        return self.by_status("failed")

    @property
    def chunks_written(self) -> int:
        return sum(o.chunks for o in self.ingested)

    def summary(self) -> str:
        return (
            f"{len(self.ingested)} ingested ({self.chunks_written} chunks), "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingested": len(self.ingested),
            "unchanged": len(self.unchanged),
            "failed": len(self.failed),
            "chunks_written": self.chunks_written,
            "files": [o.to_dict() for o in self.outcomes],
        }
