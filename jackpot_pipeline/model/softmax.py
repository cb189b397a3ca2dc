"""Row-wise log-sum-exp of (n, 3) home/draw/away scores, bit-identical to ``scipy.special.logsumexp``.

The calibrators and the stacked pool evaluate it in every L-BFGS step, thousands of times per run, and
scipy's array-API dispatch costs several times the arithmetic on arrays this narrow. This repeats scipy's
operations in scipy's order (the maximum, its multiplicity ``m``, the sum of exp(x - max) over the other
entries, log1p(sum / m) + log(m) + max) on the three columns separately, so every result has the same bits;
numpy sums the three entries of a row left to right, as the column sums here do. Anything else -- other
widths, infinities, NaN -- is passed to scipy, whose edge-case handling is not repeated here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

__all__ = ["row_logsumexp"]


def row_logsumexp(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``scipy.special.logsumexp(values, axis=1)`` of a float64 (n, 3) array, same bits, less overhead."""
    if values.ndim != 2 or values.shape[1] != 3 or values.dtype != np.float64 or not np.isfinite(values).all():
        return logsumexp(values, axis=1)
    first, second, third = values[:, 0], values[:, 1], values[:, 2]
    peak = np.maximum(np.maximum(first, second), third)
    is_first, is_second, is_third = first == peak, second == peak, third == peak
    count = (is_first.astype(np.float64) + is_second) + is_third
    # the maxima are left out of the sum (scipy sets them to -inf), their count enters through log(m)
    total = (
        np.exp(np.where(is_first, -np.inf, first) - peak)
        + np.exp(np.where(is_second, -np.inf, second) - peak)
    ) + np.exp(np.where(is_third, -np.inf, third) - peak)
    total = np.where(total == 0, total, total / count)
    return np.log1p(total) + np.log(count) + peak
