"""Tokenize exactly as the embedding model will, fast, and without torch.

The chunker uses this to guarantee that no chunk is longer than the model's window
(silent truncation would drop the tail of a passage from its embedding) and keeps the
ids it computed, so the embedder never tokenizes a chunk a second time; the searcher
uses it to cut an over-long query at a token boundary and say so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from searchapp.embedding.models import ModelInfo

TokenIds = npt.NDArray[np.int64]
AnyTokenIds = npt.NDArray[np.integer[Any]]  # int32 from the chunker, int64 from tokenizers


class TokenCounter(Protocol):
    """Tokenizes the way one model's tokenizer does, special tokens included."""

    max_tokens: int

    def encode(self, texts: Sequence[str]) -> list[TokenIds]:
        """Token ids of each text, special tokens included, never truncated."""
        ...

    def count(self, texts: Sequence[str]) -> list[int]:
        """Token counts, special tokens included, for each text."""
        ...

    def ids(self, texts: Sequence[str]) -> list[TokenIds]:
        """Token ids as the model reads them: cut to `max_tokens` like its truncation."""
        ...

    def cut_offset(self, text: str, max_tokens: int) -> int:
        """The largest character offset such that ``text[:offset]`` fits in `max_tokens`."""
        ...

    def pieces(self, text: str) -> list[str]:
        """The tokens of `text` as strings, special tokens left out (`searchapp.embedding.readability`)."""
        ...


def truncate_ids(ids: TokenIds, max_tokens: int) -> TokenIds:
    """Cut to the window but keep the closing special token, as tokenizer truncation does."""
    if len(ids) <= max_tokens:
        return ids
    return np.concatenate([ids[: max_tokens - 1], ids[-1:]])


@dataclass(frozen=True, slots=True)
class TokenizerSpec:
    """A picklable recipe for a `TokenCounter`, so worker processes can build their own."""

    max_tokens: int
    tokenizer_file: str = ""  # tokenizer.json, when the model ships one
    model_dir: str = ""  # fallback: load the tokenizer through transformers

    @classmethod
    def for_model(cls, info: ModelInfo) -> TokenizerSpec:
        return cls(
            max_tokens=info.max_tokens,
            tokenizer_file=str(info.tokenizer_file or ""),
            model_dir=str(info.path or ""),
        )

    def build(self) -> TokenCounter:
        if self.tokenizer_file:
            return FastTokenCounter(Path(self.tokenizer_file), self.max_tokens)
        if self.model_dir:
            return TransformersTokenCounter(Path(self.model_dir), self.max_tokens)
        return WordTokenCounter(self.max_tokens)


class FastTokenCounter:
    """The model's own `tokenizer.json`, through the Rust `tokenizers` library."""

    def __init__(self, tokenizer_file: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # Shipped tokenizer.json files often carry truncation/padding (MiniLM's: 128),
        # which would make every count wrong.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._specials = len(self._tokenizer.encode("", add_special_tokens=True).ids)
        self.max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> list[TokenIds]:
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        return [np.asarray(enc.ids, dtype=np.int64) for enc in encodings]

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(enc.ids) for enc in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    def ids(self, texts: Sequence[str]) -> list[TokenIds]:
        return [truncate_ids(ids, self.max_tokens) for ids in self.encode(texts)]

    def cut_offset(self, text: str, max_tokens: int) -> int:
        plain = self._tokenizer.encode(text, add_special_tokens=False)
        keep = max_tokens - self._specials
        if len(plain.ids) <= keep:
            return len(text)
        return int(plain.offsets[keep - 1][1]) if keep > 0 else 0

    def pieces(self, text: str) -> list[str]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).tokens)


class TransformersTokenCounter:
    """Fallback for models without `tokenizer.json` (slower to load; imports transformers)."""

    def __init__(self, model_dir: Path, max_tokens: int) -> None:
        from transformers import AutoTokenizer

        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(model_dir))
        self.max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> list[TokenIds]:
        if not texts:
            return []
        batch = self._tokenizer(list(texts), add_special_tokens=True, truncation=False)
        return [np.asarray(ids, dtype=np.int64) for ids in batch["input_ids"]]

    def count(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.encode(texts)]

    def ids(self, texts: Sequence[str]) -> list[TokenIds]:
        return [truncate_ids(ids, self.max_tokens) for ids in self.encode(texts)]

    def cut_offset(self, text: str, max_tokens: int) -> int:
        ids = self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
        if len(ids) <= max_tokens:
            return len(text)
        specials = len(ids) - len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        plain = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        keep = max_tokens - specials
        return int(plain["offset_mapping"][keep - 1][1]) if keep > 0 else 0

    def pieces(self, text: str) -> list[str]:
        return [str(piece) for piece in self._tokenizer.tokenize(text)]


_WORD_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD_START, _WORD_END = 1, 2  # the word counter's two "special tokens"


class WordTokenCounter:
    """Words and punctuation marks plus two special tokens: the hash embedder's tokenizer.

    Ids are stable hashes of the lower-cased word, so the same text always gives the
    same ids in every process.
    """

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> list[TokenIds]:
        out = []
        for text in texts:
            words = [_word_id(w) for w in _WORD_RE.findall(text)]
            out.append(np.asarray([_WORD_START, *words, _WORD_END], dtype=np.int64))
        return out

    def count(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD_RE.findall(text)) + 2 for text in texts]

    def ids(self, texts: Sequence[str]) -> list[TokenIds]:
        return [truncate_ids(ids, self.max_tokens) for ids in self.encode(texts)]

    def cut_offset(self, text: str, max_tokens: int) -> int:
        keep = max_tokens - 2
        if keep <= 0:
            return 0
        for index, match in enumerate(_WORD_RE.finditer(text)):
            if index == keep - 1:
                return match.end()
        return len(text)

    def pieces(self, text: str) -> list[str]:
        return _WORD_RE.findall(text)


def _word_id(word: str) -> int:
    return 3 + int.from_bytes(hashlib.blake2b(word.lower().encode("utf-8"), digest_size=4).digest(), "little")
