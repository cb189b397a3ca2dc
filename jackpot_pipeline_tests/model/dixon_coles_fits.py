"""What the Dixon-Coles tests share: fitting a season, every pairing of a fit's teams and the smallest τ."""

from __future__ import annotations

import numpy as np

from jackpot_pipeline.model.dixon_coles import DixonColesConfig, DixonColesFit, fit_dixon_coles
from jackpot_pipeline_tests.model.season_results import SeasonResults

PLAIN_MLE = DixonColesConfig(xi=0.0, shrinkage=0.0)


def fit_season(season: SeasonResults, **kwargs) -> DixonColesFit:
    return fit_dixon_coles(
        season.home_teams, season.away_teams, season.home_goals, season.away_goals, season.dates, **kwargs
    )


def all_pairings(fit: DixonColesFit, extra_teams: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    teams = list(fit.teams) + list(extra_teams)
    pairs = [(h, a) for h in teams for a in teams if h != a]
    return [h for h, _ in pairs], [a for _, a in pairs]


def min_tau(fit: DixonColesFit, homes, aways) -> float:
    lam, mu = fit.lambdas(homes, aways)
    rho = fit.rho
    return float(min(np.min(1 - rho * lam * mu), np.min(1 + rho * lam), np.min(1 + rho * mu), 1 - rho))
