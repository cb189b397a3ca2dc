"""Full walk-forward over every shared league-season (16 divisions x 12 seasons), on both cores: what the
pipeline's walk-forward step computes, set A (shots on target, promoted teams from the division below) and the
pure Dixon-Coles baseline A0 beside it."""

from __future__ import annotations

import datetime as dt
import os
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from jackpot_pipeline.model.walk_forward import BASELINE_WALK_FORWARD, DEFAULT_WALK_FORWARD, walk_forward
from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows
from jackpot_pipeline.sources.leagues import LOWER_DIVISION, MAIN_LEAGUES
from jackpot_pipeline_tests.conftest import SHARED_FOOTBALL_DATA

# the catalogue has more divisions than the shared folder holds files of
SHARED_LEAGUES = [league for league in MAIN_LEAGUES if any(SHARED_FOOTBALL_DATA.glob(f"mmz4281/*/{league}.csv"))]


def _league_matches(league: str) -> pd.DataFrame:
    frames = []
    for path in sorted(SHARED_FOOTBALL_DATA.glob(f"mmz4281/*/{league}.csv")):
        relpath = path.relative_to(SHARED_FOOTBALL_DATA).as_posix()
        parsed = parse_source(path.read_bytes(), relpath)
        for rows in partition_rows(parsed, league, path.parent.name).values():
            frames.append(canonicalise(parsed, rows, snapshot_date=dt.date(2026, 1, 1)).canonical)
    return pd.concat(frames, ignore_index=True)


def _walk_league(league: str) -> tuple[str, int, int, int]:
    matches = _league_matches(league)
    lower = _league_matches(LOWER_DIVISION[league]) if LOWER_DIVISION.get(league) in SHARED_LEAGUES else None
    started = time.perf_counter()
    fits = predictions = 0
    for season in sorted(matches["season"].unique()):
        result = walk_forward(matches, season, DEFAULT_WALK_FORWARD, lower)
        baseline = walk_forward(matches, season, BASELINE_WALK_FORWARD)
        fits += result.fits + baseline.fits
        predictions += len(result.predictions)
    return league, fits, predictions, round(time.perf_counter() - started, 2)


def run(workers: int | None = None) -> dict[str, object]:
    workers = workers or min(2, os.cpu_count() or 1)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        per_league = list(pool.map(_walk_league, SHARED_LEAGUES))
    wall = time.perf_counter() - started
    fits = sum(fits for _, fits, _, _ in per_league)
    return {
        "league_seasons": len(SHARED_LEAGUES) * 12,
        "workers": workers,
        "fits": fits,
        "predictions": sum(n for _, _, n, _ in per_league),
        "wall_seconds_including_parse": round(wall, 2),
        "fit_seconds_by_league": {league: seconds for league, _, _, seconds in per_league},
        "target_seconds": 60,
    }
