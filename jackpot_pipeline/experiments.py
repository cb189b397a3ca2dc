"""``python -m jackpot_pipeline.experiments`` (``make experiments``): evaluate a grid of walk-forward
configurations on the warehouse's canonical matches, record each as an MLflow run and print the comparison.

Every configuration goes through the same out-of-sample chain as the pipeline: weekly walk-forward per
league-season (the division below read for promoted teams when the configuration asks for it), the Set-G
pool and Set-B calibrator of each season fitted on earlier seasons only, then the headline sample's scores.
The table shows set A and set G against the pre-closing market and against pure Dixon-Coles (A0), paired on
the same matches, with standard errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
import pandas as pd

from jackpot_pipeline import tracking
from jackpot_pipeline.model import validation as v
from jackpot_pipeline.model.dixon_coles import DixonColesConfig
from jackpot_pipeline.model.season_calibration import fit_season_calibration, match_prediction_rows
from jackpot_pipeline.model.walk_forward import BASELINE_WALK_FORWARD, DEFAULT_WALK_FORWARD, WalkForwardConfig, walk_forward, with_baseline
from jackpot_pipeline.reporting import markdown_table
from jackpot_pipeline.settings import load_settings
from jackpot_pipeline.sources.leagues import LOWER_DIVISION, SeasonError, season_window
from jackpot_pipeline.steps.validation import paired_rps_difference
from jackpot_pipeline.warehouse.store import Warehouse

GRID: dict[str, WalkForwardConfig] = {
    "A0: Dixon-Coles, goals, xi 0.0018": BASELINE_WALK_FORWARD,
    "goals + 0.3 SOT, xi 0.003": WalkForwardConfig(DixonColesConfig(xi=0.003), shots_on_target_weight=0.3),
    "goals + 0.3 SOT, xi 0.003, promoted from below": WalkForwardConfig(
        DixonColesConfig(xi=0.003), shots_on_target_weight=0.3, promoted_from_lower_division=True),
    "the same with shrinkage 2 (the previous A)": WalkForwardConfig(
        DixonColesConfig(xi=0.003, shrinkage=2.0), shots_on_target_weight=0.3, promoted_from_lower_division=True),
    "A: + pre-season strengths as prior centres, xi 0.004, shrinkage 4, k per side": DEFAULT_WALK_FORWARD,
}


def _walk(matches: Mapping[str, pd.DataFrame], config: WalkForwardConfig, task: tuple[str, str]) -> pd.DataFrame:
    league, season = task
    lower = matches.get(LOWER_DIVISION.get(league, ""))
    model = walk_forward(matches[league], season, config, lower).predictions
    baseline = model if config == BASELINE_WALK_FORWARD else walk_forward(
        matches[league], season, BASELINE_WALK_FORWARD, lower, predictions_only=True).predictions
    return with_baseline(model, baseline)


def evaluate(matches: Mapping[str, pd.DataFrame], config: WalkForwardConfig, leagues: Sequence[str],
             workers: int = 1) -> pd.DataFrame:
    """Long match predictions (sets A0, A-G and the market rows) of every season of ``leagues``."""
    tasks = [(league, season) for league in leagues for season in sorted(matches[league]["season"].unique())]
    work = partial(_walk, matches, config)
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            wide = list(pool.map(work, tasks))
    else:
        wide = [work(task) for task in tasks]
    history = pd.concat(wide, ignore_index=True)
    frames, pooled_fits = [], {}
    for (league, season), frame in zip(tasks, wide, strict=True):
        if frame.empty:
            continue
        try:
            cutoff = season_window(league, season).first_day
        except SeasonError:
            continue
        calibration = fit_season_calibration(history, league, season, cutoff, pooled_fits=pooled_fits)
        frames.append(match_prediction_rows(frame, calibration))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def comparison_row(name: str, predictions: pd.DataFrame, leagues: Sequence[str], seasons: Sequence[str],
                   min_index: int = v.HEADLINE_MIN_SEASON_MATCH_INDEX) -> dict[str, object]:
    headline = v.headline_sample(predictions, leagues=list(leagues), seasons=list(seasons))
    scored = v.score_predictions(headline, min_season_match_index=min_index)
    row: dict[str, object] = {"configuration": name, "n": int((scored["set_id"] == "A").sum())}
    for set_id in ("A0", "A", "G", "market_pre", "market_close"):
        mine = scored[scored["set_id"] == set_id]["rps"]
        row[f"rps_{set_id}"] = float(mine.mean()) if len(mine) else np.nan
    for first, second in (("A", "A0"), ("A", "market_pre"), ("G", "market_pre")):
        diff, se, _ = paired_rps_difference(scored, first, second)
        row[f"{first}-{second}"] = diff
        row[f"{first}-{second}_se"] = se
    return row


def comparison_markdown(rows: Sequence[Mapping[str, object]]) -> str:
    def number(value, digits=5):
        return "-" if value is None or pd.isna(value) else f"{value:.{digits}f}"

    def paired(row, key):
        value, se = row[key], row[f"{key}_se"]
        return "-" if value is None or pd.isna(value) else f"{value:+.5f} ± {se:.5f}"

    return markdown_table(
        ["configuration", "n", "A", "G", "market_pre", "A − A0", "A − market_pre", "G − market_pre"],
        [[r["configuration"], r["n"], number(r["rps_A"]), number(r["rps_G"]), number(r["rps_market_pre"]),
          paired(r, "A-A0"), paired(r, "A-market_pre"), paired(r, "G-market_pre")] for r in rows],
        align="lrrrrrrr",
    )


def run_grid(store: Warehouse, grid: Mapping[str, WalkForwardConfig], leagues: Sequence[str], seasons: Sequence[str],
             *, workers: int = 1, record: bool = True, data_dir=None) -> list[dict[str, object]]:
    """Evaluate each configuration of ``grid``; each becomes an MLflow run when ``record``."""
    wanted = sorted(set(leagues) | {LOWER_DIVISION[lg] for lg in leagues if lg in LOWER_DIVISION})
    canonical = store.query("SELECT * FROM canonical_matches WHERE league IN ({}) ORDER BY league, season, match_date, match_id"
                            .format(", ".join(f"'{league}'" for league in wanted)))
    matches = {league: group.reset_index(drop=True) for league, group in canonical.groupby("league")}
    present = [league for league in leagues if league in matches]
    rows = []
    for name, config in grid.items():
        predictions = evaluate(matches, config, present, workers)
        row = comparison_row(name, predictions, present, seasons)
        rows.append(row)
        if record:
            headline = v.headline_sample(predictions, leagues=list(present), seasons=list(seasons))
            min_index = v.HEADLINE_MIN_SEASON_MATCH_INDEX
            by_season = v.evaluate_by(headline, min_season_match_index=min_index)
            pooled = v.evaluate_sets(headline, min_season_match_index=min_index)
            png = v.reliability_png(v.reliability_table(headline, min_season_match_index=min_index), name)
            row["mlflow_run_id"] = tracking.record_experiment(
                name, {**config.as_dict(), "leagues": ",".join(present), "seasons": ",".join(seasons)},
                by_season, pooled, png, model_version=config.fingerprint(),
                dagster_run_id=os.environ.get("DAGSTER_RUN_ID"), experiment="experiments", data_dir=data_dir)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jackpot_pipeline.experiments", description=__doc__.splitlines()[0])
    parser.add_argument("--leagues", default=",".join(v.HEADLINE_LEAGUES))
    parser.add_argument("--seasons", default=",".join(v.HEADLINE_SEASONS), help="the seasons scored (earlier ones train)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-record", action="store_true", help="print the table without MLflow runs")
    args = parser.parse_args(argv)
    settings = load_settings()
    store = Warehouse(settings.warehouse_root)
    if not store.exists("canonical_matches"):
        print(f"no canonical_matches in {settings.warehouse_root}: run `make run` first", file=sys.stderr)
        return 1
    rows = run_grid(store, GRID, args.leagues.split(","), args.seasons.split(","), workers=args.workers,
                    record=not args.no_record, data_dir=settings.data_dir)
    print(comparison_markdown(rows))
    if not args.no_record:
        print(f"\nMLflow runs recorded in {tracking.tracking_uri(settings.data_dir)} "
              f"(mlflow ui --backend-store-uri {tracking.tracking_uri(settings.data_dir)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
