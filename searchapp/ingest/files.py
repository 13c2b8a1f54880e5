"""Files on disk to `SourceFile`s, and the one-call `ingest_paths`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from searchapp.access.identity import normalize_groups
from searchapp.errors import ConfigError
from searchapp.ingest.extract import EXTENSIONS
from searchapp.ingest.text import display_name
from searchapp.ingest.types import IngestReport, SourceFile
from searchapp.library import Library


@dataclass(frozen=True, slots=True)
class Discovery:
    files: tuple[SourceFile, ...]
    skipped: tuple[Path, ...]  # files inside directories with unsupported types


OFFICE_OWNER_PREFIX = "~$"  # Word, Excel and PowerPoint's lock ("owner") files: not documents


def discover(
    paths: Iterable[Path | str],
    *,
    recursive: bool = False,
    tags: Sequence[str] = (),
    groups: Sequence[str] = (),
) -> Discovery:
    """The files to ingest under `paths`, each with these tags and restricted to these groups.

    A file named directly is always taken (an unsupported type then fails with a clear
    reason). Inside a directory, only supported types are taken, hidden entries and
    Office owner files (``~$report.docx``, written beside a file while it is open) are
    skipped, and each file's display name is its path relative to that directory.
    """
    tag_tuple = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    try:
        group_tuple = normalize_groups(groups)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    files: list[SourceFile] = []
    skipped: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path, source: str) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        try:
            mtime = int(path.stat().st_mtime)
        except OSError:
            mtime = 0
        files.append(SourceFile(source=source, path=path, mtime=mtime, tags=tag_tuple, groups=group_tuple))

    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_dir():
            add(path, display_name(path.name))
            continue
        candidates = path.rglob("*") if recursive else path.glob("*")
        for candidate in sorted(candidates):
            relative = candidate.relative_to(path)
            if any(part.startswith(".") for part in relative.parts) or not candidate.is_file():
                continue
            if candidate.name.startswith(OFFICE_OWNER_PREFIX):
                continue
            if candidate.suffix.lower() not in EXTENSIONS:
                skipped.append(candidate)
                continue
            add(candidate, display_name(relative.as_posix(), keep_dirs=True))
    return Discovery(files=tuple(files), skipped=tuple(skipped))


def ingest_paths(
    library: Library,
    paths: Iterable[Path | str],
    *,
    tags: Sequence[str] = (),
    groups: Sequence[str] = (),
    recursive: bool = False,
    workers: int | None = None,
) -> IngestReport:
    """Ingest files and directories into `library` and return one outcome per file.

    `groups` restricts every file to those groups (`searchapp.access.visibility`).
    """
    from searchapp.ingest.pipeline import Ingestor

    found = discover(paths, recursive=recursive, tags=tags, groups=groups)
    with Ingestor(library, workers=workers) as ingestor:
        return ingestor.ingest(found.files)
