"""Metrics against hand-computed values (trec_eval definitions: linear gain, log2(rank + 1))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from searchapp.evaluation.metrics import mean, mrr_at_k, ndcg_at_k, percentile, recall_at_k, unique

BINARY = {"a": 1, "b": 1}
# Graded: a is highly relevant, b relevant, c marginal; z was judged and found not relevant.
GRADED = {"a": 3, "b": 2, "c": 1, "z": 0}


def test_ndcg_binary_by_hand() -> None:
    # Relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
    # Ideal: ranks 1 and 2:      IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.63093 = 1.63093
    assert ndcg_at_k(["x", "a", "y", "b"], BINARY, 10) == pytest.approx(0.650921, abs=1e-6)
    assert ndcg_at_k(["a", "b", "x"], BINARY, 10) == pytest.approx(1.0)
    # Cut at 3: b (rank 4) no longer counts: 0.63093 / 1.63093
    assert ndcg_at_k(["x", "a", "y", "b"], BINARY, 3) == pytest.approx(0.386853, abs=1e-6)


def test_ndcg_graded_uses_linear_gain_and_ideal_from_the_qrels() -> None:
    ranking = ["c", "z", "a", "x", "b"]
    # DCG@5  = 1/log2(2) + 0/log2(3) + 3/log2(4) + 0/log2(5) + 2/log2(6) = 1 + 1.5 + 0.773706 = 3.273706
    # IDCG@5 = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.261860 + 0.5 = 4.761860
    assert ndcg_at_k(ranking, GRADED, 5) == pytest.approx(0.687484, abs=1e-6)
    # DCG@2 = 1; IDCG@2 = 3 + 2/log2(3) = 4.261860
    assert ndcg_at_k(ranking, GRADED, 2) == pytest.approx(0.234639, abs=1e-6)
    # Exponential gain (2^rel - 1) would give (1 + 7/2 + 3/log2(6)) / (7 + 3/log2(3) + 1/2) = 0.602649:
    # a different number, so this pins the linear definition.
    assert ndcg_at_k(ranking, GRADED, 5) != pytest.approx(0.602649, abs=1e-3)
    # The ideal ordering scores exactly 1, whatever the grades.
    assert ndcg_at_k(["a", "b", "c"], GRADED, 10) == pytest.approx(1.0)
    # Swapping the two best loses: (2 + 3/log2(3) + 1/2) / 4.761860
    assert ndcg_at_k(["b", "a", "c"], GRADED, 10) == pytest.approx(0.922495, abs=1e-6)


def test_recall_counts_only_positive_grades() -> None:
    ranking = ["c", "z", "a", "x", "b"]
    assert recall_at_k(ranking, GRADED, 5) == pytest.approx(1.0)  # a, b, c; z is not relevant
    assert recall_at_k(ranking, GRADED, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["z", "x"], GRADED, 10) == 0.0
    assert recall_at_k(["a"], BINARY, 100) == pytest.approx(0.5)


def test_mrr_is_the_first_relevant_rank_within_k() -> None:
    assert mrr_at_k(["c", "a"], GRADED, 10) == 1.0  # any grade > 0 counts
    assert mrr_at_k(["z", "x", "b"], GRADED, 10) == pytest.approx(1 / 3)  # z (grade 0) does not
    assert mrr_at_k(["z", "x", "b"], GRADED, 2) == 0.0  # b is beyond the cut


def test_nothing_relevant_retrieved_scores_zero() -> None:
    ranking = ["x", "y", "z"]
    assert ndcg_at_k(ranking, GRADED, 10) == 0.0
    assert recall_at_k(ranking, GRADED, 10) == 0.0
    assert mrr_at_k(ranking, GRADED, 10) == 0.0
    assert ndcg_at_k([], GRADED, 10) == 0.0


def test_query_without_any_relevant_document_scores_zero() -> None:
    judged_irrelevant = {"a": 0, "b": 0}
    assert ndcg_at_k(["a", "b"], judged_irrelevant, 10) == 0.0
    assert recall_at_k(["a", "b"], judged_irrelevant, 10) == 0.0
    assert mrr_at_k(["a", "b"], judged_irrelevant, 10) == 0.0


def test_fewer_results_than_k() -> None:
    # One result, two relevant: DCG = 1, IDCG = 1 + 1/log2(3) = 1.63093
    assert ndcg_at_k(["a"], BINARY, 10) == pytest.approx(0.613147, abs=1e-6)
    assert recall_at_k(["a"], BINARY, 10) == pytest.approx(0.5)
    assert mrr_at_k(["a"], BINARY, 10) == 1.0


def test_ideal_dcg_is_cut_at_k_too() -> None:
    many = {f"d{i}": 1 for i in range(20)}
    # 10 relevant in the top 10 is perfect at k=10, although 20 are relevant in all.
    assert ndcg_at_k([f"d{i}" for i in range(10)], many, 10) == pytest.approx(1.0)
    assert recall_at_k([f"d{i}" for i in range(10)], many, 10) == pytest.approx(0.5)


def test_duplicate_ids_count_once_at_their_best_rank() -> None:
    assert unique(["x", "a", "a", "b", "x"]) == ["x", "a", "b"]
    # [x, a, a, b] is scored as [x, a, b]: (1/log2(3) + 1/log2(4)) / 1.63093
    assert ndcg_at_k(["x", "a", "a", "b"], BINARY, 10) == pytest.approx(0.693426, abs=1e-6)
    # The repeat does not take a slot: b is still inside the top 2 of [a, a, b].
    assert recall_at_k(["a", "a", "b"], BINARY, 2) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "a", "b"], BINARY, 2) == pytest.approx(1.0)
    # A relevant document repeated cannot earn its gain twice.
    assert ndcg_at_k(["a", "a", "a"], {"a": 1}, 3) == pytest.approx(1.0)
    assert mrr_at_k(["x", "x", "a"], BINARY, 2) == pytest.approx(0.5)


def test_k_must_be_positive() -> None:
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        with pytest.raises(ValueError, match="k must be at least 1; got 0"):
            metric(["a"], BINARY, 0)


def test_percentile_interpolates_like_numpy() -> None:
    values = [40.0, 10.0, 30.0, 20.0]
    assert percentile(values, 50) == pytest.approx(25.0)  # halfway between 20 and 30
    assert percentile(values, 95) == pytest.approx(38.5)  # position 2.85: 30 + 0.85 * 10
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0
    rng = np.random.default_rng(0)
    sample = list(rng.exponential(20.0, size=301))
    for q in (50, 90, 95, 99):
        assert percentile(sample, q) == pytest.approx(float(np.percentile(sample, q)))
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile(values, 101)


def test_mean() -> None:
    assert mean([1.0, 0.0, 0.5]) == pytest.approx(0.5)
    assert mean([]) == 0.0
    assert math.isclose(mean([0.1] * 3), 0.1)
