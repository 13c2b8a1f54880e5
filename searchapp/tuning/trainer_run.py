"""One run of sentence-transformers' trainer: the model, its examples, its loss and its callbacks.

`TrainerRun` holds what a run needs besides the model and the examples; `fit` trains a
model in place, scored after every epoch, with a callback that keeps the best epoch's
weights (and stops after `patience` epochs without a better score) and one that reports
steps. The examples become the trainer's anchor / positive / negative columns here, and
the config's loss name becomes a loss object. `searchapp.tuning.train` runs it once, or
twice with `refit`, and finishes the model.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchapp.errors import ModelError
from searchapp.tuning.examples import Example
from searchapp.tuning.train_config import LOSSES, TrainConfig
from searchapp.tuning.validation import VAL_METRIC


@dataclass(frozen=True, slots=True)
class TrainerRun:
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
