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
_VENUE_STATS = _STATS[:3]
# Only these columns are read, so _dated copies them rather than the whole canonical frame.
_USED_COLUMNS = ["match_id", "league", "season", "match_date", "home_team", "away_team", "status", "home_goals",
                 "away_goals", "result", "home_shots_on_target", "away_shots_on_target"]


def _sort_codes(values: np.ndarray) -> np.ndarray:
    """Integer codes that order ``values`` as a pandas sort does (it sorts the codes of the sorted distinct
    values), missing values last."""
    codes, distinct = pd.factorize(values, sort=True)
    return np.where(codes < 0, len(distinct), codes)


def _dated(matches: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The chosen rows with day dates, by date then match id (ties keep their order)."""
    frame = matches.loc[rows, [column for column in _USED_COLUMNS if column in matches.columns]]
    dates = frame["match_date"]
    # to_datetime of a column that already holds naive dates returns it unchanged, only slower.
    if not (isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M"):
        dates = pd.to_datetime(dates)
    frame["match_date"] = dates.dt.normalize()
    # What sort_values(["match_date", "match_id"], kind="stable") gives, without its per-call Categoricals.
    order = np.lexsort((_sort_codes(frame["match_id"].to_numpy()), _sort_codes(frame["match_date"].to_numpy())))
    return frame.take(order).reset_index(drop=True)


def _team_rows(played: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each played match twice, once from each side's point of view (all home sides, then all away sides):
    team, date (days), whether at home, and the stats."""
    home_goals = played["home_goals"].to_numpy(dtype=float)
    away_goals = played["away_goals"].to_numpy(dtype=float)
    shots = played.reindex(columns=["home_shots_on_target", "away_shots_on_target"]).apply(pd.to_numeric, errors="coerce")
    home_sot, away_sot = shots["home_shots_on_target"].to_numpy(dtype=float), shots["away_shots_on_target"].to_numpy(dtype=float)
    home_points = np.select([home_goals > away_goals, home_goals == away_goals], [3.0, 1.0], 0.0)
    away_points = np.select([away_goals > home_goals, home_goals == away_goals], [3.0, 1.0], 0.0)
    dates = played["match_date"].to_numpy(dtype="datetime64[D]")
    return {
        "team": np.concatenate([played["home_team"].to_numpy(), played["away_team"].to_numpy()]),
        "date": np.concatenate([dates, dates]),
        "at_home": np.repeat([True, False], len(played)),
        "points": np.concatenate([home_points, away_points]),
        "goals_for": np.concatenate([home_goals, away_goals]), "goals_against": np.concatenate([away_goals, home_goals]),
        "sot_for": np.concatenate([home_sot, away_sot]), "sot_against": np.concatenate([away_sot, home_sot]),
    }


class _TeamHistories:
    """Played rows of every team, sorted by (team, date) with ties in their row order, and per team the
    running sums of each stat starting from 0.

    The running sums are accumulated team by team, in that order, so each window mean ``(sums[count] -
    sums[start]) / n`` is the very float the former one-frame-per-team computation gave; a single cumulative
    sum over all teams would round differently for non-integer values."""

    def __init__(self, team_codes: np.ndarray, dates: np.ndarray, stats: np.ndarray, team_count: int):
        order = np.lexsort((dates, team_codes))  # stable: same-day rows keep their order
        self.team_codes, self.dates = team_codes[order], dates[order]
        bounds = np.searchsorted(self.team_codes, np.arange(team_count + 1))
        self.first_row = bounds[:-1]
        known = np.isfinite(stats[order])
        values = np.where(known, stats[order], 0.0)
        # Team t's running sums sit from row first_row[t] + t: a zero row, then one row per match of the team.
        self.sums = np.zeros((len(order) + team_count, stats.shape[1]))
        self.known = np.zeros((len(order) + team_count, stats.shape[1]), dtype=np.int64)
        for team in range(team_count):
            lo, hi = bounds[team], bounds[team + 1]
            if hi > lo:
                self.sums[lo + team + 1 : hi + team + 1] = np.cumsum(values[lo:hi], axis=0)
                self.known[lo + team + 1 : hi + team + 1] = np.cumsum(known[lo:hi], axis=0)

    def matches_before(self, team_codes: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """How many of the team's rows are dated strictly before each date."""
        # One search over (team, date) pairs: a date-ordered key in which every team has its own range.
        day = self.dates.astype(np.int64)
        low = min(day.min(initial=0), dates.astype(np.int64).min(initial=0))
        span = max(day.max(initial=0), dates.astype(np.int64).max(initial=0)) - low + 1
        keys = self.team_codes.astype(np.int64) * span + (day - low)
        wanted = team_codes.astype(np.int64) * span + (dates.astype(np.int64) - low)
        return np.searchsorted(keys, wanted, side="left") - self.first_row[team_codes]

    def window_means(self, team_codes: np.ndarray, count: np.ndarray, window: int) -> np.ndarray:
        """Mean of each stat over the team's last ``window`` rows of the first ``count`` (missing values
        skipped; NaN when none), one column per stat."""
        base = (self.first_row[team_codes] + team_codes)[:, None]
        end, start = base + count[:, None], base + np.maximum(count - window, 0)[:, None]
        columns = np.arange(self.sums.shape[1])
        n = self.known[end, columns] - self.known[start, columns]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (self.sums[end, columns] - self.sums[start, columns]) / np.maximum(n, 1), np.nan)


def team_form_features(matches: pd.DataFrame, league: str, season: str) -> pd.DataFrame:
    """Form rows for every match of ``season`` (``matches``: the league's canonical matches of this season
    and any earlier ones; later seasons are ignored through the date rule)."""
    frame = _dated(matches, (matches["league"] == league).to_numpy()) if len(matches) else matches
    if frame.empty or season not in set(frame["season"]):
        return pd.DataFrame(columns=TEAM_FORM_COLUMNS)
    targets = frame[frame["season"] == season]
    history = _team_rows(frame[frame["status"] == "played"])
    home_teams, away_teams = targets["home_team"].to_numpy(), targets["away_team"].to_numpy()
    # Integer team codes in sorted name order (-1: no team); the sides come first, then the history rows.
    codes, teams = pd.factorize(np.concatenate([home_teams, away_teams, history["team"]]), sort=True)
    side_codes, history_codes = codes[: 2 * len(targets)], codes[2 * len(targets):]

    # Each match once per side (home sides, then away sides), put straight into the output order: by date,
    # match id, home before away; rows tying on all three (a match id repeated on a day) by team name, then
    # match order, as the former stable sort of per-team pieces left them. ``targets`` is sorted by date and
    # match id already, so equal pairs are neighbours. A side without a team gets no row (as a groupby on
    # team dropped it).
    match_ids, match_dates = targets["match_id"].to_numpy(), targets["match_date"].to_numpy()
    same_as_previous = np.r_[False, (np.diff(_sort_codes(match_dates)) == 0) & (np.diff(_sort_codes(match_ids)) == 0)]
    match_rank = np.cumsum(~same_as_previous)
    position = np.arange(len(targets))
    order = np.lexsort((np.tile(position, 2), side_codes, np.repeat([0, 1], len(targets)), np.tile(match_rank, 2)))
    order = order[side_codes[order] >= 0]
    side_codes = side_codes[order]
    columns: dict[str, object] = {
        "league": league, "season": season,
        "match_id": np.tile(match_ids, 2)[order], "match_date": np.tile(match_dates, 2)[order],
        "team": np.concatenate([home_teams, away_teams])[order], "opponent": np.concatenate([away_teams, home_teams])[order],
        "venue": np.repeat(np.array(["home", "away"], dtype=object), len(targets))[order],
    }
    dates = columns["match_date"].astype("datetime64[D]")

    in_history = history_codes >= 0
    stats = np.column_stack([history[stat] for stat in _STATS])
    overall = _TeamHistories(history_codes[in_history], history["date"][in_history], stats[in_history], len(teams))
    before = overall.matches_before(side_codes, dates)
    columns["matches_before"] = before.astype("int64")
    for window in FORM_WINDOWS:
        means = overall.window_means(side_codes, before, window)
        columns.update({f"last{window}_{stat}": means[:, i] for i, stat in enumerate(_STATS)})
    for venue, at_venue in (("home", history["at_home"]), ("away", ~history["at_home"])):
        chosen = in_history & at_venue
        split = _TeamHistories(history_codes[chosen], history["date"][chosen], stats[chosen][:, : len(_VENUE_STATS)],
                               len(teams))
        means = split.window_means(side_codes, split.matches_before(side_codes, dates), VENUE_WINDOW)
        columns.update({f"{venue}_last{VENUE_WINDOW}_{stat}": means[:, i] for i, stat in enumerate(_VENUE_STATS)})
    previous_row = overall.first_row[side_codes] + np.maximum(before - 1, 0)
    previous = overall.dates[np.minimum(previous_row, max(len(overall.dates) - 1, 0))] if len(overall.dates) else dates
    columns["rest_days"] = np.where(before > 0, (dates - previous).astype("timedelta64[D]").astype(float), np.nan)
    return pd.DataFrame({name: columns[name] for name in TEAM_FORM_COLUMNS}, index=pd.RangeIndex(len(order)))


def league_baselines(matches: pd.DataFrame, league: str, season: str) -> pd.DataFrame:
    """One row per match date of ``season``: rates of the season's played matches dated before it."""
    frame = _dated(matches, ((matches["league"] == league) & (matches["season"] == season)).to_numpy()) \
        if len(matches) else matches
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
