"""searchapp.fusion: the adaptive rule's pieces, by hand-computed values and on the real tokenizer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from searchapp.embedding import readability as R
from searchapp.embedding.models import resolve_model
from searchapp.retrieval import fusion as F
from searchapp.storage.bm25 import bm25_ceiling, lucene_idf
from searchapp.storage.keyword_index import KeywordIndex


@pytest.fixture(scope="module")
def pieces() -> object:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(resolve_model("all-MiniLM-L6-v2").tokenizer_file))
    tokenizer.no_truncation()

    def cut(text: str) -> list[str]:
        # Special tokens and the shipped file's padding to 128 included: piece_stats skips them.
        return list(tokenizer.encode(text).tokens)

    return cut


def test_piece_stats_counts_by_hand() -> None:
    stats = R.piece_stats(["[CLS]", "glu", "##co", "##s", "e", "[UNK]", "?", "42", "[SEP]", "[PAD]"])
    assert stats == R.PieceStats(
        words=4, pieces=7, unknown=1, single_letters=2, letters=7, letters_in_words=5
    )
    assert R.readable_share(stats) == pytest.approx(5 / 8)
    assert R.readable_share(R.piece_stats(["1984", "?"])) == 1.0  # no letters: codes and numbers are readable
    assert R.readable_share(R.piece_stats([])) == 1.0


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("How many points did the Panthers defense surrender?", 0.95, 1.0),
        ("Glucocorticoid receptors mediate apoptosis in lymphocytes", 0.9, 1.0),
        ("كم نقطة تخلى عنها دفاع البانثرز؟", 0.0, 0.1),  # Arabic: single letters
        ("Сколько очков уступила защита Пантер?", 0.0, 0.2),  # Russian: single letters
        ("黑豹队的防守丢了多少分？", 0.0, 0.05),  # Chinese: [UNK] and single characters
        ("แนวรับของทีมแพนเทอร์เสียคะแนนไปกี่แต้ม", 0.0, 0.05),  # Thai: one [UNK]
    ],
)
def test_readable_share_on_the_models_own_tokenizer(
    pieces: object, text: str, low: float, high: float
) -> None:
    share = R.readable_share(R.piece_stats(pieces(text)))  # type: ignore[operator]
    assert low <= share <= high
    assert R.is_unreadable(share) == (high < R.UNREADABLE_BELOW)


def test_keyword_gap() -> None:
    assert F.keyword_gap([]) == 0.0
    assert F.keyword_gap([0.0, 0.0]) == 0.0
    assert F.keyword_gap([10.0] * 12) == 0.0  # a flat list: nothing stands out
    assert F.keyword_gap([10.0]) == 1.0  # a single match stands out completely
    assert F.keyword_gap([10.0, 8.0, 6.0]) == pytest.approx((10 - 14 / 9) / 10)  # missing places count 0
    scores = [9.0, 5.0, 4.0, 4.0, 3.0, 3.0, 2.0, 2.0, 1.0, 1.0, 100.0]  # the 11th is not read
    assert F.keyword_gap(scores) == pytest.approx((9 - 25 / 9) / 9)


def test_dense_weight() -> None:
    g0 = F.FULL_DENSE_GAP
    assert F.dense_weight(0.0, 0.0) == 0.0  # unreadable: keyword only
    assert F.dense_weight(1.0, 0.0) == 1.0
    assert F.dense_weight(1.0, g0) == pytest.approx(1.0)  # flat BM25 list: dense only
    assert F.dense_weight(1.0, 1.0) == 0.0
    assert F.dense_weight(0.5, 0.5) == pytest.approx(0.5 * 0.5 / (1 - g0))
    assert F.dense_weight(1.7, -0.2) == 1.0  # clamped
    weights = [F.dense_weight(1.0, g / 10) for g in range(11)]
    assert weights == sorted(weights, reverse=True)


def test_fuse_by_hand() -> None:
    dense = [("a", 0.8), ("b", 0.6)]
    keyword = [("b", 10.0), ("c", 5.0)]
    fused = dict(F.fuse(dense, keyword, 0.5))
    # a: dense 1, BM25 0; b: dense 1.6/1.8, BM25 1; c: cosine stand-in 0.6 (the dense list's lowest), BM25 0.5.
    assert fused == pytest.approx({"a": 0.5, "b": (1.6 / 1.8 + 1) / 2, "c": (1.6 / 1.8 + 0.5) / 2})
    assert [i for i, _ in F.fuse(dense, keyword, 0.5)] == ["b", "c", "a"]
    exact = dict(F.fuse(dense, keyword, 0.5, cosine={"c": 0.0}, bm25={"a": 2.0}))
    assert exact["c"] == pytest.approx((1 / 1.8 + 0.5) / 2) and exact["a"] == pytest.approx((1 + 0.2) / 2)
    assert [i for i, _ in F.fuse(dense, keyword, 1.0)] == ["a", "b", "c"]  # tie b, c: dense order first
    assert [i for i, _ in F.fuse(dense, keyword, 0.0)] == ["b", "c", "a"]
    assert all(0.0 <= s <= 1.0 for _, s in F.fuse(dense, keyword, 0.3))
    assert dict(F.fuse([], [("x", 3.0)], 0.4)) == pytest.approx({"x": 0.6})
    assert dict(F.fuse([("x", 0.2)], [], 0.4)) == pytest.approx({"x": 0.4})
    assert F.fuse([], [], 0.5) == []


def test_bm25_ceiling_bounds_real_bm25_scores() -> None:
    docs = [["cat"] * n + ["dog"] for n in (1, 2, 5, 50)] + [["dog", "fish"], ["fish"]]
    index = KeywordIndex(background=False)
    index.add(np.arange(len(docs), dtype=np.int64), docs)
    rows, scores = index.search(["cat"], 10, None)
    ceiling = bm25_ceiling([4], len(docs))
    assert ceiling == pytest.approx(math.log(1 + (6 - 4 + 0.5) / (4 + 0.5)))
    assert len(rows) == 4 and float(scores.max()) < ceiling
    assert float(scores.max()) > 0.8 * ceiling  # fifty repetitions come close to the bound
    both = bm25_ceiling([4, 5, 0], len(docs))  # "cat dog unicorn": the absent term adds nothing
    _, scores = index.search(["cat", "dog", "unicorn"], 10, None)
    assert float(scores.max()) < both == pytest.approx(ceiling + lucene_idf(5, 6))
    assert index.ceiling(["cat", "dog", "unicorn"]) == pytest.approx(both)  # the index agrees


def test_no_good_match_asks_the_trusted_list() -> None:
    below, above = F.DENSE_NO_MATCH_BELOW - 0.01, F.DENSE_NO_MATCH_BELOW + 0.01
    assert F.no_good_match(below, 9.0, 10.0, weight=0.8)  # dense trusted: its weak cosine decides
    assert not F.no_good_match(above, 0.0, 10.0, weight=0.8)
    assert F.no_good_match(0.99, 1.0, 10.0, weight=0.2)  # keyword trusted: 10% of the attainable BM25
    assert not F.no_good_match(0.0, 5.0, 10.0, weight=0.2)
    assert F.no_good_match(0.99, 0.0, 0.0, weight=0.0)  # no query term in the index at all
