from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jackpot_pipeline.model.blending import MAX_MARKET_WEIGHT, StackedPool
from jackpot_pipeline.model.calibration import (
    DirichletCalibrator,
    IdentityCalibrator,
    TemperatureCalibrator,
    select_calibrator,
)
from jackpot_pipeline.model.metrics import log_loss, ranked_probability_score
from jackpot_pipeline.model.odds import InvalidOdds, devig_available
from jackpot_pipeline.model.probability_sets import (
    FLAG_DISPLAY_ONLY,
    FLAG_DRAW_BOOST_CAPPED,
    FLAG_HEURISTIC,
    FLAG_MARKET_SHARE_CLIPPED,
    FLAG_MARKET_WEIGHT_CLIPPED,
    FLAG_NO_MARKET_ODDS,
    FLAG_NO_OPERATOR_ODDS,
    FLAG_NO_STACKED_POOL,
    FLAG_UNCALIBRATED,
    SET_NAMES,
    ProbabilitySetConfig,
    build_probability_sets,
)
from jackpot_pipeline_tests.model.real_matches import LEAGUES, odds_matrix, outcomes, read_seasons

MODEL = np.array([[0.50, 0.30, 0.20], [0.20, 0.25, 0.55], [0.40, 0.35, 0.25]])
MARKET = np.array([[0.40, 0.30, 0.30], [0.30, 0.30, 0.40], [np.nan, np.nan, np.nan]])
OPERATOR_ODDS = np.array([[2.2, 3.1, 3.0], [np.nan, np.nan, np.nan], [2.4, 2.9, 4.0]])


def _sample_outcomes(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(probs))[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)


def _fitted_helpers(seed: int = 0) -> tuple[TemperatureCalibrator, StackedPool]:
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet([8, 5, 6], size=3_000)
    model = rng.dirichlet([8, 5, 6], size=3_000) * 0.3 + truth * 0.7
    market = truth
    observed = _sample_outcomes(truth, rng)
    blend = 0.6 * model + 0.4 * market
    return TemperatureCalibrator().fit(blend, observed), StackedPool().fit(model, market, observed)


def test_every_set_is_built_named_described_and_normalised() -> None:
    calibrator, pool = _fitted_helpers()
    sets = build_probability_sets(MODEL, MARKET, calibrator=calibrator, stacked_pool=pool, operator_odds=OPERATOR_ODDS)
    assert tuple(sets) == SET_NAMES
    for name, probability_set in sets.items():
        assert probability_set.name == name and probability_set.description
        assert probability_set.probs.shape == (3, 3)
        np.testing.assert_allclose(probability_set.probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(sets["A"].probs, MODEL)


def test_set_b_is_the_calibrated_sixty_forty_blend() -> None:
    calibrator, _ = _fitted_helpers()
    sets = build_probability_sets(MODEL, MARKET, calibrator=calibrator)
    blend = 0.6 * MODEL[:2] + 0.4 * MARKET[:2]
    np.testing.assert_allclose(sets["B"].components["blend"][:2], blend, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(sets["B"].probs[:2], calibrator.transform(sets["B"].components["blend"][:2]))
    assert sets["B"].flags == () and sets["B"].metadata["calibration_method"] == "temperature"
    assert sets["B"].metadata["applied_market_weight"] == pytest.approx(0.4)
    uncalibrated = build_probability_sets(MODEL, MARKET)["B"]
    assert FLAG_UNCALIBRATED in uncalibrated.flags and uncalibrated.metadata["calibration_method"] == "identity"
    np.testing.assert_allclose(uncalibrated.probs[:2], blend, atol=1e-15)


def test_set_c_requests_eighty_percent_market_and_gets_the_cap() -> None:
    set_c = build_probability_sets(MODEL, MARKET)["C"]
    np.testing.assert_allclose(set_c.probs[:2], 0.3 * MODEL[:2] + 0.7 * MARKET[:2], atol=1e-15)
    assert FLAG_MARKET_WEIGHT_CLIPPED in set_c.flags
    assert set_c.metadata["requested_market_weight"] == pytest.approx(0.8)
    assert set_c.metadata["applied_market_weight"] == pytest.approx(MAX_MARKET_WEIGHT)
    assert "30% / 70% applied" in set_c.description
    loose = build_probability_sets(MODEL, MARKET, config=ProbabilitySetConfig(max_market_weight=0.9))["C"]
    assert loose.flags == ()
    np.testing.assert_allclose(loose.probs[:2], 0.2 * MODEL[:2] + 0.8 * MARKET[:2], atol=1e-15)


def test_set_d_boosts_the_draw_and_keeps_the_home_away_ratio() -> None:
    sets = build_probability_sets(MODEL, MARKET)
    base, boosted = sets["B"].probs, sets["D"].probs
    np.testing.assert_allclose(boosted[:, 1], base[:, 1] * 1.15, rtol=1e-15)
    np.testing.assert_allclose(boosted[:, 0] / boosted[:, 2], base[:, 0] / base[:, 2], rtol=1e-14)
    assert sets["D"].flags == (FLAG_HEURISTIC,)
    stronger = build_probability_sets(MODEL, MARKET, config=ProbabilitySetConfig(draw_boost_factor=1.3))["D"]
    np.testing.assert_allclose(stronger.probs[:, 1], base[:, 1] * 1.3, rtol=1e-15)
    # A boost past certainty is capped at 1 and flagged on that row.
    capped = build_probability_sets(np.array([[0.05, 0.9, 0.05]]), None)["D"]
    np.testing.assert_allclose(capped.probs, [[0.0, 1.0, 0.0]], atol=1e-15)
    assert capped.row_flags[FLAG_DRAW_BOOST_CAPPED].tolist() == [True]


def test_set_e_sharpens_set_b_for_display_only() -> None:
    sets = build_probability_sets(MODEL, MARKET)
    base = sets["B"].probs
    expected = base**1.5 / (base**1.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(sets["E"].probs, expected, rtol=1e-15)
    entropy = lambda p: -(p * np.log(p)).sum(axis=1)  # noqa: E731
    assert np.all(entropy(sets["E"].probs) < entropy(base))
    assert np.array_equal(np.argsort(sets["E"].probs, axis=1), np.argsort(base, axis=1))
    assert set(sets["E"].flags) == {FLAG_HEURISTIC, FLAG_DISPLAY_ONLY}


def test_set_g_is_the_stacked_pool_and_equals_a_without_odds() -> None:
    _, pool = _fitted_helpers()
    sets = build_probability_sets(MODEL, MARKET, stacked_pool=pool)
    np.testing.assert_array_equal(sets["G"].probs, pool.predict(MODEL, MARKET))
    assert sets["G"].probs[2].tobytes() == MODEL[2].tobytes()
    assert sets["G"].metadata["model_exponent"] == pool.model_exponent_
    without_pool = build_probability_sets(MODEL, MARKET)["G"]
    assert FLAG_NO_STACKED_POOL in without_pool.flags
    np.testing.assert_array_equal(without_pool.probs, MODEL)


def test_set_g_records_a_clipped_market_share() -> None:
    pool = StackedPool.from_dict(
        {
            "kind": "stacked_pool", "version": 1, "max_market_weight": None, "model_exponent": 0.3,
            "market_exponent": 0.7, "requested_market_share": 0.9, "market_share": 0.7,
            "applied_max_market_weight": 0.7, "clipped": True, "n_fit_rows": 100, "training_log_loss": 1.0,
        }
    )
    set_g = build_probability_sets(MODEL, MARKET, stacked_pool=pool)["G"]
    assert FLAG_MARKET_SHARE_CLIPPED in set_g.flags and set_g.metadata["requested_market_share"] == 0.9


def test_set_f_edges_and_kelly_fractions_by_hand() -> None:
    sets = build_probability_sets(MODEL, MARKET, operator_odds=OPERATOR_ODDS)
    set_f = sets["F"]
    np.testing.assert_array_equal(set_f.probs, sets["G"].probs)
    p = set_f.probs[0]
    edge = p * OPERATOR_ODDS[0] - 1
    np.testing.assert_allclose(set_f.components["edge"][0], edge, rtol=1e-15)
    np.testing.assert_allclose(set_f.components["kelly_fraction"][0], np.maximum(edge / (OPERATOR_ODDS[0] - 1), 0))
    # Home at 2.2 with p = 0.5: edge 0.1, Kelly 0.1 / 1.2; draw at 3.1 with 0.3: edge -0.07 -> Kelly 0.
    assert set_f.components["edge"][0, 0] == pytest.approx(0.1)
    assert set_f.components["kelly_fraction"][0, 0] == pytest.approx(0.1 / 1.2)
    assert set_f.components["kelly_fraction"][0, 1] == 0.0
    assert np.isnan(set_f.components["edge"][1]).all() and np.isnan(set_f.components["kelly_fraction"][1]).all()
    assert set_f.row_flags[FLAG_NO_OPERATOR_ODDS].tolist() == [False, True, False]
    assert set_f.flags_for_row(1) == [FLAG_NO_OPERATOR_ODDS]
    assert set_f.flags_for_row(2) == [FLAG_NO_MARKET_ODDS]


def test_set_f_without_any_odds_is_flagged_and_nan() -> None:
    set_f = build_probability_sets(MODEL, MARKET)["F"]
    assert FLAG_NO_OPERATOR_ODDS in set_f.flags
    assert np.isnan(set_f.components["edge"]).all()
    assert set_f.metadata["n_no_operator_odds"] == 3


def test_invalid_operator_odds_raise_with_the_row() -> None:
    odds = OPERATOR_ODDS.copy()
    odds[2] = [1.0, 5.0, 9.0]
    with pytest.raises(InvalidOdds, match=r"invalid odds at row 2: odds \[1.0, 5.0, 9.0\]"):
        build_probability_sets(MODEL, MARKET, operator_odds=odds)


def test_rows_without_market_odds_fall_back_to_a_and_are_flagged() -> None:
    calibrator, pool = _fitted_helpers()
    sets = build_probability_sets(MODEL, MARKET, calibrator=calibrator, stacked_pool=pool, operator_odds=OPERATOR_ODDS)
    for name in ("B", "C", "G", "F"):
        assert sets[name].probs[2].tobytes() == MODEL[2].tobytes(), name
    for name in ("B", "C", "D", "E", "F", "G"):
        assert sets[name].row_flags[FLAG_NO_MARKET_ODDS].tolist() == [False, False, True], name
        assert sets[name].metadata["n_no_market_odds"] == 1
    # D and E are derived from the fallback, i.e. from A.
    np.testing.assert_allclose(sets["D"].probs[2, 1], MODEL[2, 1] * 1.15)
    no_market_at_all = build_probability_sets(MODEL, None)
    for name in ("B", "C", "G"):
        np.testing.assert_array_equal(no_market_at_all[name].probs, MODEL)
        assert no_market_at_all[name].row_flags[FLAG_NO_MARKET_ODDS].all()
    assert "no_market_odds" in no_market_at_all["B"].to_frame()["flags"].iloc[0]


def test_input_validation() -> None:
    with pytest.raises(ValueError, match=r"model_probs row 1 is \[0.5, 0.5, 0.5\]"):
        build_probability_sets(np.array([[0.5, 0.3, 0.2], [0.5, 0.5, 0.5]]), None)
    with pytest.raises(ValueError, match="market_probs row 0"):
        build_probability_sets(MODEL[:1], np.array([[0.5, np.inf, 0.2]]))
    with pytest.raises(ValueError, match=r"market_probs must have shape \(3, 3\)"):
        build_probability_sets(MODEL, MARKET[:2])
    with pytest.raises(ValueError, match="set_b_model_weight"):
        ProbabilitySetConfig(set_b_model_weight=1.5)
    with pytest.raises(ValueError, match="sharpen_exponent"):
        ProbabilitySetConfig(sharpen_exponent=0)
    # Rows a rounding error away from 1 are accepted and renormalised.
    slightly_off = MODEL * (1 + 1e-9)
    assert build_probability_sets(slightly_off, None)["A"].probs.sum(axis=1) == pytest.approx(1.0, abs=1e-15)


def test_batch_rows_equal_single_fixture_calls_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    model = rng.dirichlet([8, 5, 6], size=200)
    market = rng.dirichlet([8, 5, 6], size=200)
    market[::9] = np.nan
    odds = 1 / (rng.dirichlet([8, 5, 6], size=200) * 1.06)
    blend = 0.6 * model[~np.isnan(market).any(axis=1)] + 0.4 * market[~np.isnan(market).any(axis=1)]
    calibrator = DirichletCalibrator().fit(blend, rng.integers(0, 3, size=len(blend)))
    pool = StackedPool().fit(model, market, rng.integers(0, 3, size=200))
    kwargs = {"calibrator": calibrator, "stacked_pool": pool}
    batch = build_probability_sets(model, market, operator_odds=odds, **kwargs)
    again = build_probability_sets(model.copy(), market.copy(), operator_odds=odds.copy(), **kwargs)
    for row in (0, 9, 57, 199):
        single = build_probability_sets(model[row : row + 1], market[row : row + 1], operator_odds=odds[row : row + 1], **kwargs)
        for name in SET_NAMES:
            assert single[name].probs.tobytes() == batch[name].probs[row : row + 1].tobytes(), (name, row)
            assert single[name].flags_for_row(0) == batch[name].flags_for_row(row)
    for name in SET_NAMES:
        assert again[name].probs.tobytes() == batch[name].probs.tobytes()


probability_rows = arrays(np.float64, (12, 3), elements=st.floats(0.0, 1.0)).map(
    lambda weights: (weights + 1e-4) / (weights + 1e-4).sum(axis=1, keepdims=True)
)


@settings(max_examples=100, deadline=None)
@given(
    model=probability_rows,
    market=probability_rows,
    missing=arrays(np.bool_, (12,)),
    odds=arrays(np.float64, (12, 3), elements=st.floats(1.01, 50.0)),
    with_calibrator=st.booleans(),
    with_pool=st.booleans(),
    draw_boost=st.floats(0.5, 3.0),
    sharpen=st.floats(0.2, 4.0),
)
def test_every_set_is_a_distribution_for_any_input(
    model: np.ndarray,
    market: np.ndarray,
    missing: np.ndarray,
    odds: np.ndarray,
    with_calibrator: bool,
    with_pool: bool,
    draw_boost: float,
    sharpen: float,
) -> None:
    market = market.copy()
    market[missing] = np.nan
    # Books with an overround below 1 are arbitrages (refused); replace them with a real book.
    odds = np.where((1 / odds).sum(axis=1, keepdims=True) >= 1, odds, [[2.4, 2.9, 4.0]])
    outcomes_ = np.arange(12) % 3
    calibrator = TemperatureCalibrator().fit(model, outcomes_) if with_calibrator else None
    pool = StackedPool().fit(model, market, outcomes_) if with_pool and (~missing).any() else None
    config = ProbabilitySetConfig(draw_boost_factor=draw_boost, sharpen_exponent=sharpen)
    sets = build_probability_sets(model, market, calibrator=calibrator, stacked_pool=pool, operator_odds=odds, config=config)
    for name, probability_set in sets.items():
        probs = probability_set.probs
        assert np.all((probs >= 0) & (probs <= 1)), name
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-9)
        if name != "A":
            assert probability_set.row_flags[FLAG_NO_MARKET_ODDS].tolist() == missing.tolist(), name
    assert np.all(sets["F"].components["kelly_fraction"] >= 0)


def test_on_real_odds_the_sets_behave_as_designed(shared_data: Path) -> None:
    """Bet365 pre-closing odds stand in for the model (A) and Pinnacle closing odds are the
    market: the blends must beat the weaker source and C (more market) must beat B."""
    train = read_seasons(shared_data, LEAGUES, ["2122", "2223"])
    test = read_seasons(shared_data, LEAGUES, ["2324"])

    def sources(frame):  # type: ignore[no-untyped-def]
        weaker, has_weaker = devig_available(odds_matrix(frame, "B365"))
        closing, _ = devig_available(odds_matrix(frame, "PSC"))
        return weaker.probs[has_weaker], closing.probs[has_weaker], outcomes(frame)[has_weaker]

    train_model, train_market, train_outcomes = sources(train)
    with_market = ~np.isnan(train_market).any(axis=1)
    blend = 0.6 * train_model[with_market] + 0.4 * train_market[with_market]
    selection = select_calibrator(blend, train_outcomes[with_market])
    pool = StackedPool().fit(train_model, train_market, train_outcomes)
    model, market, observed = sources(test)
    operator_odds = odds_matrix(test, "B365")
    operator_odds = operator_odds[~np.isnan(operator_odds).any(axis=1)]
    sets = build_probability_sets(
        model, market, calibrator=selection.calibrator, stacked_pool=pool, operator_odds=operator_odds
    )
    rps = {name: ranked_probability_score(s.probs, observed) for name, s in sets.items()}
    assert rps["C"] < rps["B"] < rps["A"]
    assert log_loss(sets["G"].probs, observed) < log_loss(sets["A"].probs, observed)
    assert 0.19 < rps["C"] < 0.21
    assert isinstance(selection.calibrator, (IdentityCalibrator, TemperatureCalibrator, DirichletCalibrator))
