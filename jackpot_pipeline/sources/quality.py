"""Data-quality rules for ingested partitions, as pure functions over DataFrames.

Each returns a :class:`QualityResult`; the Dagster layer turns them into (blocking) asset checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jackpot_pipeline.sources.football_data import MIN_ODDS, OVERROUND_BAND
from jackpot_pipeline.sources.football_data.cells import result_from_goals
from jackpot_pipeline.sources.leagues import season_window

_EXAMPLES = 5


@dataclass(frozen=True)
class QualityResult:
    passed: bool
    description: str
    failures: int = 0
    examples: list[str] = field(default_factory=list)


def unique_match_ids(canonical: pd.DataFrame) -> QualityResult:
    duplicated = canonical.loc[canonical["match_id"].duplicated(keep=False), "match_id"]
    return QualityResult(
        duplicated.empty,
        f"{canonical['match_id'].nunique()} distinct match_id over {len(canonical)} rows",
        int(duplicated.size),
        sorted(set(duplicated))[:_EXAMPLES],
    )


def goals_consistent(canonical: pd.DataFrame) -> QualityResult:
    played = canonical[canonical["status"] == "played"]
    home = pd.to_numeric(played["home_goals"])
    away = pd.to_numeric(played["away_goals"])
    bad = played[
        home.isna() | away.isna() | (home < 0) | (away < 0)
        | (home % 1 != 0) | (away % 1 != 0)
        | (played["result"] != [result_from_goals(h, a) if pd.notna(h) and pd.notna(a) else None for h, a in zip(home, away, strict=True)])
    ]
    unplayed = canonical[canonical["status"] != "played"]
    stray = unplayed[unplayed["home_goals"].notna() | unplayed["away_goals"].notna() | unplayed["result"].notna()]
    failures = pd.concat([bad, stray])
    return QualityResult(
        failures.empty,
        f"{len(played)} played matches with non-negative integer goals matching H/D/A; "
        f"{len(unplayed)} without result carry no goals",
        len(failures),
        [f"line {r.source_row}: {r.home_goals}-{r.away_goals} {r.result}" for r in _first_rows(failures)],
    )


def odds_plausible(canonical: pd.DataFrame) -> QualityResult:
    problems: list[str] = []
    failures = 0
    for prefix in ("", "closing_"):
        prices = canonical[[f"{prefix}odds_home", f"{prefix}odds_draw", f"{prefix}odds_away"]].to_numpy(dtype=float)
        present = ~np.isnan(prices).any(axis=1)
        partial = np.isnan(prices).any(axis=1) & ~np.isnan(prices).all(axis=1)
        quoted = prices[present]
        overround = (1.0 / quoted).sum(axis=1)
        bad = (quoted < MIN_ODDS).any(axis=1) | (overround < OVERROUND_BAND[0]) | (overround > OVERROUND_BAND[1])
        failures += int(bad.sum()) + int(partial.sum())
        rows = canonical.loc[present].loc[bad, "source_row"].tolist() + canonical.loc[partial, "source_row"].tolist()
        problems += [f"{prefix or 'pre-closing '}odds, line {row}" for row in rows[:_EXAMPLES]]
    return QualityResult(
        failures == 0,
        f"present 1X2 odds >= {MIN_ODDS} with overround in {OVERROUND_BAND[0]}-{OVERROUND_BAND[1]}, triples complete",
        failures,
        problems[:_EXAMPLES],
    )


def dates_in_season(canonical: pd.DataFrame, league: str, season: str) -> QualityResult:
    if canonical.empty:
        return QualityResult(True, "no matches in this partition")
    window = season_window(league, season)
    stamps = pd.to_datetime(canonical["match_date"])
    if stamps.dtype.kind == "M" and stamps.dt.tz is None and not stamps.isna().any():
        # a day is in the window when its midnight is (a missing date takes the row-wise path below)
        last = pd.Timestamp(window.last_day) + pd.Timedelta(days=1)
        outside = canonical[~((stamps >= pd.Timestamp(window.first_day)) & (stamps < last)).to_numpy()]
    else:
        outside = canonical[[not window.contains(day) for day in stamps.dt.date]]
    return QualityResult(
        outside.empty,
        f"every match dated {window.first_day} to {window.last_day}",
        len(outside),
        [f"line {r.source_row}: {r.match_date:%Y-%m-%d}" for r in _first_rows(outside)],
    )


def _first_rows(frame: pd.DataFrame):
    """The first rows to quote as examples (none of a frame without rows: itertuples would still build
    a named-tuple class for its columns)."""
    return frame.head(_EXAMPLES).itertuples() if len(frame) else ()


def rows_accounted(raw: pd.DataFrame, canonical: pd.DataFrame, quarantined: pd.DataFrame, expected_lines: int) -> QualityResult:
    """canonical + quarantined + blank/padding = data lines of the file's partition, line by line."""
    blank = raw.loc[raw["row_kind"] == "blank", "source_row"]
    placed = pd.concat([canonical["source_row"], quarantined["source_row"], blank]).astype("int64")
    raw_rows = raw["source_row"].astype("int64")
    twice = placed[placed.duplicated()].tolist()
    lost = sorted(set(raw_rows) - set(placed))
    invented = sorted(set(placed) - set(raw_rows))
    passed = len(raw_rows) == expected_lines and len(placed) == len(raw_rows) and not (twice or lost or invented)
    return QualityResult(
        passed,
        f"{len(canonical)} canonical + {len(quarantined)} quarantined + {len(blank)} blank = "
        f"{len(placed)} of {expected_lines} data lines",
        len(twice) + len(lost) + len(invented) + abs(len(raw_rows) - expected_lines),
        [f"line {n} counted twice" for n in twice[:2]] + [f"line {n} lost" for n in lost[:2]]
        + [f"line {n} not in the file" for n in invented[:1]],
    )
