"""Dixon-Coles fit speed and optimum, ours against penaltyblog, on the real 2023/24 Premier League season.

Run: `.venv/bin/python benchmarks/bench_dixon_coles.py` (prints JSON). Both libraries are timed in the same
process with time.perf_counter, on the same 380 matches and the same time-decay weights
(ξ = 0.0018/day, reference date the day after the last match).

"Same objective" comparisons score every parameter set with our one likelihood function
(`DixonColesFit.log_likelihood`). penaltyblog has no shrinkage, so our default fit (shrinkage 5) is compared
on our penalised objective, and an unpenalised fit of ours on the plain weighted log-likelihood.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from jackpot_pipeline_tests.model.season_results import SeasonResults, load_season_results
from jackpot_pipeline.model.dixon_coles import (
    DixonColesConfig,
    DixonColesFit,
    fit_dixon_coles,
    time_decay_weights,
)
from jackpot_pipeline_tests.model.penaltyblog_peer import as_our_fit

PROJECT_ROOT = Path(__file__).resolve().parents[2]

LEAGUE, SEASON = "E0", "2324"
XI = 0.0018


def _football_data_root() -> Path:
    configured = os.environ.get("JACKPOT_SHARED_FOOTBALL_DATA")
    defaults = [PROJECT_ROOT.parent / "shared" / "football-data", Path("/work/shared/football-data")]
    for candidate in [Path(configured)] if configured else defaults:
        if (candidate / "MANIFEST.md").is_file():
            return candidate
    raise RuntimeError("shared football-data folder not found; set JACKPOT_SHARED_FOOTBALL_DATA")


def _interleaved_median_seconds(fits: dict, repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median wall time of each callable, timed in turn within every round so that background load hits
    all of them alike."""
    for fit in fits.values():
        for _ in range(warmup):
            fit()
    timings: dict[str, list[float]] = {name: [] for name in fits}
    for _ in range(repeats):
        for name, fit in fits.items():
            start = time.perf_counter()
            fit()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def _ours(results: SeasonResults, config: DixonColesConfig, **kwargs) -> DixonColesFit:
    return fit_dixon_coles(
        results.home_teams,
        results.away_teams,
        results.home_goals,
        results.away_goals,
        results.dates,
        config=config,
        **kwargs,
    )


def _penaltyblog(results: SeasonResults, weights: np.ndarray, accurate: bool):
    from penaltyblog.models import DixonColesGoalModel

    model = DixonColesGoalModel(results.home_goals, results.away_goals, results.home_teams, results.away_teams, weights)
    if accurate:
        # Its analytic gradient is inexact when ρ ≠ 0; numerical gradients reach the true optimum.
        model.fit(use_gradient=False, minimizer_options={"ftol": 1e-10, "maxiter": 2000})
    else:
        model.fit()
    return model


def _weighted_log_likelihood(fit: DixonColesFit, results: SeasonResults, weights: np.ndarray) -> float:
    return fit.log_likelihood(results.home_teams, results.away_teams, results.home_goals, results.away_goals, weights)


def _penalised(fit: DixonColesFit, results: SeasonResults, weights: np.ndarray, shrinkage: float) -> float:
    penalty = 0.5 * shrinkage * float(fit.attack @ fit.attack + fit.defence @ fit.defence)
    return _weighted_log_likelihood(fit, results, weights) - penalty


def _warm_refit_timing(root: Path) -> dict:
    """Walk-forward shape: ~3 seasons of E0, refitted a week later from the previous week's fit."""
    seasons = [load_season_results(root, season, LEAGUE) for season in ("2122", "2223", "2324")]
    joined = SeasonResults.concatenate(seasons)
    config = DixonColesConfig()
    timings, cold_timings, iterations, cold_iterations = [], [], [], []
    previous = None
    for reference in np.arange(np.datetime64("2023-10-02"), np.datetime64("2024-05-20"), 7):
        window = joined.select(joined.dates < reference)
        start = time.perf_counter()
        cold = _ours(window, config, reference_date=reference)
        cold_timings.append(time.perf_counter() - start)
        if previous is not None:
            start = time.perf_counter()
            warm = _ours(window, config, reference_date=reference, init=previous)
            timings.append(time.perf_counter() - start)
            iterations.append(warm.diagnostics.iterations)
            cold_iterations.append(cold.diagnostics.iterations)
        previous = cold
    return {
        "matches_per_fit": int(len(window)),
        "refits": len(timings),
        "median_warm_fit_seconds": statistics.median(timings),
        "median_cold_fit_seconds": statistics.median(cold_timings),
        "mean_warm_iterations": float(np.mean(iterations)),
        "mean_cold_iterations": float(np.mean(cold_iterations)),
    }


def run(repeats: int = 50) -> dict:
    root = _football_data_root()
    results = load_season_results(root, SEASON, LEAGUE)
    reference = results.dates.max() + np.timedelta64(1, "D")
    weights = time_decay_weights(results.dates, reference, XI)
    default_config = DixonColesConfig(xi=XI)
    unpenalised_config = DixonColesConfig(xi=XI, shrinkage=0.0)

    ours_default = _ours(results, default_config)
    ours_unpenalised = _ours(results, unpenalised_config)
    fits = {
        "ours_default": lambda: _ours(results, default_config),
        "ours_unpenalised": lambda: _ours(results, unpenalised_config),
    }
    try:
        import penaltyblog
    except ImportError:
        penaltyblog = None
    else:
        fits["penaltyblog_default"] = lambda: _penaltyblog(results, weights, accurate=False)
    seconds = _interleaved_median_seconds(fits, repeats)
    ours_default_seconds = seconds["ours_default"]
    ours_unpenalised_seconds = seconds["ours_unpenalised"]

    out = {
        "data": {
            "league": LEAGUE,
            "season": "2023/24",
            "matches": len(results),
            "xi_per_day": XI,
            "reference_date": str(reference),
            "effective_weight": float(weights.sum()),
        },
        "repeats": repeats,
        "ours": {
            "default_config": {
                "median_fit_seconds": ours_default_seconds,
                "iterations": ours_default.diagnostics.iterations,
                "shrinkage": default_config.shrinkage,
            },
            "unpenalised": {
                "median_fit_seconds": ours_unpenalised_seconds,
                "iterations": ours_unpenalised.diagnostics.iterations,
            },
        },
    }
    if penaltyblog is None:
        out["penaltyblog"] = "not installed"
        return out

    pb_default = _penaltyblog(results, weights, accurate=False)
    pb_accurate = _penaltyblog(results, weights, accurate=True)
    pb_default_seconds = seconds["penaltyblog_default"]
    pb_accurate_seconds = _interleaved_median_seconds(
        {"accurate": lambda: _penaltyblog(results, weights, accurate=True)}, 3, warmup=1
    )["accurate"]
    theirs_default, theirs_accurate = as_our_fit(pb_default), as_our_fit(pb_accurate)
    shrinkage = default_config.shrinkage
    out["penaltyblog"] = {
        "version": penaltyblog.__version__,
        "default_fit": {
            "median_fit_seconds": pb_default_seconds,
            "method": "SLSQP + its analytic gradient, same weights",
        },
        "numerical_gradient_fit": {
            "median_fit_seconds": pb_accurate_seconds,
            "method": "SLSQP, ftol 1e-10, numerical gradient, same weights",
        },
    }
    out["speed_ratio_penaltyblog_over_ours"] = {
        "default_config": pb_default_seconds / ours_default_seconds,
        "unpenalised": pb_default_seconds / ours_unpenalised_seconds,
    }
    ours_weighted = _weighted_log_likelihood(ours_unpenalised, results, weights)
    ours_penalised = _penalised(ours_default, results, weights, shrinkage)
    out["log_likelihood_difference_ours_minus_penaltyblog"] = {
        "weighted_loglik__our_unpenalised_fit_vs_penaltyblog_default": ours_weighted
        - _weighted_log_likelihood(theirs_default, results, weights),
        "weighted_loglik__our_unpenalised_fit_vs_penaltyblog_numerical_gradient": ours_weighted
        - _weighted_log_likelihood(theirs_accurate, results, weights),
        "penalised_objective__our_default_fit_vs_penaltyblog_default": ours_penalised
        - _penalised(theirs_default, results, weights, shrinkage),
    }
    out["walk_forward_refits"] = _warm_refit_timing(root)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
