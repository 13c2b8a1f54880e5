"""The gate a tuned model must pass before it may replace the library's model.

It must raise the default mode's held-out nDCG@10 by at least `MIN_GAIN`, and lose at
most `MAX_CHECK_DROP` on each set of the general check set (in the default mode), so a
model that learned the team's words but forgot the language is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from searchapp.tuning.measure import SetComparison

MIN_GAIN = 0.01
MAX_CHECK_DROP = 0.005


@dataclass(frozen=True, slots=True)
class GateVerdict:
    passed: bool
    mode: str
    heldout_gain: float
    check_changes: tuple[tuple[str, float], ...] = ()
    reasons: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "mode": self.mode,
            "heldout_ndcg10_gain": round(self.heldout_gain, 4),
            "check_ndcg10_changes": {name: round(change, 4) for name, change in self.check_changes},
            "reasons": list(self.reasons),
            "min_gain": MIN_GAIN,
            "max_check_drop": MAX_CHECK_DROP,
        }


def check(
    heldout: SetComparison, checks: Sequence[SetComparison], mode: str, *, checked: bool = True
) -> GateVerdict:
    gain = heldout.mode(mode).gain
    reasons = []
    if gain < MIN_GAIN:
        reasons.append(f"held-out {mode} nDCG@10 changed by {gain:+.4f}; at least +{MIN_GAIN} is required")
    changes = tuple((c.dataset, c.mode(mode).gain) for c in checks)
    for name, change in changes:
        if change < -MAX_CHECK_DROP:
            reasons.append(
                f"the general check set {name} lost {-change:.4f} nDCG@10; "
                f"at most {MAX_CHECK_DROP} may be lost"
            )
    if not checked:
        reasons.append("the general check set was not run")
    return GateVerdict(not reasons, mode, gain, changes, tuple(reasons))
