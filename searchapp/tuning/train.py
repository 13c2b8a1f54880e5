"""Fine-tune the library's model on examples with sentence-transformers' trainer.

The recipe (docs/quality.md, "Tuning", has the measurements behind each choice):

- loss: MultipleNegativesRankingLoss over (query, passage, hard negative): every other
  passage in the batch is a negative too. `gist` (GISTEmbedLoss with the base model as the
  guide, which drops in-batch negatives the base model finds closer than the positive) and
  `cached-mnrl` (GradCache: large batches in small memory) are selectable;
- the whole model is trained, or with `lora` a rank-16 adapter that is merged after training;
- a validation split of the *training* queries (never the held-out ones) is scored after
  every epoch (nDCG@10 over its own candidate passages), and training stops when it stops
  improving; the best epoch is kept;
- on a CPU the epochs are planned within a step budget (`planned_epochs`): few labels get
  a longer schedule, many a shorter one, and the time stays bounded;
- `refit` (off by default) then trains again from the base on training + validation
  examples for the kept number of epochs;
- `blend` (1, none, by default) then moves the kept weights back towards the base model's
  (WiSE-FT, Wortsman et al. 2022): a larger learning rate blended back learns more than a
  small one for as much forgotten on general text, yet still lost more than the gate allows
  on the DBpedia part of the check set;
- `anchor` (0, none, by default) adds to MNRL a pull of the passages' embeddings towards the
  base model's (`searchapp/tuning/anchor.py`): it forgot little but learned little;
- bf16 autocast on CPUs that compute it natively (AMX, AVX512-BF16), fp16 on CUDA.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from searchapp.embedding.embedders import set_offline_environment
from searchapp.embedding.openvino import cpu_has_bf16
from searchapp.errors import ModelError
from searchapp.tuning.examples import Example
from searchapp.tuning.validation import VAL_METRIC, VAL_NDCG, Validation, evaluator, ndcg_key

logger = logging.getLogger(__name__)

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


def train(
    base: Path,
    examples: Sequence[Example],
    validation: Validation,
    out_dir: Path,
    config: TrainConfig = TrainConfig(),
    on_step: Callable[[int, int], None] | None = None,
    validation_examples: Sequence[Example] = (),
    probes: Mapping[str, Validation] | None = None,
) -> TrainResult:
    """Train a copy of the model in `base` and save the best epoch to ``out_dir/model``.

    `probes` are other validation sets scored beside `validation` before training and after
    every epoch (benchmarks compare what early stopping would see on each); they decide nothing.

    With `config.refit` and `validation_examples` (the validation queries' own examples),
    a second run from `base` then trains on both for as many epochs as the first kept, and
    that model is saved instead: early stopping chose the length, and the labels held back
    to choose it are learned from too.
    """
    set_offline_environment()
    import torch

    if not examples:
        raise ModelError("nothing to train on: no examples")
    device = "cuda" if config.device == "auto" and torch.cuda.is_available() else config.device
    device = "cpu" if device == "auto" else device
    bf16 = (device == "cpu" and cpu_has_bf16()) or (device == "cuda" and torch.cuda.is_bf16_supported())
    fp16 = device == "cuda" and not bf16
    epochs = planned_epochs(config, len(examples), device)
    run = _Run(base, config, device, bf16, fp16, epochs, out_dir / "checkpoints", on_step)
    model, scorer = run.model(), evaluator(validation, probes)
    before = scorer(model)
    base_score = float(before[VAL_NDCG])
    started = time.perf_counter()
    trainer, keeper = run.fit(model, examples, scorer)
    scored = [(float(e.get("epoch", 0.0)), e) for e in trainer.state.log_history if VAL_METRIC in e]
    history = tuple((epoch, float(metrics[VAL_METRIC])) for epoch, metrics in scored)
    probed = tuple(
        (name, epoch, float(metrics[prefix + ndcg_key(name)]))
        for name in probes or {}
        for epoch, metrics, prefix in [(0.0, before, ""), *((e, m, "eval_") for e, m in scored)]
    )
    best = base_score
    if keeper.weights is not None:
        model.load_state_dict(keeper.weights)
        best = keeper.score
    refit_steps = 0
    if config.refit and validation_examples and keeper.epoch > 0:
        both = [*examples, *validation_examples]
        model = run.model()
        refit, _ = run.fit(
            model, both, None, stop_at=round(keeper.epoch * math.ceil(len(both) / config.batch_size))
        )
        refit_steps = int(refit.state.global_step)
    if config.lora:
        transformer: Any = model[0]
        transformer.model = transformer.model.merge_and_unload()
    if config.blend < 1.0:
        blend(model, _weights(base, device), config.blend)
    seconds = time.perf_counter() - started
    target = out_dir / "model"
    shutil.rmtree(target, ignore_errors=True)
    model.save(str(target))
    _base_layout(target, base)
    shutil.rmtree(run.work, ignore_errors=True)
    return TrainResult(
        path=target,
        steps=int(trainer.state.global_step) + refit_steps,
        seconds=seconds,
        device=device,
        precision="bf16" if bf16 else "fp16" if fp16 else "fp32",
        base_score=base_score,
        best_score=best,
        history=history,
        planned_epochs=epochs,
        best_epoch=keeper.epoch,
        refit_steps=refit_steps,
        blend=config.blend,
        probes=probed,
    )


def blend(model: Any, base_weights: Mapping[str, Any], share: float) -> None:
    """Move `model`'s weights back towards `base_weights`, in place: base + share * (tuned - base).

    Buffers that are not floating point (position ids) are the model's own.
    """
    import torch

    state = model.state_dict()
    if state.keys() != base_weights.keys():
        missing = sorted(state.keys() ^ base_weights.keys())[:3]
        raise ModelError(
            f"the tuned and the base model must have the same weights to blend; differ in {missing}"
        )
    model.load_state_dict(
        {
            name: torch.lerp(base_weights[name].to(tuned), tuned, share)
            if tuned.is_floating_point()
            else tuned
            for name, tuned in state.items()
        }
    )


def _weights(base: Path, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(base), device=device).state_dict()


@dataclass(frozen=True, slots=True)
class _Run:
    """One training recipe: what `fit` needs besides the model and the examples."""

    base: Path
    config: TrainConfig
    device: str
    bf16: bool
    fp16: bool
    epochs: int  # the learning rate's schedule runs over these, however early a run stops
    work: Path
    on_step: Callable[[int, int], None] | None

    def model(self) -> Any:
        """A fresh copy of the base model (with a LoRA adapter when the config asks)."""
        import torch
        from sentence_transformers import SentenceTransformer

        random.seed(self.config.seed)
        torch.manual_seed(self.config.seed)
        model = SentenceTransformer(str(self.base), device=self.device)
        if self.config.lora:
            from peft import LoraConfig, TaskType, get_peft_model

            # peft itself, not transformers' `add_adapter` (which asks for a newer peft than the
            # registry has); the transformer module's `model` is what it runs.
            transformer: Any = model[0]
            transformer.model = get_peft_model(
                transformer.model,
                LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=16, lora_alpha=32, lora_dropout=0.1),
            )
        return model

    def fit(self, model: Any, examples: Sequence[Example], scorer: Any, stop_at: int = 0) -> tuple[Any, Any]:
        """Train `model` in place: scored after every epoch when there is a `scorer`,
        ended after `stop_at` steps when that is set (the schedule still plans `epochs`)."""
        from datasets import Dataset
        from sentence_transformers import SentenceTransformerTrainer
        from sentence_transformers.sentence_transformer.training_args import (
            BatchSamplers,
            SentenceTransformerTrainingArguments,
        )

        config = self.config
        args = SentenceTransformerTrainingArguments(
            output_dir=str(self.work),
            num_train_epochs=self.epochs,
            max_steps=config.max_steps,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.rate,
            warmup_ratio=config.warmup_ratio,
            bf16=self.bf16,
            fp16=self.fp16,
            use_cpu=self.device == "cpu",
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            eval_strategy="epoch" if scorer is not None else "no",
            save_strategy="no",  # the best epoch is kept in memory (_Best), not in checkpoints
            logging_steps=10,
            report_to="none",
            seed=config.seed,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        keeper = _best_keeper(model, config.patience)
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_dict(_columns(examples, config.seed)),
            eval_dataset=None,
            loss=_loss(config, model, self.base, self.device),
            evaluator=scorer,
            callbacks=[keeper, _steps(self.on_step, stop_at)],
        )
        trainer.train()
        return trainer, keeper


def _best_keeper(model: Any, patience: int) -> Any:
    from transformers import TrainerCallback

    class _Best(TrainerCallback):  # type: ignore[misc]  # transformers is read as untyped
        """Keeps a copy of the weights of the best epoch so far, and stops training after
        `patience` epochs without a better validation score. (Transformers' own early
        stopping needs a checkpoint per epoch, and cannot reload one of a LoRA model.)"""

        def __init__(self) -> None:
            self.score = float("-inf")
            self.epoch = 0.0  # of the kept weights; 0: none kept
            self.weights: dict[str, Any] | None = None
            self.waited = 0

        def on_evaluate(
            self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
        ) -> None:
            score = (metrics or {}).get(VAL_METRIC)
            if score is None:
                return
            if score > self.score:
                self.score, self.epoch, self.waited = float(score), float(state.epoch), 0
                self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                self.waited += 1
                control.should_training_stop = self.waited >= patience

    return _Best()


def _steps(on_step: Callable[[int, int], None] | None, stop_at: int) -> Any:
    from transformers import TrainerCallback

    class _Steps(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if on_step is not None:
                on_step(int(state.global_step), int(stop_at or state.max_steps))
            if stop_at and state.global_step >= stop_at:
                control.should_training_stop = True

    return _Steps()


def planned_epochs(config: TrainConfig, examples: int, device: str) -> int:
    """`config.epochs`, or fewer when that many would pass the CPU's step budget.

    The learning rate decays over the planned epochs, so the plan itself is part of the
    recipe (docs/quality.md: a longer schedule learned more by its third epoch).
    """
    if config.step_budget <= 0 or device == "cuda":
        return config.epochs
    per_epoch = max(1, math.ceil(examples / config.batch_size))
    return max(1, min(config.epochs, config.step_budget // per_epoch))


# The module configuration of the base model, written over the new weights' own: the model's
# shape is unchanged, and every reader of the base layout (the model check, the OpenVINO
# converter) then reads a tuned model as it reads its base.
_LAYOUT_FILES = ("modules.json", "sentence_bert_config.json", "1_Pooling/config.json")


def _base_layout(target: Path, base: Path) -> None:
    for relative in _LAYOUT_FILES:
        if (base / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base / relative, target / relative)


def _loss(config: TrainConfig, model: Any, base: Path, device: str) -> Any:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    name = config.loss
    if name == "mnrl" and config.anchor > 0:
        from searchapp.tuning.anchor import AnchoredRankingLoss

        return AnchoredRankingLoss(model, SentenceTransformer(str(base), device=device), config.anchor)
    if name == "mnrl":
        return losses.MultipleNegativesRankingLoss(model)
    if name == "cached-mnrl":
        return losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=16)
    if name == "gist":
        guide = SentenceTransformer(str(base), device=device)
        return losses.GISTEmbedLoss(model, guide=guide)
    raise ModelError(f"the loss is one of {', '.join(LOSSES)}; got {name!r}")


def _columns(examples: Sequence[Example], seed: int) -> dict[str, list[str]]:
    """anchor / positive / negative columns (negative_1..n when examples carry n negatives:
    MNRL treats every column after the positive as a negative); a missing one is borrowed."""
    width = max(1, max((len(e.negatives) for e in examples), default=1))
    pool = [n for e in examples for n in e.negatives] or [e.positive for e in examples]
    rng = random.Random(seed)
    columns: list[list[str]] = [[] for _ in range(width)]
    for example in examples:
        own = list(example.negatives[:width])
        while len(own) < width:
            choice = rng.choice(pool)
            own.append(choice if choice != example.positive else pool[0])
        for column, text in zip(columns, own, strict=True):
            column.append(text)
    names = ["negative"] if width == 1 else [f"negative_{i + 1}" for i in range(width)]
    return {
        "anchor": [e.query for e in examples],
        "positive": [e.positive for e in examples],
        **dict(zip(names, columns, strict=True)),
    }
