"""Turn text into unit vectors: sentence-transformers for real, a hash embedder for tests.

The real embedder is cheap to construct; the model loads on first use, once per
process (`get_embedder` caches it), on CUDA in fp16 when there is a GPU, else on MPS,
else on the CPU.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from searchapp.config import Settings
from searchapp.errors import ModelError
from searchapp.models import ModelInfo, resolve_model
from searchapp.tokens import TokenCounter, TokenizerSpec, WordTokenCounter

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 256


class Embedder(Protocol):
    """Anything that embeds passages and queries into the same normalised vector space."""

    info: ModelInfo

    @property
    def device(self) -> str:
        """Where the model runs: 'cpu', 'cuda', 'mps' (or 'none' before loading)."""
        ...

    @property
    def batch_size(self) -> int: ...

    @property
    def tokens(self) -> TokenCounter:
        """Counts tokens as this model does."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text, float32."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """A unit-length vector for one query, float32, shape (dimension,)."""
        ...


def pick_device(requested: str) -> str:
    """Resolve 'auto' to cuda, then mps, then cpu; check that an explicit choice exists."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("SEARCHAPP_DEVICE=cuda, but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    if requested == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ModelError("SEARCHAPP_DEVICE=mps, but torch sees no Apple GPU; use 'auto' or 'cpu'")
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
    """A sentence-transformers model, loaded on first use.

    Thread-safe: Streamlit sessions share one instance, and encoding runs under a lock.
    """

    def __init__(self, info: ModelInfo, *, device: str = "auto", batch_size: int = 0) -> None:
        if info.path is None:
            raise ModelError(f"{info.name} is not a sentence-transformers model")
        self.info = info
        self._requested_device = device
        self._requested_batch = batch_size
        self._model: Any = None
        self._device = "none"
        self._lock = threading.Lock()
        self._tokens: TokenCounter | None = None

    @property
    def device(self) -> str:
        return self._device

    @property
    def loaded(self) -> bool:
        return self._model is not None

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

    def _ensure_loaded(self) -> Any:
        if self._model is not None:
            return self._model
        set_offline_environment()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            device = pick_device(self._requested_device)
            model = SentenceTransformer(str(self.info.path), device=device, trust_remote_code=False)
            if device == "cuda":
                model.half()  # fp16 on the GPU: twice the throughput, same ranking
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(
                f"cannot load embedding model {self.info.name} from {self.info.path}: {exc}"
            ) from exc
        model.max_seq_length = self.info.max_tokens
        self._model = model
        self._device = device
        logger.info("loaded %s on %s", self.info.name, device)
        return model

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        with self._lock:
            model = self._ensure_loaded()
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        result: Vectors = self.embed_documents([text])[0]
        return result


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
    def batch_size(self) -> int:
        return 256

    @property
    def tokens(self) -> TokenCounter:
        return self._tokens

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _words(text):
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


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"\w+", text.lower())


_EMBEDDERS: dict[tuple[str, str, int], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (created once, loaded lazily)."""
    info = resolve_model(settings.model)
    key = (info.name, settings.device, settings.batch_size)
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(key)
        if embedder is None:
            if info.is_hash:
                embedder = HashEmbedder(info)
            else:
                embedder = SentenceTransformerEmbedder(
                    info, device=settings.device, batch_size=settings.batch_size
                )
            _EMBEDDERS[key] = embedder
        return embedder
