"""The core value types: prepared and stored documents, search hits and search responses.

All are frozen dataclasses. Chunk metadata stays a flat mapping of Chroma-legal
values (no None), so what is stored is what a hit carries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

MetaValue = str | int | float | bool | list[str]
Metadata = Mapping[str, MetaValue]
FileType = Literal["pdf", "txt", "md", "html", "docx"]
FILE_TYPES: tuple[FileType, ...] = ("pdf", "txt", "md", "html", "docx")
DocState = Literal["pending", "done"]


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """One document in the catalog: what was ingested, from which bytes, and how it went.

    `doc_id` is the SHA-256 of the file's bytes; `source` is its display name and the key
    under which an edited file replaces its older version.
    """

    doc_id: str
    source: str
    file_type: FileType
    title: str
    size: int
    chunks: int
    ingested_at: int
    pages: int = 0  # 0 when the format has no pages
    tags: tuple[str, ...] = ()
    mtime: int = 0  # 0 when unknown
    encoding: str = ""
    state: DocState = "done"
    replaces: str = ""  # doc_id of the version this one replaces, while pending
    warnings: tuple[str, ...] = ()
    external_id: str = ""  # the caller's own id for the document (`SourceFile.external_id`)
    owner: str = ""  # while pending: the client writing it (`Library.client_id`)
    lease_until: int = 0  # while pending: the owner's lease, renewed while it works (epoch s)
    groups: tuple[str, ...] = ()  # restricted to these groups; none: everyone (`searchapp.access`)

    def lease_live(self, now: float) -> bool:
        """True while another client may still be writing this pending document."""
        return self.state == "pending" and bool(self.owner) and self.lease_until > now

    def to_metadata(self) -> dict[str, MetaValue]:
        """Flat, Chroma-legal metadata with the same keys every time.

        A fixed key set lets one `upsert` replace a record completely: upsert merges, so a
        key left out would keep its old value. Lists go in as JSON text (Chroma rejects
        empty lists, and the catalog is never filtered by tag; chunks are).
        """
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "file_type": self.file_type,
            "title": self.title,
            "size": self.size,
            "chunks": self.chunks,
            "ingested_at": self.ingested_at,
            "pages": self.pages,
            "mtime": self.mtime,
            "state": self.state,
            "tags": json.dumps(list(self.tags), ensure_ascii=False),
            "encoding": self.encoding,
            "replaces": self.replaces,
            "warnings": json.dumps(list(self.warnings), ensure_ascii=False),
            "external_id": self.external_id,
            "owner": self.owner,
            "lease_until": self.lease_until,
            "groups": json.dumps(list(self.groups), ensure_ascii=False),
        }

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> DocumentRecord:
        return cls(
            doc_id=str(meta["doc_id"]),
            source=str(meta["source"]),
            file_type=meta["file_type"],
            title=str(meta.get("title", "")),
            size=int(meta.get("size", 0)),
            chunks=int(meta.get("chunks", 0)),
            ingested_at=int(meta.get("ingested_at", 0)),
            pages=int(meta.get("pages", 0)),
            tags=_list(meta.get("tags")),
            mtime=int(meta.get("mtime", 0)),
            encoding=str(meta.get("encoding", "")),
            state=meta.get("state", "done"),
            replaces=str(meta.get("replaces", "")),
            warnings=_list(meta.get("warnings")),
            external_id=str(meta.get("external_id", "")),
            owner=str(meta.get("owner", "")),
            lease_until=int(meta.get("lease_until", 0)),
            groups=_list(meta.get("groups")),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        data["warnings"] = list(self.warnings)
        data["groups"] = list(self.groups)
        return data


def _list(value: Any) -> tuple[str, ...]:
    """A catalog list field: JSON text (current) or a Chroma list."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else []
        except ValueError:
            return (value,)
    return tuple(str(v) for v in value or ())


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    """One passage, the one shape it has from the chunker to the store.

    `start` is the character offset where it begins: within its page for PDFs, within the
    document's text otherwise; `tokens` its length in model tokens. `terms` are its BM25
    terms, space-separated, when the preparer computed them already ("" = the library
    computes them). `token_ids` are the chunker's exact tokenization, kept so that the
    embedder need not tokenize again (None: it does).
    """

    text: str
    index: int
    start: int
    tokens: int
    page: int | None = None
    heading: str = ""
    terms: str = field(default="", repr=False)
    ocr: bool = False  # the text was read from the page's image by OCR
    token_ids: npt.NDArray[np.int32] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """One file, read, chunked and embedded: everything the library needs to store it.

    `doc_id` is the SHA-256 of `original`. `vectors` holds one row per chunk. Empty `tags`
    means "keep the tags of the version this replaces, if any"; so do empty `groups` (a
    new version of a restricted document stays restricted).
    """

    doc_id: str
    source: str
    file_type: FileType
    title: str
    original: bytes = field(repr=False)
    chunks: tuple[PreparedChunk, ...]
    vectors: npt.NDArray[np.float32] = field(repr=False, compare=False)
    pages: int = 0
    encoding: str = ""
    warnings: tuple[str, ...] = ()
    mtime: int = 0
    tags: tuple[str, ...] = ()
    external_id: str = ""
    groups: tuple[str, ...] = ()
    ingested_at: int = 0  # 0: now; a re-embedding or rebuild passes the document's first date

    def __post_init__(self) -> None:
        if len(self.vectors) != len(self.chunks):
            raise ValueError(
                f"{self.source}: expected one vector per chunk; got {len(self.vectors)} vectors "
                f"for {len(self.chunks)} chunks"
            )


class _Located:
    """Where a stored passage sits, read from its metadata (`Hit` and `StoredPassage` share it)."""

    __slots__ = ()
    metadata: Metadata

    @property
    def doc_id(self) -> str:
        return str(self.metadata.get("doc_id", ""))

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def file_type(self) -> str:
        return str(self.metadata.get("file_type", ""))

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if isinstance(page, int) else None

    @property
    def heading(self) -> str:
        return str(self.metadata.get("heading", ""))

    @property
    def chunk_index(self) -> int:
        value = self.metadata.get("chunk", 0)
        return int(value) if isinstance(value, int) else 0

    @property
    def tags(self) -> tuple[str, ...]:
        value = self.metadata.get("tags")
        return tuple(value) if isinstance(value, list) else ()

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups its document is restricted to (none: everyone of the collection)."""
        value = self.metadata.get("groups")
        return tuple(value) if isinstance(value, list) else ()

    def _place(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "file_type": self.file_type,
            "page": self.page,
            "heading": self.heading,
            "chunk": self.chunk_index,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True, slots=True)
class StoredPassage(_Located):
    """One stored passage fetched by its id: no rank or score, which only a search gives."""

    chunk_id: str
    text: str
    metadata: Metadata

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "text": self.text, **self._place()}


@dataclass(frozen=True, slots=True)
class Hit(_Located):
    """One ranked passage.

    `score` is the number the ranking used, on 0-1, never increasing down a response, in
    every mode (`searchapp.retrieval.scoring` says how each mode gets it). The details say how the
    passage got its place: `cosine` (its cosine similarity to the query), its rank in the
    semantic and the keyword list, its BM25 score, and the fused value before scaling
    (`fused_score`): in hybrid mode the raw reciprocal rank fusion sum, in adaptive mode the
    weighted fusion of the two normalised lists (the score is it times the best match's
    strength).
    """

    rank: int
    score: float
    chunk_id: str
    text: str
    metadata: Metadata
    fused_score: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None
    cosine: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the same fields as the dataclass, metadata flattened beside them."""
        data: dict[str, Any] = {
            "rank": self.rank,
            "score": round(self.score, 6),
            "chunk_id": self.chunk_id,
            "text": self.text,
            **self._place(),
            "cosine": None if self.cosine is None else round(self.cosine, 6),
        }
        if self.fused_score is not None:
            data["fused_score"] = round(self.fused_score, 6)
            data["dense_rank"] = self.dense_rank
        if self.keyword_rank is not None or self.fused_score is not None:
            data["keyword_rank"] = self.keyword_rank
            data["keyword_score"] = None if self.keyword_score is None else round(self.keyword_score, 4)
        return data


@dataclass(frozen=True, slots=True)
class DocumentGroup:
    """The hits of one document in a response: its best passage, then its others, by rank."""

    best: Hit
    others: tuple[Hit, ...] = ()

    @property
    def doc_id(self) -> str:
        return self.best.doc_id

    @property
    def hits(self) -> tuple[Hit, ...]:
        return (self.best, *self.others)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "source": self.best.source,
            "score": round(self.best.score, 6),
            "best": self.best.to_dict(),
            "others": [hit.to_dict() for hit in self.others],
        }


@dataclass(frozen=True, slots=True)
class SearchResponse:
    """What one search returns: the hits plus what the user should know about the query.

    `mode` names the retrieval mode that produced the scores. `weak_match` says that even
    the best hit matches the query poorly (`searchapp.retrieval.scoring.weak_match`);
    `dense_weight` is the share the adaptive ranking gave the semantic list (0: keywords
    only, 1: meaning only; None in the single-list modes). `groups` is set
    when the search grouped its hits by document (one group per document, best first;
    `hits` then holds the hits of those groups, by rank). `library_empty` says why there
    are no hits when nothing could have been found: the library holds no documents (none
    that the caller may see); each front end tells its user how to add some.
    """

    query: str
    mode: str
    k: int
    hits: tuple[Hit, ...]
    query_truncated: bool = False
    notices: tuple[str, ...] = field(default=())
    took_ms: float = 0.0
    weak_match: bool = False
    groups: tuple[DocumentGroup, ...] | None = None
    dense_weight: float | None = None
    library_empty: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {
            "query": self.query,
            "mode": self.mode,
            "k": self.k,
            "query_truncated": self.query_truncated,
            "weak_match": self.weak_match,
            "dense_weight": None if self.dense_weight is None else round(self.dense_weight, 4),
            "notices": list(self.notices),
            "took_ms": round(self.took_ms, 2),
            "results": [hit.to_dict() for hit in self.hits],
            "library_empty": self.library_empty,
        }
        if self.groups is not None:
            data["groups"] = [group.to_dict() for group in self.groups]
        return data
