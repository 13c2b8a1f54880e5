"""Exact top-k by dot product over a subset of rows, reading one byte per dimension first.

A filtered query must return exactly what brute force over the admitted rows returns,
and at 100k-1M rows an fp32 pass over them is bound by memory traffic (1.5 kB a row).
So each row also has an int8 copy: codes c, a scale s (max |v| / 127) and a proven
bound b on how far the kernel's s * (c . q) can be from v . q, namely |q| * b
(`searchapp.storage.int8_kernels.row_bound`). A query scores the admitted rows from the codes
(a quarter of the bytes, read in place: no gather), keeps every row that could still
reach the k-th best score, and re-scores those few in fp32. Every true top-k row is
among them, so the answer is the brute-force one, for any vectors, unit length or not.

The kernels run on the calling thread without the GIL, so concurrent queries each use
their own core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.int8]

# From this many admitted rows on, the int8 first pass beats an fp32 gather: 0.87x its
# time at 500 scattered rows of 100k, 0.49x at 2k, 0.26x at 5k (2-core AVX2 machine).
MIN_ROWS = 500


@dataclass(frozen=True, slots=True)
class Int8Rows:
    """The int8 copy of some rows: `codes[i] * scales[i]` approximates row i."""

    codes: CodeArray  # (rows, dimension)
    scales: FloatArray  # (rows,)
    max_bound: float  # the kernel's score of any row is within |q| * max_bound


def quantize(vectors: FloatArray) -> tuple[Int8Rows, FloatArray]:
    """Int8 codes and scales for fp32 rows, and each row's error bound (its score from
    the codes is within |q| * bound of the exact one)."""
    from searchapp.storage import int8_kernels

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows, dimension = vectors.shape
    codes = np.empty((rows, dimension), dtype=np.int8)
    scales = np.empty(rows, dtype=np.float32)
    exact = np.empty(rows, dtype=np.float64)
    int8_kernels.quantize_rows(vectors, codes, scales, exact)
    bounds = round_up(exact)
    return Int8Rows(codes, scales, float(bounds.max()) if rows else 0.0), bounds


def round_up(values: npt.NDArray[np.float64]) -> FloatArray:
    """Each float64 as the nearest fp32 that is not smaller."""
    single = values.astype(np.float32)
    return np.where(single.astype(np.float64) < values, np.nextafter(single, np.float32(np.inf)), single)


def exact_top_k(
    rows: Int8Rows,
    vectors: FloatArray,
    query: FloatArray,
    k: int,
    positions: IntArray,
) -> tuple[IntArray, FloatArray]:
    """The top `k` of `positions` by `vectors[p] . query`, best first: the same rows and
    fp32 scores as scoring every admitted row (`matvec`, then `top_k`)."""
    from searchapp.storage import int8_kernels

    query = np.ascontiguousarray(query, dtype=np.float32)
    approx = np.empty(len(positions), dtype=np.float32)
    int8_kernels.scores(rows.codes, rows.scales, query, positions, approx)
    k = min(k, len(positions))
    kth = float(np.partition(approx, len(approx) - k)[len(approx) - k])
    # One error for all rows (the largest): at least k rows score >= kth - error exactly,
    # and a row that could beat them has approx >= kth - 2 error. The margins absorb the
    # rounding of this threshold and of the fp32 comparison.
    error = rows.max_bound * float(np.linalg.norm(query.astype(np.float64))) * (1 + 1e-6)
    threshold = kth - 2 * error - 1e-6 * (1 + abs(kth))
    candidates = positions[approx >= threshold]
    exact = matvec(vectors[candidates], query)
    top = top_k(exact, k)
    return candidates[top], exact[top].astype(np.float32)


def top_k(scores: FloatArray, k: int) -> IntArray:
    """Indexes of the k largest scores, best first (ties: lower index first)."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def matvec(matrix: FloatArray, vector: FloatArray) -> FloatArray:
    """matrix @ vector through torch (zero-copy): numpy's OpenBLAS spreads even small
    products over threads that contend with everything else (16 ms instead of 0.1 ms for
    3k rows on a busy 2-core machine); torch sizes its work to the input."""
    import torch

    result: FloatArray = torch.mv(
        torch.from_numpy(np.ascontiguousarray(matrix)), torch.from_numpy(vector)
    ).numpy()
    return result
