"""Trees of real files for the sync tests, churned at random, and the state a fresh ingest gives.

`library_state` and `fresh_state` reduce a library to what a user sees: every document's
name, title, type and chunk texts in order, and (for synced ones) every path holding it.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from searchapp import Library, Settings
from searchapp.ingest.files import discover
from searchapp.ingest.pipeline import Ingestor
from searchapp.sources import Sources
from tests.helpers import make_docx, make_pdf

WORDS = (
    "policy travel expense receipt audit invoice budget laptop onboarding vacation contract "
    "security password network server backup archive report meeting project deadline review "
    "customer supplier payment refund warranty shipping inventory training safety compliance "
    "privacy retention deletion approval manager employee office remote hybrid benefit pension "
    "salary bonus overtime holiday sick leave parental insurance health dental vision claim "
    "quarter annual forecast revenue margin profit loss asset liability equity capital loan"
).split()
FORMATS = ("txt", "md", "html", "docx", "pdf")
FOLDERS = ("", "hr", "finance", "it/security", "it/network", "legal/contracts")


def prose(rng: random.Random, words: int) -> str:
    sentences = []
    while words > 0:
        n = min(words, rng.randint(6, 14))
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + ".")
        words -= n
    return " ".join(sentences)


def document_bytes(kind: str, rng: random.Random) -> bytes:
    title = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {rng.randint(1, 10**6)}"
    body = [prose(rng, rng.randint(30, 90)) for _ in range(rng.randint(1, 3))]
    if kind == "txt":
        return "\n\n".join(body).encode()
    if kind == "md":
        return (f"# {title}\n\n" + "\n\n".join(f"## Part {i}\n\n{b}" for i, b in enumerate(body))).encode()
    if kind == "html":
        paragraphs = "".join(f"<h2>Part {i}</h2><p>{b}</p>" for i, b in enumerate(body))
        return f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{paragraphs}</body></html>".encode()
    if kind == "docx":
        return make_docx([("Heading 1", title), *[("Normal", b) for b in body]])
    return make_pdf(["\n".join(b[i : i + 80] for i in range(0, len(b), 80)) for b in body], title=title)


def backdate(path: Path, rng: random.Random) -> None:
    """Make a file look written a while ago (settled), with an mtime no earlier version had."""
    moment = time.time() - 30 + rng.random()
    os.utime(path, (moment, moment))


def write_file(path: Path, data: bytes, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    backdate(path, rng)


def make_tree(root: Path, count: int, rng: random.Random) -> None:
    for i in range(count):
        kind = FORMATS[i % len(FORMATS)]
        write_file(root / rng.choice(FOLDERS) / f"doc{i:04d}.{kind}", document_bytes(kind, rng), rng)


def files_of(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def churn(root: Path, rng: random.Random, share: float = 0.06) -> dict[str, int]:
    """One random round: create, modify, rename, move across folders, delete and copy files."""
    files = files_of(root)
    k = max(1, int(len(files) * share))
    rng.shuffle(files)
    picks = iter(files)
    done: dict[str, int] = defaultdict(int)
    serial = rng.randint(10**6, 10**7)
    for _ in range(k):  # modify
        path = next(picks)
        write_file(path, document_bytes(path.suffix[1:], rng), rng)
        done["modified"] += 1
    for _ in range(k):  # rename in place (same type)
        path = next(picks)
        path.rename(path.with_name(f"renamed{serial}-{done['renamed']}{path.suffix}"))
        done["renamed"] += 1
    for _ in range(k):  # move across folders
        path = next(picks)
        target = root / rng.choice(FOLDERS) / f"moved{serial}-{done['moved']}{path.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
        done["moved"] += 1
    for _ in range(k):  # delete
        next(picks).unlink()
        done["deleted"] += 1
    for _ in range(k):  # copy: the same content at a second path (sometimes before the first)
        path = next(picks)
        name = f"{'a' if rng.random() < 0.5 else 'z'}copy{serial}-{done['copied']}{path.suffix}"
        write_file(root / rng.choice(FOLDERS) / name, path.read_bytes(), rng)
        done["copied"] += 1
    for i in range(k):  # create
        kind = rng.choice(FORMATS)
        write_file(root / rng.choice(FOLDERS) / f"new{serial}-{i}.{kind}", document_bytes(kind, rng), rng)
        done["created"] += 1
    return dict(done)


class SlowWriter:
    """Writes a file a piece at a time until stopped, then finishes it (a copy in progress)."""

    def __init__(self, path: Path, rng: random.Random) -> None:
        self.path = path
        self.text = prose(rng, 400)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        time.sleep(0.15)
        return self

    def _run(self) -> None:
        with self.path.open("w") as handle:
            position = 0
            while not self._stop.is_set() and position < len(self.text) - 200:
                handle.write(self.text[position : position + 40])
                handle.flush()
                position += 40
                time.sleep(0.1)
            handle.write(self.text[position:])

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def library_state(library: Library, prefix: str = "") -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """name (without `prefix`) -> (title, file type, chunk texts in order), for done documents."""
    stored: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # doc id -> (chunk, text, source)
    for _, texts, metadatas, _ in library.store.iter_chunks(include_embeddings=False):
        for text, meta in zip(texts, metadatas, strict=True):
            stored[str(meta["doc_id"])].append((int(meta["chunk"]), text, str(meta["source"])))
    out = {}
    for record in library.documents():
        chunks = sorted(stored.pop(record.doc_id, []))
        name = record.source.removeprefix(prefix)
        out[name] = (record.title, record.file_type, tuple(text for _, text, _ in chunks))
        assert all(source == record.source for _, _, source in chunks), record.source
    assert not stored, f"chunks of no document: {sorted(stored)}"
    return out


def fresh_state(root: Path, settings: Settings, *, leave_out: tuple[Path, ...] = ()) -> dict[str, Any]:
    """What a fresh one-off ingest of the tree gives (in a new library beside `settings`'s)."""
    fresh_settings = settings.with_overrides(
        data_dir=settings.data_dir.parent / f"fresh-{time.monotonic_ns()}"
    )
    found = [f for f in discover([root], recursive=True).files if f.path not in leave_out]
    with Library.open(fresh_settings) as library:
        # Names, titles, types and chunk texts are compared, never vectors: not embedding them
        # halves a real-model test and changes nothing compared (chunking is the model's tokenizer).
        library.embedder = _Unembedded(library.embedder)  # type: ignore[assignment]
        with Ingestor(library, workers=1) as ingestor:
            ingestor.ingest(found)
        return library_state(library)


class _Unembedded:
    """An embedder that gives every text the same unit vector, and is otherwise `real`."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def embed_documents(self, texts: Sequence[str], **_: Any) -> Any:
        vectors = np.zeros((len(texts), self._real.info.dimension), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors


def locations_by_content(root: Path, leave_out: tuple[Path, ...] = ()) -> dict[str, list[str]]:
    """content hash -> every path (relative) holding it, as a sync should record."""
    out: dict[str, list[str]] = defaultdict(list)
    for path in files_of(root):
        if path not in leave_out:
            out[hashlib.sha256(path.read_bytes()).hexdigest()].append(path.relative_to(root).as_posix())
    return {k: sorted(v, key=lambda p: tuple(p.split("/"))) for k, v in out.items()}


def check_mirror(
    library: Library,
    sources: Sources,
    name: str,
    root: Path,
    settings: Settings,
    leave_out: tuple[Path, ...] = (),
) -> None:
    """The library equals a fresh ingest of the tree (names, titles, types, chunk texts), and
    every document lists every path holding its content.

    A document keeps its name while its file holds it (a copy is another location, even one
    a fresh ingest would meet first): the fresh ingest reads the files that name documents.
    """
    got = library_state(library, prefix=f"{name}/")
    by_content = locations_by_content(root, leave_out)
    named = {r.doc_id: r.source.removeprefix(f"{name}/") for r in library.documents()}
    copies = []
    for doc_id, paths in by_content.items():
        if doc_id in named:
            assert named[doc_id] in paths, (named[doc_id], paths)
            copies += [root / p for p in paths if p != named[doc_id]]
    expected = fresh_state(root, settings, leave_out=(*leave_out, *copies))
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key
    for record in library.documents():
        if record.doc_id in by_content:
            want = [f"{name}/{p}" for p in by_content[record.doc_id]]
            assert sources.locations(record.doc_id) == sorted(want), record.source


@contextmanager
def counting_embeddings(library: Library) -> Iterator[list[int]]:
    """How many texts each `embed_documents` call of the library embeds, while in the block."""
    calls: list[int] = []
    real = library.embedder.embed_documents

    def counting(texts: Any, **kwargs: Any) -> Any:
        calls.append(len(texts))
        return real(texts, **kwargs)

    library.embedder.embed_documents = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        library.embedder.embed_documents = real  # type: ignore[method-assign]
