"""Long ``match_predictions`` rows built from the real football-data files, without Dagster.

Canonical matches come from the project's own parser; predictions from ``walk_forward``; sets A-G and
the market rows from ``match_prediction_rows`` with a season calibration fitted only on
earlier seasons' out-of-sample predictions (identity when there are too few), as the modeling assets do.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import pandas as pd

from jackpot_pipeline.model.season_calibration import fit_season_calibration, match_prediction_rows
from jackpot_pipeline.model.walk_forward import walk_forward
from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows
from jackpot_pipeline.sources.leagues import season_window

SNAPSHOT = dt.date(2026, 1, 1)


@lru_cache(maxsize=None)
def canonical_matches(shared_data: Path, league: str, seasons: tuple[str, ...]) -> pd.DataFrame:
    frames = []
    for season in seasons:
        relpath = f"mmz4281/{season}/{league}.csv"
        parsed = parse_source((shared_data / relpath).read_bytes(), relpath)
        for rows in partition_rows(parsed, league, season).values():
            frames.append(canonicalise(parsed, rows, snapshot_date=SNAPSHOT).canonical)
    return pd.concat(frames, ignore_index=True)


@lru_cache(maxsize=None)
def wide_predictions(shared_data: Path, league: str, season: str, history: tuple[str, ...]) -> pd.DataFrame:
    """walk_forward predictions of ``league`` ``season``; ``history``: every season of the window, in order."""
    matches = canonical_matches(shared_data, league, history)
    return walk_forward(matches, season).predictions


def long_predictions(shared_data: Path, league: str, seasons: list[str], *, previous: int = 2) -> pd.DataFrame:
    """Long rows for each of ``seasons`` (consecutive split-season keys); the ``previous`` seasons before
    the first one are read as training history. Each season's calibration is fitted on the earlier
    predicted seasons of the same league."""
    first = int(seasons[0][:2])
    warm = [f"{first - k:02d}{first - k + 1:02d}" for k in range(previous, 0, -1)]
    window = tuple(warm + list(seasons))
    frames, history = [], []
    for season in seasons:
        wide = wide_predictions(shared_data, league, season, window[: window.index(season) + 1])
        earlier = pd.concat(history, ignore_index=True) if history else wide.iloc[0:0]
        calibration = fit_season_calibration(earlier, league, season, season_window(league, season).first_day)
        frames.append(match_prediction_rows(wide, calibration))
        history.append(wide)
    return pd.concat(frames, ignore_index=True)
