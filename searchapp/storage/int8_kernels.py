"""The compiled loops behind `searchapp.storage.exact_scan` (numba; cached on disk after the
first compile). Imported only when a scan needs them, since importing numba costs
about half a second."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

_UNIT = 2.0**-24  # fp32 unit roundoff


@numba.njit(cache=True)
def row_bound(dimension: int, scale: float, quantisation: float, code_norm: float) -> float:
    """For one row, b with |fl(s * sum_j c_j q_j) - v . q| <= |q| * b for every query q.

    Two parts. The quantisation error: |s (c . q) - v . q| = |(s c - v) . q| <= |q| |s c - v|
    (Cauchy-Schwarz). The rounding in `scores`: an fp32 sum of d products, in any order,
    is within gamma(d + 1) * sum_j |c_j q_j| <= gamma(d + 1) |c| |q| of the exact sum, and
    the final product with s adds one more rounding: gamma(d + 2) in all, with gamma(n) =
    n u / (1 - n u). Computed in float64; the relative slack covers float64's own rounding.
    """
    gamma = (dimension + 2) * _UNIT / (1 - (dimension + 2) * _UNIT)
    return (quantisation + gamma * scale * code_norm) * (1 + 1e-12) + 1e-30


# Exact float64 arithmetic here (no fastmath): the bounds must hold.
@numba.njit(nogil=True, cache=True, error_model="numpy")
def quantize_rows(
    vectors: FloatArray, codes: npt.NDArray[np.int8], scales: FloatArray, bounds: npt.NDArray[np.float64]
) -> None:  # pragma: no cover - compiled
    """Per row: scale = max|v| / 127, codes = round(v / scale), and `row_bound`."""
    rows, dimension = vectors.shape
    for i in range(rows):
        peak = 0.0
        for j in range(dimension):
            peak = max(peak, abs(np.float64(vectors[i, j])))
        scale = np.float32(peak / 127.0)
        step = np.float64(scale) if scale > 0 else 1.0
        error = 0.0
        norm = 0.0
        for j in range(dimension):
            value = np.float64(vectors[i, j])
            code = min(127.0, max(-127.0, np.rint(value / step)))
            codes[i, j] = np.int8(code)
            error += (code * np.float64(scale) - value) ** 2
            norm += code * code
        scales[i] = scale
        bounds[i] = row_bound(dimension, np.float64(scale), np.sqrt(error), np.sqrt(norm))


# reassoc + contract let LLVM vectorise the sum; `row_bound` allows any summation order.
@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def scores(
    codes: npt.NDArray[np.int8],
    scales: FloatArray,
    query: FloatArray,
    positions: npt.NDArray[np.int64],
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """out[t] = scales[p] * (codes[p] . query) for p = positions[t], read in place."""
    dimension = codes.shape[1]
    for t in range(len(positions)):
        row = positions[t]
        total = np.float32(0.0)
        for j in range(dimension):
            total += np.float32(codes[row, j]) * query[j]
        out[t] = total * scales[row]
