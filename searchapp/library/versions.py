"""Model versions kept with a library: tuned models, which one is live, and which was before.

A version is a sentence-transformers directory, stored file by file beside the library:
under the data directory (``models/<collection>/<version>/``), or, when originals are
shared (SEARCHAPP_ORIGINALS_URL), in that store (``_models/<collection>/<version>/``), so
every client of a server can load it. Its record (`ModelVersion`, in the record table
``models``) names its files with their SHA-256; a client copies them into its own cache
(``model-cache/``) once, and checks them, before loading.

A collection's chunk metadata names the model its vectors come from; a tuned model's name
is ``tuned:<version id>``. `SEARCHAPP_MODEL` still names the base model: opening a
collection whose vectors come from a version tuned from that base loads the version
(`resolve_for`), so a swap never looks like a model mismatch to anyone.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from searchapp.config import REBUILD_SUFFIX, Settings
from searchapp.embedding.models import ModelInfo, describe_model
from searchapp.errors import ModelError
from searchapp.storage import chroma_swap
from searchapp.storage.originals import Blobs, open_blobs
from searchapp.storage.records import RecordTable

if TYPE_CHECKING:
    from searchapp.library.reads import DocumentReads
    from searchapp.storage.chroma import ChromaStore

TABLE = "models"
TUNED_PREFIX = "tuned:"
STATE_KEY = "state"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One tuned model kept with the library.

    Attributes:
        version_id: ``v<date>-<time>-<random>``, unique.
        parent: the model it was tuned from (a base model's name or another ``tuned:`` name).
        base: the base model at the root of that chain (what SEARCHAPP_MODEL names).
        files: (relative path, SHA-256, bytes) of every file of the model directory.
        report: what tuning measured (held-out and check-set figures, the sources).
    """

    version_id: str
    parent: str
    base: str
    created_at: float
    files: tuple[tuple[str, str, int], ...] = ()
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return TUNED_PREFIX + self.version_id

    @property
    def size(self) -> int:
        return sum(size for _, _, size in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "name": self.name,
            "parent": self.parent,
            "base": self.base,
            "created_at": self.created_at,
            "files": [list(f) for f in self.files],
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        return cls(
            version_id=str(data["version_id"]),
            parent=str(data.get("parent", "")),
            base=str(data.get("base", "")),
            created_at=float(data.get("created_at", 0.0)),
            files=tuple((str(p), str(h), int(s)) for p, h, s in data.get("files", ())),
            report=dict(data.get("report") or {}),
        )


def version_id_of(name: str) -> str | None:
    return name.removeprefix(TUNED_PREFIX) if name.startswith(TUNED_PREFIX) else None


class ModelVersions:
    """The versions of one collection: their records, their files, and the live/previous state."""

    def __init__(self, table: RecordTable, settings: Settings) -> None:
        self.table = table
        self.settings = settings
        collection = settings.collection.removesuffix(REBUILD_SUFFIX)
        self.blobs: Blobs = open_blobs(
            f"{settings.originals_url.rstrip('/')}/_models/{collection}" if settings.originals_url else "",
            default=settings.data_dir / "models" / collection,
            endpoint_url=settings.s3_endpoint_url,
        )
        self._cache = (
            settings.data_dir / "model-cache" / collection
            if settings.originals_url
            else settings.data_dir / "models" / collection
        )

    @classmethod
    def of(cls, library: DocumentReads) -> ModelVersions:
        return cls.for_store(library.store)

    @classmethod
    def for_store(cls, store: ChromaStore) -> ModelVersions:
        return cls(store.table(TABLE), store.settings)

    # ----------------------------------------------------------------- records

    def add(self, directory: Path, *, parent: str, report: dict[str, Any] | None = None) -> ModelVersion:
        """Keep the model in `directory` as a new version (its files are copied)."""
        version_id = f"v{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        files = []
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            relative = path.relative_to(directory).as_posix()
            data = path.read_bytes()
            self.blobs.write(f"{version_id}/{relative}", data)
            files.append((relative, hashlib.sha256(data).hexdigest(), len(data)))
        parent_version = self.get(version_id_of(parent) or "") if parent.startswith(TUNED_PREFIX) else None
        version = ModelVersion(
            version_id=version_id,
            parent=parent,
            base=parent_version.base if parent_version else parent,
            created_at=time.time(),
            files=tuple(files),
            report=dict(report or {}),
        )
        self.table.put(f"v:{version_id}", version.to_dict(), kind="version")
        return version

    def get(self, version_id: str) -> ModelVersion | None:
        record = self.table.get(f"v:{version_id}") if version_id else None
        return ModelVersion.from_dict(record) if record is not None else None

    def require(self, ref: str) -> ModelVersion:
        """A version by id, by ``tuned:<id>``, or by a unique prefix of its id."""
        wanted = version_id_of(ref) or ref
        versions = self.list()
        exact = [v for v in versions if v.version_id == wanted]
        found = exact or [v for v in versions if v.version_id.startswith(wanted)]
        if len(found) != 1:
            known = ", ".join(v.version_id for v in versions) or "none yet (run `searchapp tune`)"
            raise ModelError(f"no single model version matches {ref!r}; versions: {known}")
        return found[0]

    def list(self) -> list[ModelVersion]:
        """Every kept version, oldest first."""
        found = [ModelVersion.from_dict(v) for v in self.table.find({"kind": "version"}).values()]
        return sorted(found, key=lambda v: v.created_at)

    def delete(self, version_id: str) -> None:
        """Forget a version and remove its files (never the live one: see `searchapp model`)."""
        version = self.require(version_id)
        for relative, _, _ in version.files:
            self.blobs.remove(f"{version.version_id}/{relative}")
        shutil.rmtree(self._cache / version.version_id, ignore_errors=True)
        self.table.delete([f"v:{version.version_id}"])

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """{"live": model name, "previous": model name or "", "swapped_at", "generation"}."""
        return self.table.get(STATE_KEY) or {}

    def record_swap(self, live: str, previous: str, generation: str) -> None:
        self.table.put(
            STATE_KEY,
            {"live": live, "previous": previous, "swapped_at": time.time(), "generation": generation},
            kind="state",
        )

    # ------------------------------------------------------------------ files

    def local_path(self, version: ModelVersion) -> Path:
        """The version's directory on this machine, copied from the store (and checked) if needed."""
        target = self._cache / version.version_id
        if _complete(target, version):
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        for relative, digest, _ in version.files:
            data = self.blobs.read(f"{version.version_id}/{relative}")
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                raise ModelError(
                    f"model version {version.version_id} is incomplete in {self.blobs.location} "
                    f"({relative} is {'missing' if data is None else 'damaged'}); use another version "
                    "or tune again"
                )
            path = partial / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if target.exists() and target != partial:
            shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        return target

    def info(self, version: ModelVersion) -> ModelInfo:
        return describe_model(version.name, self.local_path(version))


def _complete(directory: Path, version: ModelVersion) -> bool:
    if not directory.is_dir():
        return False
    for relative, _, size in version.files:
        path = directory / relative
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def resolve_for(store: ChromaStore, base: ModelInfo, *, live: bool = False) -> ModelInfo | None:
    """The model a collection's vectors come from, when it is a version tuned from `base`.

    None when the collection holds `base`'s vectors (or another model's: the caller's
    model check then says so). `live`: read the collection now under the name (after a swap
    by another client), not the one this store has open.
    """
    name = store.settings.collection
    metadata = chroma_swap.live_metadata(store.client, name) if live else store.collection_metadata
    stored = str(metadata.get("model", ""))
    version_id = version_id_of(stored)
    if version_id is None:
        return None
    versions = ModelVersions.for_store(store)
    version = versions.get(version_id)
    if version is None or version.base != base.name:
        return None
    return versions.info(version)
