"""Turn text into unit vectors: sentence-transformers for real, a hash embedder for tests.

The real embedder is cheap to construct; the model loads on first use, once per
process (`get_embedder` caches it). Backends, chosen by SEARCHAPP_BACKEND ("auto"):

    cuda        torch fp16 on an NVIDIA GPU, large batches
    openvino    OpenVINO on an x86-64 CPU: bf16 where the CPU has it (AVX512-BF16/AMX),
                else fp32, which still embeds a query twice as fast as torch fp32
    openvino-int8  the same, quantized to int8 once (NNCF, calibrated on bundled text);
                never picked by "auto" (see docs/quality.md for what it changes)
    torch-bf16  torch with bf16 autocast, on a CPU with native bf16
    torch       torch fp32 (CPU) or fp16 (CUDA); MPS on Apple silicon

"auto" takes the first that applies, in that order. All of them give the same
embeddings to within cosine 0.9999, so one collection may be written by one backend
and queried by another. Every backend embeds pre-tokenized input: the chunker already
tokenized each chunk to measure it, so ingest never tokenizes twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from searchapp.config import Settings
from searchapp.embedding.models import ModelInfo, resolve_model
from searchapp.embedding.query_batch import QueryBatcher
from searchapp.embedding.tokens import (
    AnyTokenIds,
    TokenCounter,
    TokenIds,
    TokenizerSpec,
    WordTokenCounter,
    truncate_ids,
)
from searchapp.errors import ModelError
from searchapp.priority import Priority

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 256
QUERYING_BATCH = 8  # texts per document batch while queries come: a query waits for one at most


class Embedder(Protocol):
    """Anything that embeds passages and queries into the same normalised vector space."""

    info: ModelInfo

    @property
    def device(self) -> str:
        """Where the model runs: 'cpu', 'cuda', 'mps' (or 'none' before loading)."""
        ...

    @property
    def backend(self) -> str:
        """How it runs, for people: 'openvino (bf16)', 'torch (fp32)', 'cuda (fp16)' ..."""
        ...

    @property
    def batch_size(self) -> int: ...

    @property
    def tokens(self) -> TokenCounter:
        """Tokenizes as this model does."""
        ...

    def embed_documents(
        self, texts: Sequence[str], token_ids: Sequence[AnyTokenIds] | None = None
    ) -> Vectors:
        """One unit-length row per text, float32; `token_ids` (from the chunker) skip tokenizing."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """A unit-length vector for one query, float32, shape (dimension,)."""
        ...


def pick_device(requested: str) -> str:
    """Resolve 'auto' to cuda, then mps, then cpu; check that an explicit choice exists."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("SEARCHAPP_DEVICE=cuda, but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    if requested == "mps" and not has_mps:
        raise ModelError("SEARCHAPP_DEVICE=mps, but torch sees no Apple GPU; use 'auto' or 'cpu'")
    return requested


def pick_backend(requested: str, device: str, info: ModelInfo) -> str:
    """The backend to run `info` on `device`: see the module docstring."""
    from searchapp.embedding.openvino import cpu_has_bf16, openvino_available, pooling_mode

    if requested == "auto":
        if device != "cpu":
            return "torch"
        if platform.machine().lower() in ("x86_64", "amd64") and openvino_available() and pooling_mode(info):
            return "openvino"
        return "torch-bf16" if cpu_has_bf16() else "torch"  # emulated bf16 is 5x slower than fp32
    if requested in ("openvino", "openvino-int8", "torch-bf16") and device != "cpu":
        raise ModelError(f"SEARCHAPP_BACKEND={requested} runs on the CPU; the device is {device}")
    if requested in ("openvino", "openvino-int8"):
        if not openvino_available():
            raise ModelError("SEARCHAPP_BACKEND=openvino, but the openvino package is not installed")
        if not pooling_mode(info):
            raise ModelError(f"SEARCHAPP_BACKEND=openvino cannot run {info.name}; use 'torch'")
    return requested


def set_offline_environment() -> None:
    """Never let a library reach for the network (there is none) or report telemetry."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, on the best backend available.

    Thread-safe: Streamlit sessions share one instance, and documents are embedded under a
    lock, one batch at a time. Queries go first (`searchapp.priority`): a batch of
    documents waits while a query is in flight, and batches are small while queries come.
    On OpenVINO a query does not wait for the batch already running either: queries have
    a compiled model of their own. Queries that wait at once are embedded in one pass
    (`searchapp.embedding.query_batch`).
    """

    def __init__(
        self,
        info: ModelInfo,
        *,
        device: str = "auto",
        backend: str = "auto",
        batch_size: int = 0,
        cache_dir: Any = None,
    ) -> None:
        if info.path is None:
            raise ModelError(f"{info.name} is not a sentence-transformers model")
        self.info = info
        self._requested_device = device
        self._requested_backend = backend
        self._requested_batch = batch_size
        self._cache_dir = cache_dir
        self._model: Any = None
        self._openvino: Any = None
        self._device = "none"
        self._backend = "none"
        self._lock = threading.Lock()
        self._queries = Priority()
        self._query_batches = QueryBatcher(threading.Lock(), self._embed_queries)
        self._tokens: TokenCounter | None = None

    @property
    def device(self) -> str:
        return self._device

    @property
    def backend(self) -> str:
        precision = {
            "openvino": "bf16" if self._bf16 else "fp32",
            "openvino-int8": "int8",
            "torch-bf16": "bf16",
        }.get(self._backend, "fp16" if self._device == "cuda" else "fp32")
        name = self._backend.replace("-bf16", "").replace("-int8", "")
        return f"{name} ({precision})" if self._backend != "none" else "not loaded"

    @property
    def _bf16(self) -> bool:
        from searchapp.embedding.openvino import cpu_has_bf16

        return cpu_has_bf16()

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._openvino is not None

    @property
    def batch_size(self) -> int:
        if self._requested_batch:
            return self._requested_batch
        return GPU_BATCH_SIZE if self._device == "cuda" else CPU_BATCH_SIZE

    @property
    def tokens(self) -> TokenCounter:
        if self._tokens is None:
            self._tokens = TokenizerSpec.for_model(self.info).build()
        return self._tokens

    def load(self) -> None:
        """Load the model now (otherwise the first embed call does)."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> None:
        if self.loaded:
            return
        set_offline_environment()
        device = pick_device(self._requested_device)
        backend = pick_backend(self._requested_backend, device, self.info)
        try:
            if backend in ("openvino", "openvino-int8"):
                from pathlib import Path

                from searchapp.embedding.openvino import OpenVinoModel

                model = OpenVinoModel(
                    self.info,
                    Path(self._cache_dir or Path.home() / ".cache" / "searchapp"),
                    int8=backend == "openvino-int8",
                )
                model.load()
                self._openvino = model
            else:
                self._model = self._load_torch(device)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(
                f"cannot load embedding model {self.info.name} from {self.info.path}: {exc}"
            ) from exc
        self._device, self._backend = device, backend
        logger.info("loaded %s on %s with %s", self.info.name, device, self.backend)

    def _load_torch(self, device: str) -> Any:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        model = SentenceTransformer(str(self.info.path), device=device, trust_remote_code=False)
        if device == "cuda":
            model.half()  # fp16 on the GPU: twice the throughput, same ranking
        model.max_seq_length = self.info.max_tokens
        model.eval()
        return model

    def embed_documents(
        self, texts: Sequence[str], token_ids: Sequence[AnyTokenIds] | None = None
    ) -> Vectors:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        ids = (
            [truncate_ids(np.asarray(t, dtype=np.int64), self.info.max_tokens) for t in token_ids]
            if token_ids is not None
            else self.tokens.ids(texts)
        )
        out = np.zeros((len(ids), self.info.dimension), dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths, little padding
        start = 0
        while start < len(order):
            self._queries.wait_turn()
            batch = order[start : start + self._queries.step(self.batch_size, QUERYING_BATCH)]
            with self._lock:
                self._ensure_loaded()
                out[batch] = self._embed_batch([ids[i] for i in batch])
            start += len(batch)
        return out

    def _embed_queries(self, ids: Sequence[TokenIds]) -> Vectors:
        """A pass of queries. On OpenVINO they have a compiled model of their own and never
        wait for the document batch in flight; on torch they take the model's lock."""
        if not self.loaded:
            self.load()
        if self._openvino is not None:
            vectors: Vectors = self._openvino.embed_queries(ids)
            return vectors
        with self._lock:
            return self._embed_batch(ids)

    def _embed_batch(self, ids: Sequence[TokenIds]) -> Vectors:
        if self._openvino is not None:
            vectors: Vectors = self._openvino.embed(ids, len(ids))
            return vectors
        import torch

        from searchapp.embedding.openvino import pad

        model = self._model
        wants_types = "token_type_ids" in getattr(model.tokenizer, "model_input_names", ())
        autocast: AbstractContextManager[Any] = (
            torch.autocast("cpu", dtype=torch.bfloat16) if self._backend == "torch-bf16" else nullcontext()
        )
        with torch.inference_mode(), autocast:
            input_ids, mask = pad(list(ids))
            features = {
                "input_ids": torch.from_numpy(input_ids).to(self._device, non_blocking=True),
                "attention_mask": torch.from_numpy(mask).to(self._device, non_blocking=True),
            }
            if wants_types:
                features["token_type_ids"] = torch.zeros_like(features["input_ids"])
            embedded = model(features)["sentence_embedding"].float()
            vectors = torch.nn.functional.normalize(embedded, p=2, dim=1).cpu().numpy()
        return vectors

    def embed_query(self, text: str) -> Vectors:
        with self._queries.urgent():
            return self._query_batches.embed(self.tokens.ids([text])[0])


class HashEmbedder:
    """Deterministic bag-of-words vectors for fast tests: no model, no torch.

    Each lower-cased word goes to bucket ``sha256(word) % dimension`` with a sign from
    the same hash (not the process-salted ``hash``), then the vector is L2-normalised.
    Texts that share words are similar, so rankings in tests mean something.
    """

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self._tokens = WordTokenCounter(info.max_tokens)

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def backend(self) -> str:
        return "hash (test only)"

    @property
    def batch_size(self) -> int:
        return 256

    @property
    def tokens(self) -> TokenCounter:
        return self._tokens

    def embed_documents(
        self, texts: Sequence[str], token_ids: Sequence[AnyTokenIds] | None = None
    ) -> Vectors:
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD_RE.findall(text.lower()):
                digest = hashlib.sha256(word.encode("utf-8")).digest()
                bucket = int.from_bytes(digest[:8], "little") % self.info.dimension
                out[row, bucket] += 1.0 if digest[8] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # an empty text still gets a valid unit vector
        return out

    def embed_query(self, text: str) -> Vectors:
        result: Vectors = self.embed_documents([text])[0]
        return result


_WORD_RE = re.compile(r"\w+")

_EMBEDDERS: dict[tuple[str, str, str, int], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(settings: Settings, info: ModelInfo | None = None) -> Embedder:
    """The process-wide embedder for these settings (created once, loaded lazily).

    `info` overrides the model the settings name (a tuned version of it, say).
    """
    info = info or resolve_model(settings.model)
    key = (info.name, settings.device, settings.backend, settings.batch_size)
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(key)
        if embedder is None:
            if info.is_hash:
                embedder = HashEmbedder(info)
            else:
                embedder = SentenceTransformerEmbedder(
                    info,
                    device=settings.device,
                    backend=settings.backend,
                    batch_size=settings.batch_size,
                    cache_dir=settings.cache_dir,
                )
            _EMBEDDERS[key] = embedder
        return embedder
