"""Dixon-Coles fits on the edge of the valid-ρ region: τ ≥ 0 for every pairing, the active-set solver (checked
against an independent constrained optimiser), degenerate vertices, predictions refused outside the region."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.optimize

from jackpot_pipeline.model import dixon_coles_solver as solver
from jackpot_pipeline.model.dixon_coles import DixonColesConfig, DixonColesFit, FitDidNotConverge, fit_dixon_coles
from jackpot_pipeline.model.scores import InvalidRhoError
from jackpot_pipeline_tests.model.dixon_coles_fits import PLAIN_MLE, all_pairings, fit_season, min_tau
from jackpot_pipeline_tests.model.season_results import SeasonResults, load_season_results


def test_tau_non_negative_for_every_pairing_including_unseen(e0_fit):
    homes, aways = all_pairings(e0_fit, extra_teams=("Unseen A", "Unseen B"))
    assert min_tau(e0_fit, homes, aways) > 0
    probabilities = e0_fit.predict_1x2(homes, aways)
    assert np.all(probabilities >= 0)


@pytest.mark.parametrize(("season", "division"), [("2021", "D1"), ("2324", "N1")])
def test_rho_constrained_to_valid_region_when_the_unconstrained_optimum_leaves_it(shared_data, season, division):
    """Plain MLE of these seasons wants ρ below −1/λ_max (a negative τ(0,1) for the strongest home
    attack vs the weakest defence); the fit must stop at the region's edge instead."""
    results = load_season_results(shared_data, season, division)
    fit = fit_season(results, config=PLAIN_MLE)
    diagnostics = fit.diagnostics
    assert diagnostics.rho_at_bound and diagnostics.solver == "newton+active_set"
    lower, upper = diagnostics.rho_interval
    assert lower <= fit.rho < upper
    assert fit.rho == pytest.approx(lower, rel=1e-9)  # on the edge, up to the safety margin
    homes, aways = all_pairings(fit, extra_teams=("Unseen",))
    assert min_tau(fit, homes, aways) >= 0
    assert np.all(fit.predict_1x2(homes, aways) >= 0)
    assert_independent_constrained_optimiser_agrees(fit, results, np.ones(len(results)))


def test_rho_constrained_on_the_positive_side():
    """A league without 0-0 or 1-1 results: the likelihood keeps rewarding larger ρ (τ(0,1) = 1 + ρλ and
    τ(1,0) = 1 + ρμ grow), until ρλμ = 1 for the pairing with the largest λμ."""
    teams = ["A", "B", "C", "D", "E", "F"]
    scores = [(1, 0), (0, 1), (2, 1), (1, 2), (2, 0), (0, 2), (3, 1), (2, 2), (1, 0), (0, 1), (3, 2)]
    fixtures = [pair for _ in range(2) for pair in itertools.permutations(teams, 2)]
    results = SeasonResults(
        dates=np.datetime64("2024-01-01") + np.arange(len(fixtures)).astype("timedelta64[D]"),
        home_teams=np.array([h for h, _ in fixtures]),
        away_teams=np.array([a for _, a in fixtures]),
        home_goals=np.array([scores[k % len(scores)][0] for k in range(len(fixtures))]),
        away_goals=np.array([scores[k % len(scores)][1] for k in range(len(fixtures))]),
    )
    fit = fit_season(results, config=PLAIN_MLE)
    lower, upper = fit.diagnostics.rho_interval
    assert fit.diagnostics.rho_at_bound and fit.rho > 0
    assert fit.rho == pytest.approx(upper, rel=1e-9) and fit.rho <= upper
    homes, aways = all_pairings(fit, extra_teams=("Unseen",))
    assert min_tau(fit, homes, aways) >= 0
    assert_independent_constrained_optimiser_agrees(fit, results, np.ones(len(results)))


def test_a_degenerate_vertex_does_not_use_up_the_newton_steps():
    """Found by the random-league property: 16 of 17 matches 0-0, so five teams share one strength and dozens of
    pairings' constraints meet where ρ reaches the region's edge. The active-set solver changes its working set
    without moving many times there; those changes are bounded apart from max_iter, which bounds Newton steps."""
    home = ["A", "A", "A", "A", "B", "B", "B", "C", "A", "A", "A", "A", "A", "D", "A", "A", "F"]
    away = ["B", "C", "B", "B", "C", "D", "C", "E", "B", "B", "C", "C", "B", "F", "C", "B", "G"]
    goals = [0] * 9 + [1] + [0] * 7
    days = [0, 1, 0, 112, 58, 1, 144, 154, 1, 1, 0, 0, 0, 0, 119, 1, 400]
    data = dict(home_teams=home, away_teams=away, home_goals=goals, away_goals=goals,
                match_dates=np.datetime64("2023-01-01") + np.array(days).astype("timedelta64[D]"))
    config = DixonColesConfig(xi=0.0065, shrinkage=0.5)
    fit = fit_dixon_coles(**data, config=config)
    diagnostics = fit.diagnostics
    assert diagnostics.converged and diagnostics.rho_at_bound and diagnostics.solver == "newton+active_set"
    assert diagnostics.iterations > config.max_iter  # working-set changes included
    assert fit.rho == pytest.approx(diagnostics.rho_interval[0], rel=1e-9) and fit.rho >= diagnostics.rho_interval[0]
    homes, aways = all_pairings(fit, extra_teams=("Unseen",))
    assert min_tau(fit, homes, aways) >= 0
    with pytest.raises(FitDidNotConverge, match="active-set Newton: iteration limit max_iter=20"):
        fit_dixon_coles(**data, config=DixonColesConfig(xi=0.0065, shrinkage=0.5, max_iter=20))


def assert_independent_constrained_optimiser_agrees(fit: DixonColesFit, results: SeasonResults, weights) -> None:
    """SLSQP with every pairing's τ ≥ 0 as an explicit constraint, started away from our answer, must not
    find a better point."""
    teams, index = np.unique(np.concatenate([results.home_teams, results.away_teams]), return_inverse=True)
    n, n_matches = len(teams), len(results)
    problem = solver.WeightedLikelihood(
        index[:n_matches],
        index[n_matches:],
        results.home_goals.astype(float),
        results.away_goals.astype(float),
        weights,
        n,
        fit.config.shrinkage,
        np.zeros(n),
        np.zeros(n),
    )
    pairing = solver.pairing_mask(n + 1)

    def taus(reduced):
        theta = solver.expand_step(reduced, n)
        attack = np.append(theta[:n], fit.prior_attack)
        defence = np.append(theta[n : 2 * n], fit.prior_defence)
        log_home, log_away = solver.pairing_log_rates(attack, defence, theta[2 * n], theta[2 * n + 1])
        lam, mu, rho = np.exp(log_home[pairing]), np.exp(log_away[pairing]), theta[-1]
        return np.concatenate([1 - rho * lam * mu, 1 + rho * lam, 1 + rho * mu, [1 - rho]])

    def objective(reduced):
        value, gradient, _ = problem.derivatives(solver.expand_step(reduced, n), with_hessian=False)
        return (value, solver.reduce_columns(gradient, n)) if math.isfinite(value) else (1e10, np.zeros_like(reduced))

    theta = np.concatenate([fit.attack, fit.defence, [fit.intercept, fit.home_advantage, fit.rho]])
    start = np.concatenate([theta[: n - 1], theta[n : 2 * n - 1], theta[2 * n :]])
    start += np.random.default_rng(1).normal(0, 0.02, len(start))
    start[-1] = 0.9 * fit.rho
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = scipy.optimize.minimize(
            objective,
            start,
            jac=True,
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": taus}],
            options={"maxiter": 1000, "ftol": 1e-14},
        )
    # SLSQP sometimes ends with "positive directional derivative" right at the optimum, so judge its
    # answer by feasibility and value rather than by its success flag.
    assert taus(reference.x).min() > -1e-9
    assert -fit.diagnostics.penalised_log_likelihood <= reference.fun + 1e-8


def test_predict_refuses_fixtures_outside_the_rho_region():
    fit = DixonColesFit.from_parameters(
        ["Strong", "Weak"], [0.8, -0.8], [0.5, -0.5], intercept=0.1, home_advantage=0.3, rho=-0.2
    )
    fit.predict("Weak", "Strong")  # largest rate μ ≈ 4.06 allows ρ ≥ −0.246
    with pytest.raises(InvalidRhoError, match="outside the Dixon-Coles valid region"):
        fit.predict("Strong", "Weak")  # λ_home ≈ 5.47 needs ρ ≥ −0.183
    with pytest.raises(InvalidRhoError):
        fit.predict_1x2(["Weak", "Strong"], ["Strong", "Weak"])
