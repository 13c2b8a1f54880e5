""" "No good match" from data: the top score of each mode, with and without a good match.

For every judged query of every set, and for off-topic queries (another set's questions
run against this set's corpus; see fusion_study.OFF_TOPIC), take the mode's top score
and whether a judged-relevant document is in the mode's top 10 ("good match"). A
threshold t says "no good match" when the top score is below t. For each t we count,
with every set weighing the same (each query weighs 1/queries of its set and kind):

- precision: of the queries flagged, the share that indeed had no good match;
- recall: of the queries without a good match, the share flagged;
- flagged good: the share of queries *with* a good match that are wrongly flagged.

The threshold chosen is the largest t whose wrongly-flagged share stays within
`MAX_FALSE_ALARM` (a notice over good results is the costly error), fitted on all sets
but the one reported (leave one set out), and on all sets for the rule itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.fusion_eval import Candidates, FloatArray, PreparedSet, document_order

MAX_FALSE_ALARM = 0.05
TopScore = Callable[[Candidates], float]
Ranker = Callable[[Candidates], FloatArray]


@dataclass(frozen=True)
class Observation:
    set_name: str
    score: float
    good: bool  # a judged-relevant document in the top 10
    off_topic: bool
    weight: float


def observe(sets: dict[str, PreparedSet], ranker: Ranker, top: TopScore) -> list[Observation]:
    out: list[Observation] = []
    for name, prepared in sets.items():
        for group in (prepared.queries, prepared.off_topic):
            for c in group:
                good = False
                if not c.off_topic:
                    ranked = document_order(c, ranker(c), prepared.twins, 10)
                    good = any(c.gains.get(d, 0) > 0 for d in ranked)
                out.append(Observation(name, top(c), good, c.off_topic, 1.0 / max(len(group), 1)))
    return out


@dataclass(frozen=True)
class Rates:
    threshold: float
    precision: float
    recall: float
    false_alarm: float
    flagged_off_topic: float


def rates(observations: Sequence[Observation], threshold: float) -> Rates:
    w = np.asarray([o.weight for o in observations])
    flagged = np.asarray([o.score < threshold for o in observations])
    good = np.asarray([o.good for o in observations])
    off = np.asarray([o.off_topic for o in observations])
    bad = ~good
    precision = float((w * (flagged & bad)).sum() / max((w * flagged).sum(), 1e-12))
    recall = float((w * (flagged & bad)).sum() / max((w * bad).sum(), 1e-12))
    false_alarm = float((w * (flagged & good)).sum() / max((w * good).sum(), 1e-12))
    flagged_off = float((w * (flagged & off)).sum() / max((w * off).sum(), 1e-12))
    return Rates(threshold, precision, recall, false_alarm, flagged_off)


def choose(observations: Sequence[Observation]) -> float:
    """The largest threshold that wrongly flags at most MAX_FALSE_ALARM of the good queries."""
    goods = sorted(o.score for o in observations if o.good)
    if not goods:
        return 0.0
    w = np.asarray([o.weight for o in observations if o.good])
    scores = np.asarray([o.score for o in observations if o.good])
    order = np.argsort(scores)
    cumulative = np.cumsum(w[order]) / w.sum()
    # Flagging scores below scores[order][i] wrongly flags cumulative[i-1] of the good ones.
    allowed = np.flatnonzero(cumulative <= MAX_FALSE_ALARM)
    index = int(allowed[-1]) + 1 if len(allowed) else 0
    return float(scores[order][index])


def distribution(observations: Sequence[Observation], kind: str) -> tuple[float, float, float, float, float]:
    chosen = [
        o.score
        for o in observations
        if (kind == "good" and o.good)
        or (kind == "miss" and not o.good and not o.off_topic)
        or (kind == "off" and o.off_topic)
    ]
    if not chosen:
        return (float("nan"),) * 5
    p = np.percentile(chosen, [5, 25, 50, 75, 95])
    return tuple(float(x) for x in p)  # type: ignore[return-value]
