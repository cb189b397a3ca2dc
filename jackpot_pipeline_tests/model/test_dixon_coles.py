"""Dixon-Coles fitting: optimum, predictions, shrinkage, warm starts, errors, serialisation, random leagues
(the ρ region: test_dixon_coles_rho_region)."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jackpot_pipeline.model import dixon_coles as dc
from jackpot_pipeline.model import dixon_coles_solver as solver
from jackpot_pipeline.model.dixon_coles import (
    DixonColesConfig,
    DixonColesFit,
    FitDidNotConverge,
    fit_dixon_coles,
    time_decay_weights,
)
from jackpot_pipeline_tests.model.dixon_coles_fits import PLAIN_MLE, all_pairings, fit_season, min_tau
from jackpot_pipeline_tests.model.season_results import SeasonResults, load_season_results


# --- the optimum --------------------------------------------------------------------------------------


def test_regression_pins_default_fit_of_e0_2023_24(e0_fit):
    """Default config (ξ = 0.0018/day, shrinkage 5) on the real 2023/24 Premier League season."""
    assert e0_fit.reference_date.isoformat() == "2024-05-20"  # day after the last match
    assert e0_fit.home_advantage == pytest.approx(0.19565214434009082, rel=1e-6)
    assert e0_fit.rho == pytest.approx(-0.029825527827198474, rel=1e-6)
    assert e0_fit.intercept == pytest.approx(0.337271554742537, rel=1e-6)
    pinned = {
        "Man City": (0.42600995759232574, 0.49520691624376983),
        "Arsenal": (0.3678827409282659, 0.6228079563599638),
        "Sheffield United": (-0.43453685608945597, -0.5003784030195554),
    }
    for team, (attack, defence) in pinned.items():
        assert e0_fit.strengths(team)[:2] == pytest.approx((attack, defence), rel=1e-6)
    assert e0_fit.diagnostics.log_likelihood == pytest.approx(-901.6807776337175, rel=1e-9)
    assert e0_fit.diagnostics.penalised_log_likelihood == pytest.approx(-907.7351115573986, rel=1e-9)


def test_diagnostics_and_identifiability(e0_2324, e0_fit):
    diagnostics = e0_fit.diagnostics
    weights = np.exp(-0.0018 * (np.datetime64("2024-05-20") - e0_2324.dates).astype(float))
    assert diagnostics.converged and diagnostics.solver == "newton" and not diagnostics.rho_at_bound
    assert 1 <= diagnostics.iterations <= 10
    assert diagnostics.n_matches == 380 and diagnostics.n_teams == 20
    assert diagnostics.effective_weight == pytest.approx(weights.sum(), rel=1e-12)
    assert diagnostics.effective_sample_size == pytest.approx(weights.sum() ** 2 / (weights**2).sum(), rel=1e-12)
    assert diagnostics.gradient_max <= 1e-9 * diagnostics.effective_weight
    assert abs(e0_fit.attack.sum()) < 1e-12 and abs(e0_fit.defence.sum()) < 1e-12
    recomputed = e0_fit.log_likelihood(
        e0_2324.home_teams, e0_2324.away_teams, e0_2324.home_goals, e0_2324.away_goals, weights
    )
    assert recomputed == pytest.approx(diagnostics.log_likelihood, rel=1e-12)
    lower, upper = diagnostics.rho_interval
    assert lower < e0_fit.rho < upper
    assert e0_fit.rho_interval() == pytest.approx(diagnostics.rho_interval, rel=1e-12)


def test_time_decay_weights_are_exp_minus_xi_days():
    weights = time_decay_weights(["2024-01-01", "2024-01-31"], "2024-02-01", 0.01)
    np.testing.assert_allclose(weights, np.exp([-0.31, -0.01]), rtol=1e-15)
    assert np.all(time_decay_weights(["2020-01-01"], "2024-01-01", 0.0) == 1.0)


def test_analytic_gradient_and_hessian_match_finite_differences(e0_2324):
    teams, index = np.unique(np.concatenate([e0_2324.home_teams, e0_2324.away_teams]), return_inverse=True)
    n, n_matches = len(teams), len(e0_2324)
    rng = np.random.default_rng(7)
    problem = solver.WeightedLikelihood(
        index[:n_matches],
        index[n_matches:],
        e0_2324.home_goals.astype(float),
        e0_2324.away_goals.astype(float),
        rng.uniform(0.2, 1.0, n_matches),
        n,
        2.0,
        rng.normal(0, 0.1, n),
        rng.normal(0, 0.1, n),
    )
    theta = np.concatenate([rng.normal(0, 0.2, 2 * n), [0.2, 0.25, -0.12]])
    _, gradient, hessian = problem.derivatives(theta)
    step = 1e-6
    unit = np.eye(len(theta))
    numeric_gradient = [
        (problem.objective(theta + step * e) - problem.objective(theta - step * e)) / (2 * step) for e in unit
    ]
    numeric_hessian = [
        (problem.derivatives(theta + step * e)[1] - problem.derivatives(theta - step * e)[1]) / (2 * step) for e in unit
    ]
    np.testing.assert_allclose(gradient, numeric_gradient, atol=1e-6)
    np.testing.assert_allclose(hessian, numeric_hessian, atol=1e-6)
    np.testing.assert_array_equal(hessian, hessian.T)


def test_fit_is_deterministic_bit_for_bit(e0_2324, e0_fit):
    again = fit_season(e0_2324)
    assert again.to_dict() == e0_fit.to_dict()
    np.testing.assert_array_equal(again.attack, e0_fit.attack)
    np.testing.assert_array_equal(again.defence, e0_fit.defence)


def test_fit_is_identical_in_a_fresh_process(shared_data, e0_fit):
    code = (
        "import json, sys; from jackpot_pipeline_tests.model.season_results import load_season_results; "
        "from jackpot_pipeline.model.dixon_coles import fit_dixon_coles; "
        "r = load_season_results(sys.argv[1], '2324', 'E0'); "
        "f = fit_dixon_coles(r.home_teams, r.away_teams, r.home_goals, r.away_goals, r.dates); "
        "print(json.dumps(f.to_dict()))"
    )
    output = subprocess.run([sys.executable, "-c", code, str(shared_data)], check=True, capture_output=True, text=True)
    assert json.loads(output.stdout) == e0_fit.to_dict()


def test_fit_pickles(e0_fit):
    restored = pickle.loads(pickle.dumps(e0_fit))
    assert restored.to_dict() == e0_fit.to_dict()
    assert restored.predict("Arsenal", "Chelsea") == e0_fit.predict("Arsenal", "Chelsea")


def test_accepts_pandas_and_python_inputs(e0_2324, e0_fit):
    import pandas as pd

    fit = fit_dixon_coles(
        pd.Series(e0_2324.home_teams),
        list(e0_2324.away_teams),
        pd.Series(e0_2324.home_goals, dtype="float64"),
        list(e0_2324.away_goals),
        [str(d) for d in e0_2324.dates],
    )
    np.testing.assert_array_equal(fit.attack, e0_fit.attack)


# --- predictions and explanations ---------------------------------------------------------------------


def test_predict_1x2_and_lambdas_match_single_predictions(e0_fit):
    homes, aways = all_pairings(e0_fit, extra_teams=("Unseen FC",))
    batch = e0_fit.predict_1x2(homes, aways)
    lam, mu = e0_fit.lambdas(homes, aways)
    assert batch.shape == (len(homes), 3)
    for k in range(0, len(homes), 7):
        single = e0_fit.predict(homes[k], aways[k])
        np.testing.assert_allclose(batch[k], single.probs_1x2, rtol=0, atol=1e-12)
        assert (lam[k], mu[k]) == (single.lambda_home, single.lambda_away)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-12)


def test_prediction_contents(e0_fit):
    prediction = e0_fit.predict("Man City", "Sheffield United")
    assert prediction.flags == ()
    assert prediction.prob_home > 0.8 > prediction.prob_draw + prediction.prob_away
    assert prediction.most_likely_score[0] >= 2 and prediction.most_likely_score[1] == 0
    # λ_home ≈ 4.3: the default 11×11 grid leaves ~0.5% of the mass (and ~1% of the mean) outside.
    assert 1e-3 < prediction.truncated_mass < 1e-2
    assert prediction.expected_goals[0] == pytest.approx(prediction.lambda_home, rel=2e-2)
    wide = e0_fit.predict("Man City", "Sheffield United", max_goals=25)
    assert wide.truncated_mass < 1e-9
    assert wide.expected_goals == pytest.approx((wide.lambda_home, wide.lambda_away), rel=1e-8)
    with pytest.raises(ValueError, match="cannot play itself"):
        e0_fit.predict("Arsenal", "Arsenal")


def test_unseen_teams_get_the_prior_and_are_flagged(e0_fit):
    prediction = e0_fit.predict("Atlantis FC", "Arsenal")
    assert prediction.flags == ("unseen_home_team",)
    arsenal_defence = e0_fit.strengths("Arsenal")[1]
    expected = math.exp(e0_fit.intercept + e0_fit.home_advantage + e0_fit.prior_attack - arsenal_defence)
    assert prediction.lambda_home == pytest.approx(expected, rel=1e-14)
    assert e0_fit.predict("Arsenal", "Atlantis FC").flags == ("unseen_away_team",)
    assert e0_fit.predict("Atlantis FC", "Lemuria").flags == ("unseen_home_team", "unseen_away_team")
    assert e0_fit.strengths("Atlantis FC") == (0.0, 0.0, True)


def test_lambda_decomposition_adds_up_and_is_json(e0_fit):
    decomposition = e0_fit.lambda_decomposition("Arsenal", "Atlantis FC")
    json.dumps(decomposition)
    prediction = e0_fit.predict("Arsenal", "Atlantis FC")
    assert decomposition["flags"] == ["unseen_away_team"]
    assert decomposition["lambda_home"] == pytest.approx(prediction.lambda_home, rel=1e-14)
    assert decomposition["lambda_away"] == pytest.approx(prediction.lambda_away, rel=1e-14)
    for side in ("home", "away"):
        terms = decomposition[side]["terms"]
        assert math.fsum(t["log_value"] for t in terms) == pytest.approx(decomposition[side]["log_lambda"], abs=1e-15)
        for term in terms:
            without = math.exp(decomposition[side]["log_lambda"] - term["log_value"])
            assert term["lambda_without"] == pytest.approx(without, rel=1e-12)
            assert term["goals_effect"] == pytest.approx(decomposition[side]["lambda"] - without, abs=1e-12)
    names = [t["name"] for t in decomposition["home"]["terms"]]
    assert names == ["intercept", "home_advantage", "home_attack", "away_defence"]
    home_advantage = decomposition["home"]["terms"][1]
    assert home_advantage["log_value"] == e0_fit.home_advantage and home_advantage["goals_effect"] > 0


# --- serialisation ------------------------------------------------------------------------------------


def test_to_dict_round_trips_exactly_through_json(e0_fit):
    restored = DixonColesFit.from_dict(json.loads(json.dumps(e0_fit.to_dict())))
    assert restored.to_dict() == e0_fit.to_dict()
    np.testing.assert_array_equal(restored.attack, e0_fit.attack)
    assert restored.rho == e0_fit.rho and restored.diagnostics == e0_fit.diagnostics
    homes, aways = all_pairings(e0_fit)
    np.testing.assert_array_equal(restored.predict_1x2(homes, aways), e0_fit.predict_1x2(homes, aways))
    with pytest.raises(ValueError, match="not a Dixon-Coles fit snapshot"):
        DixonColesFit.from_dict({"format": "something else"})


def test_fit_is_immutable(e0_fit):
    with pytest.raises(ValueError):
        e0_fit.attack[0] = 1.0
    with pytest.raises(AttributeError):
        e0_fit.rho = 0.0


# --- warm starts --------------------------------------------------------------------------------------


def _before(season: SeasonResults, date: str) -> SeasonResults:
    return season.select(season.dates < np.datetime64(date))


def test_warm_start_reaches_the_cold_optimum_in_fewer_iterations(e0_2324):
    previous = fit_season(_before(e0_2324, "2024-03-01"), reference_date="2024-03-01")
    week_later = _before(e0_2324, "2024-03-08")
    cold = fit_season(week_later, reference_date="2024-03-08")
    warm = fit_season(week_later, reference_date="2024-03-08", init=previous)
    np.testing.assert_allclose(warm.attack, cold.attack, atol=1e-9)
    np.testing.assert_allclose(warm.defence, cold.defence, atol=1e-9)
    assert warm.rho == pytest.approx(cold.rho, abs=1e-9)
    assert warm.home_advantage == pytest.approx(cold.home_advantage, abs=1e-9)
    objective = cold.diagnostics.penalised_log_likelihood
    assert warm.diagnostics.penalised_log_likelihood == pytest.approx(objective, abs=1e-9)
    assert warm.diagnostics.iterations < cold.diagnostics.iterations


def test_warm_start_across_seasons_starts_new_teams_at_the_prior(shared_data):
    last_season = fit_season(load_season_results(shared_data, "2223", "E0"))
    this_season = _before(load_season_results(shared_data, "2324", "E0"), "2023-09-01")
    promoted = (set(this_season.home_teams) | set(this_season.away_teams)) - set(last_season.teams)
    assert promoted == {"Burnley", "Sheffield United", "Luton"}
    cold = fit_season(this_season, reference_date="2023-09-01")
    warm = fit_season(this_season, reference_date="2023-09-01", init=last_season)
    np.testing.assert_allclose(warm.attack, cold.attack, atol=1e-9)
    objective = cold.diagnostics.penalised_log_likelihood
    assert warm.diagnostics.penalised_log_likelihood == pytest.approx(objective, abs=1e-9)

    start = dc._warm_start(last_season, np.array(cold.teams), np.zeros(cold.n_teams), np.zeros(cold.n_teams))
    n = cold.n_teams
    arsenal, luton = cold.teams.index("Arsenal"), cold.teams.index("Luton")
    shift = last_season.strengths("Arsenal")[0] - start[arsenal]  # the re-centring applied to everyone
    assert start[luton] + shift == pytest.approx(0.0, abs=1e-15)  # Luton starts at the league mean
    assert abs(start[:n].sum()) < 1e-12 and abs(start[n : 2 * n].sum()) < 1e-12


# --- shrinkage and priors -----------------------------------------------------------------------------


def _with_newcomer(season: SeasonResults) -> SeasonResults:
    """The season plus one match of a team seen nowhere else: Newcomer 2-1 Arsenal."""
    return SeasonResults(
        dates=np.append(season.dates, np.datetime64("2024-05-19")),
        home_teams=np.append(season.home_teams, "Newcomer"),
        away_teams=np.append(season.away_teams, "Arsenal"),
        home_goals=np.append(season.home_goals, 2),
        away_goals=np.append(season.away_goals, 1),
    )


def test_shrinkage_pulls_a_one_match_team_towards_the_mean_much_more(e0_2324):
    data = _with_newcomer(e0_2324)
    unshrunk = fit_season(data, config=DixonColesConfig(shrinkage=0.0))
    shrunk = fit_season(data, config=DixonColesConfig(shrinkage=5.0))
    newcomer_before, newcomer_after = unshrunk.strengths("Newcomer"), shrunk.strengths("Newcomer")
    city_before, city_after = unshrunk.strengths("Man City"), shrunk.strengths("Man City")
    for k in (0, 1):
        assert abs(newcomer_after[k]) < 0.5 * abs(newcomer_before[k])
        assert abs(city_after[k]) > 0.8 * abs(city_before[k])


def test_promoted_teams_shrink_towards_the_promoted_prior(e0_2324):
    early = _before(e0_2324, "2023-09-01")
    config = DixonColesConfig(prior_attack=-0.4, prior_defence=-0.4)
    league_mean_prior = fit_season(early, config=config)
    promoted_prior = fit_season(early, config=config, promoted_teams=["Luton", "Burnley", "Sheffield United"])
    assert promoted_prior.promoted_teams == ("Burnley", "Luton", "Sheffield United")
    for team in ("Luton", "Burnley", "Sheffield United"):
        assert promoted_prior.strengths(team)[0] < league_mean_prior.strengths(team)[0]
        assert promoted_prior.strengths(team)[1] < league_mean_prior.strengths(team)[1]
    unseen = promoted_prior.predict("Ipswich", "Arsenal")
    assert unseen.flags == ("unseen_home_team",)
    assert promoted_prior.strengths("Ipswich") == (-0.4, -0.4, True)
    homes, aways = all_pairings(promoted_prior, extra_teams=("Ipswich",))
    assert min_tau(promoted_prior, homes, aways) >= 0


def test_prior_centres_pull_established_teams_towards_their_own_centre(e0_2324):
    """prior_centres replace the league mean 0 as the shrinkage centre of the teams they name, except promoted
    teams (their centre is the promoted prior); all-zero centres change nothing."""
    early = _before(e0_2324, "2023-09-01")
    config = DixonColesConfig(shrinkage=20.0)
    plain = fit_season(early, config=config, promoted_teams=["Luton"])
    zero = fit_season(early, config=config, promoted_teams=["Luton"], prior_centres={"Arsenal": (0.0, 0.0)})
    np.testing.assert_array_equal(zero.attack, plain.attack)
    centred = fit_season(early, config=config, promoted_teams=["Luton"],
                         prior_centres={"Arsenal": (0.6, 0.6), "Luton": (0.6, 0.6), "Unknown FC": (1.0, 1.0)})
    for k in (0, 1):
        assert centred.strengths("Arsenal")[k] > plain.strengths("Arsenal")[k] + 0.1
        assert abs(centred.strengths("Luton")[k] - plain.strengths("Luton")[k]) < 0.05  # only via the others
    assert "Unknown FC" not in centred.teams


# --- errors -------------------------------------------------------------------------------------------


def test_non_convergence_raises_with_the_optimiser_message(e0_2324):
    expected = r"did not converge after 1 iterations.*iteration limit max_iter=1"
    with pytest.raises(FitDidNotConverge, match=expected) as caught:
        fit_season(e0_2324, config=DixonColesConfig(max_iter=1))
    assert caught.value.iterations == 1 and caught.value.gradient_max > 0
    assert "Newton" in caught.value.optimiser_message


def test_matches_on_or_after_the_reference_date_are_rejected(e0_2324):
    with pytest.raises(ValueError, match=r"dated on or after reference_date 2024-05-01 .*strictly before"):
        fit_season(e0_2324, reference_date="2024-05-01")
    last_day = str(e0_2324.dates.max())
    with pytest.raises(ValueError, match="strictly before its reference date"):
        fit_season(e0_2324, reference_date=last_day)
    with pytest.raises(ValueError, match="strictly before"):
        time_decay_weights(e0_2324.dates, last_day, 0.0018)


def _five_matches(**overrides):
    columns = {
        "home_teams": ["A", "B", "C", "A", "B"],
        "away_teams": ["B", "C", "A", "C", "A"],
        "home_goals": [1, 2, 0, 3, 1],
        "away_goals": [0, 2, 1, 1, 1],
        "match_dates": ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29"],
    }
    columns.update(overrides)
    return columns


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(home_teams=[], away_teams=[], home_goals=[], away_goals=[], match_dates=[]), "no matches to fit"),
        (dict(home_goals=[1, 2, 0, 3]), "must have the same length, got 5, 5, 4, 5, 5"),
        (dict(away_goals=[0, 2, -1, 1, 1]), "away_goals contains negative goals"),
        (dict(home_goals=[1, 2.5, 0, 3, 1]), "whole numbers"),
        (dict(home_goals=[1, float("nan"), 0, 3, 1]), "missing or non-finite"),
        (dict(away_teams=["B", "B", "A", "C", "A"]), "cannot play itself"),
        (dict(home_teams=["A", None, "C", "A", "B"]), "must hold team names"),
        (dict(home_teams=["A", " ", "C", "A", "B"]), "empty team name"),
        (dict(match_dates=["2024-01-01", "soon", "2024-01-15", "2024-01-22", "2024-02-01"]), "read as dates"),
        (dict(away_goals=[0, 0, 0, 0, 0]), "no away team scored"),
    ],
)
def test_bad_inputs_raise_clearly(overrides, message):
    with pytest.raises(ValueError, match=message):
        fit_dixon_coles(**_five_matches(**overrides))


def test_plain_mle_refuses_data_without_a_finite_optimum():
    with pytest.raises(ValueError, match=r"shrinkage=0 the maximum-likelihood strengths do not exist: C"):
        fit_dixon_coles(**_five_matches(home_goals=[1, 2, 0, 3, 1], away_goals=[0, 0, 1, 0, 1]), config=PLAIN_MLE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(xi=-0.1), "xi must be >= 0"),
        (dict(shrinkage=-1.0), "shrinkage must be >= 0"),
        (dict(max_goals=1), "max_goals must be an integer >= 2"),
        (dict(max_iter=0), "max_iter must be an integer >= 1"),
        (dict(tol=0.0), "tol must be > 0"),
        (dict(prior_attack=float("nan")), "prior_attack must be finite"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DixonColesConfig(**kwargs)


# --- properties on random leagues ---------------------------------------------------------------------


@st.composite
def small_league(draw):
    n_teams = draw(st.integers(3, 8))
    names = [f"Team {chr(65 + k)}" for k in range(n_teams)]
    n_matches = draw(st.integers(6, 60))
    pair = st.tuples(st.integers(0, n_teams - 1), st.integers(1, n_teams - 1))
    pairs = draw(st.lists(pair, min_size=n_matches, max_size=n_matches))
    home = [names[h] for h, _ in pairs]
    away = [names[(h + shift) % n_teams] for h, shift in pairs]
    goals = st.integers(0, 6)
    home_goals = draw(st.lists(goals, min_size=n_matches, max_size=n_matches))
    away_goals = draw(st.lists(goals, min_size=n_matches, max_size=n_matches))
    day_offsets = draw(st.lists(st.integers(0, 400), min_size=n_matches, max_size=n_matches))
    dates = [np.datetime64("2023-01-01") + np.timedelta64(d, "D") for d in day_offsets]
    config = DixonColesConfig(
        xi=draw(st.sampled_from([0.0, 0.0018, 0.0065])), shrinkage=draw(st.sampled_from([0.5, 5.0, 20.0]))
    )
    data = dict(home_teams=home, away_teams=away, home_goals=home_goals, away_goals=away_goals, match_dates=dates)
    return data, config


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_league())
def test_properties_on_random_leagues(league):
    data, config = league
    if sum(data["home_goals"]) == 0 or sum(data["away_goals"]) == 0:
        with pytest.raises(ValueError, match="scored in any match"):
            fit_dixon_coles(**data, config=config)
        return
    fit = fit_dixon_coles(**data, config=config)
    again = fit_dixon_coles(**data, config=config)

    # Determinism, bit for bit.
    for name in ("attack", "defence"):
        np.testing.assert_array_equal(getattr(fit, name), getattr(again, name))
    assert (fit.intercept, fit.home_advantage, fit.rho) == (again.intercept, again.home_advantage, again.rho)

    # τ ≥ 0 for every pairing of fitted teams and the unseen-team prior.
    homes, aways = all_pairings(fit, extra_teams=("Unseen 1", "Unseen 2"))
    assert min_tau(fit, homes, aways) >= 0
    lower, upper = fit.diagnostics.rho_interval
    assert lower <= fit.rho <= upper

    # Probabilities are distributions, and the batch path equals the single path.
    batch = fit.predict_1x2(homes, aways)
    assert np.all((batch >= 0) & (batch <= 1))
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-12)
    for k in range(0, len(homes), max(1, len(homes) // 5)):
        np.testing.assert_allclose(batch[k], fit.predict(homes[k], aways[k]).probs_1x2, rtol=0, atol=1e-12)

    # Snapshot round trip.
    restored = DixonColesFit.from_dict(json.loads(json.dumps(fit.to_dict())))
    assert restored.to_dict() == fit.to_dict()
