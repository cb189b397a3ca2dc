"""Minimal reader of one football-data.co.uk season file, for the Dixon-Coles tests and benchmark.

Not the ingestion layer: it keeps only what a Dixon-Coles fit needs (date, teams, full-time goals) and
handles the quirks of the raw files (UTF-8 BOM, stray 0xA0 bytes, two- or four-digit years, comma-only
padding rows at the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SeasonResults:
    """Played matches of one league-season, in file order."""

    dates: np.ndarray  # datetime64[D]
    home_teams: np.ndarray  # str
    away_teams: np.ndarray  # str
    home_goals: np.ndarray  # int64
    away_goals: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.home_teams)

    def select(self, mask: np.ndarray) -> SeasonResults:
        return SeasonResults(*(getattr(self, name)[mask] for name in _FIELDS))

    @staticmethod
    def concatenate(parts: list[SeasonResults]) -> SeasonResults:
        return SeasonResults(*(np.concatenate([getattr(part, name) for part in parts]) for name in _FIELDS))


_FIELDS = ("dates", "home_teams", "away_teams", "home_goals", "away_goals")


def season_csv_path(football_data_root: Path, season: str, division: str) -> Path:
    """`season` is football-data's four-digit code, e.g. "2324" for 2023/24."""
    return Path(football_data_root) / "mmz4281" / season / f"{division}.csv"


def load_season_results(football_data_root: Path, season: str, division: str) -> SeasonResults:
    path = season_csv_path(football_data_root, season, division)
    frame = pd.read_csv(
        path,
        usecols=["Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG"],
        dtype={"Date": str, "HomeTeam": str, "AwayTeam": str},
        encoding="utf-8-sig",
        encoding_errors="replace",  # 1819/I2 and 1819/SC0 carry a 0xA0 byte
    )
    frame = frame[frame["HomeTeam"].notna() & (frame["HomeTeam"].str.strip() != "")]
    frame = frame[frame["FTHG"].notna() & frame["FTAG"].notna()]
    return SeasonResults(
        dates=_parse_day_first_dates(frame["Date"]),
        home_teams=frame["HomeTeam"].str.strip().to_numpy(dtype=str),
        away_teams=frame["AwayTeam"].str.strip().to_numpy(dtype=str),
        home_goals=frame["FTHG"].to_numpy(dtype=np.int64),
        away_goals=frame["FTAG"].to_numpy(dtype=np.int64),
    )


def _parse_day_first_dates(raw: pd.Series) -> np.ndarray:
    text = raw.str.strip()
    four_digit_year = text.str.len() == 10
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    parsed[four_digit_year] = pd.to_datetime(text[four_digit_year], format="%d/%m/%Y")
    parsed[~four_digit_year] = pd.to_datetime(text[~four_digit_year], format="%d/%m/%y")
    return parsed.to_numpy().astype("datetime64[D]")
