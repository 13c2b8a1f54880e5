"""Duplicates: one content at several paths, and near-duplicate documents.

Exact duplicates are one document (its id is the hash of its bytes) held by several
files; the sources' file records list them all.

Near-duplicates (a v2 of a policy, the same report exported to PDF and to Word) are
found by the Jaccard similarity of the documents' word 3-shingles, estimated with
MinHash (128 permutations) and paired through LSH banding (64 bands of 2), so the work
grows with the number of documents, not its square. Words hyphenated at line ends are
joined first, so a PDF export and a Word export of one text compare as the same words.
Shingles measure how much *text* two documents share (what a duplicate is);
whole-document embeddings measure what they are *about*, and rank two different policies
on one topic as close as two versions of one. `benchmarks/bench_near_duplicates.py` measured it on 300 SciFact
abstracts: every edited or re-exported version scored 0.30 or more, every pair of
different abstracts on one topic 0.03 or less (threshold 0.25: no error either way),
while embedding cosine gave same-topic pairs up to 0.85 and edited versions as low as
0.51 (95.7% at its best threshold). A document's
signature depends only on its bytes, so it is computed once and kept in the record
table ``minhash`` beside the library.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.library import Library
from searchapp.types import DocumentRecord

PERMUTATIONS = 128
BANDS = 64  # of 2 rows: a pair at Jaccard 0.25 shares a band with probability 0.98
SHINGLE = 3
DEFAULT_THRESHOLD = 0.25
TABLE = "minhash"
_SEEDS = np.random.default_rng(20261206).integers(0, 1 << 63, size=PERMUTATIONS, dtype=np.uint64)
# fixed seeds: signatures are stored and compared across runs
_WORD = re.compile(r"\w+", re.UNICODE)
_HYPHENATED = re.compile(r"(\w)-[ \t]*\n\s*(\w)")  # "repre-\nsent": one word, as another extractor gives it

Signature = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    """Two documents that share most of their text; `similarity` is the estimated Jaccard (0-1)."""

    first: DocumentRecord
    second: DocumentRecord
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "similarity": round(self.similarity, 3),
            "first": {"doc_id": self.first.doc_id, "source": self.first.source},
            "second": {"doc_id": self.second.doc_id, "source": self.second.source},
        }


def shingles(text: str, size: int = SHINGLE) -> set[int]:
    """The hashed word `size`-grams of a text (case-folded; the words alone if it is shorter)."""
    words = [w.casefold() for w in _WORD.findall(_HYPHENATED.sub(r"\1\2", text))]
    if len(words) < size:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {zlib.crc32(" ".join(words[i : i + size]).encode()) for i in range(len(words) - size + 1)}


def signature(hashed: Iterable[int]) -> Signature:
    """The MinHash signature of a set of 32-bit shingle hashes."""
    values = np.fromiter(hashed, dtype=np.uint64)
    if not len(values):
        return np.full(PERMUTATIONS, np.iinfo(np.uint32).max, dtype=np.uint32)
    return np.asarray(_mix(values[None, :] ^ _SEEDS[:, None]).min(axis=1) >> np.uint64(32), dtype=np.uint32)


def _mix(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: one well-mixed 64-bit hash per seed (numpy wraps the products)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def similarity(a: Signature, b: Signature) -> float:
    """The estimated Jaccard similarity of the two shingle sets."""
    return float(np.mean(a == b))


def candidate_pairs(signatures: Mapping[str, Signature]) -> set[tuple[str, str]]:
    """Pairs that agree on every row of at least one band (likely Jaccard above ~0.4)."""
    rows = PERMUTATIONS // BANDS
    pairs: set[tuple[str, str]] = set()
    for band in range(BANDS):
        buckets: dict[bytes, list[str]] = defaultdict(list)
        for doc_id, sig in signatures.items():
            buckets[sig[band * rows : (band + 1) * rows].tobytes()].append(doc_id)
        for members in buckets.values():
            if 1 < len(members) <= 200:  # a huge bucket is empty text shared by many: not news
                pairs.update(combinations(sorted(members), 2))
    return pairs


def near_duplicates(
    library: Library,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    documents: Sequence[DocumentRecord] | None = None,
) -> list[NearDuplicate]:
    """Pairs of documents whose text is at least `threshold` alike (estimated Jaccard), most alike first.

    Identical files are one document, so they are never listed here (see `Sources.locations`).
    """
    records = {r.doc_id: r for r in (documents if documents is not None else library.documents())}
    signatures = signatures_of(library, list(records))
    found = []
    for a, b in candidate_pairs(signatures):
        score = similarity(signatures[a], signatures[b])
        if score >= threshold:
            first, second = sorted((records[a], records[b]), key=lambda r: (r.source, r.doc_id))
            found.append(NearDuplicate(first, second, score))
    return sorted(found, key=lambda d: (-d.similarity, d.first.source, d.second.source))


def signatures_of(library: Library, doc_ids: Sequence[str]) -> dict[str, Signature]:
    """Signatures of these documents: kept ones read, missing ones computed from the stored text and kept."""
    table = library.store.table(TABLE)
    kept = table.get_many(list(doc_ids))
    out = {doc_id: _decode(value["sig"]) for doc_id, value in kept.items() if "sig" in value}
    missing = [d for d in doc_ids if d not in out]
    if missing:
        texts = _texts(library, missing)
        fresh = {doc_id: signature(shingles(texts.get(doc_id, ""))) for doc_id in missing}
        table.put_many([(doc_id, {"sig": _encode(sig)}, {}) for doc_id, sig in fresh.items()])
        out.update(fresh)
    return out


def _texts(library: Library, doc_ids: Sequence[str]) -> dict[str, str]:
    """Each document's text, its chunks in order (read in pages of many documents)."""
    parts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for start in range(0, len(doc_ids), 200):
        batch = list(doc_ids[start : start + 200])
        where = {"doc_id": batch[0]} if len(batch) == 1 else {"doc_id": {"$in": batch}}
        result = library.store.get_chunks(where=where)
        for text, meta in zip(result["documents"] or [], result["metadatas"] or [], strict=True):
            parts[str(meta.get("doc_id", ""))].append((int(meta.get("chunk", 0)), text))
    return {doc_id: "\n".join(t for _, t in sorted(chunks)) for doc_id, chunks in parts.items()}


def _encode(sig: Signature) -> str:
    return base64.b64encode(sig.astype("<u4").tobytes()).decode("ascii")


def _decode(text: str) -> Signature:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)
