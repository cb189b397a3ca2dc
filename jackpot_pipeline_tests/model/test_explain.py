from __future__ import annotations

import json

import numpy as np
import pytest

from jackpot_pipeline.model.blending import StackedPool
from jackpot_pipeline.model.calibration import TemperatureCalibrator
from jackpot_pipeline.model.explain import explain_fixture
from jackpot_pipeline.model.probability_sets import build_probability_sets

MODEL = np.array([[0.50, 0.30, 0.20], [0.40, 0.35, 0.25]])
MARKET = np.array([[0.40, 0.30, 0.30], [np.nan, np.nan, np.nan]])
ODDS = np.array([[2.2, 3.1, 3.0], [np.nan, np.nan, np.nan]])
OUTCOMES = ("home", "draw", "away")
LAMBDA_TERMS = {
    "home_team": "Arsenal",
    "log_lambda_home": {"intercept": np.float64(0.1), "home_advantage": 0.25, "attack": 0.3, "defence": -0.1},
    "lambda_home": np.float64(1.7),
    "rho": np.float64(-0.05),
    "grid": np.array([0.1, 0.2]),
}


def _values(by_outcome: dict[str, float]) -> np.ndarray:
    return np.array([by_outcome[outcome] for outcome in OUTCOMES])


@pytest.fixture(scope="module")
def sets():  # type: ignore[no-untyped-def]
    calibrator = TemperatureCalibrator()
    calibrator.temperature_, calibrator.n_fit_rows_ = 1.1, 1000  # a known, fixed calibration
    pool = StackedPool.from_exponents(0.45, 0.55)
    return build_probability_sets(MODEL, MARKET, calibrator=calibrator, stacked_pool=pool, operator_odds=ODDS)


def test_explanation_is_strict_json_and_embeds_the_lambda_terms(sets) -> None:  # type: ignore[no-untyped-def]
    explanation = explain_fixture(sets, 0, lambda_decomposition=LAMBDA_TERMS, fixture={"home": "Arsenal", "away": "Leeds"})
    text = json.dumps(explanation, allow_nan=False)
    assert json.loads(text) == explanation
    assert explanation["dixon_coles"]["log_lambda_home"]["intercept"] == 0.1
    assert explanation["dixon_coles"]["grid"] == [0.1, 0.2]
    assert explanation["fixture"] == {"home": "Arsenal", "away": "Leeds"}
    assert explanation["market_odds_available"] is True
    assert list(explanation["sets"]) == list("ABCDEFG")
    for name, entry in explanation["sets"].items():
        assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-12), name


def test_linear_pool_contributions_add_up_by_hand(sets) -> None:  # type: ignore[no-untyped-def]
    explanation = explain_fixture(sets, 0)["sets"]
    b = explanation["B"]["derivation"]
    assert b["model_weight"] == 0.6 and b["market_weight"] == pytest.approx(0.4)
    np.testing.assert_allclose(_values(b["model_contribution"]), 0.6 * MODEL[0])
    np.testing.assert_allclose(_values(b["model_contribution"]) + _values(b["market_contribution"]), _values(b["blend"]))
    np.testing.assert_allclose(_values(b["blend"]) + _values(b["calibration_shift"]), _values(explanation["B"]["probabilities"]))
    assert b["calibration_method"] == "temperature"
    assert abs(_values(b["calibration_shift"])).max() > 1e-4  # T = 1.1 really moves the numbers
    c = explanation["C"]["derivation"]
    assert c["requested_market_weight"] == pytest.approx(0.8) and c["market_weight"] == pytest.approx(0.7)
    assert c["market_weight_clipped"] is True and "calibration_shift" not in c
    np.testing.assert_allclose(_values(c["blend"]), _values(explanation["C"]["probabilities"]))
    assert "market_weight_clipped" in explanation["C"]["flags"]


def test_heuristic_adjustments_by_hand(sets) -> None:  # type: ignore[no-untyped-def]
    explanation = explain_fixture(sets, 0)["sets"]
    d = explanation["D"]["derivation"]
    base = _values(d["base"])
    np.testing.assert_allclose(base, _values(explanation["B"]["probabilities"]))
    assert d["boosted_draw"] == pytest.approx(base[1] * 1.15)
    assert d["home_away_scale"] == pytest.approx((1 - base[1] * 1.15) / (base[0] + base[2]))
    np.testing.assert_allclose(base + _values(d["adjustment"]), _values(explanation["D"]["probabilities"]))
    e = explanation["E"]["derivation"]
    np.testing.assert_allclose(_values(e["powered"]), base**1.5)
    np.testing.assert_allclose(_values(e["powered"]) / e["normaliser"], _values(explanation["E"]["probabilities"]))
    assert "display_only" in explanation["E"]["flags"]


def test_stacked_pool_log_terms_reproduce_set_g(sets) -> None:  # type: ignore[no-untyped-def]
    explanation = explain_fixture(sets, 0)["sets"]
    g = explanation["G"]["derivation"]
    assert g["model_exponent_a"] == 0.45 and g["market_exponent_b"] == 0.55
    np.testing.assert_allclose(_values(g["model_log_term"]), 0.45 * np.log(MODEL[0]))
    np.testing.assert_allclose(_values(g["log_score"]), _values(g["model_log_term"]) + _values(g["market_log_term"]))
    recomputed = np.exp(_values(g["log_score"]) - g["log_normaliser"])
    np.testing.assert_allclose(recomputed, _values(explanation["G"]["probabilities"]), rtol=1e-14)
    f = explanation["F"]["derivation"]
    p = _values(explanation["F"]["probabilities"])
    np.testing.assert_allclose(_values(f["edge"]), p * ODDS[0] - 1)
    assert f["kelly_fraction"]["home"] == pytest.approx(max((p[0] * 2.2 - 1) / 1.2, 0))


def test_fixture_without_odds_names_its_fallbacks(sets) -> None:  # type: ignore[no-untyped-def]
    explanation = explain_fixture(sets, -1)
    assert explanation["row"] == 1 and explanation["market_odds_available"] is False
    text = json.dumps(explanation, allow_nan=False)
    assert "NaN" not in text
    for name in ("B", "C"):
        assert "falls back to Set A" in explanation["sets"][name]["derivation"]["fallback"]
        assert "no_market_odds" in explanation["sets"][name]["flags"]
    assert "equals Set A" in explanation["sets"]["G"]["derivation"]["fallback"]
    f = explanation["sets"]["F"]["derivation"]
    assert f["edge"] == {"home": None, "draw": None, "away": None} and "no odds supplied" in f["note"]
    np.testing.assert_allclose(_values(explanation["sets"]["B"]["probabilities"]), MODEL[1])


def test_errors_and_json_conversion() -> None:
    sets = build_probability_sets(MODEL, MARKET)
    with pytest.raises(IndexError, match="row 2 out of range for 2 fixtures"):
        explain_fixture(sets, 2)
    with pytest.raises(ValueError, match="no probability sets"):
        explain_fixture({}, 0)
    assert "no stacked pool fitted" in explain_fixture(sets, 0)["sets"]["G"]["derivation"]["fallback"]
    assert json.loads(json.dumps(explain_fixture(sets, 0), allow_nan=False)) == explain_fixture(sets, 0)
