"""Sections to chunks that fit the embedding model's window, exactly and fast.

langchain's token-aware splitter calls the tokenizer on every candidate piece and runs
at 0.45 MB/s; its character splitter runs at 97 MB/s but 1,000-character chunks
overflow MiniLM's 256-token window 26-41% of the time. So:

1. Tokenize each section once to learn its characters-per-token ratio, and size the
   character splitter from it (about `chunk_tokens` tokens per chunk, for English and
   for CJK alike).
2. Split with langchain's `RecursiveCharacterTextSplitter` (paragraphs, lines,
   sentences, words).
3. Count every chunk's tokens in one batch with the model's own fast tokenizer, and
   re-split the few that exceed the window with a proportionally smaller size; as a
   last resort cut at token boundaries.

Every chunk that leaves here fits `max_tokens` (special tokens included), as counted
by the tokenizer the embedder itself uses, so nothing is silently truncated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ingest.types import ChunkDraft, Section
from searchapp.tokens import TokenCounter, TokenIds, TokenizerSpec

_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "。", "; ", ", ", " ", ""]
_MAX_RESPLITS = 4
_SAMPLE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ChunkerConfig:
    """How to chunk: target size and overlap in tokens, and the model's tokenizer."""

    chunk_tokens: int
    overlap_tokens: int
    tokenizer: TokenizerSpec

    @property
    def max_tokens(self) -> int:
        return self.tokenizer.max_tokens

    @property
    def target_tokens(self) -> int:
        """Aim below the window so most chunks need no second pass."""
        return max(8, min(self.chunk_tokens, self.max_tokens - 2))


class Chunker:
    """Splits sections into chunks; builds its tokenizer once."""

    def __init__(self, config: ChunkerConfig, tokens: TokenCounter | None = None) -> None:
        self.config = config
        self.tokens = tokens or config.tokenizer.build()

    def chunk(self, sections: Iterable[Section]) -> list[ChunkDraft]:
        sections = [s for s in sections if s.text.strip()]
        # First pass: character splits sized from a sampled chars-per-token ratio.
        planned = [(section, self._char_pieces(section.text)) for section in sections]
        # Second pass: one batched, exact tokenization of every piece of the document.
        encoded = iter(self.tokens.encode([piece for _, pieces in planned for _, piece, _ in pieces]))
        drafts: list[ChunkDraft] = []
        for section, pieces in planned:
            for start, piece, ratio in pieces:
                for offset, text, ids in self._fit(piece, start, next(encoded), ratio, depth=0):
                    drafts.append(
                        ChunkDraft(
                            text=text,
                            index=len(drafts),
                            start=section.offset + offset,
                            tokens=len(ids),
                            page=section.page,
                            heading=section.heading,
                            token_ids=ids.astype(np.int32),
                        )
                    )
        return drafts

    def _ratio(self, text: str) -> float:
        sample = text[:_SAMPLE_CHARS]
        return len(sample) / max(1, self.tokens.count([sample])[0] - 2)

    def _char_pieces(self, text: str) -> list[tuple[int, str, float]]:
        ratio = self._ratio(text)
        size = ratio * self.config.target_tokens
        if len(text) <= size:
            return [(0, text.strip(), ratio)] if text.strip() else []
        overlap = int(self.config.overlap_tokens * ratio)
        return [(start, piece, ratio) for start, piece in _char_split(text, int(size), overlap)]

    def _fit(
        self, piece: str, start: int, ids: TokenIds, ratio: float, depth: int
    ) -> list[tuple[int, str, TokenIds]]:
        """`piece` if it fits the window; else smaller pieces that each fit."""
        if len(ids) <= self.config.max_tokens:
            return [(start, piece, ids)]
        if depth >= _MAX_RESPLITS or len(piece) <= 1:
            return self._cut_by_tokens(piece, start)
        size = int(len(piece) * (self.config.target_tokens / len(ids)) * 0.9)
        overlap = int(self.config.overlap_tokens * ratio)
        parts = _char_split(piece, size, overlap)
        out: list[tuple[int, str, TokenIds]] = []
        for (offset, part), part_ids in zip(parts, self.tokens.encode([p for _, p in parts]), strict=True):
            out.extend(self._fit(part, start + offset, part_ids, ratio, depth + 1))
        return out

    def _cut_by_tokens(self, text: str, base: int) -> list[tuple[int, str, TokenIds]]:
        """Last resort: consecutive slices that each fit the window exactly."""
        out: list[tuple[int, str, TokenIds]] = []
        position = 0
        while position < len(text):
            rest = text[position:]
            cut = self.tokens.cut_offset(rest, self.config.max_tokens) or 1
            piece = rest[:cut]
            stripped = piece.strip()
            if stripped:
                lead = len(piece) - len(piece.lstrip())
                out.append((base + position + lead, stripped, self.tokens.encode([stripped])[0]))
            position += cut
        return out


def _char_split(text: str, size: int, overlap: int) -> list[tuple[int, str]]:
    """langchain's recursive character splitter, returning (start offset, text) pairs."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    size = max(size, 16)
    overlap = max(0, min(overlap, size // 2))
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=overlap,
        separators=_SEPARATORS,
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
    documents = splitter.create_documents([text])
    return [(int(doc.metadata.get("start_index", 0)), doc.page_content) for doc in documents]
