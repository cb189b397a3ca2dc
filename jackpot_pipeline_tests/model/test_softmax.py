from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import logsumexp

from jackpot_pipeline.model.softmax import row_logsumexp


def _same_bits(values: np.ndarray) -> None:
    expected = logsumexp(values, axis=1)
    got = row_logsumexp(values)
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


def test_row_logsumexp_has_scipys_bits_on_random_rows_with_ties() -> None:
    # Rows where (x0 + x1) + x2 and x0 + (x1 + x2) round differently are common here, so a
    # change in the order of the additions would show.
    rng = np.random.default_rng(7)
    for scale in (1e-3, 1.0, 30.0, 700.0):
        values = rng.normal(size=(5000, 3)) * scale
        tied = rng.random(5000) < 0.2
        values[tied, 1] = values[tied, 0]
        all_tied = rng.random(5000) < 0.05
        values[all_tied] = values[all_tied, :1]
        _same_bits(values)
    _same_bits(np.log(np.maximum(rng.dirichlet([1.0, 1.0, 1.0], size=5000), 1e-15)))
    _same_bits(np.zeros((0, 3)))


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 20), st.just(3)),
              elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)))
def test_row_logsumexp_has_scipys_bits_on_any_finite_rows(values: np.ndarray) -> None:
    _same_bits(values)


@pytest.mark.parametrize("values", [
    np.array([[np.inf, 0.0, 1.0], [0.0, 1.0, 2.0]]),
    np.array([[-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0]]),
    np.array([[np.nan, 1.0, 2.0], [1.0, 2.0, 3.0]]),
    np.arange(8.0).reshape(2, 4),
])
def test_row_logsumexp_leaves_other_inputs_to_scipy(values: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        expected = logsumexp(values, axis=1)
        np.testing.assert_array_equal(row_logsumexp(values), expected)
