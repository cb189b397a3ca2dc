from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import check_grad
from scipy.special import logsumexp
from sklearn.exceptions import NotFittedError

from jackpot_pipeline.model import blending
from jackpot_pipeline.model.blending import (
    MAX_MARKET_WEIGHT,
    StackedPool,
    _stacked_loss_and_gradient,
    linear_pool,
    log_linear_pool,
)
from jackpot_pipeline.model.metrics import log_loss
from jackpot_pipeline.model.odds import devig_available
from jackpot_pipeline_tests.model.real_matches import LEAGUES, odds_matrix, outcomes, read_seasons

MODEL = np.array([[0.50, 0.30, 0.20], [0.20, 0.25, 0.55]])
MARKET = np.array([[0.40, 0.30, 0.30], [0.30, 0.30, 0.40]])


def _sample_outcomes(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(probs))[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)


def _dirichlet_rows(concentration: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    draws = rng.gamma(concentration)
    return draws / draws.sum(axis=1, keepdims=True)


def _synthetic_pool_data(
    model_exponent: float, market_exponent: float, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet([6, 4, 5], size=n)
    # Two noisy views of the truth, so that both carry information.
    model = _dirichlet_rows(truth * 40 + 0.5, rng)
    market = _dirichlet_rows(truth * 60 + 0.5, rng)
    generating = log_linear_pool(model, market, model_exponent=model_exponent, market_exponent=market_exponent)
    return model, market, _sample_outcomes(generating, rng)


def test_market_cap_constant() -> None:
    assert MAX_MARKET_WEIGHT == 0.7


def test_linear_pool_by_hand() -> None:
    result = linear_pool(MODEL, MARKET, model_weight=0.6)
    np.testing.assert_allclose(result.probs[0], [0.6 * 0.5 + 0.4 * 0.4, 0.30, 0.6 * 0.2 + 0.4 * 0.3])
    assert not result.clipped
    assert result.applied_model_weight == 0.6 and result.applied_market_weight == pytest.approx(0.4)


def test_linear_pool_clips_the_market_weight_and_says_so() -> None:
    result = linear_pool(MODEL, MARKET, model_weight=0.2)
    assert result.clipped
    assert result.requested_model_weight == 0.2 and result.requested_market_weight == pytest.approx(0.8)
    assert result.applied_model_weight == pytest.approx(0.3) and result.applied_market_weight == pytest.approx(0.7)
    np.testing.assert_allclose(result.probs, 0.3 * MODEL + 0.7 * MARKET)
    assert result.weights_dict()["market_weight_clipped"] is True
    # A looser cap passed explicitly is honoured (and a market-only pool refused by default).
    assert not linear_pool(MODEL, MARKET, model_weight=0.2, max_market_weight=0.9).clipped
    assert linear_pool(MODEL, MARKET, model_weight=0.0).applied_model_weight == pytest.approx(0.3)


def test_linear_pool_reads_the_module_cap_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blending, "MAX_MARKET_WEIGHT", 0.5)
    assert linear_pool(MODEL, MARKET, model_weight=0.2).applied_model_weight == pytest.approx(0.5)


def test_linear_pool_rejects_bad_input_and_propagates_missing_market() -> None:
    with pytest.raises(ValueError, match="model_weight must lie in"):
        linear_pool(MODEL, MARKET, model_weight=1.2)
    with pytest.raises(ValueError, match="max_market_weight must lie in"):
        linear_pool(MODEL, MARKET, model_weight=0.5, max_market_weight=-0.1)
    with pytest.raises(ValueError, match="shapes differ"):
        linear_pool(MODEL, MARKET[:1], model_weight=0.5)
    market = MARKET.copy()
    market[1] = np.nan
    assert np.isnan(linear_pool(MODEL, market, model_weight=0.6).probs[1]).all()


def test_log_linear_pool_by_hand() -> None:
    pooled = log_linear_pool(MODEL[:1], MARKET[:1], model_exponent=0.5, market_exponent=0.5)
    geometric = np.sqrt(MODEL[0] * MARKET[0])
    np.testing.assert_allclose(pooled[0], geometric / geometric.sum(), rtol=1e-14)
    np.testing.assert_allclose(log_linear_pool(MODEL, MARKET, model_exponent=1, market_exponent=0), MODEL, rtol=1e-14)
    np.testing.assert_allclose(log_linear_pool(MODEL, MARKET, model_exponent=0, market_exponent=0), np.full((2, 3), 1 / 3))


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.floats(0.01, 1.0), min_size=6, max_size=6),
    model_weight=st.floats(0.0, 1.0),
    exponents=st.tuples(st.floats(0.0, 3.0), st.floats(0.0, 3.0)),
)
def test_pools_are_probabilities(weights: list[float], model_weight: float, exponents: tuple[float, float]) -> None:
    model = np.array(weights[:3]) / sum(weights[:3])
    market = np.array(weights[3:]) / sum(weights[3:])
    linear = linear_pool(model, market, model_weight=model_weight)
    assert linear.applied_market_weight <= MAX_MARKET_WEIGHT + 1e-15
    pooled = log_linear_pool(model, market, model_exponent=exponents[0], market_exponent=exponents[1])
    for probs in (linear.probs, pooled):
        assert np.all((probs >= 0) & (probs <= 1)) and probs.sum() == pytest.approx(1.0, abs=1e-12)


def test_stacked_pool_gradient_is_analytic_and_correct() -> None:
    model, market, observed = _synthetic_pool_data(0.5, 0.4, 500, seed=1)
    log_model, log_market = np.log(model), np.log(market)
    for point in ([0.3, 0.6], [1.2, 0.1], [0.0, 0.0]):
        error = check_grad(
            lambda x: _stacked_loss_and_gradient(x, log_model, log_market, observed)[0],
            lambda x: _stacked_loss_and_gradient(x, log_model, log_market, observed)[1],
            np.array(point),
        )
        assert error < 1e-6


def test_stacked_pool_recovers_generating_exponents() -> None:
    model, market, observed = _synthetic_pool_data(0.6, 0.35, 40_000, seed=2)
    pool = StackedPool().fit(model, market, observed)
    assert pool.model_exponent_ == pytest.approx(0.6, abs=0.06)
    assert pool.market_exponent_ == pytest.approx(0.35, abs=0.06)
    assert not pool.clipped_ and pool.market_share_ == pool.requested_market_share_
    assert pool.n_fit_rows_ == 40_000


def test_stacked_pool_caps_the_market_share_at_the_constrained_optimum() -> None:
    model, market, observed = _synthetic_pool_data(0.1, 1.0, 5_000, seed=3)
    pool = StackedPool().fit(model, market, observed)
    assert pool.clipped_ and pool.requested_market_share_ > MAX_MARKET_WEIGHT
    assert pool.market_share_ == pytest.approx(MAX_MARKET_WEIGHT, abs=1e-12)
    log_model, log_market = np.log(model), np.log(market)

    def loss(a: float, b: float) -> float:
        return _stacked_loss_and_gradient(np.array([a, b]), log_model, log_market, observed)[0]

    best = loss(pool.model_exponent_, pool.market_exponent_)
    assert best == pytest.approx(pool.training_log_loss_)
    # No feasible point on a grid (market share <= 0.7) does better.
    for a in np.linspace(0.0, 1.6, 17):
        for b in np.linspace(0.0, 1.6, 17):
            if a + b > 0 and b / (a + b) <= MAX_MARKET_WEIGHT:
                assert best <= loss(a, b) + 1e-12
    with_looser_cap = StackedPool(max_market_weight=1.0).fit(model, market, observed)
    assert not with_looser_cap.clipped_ and with_looser_cap.training_log_loss_ < best


def test_stacked_pool_predict_returns_the_model_where_the_market_is_missing() -> None:
    model, market, observed = _synthetic_pool_data(0.5, 0.4, 2_000, seed=4)
    market_with_gaps = market.copy()
    market_with_gaps[::10] = np.nan
    pool = StackedPool().fit(model, market_with_gaps, observed)
    assert pool.n_fit_rows_ == 1_800
    predicted = pool.predict(model, market_with_gaps)
    assert predicted[::10].tobytes() == model[::10].tobytes()
    expected = log_linear_pool(
        model[1:2], market[1:2], model_exponent=pool.model_exponent_, market_exponent=pool.market_exponent_
    )
    np.testing.assert_array_equal(predicted[1:2], expected)


def test_stacked_pool_serialises_exactly_and_is_deterministic() -> None:
    model, market, observed = _synthetic_pool_data(0.5, 0.4, 3_000, seed=5)
    pool = StackedPool().fit(model, market, observed)
    again = StackedPool().fit(model.copy(), market.copy(), observed.copy())
    assert pool.to_dict() == again.to_dict()
    restored = StackedPool.from_dict(json.loads(json.dumps(pool.to_dict(), allow_nan=False)))
    assert restored.predict(model, market).tobytes() == pool.predict(model, market).tobytes()
    with pytest.raises(ValueError, match="not a version-1 stacked pool"):
        StackedPool.from_dict({"kind": "calibrator"})


def test_stacked_pool_errors() -> None:
    with pytest.raises(NotFittedError):
        StackedPool().predict(MODEL, MARKET)
    with pytest.raises(ValueError, match="at least one row"):
        StackedPool().fit(MODEL, np.full_like(MARKET, np.nan), [0, 1])
    with pytest.raises(ValueError, match="exceeds the cap"):
        StackedPool.from_exponents(0.1, 0.9)
    fixed = StackedPool.from_exponents(0.5, 0.5)
    assert json.dumps(fixed.to_dict(), allow_nan=False)


def test_stacked_pool_on_real_odds_beats_the_weaker_source_next_season(shared_data: Path) -> None:
    """Real data stand-in for Set G: Bet365 pre-closing odds as the 'model', Pinnacle closing
    as the market. Fitted on two seasons, the pool must beat Bet365 alone on the next one,
    and, the closing market being much the better source, the cap must bind."""
    train = read_seasons(shared_data, LEAGUES, ["2122", "2223"])
    test = read_seasons(shared_data, LEAGUES, ["2324"])

    def sources(frame):  # type: ignore[no-untyped-def]
        weaker, has_weaker = devig_available(odds_matrix(frame, "B365"))
        closing, has_closing = devig_available(odds_matrix(frame, "PSC"))
        keep = has_weaker & has_closing
        return weaker.probs[keep], closing.probs[keep], outcomes(frame)[keep]

    pool = StackedPool().fit(*sources(train))
    assert pool.clipped_ and pool.market_share_ == pytest.approx(MAX_MARKET_WEIGHT)
    weaker, closing, observed = sources(test)
    assert log_loss(pool.predict(weaker, closing), observed) < log_loss(weaker, observed)


def test_free_pool_recovers_negative_weights_and_outcome_biases() -> None:
    """Free weights may lean against the model and sharpen the market; two outcome biases shift draw and away."""
    rng = np.random.default_rng(7)
    model, market, _ = _synthetic_pool_data(0.5, 0.5, 60_000, seed=7)
    bias = np.array([0.0, 0.15, -0.1])
    score = -0.1 * np.log(model) + 1.15 * np.log(market) + bias
    truth = np.exp(score - logsumexp(score, axis=1, keepdims=True))
    observed = _sample_outcomes(truth, rng)
    pool = StackedPool(free=True).fit(model, market, observed)
    assert pool.model_exponent_ == pytest.approx(-0.1, abs=0.06)
    assert pool.market_exponent_ == pytest.approx(1.15, abs=0.08)
    np.testing.assert_allclose(pool.outcome_bias_, bias, atol=0.05)
    assert not pool.clipped_
    capped = StackedPool().fit(model, market, observed)
    assert pool.training_log_loss_ < capped.training_log_loss_
    restored = StackedPool.from_dict(pool.to_dict())
    np.testing.assert_array_equal(restored.predict(model[:50], market[:50]), pool.predict(model[:50], market[:50]))
    gaps = market[:10].copy()
    gaps[::2] = np.nan
    np.testing.assert_array_equal(pool.predict(model[:10], gaps)[::2], model[:10][::2])
