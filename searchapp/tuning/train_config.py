"""What a tuning run is asked to do, and what it reports back.

`TrainConfig` is the recipe's settings (loss, LoRA, epochs, step budget, learning rate,
refit, blend, anchor), checked when made; `planned_epochs` is the schedule a config plans
on a device; `TrainResult` is what `searchapp.tuning.train.train` hands back (scores,
history, steps). Kept apart from the training itself, which reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from searchapp.errors import ModelError

Loss = Literal["mnrl", "cached-mnrl", "gist"]
LOSSES: tuple[str, ...] = ("mnrl", "cached-mnrl", "gist")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    loss: Loss = "mnrl"
    lora: bool = False
    epochs: int = 6  # at most: the step budget and early stopping usually end it sooner
    # Training steps at most on a CPU (about 7 s each for 16 examples on 2 cores): few labels
    # get more epochs, many get fewer, and 300 labelled queries still tune inside 10 minutes.
    # 0: `epochs` alone decides.
    step_budget: int = 48
    batch_size: int = 16
    learning_rate: float = 0.0  # 0: 3e-5, or 5e-4 for LoRA's few weights (docs/quality.md)
    warmup_ratio: float = 0.1
    patience: int = 2  # evaluations without a better validation score before stopping
    seed: int = 0
    device: str = "auto"  # auto: CUDA when torch sees one, else the CPU
    max_steps: int = -1  # > 0: stop after this many steps (tests)
    # After early stopping, train again from the base on the training and validation queries
    # for the kept number of epochs (docs/quality.md: what it adds, and what it costs).
    refit: bool = False
    # The share of the way from the base weights to the tuned ones that is kept (1: all of it;
    # docs/quality.md, "Blending": measured, not the default).
    blend: float = 1.0
    # > 0: MNRL plus this weight times the passages' squared drift from the base model's
    # embeddings (searchapp/tuning/anchor.py; docs/quality.md: measured, not the default).
    anchor: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.blend <= 1.0:
            raise ModelError(f"the blend is a share between 0 and 1 of the tuned weights; got {self.blend}")
        if self.anchor < 0 or (self.anchor > 0 and self.loss != "mnrl"):
            raise ModelError(
                f"the anchor is a weight of 0 or more on the mnrl loss; got {self.anchor} with {self.loss!r}"
            )

    @property
    def rate(self) -> float:
        """The learning rate used: the one given, else the default for the weights trained."""
        return self.learning_rate or (5e-4 if self.lora else 3e-5)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {
            "learning_rate": self.rate
        }


@dataclass(frozen=True, slots=True)
class TrainResult:
    path: Path
    steps: int
    seconds: float
    device: str
    precision: str
    base_score: float  # validation nDCG@10 before training
    best_score: float  # ... of the kept epoch (before the blend)
    history: tuple[tuple[float, float], ...] = field(default=())  # (epoch, validation nDCG@10)
    planned_epochs: int = 0  # what the learning rate's schedule ran over
    best_epoch: float = 0.0  # the validated epoch kept (0: no epoch was scored)
    refit_steps: int = 0  # of the second run on training + validation examples; 0: none
    blend: float = 1.0  # the share of the tuned weights kept
    # (probe name, epoch, nDCG@10) of other validation sets scored beside it (0: before training)
    probes: tuple[tuple[str, float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "device": self.device,
            "precision": self.precision,
            "validation_base_ndcg10": round(self.base_score, 4),
            "validation_best_ndcg10": round(self.best_score, 4),
            "history": [[round(e, 2), round(s, 4)] for e, s in self.history],
            "planned_epochs": self.planned_epochs,
            "best_epoch": self.best_epoch,
            "refit_steps": self.refit_steps,
            "blend": self.blend,
            "probes": {
                name: [[round(e, 2), round(v, 4)] for n, e, v in self.probes if n == name]
                for name in dict.fromkeys(n for n, _, _ in self.probes)
            },
        }


def planned_epochs(config: TrainConfig, examples: int, device: str) -> int:
    """`config.epochs`, or fewer when that many would pass the CPU's step budget.

    The learning rate decays over the planned epochs, so the plan itself is part of the
    recipe (docs/quality.md: a longer schedule learned more by its third epoch).
    """
    if config.step_budget <= 0 or device == "cuda":
        return config.epochs
    per_epoch = max(1, math.ceil(examples / config.batch_size))
    return max(1, min(config.epochs, config.step_budget // per_epoch))
