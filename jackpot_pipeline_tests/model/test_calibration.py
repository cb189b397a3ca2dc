from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import check_grad
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression

from jackpot_pipeline.model.calibration import (
    DEFAULT_CALIBRATION_CANDIDATES,
    PROBABILITY_FLOOR,
    Calibrator,
    DirichletCalibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    TemperatureCalibrator,
    _dirichlet_loss_and_gradient,
    _temperature_loss_and_gradient,
    calibrator_from_dict,
    finalise_probabilities,
    select_calibrator,
)
from jackpot_pipeline.model.metrics import log_loss, one_hot
from jackpot_pipeline.model.odds import devig_available
from jackpot_pipeline_tests.model.real_matches import LEAGUES, odds_matrix, outcomes, read_seasons

CALIBRATOR_CLASSES = (IdentityCalibrator, TemperatureCalibrator, DirichletCalibrator, IsotonicCalibrator)
SEASONS = ["1213", "1314", "1415", "1516", "1617", "1718", "1819", "1920", "2021", "2122", "2223", "2324"]


def _sample_outcomes(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(probs))[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)


def _power(probs: np.ndarray, exponent: float) -> np.ndarray:
    powered = probs**exponent
    return powered / powered.sum(axis=1, keepdims=True)


def _overconfident_data(n: int, exponent: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True probabilities, a forecast p = truth^exponent / sum, and outcomes drawn from the truth."""
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet([8, 5, 6], size=n)
    return truth, _power(truth, exponent), _sample_outcomes(truth, rng)


def _round_trip(calibrator: Calibrator) -> Calibrator:
    return calibrator_from_dict(json.loads(json.dumps(calibrator.to_dict(), allow_nan=False)))


# --- output contract, serialisation, determinism (property tests) ---------------------------

probability_rows = st.integers(30, 120).flatmap(
    lambda n: arrays(np.float64, (n, 3), elements=st.floats(0.0, 1.0)).map(
        lambda weights: (weights + 1e-3) / (weights + 1e-3).sum(axis=1, keepdims=True)
    )
)


@settings(max_examples=40, deadline=None)
@given(
    train=probability_rows,
    seed=st.integers(0, 2**32 - 1),
    test=arrays(np.float64, (25, 3), elements=st.floats(0.0, 1.0)),
)
def test_every_calibrator_outputs_probabilities_round_trips_and_is_deterministic(
    train: np.ndarray, seed: int, test: np.ndarray
) -> None:
    outcomes_ = np.random.default_rng(seed).integers(0, 3, size=len(train))
    # Test rows include exact zeros and ones (after normalisation) on purpose.
    test = np.where(test.sum(axis=1, keepdims=True) > 0, test, 1.0)
    test = test / test.sum(axis=1, keepdims=True)
    for cls in CALIBRATOR_CLASSES:
        calibrator = cls().fit(train, outcomes_)
        assert calibrator.fit(train, outcomes_) is calibrator
        predicted = calibrator.transform(test)
        assert predicted.shape == test.shape
        assert np.all(predicted > 0) and np.all(predicted <= 1)
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        restored = _round_trip(calibrator)
        assert type(restored) is cls
        assert restored.transform(test).tobytes() == predicted.tobytes()
        refitted = cls().fit(train.copy(), outcomes_.copy())
        assert refitted.to_dict() == calibrator.to_dict()
        assert refitted.transform(test).tobytes() == predicted.tobytes()


def test_finalise_floors_and_renormalises() -> None:
    finalised = finalise_probabilities(np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]))
    assert finalised[0, 1] == pytest.approx(PROBABILITY_FLOOR / (1 + 2 * PROBABILITY_FLOOR))
    np.testing.assert_allclose(finalised.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(finalised[1], [0.2, 0.3, 0.5], atol=1e-15)


def test_sklearn_conventions() -> None:
    for cls in CALIBRATOR_CLASSES:
        fresh = cls()
        assert not [name for name in vars(fresh) if name.endswith("_")]
        if cls is not IdentityCalibrator:
            with pytest.raises(NotFittedError):
                fresh.transform([[0.5, 0.3, 0.2]])
            with pytest.raises(NotFittedError):
                fresh.to_dict()
    assert TemperatureCalibrator(min_temperature=0.2).min_temperature == 0.2
    assert DirichletCalibrator(l2=0.5).l2 == 0.5


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="finite; row 1"):
        TemperatureCalibrator().fit([[0.5, 0.3, 0.2], [np.nan, 0.5, 0.5]], [0, 1])
    with pytest.raises(ValueError, match="integer codes"):
        TemperatureCalibrator().fit([[0.5, 0.3, 0.2]], ["H"])
    with pytest.raises(ValueError, match="zero rows"):
        IsotonicCalibrator().fit(np.empty((0, 3)), np.empty(0, dtype=int))
    with pytest.raises(ValueError, match="unknown calibration method 'platt'"):
        calibrator_from_dict({"kind": "calibrator", "version": 1, "method": "platt", "params": {}, "fitted": {}})
    with pytest.raises(ValueError, match="not a version-1 calibrator"):
        calibrator_from_dict({"kind": "stacked_pool"})


# --- each method -----------------------------------------------------------------------------


def test_identity_leaves_valid_probabilities_alone() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    np.testing.assert_allclose(IdentityCalibrator().transform(probs), probs, rtol=0, atol=1e-16)


def test_temperature_recovers_a_known_overconfidence() -> None:
    truth, forecast, observed = _overconfident_data(30_000, exponent=1.5, seed=11)
    calibrator = TemperatureCalibrator().fit(forecast, observed)
    # forecast = softmax(1.5 log truth) so T = 1.5 undoes it exactly.
    assert calibrator.temperature_ == pytest.approx(1.5, abs=0.06)
    np.testing.assert_allclose(calibrator.transform(forecast[:5]), _power(forecast[:5], 1 / calibrator.temperature_))
    assert log_loss(calibrator.transform(forecast), observed) < log_loss(forecast, observed)


def test_analytic_gradients_match_finite_differences() -> None:
    _, forecast, observed = _overconfident_data(400, exponent=1.3, seed=12)
    log_probs = np.log(forecast)
    observed_log = log_probs[np.arange(len(observed)), observed]
    for beta in (0.5, 1.0, 2.0):
        assert check_grad(
            lambda x: _temperature_loss_and_gradient(x, log_probs, observed_log)[0],
            lambda x: _temperature_loss_and_gradient(x, log_probs, observed_log)[1],
            np.array([beta]),
        ) < 1e-6
    targets = one_hot(observed)
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = np.concatenate([np.eye(3).ravel(), np.zeros(3)]) + rng.normal(0, 0.3, 12)
        assert check_grad(
            lambda x: _dirichlet_loss_and_gradient(x, log_probs, targets, 0.01)[0],
            lambda x: _dirichlet_loss_and_gradient(x, log_probs, targets, 0.01)[1],
            point,
        ) < 1e-6


def test_dirichlet_fixes_a_draw_bias_and_shrinks_to_identity_under_heavy_regularisation() -> None:
    rng = np.random.default_rng(13)
    truth = rng.dirichlet([8, 5, 6], size=20_000)
    shrunk_draw = truth * np.array([1.0, 0.7, 1.0])
    forecast = shrunk_draw / shrunk_draw.sum(axis=1, keepdims=True)
    observed = _sample_outcomes(truth, rng)
    train, test = slice(0, 15_000), slice(15_000, None)
    calibrator = DirichletCalibrator().fit(forecast[train], observed[train])
    assert log_loss(calibrator.transform(forecast[test]), observed[test]) < log_loss(forecast[test], observed[test]) - 0.005
    assert calibrator.transform(forecast[test])[:, 1].mean() == pytest.approx(truth[test][:, 1].mean(), abs=0.01)
    heavy = DirichletCalibrator(l2=1e6).fit(forecast[train], observed[train])
    np.testing.assert_allclose(heavy.weights_, np.eye(3), atol=1e-4)
    np.testing.assert_allclose(heavy.transform(forecast[test]), forecast[test], atol=1e-4)


def test_isotonic_stores_breakpoints_and_matches_scikit_learn() -> None:
    _, forecast, observed = _overconfident_data(2_000, exponent=1.4, seed=14)
    calibrator = IsotonicCalibrator().fit(forecast, observed)
    serialised = calibrator.to_dict()["fitted"]
    assert len(serialised["thresholds"]) == 3 and len(serialised["frequencies"]) == 3
    grid = np.linspace(0, 1, 101)
    for outcome in range(3):
        assert np.all(np.diff(serialised["thresholds"][outcome]) > 0)
        assert np.all(np.diff(serialised["frequencies"][outcome]) >= 0)
        reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
            forecast[:, outcome], observed == outcome
        )
        mapped = np.interp(grid, calibrator.thresholds_[outcome], calibrator.frequencies_[outcome])
        np.testing.assert_allclose(mapped, reference.predict(grid), rtol=0, atol=1e-12)


# --- selector ------------------------------------------------------------------------------------


def test_selector_keeps_identity_for_calibrated_forecasts() -> None:
    truth, _, observed = _overconfident_data(4_000, exponent=1.0, seed=21)
    selection = select_calibrator(truth, observed)
    assert selection.method == "identity"
    assert isinstance(selection.calibrator, IdentityCalibrator)
    assert set(selection.holdout_log_loss) == {"identity", *DEFAULT_CALIBRATION_CANDIDATES}
    assert selection.n_fit_rows == 2_000 and selection.n_holdout_rows == 2_000
    assert json.dumps(selection.to_dict(), allow_nan=False)


def test_selector_scores_on_the_last_slice_and_refits_the_winner_on_everything() -> None:
    _, forecast, observed = _overconfident_data(4_000, exponent=1.6, seed=22)
    selection = select_calibrator(forecast, observed, holdout_fraction=0.25)
    assert selection.method in DEFAULT_CALIBRATION_CANDIDATES
    assert selection.n_fit_rows == 3_000 and selection.n_holdout_rows == 1_000
    # Held-out scores are reproducible by hand: fit on the first 3,000 rows, score the last 1,000.
    for name, factory in DEFAULT_CALIBRATION_CANDIDATES.items():
        manual = factory().fit(forecast[:3_000], observed[:3_000]).transform(forecast[3_000:])
        assert selection.holdout_log_loss[name] == pytest.approx(log_loss(manual, observed[3_000:]), abs=1e-12)
    assert selection.holdout_log_loss["identity"] == pytest.approx(log_loss(forecast[3_000:], observed[3_000:]), abs=1e-9)
    assert selection.holdout_log_loss[selection.method] == min(selection.holdout_log_loss.values())
    refitted = DEFAULT_CALIBRATION_CANDIDATES[selection.method]().fit(forecast, observed)
    assert selection.calibrator.to_dict() == refitted.to_dict()
    assert "refitted on all rows" in selection.reason


def test_selector_requires_a_margin_not_just_a_win() -> None:
    _, forecast, observed = _overconfident_data(4_000, exponent=1.6, seed=22)
    picky = select_calibrator(forecast, observed, min_improvement=1.0)
    assert picky.method == "identity" and "required margin" in picky.reason
    best = min(v for k, v in picky.holdout_log_loss.items() if k != "identity")
    assert best < picky.holdout_log_loss["identity"]  # it did win, just not by enough


def test_selector_falls_back_without_enough_rows_and_records_candidate_errors() -> None:
    truth, forecast, observed = _overconfident_data(300, exponent=1.6, seed=23)
    small = select_calibrator(forecast, observed)
    assert small.method == "identity" and small.holdout_log_loss == {} and "held-back rows" in small.reason

    class Broken:
        method = "broken"

        def fit(self, probs: np.ndarray, outcomes_: np.ndarray) -> Broken:
            raise ValueError("cannot fit")

    selection = select_calibrator(
        forecast, observed, candidates={"broken": Broken, "temperature": TemperatureCalibrator}, min_holdout_rows=100
    )
    assert selection.candidate_errors == {"broken": "ValueError: cannot fit"}
    assert "temperature" in selection.holdout_log_loss
    with pytest.raises(ValueError, match="identity is always the baseline"):
        select_calibrator(forecast, observed, candidates={"identity": IdentityCalibrator})
    with pytest.raises(ValueError, match="holdout_fraction"):
        select_calibrator(forecast, observed, holdout_fraction=1.0)


def test_selector_can_try_isotonic_when_asked() -> None:
    _, forecast, observed = _overconfident_data(3_000, exponent=1.6, seed=24)
    selection = select_calibrator(forecast, observed, candidates={"isotonic": IsotonicCalibrator})
    assert set(selection.holdout_log_loss) == {"identity", "isotonic"}


# --- real data: the acceptance item ---------------------------------------------------------------


def _market_probs(shared_data: Path, leagues: list[str], seasons: list[str], prefix: str):  # type: ignore[no-untyped-def]
    frame = read_seasons(shared_data, leagues, seasons)  # date order, as the selector requires
    implied, available = devig_available(odds_matrix(frame, prefix))
    return implied.probs[available], outcomes(frame)[available]


def _next_season_change(shared_data: Path, leagues: list[str], target: int, prefix: str, exponent: float = 1.0):  # type: ignore[no-untyped-def]
    train_probs, train_outcomes = _market_probs(shared_data, leagues, SEASONS[target - 3 : target], prefix)
    test_probs, test_outcomes = _market_probs(shared_data, leagues, [SEASONS[target]], prefix)
    train_probs, test_probs = _power(train_probs, exponent), _power(test_probs, exponent)
    selection = select_calibrator(train_probs, train_outcomes)
    calibrated = log_loss(selection.calibrator.transform(test_probs), test_outcomes)
    identity = log_loss(IdentityCalibrator().transform(test_probs), test_outcomes)
    return selection, calibrated, identity


@pytest.mark.parametrize("prefix", ["PSC", "PS"])
@pytest.mark.parametrize("league", LEAGUES)
def test_selector_never_worsens_next_season_log_loss_per_league(shared_data: Path, league: str, prefix: str) -> None:
    """Three seasons of one league's market probabilities -> the next season, nine splits per
    league (2015/16 ... 2023/24), Pinnacle closing and pre-closing."""
    for target in range(3, len(SEASONS)):
        selection, calibrated, identity = _next_season_change(shared_data, [league], target, prefix)
        assert calibrated <= identity, (league, SEASONS[target], selection.method, calibrated - identity)


@pytest.mark.parametrize("exponent", [1.0, 0.7, 1.4])
def test_selector_never_worsens_next_season_log_loss_pooled(shared_data: Path, exponent: float) -> None:
    """All six leagues pooled (about 6,000 training rows). Exponent 1 is the real market;
    0.7 and 1.4 distort it (under- and over-confident, like a miscalibrated blend), where the
    selector must actually calibrate -- and still never be worse on the next season."""
    chosen = []
    for target in range(3, len(SEASONS)):
        selection, calibrated, identity = _next_season_change(shared_data, list(LEAGUES), target, "PSC", exponent)
        assert calibrated <= identity, (SEASONS[target], selection.method, calibrated - identity)
        chosen.append(selection.method)
    if exponent == 1.0:
        assert chosen == ["identity"] * len(chosen)
    else:
        assert sum(method != "identity" for method in chosen) >= 7
