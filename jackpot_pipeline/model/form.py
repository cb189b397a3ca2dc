"""Team form and league baselines of one league-season, each value from matches dated strictly before the
date it describes.

``team_form_features``: one row per match of the season and side (home, away). For the team on that side,
means over its last 5 and last 10 played league matches before the match date (the previous season's
matches count, so a season's first weeks have form too): points, goals for and against, shots on target for
and against; the same points and goals over its last 5 home matches and last 5 away matches; days since its
previous match.

``league_baselines``: one row per match date of the season: the season's played matches dated before it,
their draw, home-win and away-win rates, goals per match and home advantage (home minus away goals per
match).

A match on the same date never counts, so a result can only change rows dated after it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FORM_WINDOWS = (5, 10)
VENUE_WINDOW = 5
FORM_CODE_VERSION = "1"

TEAM_FORM_COLUMNS = [
    "league", "season", "match_id", "match_date", "team", "opponent", "venue", "matches_before",
    "last5_points", "last5_goals_for", "last5_goals_against", "last5_sot_for", "last5_sot_against",
    "last10_points", "last10_goals_for", "last10_goals_against", "last10_sot_for", "last10_sot_against",
    "home_last5_points", "home_last5_goals_for", "home_last5_goals_against",
    "away_last5_points", "away_last5_goals_for", "away_last5_goals_against",
    "rest_days",
]
LEAGUE_BASELINE_COLUMNS = [
    "league", "season", "as_of_date", "matches_before", "home_win_rate", "draw_rate", "away_win_rate",
    "goals_per_match", "home_advantage",
]
_STATS = ("points", "goals_for", "goals_against", "sot_for", "sot_against")


def _dated(matches: pd.DataFrame) -> pd.DataFrame:
    frame = matches.copy()
    frame["match_date"] = pd.to_datetime(frame["match_date"]).dt.normalize()
    return frame.sort_values(["match_date", "match_id"], kind="stable").reset_index(drop=True)


def _team_rows(played: pd.DataFrame) -> pd.DataFrame:
    """Each played match twice, once from each side's point of view."""
    home_goals = played["home_goals"].to_numpy(dtype=float)
    away_goals = played["away_goals"].to_numpy(dtype=float)
    shots = played.reindex(columns=["home_shots_on_target", "away_shots_on_target"]).apply(pd.to_numeric, errors="coerce")
    home_sot, away_sot = shots["home_shots_on_target"].to_numpy(dtype=float), shots["away_shots_on_target"].to_numpy(dtype=float)
    home_points = np.select([home_goals > away_goals, home_goals == away_goals], [3.0, 1.0], 0.0)
    away_points = np.select([away_goals > home_goals, home_goals == away_goals], [3.0, 1.0], 0.0)
    home = pd.DataFrame({"team": played["home_team"].to_numpy(), "match_date": played["match_date"].to_numpy(),
                         "venue": "home", "points": home_points, "goals_for": home_goals, "goals_against": away_goals,
                         "sot_for": home_sot, "sot_against": away_sot})
    away = pd.DataFrame({"team": played["away_team"].to_numpy(), "match_date": played["match_date"].to_numpy(),
                         "venue": "away", "points": away_points, "goals_for": away_goals, "goals_against": home_goals,
                         "sot_for": away_sot, "sot_against": home_sot})
    return pd.concat([home, away], ignore_index=True).sort_values(["team", "match_date"], kind="stable")


def _window_means(history: pd.DataFrame, dates: np.ndarray, window: int, stats) -> dict[str, np.ndarray]:
    """Mean of each stat over the last ``window`` rows of ``history`` dated strictly before each date
    (missing values skipped; NaN when none)."""
    count = np.searchsorted(history["match_date"].to_numpy(dtype="datetime64[D]"), dates, side="left")
    start = np.maximum(count - window, 0)
    out = {}
    for stat in stats:
        values = history[stat].to_numpy(dtype=float)
        known = np.isfinite(values)
        sums = np.concatenate([[0.0], np.cumsum(np.where(known, values, 0.0))])
        counts = np.concatenate([[0], np.cumsum(known)])
        n = counts[count] - counts[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[stat] = np.where(n > 0, (sums[count] - sums[start]) / np.maximum(n, 1), np.nan)
    return out


def team_form_features(matches: pd.DataFrame, league: str, season: str) -> pd.DataFrame:
    """Form rows for every match of ``season`` (``matches``: the league's canonical matches of this season
    and any earlier ones; later seasons are ignored through the date rule)."""
    frame = _dated(matches[matches["league"] == league]) if len(matches) else matches
    if frame.empty or season not in set(frame["season"]):
        return pd.DataFrame(columns=TEAM_FORM_COLUMNS)
    targets = frame[frame["season"] == season]
    sides = pd.concat([
        pd.DataFrame({"match_id": targets["match_id"], "match_date": targets["match_date"], "team": targets["home_team"],
                      "opponent": targets["away_team"], "venue": "home"}),
        pd.DataFrame({"match_id": targets["match_id"], "match_date": targets["match_date"], "team": targets["away_team"],
                      "opponent": targets["home_team"], "venue": "away"}),
    ], ignore_index=True)
    history = _team_rows(frame[frame["status"] == "played"])
    pieces = []
    for team, rows in sides.groupby("team", sort=True):
        mine = history[history["team"] == team]
        dates = rows["match_date"].to_numpy(dtype="datetime64[D]")
        columns: dict[str, np.ndarray] = {}
        for window in FORM_WINDOWS:
            for stat, values in _window_means(mine, dates, window, _STATS).items():
                columns[f"last{window}_{stat}"] = values
        for venue in ("home", "away"):
            at_venue = mine[mine["venue"] == venue]
            for stat, values in _window_means(at_venue, dates, VENUE_WINDOW, _STATS[:3]).items():
                columns[f"{venue}_last{VENUE_WINDOW}_{stat}"] = values
        played_dates = mine["match_date"].to_numpy(dtype="datetime64[D]")
        before = np.searchsorted(played_dates, dates, side="left")
        columns["matches_before"] = before
        previous = played_dates[np.maximum(before - 1, 0)] if len(played_dates) else dates
        columns["rest_days"] = np.where(before > 0, (dates - previous).astype("timedelta64[D]").astype(float), np.nan)
        pieces.append(rows.assign(**columns))
    out = pd.concat(pieces, ignore_index=True).assign(league=league, season=season)
    out["matches_before"] = out["matches_before"].astype("int64")
    return out.sort_values(["match_date", "match_id", "venue"], ascending=[True, True, False], kind="stable")[
        TEAM_FORM_COLUMNS].reset_index(drop=True)


def league_baselines(matches: pd.DataFrame, league: str, season: str) -> pd.DataFrame:
    """One row per match date of ``season``: rates of the season's played matches dated before it."""
    frame = _dated(matches[(matches["league"] == league) & (matches["season"] == season)]) if len(matches) else matches
    if frame.empty:
        return pd.DataFrame(columns=LEAGUE_BASELINE_COLUMNS)
    played = frame[frame["status"] == "played"]
    played_dates = played["match_date"].to_numpy(dtype="datetime64[D]")
    home_goals = played["home_goals"].to_numpy(dtype=float)
    away_goals = played["away_goals"].to_numpy(dtype=float)
    result = played["result"].to_numpy()
    cumulative = {
        "home_win": np.cumsum(result == "H"), "draw": np.cumsum(result == "D"), "away_win": np.cumsum(result == "A"),
        "goals": np.cumsum(home_goals + away_goals), "margin": np.cumsum(home_goals - away_goals),
    }
    dates = np.unique(frame["match_date"].to_numpy(dtype="datetime64[D]"))
    n = np.searchsorted(played_dates, dates, side="left")

    def rate(name: str) -> np.ndarray:
        totals = np.concatenate([[0.0], cumulative[name].astype(float)])[n]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, totals / np.maximum(n, 1), np.nan)

    return pd.DataFrame({
        "league": league, "season": season, "as_of_date": pd.to_datetime(dates), "matches_before": n.astype("int64"),
        "home_win_rate": rate("home_win"), "draw_rate": rate("draw"), "away_win_rate": rate("away_win"),
        "goals_per_match": rate("goals"), "home_advantage": rate("margin"),
    })[LEAGUE_BASELINE_COLUMNS]
