from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jackpot_pipeline.model.metrics import (
    AWAY,
    DRAW,
    HOME,
    accuracy,
    brier_score,
    brier_score_per_match,
    brier_score_per_outcome,
    compare_forecasts,
    encode_outcomes,
    expected_calibration_error,
    log_loss,
    log_loss_per_match,
    one_hot,
    paired_comparison,
    ranked_probability_score,
    ranked_probability_score_per_match,
    reliability_curve,
    score_summary,
)

UNIFORM = [1 / 3, 1 / 3, 1 / 3]


def test_encode_outcomes() -> None:
    assert encode_outcomes(["H", "D", "A", " h"]).tolist() == [HOME, DRAW, AWAY, HOME]
    assert encode_outcomes(np.array(["A", "A"], dtype=object)).dtype == np.int64
    with pytest.raises(ValueError, match=r"result at index 2 is 'X'"):
        encode_outcomes(["H", "D", "X"])
    with pytest.raises(ValueError, match="result at index 0 is nan"):
        encode_outcomes([float("nan")])


def test_rps_by_hand() -> None:
    # Uniform forecast, home win: cumulative gaps (1/3 - 1, 2/3 - 1) -> ((2/3)^2 + (1/3)^2) / 2.
    assert ranked_probability_score([UNIFORM], [HOME]) == pytest.approx(((2 / 3) ** 2 + (1 / 3) ** 2) / 2)
    assert ranked_probability_score([UNIFORM], [HOME]) == pytest.approx(0.2778, abs=5e-5)
    # Uniform forecast, draw: gaps (1/3, 2/3 - 1) -> (1/9 + 1/9) / 2 = 1/9.
    assert ranked_probability_score([UNIFORM], [DRAW]) == pytest.approx(1 / 9)
    # (0.5, 0.3, 0.2) and a draw: cumulative (0.5, 0.8) vs (0, 1) -> (0.25 + 0.04) / 2 = 0.145.
    assert ranked_probability_score([[0.5, 0.3, 0.2]], [DRAW]) == pytest.approx(0.145)
    # Perfect and maximally wrong forecasts.
    assert ranked_probability_score([[1, 0, 0], [0, 0, 1]], [HOME, AWAY]) == 0.0
    assert ranked_probability_score([[0, 0, 1]], [HOME]) == pytest.approx(1.0)
    np.testing.assert_allclose(
        ranked_probability_score_per_match([[0.5, 0.3, 0.2], UNIFORM], [DRAW, HOME]), [0.145, 5 / 18]
    )


def test_brier_by_hand() -> None:
    # (0.5, 0.3, 0.2) and a draw: 0.25 + 0.49 + 0.04 = 0.78.
    assert brier_score([[0.5, 0.3, 0.2]], [DRAW]) == pytest.approx(0.78)
    # Uniform and a home win: 4/9 + 1/9 + 1/9 = 2/3.
    assert brier_score([UNIFORM], [HOME]) == pytest.approx(2 / 3)
    forecasts, results = [[0.5, 0.3, 0.2], UNIFORM], [DRAW, HOME]
    assert brier_score(forecasts, results) == pytest.approx((0.78 + 2 / 3) / 2)
    per_outcome = brier_score_per_outcome(forecasts, results)
    np.testing.assert_allclose(per_outcome, [(0.25 + 4 / 9) / 2, (0.49 + 1 / 9) / 2, (0.04 + 1 / 9) / 2])
    assert per_outcome.sum() == pytest.approx(brier_score(forecasts, results))


def test_log_loss_by_hand() -> None:
    assert log_loss([[0.5, 0.3, 0.2]], [DRAW]) == pytest.approx(-math.log(0.3))
    assert log_loss([UNIFORM, [0.5, 0.3, 0.2]], [AWAY, HOME]) == pytest.approx((math.log(3) - math.log(0.5)) / 2)
    # No hidden clipping: a zero on what happened is an infinite loss.
    assert log_loss_per_match([[1.0, 0.0, 0.0]], [DRAW])[0] == math.inf


def test_accuracy_is_argmax_with_ties_to_home_first() -> None:
    assert accuracy([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], UNIFORM], [HOME, DRAW, HOME]) == pytest.approx(2 / 3)


def test_input_checks() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        brier_score([[0.5, 0.5]], [0])
    with pytest.raises(ValueError, match="outcomes must have shape"):
        brier_score([UNIFORM], [0, 1])
    with pytest.raises(ValueError, match="encode_outcomes"):
        brier_score([UNIFORM], np.array(["H"]))
    with pytest.raises(ValueError, match="0 \\(home\\), 1 \\(draw\\) or 2"):
        log_loss([UNIFORM], [3])


def test_reliability_curve_per_outcome_by_hand() -> None:
    forecasts = np.array([[0.05, 0.25, 0.70], [0.15, 0.25, 0.60], [0.55, 0.25, 0.20], [0.95, 0.04, 0.01]])
    results = np.array([AWAY, HOME, HOME, HOME])
    curve = reliability_curve(forecasts, results, n_bins=2, outcome=HOME)
    np.testing.assert_allclose(curve.bin_edges, [0.0, 0.5, 1.0])
    assert curve.counts.tolist() == [2, 2]
    np.testing.assert_allclose(curve.mean_predicted, [0.10, 0.75])
    np.testing.assert_allclose(curve.observed_frequency, [0.5, 1.0])
    # ECE = (2 * |0.10 - 0.5| + 2 * |0.75 - 1.0|) / 4 = 0.325.
    assert expected_calibration_error(forecasts, results, n_bins=2, outcome=HOME) == pytest.approx(0.325)


def test_reliability_curve_pooled_uses_every_outcome_and_marks_empty_bins() -> None:
    forecasts = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1]])
    results = np.array([HOME, AWAY])
    curve = reliability_curve(forecasts, results, n_bins=10)
    assert curve.outcome is None
    assert curve.counts.sum() == 6
    assert curve.counts[1] == 2 and curve.counts[3] == 2 and curve.counts[6] == 2
    assert np.isnan(curve.mean_predicted[0]) and np.isnan(curve.observed_frequency[9])
    assert curve.observed_frequency[1] == pytest.approx(0.5)  # the 0.1 away forecasts: one came in
    assert curve.observed_frequency[3] == 0.0
    assert curve.to_dict()["mean_predicted"][0] is None
    # Probability 1.0 falls in the last bin, not past it.
    assert reliability_curve([[1.0, 0.0, 0.0]], [HOME], n_bins=4, outcome=HOME).counts.tolist() == [0, 0, 0, 1]


def test_paired_comparison_by_hand() -> None:
    comparison = paired_comparison([0.2, 0.3, 0.4, 0.5], [0.25, 0.25, 0.45, 0.45])
    # Differences (-0.05, 0.05, -0.05, 0.05): mean 0, SD (ddof 1) = sqrt(4 * 0.0025 / 3).
    assert comparison.mean_difference == pytest.approx(0.0)
    assert comparison.standard_error == pytest.approx(math.sqrt(0.01 / 3) / 2)
    assert comparison.n == 4 and comparison.mean_a == pytest.approx(0.35) and comparison.mean_b == pytest.approx(0.35)
    shifted = paired_comparison([0.2, 0.3, 0.4], [0.3, 0.4, 0.5])
    assert shifted.mean_difference == pytest.approx(-0.1) and shifted.standard_error == pytest.approx(0.0, abs=1e-15)
    assert shifted.to_dict()["n"] == 3
    with pytest.raises(ValueError, match="equal length"):
        paired_comparison([0.1, 0.2], [0.1])


def test_compare_forecasts_pairs_per_match_scores() -> None:
    rng = np.random.default_rng(7)
    a = rng.dirichlet([4, 3, 3], size=200)
    b = rng.dirichlet([4, 3, 3], size=200)
    results = rng.integers(0, 3, size=200)
    comparison = compare_forecasts(a, b, results, score="log_loss")
    assert comparison.mean_difference == pytest.approx(log_loss(a, results) - log_loss(b, results))
    brier = compare_forecasts(a, b, results, score="brier")
    differences = brier_score_per_match(a, results) - brier_score_per_match(b, results)
    assert brier.standard_error == pytest.approx(differences.std(ddof=1) / math.sqrt(200))
    with pytest.raises(ValueError, match="unknown score"):
        compare_forecasts(a, b, results, score="accuracy")  # type: ignore[arg-type]


def test_score_summary() -> None:
    summary = score_summary([[0.5, 0.3, 0.2], UNIFORM], [DRAW, HOME])
    assert summary.n == 2
    assert summary.rps == pytest.approx((0.145 + 5 / 18) / 2)
    assert set(summary.to_dict()) == {"n", "rps", "brier", "log_loss", "accuracy", "expected_calibration_error"}


probability_rows = arrays(np.float64, (20, 3), elements=st.floats(0.001, 1.0)).map(
    lambda weights: weights / weights.sum(axis=1, keepdims=True)
)
outcome_rows = arrays(np.int64, (20,), elements=st.integers(0, 2))


@settings(max_examples=100, deadline=None)
@given(forecasts=probability_rows, results=outcome_rows)
def test_score_ranges_and_perfect_forecasts(forecasts: np.ndarray, results: np.ndarray) -> None:
    assert 0.0 <= ranked_probability_score(forecasts, results) <= 1.0
    assert 0.0 <= brier_score(forecasts, results) <= 2.0
    assert log_loss(forecasts, results) > 0.0
    assert 0.0 <= expected_calibration_error(forecasts, results) <= 1.0
    perfect = one_hot(results)
    assert ranked_probability_score(perfect, results) == 0.0
    assert brier_score(perfect, results) == 0.0
    assert log_loss(perfect, results) == 0.0
    # The same forecasts score the same every time, bit for bit.
    assert ranked_probability_score_per_match(forecasts, results).tobytes() == (
        ranked_probability_score_per_match(forecasts.copy(), results.copy()).tobytes()
    )
