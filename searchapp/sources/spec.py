"""What a source is: a folder (local or a mounted share) or an S3-compatible prefix, kept in sync.

A source's documents are named ``<source name>/<path inside it>``; that namespace belongs
to the source (a sync removes what it holds and the folder no longer has), so two
sources never share a name and a one-off ingest never lands inside one.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from searchapp.access.identity import normalize_groups
from searchapp.errors import SourceError
from searchapp.ingest.extract import EXTENSIONS
from searchapp.ingest.files import OFFICE_OWNER_PREFIX
from searchapp.ingest.text import display_name

SourceKind = Literal["directory", "s3"]
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
DEFAULT_MAX_DELETE_SHARE = 0.5
DEFAULT_POLL_S = 60.0  # where no file events exist: network shares, S3
# Office's lock ("owner") files: left out unless an include pattern names them.
OWNER_PREFIX = OFFICE_OWNER_PREFIX


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One source.

    Attributes:
        name: 1-63 of ``[A-Za-z0-9._-]``; its documents are named ``<name>/<path>``.
        location: an absolute directory path, or ``s3://bucket/prefix``.
        include: glob patterns a file must match (any of them; none: every supported file).
            Office owner files (``~$report.docx``) are left out unless a pattern names them
            (``~$*``); hidden files (LibreOffice's ``.~lock.*#``) always are.
        exclude: glob patterns that leave a file out. A pattern with a ``/`` matches the
            path inside the source (``drafts/*``, where ``*`` crosses folders); one
            without matches the file name in any folder (``~$*``, ``*.tmp``).
        tags: put on every document of the source.
        groups: every document of the source is restricted to these groups
            (`searchapp.access.visibility`); none (the default): open to everyone of the
            collection, as an upload without groups, and groups set on one document by hand stay.
        watch: follow changes as they happen (file events; polling on shares and S3).
        poll_s: seconds between polls where there are no file events (0: the default, 60).
        max_delete_share: a sync that would remove more than this share of the source's
            documents removes nothing unless confirmed (an unmounted share looks empty).
        endpoint_url: an S3-compatible service other than AWS (MinIO, Ceph...).
    """

    name: str
    location: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    watch: bool = False
    poll_s: float = 0.0
    max_delete_share: float = DEFAULT_MAX_DELETE_SHARE
    endpoint_url: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_RE.fullmatch(self.name):
            raise SourceError(
                f"a source name is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit; "
                f"got {self.name!r}"
            )
        if self.kind == "s3":
            if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,62}(/.*)?", self.location):
                raise SourceError(f"an S3 source is s3://bucket or s3://bucket/prefix; got {self.location!r}")
        elif not self.location or not PurePosixPath(self.location).is_absolute():
            raise SourceError(f"a folder source needs an absolute path; got {self.location!r}")
        if not 0.0 < self.max_delete_share <= 1.0:
            raise SourceError(
                f"max_delete_share is a share above 0 and at most 1; got {self.max_delete_share!r}"
            )
        if self.poll_s < 0:
            raise SourceError(f"poll_s is 0 (the default) or a number of seconds; got {self.poll_s!r}")
        try:
            if normalize_groups(self.groups) != self.groups:
                raise ValueError(f"group names without spaces around or repeats; got {self.groups!r}")
        except ValueError as exc:
            raise SourceError(f"a source's groups: {exc}") from exc
        for pattern in (*self.include, *self.exclude):
            if not isinstance(pattern, str) or not pattern.strip():
                raise SourceError(f"a glob pattern is non-empty text; got {pattern!r}")

    @classmethod
    def create(
        cls,
        name: str,
        location: str | Path,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        tags: Sequence[str] = (),
        groups: Sequence[str] = (),
        watch: bool = False,
        poll_s: float = 0.0,
        max_delete_share: float = DEFAULT_MAX_DELETE_SHARE,
        endpoint_url: str = "",
    ) -> SourceSpec:
        """A spec from user input: a folder path is made absolute (``~`` expanded)."""
        where = str(location).strip()
        if not where.startswith("s3://"):
            where = str(Path(where).expanduser().resolve())
        return cls(
            name=name.strip(),
            location=where,
            include=_clean(include),
            exclude=_clean(exclude),
            tags=_clean(tags),
            groups=clean_groups(groups),
            watch=watch,
            poll_s=float(poll_s),
            max_delete_share=float(max_delete_share),
            endpoint_url=endpoint_url.strip(),
        )

    @property
    def kind(self) -> SourceKind:
        return "s3" if self.location.startswith("s3://") else "directory"

    @property
    def prefix(self) -> str:
        """Every document of this source is named with this prefix."""
        return f"{self.name}/"

    def document_name(self, path: str) -> str:
        """The library's name for the file at `path` inside the source."""
        return self.prefix + display_name(path, keep_dirs=True)

    def wants(self, path: str) -> bool:
        """Whether the file at `path` (inside the source) belongs to it: a supported type,
        not hidden, not an Office owner file, matching the include patterns and none of the
        exclude patterns."""
        if path.startswith(".") or "/." in path:
            return False
        if os.path.splitext(path)[1].lower() not in EXTENSIONS:
            return False
        if _is_owner_file(path) and not any(_is_owner_file(p) for p in self.include):
            return False  # only an include pattern that names them (``~$*``) takes them
        if self.include and not any(_matches(path, p) for p in self.include):
            return False
        return not any(_matches(path, p) for p in self.exclude)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("include", "exclude", "tags", "groups"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceSpec:
        return cls(
            name=str(data["name"]),
            location=str(data["location"]),
            include=tuple(str(p) for p in data.get("include") or ()),
            exclude=tuple(str(p) for p in data.get("exclude") or ()),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            groups=tuple(str(g) for g in data.get("groups") or ()),
            watch=bool(data.get("watch", False)),
            poll_s=float(data.get("poll_s", 0.0)),
            max_delete_share=float(data.get("max_delete_share", DEFAULT_MAX_DELETE_SHARE)),
            endpoint_url=str(data.get("endpoint_url", "")),
        )


def path_key(path: str) -> tuple[str, ...]:
    """The order in which a one-off ingest meets files (`sorted` of paths, part by part):
    of identical files, the first in this order names the document."""
    return tuple(path.split("/"))


def _is_owner_file(path: str) -> bool:
    """Word, Excel and PowerPoint write ``~$name.docx`` beside a file while it is open: a few
    bytes naming who holds it, never a document (paperless-ngx and Nextcloud skip them too)."""
    return path.rsplit("/", 1)[-1].startswith(OWNER_PREFIX)


def exact_pattern(path: str) -> str:
    """An include or exclude pattern that matches `path` alone: anchored at the source's
    root (a pattern without a '/' would match that name in every folder), its glob
    characters taken literally."""
    return "/" + re.sub(r"([*?\[])", r"[\1]", path)


def _matches(path: str, pattern: str) -> bool:
    target = path if "/" in pattern else path.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(target, pattern.strip().strip("/") if "/" in pattern else pattern.strip())


def clean_groups(values: Sequence[str]) -> tuple[str, ...]:
    try:
        return normalize_groups([values] if isinstance(values, str) else values)
    except ValueError as exc:
        raise SourceError(f"a source's groups: {exc}") from exc


def _clean(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
