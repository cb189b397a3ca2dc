from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from jackpot_pipeline.model.metrics import brier_score, log_loss, ranked_probability_score
from jackpot_pipeline.model.odds import (
    DEVIG_METHODS,
    InvalidOdds,
    available_odds,
    devig,
    devig_available,
    multiplicative_devig,
    overround,
    power_devig,
    shin_devig,
    validate_odds,
)
from jackpot_pipeline_tests.model.real_matches import LEAGUES, odds_matrix, outcomes, read_season

EXAMPLE_ODDS = np.array([[2.10, 3.40, 3.60], [1.30, 5.50, 11.0]])


# --- strategies ------------------------------------------------------------------------


@st.composite
def simplex_rows(draw: st.DrawFn, min_weight: float = 0.02) -> np.ndarray:
    weights = np.array([draw(st.floats(min_weight, 1.0)) for _ in range(3)])
    return weights / weights.sum()


@st.composite
def odds_with_margin(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    """Fair probabilities p, a margin m, and odds 1 / (p (1 + m)) (a proportional book)."""
    p = draw(simplex_rows())
    # Keep the shortest price at or above the 1.01 minimum.
    margin = draw(st.floats(0.0, min(0.15, 1.0 / (1.01 * p.max()) - 1.0)))
    return p, 1.0 / (p * (1.0 + margin)), margin


# --- hand-computed examples ----------------------------------------------------------------


def test_multiplicative_by_hand() -> None:
    inverse = [1 / 2.10, 1 / 3.40, 1 / 3.60]
    booksum = sum(inverse)
    result = multiplicative_devig(EXAMPLE_ODDS[:1])
    np.testing.assert_allclose(result.probs[0], [x / booksum for x in inverse], rtol=0, atol=1e-15)
    assert result.margin[0] == pytest.approx(booksum - 1)
    assert result.margin[0] == pytest.approx(0.0480859, abs=1e-7)
    assert np.isnan(result.parameter).all()


def test_additive_by_hand() -> None:
    inverse = np.array([1 / 1.30, 1 / 5.50, 1 / 11.0])
    margin = inverse.sum() - 1
    result = devig(EXAMPLE_ODDS[1:], "additive")
    np.testing.assert_allclose(result.probs[0], inverse - margin / 3, rtol=0, atol=1e-15)
    # 0.76923 - 0.01399 = 0.75524, 0.18182 - 0.01399 = 0.16783, 0.09091 - 0.01399 = 0.07692
    np.testing.assert_allclose(result.probs[0], [0.755245, 0.167832, 0.076923], atol=1e-6)


def test_power_matches_a_direct_root_solve() -> None:
    result = power_devig(EXAMPLE_ODDS)
    for row, odds in enumerate(EXAMPLE_ODDS):
        inverse = 1 / odds
        k = brentq(lambda k: (inverse**k).sum() - 1, 1.0, 10.0, xtol=1e-15, rtol=1e-15)
        assert result.parameter[row] == pytest.approx(k, rel=1e-12)
        np.testing.assert_allclose(result.probs[row], inverse**k, rtol=1e-12)
    # The favourite keeps more than under proportional de-vig (long shots carry more margin).
    assert result.probs[1, 0] > multiplicative_devig(EXAMPLE_ODDS).probs[1, 0]


def _shin_probabilities(inverse: np.ndarray, z: float) -> np.ndarray:
    booksum = inverse.sum()
    return (np.sqrt(z**2 + 4 * (1 - z) * inverse**2 / booksum) - z) / (2 * (1 - z))


def test_shin_matches_a_direct_root_solve() -> None:
    result = shin_devig(EXAMPLE_ODDS)
    for row, odds in enumerate(EXAMPLE_ODDS):
        inverse = 1 / odds
        z = brentq(lambda z: _shin_probabilities(inverse, z).sum() - 1, 0.0, 0.5, xtol=1e-16, rtol=1e-15)
        assert result.parameter[row] == pytest.approx(z, rel=1e-9)
        np.testing.assert_allclose(result.probs[row], _shin_probabilities(inverse, z), rtol=1e-10)
    # Worked value for 2.10 / 3.40 / 3.60: the insider share is about 2.4 %.
    assert result.parameter[0] == pytest.approx(0.02408284, abs=1e-8)
    np.testing.assert_allclose(result.probs[0], [0.4586657, 0.2787376, 0.2625967], atol=1e-7)


def test_overround_and_margin() -> None:
    np.testing.assert_allclose(overround(EXAMPLE_ODDS), (1 / EXAMPLE_ODDS).sum(axis=1))
    for method in DEVIG_METHODS:
        np.testing.assert_allclose(devig(EXAMPLE_ODDS, method).margin, overround(EXAMPLE_ODDS) - 1)


def test_single_fixture_accepts_a_flat_triple() -> None:
    assert devig([2.10, 3.40, 3.60]).probs.shape == (1, 3)


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(p=simplex_rows(), method=st.sampled_from(DEVIG_METHODS))
def test_fair_odds_return_the_probabilities(p: np.ndarray, method: str) -> None:
    result = devig(1.0 / p[np.newaxis, :], method)  # type: ignore[arg-type]
    np.testing.assert_allclose(result.probs[0], p, rtol=0, atol=1e-12)
    assert abs(result.margin[0]) < 1e-12


@settings(max_examples=200, deadline=None)
@given(case=odds_with_margin())
def test_multiplicative_inverts_a_proportional_margin(case: tuple[np.ndarray, np.ndarray, float]) -> None:
    p, odds, margin = case
    result = multiplicative_devig(odds[np.newaxis, :])
    np.testing.assert_allclose(result.probs[0], p, rtol=0, atol=1e-12)
    assert result.margin[0] == pytest.approx(margin, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(case=odds_with_margin(), method=st.sampled_from(("multiplicative", "power", "shin")))
def test_probabilities_are_valid_and_keep_the_odds_ordering(
    case: tuple[np.ndarray, np.ndarray, float], method: str
) -> None:
    _, odds, _ = case
    probs = devig(odds[np.newaxis, :], method).probs[0]  # type: ignore[arg-type]
    assert np.all((probs >= 0) & (probs <= 1))
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    for i in range(3):
        for j in range(3):
            if odds[i] < odds[j]:
                assert probs[i] >= probs[j]
                if odds[j] > odds[i] * (1 + 1e-9):
                    assert probs[i] > probs[j]


@settings(max_examples=200, deadline=None)
@given(case=odds_with_margin())
def test_additive_is_valid_or_refuses(case: tuple[np.ndarray, np.ndarray, float]) -> None:
    _, odds, _ = case
    inverse = 1 / odds
    negative = (inverse - (inverse.sum() - 1) / 3 < 0).any()
    if negative:
        with pytest.raises(InvalidOdds, match="additive de-vig .* negative probability"):
            devig(odds[np.newaxis, :], "additive")
    else:
        probs = devig(odds[np.newaxis, :], "additive").probs[0]
        assert np.all(probs >= 0) and probs.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(cases=st.lists(odds_with_margin(), min_size=2, max_size=12), method=st.sampled_from(DEVIG_METHODS))
def test_rows_do_not_depend_on_the_batch_and_results_are_deterministic(
    cases: list[tuple[np.ndarray, np.ndarray, float]], method: str
) -> None:
    odds = np.array([case[1] for case in cases])
    inverse = 1 / odds
    if method == "additive" and (inverse - ((inverse.sum(axis=1) - 1) / 3)[:, None] < 0).any():
        return
    batch = devig(odds, method)  # type: ignore[arg-type]
    again = devig(odds.copy(), method)  # type: ignore[arg-type]
    assert batch.probs.tobytes() == again.probs.tobytes()
    for row in range(len(odds)):
        alone = devig(odds[row : row + 1], method)  # type: ignore[arg-type]
        assert alone.probs.tobytes() == batch.probs[row : row + 1].tobytes()
        assert alone.parameter.tobytes() == batch.parameter[row : row + 1].tobytes()


# --- errors and partial coverage -------------------------------------------------------------


@pytest.mark.parametrize(
    ("odds", "message"),
    [
        ([[2.0, 3.0, 3.5], [2.0, 3.0, 1.005]], r"invalid odds at row 1: odds \[2.0, 3.0, 1.005\] include a price below the minimum 1.01"),
        ([[2.0, 3.0, 3.5], [2.0, np.nan, 3.5]], r"invalid odds at row 1: non-finite odds \[2.0, nan, 3.5\]"),
        ([[np.inf, 3.0, 3.5]], r"invalid odds at row 0: non-finite odds \[inf, 3.0, 3.5\]"),
        ([[2.0, 3.0, 3.5], [2.0, 3.0, 3.0], [3.0, 3.0, 3.5]], r"invalid odds at row 2: odds \[3.0, 3.0, 3.5\] have overround 0.952380952380952\d* < 1"),
        ([[-2.0, 3.0, 3.5]], r"invalid odds at row 0: odds \[-2.0, 3.0, 3.5\] include a price below"),
    ],
)
@pytest.mark.parametrize("method", DEVIG_METHODS)
def test_invalid_odds_name_the_row_and_value(odds: list[list[float]], message: str, method: str) -> None:
    with pytest.raises(InvalidOdds, match=message) as raised:
        devig(np.array(odds), method)  # type: ignore[arg-type]
    assert isinstance(raised.value, ValueError)
    assert raised.value.row == int(message.split("row ")[1].split(":")[0])


def test_additive_refuses_a_long_shot_smaller_than_a_third_of_the_margin() -> None:
    # 1/1.02 + 1/8 + 1/60 = 1.1218: a third of the margin (0.0406) exceeds 1/60 = 0.0167.
    with pytest.raises(InvalidOdds, match=r"row 1: additive de-vig of odds \[1.02, 8.0, 60.0\] gives a negative"):
        devig([[2.0, 3.4, 3.6], [1.02, 8.0, 60.0]], "additive")


def test_shape_errors_are_plain_value_errors() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        validate_odds([[2.0, 3.0]])
    with pytest.raises(ValueError, match="unknown de-vig method 'fancy'"):
        devig(EXAMPLE_ODDS, "fancy")  # type: ignore[arg-type]


def test_devig_available_returns_nan_rows_and_a_mask() -> None:
    odds = np.array([[2.1, 3.4, 3.6], [np.nan, np.nan, np.nan], [1.3, np.nan, 11.0], [1.3, 5.5, 11.0]])
    for method in DEVIG_METHODS:
        result, available = devig_available(odds, method)  # type: ignore[arg-type]
        assert available.tolist() == [True, False, False, True]
        assert np.isnan(result.probs[~available]).all() and np.isnan(result.margin[~available]).all()
        expected = devig(odds[available], method)  # type: ignore[arg-type]
        assert result.probs[available].tobytes() == expected.probs.tobytes()


def test_devig_available_reports_invalid_rows_by_their_full_index() -> None:
    odds = np.array([[np.nan, 3.0, 3.0], [2.0, 3.4, 3.6], [1.001, 3.0, 3.0]])
    with pytest.raises(InvalidOdds, match=r"invalid odds at row 2: odds \[1.001, 3.0, 3.0\]"):
        devig_available(odds)
    with pytest.raises(InvalidOdds, match=r"invalid odds at row 2: additive"):
        devig_available(np.array([[np.nan, 3.0, 3.0], [2.0, 3.4, 3.6], [1.02, 8.0, 60.0]]), "additive")
    result, available = devig_available(odds, invalid="missing")
    assert available.tolist() == [False, True, False]
    assert np.isfinite(result.probs[1]).all()


def test_available_odds_validates_only_present_rows() -> None:
    array, available = available_odds([[np.nan, 2.0, 2.0], [2.0, 3.4, 3.6]])
    assert available.tolist() == [False, True]
    with pytest.raises(InvalidOdds, match="row 1"):
        available_odds([[np.nan, 2.0, 2.0], [1.0, 3.4, 3.6]])


# --- real data -------------------------------------------------------------------------------

REAL_SEASONS = ["1516", "1617", "1718", "1819", "1920", "2021", "2122", "2223", "2324"]


def test_pinnacle_closing_proportional_devig_scores_like_the_measured_market(shared_data: Path) -> None:
    """STYLE.md: Pinnacle closing, proportional de-vig, RPS 0.1983 / Brier 0.5817 / log loss
    0.9771 over a 15,827-match walk-forward sample. Here: every match of the six leagues,
    2015/16-2023/24 (a slightly different sample), so the band is a little wider."""
    probs, observed, n_missing = [], [], 0
    for league in LEAGUES:
        for season in REAL_SEASONS:
            frame = read_season(shared_data, league, season)
            result, available = devig_available(odds_matrix(frame, "PSC"))
            probs.append(result.probs[available])
            observed.append(outcomes(frame)[available])
            n_missing += int((~available).sum())
    forecast, results = np.vstack(probs), np.concatenate(observed)
    assert len(results) > 20_000
    assert 0 < n_missing < 20  # real gaps exist (empty PSC cells) and are handled without errors
    assert 0.195 <= ranked_probability_score(forecast, results) <= 0.201
    assert 0.575 <= brier_score(forecast, results) <= 0.590
    assert 0.965 <= log_loss(forecast, results) <= 0.990
    # Pinnacle's closing margin is small: about 2-3 %.
    for league in ("E0", "SP1"):
        margin = devig_available(odds_matrix(read_season(shared_data, league, "2324"), "PSC"))[0].margin
        assert 0.015 < float(np.nanmedian(margin)) < 0.035


def test_all_methods_agree_closely_on_real_closing_odds(shared_data: Path) -> None:
    frames = [read_season(shared_data, league, "2223") for league in LEAGUES]
    odds = np.vstack([odds_matrix(frame, "PSC") for frame in frames])
    results = np.concatenate([outcomes(frame) for frame in frames])
    scores = {}
    for method in DEVIG_METHODS:
        result, available = devig_available(odds, method)  # type: ignore[arg-type]
        assert np.allclose(np.nansum(result.probs, axis=1)[available], 1.0, atol=1e-12)
        scores[method] = ranked_probability_score(result.probs[available], results[available])
    assert max(scores.values()) - min(scores.values()) < 0.001
    # Power and Shin take more margin off long shots than proportional de-vig does.
    proportional = devig_available(odds, "multiplicative")[0].probs
    shin = devig_available(odds, "shin")[0].probs
    favourite = np.nanargmax(proportional, axis=1)
    rows = np.flatnonzero(~np.isnan(proportional).any(axis=1))
    assert (shin[rows, favourite[rows]] >= proportional[rows, favourite[rows]] - 1e-12).mean() > 0.99
    assert math.isfinite(scores["shin"])


def test_real_invalid_quotes_are_named_or_masked(shared_data: Path) -> None:
    """E1 2012/13 has a Bet365 home price of 0.0 (Blackpool v Derby, 27/04/13)."""
    frame = read_season(shared_data, "E1", "1213")
    odds = odds_matrix(frame, "B365")
    bad_row = int(np.flatnonzero((odds < 1.01).any(axis=1))[0])
    assert frame.loc[bad_row, "HomeTeam"] == "Blackpool"
    with pytest.raises(InvalidOdds, match=rf"invalid odds at row {bad_row}: odds \[0.0, 3.4, 3.4\]"):
        devig_available(odds)
    result, available = devig_available(odds, invalid="missing")
    assert not available[bad_row] and available.sum() == len(odds) - 1
    assert np.isfinite(result.probs[available]).all()
