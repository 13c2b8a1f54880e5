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

This module holds `train` (the recipe's steps, in order) and what finishes the kept model
(`blend`, the base model's layout); the settings and the result are in
`searchapp.tuning.train_config`, one run of the trainer in `searchapp.tuning.trainer_run`.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from searchapp.embedding.embedders import set_offline_environment
from searchapp.embedding.openvino import cpu_has_bf16
from searchapp.errors import ModelError
from searchapp.tuning.examples import Example
from searchapp.tuning.train_config import TrainConfig, TrainResult, planned_epochs
from searchapp.tuning.trainer_run import TrainerRun
from searchapp.tuning.validation import VAL_METRIC, VAL_NDCG, Validation, evaluator, ndcg_key

# `TrainConfig`, `TrainResult` and `planned_epochs` live in `train_config`; the tests and the
# benchmarks import them from here.
__all__ = ["TrainConfig", "TrainResult", "blend", "planned_epochs", "train"]

logger = logging.getLogger(__name__)


def train(
    base: Path,
    examples: Sequence[Example],
    validation: Validation,
    out_dir: Path,
    config: TrainConfig = TrainConfig(),  # noqa: B008  (frozen: one shared default is safe)
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
    run = TrainerRun(base, config, device, bf16, fp16, epochs, out_dir / "checkpoints", on_step)
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


# The module configuration of the base model, written over the new weights' own: the model's
# shape is unchanged, and every reader of the base layout (the model check, the OpenVINO
# converter) then reads a tuned model as it reads its base.
_LAYOUT_FILES = ("modules.json", "sentence_bert_config.json", "1_Pooling/config.json")


def _base_layout(target: Path, base: Path) -> None:
    for relative in _LAYOUT_FILES:
        if (base / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base / relative, target / relative)
