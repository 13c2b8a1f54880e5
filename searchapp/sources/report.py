"""What one sync of one source did, or would do: its outcome, counts, summary line and JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from searchapp.ingest.types import IngestReport
from searchapp.sources.listing import Problem
from searchapp.sources.plan import SyncPlan

Outcome = Literal["ok", "blocked", "busy", "failed", "dry-run"]


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync of one source did (or would do, for a dry run)."""

    source: str
    outcome: Outcome
    plan: SyncPlan
    message: str = ""
    failures: tuple[Problem, ...] = ()  # files whose new version could not be ingested
    took_s: float = 0.0
    ingest: IngestReport | None = None

    @property
    def deferred(self) -> tuple[str, ...]:
        return self.plan.deferred

    @property
    def counts(self) -> dict[str, int]:
        counts = dict(self.plan.counts)
        failed = {f.path for f in self.failures}
        for action in self.plan.of_kind("ingest"):  # planned, but its file could not be ingested
            if action.path in failed:
                counts["changed" if action.replaces else "new"] -= 1
        counts["failed"] = len(self.failures)
        return counts

    def summary(self) -> str:
        if self.outcome in ("busy", "failed") or not self.plan.applies:
            return f"{self.source}: {self.outcome}: {self.message}"
        c = self.counts
        head = "would change" if self.outcome == "dry-run" else "synced"
        text = (
            f"{self.source}: {head}: {c['new']} new, {c['changed']} changed, {c['moved']} moved or renamed, "
            f"{c['deleted']} deleted, {c['unchanged']} unchanged"
        )
        if c["retagged"]:
            text += f", {c['retagged']} tagged"
        if c["failed"]:
            text += f", {c['failed']} failed"
        if c["deferred"]:
            text += f", {c['deferred']} still being written (next sync)"
        if c["problems"]:
            text += f", {c['problems']} problems"
        if c["skipped"]:
            examples = ", ".join(self.plan.skipped[:3]) + (", ..." if c["skipped"] > 3 else "")
            text += f", {c['skipped']} skipped (not a type searchapp reads, or excluded: {examples})"
        text += f" ({self.took_s:.1f} s)"
        if self.plan.held:
            text += f"; deletions held: {self.message}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "outcome": self.outcome,
            "message": self.message,
            "counts": self.counts,
            "took_s": round(self.took_s, 3),
            "actions": [dataclasses.asdict(a) for a in self.plan.actions],
            "held": [dataclasses.asdict(a) for a in self.plan.held],
            "deferred": list(self.plan.deferred),
            "problems": [dataclasses.asdict(p) for p in self.plan.problems],
            "skipped": list(self.plan.skipped),
            "failures": [dataclasses.asdict(p) for p in self.failures],
        }
