"""Read real football-data.co.uk season files from the shared folder for model tests.

Only what the odds/calibration tests need: full-time result and one 1X2 odds triple,
rows in date order. The files are read in place (never copied into the project).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from jackpot_pipeline.model.metrics import encode_outcomes

LEAGUES = ("E0", "E1", "SP1", "D1", "I1", "F1")


def read_season(shared_data: Path, league: str, season: str) -> pd.DataFrame:
    """One season file, cleaned just enough: BOM/latin-1 handled, padding rows dropped,
    rows sorted by date (stable, so same-day order is the file's)."""
    return _read_season_cached(shared_data, league, season).copy()


@lru_cache(maxsize=None)
def _read_season_cached(shared_data: Path, league: str, season: str) -> pd.DataFrame:
    path = shared_data / "mmz4281" / season / f"{league}.csv"
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")
    except UnicodeDecodeError:
        # Two files carry a stray 0xA0 byte that is not valid UTF-8.
        frame = pd.read_csv(path, encoding="latin-1")
    frame = frame[frame["HomeTeam"].notna() & frame["FTR"].isin(["H", "D", "A"])].copy()
    dates = pd.to_datetime(frame["Date"], format="%d/%m/%Y", errors="coerce")
    short_year = pd.to_datetime(frame["Date"], format="%d/%m/%y", errors="coerce")
    frame["match_date"] = dates.fillna(short_year)
    assert frame["match_date"].notna().all(), f"unparsed dates in {path}"
    frame["league"], frame["season"] = league, season
    return frame.sort_values("match_date", kind="mergesort").reset_index(drop=True)


def odds_matrix(frame: pd.DataFrame, prefix: str) -> np.ndarray:
    """(n, 3) decimal odds for columns {prefix}H/D/A; empty cells are NaN."""
    columns = [f"{prefix}H", f"{prefix}D", f"{prefix}A"]
    return frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)


def outcomes(frame: pd.DataFrame) -> np.ndarray:
    return encode_outcomes(frame["FTR"].to_numpy())


def read_seasons(shared_data: Path, leagues: tuple[str, ...] | list[str], seasons: list[str]) -> pd.DataFrame:
    """Several leagues and seasons in one frame, in date order (stable)."""
    frames = [read_season(shared_data, league, season) for season in seasons for league in leagues]
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values("match_date", kind="mergesort").reset_index(drop=True)
