"""The fusion study's experiments on the cache, printed as the tables of docs/ranking-study.md.

Every fusion here is a convex combination ``w * dense + (1 - w) * keyword`` of two
per-candidate scores (a "normalisation" makes them), with `w` a constant or a function
of query-time evidence with a few free constants. RRF is the case where the two scores
are ``2 / (60 + rank)`` (w = 0.5 is plain RRF k=60).

Protocol: a constant is chosen on some sets and reported on others.
- LOSO, leave one set out: fit on the other 8 sets, report on the held-out one;
- LOFO, leave one family out: the five languages the model cannot read (ar, hi, ru, th,
  zh) are one family, held out together, so a constant never sees that kind of data;
- in-sample (labelled so): the best constant for the set itself, an upper bound only.
Fitting maximises the mean over the training sets of their mean nDCG@10 (every set
weighs the same, whatever its number of queries); ties go to the first grid point.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.fusion_eval import (
    Candidates,
    FloatArray,
    PreparedSet,
    dense_only,
    keyword_only,
    mean_ndcg,
    ndcg_many,
    rrf,
)
from searchapp.embedding import readability as R
from searchapp.retrieval import fusion as F

DEPTH = 100  # candidates per list, as the Searcher fuses (FUSION_CANDIDATES)
STEP = np.round(np.arange(0.0, 1.0001, 0.05), 2)
FAMILIES = {
    "scifact": "scifact",
    "dbpedia-entity": "dbpedia",
    "xquad-en": "xquad-en",
    "xquad-de": "xquad-de",
    **{f"xquad-{lang}": "unreadable" for lang in ("ar", "hi", "ru", "th", "zh")},
}

# ------------------------------------------------------------------ normalisations
# Each maps a query's candidates to (dense part, keyword part), both "higher is better".

Pair = tuple[FloatArray, FloatArray]


def _stats(values: FloatArray, member: np.ndarray[Any, Any]) -> tuple[float, float, float, float]:
    inside = values[member] if member.any() else values
    return float(inside.min()), float(inside.max()), float(inside.mean()), float(inside.std())


def norm_rrf(c: Candidates) -> Pair:
    dense = np.where(c.in_dense, 2.0 / (60 + c.dense_rank), 0.0)
    return dense, np.where(c.in_keyword, 2.0 / (60 + c.keyword_rank), 0.0)


def norm_minmax(c: Candidates) -> Pair:
    lo, hi, _, _ = _stats(c.cosine, c.in_dense)
    klo, khi, _, _ = _stats(c.bm25, c.in_keyword)
    return (c.cosine - lo) / max(hi - lo, 1e-9), (c.bm25 - klo) / max(khi - klo, 1e-9)


def norm_tmm(c: Candidates) -> Pair:
    """Theoretical-min-max (Bruch et al.'s TM2C2): cosine from -1, BM25 from 0, to the list's max."""
    _, hi, _, _ = _stats(c.cosine, c.in_dense)
    _, khi, _, _ = _stats(c.bm25, c.in_keyword)
    return (c.cosine + 1) / max(hi + 1, 1e-9), c.bm25 / max(khi, 1e-9)


def norm_z(c: Candidates) -> Pair:
    _, _, mu, sd = _stats(c.cosine, c.in_dense)
    _, _, kmu, ksd = _stats(c.bm25, c.in_keyword)
    return (c.cosine - mu) / max(sd, 1e-9), (c.bm25 - kmu) / max(ksd, 1e-9)


def norm_absolute(c: Candidates) -> Pair:
    """Cosine as it is; BM25 over the query's largest attainable BM25 (sum of its terms' IDF)."""
    ceiling = F.bm25_ceiling([df for _, df in c.terms], c.chunks)
    return c.cosine, (c.bm25 / ceiling if ceiling > 0 else np.zeros_like(c.bm25))


def norm_absolute01(c: Candidates) -> Pair:
    """Both on a 0-1 scale without looking at the list: (cosine + 1) / 2 and BM25 / its ceiling."""
    _, keyword = norm_absolute(c)
    return (c.cosine + 1) / 2, keyword


NORMS: dict[str, Callable[[Candidates], Pair]] = {
    "rrf": norm_rrf,
    "minmax": norm_minmax,
    "tmm": norm_tmm,
    "zscore": norm_z,
    "absolute": norm_absolute,
    "absolute01": norm_absolute01,
}

# ------------------------------------------------------------------ evidence


def keyword_gap(c: Candidates) -> float:
    """How far BM25's best candidate stands out: (top - mean of the next 9) / top; 0 if none."""
    scores = np.sort(c.bm25[c.in_keyword])[::-1]
    if not len(scores) or scores[0] <= 0:
        return 0.0
    rest = np.pad(scores[1:10], (0, max(0, 9 - len(scores[1:10]))))
    return float((scores[0] - rest.mean()) / scores[0])


def evidence(c: Candidates) -> dict[str, float]:
    return {
        "readable": R.readable_share(c.pieces),
        "keyword_gap": keyword_gap(c),
        "pieces_per_word": c.pieces.pieces_per_word,
    }


# ------------------------------------------------------------------ variants


@dataclass(frozen=True)
class Variant:
    """A normalisation and a weight rule with free constants (one row of `grid` per setting)."""

    name: str
    norm: str
    grid: FloatArray  # (settings, constants)
    weight: Callable[[dict[str, float], FloatArray], FloatArray]  # evidence, grid -> w per setting


def constant_weight(e: dict[str, float], grid: FloatArray) -> FloatArray:
    return grid[:, 0]


def readable_weight(e: dict[str, float], grid: FloatArray) -> FloatArray:
    return grid[:, 0] * e["readable"]


def readable_gap_weight(e: dict[str, float], grid: FloatArray) -> FloatArray:
    return e["readable"] * np.clip(grid[:, 0] - grid[:, 1] * e["keyword_gap"], 0.0, 1.0)


def readable_gap1_weight(e: dict[str, float], grid: FloatArray) -> FloatArray:
    """One constant g0: w = readable * min(1, (1 - gap) / (1 - g0)) (full dense weight up to g0)."""
    return e["readable"] * np.minimum(1.0, (1.0 - e["keyword_gap"]) / (1.0 - grid[:, 0]))


def variants() -> list[Variant]:
    one = STEP[:, None]
    two = np.asarray(
        [
            (a, b)
            for a in np.round(np.arange(0.5, 1.51, 0.05), 2)
            for b in np.round(np.arange(0, 2.01, 0.1), 2)
        ]
    )
    out = [Variant(f"{n} · w", n, one, constant_weight) for n in NORMS]
    out += [Variant(f"{n} · w = a·readable", n, one, readable_weight) for n in NORMS]
    out += [Variant(f"{n} · w = readable·clip(a - b·gap)", n, two, readable_gap_weight) for n in NORMS]
    g0 = np.round(np.arange(0.0, 0.501, 0.01), 2)[:, None]
    out += [Variant(f"{n} · w = readable·min(1, (1-gap)/(1-g0))", n, g0, readable_gap1_weight) for n in NORMS]
    return out


# ------------------------------------------------------------------ protocol


def per_query(sets: dict[str, PreparedSet], variant: Variant) -> dict[str, FloatArray]:
    """Set -> nDCG@10 of every query (rows) for every grid setting (columns)."""
    out = {}
    for name, prepared in sets.items():
        rows = []
        for c in prepared.queries:
            dense, keyword = NORMS[variant.norm](c)
            w = variant.weight(evidence_of(c), variant.grid)[:, None]
            rows.append(ndcg_many(c, w * dense + (1 - w) * keyword))
        out[name] = np.asarray(rows)
    return out


FOLDS = 5
FOLD_SEED = 7


def cross_validated(scores: dict[str, FloatArray]) -> dict[str, tuple[float, list[int]]]:
    """Set -> (score, settings chosen per fold): 5-fold CV over the queries of every set at once.

    Fold f of every set is held out together; the setting is fitted on the other folds of
    all sets (each set weighing the same) and scored on fold f; each query is scored once.
    """
    rng = np.random.default_rng(FOLD_SEED)
    folds = {n: rng.permutation(len(m)) % FOLDS for n, m in scores.items()}
    held = {n: np.zeros(len(m)) for n, m in scores.items()}
    chosen = []
    for f in range(FOLDS):
        train = np.mean([m[folds[n] != f].mean(axis=0) for n, m in scores.items()], axis=0)
        best = int(np.argmax(train))
        chosen.append(best)
        for n, m in scores.items():
            held[n][folds[n] == f] = m[folds[n] == f, best]
    return {n: (float(held[n].mean()), chosen) for n in scores}


_EVIDENCE: dict[int, dict[str, float]] = {}


def evidence_of(c: Candidates) -> dict[str, float]:
    if id(c) not in _EVIDENCE:
        _EVIDENCE[id(c)] = evidence(c)
    return _EVIDENCE[id(c)]


def held_out(table: dict[str, FloatArray], groups: dict[str, str]) -> dict[str, tuple[float, int]]:
    """Set -> (score, chosen setting) with the setting fitted on the sets outside its group."""
    out = {}
    for name, group in groups.items():
        train = [n for n, g in groups.items() if g != group]
        best = int(np.argmax(np.mean([table[n] for n in train], axis=0)))
        out[name] = (float(table[name][best]), best)
    return out


def in_sample(table: dict[str, FloatArray], name: str) -> tuple[float, int]:
    best = int(np.argmax(table[name]))
    return float(table[name][best]), best


# ------------------------------------------------------------------ the report


def report(sets: dict[str, PreparedSet], deep: dict[str, PreparedSet], out: Path) -> dict[str, Any]:
    names = list(sets)
    base = {
        n: {
            "dense": mean_ndcg(deep[n], dense_only),
            "keyword": mean_ndcg(deep[n], keyword_only),
            "rrf60@300": mean_ndcg(deep[n], rrf()),
            "rrf60@100": mean_ndcg(sets[n], rrf()),
        }
        for n in names
    }
    print_baselines(base, sets)
    bar = {n: max(b["dense"], b["keyword"]) - 0.005 for n, b in base.items()}
    results: dict[str, Any] = {"baselines": base, "bar": bar, "variants": {}}
    groups_set = {n: n for n in names}
    groups_family = {n: FAMILIES.get(n, n) for n in names}
    summary = []
    for variant in variants():
        scores = per_query(sets, variant)
        table = {n: m.mean(axis=0) for n, m in scores.items()}
        loso = held_out(table, groups_set)
        lofo = held_out(table, groups_family)
        cv = cross_validated(scores)
        inside = {n: in_sample(table, n) for n in names}
        pooled = int(np.argmax(np.mean(list(table.values()), axis=0)))
        results["variants"][variant.name] = {
            "grid": variant.grid.tolist(),
            "table": {n: v.tolist() for n, v in table.items()},
            "loso": loso,
            "lofo": lofo,
            "cv": cv,
            "in_sample": inside,
            "fitted_on_all": [variant.grid[pooled].tolist(), {n: float(table[n][pooled]) for n in names}],
        }
        print_variant(variant, names, loso, lofo, cv, inside, pooled, table, bar)
        summary.append((variant.name, loso, lofo, cv))
    print_summary(summary, names, bar)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"\nwritten {out}")
    return results


def print_baselines(base: dict[str, dict[str, float]], sets: dict[str, PreparedSet]) -> None:
    print(
        "| set | queries | dense | keyword | RRF k=60, 300 per list (= eval) | RRF k=60, 100 per list (product) |"
    )
    print("|---|---|---|---|---|---|")
    for n, b in base.items():
        print(
            f"| {n} | {len(sets[n].queries)} | {b['dense']:.4f} | {b['keyword']:.4f} | "
            f"{b['rrf60@300']:.4f} | {b['rrf60@100']:.4f} |"
        )
    print()


def _params(variant: Variant, index: int) -> str:
    return ",".join(f"{x:g}" for x in variant.grid[index])


def print_variant(
    variant: Variant,
    names: Sequence[str],
    loso: dict[str, tuple[float, int]],
    lofo: dict[str, tuple[float, int]],
    cv: dict[str, tuple[float, list[int]]],
    inside: dict[str, tuple[float, int]],
    pooled: int,
    table: dict[str, FloatArray],
    bar: dict[str, float],
) -> None:
    def cell(value: float, index: int, n: str) -> str:
        return f"{value:.4f} ({_params(variant, index)}){'' if value >= bar[n] else ' ✗'}"

    def mark(value: float, n: str) -> str:
        return f"{value:.4f}{'' if value >= bar[n] else ' ✗'}"

    print(f"### {variant.name}")
    print(
        "| set | held out: LOSO (constants) | held out: LOFO (constants) | held out: 5-fold CV | "
        f"in-sample: fitted on all sets ({_params(variant, pooled)}) | in-sample: best for the set (constants) |"
    )
    print("|---|---|---|---|---|---|")
    for n in names:
        print(
            f"| {n} | {cell(*loso[n], n)} | {cell(*lofo[n], n)} | {mark(cv[n][0], n)} | "
            f"{mark(float(table[n][pooled]), n)} | {cell(*inside[n], n)} |"
        )
    folds = sorted({_params(variant, i) for i in next(iter(cv.values()))[1]})
    print(f"\n5-fold CV chose: {'; '.join(folds)}\n")


def print_summary(
    summary: list[
        tuple[
            str,
            dict[str, tuple[float, int]],
            dict[str, tuple[float, int]],
            dict[str, tuple[float, list[int]]],
        ]
    ],
    names: Sequence[str],
    bar: dict[str, float],
) -> None:
    print("### summary: held-out nDCG@10 (LOSO / LOFO / 5-fold CV); sets below the bar")
    print("| variant | " + " | ".join(names) + " | below the bar (LOSO/LOFO/CV) | mean CV - bar |")
    print("|---|" + "---|" * (len(names) + 2))
    for name, loso, lofo, cv in summary:
        cells = [f"{loso[n][0]:.3f} / {lofo[n][0]:.3f} / {cv[n][0]:.3f}" for n in names]
        below = [sum(p[n][0] < bar[n] for n in names) for p in (loso, lofo, cv)]
        margin = np.mean([cv[n][0] - bar[n] for n in names])
        print(f"| {name} | " + " | ".join(cells) + f" | {below[0]}/{below[1]}/{below[2]} | {margin:+.4f} |")
