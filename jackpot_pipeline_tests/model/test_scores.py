"""Score matrices and the markets read from them, checked against direct formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from jackpot_pipeline.model.scores import (
    InvalidRhoError,
    entropy_bits,
    match_prediction,
    outcome_probabilities,
    rho_valid_interval,
    score_matrices,
    score_matrix,
)


def reference_grid(lam: float, mu: float, rho: float, max_goals: int) -> np.ndarray:
    """Unnormalised Dixon-Coles grid written straight from the paper, one cell at a time."""
    grid = np.empty((max_goals + 1, max_goals + 1))
    for x in range(max_goals + 1):
        for y in range(max_goals + 1):
            tau = {
                (0, 0): 1 - lam * mu * rho,
                (0, 1): 1 + lam * rho,
                (1, 0): 1 + mu * rho,
                (1, 1): 1 - rho,
            }.get((x, y), 1.0)
            grid[x, y] = tau * poisson.pmf(x, lam) * poisson.pmf(y, mu)
    return grid


@pytest.mark.parametrize(
    ("lam", "mu", "rho", "max_goals"),
    [(1.5, 1.1, -0.1, 10), (0.4, 2.9, 0.05, 10), (3.2, 0.6, -0.2, 6), (1.0, 1.0, 0.0, 15)],
)
def test_grid_matches_paper_formula_and_reports_truncated_mass(lam, mu, rho, max_goals):
    raw = reference_grid(lam, mu, rho, max_goals)
    matrix = score_matrix(lam, mu, rho, max_goals)

    assert matrix.probabilities.shape == (max_goals + 1, max_goals + 1)
    assert matrix.max_goals == max_goals
    np.testing.assert_allclose(matrix.probabilities, raw / raw.sum(), rtol=1e-12, atol=1e-17)
    assert matrix.truncated_mass == pytest.approx(1.0 - raw.sum(), abs=1e-14)
    assert matrix.probabilities.sum() == pytest.approx(1.0, abs=1e-15)


def test_tau_corrections_cancel_so_untruncated_means_stay_lambda():
    prediction = match_prediction(*_single(2.3, 0.9, -0.15, 40), 2.3, 0.9)
    assert prediction.expected_goals[0] == pytest.approx(2.3, abs=1e-12)
    assert prediction.expected_goals[1] == pytest.approx(0.9, abs=1e-12)
    assert prediction.truncated_mass < 1e-20


def _single(lam: float, mu: float, rho: float, max_goals: int):
    grids, truncated = score_matrices([lam], [mu], rho, max_goals)
    return grids[0], truncated[0]


def test_markets_read_off_the_grid():
    lam, mu, rho = 1.7, 1.2, -0.08
    raw = reference_grid(lam, mu, rho, 10)
    grid = raw / raw.sum()
    prediction = match_prediction(*_single(lam, mu, rho, 10), lam, mu, home_team="A", away_team="B")

    x, y = np.indices(grid.shape)
    assert prediction.prob_home == pytest.approx(grid[x > y].sum(), abs=1e-14)
    assert prediction.prob_draw == pytest.approx(np.trace(grid), abs=1e-14)
    assert prediction.prob_away == pytest.approx(grid[x < y].sum(), abs=1e-14)
    assert prediction.prob_under_2_5 == pytest.approx(grid[x + y <= 2].sum(), abs=1e-14)
    assert prediction.prob_over_2_5 + prediction.prob_under_2_5 == pytest.approx(1.0, abs=1e-15)
    assert prediction.prob_btts == pytest.approx(grid[(x > 0) & (y > 0)].sum(), abs=1e-14)
    assert prediction.most_likely_score == tuple(int(v) for v in np.unravel_index(np.argmax(grid), grid.shape))
    assert prediction.expected_goals == pytest.approx(((grid * x).sum(), (grid * y).sum()), abs=1e-13)
    probs = np.array([prediction.prob_home, prediction.prob_draw, prediction.prob_away])
    assert prediction.entropy_bits == pytest.approx(-(probs * np.log2(probs)).sum(), abs=1e-14)
    assert prediction.to_dict()["most_likely_score"] == list(prediction.most_likely_score)


def test_rho_zero_is_independent_poisson():
    grid, _ = _single(1.4, 0.8, 0.0, 12)
    independent = np.outer(poisson.pmf(np.arange(13), 1.4), poisson.pmf(np.arange(13), 0.8))
    np.testing.assert_allclose(grid, independent / independent.sum(), rtol=1e-12)


def test_entropy_in_bits():
    assert entropy_bits(np.array([1 / 3, 1 / 3, 1 / 3])) == pytest.approx(math.log2(3))
    assert entropy_bits(np.array([1.0, 0.0, 0.0])) == 0.0
    assert entropy_bits(np.array([0.5, 0.5, 0.0])) == pytest.approx(1.0)


def test_valid_rho_interval_is_dixon_coles_region():
    lower, upper = rho_valid_interval(2.0, 0.8)
    assert lower == pytest.approx(-1 / 2.0)
    assert upper == pytest.approx(1 / 1.6)
    lower, upper = rho_valid_interval([0.5, 3.0], [0.2, 1.5])
    assert lower == pytest.approx(-1 / 3.0)
    assert upper == pytest.approx(1 / 4.5)
    assert rho_valid_interval(0.3, 0.3)[1] == 1.0  # τ(1,1) = 1 − ρ caps ρ at 1


@pytest.mark.parametrize("rho", [-0.5, 0.4])
def test_rho_outside_region_raises_instead_of_negative_probabilities(rho):
    # λ = 2.5, μ = 1.2: valid region is [−0.4, 1/3].
    with pytest.raises(InvalidRhoError, match=r"outside the Dixon-Coles valid region \[-0\.4, 0\.333333\]"):
        score_matrix(2.5, 1.2, rho)


def test_batch_validation_names_affected_fixtures():
    with pytest.raises(InvalidRhoError, match=r"1 of 3 fixtures affected"):
        score_matrices([1.0, 4.0, 1.2], [1.0, 1.0, 1.0], -0.3)


@pytest.mark.parametrize(
    ("lam", "mu", "max_goals", "message"),
    [
        (0.0, 1.0, 10, "finite and > 0"),
        (1.0, float("nan"), 10, "finite and > 0"),
        (1.0, 1.0, 1, "max_goals must be an integer >= 2"),
        (1.0, 1.0, 3.5, "max_goals must be an integer >= 2"),
    ],
)
def test_bad_inputs_raise(lam, mu, max_goals, message):
    with pytest.raises(ValueError, match=message):
        score_matrix(lam, mu, 0.0, max_goals)


def test_batch_equals_single_bit_for_bit():
    lams = np.array([0.3, 1.1, 2.7, 4.0])
    mus = np.array([2.2, 1.0, 0.7, 0.25])
    grids, truncated = score_matrices(lams, mus, -0.05, 10)
    for k in range(len(lams)):
        single, single_truncated = _single(lams[k], mus[k], -0.05, 10)
        np.testing.assert_array_equal(grids[k], single)
        assert truncated[k] == single_truncated


@st.composite
def fixture_and_valid_rho(draw):
    lam = draw(st.floats(0.05, 6.0))
    mu = draw(st.floats(0.05, 6.0))
    lower, upper = rho_valid_interval(lam, mu)
    position = draw(st.floats(0.0, 1.0))
    rho = (lower + position * (upper - lower)) * (1 - 1e-12)
    max_goals = draw(st.integers(2, 20))
    return lam, mu, rho, max_goals


@settings(max_examples=300, deadline=None)
@given(fixture_and_valid_rho())
def test_probabilities_are_a_distribution_anywhere_in_the_valid_region(case):
    lam, mu, rho, max_goals = case
    grid, truncated = _single(lam, mu, rho, max_goals)
    assert np.all(grid >= 0.0) and np.all(grid <= 1.0)
    assert grid.sum() == pytest.approx(1.0, abs=1e-12)
    assert 0.0 <= truncated <= 1.0
    probs = outcome_probabilities(grid[None])[0]
    assert np.all((probs >= 0.0) & (probs <= 1.0))
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    prediction = match_prediction(grid, truncated, lam, mu)
    for value in (prediction.prob_over_2_5, prediction.prob_under_2_5, prediction.prob_btts):
        assert -1e-15 <= value <= 1.0 + 1e-15
    assert 0.0 <= prediction.entropy_bits <= math.log2(3) + 1e-12
