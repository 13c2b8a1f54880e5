"""The OpenVINO CPU backend: the same model, converted once, run in bf16 where the CPU can.

On CPUs with AVX512-BF16 or AMX, OpenVINO runs the transformer in bf16 by default,
2-3x faster than torch fp32 with the same embeddings (mean cosine 0.99998 to fp32 on
real text; see docs/benchmarks.md). The model is converted from the local PyTorch
weights with OpenVINO's own converter (no download, no optimum), and the result is
cached under the data directory, so later starts only load it.

Supported: sentence-transformers models made of a Transformer, one Pooling (mean, CLS
or max) and an optional Normalize. Anything else stays on torch.

Telemetry: `import openvino` starts its converter's usage reporting, which counts a
missing consent file as consent. `import_openvino` hides the telemetry package during
that first import, so OpenVINO falls back to its built-in no-op stub for the whole
process, and nothing is written to the user's home directory.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.embedding.models import ModelInfo
from searchapp.errors import ModelError

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
_POOLING_MODES = ("pooling_mode_mean_tokens", "pooling_mode_cls_token", "pooling_mode_max_tokens")


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def import_openvino() -> Any:
    """`import openvino` with its telemetry replaced by OpenVINO's own no-op stub."""
    if "openvino" in sys.modules:
        return sys.modules["openvino"]
    saved = sys.modules.get("openvino_telemetry")
    sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import openvino

        return openvino
    finally:
        if saved is None:
            sys.modules.pop("openvino_telemetry", None)
        else:
            sys.modules["openvino_telemetry"] = saved


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), where OpenVINO and
    torch autocast gain 2-3x; elsewhere bf16 is emulated and no faster."""
    flags = _cpu_flags()
    return " avx512_bf16" in flags or " amx_bf16" in flags


@functools.cache
def _cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return ""  # not Linux: no fast path is assumed


def pooling_mode(info: ModelInfo) -> str | None:
    """The model's single pooling mode if OpenVINO can run it, else None."""
    if info.path is None:
        return None
    try:
        modules = json.loads((info.path / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling = json.loads(
            (info.path / str(modules[1]["path"]) / "config.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError, KeyError, IndexError):
        return None
    active = [mode for mode in _POOLING_MODES if pooling.get(mode)]
    others = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v and k not in _POOLING_MODES]
    return active[0] if len(active) == 1 and not others else None


class OpenVinoModel:
    """A converted transformer plus pooling, run on pre-tokenized input.

    With `int8`, the converted model is quantized once more (`searchapp.embedding.quantize`:
    int8 weights and activations in the matrix products, calibrated on local text) and
    cached beside it.
    """

    def __init__(self, info: ModelInfo, cache_dir: Path, *, int8: bool = False) -> None:
        mode = pooling_mode(info)
        if mode is None or info.path is None:
            raise ModelError(f"{info.name} has modules OpenVINO cannot run here; use the torch backend")
        self.info = info
        self.mode = mode
        self.int8 = int8
        self._cache_dir = cache_dir
        self._compiled: Any = None
        self._for_queries: Any = None
        self._core: Any = None
        self._xml: Path | None = None
        self._inputs: list[str] = []
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()

    def _load(self) -> Any:
        if self._compiled is not None:
            return self._compiled
        ov = import_openvino()

        xml = self._converted_path(ov.__version__)
        if not xml.is_file():
            self._convert(xml)
        if self.int8:
            from searchapp.embedding.quantize import quantized_model

            xml = quantized_model(xml, self.info, ov)
        core = ov.Core()
        # LATENCY: one request uses every core, which is what batches from one thread want.
        compiled = core.compile_model(str(xml), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        self._inputs = [port.get_any_name() for port in compiled.inputs]
        self._core, self._xml = core, xml  # for the queries' model, compiled on the first query
        self._compiled = compiled  # last: set means loaded
        logger.info(
            "OpenVINO model ready (%s, precision %s)",
            xml,
            core.get_property("CPU", "INFERENCE_PRECISION_HINT"),
        )
        return compiled

    def _converted_path(self, ov_version: str) -> Path:
        assert self.info.path is not None
        weights = sorted(self.info.path.glob("*.safetensors")) + sorted(self.info.path.glob("*.bin"))
        fingerprint = "|".join(
            [
                self.info.name,
                ov_version,
                *(f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights),
            ]
        )
        key = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        return self._cache_dir / "openvino" / key / "model.xml"

    def _convert(self, xml: Path) -> None:
        """Convert the local PyTorch weights to OpenVINO IR, offline, telemetry off."""
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        logger.info("converting %s to OpenVINO (once; cached in %s)", self.info.name, xml.parent)
        ov = import_openvino()
        try:
            hf_logging.disable_progress_bar()
            model = AutoModel.from_pretrained(str(self.info.path), local_files_only=True)
            model.eval()
            # Tracing reads every attribute, and transformers logs a warning when an encoder's
            # unused `loss_function` is read; set, it is returned as is.
            model.loss_function = None
            example = {
                "input_ids": torch.ones((2, 16), dtype=torch.long),
                "attention_mask": torch.ones((2, 16), dtype=torch.long),
            }
            if "token_type_ids" in model.forward.__code__.co_varnames:
                example["token_type_ids"] = torch.zeros((2, 16), dtype=torch.long)
            # Tracing warns about data-dependent branches that do not apply to encoders
            # (causal masks); they would only alarm users of the CLI.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                converted = ov.convert_model(model, example_input=example)
            # A name of its own, then the weights before the graph: processes sharing a cache
            # (SEARCHAPP_MODEL_CACHE) may convert at once, and a reader that finds model.xml
            # finds its weights beside it.
            partial = xml.with_name(f"partial-{os.getpid()}-{threading.get_ident()}.xml")
            xml.parent.mkdir(parents=True, exist_ok=True)
            ov.save_model(converted, str(partial), compress_to_fp16=False)
            partial.with_suffix(".bin").replace(xml.with_suffix(".bin"))
            partial.replace(xml)
        except Exception as exc:
            raise ModelError(f"cannot convert {self.info.name} to OpenVINO: {exc}") from exc

    def load(self) -> None:
        with self._lock:
            self._load()

    def embed(self, ids: Sequence[npt.NDArray[np.int64]], batch_size: int) -> Vectors:
        """Unit vectors for pre-tokenized texts (special tokens included), in input order."""
        with self._lock:
            compiled = self._load()
            out = np.zeros((len(ids), self.info.dimension), dtype=np.float32)
            order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths, little padding
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                out[batch] = self._run(compiled, [ids[i] for i in batch])
        return out

    def embed_queries(self, ids: Sequence[npt.NDArray[np.int64]]) -> Vectors:
        """`embed` for a few short texts on the queries' own compiled model: never waits for
        a document batch."""
        if self._compiled is None:
            self.load()
        with self._query_lock:
            if self._for_queries is None:
                # Queries get a compiled model of their own, so a query runs beside the
                # document batch in flight (sharing the CPU) instead of waiting for it behind
                # one lock. Compiled on the first query: a process that only ingests never
                # pays for it (0.3 s, 34 MB).
                self._for_queries = self._core.compile_model(
                    str(self._xml), "CPU", {"PERFORMANCE_HINT": "LATENCY"}
                )
            return self._run(self._for_queries, ids)

    def _run(self, compiled: Any, ids: Sequence[npt.NDArray[np.int64]]) -> Vectors:
        input_ids, mask = pad(list(ids))
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = compiled(feeds)[0]
        return pool(np.asarray(hidden, dtype=np.float32), mask, self.mode)


def pad(
    ids: Sequence[npt.NDArray[np.int64]], pad_id: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Right-pad token id arrays into a batch; returns (input_ids, attention_mask)."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = x
        mask[row, : len(x)] = 1
    return input_ids, mask


def pool(hidden: Vectors, mask: npt.NDArray[np.int64], mode: str) -> Vectors:
    """Pool token states into one L2-normalised vector per text."""
    if mode == "pooling_mode_cls_token":
        pooled = hidden[:, 0]
    elif mode == "pooling_mode_max_tokens":
        pooled = np.where(mask[..., None] > 0, hidden, -1e9).max(axis=1)
    else:
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return result
