"""Sections to chunks that fit the embedding model's window, exactly and fast.

langchain's token-aware splitter calls the tokenizer on every candidate piece and runs
at 0.45 MB/s; its character splitter runs at 97 MB/s but 1,000-character chunks
overflow MiniLM's 256-token window 26-41% of the time. So:

1. Tokenize each section once to learn its characters-per-token ratio, and size the
   character splitter from it (about `chunk_tokens` tokens per chunk, for English and
   for CJK alike).
2. Split with langchain's `RecursiveCharacterTextSplitter` (paragraphs, lines,
   sentences, words).
3. Tokenize every chunk in one batch with the model's own fast tokenizer, and re-split
   the few that exceed the target by more than a quarter (or the window) with a
   proportionally smaller size; as a last resort cut at token boundaries.

Every chunk that leaves here fits `max_tokens` (special tokens included), as counted
by the tokenizer the embedder itself uses, so nothing is silently truncated. The ids
from step 3 travel with the chunk, so the embedder never tokenizes it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from searchapp.embedding.tokens import TokenCounter, TokenIds, TokenizerSpec
from searchapp.ingest.types import Section
from searchapp.types import PreparedChunk

_NON_BLANK_RE = re.compile(r"\S")
_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "。", "; ", ", ", " ", ""]
_MAX_RESPLITS = 4
_SAMPLE_CHARS = 2000
# Prose runs 3-6 characters per token. Text without word breaks (a 200k-character line,
# a run of emoji, unsegmented Thai) is one [UNK] per 100 characters or more; sizing from
# that ratio would make a single "chunk" of the whole run. Cap the ratio instead.
MAX_CHARS_PER_TOKEN = 10.0


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

    @property
    def limit_tokens(self) -> int:
        """The most tokens a chunk may have: the target plus a quarter, never past the window.

        The character sizes come from an estimate; a piece of dense text (formulas, tables)
        can hold several times the target, and is split again rather than kept.
        """
        return min(self.max_tokens, self.target_tokens + self.target_tokens // 4)


class Chunker:
    """Splits sections into chunks; builds its token counter once."""

    def __init__(self, config: ChunkerConfig, tokens: TokenCounter | None = None) -> None:
        self.config = config
        self.tokens = tokens or config.tokenizer.build()

    def chunk(self, sections: Iterable[Section]) -> list[PreparedChunk]:
        sections = [s for s in sections if s.text.strip()]
        # First pass: character splits sized from a sampled chars-per-token ratio.
        planned = [
            (section, _heading_kept_with_text(section, self._char_pieces(section.text)))
            for section in sections
        ]
        # Second pass: one batched, exact tokenization of every piece of the document.
        encoded = iter(self.tokens.encode([piece for _, pieces in planned for _, piece, _ in pieces]))
        chunks: list[PreparedChunk] = []
        for section, pieces in planned:
            for start, piece, ratio in pieces:
                for offset, text, ids in self._fit(piece, start, next(encoded), ratio, depth=0):
                    chunks.append(
                        PreparedChunk(
                            text=text,
                            index=len(chunks),
                            start=section.offset + offset,
                            tokens=len(ids),
                            page=section.page,
                            heading=section.heading,
                            ocr=section.ocr,
                            token_ids=ids.astype(np.int32),
                        )
                    )
        return chunks

    def _ratio(self, text: str) -> float:
        sample = text[:_SAMPLE_CHARS]
        return min(MAX_CHARS_PER_TOKEN, len(sample) / max(1, self.tokens.count([sample])[0] - 2))

    def _char_pieces(self, text: str) -> list[tuple[int, str, float]]:
        ratio = self._ratio(text)
        size = ratio * self.config.target_tokens
        if len(text) <= size:
            stripped = text.strip()
            # The offset of the stripped text, not of the section's leading blanks.
            return [(len(text) - len(text.lstrip()), stripped, ratio)] if stripped else []
        overlap = int(self.config.overlap_tokens * ratio)
        return [(start, piece, ratio) for start, piece in _char_split(text, int(size), overlap)]

    def _fit(
        self, piece: str, start: int, ids: TokenIds, ratio: float, depth: int
    ) -> list[tuple[int, str, TokenIds]]:
        """`piece` if it fits the limit; else smaller pieces that each fit."""
        if len(ids) <= self.config.limit_tokens:
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
        """Last resort: consecutive slices that each fit the limit exactly."""
        out: list[tuple[int, str, TokenIds]] = []
        position = 0
        while position < len(text):
            rest = text[position:]
            cut = self.tokens.cut_offset(rest, self.config.limit_tokens) or 1
            piece = rest[:cut]
            stripped = piece.strip()
            if stripped:
                lead = len(piece) - len(piece.lstrip())
                out.append((base + position + lead, stripped, self.tokens.encode([stripped])[0]))
            position += cut
        return out


def _heading_kept_with_text(
    section: Section, pieces: list[tuple[int, str, float]]
) -> list[tuple[int, str, float]]:
    """A section longer than a chunk splits first at blank lines, which leaves its heading
    lines as a piece of their own: a passage with no text that matches its heading's words
    best of all. That piece is joined to the text after it (the target leaves room)."""
    if len(pieces) < 2 or not section.heading or not _only_headings(pieces[0][1], section.heading):
        return pieces
    (start, _, ratio), (next_start, following, _) = pieces[0], pieces[1]
    return [(start, section.text[start : next_start + len(following)], ratio), *pieces[2:]]


def _only_headings(text: str, heading: str) -> bool:
    names = {part.strip() for part in heading.split(" > ")}
    lines = [line.strip().lstrip("#").strip() for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line in names for line in lines)


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
        strip_whitespace=True,
    )
    pieces = splitter.split_text(text)
    last_end = len(text.rstrip())
    pairs: list[tuple[int, str]] = []
    end = 0  # where the previous chunk ends
    for number, piece in enumerate(pieces):
        # langchain's `add_start_index` searches from `overlap` before the previous end
        # and can land a short chunk on an earlier copy of itself inside the overlap
        # ("two weeks. ." put the last "." on the one after "weeks"). Chunks cover the text
        # in order, so a chunk that adds text ends past the previous one and starts no
        # later than the first character not yet covered; one that adds only blanks
        # (stripped away) lies inside the overlap; the last one ends where the text does.
        floor = max(0, end - overlap)
        if not pairs:
            start = text.find(piece)
        elif number == len(pieces) - 1 and text.endswith(piece, 0, last_end):
            start = last_end - len(piece)
        else:
            found = _NON_BLANK_RE.search(text, end)
            uncovered = found.start() if found else len(text)
            start = text.find(piece, max(floor, end - len(piece) + 1))
            if not 0 <= start <= uncovered:
                start = text.find(piece, floor)
        if start < 0:  # cannot happen for a splitter's own pieces; never record -1
            start = max(0, text.find(piece))
        pairs.append((start, piece))
        end = start + len(piece)
    return pairs
