"""Dixon-Coles (1997) team-strength model fitted by weighted, penalised maximum likelihood.

Parametrisation
---------------
For a match of home team i against away team j::

    log λ_home = intercept + home_advantage + attack[i] − defence[j]
    log λ_away = intercept +                  attack[j] − defence[i]

so a larger `defence` means fewer goals conceded, and `intercept` is the log of the away scoring rate of
an average team. Identifiability: Σ attack = 0 and Σ defence = 0 over the fitted teams (an average team
has attack = defence = 0). This is the same model as penaltyblog's (log λ_home = hfa + att_i + def_j,
Σ att = n), re-expressed with centred strengths and an explicit intercept.

Scores follow P(x, y) = τ(x, y) Pois(x; λ_home) Pois(y; λ_away) with the low-score correction τ
(see `jackpot_pipeline.model.scores`).

Objective
---------
Maximised: Σ_m w_m log P(x_m, y_m) − ½ s Σ_k [(attack_k − a⁰_k)² + (defence_k − d⁰_k)²], with time decay
w_m = exp(−ξ · days from match m to the reference date), ξ = `xi` per day. The L2 term (s = `shrinkage`)
shrinks teams with little data towards their prior centre: the league mean 0 for established teams (or
their own centre from `prior_centres`), or the promoted-team prior (`prior_attack`, `prior_defence`) for
teams named in `promoted_teams`. Teams never
seen in the data are predicted with that same prior and flagged.

ρ is restricted to Dixon-Coles' valid region max(−1/λ, −1/μ) ≤ ρ ≤ min(1/(λμ), 1) taken over every
ordered pairing of the fitted teams and of the prior team (an unseen team), so every score probability
the fit can ever produce is non-negative.

Solver
------
Damped Newton on the sum-to-zero subspace with the analytic gradient and Hessian, assembled by
`np.bincount` over precomputed index arrays (no Python loop over matches); typically 4-6 iterations
from a cold start and 2-3 when warm-started from last week's fit. The ρ region rarely binds (2 of 192
league-seasons of plain MLE, 1 with the default config); when the unconstrained optimum leaves it,
a primal active-set Newton finishes the job in r = log|ρ|, where every pairing's τ ≥ 0 is a linear
inequality. All arithmetic is deterministic: identical inputs give identical parameters bit for bit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from jackpot_pipeline.model.dixon_coles_inputs import (
    as_day,
    as_day_array,
    as_goal_array,
    as_target_array,
    as_team_array,
    decay_weights,
    reject_matches_not_before,
    time_decay_weights,
)
from jackpot_pipeline.model.dixon_coles_model import (
    DixonColesConfig,
    DixonColesFit,
    FitDiagnostics,
    FitDidNotConverge,
)
from jackpot_pipeline.model.dixon_coles_solver import WeightedLikelihood, constrained_newton, newton, rho_interval_for

__all__ = [
    "DixonColesConfig",
    "DixonColesFit",
    "FitDiagnostics",
    "FitDidNotConverge",
    "fit_dixon_coles",
    "time_decay_weights",
]


def _cold_start(weights: np.ndarray, home_goals: np.ndarray, away_goals: np.ndarray, n: int) -> np.ndarray:
    """All teams average, intercept and home advantage matching the weighted mean scores, ρ = 0."""
    theta = np.zeros(2 * n + 3)
    total_weight = weights.sum()
    mean_home = max(float(weights @ home_goals) / total_weight, 0.05)
    mean_away = max(float(weights @ away_goals) / total_weight, 0.05)
    theta[2 * n] = math.log(mean_away)
    theta[2 * n + 1] = math.log(mean_home / mean_away)
    return theta


def _warm_start(
    init: DixonColesFit, teams: np.ndarray, attack_centre: np.ndarray, defence_centre: np.ndarray
) -> np.ndarray:
    """Strengths carried over from `init` by team name; new teams start at their prior centre.

    The shift that restores Σ = 0 is folded into the intercept, so fixtures between carried-over teams
    keep their λs exactly.
    """
    n = len(teams)
    attack = attack_centre.copy()
    defence = defence_centre.copy()
    for k, team in enumerate(teams):
        index = init._team_index.get(str(team))
        if index is not None:
            attack[k], defence[k] = init.attack[index], init.defence[index]
    attack_shift, defence_shift = attack.mean(), defence.mean()
    theta = np.empty(2 * n + 3)
    theta[:n] = attack - attack_shift
    theta[n : 2 * n] = defence - defence_shift
    theta[2 * n] = init.intercept + attack_shift - defence_shift
    theta[2 * n + 1] = init.home_advantage
    theta[2 * n + 2] = init.rho
    return theta


# |log-strength| beyond this (a factor e^10 ≈ 22,000 in goals) only arises when an estimate runs off to
# infinity on data that do not determine it.
_DIVERGENCE_LIMIT = 10.0


def _require_finite_optimum(
    teams: np.ndarray,
    home_idx: np.ndarray,
    away_idx: np.ndarray,
    home_goals: np.ndarray,
    away_goals: np.ndarray,
    shrinkage: float,
) -> None:
    """Reject data whose likelihood has no maximum (an estimate would run off to ±infinity)."""
    if home_goals.sum() == 0 or away_goals.sum() == 0:
        side = "home" if home_goals.sum() == 0 else "away"
        raise ValueError(
            f"no {side} team scored in any match: the intercept/home advantage has no finite estimate"
        )
    if shrinkage > 0:
        return
    n = len(teams)
    scored = np.bincount(home_idx, home_goals, n) + np.bincount(away_idx, away_goals, n)
    conceded = np.bincount(home_idx, away_goals, n) + np.bincount(away_idx, home_goals, n)
    blank = [str(teams[k]) for k in np.flatnonzero((scored == 0) | (conceded == 0))]
    if blank:
        raise ValueError(
            f"with shrinkage=0 the maximum-likelihood strengths do not exist: {', '.join(blank[:5])} "
            f"{'has' if len(blank) == 1 else 'have'} scored or conceded no goals; use shrinkage > 0"
        )


def fit_dixon_coles(
    home_teams: Sequence[str],
    away_teams: Sequence[str],
    home_goals: Sequence[int],
    away_goals: Sequence[int],
    match_dates: Sequence[Any],
    *,
    reference_date: Any = None,
    config: DixonColesConfig = DixonColesConfig(),
    init: DixonColesFit | None = None,
    promoted_teams: Iterable[str] = (),
    promoted_priors: Mapping[str, tuple[float, float]] | None = None,
    poisson_targets: tuple[Sequence[float], Sequence[float]] | None = None,
    prior_centres: Mapping[str, tuple[float, float]] | None = None,
) -> DixonColesFit:
    """Fit Dixon-Coles strengths to played matches (see the module docstring for model and objective).

    match_dates: anything NumPy reads as dates (datetime64, `datetime.date`, ISO strings, a pandas
    Series). reference_date: the date predictions are made for; defaults to the day after the last
    match, and every match must be strictly earlier. init: a previous fit to warm-start from (teams
    matched by name). promoted_teams: teams shrunk towards the promoted-team prior instead of the
    league mean. promoted_priors: (attack, defence) centres of some promoted teams (e.g. from the lower
    division's fit), replacing the config's prior for them. poisson_targets: (home, away) non-negative
    numbers the Poisson part of the likelihood is fitted to instead of the goals (τ still uses the goals).
    prior_centres: (attack, defence) shrinkage centres of teams not in `promoted_teams` (e.g. their
    strengths before the season), replacing the league mean 0 for those of them in the data.

    Raises ValueError on empty or inconsistent inputs, negative goals or matches not before the reference
    date, and `FitDidNotConverge` if the optimiser does not reach the optimum.
    """
    home = as_team_array(home_teams, "home_teams")
    away = as_team_array(away_teams, "away_teams")
    goals_home = as_goal_array(home_goals, "home_goals")
    goals_away = as_goal_array(away_goals, "away_goals")
    days = as_day_array(match_dates, "match_dates")
    lengths = {len(home), len(away), len(goals_home), len(goals_away), len(days)}
    if len(lengths) != 1:
        raise ValueError(
            "home_teams, away_teams, home_goals, away_goals and match_dates must have the same length, got "
            f"{len(home)}, {len(away)}, {len(goals_home)}, {len(goals_away)}, {len(days)}"
        )
    if len(home) == 0:
        raise ValueError("no matches to fit")
    if np.any(home == away):
        raise ValueError(f"a team cannot play itself (match index {int(np.flatnonzero(home == away)[0])})")

    reference = days.max() + np.timedelta64(1, "D") if reference_date is None else as_day(reference_date)
    reject_matches_not_before(days, reference, lambda k: f", {home[k]} v {away[k]}")
    weights = decay_weights(days, reference, config.xi)

    teams, team_index = np.unique(np.concatenate([home, away]), return_inverse=True)
    n = len(teams)
    home_idx, away_idx = team_index[: len(home)], team_index[len(home) :]
    promoted = sorted({str(team) for team in promoted_teams})
    is_promoted = np.isin(teams, promoted)
    attack_centre = np.where(is_promoted, config.prior_attack, 0.0)
    defence_centre = np.where(is_promoted, config.prior_defence, 0.0)
    # own centres: established teams from prior_centres, promoted ones from promoted_priors
    for centres, promoted_side in ((prior_centres, False), (promoted_priors, True)):
        for team, (attack_prior, defence_prior) in (centres or {}).items():
            position = int(np.searchsorted(teams, team))
            if position < n and teams[position] == team and is_promoted[position] == promoted_side:
                attack_centre[position], defence_centre[position] = float(attack_prior), float(defence_prior)

    targets_home = targets_away = None
    if poisson_targets is not None:
        targets_home = as_target_array(poisson_targets[0], len(home), "poisson_targets[0]")
        targets_away = as_target_array(poisson_targets[1], len(home), "poisson_targets[1]")
    _require_finite_optimum(teams, home_idx, away_idx, goals_home, goals_away, config.shrinkage)
    problem = WeightedLikelihood(
        home_idx, away_idx, goals_home, goals_away, weights, n, config.shrinkage, attack_centre, defence_centre,
        targets_home, targets_away,
    )
    if init is None:
        theta = _cold_start(weights, goals_home, goals_away, n)
    else:
        theta = _warm_start(init, teams, attack_centre, defence_centre)
        if not math.isfinite(problem.objective(theta)):
            theta[-1] = 0.0  # the old ρ gives a new observed low score τ ≤ 0; ρ = 0 makes every τ = 1
    total_weight = float(weights.sum())
    gradient_tol = config.tol * max(1.0, total_weight)

    def rho_outside_region(theta: np.ndarray) -> bool:
        lower, upper = rho_interval_for(theta, n, config.prior_attack, config.prior_defence)
        return not (lower <= theta[-1] <= upper)

    result = newton(problem, theta, gradient_tol, config.max_iter, rho_outside_region)
    solver = "newton"
    rho_at_bound = rho_outside_region(result.theta)
    if rho_at_bound:
        newton_iterations = result.iterations
        result = constrained_newton(
            problem, result.theta, config.prior_attack, config.prior_defence, gradient_tol, config.max_iter
        )
        result.iterations += newton_iterations
        solver = "newton+active_set"
    lower, upper = rho_interval_for(result.theta, n, config.prior_attack, config.prior_defence)
    if not result.converged:
        raise FitDidNotConverge(
            f"Dixon-Coles fit did not converge after {result.iterations} iterations ({len(home)} matches, "
            f"{n} teams): {result.message}",
            iterations=result.iterations,
            gradient_max=result.gradient_max,
        )

    theta = result.theta
    strongest = float(np.max(np.abs(theta[: 2 * n])))
    if strongest > _DIVERGENCE_LIMIT:
        raise FitDidNotConverge(
            f"Dixon-Coles fit diverged: a team strength reached {strongest:.3g} on the log scale, so the "
            "maximum-likelihood estimate does not exist for these data; use shrinkage > 0",
            iterations=result.iterations,
            gradient_max=result.gradient_max,
        )
    log_likelihood = problem.log_likelihood(theta)
    diagnostics = FitDiagnostics(
        converged=True,
        iterations=result.iterations,
        log_likelihood=log_likelihood,
        penalised_log_likelihood=-problem.objective(theta),
        n_matches=len(home),
        n_teams=n,
        effective_weight=total_weight,
        effective_sample_size=total_weight**2 / float(weights @ weights),
        gradient_max=result.gradient_max,
        rho_interval=(lower, upper),
        rho_at_bound=rho_at_bound,
        solver=solver,
        message=result.message,
    )
    return DixonColesFit(
        teams=tuple(str(team) for team in teams),
        attack=theta[:n],
        defence=theta[n : 2 * n],
        intercept=theta[2 * n],
        home_advantage=theta[2 * n + 1],
        rho=theta[2 * n + 2],
        prior_attack=config.prior_attack,
        prior_defence=config.prior_defence,
        config=config,
        reference_date=dt.date.fromisoformat(str(reference)),
        promoted_teams=tuple(promoted),
        diagnostics=diagnostics,
    )
