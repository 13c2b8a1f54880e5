"""How much of a text the embedding model can read: the share of its letters in real word pieces.

all-MiniLM-L6-v2's WordPiece vocabulary is English: Arabic, Chinese or Thai text comes
out as single letters or `[UNK]`, and the model still returns confident-looking cosines
for it. `readable_share` measures that from the tokenizer's pieces, so the ranking can
stop trusting the embeddings where they see nothing (`searchapp.retrieval.fusion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

UNKNOWN_PIECE = "[UNK]"
CONTINUATION = "##"
SPECIAL_PIECES = frozenset({"[CLS]", "[SEP]", "[PAD]", "[MASK]"})
# Below this share of readable letters the embedding model cannot read the query: on the
# nine sets readable queries score 0.91 or more (10th percentile), unreadable 0.17 or less (90th).
UNREADABLE_BELOW = 0.5


@dataclass(frozen=True, slots=True)
class PieceStats:
    """How a WordPiece tokenizer cut a text: how much of it the model can read.

    Attributes:
        words: pieces that start a word (no "##" prefix, a letter or digit in it), and `[UNK]`s.
        pieces: all pieces.
        unknown: `[UNK]` pieces (the tokenizer has nothing for the word).
        single_letters: pieces that are one letter (after "##"): spelling, not words.
        letters: letters in all pieces except `[UNK]`.
        letters_in_words: letters in pieces of two letters or more.
    """

    words: int
    pieces: int
    unknown: int
    single_letters: int
    letters: int
    letters_in_words: int

    @property
    def pieces_per_word(self) -> float:
        return self.pieces / self.words if self.words else 0.0

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.pieces if self.pieces else 0.0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def piece_stats(pieces: Sequence[str]) -> PieceStats:
    """Count what matters about a WordPiece tokenization; special tokens ([CLS], [PAD]...) are skipped."""
    words = unknown = single = letters = in_words = 0
    counted = 0
    for piece in pieces:
        if piece in SPECIAL_PIECES:
            continue
        counted += 1
        if piece == UNKNOWN_PIECE:
            unknown += 1
            words += 1
            continue
        continued = piece.startswith(CONTINUATION)
        body = piece[len(CONTINUATION) :] if continued else piece
        if not continued and any(ch.isalnum() for ch in body):
            words += 1
        count = sum(1 for ch in body if ch.isalpha())
        letters += count
        if count == 1 and len(body) == 1:
            single += 1
        elif count >= 2:
            in_words += count
    return PieceStats(
        words=words,
        pieces=counted,
        unknown=unknown,
        single_letters=single,
        letters=letters,
        letters_in_words=in_words,
    )


def is_unreadable(readable: float) -> bool:
    """Whether the embedding model cannot read the text (say so in dense mode)."""
    return readable < UNREADABLE_BELOW


def readable_share(stats: PieceStats) -> float:
    """Share of a text's letters that the model sees inside pieces of two letters or more.

    A `[UNK]` counts as one unreadable letter (it hides at least one). Text with no
    letters at all (numbers, codes) counts as readable: the vocabulary has digits.
    """
    seen = stats.letters + stats.unknown
    return stats.letters_in_words / seen if seen else 1.0
