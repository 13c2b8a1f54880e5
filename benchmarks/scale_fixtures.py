"""Real text for the scale benchmark: SciFact abstracts and the shared PDFs, chunked as the app does.

The distinct chunks are made once (extraction with the app's extractors, the app's token-exact
chunker, the app's BM25 terms) and cached in `benchmarks/results/`; their embeddings too, with the
real model, as far as `--embed-limit` allows (embedding 1M chunks is out of reach on a 2-core CPU).
A library of N chunks repeats the distinct chunks under distinct ids; chunk i reuses the vector of
distinct chunk i mod E, E being the number embedded.

    python benchmarks/scale_fixtures.py [--embed-limit 4000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHARED = Path(__file__).resolve().parents[3] / "shared" / "eval"
if not SHARED.exists():
    SHARED = Path("/work/shared/eval")
RESULTS = Path(__file__).resolve().parent / "results"
CHUNKS_FILE = RESULTS / "scale-chunks.jsonl"
VECTORS_FILE = RESULTS / "scale-vectors.npy"


@dataclass(frozen=True, slots=True)
class DistinctChunk:
    doc: int  # index of the source document among the distinct ones
    source: str
    file_type: str
    page: int | None
    index: int  # chunk number within its document
    text: str
    terms: str  # BM25 terms, space-separated


def make_chunks() -> list[DistinctChunk]:
    """Extract and chunk SciFact and the shared PDFs with the app's own code."""
    from searchapp.config import Settings
    from searchapp.embedding.models import resolve_model
    from searchapp.embedding.tokens import TokenizerSpec
    from searchapp.errors import IngestError
    from searchapp.ingest.chunking import Chunker, ChunkerConfig
    from searchapp.ingest.extract import extract
    from searchapp.ingest.types import Limits
    from searchapp.storage.terms import keyword_tokens

    settings = Settings.load(environ={})
    info = resolve_model(settings.model)
    chunker = Chunker(
        ChunkerConfig(
            chunk_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap,
            tokenizer=TokenizerSpec.for_model(info),
        )
    )
    files: list[tuple[str, bytes]] = []
    for line in (SHARED / "scifact" / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        text = "\n\n".join(part for part in (record.get("title", ""), record.get("text", "")) if part)
        files.append((f"{record['_id']}.txt", text.encode("utf-8")))
    for pdf in sorted((SHARED / "pdfs").glob("*.pdf")):
        files.append((pdf.name, pdf.read_bytes()))
    out: list[DistinctChunk] = []
    for doc, (source, data) in enumerate(files):
        try:
            document = extract(data, source, Limits())
        except IngestError:
            continue
        for chunk in chunker.chunk(document.sections):
            out.append(
                DistinctChunk(
                    doc=doc,
                    source=source,
                    file_type=document.file_type,
                    page=chunk.page,
                    index=chunk.index,
                    text=chunk.text,
                    terms=" ".join(keyword_tokens(chunk.text)),
                )
            )
    return out


def load_chunks() -> list[DistinctChunk]:
    if not CHUNKS_FILE.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        chunks = make_chunks()
        partial = CHUNKS_FILE.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            for c in chunks:
                out.write(json.dumps(_as_dict(c)) + "\n")
        partial.rename(CHUNKS_FILE)
    return [
        DistinctChunk(**_renamed(json.loads(line)))
        for line in CHUNKS_FILE.read_text(encoding="utf-8").splitlines()
    ]


def _as_dict(chunk: DistinctChunk) -> dict[str, object]:
    return {name: getattr(chunk, name) for name in DistinctChunk.__slots__}


def embed(chunks: list[DistinctChunk], limit: int, batch: int = 256) -> None:
    """Embed the first `limit` distinct chunks with the real model, resumably."""
    from searchapp.config import Settings
    from searchapp.embedding.embedders import get_embedder

    done = np.load(VECTORS_FILE) if VECTORS_FILE.exists() else np.zeros((0, 384), dtype=np.float32)
    embedder = get_embedder(Settings.load(environ={}))
    started = time.perf_counter()
    while len(done) < min(limit, len(chunks)):
        texts = [c.text for c in chunks[len(done) : min(limit, len(done) + batch)]]
        done = np.concatenate([done, embedder.embed_documents(texts).astype(np.float32)])
        np.save(VECTORS_FILE.with_suffix(".partial.npy"), done)
        VECTORS_FILE.with_suffix(".partial.npy").rename(VECTORS_FILE)
        rate = len(done) / (time.perf_counter() - started)
        print(f"embedded {len(done)} / {min(limit, len(chunks))} ({rate:.1f}/s)", flush=True)


def load_vectors() -> np.ndarray:
    vectors: np.ndarray = np.load(VECTORS_FILE)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--embed-limit", type=int, default=4000)
    args = parser.parse_args()
    started = time.perf_counter()
    chunks = load_chunks()
    print(
        f"{len(chunks)} distinct chunks from {len({c.doc for c in chunks})} documents "
        f"({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    embed(chunks, args.embed_limit)


def _renamed(record: dict[str, Any]) -> dict[str, Any]:
    """A cached chunk; files written before the field was named `terms` call it `keywords`."""
    if "keywords" in record:
        record["terms"] = record.pop("keywords")
    return record


if __name__ == "__main__":
    main()
