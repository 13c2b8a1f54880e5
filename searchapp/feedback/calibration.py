"""The "no good match" notice, calibrated per library from feedback, under a held-out gate.

A 👍 on a shown passage says the query had a good match; "none of these are right" (with no
👍 from anyone) says it had none. Each such query's evidence is read again from the library
as it is now (the best cosine and the best BM25 share: what the notice looks at), the
queries are split in two by query (seeded), and on the first half the thresholds are fitted
by the same rule as the defaults (docs/quality.md): the largest that flag at most 5% of the
queries with a good match. On the second half, both the defaults and the fitted thresholds
are scored in the library's default mode. The fitted ones are kept only if they separate
good from bad clearly better there (Youden's J, recall minus false alarms, up by at least
`MIN_GAIN`); the measurement is kept either way, so the Status page can show how precise
the live notice is on this library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from searchapp.errors import DocumentNotFoundError, QueryError
from searchapp.feedback.log import Feedback, FeedbackLog
from searchapp.library.finding import resolved
from searchapp.request import SearchRequest
from searchapp.retrieval.ranking import FUSION_CANDIDATES, evidence_of
from searchapp.retrieval.scoring import NO_MATCH_TABLE, Evidence, NoMatch, weak_match
from searchapp.splits import split_by_query

if TYPE_CHECKING:
    from searchapp.library import Library

logger = logging.getLogger(__name__)

MAX_FALSE_ALARMS = 0.05  # the defaults' rule: flag at most 5% of queries that have a good match
MIN_GAIN = 0.02  # Youden's J on the held-out half, calibrated against the defaults
MIN_GOOD, MIN_BAD = 10, 5  # per half, fewer says nothing


@dataclass(frozen=True, slots=True)
class NoticeScore:
    """How the notice did on labelled queries: flagged bad ones are right, flagged good ones false alarms."""

    good: int
    bad: int
    good_flagged: int
    bad_flagged: int

    @property
    def precision(self) -> float | None:
        flagged = self.good_flagged + self.bad_flagged
        return self.bad_flagged / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        return self.bad_flagged / self.bad if self.bad else None

    @property
    def false_alarms(self) -> float | None:
        return self.good_flagged / self.good if self.good else None

    @property
    def youden(self) -> float:
        return (self.recall or 0.0) - (self.false_alarms or 0.0)

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "good": self.good,
            "bad": self.bad,
            "good_flagged": self.good_flagged,
            "bad_flagged": self.bad_flagged,
            "precision": rounded(self.precision),
            "recall": rounded(self.recall),
            "false_alarms": rounded(self.false_alarms),
        }


@dataclass(frozen=True, slots=True)
class Calibration:
    """A calibration run: the thresholds it fitted, how both sets scored held out, and the verdict."""

    mode: str
    dense: float
    keyword: float
    kept: bool
    train_queries: int
    heldout_queries: int
    default: NoticeScore
    calibrated: NoticeScore
    reasons: tuple[str, ...] = field(default=())
    at: float = 0.0
    model: str = ""  # the embedding model whose cosines it was fitted on

    @property
    def live(self) -> NoticeScore:
        """The score of the notice the library now shows."""
        return self.calibrated if self.kept else self.default

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dense": round(self.dense, 4),
            "keyword": round(self.keyword, 4),
            "kept": self.kept,
            "train_queries": self.train_queries,
            "heldout_queries": self.heldout_queries,
            "default": self.default.to_dict(),
            "calibrated": self.calibrated.to_dict(),
            "reasons": list(self.reasons),
            "at": self.at,
            "model": self.model,
        }


def labelled(items: Iterable[Feedback]) -> dict[str, bool]:
    """Query -> had a good match: True on any 👍, False on "none of these" with no 👍."""
    good: dict[str, bool] = {}
    for item in items:
        if item.verdict == "good":
            good[item.query] = True
        elif item.verdict == "none":
            good.setdefault(item.query, False)
    return good


def fit_threshold(good_values: Sequence[float]) -> float:
    """The largest threshold that flags (value < threshold) at most MAX_FALSE_ALARMS of `good_values`."""
    ordered = sorted(good_values)
    allowed = int(MAX_FALSE_ALARMS * len(ordered))
    return ordered[allowed] if ordered else 0.0


def score(evidence: Sequence[tuple[Evidence, bool]], mode: str, thresholds: NoMatch) -> NoticeScore:
    flags = [(weak_match(mode, e, thresholds), good) for e, good in evidence]
    return NoticeScore(
        good=sum(1 for _, good in flags if good),
        bad=sum(1 for _, good in flags if not good),
        good_flagged=sum(1 for flagged, good in flags if flagged and good),
        bad_flagged=sum(1 for flagged, good in flags if flagged and not good),
    )


def evidence(library: Library, query: str) -> Evidence | None:
    """What both candidate lists say about `query`'s best match in the library as it is now
    (the notice's inputs), or None when the query no longer reads (its syntax, a ``doc:``
    name that is gone)."""
    try:  # both lists, as deep as the fused modes take them
        asked = SearchRequest(query=query, k=FUSION_CANDIDATES, mode="hybrid")
        request = resolved(asked, library, default_mode="hybrid")
        prepared = library.searcher.prepare(request)
    except (QueryError, DocumentNotFoundError):
        return None
    return evidence_of(prepared, library.searcher.index.candidates(request, prepared, FUSION_CANDIDATES))


def calibrate(library: Library, *, seed: int = 0, keep: bool = True) -> Calibration:
    """Fit, measure and (if it is better held out) keep the library's own thresholds."""
    mode = library.settings.search_mode
    found: dict[str, Evidence] = {}
    labels: dict[str, bool] = {}
    for query, good in labelled(FeedbackLog.of(library).list()).items():
        seen = evidence(library, query)
        if seen is not None:
            found[query], labels[query] = seen, good
    train_keys, held_keys = split_by_query(sorted(labels), 0.5, seed)
    train = [(found[q], labels[q]) for q in sorted(train_keys)]
    held = [(found[q], labels[q]) for q in sorted(held_keys)]
    fitted = NoMatch(
        dense=fit_threshold([e.top_cosine for e, good in train if good]),
        keyword=fit_threshold([e.keyword_share for e, good in train if good]),
        calibrated=True,
    )
    default = score(held, mode, NoMatch())
    calibrated = score(held, mode, fitted)
    reasons = []
    for name, part in (("fitting", train), ("held-out", held)):
        goods = sum(1 for _, good in part if good)
        if goods < MIN_GOOD or len(part) - goods < MIN_BAD:
            reasons.append(
                f"the {name} half has {goods} queries with a 👍 and {len(part) - goods} with 'none of these "
                f"are right'; at least {MIN_GOOD} and {MIN_BAD} are needed"
            )
    if not reasons and calibrated.youden < default.youden + MIN_GAIN:
        reasons.append(
            f"held out, the fitted thresholds separate good from bad matches no better "
            f"(recall - false alarms {calibrated.youden:.3f} against {default.youden:.3f}; "
            f"+{MIN_GAIN} needed)"
        )
    result = Calibration(
        mode=mode,
        dense=fitted.dense,
        keyword=fitted.keyword,
        kept=not reasons and keep,
        train_queries=len(train),
        heldout_queries=len(held),
        default=default,
        calibrated=calibrated,
        reasons=tuple(reasons),
        at=time.time(),
        model=library.embedder.info.name,
    )
    library.store.table(NO_MATCH_TABLE).put("current", result.to_dict(), kind="calibration")
    library.calibration_saved()
    return result


def recalibrate_after_model_change(library: Library) -> Calibration | None:
    """Calibrate again for the model now searching, if the library was calibrated with
    another one (its cosines fit that model only); None when there was nothing to redo.

    Under the same held-out gate: too little feedback, or no gain, keeps the defaults. A
    failure is logged, never raised: the model change it follows stands, with the defaults.
    """
    model = library.embedder.info.name
    try:
        record = last_calibration(library) if library.store.has_table(NO_MATCH_TABLE) else None
        if not record or record.get("model") == model:
            return None
        result = calibrate(library)
    except Exception as exc:  # never fails the switch that is already done
        logger.warning("could not calibrate the no-match notice again for %s: %s", model, exc)
        return None
    outcome = "kept" if result.kept else "not kept, the defaults hold: " + "; ".join(result.reasons)
    logger.warning("the no-match notice was calibrated again for %s: %s", model, outcome)
    return result


def last_calibration(library: Library) -> dict[str, Any] | None:
    """The last calibration's record (what the Status page shows), or None."""
    return library.store.table(NO_MATCH_TABLE).get("current")


def reset(library: Library) -> None:
    """Back to the measured defaults."""
    library.store.table(NO_MATCH_TABLE).delete(["current"])
    library.calibration_saved()
