"""The recommended rule, run through `searchapp.retrieval.fusion` itself, and the "no good match" thresholds.

Everything here calls the module the product would call (list in, list out), on the
cached candidates, and scores with the exact tie-breaking of `searchapp eval`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks import nomatch_report as NM
from benchmarks.fusion_eval import Candidates, FloatArray, PreparedSet, dense_only, keyword_only, mean_ndcg
from searchapp.embedding import readability as R
from searchapp.retrieval import fusion as F


def lists(c: Candidates) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The two candidate lists of a cached query as the Searcher would hand them over."""
    dense_at = np.flatnonzero(c.in_dense)[np.argsort(c.dense_rank[c.in_dense])]
    keyword_at = np.flatnonzero(c.in_keyword)[np.argsort(c.keyword_rank[c.in_keyword])]
    dense = [(str(i), float(c.cosine[i])) for i in dense_at]
    keyword = [(str(i), float(c.bm25[i])) for i in keyword_at]
    return dense, keyword


def weight_of(c: Candidates, keyword: Sequence[tuple[str, float]]) -> float:
    return F.dense_weight(R.readable_share(c.pieces), F.keyword_gap([s for _, s in keyword]))


def adaptive(*, exact: bool = True, full_dense_gap: float = F.FULL_DENSE_GAP) -> NM.Ranker:
    """The rule as a per-candidate score (candidates not returned by `fuse` are not ranked)."""

    def rank(c: Candidates) -> FloatArray:
        dense, keyword = lists(c)
        w = F.dense_weight(R.readable_share(c.pieces), F.keyword_gap([s for _, s in keyword]), full_dense_gap)
        extra = {}
        if exact:
            extra = {
                "cosine": {str(i): float(c.cosine[i]) for i in range(len(c.doc))},
                "bm25": {str(i): float(c.bm25[i]) for i in range(len(c.doc))},
            }
        scores = np.full(len(c.doc), -np.inf)
        for item, score in F.fuse(dense, keyword, w, **extra):
            scores[int(item)] = score
        return scores

    return rank


def ceiling_of(c: Candidates) -> float:
    return F.bm25_ceiling([df for _, df in c.terms], c.chunks)


def top_cosine(c: Candidates) -> float:
    return float(c.cosine[c.in_dense].max()) if c.in_dense.any() else -1.0


def top_keyword_share(c: Candidates) -> float:
    ceiling = ceiling_of(c)
    return float(c.bm25.max() / ceiling) if ceiling > 0 and len(c.bm25) else 0.0


def rule_table(sets: dict[str, PreparedSet], deep: dict[str, PreparedSet], bar: dict[str, float]) -> None:
    print(
        "### the recommended rule through searchapp.retrieval.fusion (nDCG@10; 5-fold CV chose the constant 0.14 in every fold)"
    )
    print(
        "| set | dense | keyword | RRF (today's hybrid) | rule, exact scores for both lists | "
        "rule, without the other list's scores (stand-ins) | rule, 300 per list | bar |"
    )
    print("|---|---|---|---|---|---|---|---|")
    from benchmarks.fusion_eval import rrf

    for n, s in sets.items():
        values = [
            mean_ndcg(deep[n], dense_only),
            mean_ndcg(deep[n], keyword_only),
            mean_ndcg(s, rrf()),
            mean_ndcg(s, adaptive()),
            mean_ndcg(s, adaptive(exact=False)),
            mean_ndcg(deep[n], adaptive()),
        ]
        cells = " | ".join(f"{v:.4f}" for v in values)
        ok = "✓" if values[3] >= bar[n] else "✗"
        print(f"| {n} | {cells} | {bar[n]:.4f} {ok} |")
    print()


def weights_table(sets: dict[str, PreparedSet]) -> None:
    print("### the rule's evidence per set (medians; 10th-90th percentile of w)")
    print("| set | readable | BM25 gap | dense weight w | w p10-p90 |")
    print("|---|---|---|---|---|")
    for n, s in sets.items():
        readable = [R.readable_share(c.pieces) for c in s.queries]
        gaps = [F.keyword_gap([sc for _, sc in lists(c)[1]]) for c in s.queries]
        weights = [F.dense_weight(r, g) for r, g in zip(readable, gaps, strict=True)]
        p10, p90 = np.percentile(weights, [10, 90])
        print(
            f"| {n} | {np.median(readable):.2f} | {np.median(gaps):.2f} | {np.median(weights):.2f} | "
            f"{p10:.2f}-{p90:.2f} |"
        )
    print()


def dominant_margin(t_dense: float, t_keyword: float) -> NM.TopScore:
    """The verdict of the list the rule trusts more (w >= 0.5: dense), as a margin over its threshold."""

    def margin(c: Candidates) -> float:
        w = weight_of(c, lists(c)[1])
        return top_cosine(c) - t_dense if w >= 0.5 else top_keyword_share(c) - t_keyword

    return margin


def dominant_table(sets: dict[str, PreparedSet]) -> None:
    """No new constant: each list's own threshold (fitted without the reported set)."""
    dense_obs = NM.observe(sets, dense_only, top_cosine)
    keyword_obs = NM.observe(sets, keyword_only, top_keyword_share)
    t_dense, t_keyword = NM.choose(dense_obs), NM.choose(keyword_obs)
    every = NM.observe(sets, adaptive(), dominant_margin(t_dense, t_keyword))
    print(
        "### no good match: adaptive, the verdict of the list it trusts more (w >= 0.5: dense, else keyword)"
    )
    print(
        "| set | thresholds dense / keyword (fitted without this set) | precision | recall | good ones flagged | off-topic flagged |"
    )
    print("|---|---|---|---|---|---|")
    for n in sets:
        td = NM.choose([o for o in dense_obs if o.set_name != n])
        tk = NM.choose([o for o in keyword_obs if o.set_name != n])
        test = NM.observe({n: sets[n]}, adaptive(), dominant_margin(td, tk))
        r = NM.rates(test, 0.0)
        print(
            f"| {n} | {td:.3f} / {tk:.3f} | {r.precision:.2f} | {r.recall:.2f} | {r.false_alarm:.2f} | {r.flagged_off_topic:.2f} |"
        )
    r = NM.rates(every, 0.0)
    print(
        f"| all (in-sample) | {t_dense:.3f} / {t_keyword:.3f} | {r.precision:.2f} | {r.recall:.2f} | "
        f"{r.false_alarm:.2f} | {r.flagged_off_topic:.2f} |"
    )
    module = NM.observe(sets, adaptive(), module_margin)
    r = NM.rates(module, 0.0)
    print(
        f"| all, searchapp.retrieval.fusion.no_good_match | {F.DENSE_NO_MATCH_BELOW} / {F.KEYWORD_NO_MATCH_BELOW} | "
        f"{r.precision:.2f} | {r.recall:.2f} | {r.false_alarm:.2f} | {r.flagged_off_topic:.2f} |\n"
    )


def module_margin(c: Candidates) -> float:
    """-1 where `searchapp.retrieval.fusion.no_good_match` says so, else 1 (a margin for `NM.rates` at 0)."""
    keyword = lists(c)[1]
    top_bm25 = max((s for _, s in keyword), default=0.0)
    flagged = F.no_good_match(top_cosine(c), top_bm25, ceiling_of(c), weight_of(c, keyword))
    return -1.0 if flagged else 1.0


def nomatch_tables(sets: dict[str, PreparedSet]) -> None:
    modes = {
        "dense (top cosine)": (dense_only, top_cosine),
        "keyword (top BM25 / attainable BM25)": (keyword_only, top_keyword_share),
    }
    for mode, (ranker, top) in modes.items():
        observations = NM.observe(sets, ranker, top)
        print(f"### no good match: {mode}")
        print("| queries | p5 | p25 | p50 | p75 | p95 |")
        print("|---|---|---|---|---|---|")
        for kind, label in (
            ("good", "relevant in top 10"),
            ("miss", "judged, none in top 10"),
            ("off", "off-topic"),
        ):
            cells = " | ".join(f"{x:.3f}" for x in NM.distribution(observations, kind))
            print(f"| {label} | {cells} |")
        threshold = NM.choose(observations)
        print(
            f"\nthreshold fitted on all sets (at most {NM.MAX_FALSE_ALARM:.0%} of good queries flagged): {threshold:.3f}"
        )
        print(
            "| set | threshold (fitted without this set) | precision | recall | good ones flagged | off-topic flagged |"
        )
        print("|---|---|---|---|---|---|")
        for n in sets:
            train = [o for o in observations if o.set_name != n]
            test = [o for o in observations if o.set_name == n]
            t = NM.choose(train)
            r = NM.rates(test, t)
            print(
                f"| {n} | {t:.3f} | {r.precision:.2f} | {r.recall:.2f} | {r.false_alarm:.2f} | {r.flagged_off_topic:.2f} |"
            )
        r = NM.rates(observations, threshold)
        print(
            f"| all (in-sample) | {threshold:.3f} | {r.precision:.2f} | {r.recall:.2f} | "
            f"{r.false_alarm:.2f} | {r.flagged_off_topic:.2f} |\n"
        )
    dominant_table(sets)
