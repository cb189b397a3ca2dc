"""Peer check against penaltyblog 1.13.1's DixonColesGoalModel on real seasons.

penaltyblog parametrises log λ_home = hfa + att_i + def_j, log λ_away = att_j + def_i with Σ att = n;
`as_our_fit` maps that onto ours exactly (centred strengths, defence sign flipped, explicit intercept),
and both parameter sets are scored by the same function, `DixonColesFit.log_likelihood`.

penaltyblog's analytic gradient is inexact whenever ρ ≠ 0 (its τ terms' derivatives with respect to
attack, defence and home advantage are off by up to ~0.6 on a season of data, measured against finite
differences), so its default fit stops short of the optimum by up to ~0.17 log-likelihood units. The
accurate reference fit therefore uses its numerical-gradient mode with a tight tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

# penaltyblog is a dev dependency (pyproject [dev]): always installed for the tests, never skipped
from penaltyblog.models import DixonColesGoalModel

from jackpot_pipeline.model.dixon_coles import (
    DixonColesConfig,
    DixonColesFit,
    fit_dixon_coles,
    time_decay_weights,
)
from jackpot_pipeline.model.scores import rho_valid_interval
from jackpot_pipeline_tests.model.penaltyblog_peer import as_our_fit
from jackpot_pipeline_tests.model.season_results import SeasonResults, load_season_results

PLAIN_MLE = DixonColesConfig(xi=0.0, shrinkage=0.0)
ACCURATE = dict(use_gradient=False, minimizer_options={"ftol": 1e-10, "maxiter": 2000})


def penaltyblog_model(results: SeasonResults, weights=None) -> DixonColesGoalModel:
    return DixonColesGoalModel(results.home_goals, results.away_goals, results.home_teams, results.away_teams, weights)


def season_log_likelihood(fit: DixonColesFit, results: SeasonResults, weights=None) -> float:
    return fit.log_likelihood(results.home_teams, results.away_teams, results.home_goals, results.away_goals, weights)


def pairings(teams) -> tuple[list[str], list[str]]:
    pairs = [(h, a) for h in teams for a in teams if h != a]
    return [h for h, _ in pairs], [a for _, a in pairs]


SEASONS = [("2324", "E0"), ("2324", "SP1"), ("2324", "I1")]


@pytest.fixture(scope="module", params=SEASONS, ids=[f"{d}-{s}" for s, d in SEASONS])
def season_fits(request, shared_data):
    season, division = request.param
    results = load_season_results(shared_data, season, division)
    ours = fit_dixon_coles(
        results.home_teams, results.away_teams, results.home_goals, results.away_goals, results.dates, config=PLAIN_MLE
    )
    accurate = penaltyblog_model(results)
    accurate.fit(**ACCURATE)
    default = penaltyblog_model(results)
    default.fit()
    return results, ours, accurate, default


def test_same_maximum_log_likelihood(season_fits):
    results, ours, accurate, default = season_fits
    assert not ours.diagnostics.rho_at_bound  # the ρ region does not bind in these seasons
    our_value = season_log_likelihood(ours, results)
    assert our_value == pytest.approx(ours.diagnostics.log_likelihood, rel=1e-12)
    accurate_value = season_log_likelihood(as_our_fit(accurate), results)
    default_value = season_log_likelihood(as_our_fit(default), results)
    # The mapping is exact: our function reproduces penaltyblog's own maximised log-likelihood.
    assert accurate_value == pytest.approx(accurate.loglikelihood, abs=1e-9)
    assert our_value >= accurate_value - 1e-6
    assert our_value >= default_value - 1e-6
    assert abs(our_value - accurate_value) < 1e-6


def test_outcome_probabilities_agree_for_every_pairing(season_fits):
    results, ours, accurate, _ = season_fits
    theirs = as_our_fit(accurate)
    homes, aways = pairings(ours.teams)
    lam, mu = theirs.lambdas(homes, aways)
    intervals = [rho_valid_interval(home_rate, away_rate) for home_rate, away_rate in zip(lam, mu)]
    inside = np.array([lower <= theirs.rho <= upper for lower, upper in intervals])
    assert inside.all()  # here their ρ is valid for every pairing, so every pairing is compared
    our_probabilities = ours.predict_1x2(homes, aways)
    their_probabilities = np.array([accurate.predict(h, a).home_draw_away for h, a in zip(homes, aways)])
    assert np.max(np.abs(our_probabilities - their_probabilities)) < 0.002
    assert len(homes) == len(ours.teams) * (len(ours.teams) - 1)


def test_same_maximum_with_time_decay_weights(shared_data):
    results = load_season_results(shared_data, "2324", "E0")
    weights = time_decay_weights(results.dates, "2024-05-20", 0.0018)
    ours = fit_dixon_coles(
        results.home_teams,
        results.away_teams,
        results.home_goals,
        results.away_goals,
        results.dates,
        config=DixonColesConfig(xi=0.0018, shrinkage=0.0),
    )
    model = penaltyblog_model(results, weights)
    model.fit(**ACCURATE)
    our_value = season_log_likelihood(ours, results, weights)
    their_value = season_log_likelihood(as_our_fit(model), results, weights)
    assert our_value == pytest.approx(ours.diagnostics.log_likelihood, rel=1e-12)
    assert our_value >= their_value - 1e-6
    assert abs(our_value - their_value) < 1e-6


def test_where_penaltyblog_leaves_the_rho_region_we_stay_on_its_edge(shared_data):
    """Bundesliga 2020/21: the unconstrained optimum has ρ ≈ −0.20, below −1/λ for the strongest home
    attack against the weakest defence, so penaltyblog's grid has a negative probability there."""
    results = load_season_results(shared_data, "2021", "D1")
    ours = fit_dixon_coles(
        results.home_teams, results.away_teams, results.home_goals, results.away_goals, results.dates, config=PLAIN_MLE
    )
    model = penaltyblog_model(results)
    model.fit(**ACCURATE)
    theirs = as_our_fit(model)

    homes, aways = pairings(ours.teams)
    lam, mu = theirs.lambdas(homes, aways)
    outside = [k for k in range(len(homes)) if theirs.rho < rho_valid_interval(lam[k], mu[k])[0]]
    assert outside, "penaltyblog's rho was expected outside the valid region here"
    with pytest.raises(ValueError, match="negative probabilities"):
        model.predict(homes[outside[0]], aways[outside[0]])

    assert ours.diagnostics.rho_at_bound
    assert np.all(ours.predict_1x2(homes, aways) >= 0)
    # The constraint costs a little likelihood, but not much.
    gap = season_log_likelihood(theirs, results) - season_log_likelihood(ours, results)
    assert 0 <= gap < 0.01

    # On every pairing where their ρ is valid, the two models still agree closely.
    valid = np.setdiff1d(np.arange(len(homes)), outside)
    their_probabilities = np.array([model.predict(homes[k], aways[k]).home_draw_away for k in valid])
    ours_valid = ours.predict_1x2([homes[k] for k in valid], [aways[k] for k in valid])
    assert np.max(np.abs(ours_valid - their_probabilities)) < 0.01
