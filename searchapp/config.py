"""Settings: one frozen object built from SEARCHAPP_* variables, secrets and flags.

Every front end (CLI, UI, Python API, tests) builds its settings here, so a value
means the same thing everywhere and a wrong value fails the same way.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from searchapp.errors import ConfigError

Device = Literal["auto", "cpu", "cuda", "mps"]
Backend = Literal["auto", "torch", "torch-bf16", "openvino", "openvino-int8"]
SearchMode = Literal["adaptive", "hybrid", "dense", "keyword"]
# Other names a user may type for a mode: the UI, the result lines and the README call
# dense "semantic". A mode given by one is read as the mode it names, and reported so.
MODE_SYNONYMS: dict[str, SearchMode] = {"semantic": "dense"}


def mode_list() -> str:
    """The modes as a user may type them: 'adaptive, hybrid, dense (or semantic), keyword'."""
    others = {
        mode: [name for name, same in MODE_SYNONYMS.items() if same == mode] for mode in get_args(SearchMode)
    }
    return ", ".join(f"{mode} (or {', '.join(names)})" if names else mode for mode, names in others.items())


# A collection being rebuilt beside NAME is NAME + this suffix until it is swapped in.
REBUILD_SUFFIX = "-rebuild"
# The index a model switch replaced, kept beside NAME so a rollback is instant.
RETIRED_SUFFIX = "-retired"
PdfExtractor = Literal["pypdf", "pdfium"]
OcrMode = Literal["auto", "off"]

ENV_PREFIX = "SEARCHAPP_"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_COLLECTION_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$")


def is_collection_name(name: str) -> bool:
    """3-62 of letters, digits, '.', '_' or '-', a letter or digit at both ends (Chroma's rule)."""
    return bool(_COLLECTION_RE.match(name))


def default_data_dir() -> Path:
    """Where data lives when SEARCHAPP_DATA_DIR is not set (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "searchapp"


@dataclass(frozen=True, slots=True)
class Settings:
    """All knobs of searchapp. Build with `Settings.load()`; change with `with_overrides()`.

    Each field can be set from the environment as ``SEARCHAPP_<FIELD>`` (upper case).
    """

    data_dir: Path = field(default_factory=default_data_dir)
    collection: str = "documents"
    model: str = DEFAULT_MODEL
    server_url: str = ""
    server_token: str = ""
    device: Device = "auto"
    backend: Backend = "auto"
    batch_size: int = 0  # 0: pick by device (32 on CPU, 256 on CUDA)
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    workers: int = 0  # 0: pick by core count
    max_file_mb: int = 100
    max_pages: int = 2000
    max_chars: int = 10_000_000
    file_timeout_s: int = 120
    # A synced file modified less than this long ago may still be being written: a later
    # sync takes it. Raise it for writers that pause (copies over SMB, scanners).
    sync_settle_s: int = 1
    min_free_mb: int = 200
    search_mode: SearchMode = "adaptive"  # holds on every evaluation set: docs/quality.md
    pdf_extractor: PdfExtractor = "pdfium"
    # Where kept originals live: "" = under data_dir; or storage every client of a server
    # reaches: a shared directory, or s3://bucket/prefix (see docs/deployment.md).
    originals_url: str = ""
    s3_endpoint_url: str = ""  # an S3-compatible service other than AWS (MinIO, Ceph...)
    ocr: OcrMode = "auto"  # OCR PDF pages without a usable text layer (needs Tesseract)
    ocr_languages: str = "eng+rus"  # Tesseract models, joined with "+"
    # Where converted models (OpenVINO IR) are cached: "" = under data_dir. Entries are keyed
    # by the model's weights and the converter's version, so data directories may share one.
    model_cache: str = ""

    def __post_init__(self) -> None:
        if not _COLLECTION_RE.match(self.collection):
            raise ConfigError(
                "SEARCHAPP_COLLECTION must be 3-62 characters of letters, digits, '.', '_' or '-', "
                f"starting and ending with a letter or digit; got {self.collection!r}"
            )
        if not self.model.strip():
            raise ConfigError("SEARCHAPP_MODEL must name a model or a local path; got an empty value")
        if self.server_url:
            parts = urlsplit(self.server_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    f"SEARCHAPP_SERVER_URL must look like http://host:port; got {self.server_url!r}"
                )
        for name in ("chunk_tokens", "max_file_mb", "max_pages", "max_chars", "file_timeout_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SEARCHAPP_{name.upper()} must be at least 1; got {getattr(self, name)}")
        for name in ("chunk_overlap", "batch_size", "workers", "min_free_mb", "sync_settle_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"SEARCHAPP_{name.upper()} must be 0 or more; got {getattr(self, name)}")
        if self.originals_url and "://" in self.originals_url:
            scheme = self.originals_url.split("://", 1)[0]
            if scheme not in ("file", "s3", "memory"):
                raise ConfigError(
                    "SEARCHAPP_ORIGINALS_URL must be a directory, file://PATH or s3://BUCKET/PREFIX; "
                    f"got {self.originals_url!r}"
                )
        if not re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", self.ocr_languages):
            raise ConfigError(
                f"SEARCHAPP_OCR_LANGUAGES must be Tesseract model names joined with '+' (eng+rus); "
                f"got {self.ocr_languages!r}"
            )
        if self.chunk_overlap >= self.chunk_tokens:
            raise ConfigError(
                f"SEARCHAPP_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"SEARCHAPP_CHUNK_TOKENS ({self.chunk_tokens})"
            )

    @property
    def is_server(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return bool(self.server_url)

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def originals_dir(self) -> Path:
        """Kept originals of this collection, by content hash.

        One directory per collection: a delete in one collection must never remove a file
        that another (another team's) still holds. A rebuild beside the collection
        (``NAME-rebuild``) shares its originals.
        """
        return self.data_dir / "originals" / self.collection.removesuffix(REBUILD_SUFFIX)

    @property
    def originals_location(self) -> str:
        """Where this collection's originals live: `originals_dir`, or a folder of the shared store."""
        if not self.originals_url:
            return str(self.originals_dir)
        return f"{self.originals_url.rstrip('/')}/{self.collection.removesuffix(REBUILD_SUFFIX)}"

    @property
    def shared_originals(self) -> bool:
        """True when every client of a server sees the same originals (a shared store is set)."""
        return bool(self.originals_url)

    @property
    def index_dir(self) -> Path:
        """Local indexes derived from the collection (keyword index, vector mirror)."""
        return self.data_dir / "indexes" / self.collection

    @property
    def cache_dir(self) -> Path:
        """Converted models and other re-creatable files."""
        return Path(self.model_cache) if self.model_cache else self.data_dir / "cache"

    def to_environment(self) -> dict[str, str]:
        """SEARCHAPP_* variables that make a child process open the same collection."""
        env = {
            "SEARCHAPP_DATA_DIR": str(self.data_dir.absolute()),
            "SEARCHAPP_COLLECTION": self.collection,
            "SEARCHAPP_MODEL": self.model,
        }
        for name in ("server_url", "server_token", "originals_url", "s3_endpoint_url", "model_cache"):
            if getattr(self, name):
                env[f"SEARCHAPP_{name.upper()}"] = getattr(self, name)
        return env

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        secrets: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from, lowest priority first: defaults, secrets, environment, overrides.

        Args:
            environ: the environment to read ``SEARCHAPP_*`` from; defaults to ``os.environ``.
            secrets: a mapping such as Streamlit's ``st.secrets``; keys may be ``data_dir`` or
                ``SEARCHAPP_DATA_DIR``; a nested ``[searchapp]`` table is read too.
            overrides: field values from flags; ``None`` means "not given".

        Raises:
            ConfigError: a value has the wrong type or is out of range.
        """
        values: dict[str, Any] = {}
        if secrets:
            values.update(_from_mapping(secrets, source="secrets"))
            nested = secrets.get("searchapp")
            if isinstance(nested, Mapping):
                values.update(_from_mapping(nested, source="secrets [searchapp]"))
        values.update(_from_mapping(os.environ if environ is None else environ, source="environment"))
        values.update({k: _coerce(k, v, "option") for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some fields replaced; ``None`` values are ignored."""
        given = {k: _coerce(k, v, "option") for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_INT_FIELDS = {name for name, f in _FIELDS.items() if f.type == "int"}
_CHOICES: dict[str, tuple[str, ...]] = {
    "device": get_args(Device),
    "backend": get_args(Backend),
    "search_mode": get_args(SearchMode),
    "pdf_extractor": get_args(PdfExtractor),
    "ocr": get_args(OcrMode),
}


def _from_mapping(mapping: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in mapping.items():
        if not isinstance(key, str):
            continue
        name = key[len(ENV_PREFIX) :].lower() if key.upper().startswith(ENV_PREFIX) else key.lower()
        if name in _FIELDS and not isinstance(raw, Mapping):
            values[name] = _coerce(name, raw, source)
    return values


def _coerce(name: str, raw: Any, source: str) -> Any:
    if name not in _FIELDS:
        raise ConfigError(f"unknown setting {name!r} (from {source}); known: {', '.join(sorted(_FIELDS))}")
    label = f"SEARCHAPP_{name.upper()}"
    if name == "data_dir":
        text = str(raw).strip()
        if not text:
            raise ConfigError(f"{label} must be a directory path; got an empty value")
        return Path(text).expanduser()
    if name in _INT_FIELDS:
        if isinstance(raw, bool):
            raise ConfigError(f"{label} must be an integer; got {raw!r}")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{label} must be an integer; got {raw!r} (from {source})") from None
    text = str(raw).strip()
    if name == "search_mode":
        text = MODE_SYNONYMS.get(text, text)
    if name in _CHOICES and text not in _CHOICES[name]:
        choices = mode_list() if name == "search_mode" else ", ".join(_CHOICES[name])
        raise ConfigError(f"{label} must be one of {choices}; got {text!r} (from {source})")
    return text
