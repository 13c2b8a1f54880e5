"""Which measure finds near-duplicate documents: word-shingle MinHash, or whole-document embeddings?

Pairs from SciFact abstracts (real scientific prose, 300 documents):

- *edited* (positives): a second version with 10% of its words replaced, one sentence
  dropped and one added from another abstract: a v2 of a policy;
- *re-exported* (positives): the same text as another extractor gives it: lines broken at
  60 characters, words hyphenated at line ends, punctuation spaced differently;
- *same topic* (negatives): each abstract and its nearest *other* abstract by embedding:
  two different documents about one thing, which must not be called duplicates.

For each measure: the scores of each kind, and the best accuracy any single threshold
reaches. `searchapp duplicates` uses MinHash at 0.25 (`searchapp.sources.duplicates`).

    python benchmarks/bench_near_duplicates.py [--docs 300]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SHARED, machine, table
from searchapp import Settings
from searchapp.embedding.embedders import get_embedder
from searchapp.sources.duplicates import DEFAULT_THRESHOLD, shingles, signature, similarity


def _edited(text: str, other: str, rng: random.Random, vocabulary: list[str]) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    if len(sentences) > 2:
        sentences.pop(rng.randrange(len(sentences)))
    extra = re.split(r"(?<=[.!?])\s+", other)
    sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(extra))
    words = " ".join(sentences).split()
    for i in rng.sample(range(len(words)), k=len(words) // 10):
        words[i] = rng.choice(vocabulary)
    return " ".join(words)


def _reexported(text: str) -> str:
    out, line = [], ""
    for word in text.replace(",", " ,").replace(";", " ;").split():
        if len(line) + len(word) > 60 and len(word) > 6:
            half = len(word) // 2
            out.append(line + word[:half] + "-")
            line = word[half:] + " "
        else:
            line += word + " "
    return "\n".join([*out, line.strip()])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(5)
    rows = [json.loads(line) for line in (SHARED / "eval" / "scifact" / "corpus.jsonl").open()]
    docs = [r["text"] for r in rows if len(r["text"].split()) > 120][: args.docs]
    vocabulary = sorted({w for d in docs for w in d.split()})
    embedder = get_embedder(Settings.load(environ={}))
    vectors = embedder.embed_documents(docs)
    cos = vectors @ vectors.T
    np.fill_diagonal(cos, -1)
    pairs: dict[str, list[tuple[str, str]]] = {"edited": [], "re-exported": [], "same topic": []}
    for i, text in enumerate(docs):
        other = docs[(i + 1) % len(docs)]
        pairs["edited"].append((text, _edited(text, other, rng, vocabulary)))
        pairs["re-exported"].append((text, _reexported(text)))
        pairs["same topic"].append((text, docs[int(np.argmax(cos[i]))]))
    scores: dict[str, dict[str, list[float]]] = {"MinHash (word 3-shingles)": {}, "embedding cosine": {}}
    for kind, items in pairs.items():
        firsts = embedder.embed_documents([a for a, _ in items])
        seconds = embedder.embed_documents([b for _, b in items])
        scores["embedding cosine"][kind] = [float(x @ y) for x, y in zip(firsts, seconds, strict=True)]
        scores["MinHash (word 3-shingles)"][kind] = [
            similarity(signature(shingles(a)), signature(shingles(b))) for a, b in items
        ]
    out = []
    for measure, by_kind in scores.items():
        positive = by_kind["edited"] + by_kind["re-exported"]
        negative = by_kind["same topic"]
        best = max(
            (sum(p >= t for p in positive) + sum(n < t for n in negative)) / (len(positive) + len(negative))
            for t in sorted(set(positive + negative))
        )
        at_default = (
            sum(p >= DEFAULT_THRESHOLD for p in positive) + sum(n < DEFAULT_THRESHOLD for n in negative)
        ) / (len(positive) + len(negative))

        def q(values: list[float]) -> str:
            v = sorted(values)
            return f"{v[0]:.2f} / {v[len(v) // 2]:.2f} / {v[-1]:.2f}"

        out.append(
            [
                measure,
                q(by_kind["edited"]),
                q(by_kind["re-exported"]),
                q(negative),
                f"{best:.3f}",
                f"{at_default:.3f}" if measure.startswith("MinHash") else "-",
            ]
        )
    print(f"## Near-duplicates: MinHash against embeddings ({len(docs)} SciFact abstracts; {machine()})\n")
    print(
        table(
            [
                "measure",
                "edited: min / median / max",
                "re-exported",
                "same topic (negatives)",
                "best accuracy, any threshold",
                f"accuracy at {DEFAULT_THRESHOLD}",
            ],
            out,
        )
    )


if __name__ == "__main__":
    main()
