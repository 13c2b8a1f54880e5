"""The work done in extraction worker processes: bytes to chunks.

Kept light on purpose: a worker imports the parsers and the tokenizer, never torch or
Chroma, so it starts in about a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.chunking import Chunker, ChunkerConfig
from searchapp.ingest.extract import extract
from searchapp.ingest.types import Limits
from searchapp.storage.terms import keyword_tokens
from searchapp.types import FileType, PreparedChunk

_chunker: Chunker | None = None


@dataclass(frozen=True, slots=True)
class PrepareJob:
    data: bytes
    source: str
    limits: Limits
    password: str = field(default="", repr=False)  # for an encrypted PDF; never stored


@dataclass(frozen=True, slots=True)
class Prepared:
    """One file, extracted and chunked."""

    file_type: FileType
    title: str
    pages: int
    encoding: str
    warnings: tuple[str, ...]
    chunks: tuple[PreparedChunk, ...]


def init_worker(config: ChunkerConfig) -> None:
    """Runs once in each worker: quiet logs and one tokenizer for all its files."""
    global _chunker
    logging.basicConfig(level=logging.ERROR)
    _chunker = Chunker(config)


def prepare(job: PrepareJob) -> Prepared:
    """Extract and chunk one file (in a worker; or in-process when `init_worker` ran here).

    Raises:
        IngestError: the file cannot be ingested, with the reason.
    """
    if _chunker is None:
        raise RuntimeError("init_worker() must run before prepare()")
    document = extract(job.data, job.source, job.limits, password=job.password)
    # BM25 terms are computed here too: the workers run in parallel, the writer does not.
    chunks = [replace(c, terms=" ".join(keyword_tokens(c.text))) for c in _chunker.chunk(document.sections)]
    if not chunks:
        raise IngestError(FailureReason.NO_TEXT, "no text to index after extraction")
    return Prepared(
        file_type=document.file_type,
        title=document.title,
        pages=document.pages,
        encoding=document.encoding,
        warnings=document.warnings,
        chunks=tuple(chunks),
    )
