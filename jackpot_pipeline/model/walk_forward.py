"""Walk-forward Dixon-Coles: strength snapshots and strictly out-of-sample predictions for one league-season.

The season's matches are cut into matchday blocks (calendar weeks, Monday to Sunday). For each block the
model is fitted on every played match of the league dated strictly before the block's Monday, from the
current and the previous seasons (default two), time-decayed to that Monday, warm-started from the
previous block's fit. Every match of the block, played or scheduled, is predicted with that snapshot, so a
probability never uses its own result or any later one.

Each snapshot carries a ``model_version``: a hash of the code version, the model settings and the exact
training rows (match ids, dates, teams, goals). Changing one result changes the versions of the snapshots
that saw it and of nothing earlier.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jackpot_pipeline.model.dixon_coles import DixonColesConfig, DixonColesFit, fit_dixon_coles
from jackpot_pipeline.model.dixon_coles_inputs import as_team_array
from jackpot_pipeline.model.odds import devig_available

# Bump when walk-forward results would change for the same inputs and settings.
WALK_FORWARD_CODE_VERSION = "3"
MARKET_DEVIG_METHOD = "multiplicative"

SNAPSHOT_COLUMNS = [
    "league", "season", "as_of_date", "team", "attack", "defence", "home_advantage", "intercept", "rho", "xi",
    "shrinkage", "is_promoted", "matches_used", "effective_weight", "log_likelihood", "converged", "iterations",
    "model_version",
]
UNCALIBRATED_PREDICTION_COLUMNS = [
    "match_id", "league", "season", "match_date", "home_team", "away_team", "status", "result",
    "season_match_index", "snapshot_as_of", "model_version",
    "lambda_home", "lambda_away", "model_home", "model_draw", "model_away",
    "market_pre_home", "market_pre_draw", "market_pre_away", "market_pre_margin",
    "market_close_home", "market_close_draw", "market_close_away", "market_close_margin",
    "odds_home", "odds_draw", "odds_away", "flags",
    "baseline_home", "baseline_draw", "baseline_away",
]


@dataclass(frozen=True)
class WalkForwardConfig:
    """previous_seasons: earlier seasons of the league in the training window. min_training_matches: the
    warm-up; a block is predicted only when at least this many played matches precede it.

    shots_on_target_weight (1 − α): team strengths are fitted to α·goals + (1 − α)·k·shots on target, k the
    goals per shot on target of the training window (matches without shots count their goals); 0 fits goals
    alone. Shots on target are a less noisy measure of chances than goals, so they sharpen the strengths.
    promoted_from_lower_division: promoted teams are shrunk towards their strengths in a joint fit of this
    league and the division below (same country), on matches before the season's first block, instead of
    the config's fixed prior. shots_per_side: the goals per shot on target k is taken separately for home
    and away sides.
    carry_over_prior (c): every other team is shrunk towards c times its own strengths in a fit on the
    matches before the season's first block (from ``carry_over_seasons`` seasons, default previous_seasons,
    time-decayed with ``carry_over_xi``, default ξ) instead of the league mean 0: a team's quality persists
    from one season to the next, and a slowly decayed fit over several seasons is a cheap stand-in for a
    dynamic (state-space) strength. Fixed for the season, so it reads nothing dated after its first block.
    """

    dixon_coles: DixonColesConfig = field(default_factory=DixonColesConfig)
    previous_seasons: int = 2
    min_training_matches: int = 50
    shots_on_target_weight: float = 0.0
    promoted_from_lower_division: bool = False
    shots_per_side: bool = False
    carry_over_prior: float = 0.0
    carry_over_seasons: int | None = None
    carry_over_xi: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.shots_on_target_weight <= 1.0:
            raise ValueError(f"shots_on_target_weight must lie in [0, 1], got {self.shots_on_target_weight}")
        if not 0.0 <= self.carry_over_prior <= 1.0:
            raise ValueError(f"carry_over_prior must lie in [0, 1], got {self.carry_over_prior}")
        if self.carry_over_seasons is not None and self.carry_over_seasons < 0:
            raise ValueError(f"carry_over_seasons must be >= 0, got {self.carry_over_seasons}")
        if self.carry_over_xi is not None and not (math.isfinite(self.carry_over_xi) and self.carry_over_xi >= 0):
            raise ValueError(f"carry_over_xi must be a finite number >= 0, got {self.carry_over_xi}")

    @property
    def history_seasons(self) -> int:
        """Earlier seasons of the league a walk-forward reads: the training window's, or more for the
        season-start fit of carry_over_prior."""
        if self.carry_over_prior > 0 and self.carry_over_seasons is not None:
            return max(self.previous_seasons, self.carry_over_seasons)
        return self.previous_seasons

    def as_dict(self) -> dict[str, object]:
        return {
            "dixon_coles": dataclasses.asdict(self.dixon_coles),
            "previous_seasons": self.previous_seasons,
            "min_training_matches": self.min_training_matches,
            "shots_on_target_weight": self.shots_on_target_weight,
            "promoted_from_lower_division": self.promoted_from_lower_division,
            # named only when on, so that the versions of configs without the switch stay as they were
            **({"shots_per_side": True} if self.shots_per_side else {}),
            **({"carry_over_prior": self.carry_over_prior, "carry_over_seasons": self.carry_over_seasons,
                "carry_over_xi": self.carry_over_xi} if self.carry_over_prior > 0 else {}),
            "market_devig": MARKET_DEVIG_METHOD,
            "block": "iso_week",
        }

    def fingerprint(self) -> str:
        payload = json.dumps({"code": WALK_FORWARD_CODE_VERSION, **self.as_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


# Pure Dixon-Coles on goals: the baseline (set A0) every improvement is reported against.
BASELINE_WALK_FORWARD = WalkForwardConfig()
# The model of set A, chosen on 2015/16-2018/19 of the headline leagues (README, Modeling): shots on target
# sharpen the strengths, so they want a faster decay; promoted teams start from the division below; every
# other team is shrunk towards its strengths before the season (a fit over four earlier seasons, barely
# decayed), which lets the weekly fits decay faster still (ξ 0.004, shrinkage 4); goals per shot on target
# taken per side.
DEFAULT_WALK_FORWARD = WalkForwardConfig(
    DixonColesConfig(xi=0.004, shrinkage=4.0), shots_on_target_weight=0.3, promoted_from_lower_division=True,
    shots_per_side=True, carry_over_prior=1.0, carry_over_seasons=4, carry_over_xi=0.0005,
)


@dataclass(frozen=True)
class WalkForwardResult:
    snapshots: pd.DataFrame  # SNAPSHOT_COLUMNS, one row per team and block
    predictions: pd.DataFrame  # UNCALIBRATED_PREDICTION_COLUMNS, one row per match of the season after the warm-up
    warm_up_matches: int  # matches of the season left unpredicted for lack of training data
    training_seasons: list[str]
    fits: int


def seasons_in_order(matches: pd.DataFrame) -> list[str]:
    """A league's seasons by date of their first match (Argentina mixes ``1920`` and ``2014`` keys)."""
    first = matches.groupby("season")["match_date"].min().sort_values(kind="stable")
    return first.index.tolist()


def training_window(order: list[str], season: str, previous_seasons: int) -> list[str]:
    """``season`` and up to ``previous_seasons`` seasons before it, from a league's chronological order."""
    position = order.index(season)
    return order[max(0, position - previous_seasons) : position + 1]


def block_starts(dates: pd.Series) -> pd.Series:
    """Monday of each date's calendar week: the cut-off of its matchday block."""
    days = pd.to_datetime(dates, cache=False).dt.normalize()  # no cache: it boxes every distinct date
    return days - pd.to_timedelta(days.dt.weekday, unit="D")


class _PrefixHashes:
    """Chained SHA-256 of the training rows (in date order): ``hashes[k]`` identifies exactly the first k rows.

    Only the prefixes a walk-forward asks for are hashed, in one pass when asked in increasing order (the
    blocks' training sizes never decrease), so a season costs one digest of its rows, not one per row."""

    def __init__(self, played: pd.DataFrame) -> None:
        shots = played.reindex(columns=["home_shots_on_target", "away_shots_on_target"])
        # the values as a row tuple would format them (f-strings of the boxed scalars), column by column
        columns = [
            played["match_id"].tolist(),
            played["match_date"].to_numpy(dtype="datetime64[D]").astype(str).tolist(),  # ISO, as %Y-%m-%d
            *(played[name].tolist() for name in ("home_team", "away_team", "home_goals", "away_goals")),
            *(shots[name].tolist() for name in shots.columns),
        ]
        self._lines = ["|".join(map(str, values)) + "\n" for values in zip(*columns, strict=True)]
        self._digest = hashlib.sha256()
        self._hashed = 0

    def __getitem__(self, rows: int) -> str:
        if not 0 <= rows <= len(self._lines):
            raise IndexError(f"{rows} rows asked of {len(self._lines)}")
        if rows < self._hashed:
            self._digest, self._hashed = hashlib.sha256(), 0
        self._digest.update("".join(self._lines[self._hashed:rows]).encode())
        self._hashed = rows
        return self._digest.hexdigest()


def _market(frame: pd.DataFrame, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    odds = frame[[f"{prefix}odds_home", f"{prefix}odds_draw", f"{prefix}odds_away"]].to_numpy(dtype=float)
    implied, _ = devig_available(odds, MARKET_DEVIG_METHOD, invalid="missing")
    return implied.probs, implied.margin


def _goals_and_shots(played: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Home and away goals and shots on target as floats (NaN for a missing or unreadable shot count)."""
    return (
        played["home_goals"].to_numpy(dtype=float), played["away_goals"].to_numpy(dtype=float),
        pd.to_numeric(played["home_shots_on_target"], errors="coerce").to_numpy(dtype=float),
        pd.to_numeric(played["away_shots_on_target"], errors="coerce").to_numpy(dtype=float),
    )


def poisson_targets(goals_home: np.ndarray, goals_away: np.ndarray, shots_home: np.ndarray, shots_away: np.ndarray,
                    shots_on_target_weight: float, per_side: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """(home, away) targets α·goals + (1 − α)·k·shots on target, k = goals per shot on target of the matches
    with both counts (shots NaN when unknown); None when no match has shots on target. ``per_side``: one k
    for the home sides and one for the away sides (home sides convert more of their shots on target, so a
    common k takes part of the home advantage out of the targets)."""
    known = np.isfinite(shots_home) & np.isfinite(shots_away)
    home_shots, away_shots = shots_home[known].sum(), shots_away[known].sum()
    if home_shots + away_shots <= 0:
        return None
    home_goals, away_goals = goals_home[known].sum(), goals_away[known].sum()
    k_home = k_away = (home_goals + away_goals) / (home_shots + away_shots)
    if per_side and home_shots > 0 and away_shots > 0:
        k_home, k_away = home_goals / home_shots, away_goals / away_shots
    weight = shots_on_target_weight
    home = np.where(known, (1 - weight) * goals_home + weight * k_home * np.nan_to_num(shots_home), goals_home)
    away = np.where(known, (1 - weight) * goals_away + weight * k_away * np.nan_to_num(shots_away), goals_away)
    return home, away


def _played_in_order(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["match_date"] = pd.to_datetime(frame["match_date"], cache=False).dt.normalize()
    frame = frame.sort_values(["match_date", "match_id"], kind="stable")
    return frame[frame["status"] == "played"].reset_index(drop=True)


def promoted_team_priors(
    train: pd.DataFrame, lower: pd.DataFrame, cutoff, promoted: list[str], config: WalkForwardConfig
) -> tuple[dict[str, tuple[float, float]], str]:
    """Centres for promoted teams from a joint fit of the league's and the lower division's matches played
    before ``cutoff`` (teams moving between the divisions put both on one scale), re-centred on the teams of
    the league's own training window; and a digest of the lower-division rows used."""
    lower = _played_in_order(lower)
    lower = lower[lower["match_date"].to_numpy(dtype="datetime64[D]") < cutoff]
    digest = _PrefixHashes(lower)[len(lower)]
    lower_teams = _teams(lower)
    wanted = [team for team in promoted if team in lower_teams]
    if not wanted or train.empty:
        return {}, digest
    joint = pd.concat([train, lower], ignore_index=True).sort_values(["match_date", "match_id"], kind="stable")
    fit = _TrainingColumns(joint).fit(len(joint), cutoff, config)
    own = sorted(_teams(train))
    attack_centre = float(np.mean([fit.strengths(team)[0] for team in own]))
    defence_centre = float(np.mean([fit.strengths(team)[1] for team in own]))
    priors = {}
    for team in wanted:
        attack, defence, _ = fit.strengths(team)
        priors[team] = (attack - attack_centre, defence - defence_centre)
    return priors, digest


def carried_over_centres(played: _TrainingColumns, n_train: int, cutoff, promoted: list[str],
                         priors: dict[str, tuple[float, float]], config: WalkForwardConfig) -> dict[str, tuple[float, float]]:
    """Shrinkage centres of the season's weekly fits (``carry_over_prior``): c times each team's strengths in
    a fit on every read row played before ``cutoff`` (the season's first block), decayed with carry_over_xi."""
    start_config = config
    if config.carry_over_xi is not None:
        start_config = dataclasses.replace(
            config, dixon_coles=dataclasses.replace(config.dixon_coles, xi=config.carry_over_xi))
    start = played.fit(n_train, cutoff, start_config, first=0, promoted_teams=promoted, promoted_priors=priors)
    c = config.carry_over_prior
    return {str(team): (c * float(attack), c * float(defence))
            for team, attack, defence in zip(start.teams, start.attack, start.defence, strict=True)}


def with_baseline(predictions: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` with the baseline's 1X2 as ``baseline_*`` columns (matched on match_id)."""
    columns = {f"model_{o}": f"baseline_{o}" for o in ("home", "draw", "away")}
    extra = baseline[["match_id", *columns]].rename(columns=columns)
    merged = predictions.drop(columns=list(columns.values()), errors="ignore").merge(extra, on="match_id", how="left")
    return merged.reindex(columns=UNCALIBRATED_PREDICTION_COLUMNS)


def walk_forward(matches: pd.DataFrame, season: str, config: WalkForwardConfig = WalkForwardConfig(),
                 lower_division: pd.DataFrame | None = None, *, predictions_only: bool = False) -> WalkForwardResult:
    """Snapshots and predictions for ``season`` of one league.

    ``matches``: canonical matches of that league (any seasons; only the training window is used) with
    match_id, season, match_date, home_team, away_team, status, home_goals, away_goals, result, shots on
    target and the pre-closing / closing odds columns. ``lower_division``: canonical matches of the division
    below (same columns), used for promoted teams when the config asks for it; only its matches played
    before the season's first block are read.

    ``predictions_only``: for a walk-forward of which only the probabilities are kept (the baseline beside
    the model): skips the snapshots (returned empty) and the training-row hashes, so the predictions'
    ``model_version`` is None. Every probability is the same as without it.
    """
    if matches["league"].nunique() > 1:
        raise ValueError(f"walk_forward takes one league, got {sorted(matches['league'].unique())}")
    league = str(matches["league"].iloc[0]) if len(matches) else ""
    order = seasons_in_order(matches)
    if season not in order:
        raise ValueError(f"season {season} has no matches for league {league or '?'}")
    window = training_window(order, season, config.previous_seasons)
    previous = window[-2] if len(window) > 1 else None
    # the season-start fit of carry_over_prior may read more seasons, those that end before the window starts
    # (so that their rows come first in date order); the weekly fits skip their rows
    read = window
    if config.carry_over_prior > 0 and config.carry_over_seasons is not None:
        dates = pd.to_datetime(matches["match_date"], cache=False)
        window_start = dates[matches["season"].isin(window)].min()
        last = dates.groupby(matches["season"]).max()
        longer = training_window(order, season, config.history_seasons)
        read = [name for name in longer if name in window or last[name] < window_start]

    frame = matches[matches["season"].isin(read)].copy()
    frame["match_date"] = pd.to_datetime(frame["match_date"], cache=False).dt.normalize()
    frame = frame.sort_values(["match_date", "match_id"], kind="stable").reset_index(drop=True)
    played = frame[frame["status"] == "played"].reset_index(drop=True)
    played_days = played["match_date"].to_numpy(dtype="datetime64[D]")
    chain = None if predictions_only else _PrefixHashes(played)
    played_columns = _TrainingColumns(played, first=int((~played["season"].isin(window)).sum()))

    targets = frame[frame["season"] == season].reset_index(drop=True)
    targets["season_match_index"] = np.arange(1, len(targets) + 1)
    targets["block"] = block_starts(targets["match_date"])
    season_teams = set(targets["home_team"]) | set(targets["away_team"])
    promoted = sorted(season_teams - _teams(frame[frame["season"] == previous])) if previous else []
    target_home, target_away = _team_names(targets["home_team"]), _team_names(targets["away_team"])

    settings = config.fingerprint()
    fit: DixonColesFit | None = None
    priors: dict[str, tuple[float, float]] | None = None
    centres: dict[str, tuple[float, float]] | None = None
    lower_digest = ""
    # Per fitted block: the fit, its cut-off and version, and the positions of its matches in ``targets``;
    # the output frames are built once at the end (a frame per block costs more than the fit itself).
    blocks: list[_FittedBlock] = []
    warm_up = 0
    block_positions = targets.groupby("block", sort=True).indices  # drops a missing date's block, like iterating
    for block in sorted(block_positions):
        positions = block_positions[block]
        cutoff = np.datetime64(block.date(), "D")
        n_train = int(np.searchsorted(played_days, cutoff, side="left"))  # played strictly before the block
        if n_train - played_columns.first < config.min_training_matches:
            warm_up += len(positions)
            continue
        if priors is None:
            priors = {}
            if config.promoted_from_lower_division and lower_division is not None and len(lower_division) and promoted:
                # fixed once per season, at its first fitted block: later lower-division results never leak in
                priors, lower_digest = promoted_team_priors(played.iloc[played_columns.first:n_train], lower_division,
                                                            cutoff, promoted, config)
            if config.carry_over_prior > 0:
                centres = carried_over_centres(played_columns, n_train, cutoff, promoted, priors, config)
        fit = played_columns.fit(n_train, cutoff, config, init=fit, promoted_teams=promoted, promoted_priors=priors,
                                 prior_centres=centres)
        version = None if chain is None else hashlib.sha256(f"{settings}|{chain[n_train]}|{lower_digest}".encode()).hexdigest()[:20]
        blocks.append(_FittedBlock(block, fit, version, n_train, positions))

    snapshots = (
        _snapshot_frame(blocks, league, season, set(promoted), played_columns)
        if blocks and not predictions_only else pd.DataFrame(columns=SNAPSHOT_COLUMNS)
    )
    predictions = (
        _prediction_frame(blocks, targets, target_home, target_away) if blocks else pd.DataFrame(columns=UNCALIBRATED_PREDICTION_COLUMNS)
    )
    if len(predictions):
        pre, pre_margin = _market(predictions, "")
        close, close_margin = _market(predictions, "closing_")
        for k, outcome in enumerate(("home", "draw", "away")):
            predictions[f"market_pre_{outcome}"] = pre[:, k]
            predictions[f"market_close_{outcome}"] = close[:, k]
        predictions["market_pre_margin"] = pre_margin
        predictions["market_close_margin"] = close_margin
    return WalkForwardResult(
        snapshots=snapshots[SNAPSHOT_COLUMNS],
        predictions=predictions.reindex(columns=UNCALIBRATED_PREDICTION_COLUMNS),
        warm_up_matches=warm_up,
        training_seasons=read,
        fits=len(blocks),
    )


def _teams(frame: pd.DataFrame) -> set[str]:
    return set(frame["home_team"]) | set(frame["away_team"])


def _team_names(column: pd.Series) -> np.ndarray:
    """Team names as a NumPy string array, which the fit and the predictions take without re-checking every
    name each block; the column as it is when a name is not a valid string, so that the fit or prediction
    that uses it raises the error (or not)."""
    try:
        return as_team_array(column, column.name)
    except ValueError:
        return column.to_numpy()


class _TrainingColumns:
    """The played matches' columns a fit reads, converted once; a block trains on the first ``n_train`` rows.

    Slicing the converted arrays gives the same values as converting each block's training frame (the
    Poisson targets are recomputed from sliced inputs: their goals-per-shot ratio depends on the rows)."""

    def __init__(self, played: pd.DataFrame, first: int = 0) -> None:
        self.played = played
        self.home = _team_names(played["home_team"])
        self.away = _team_names(played["away_team"])
        self.home_goals = played["home_goals"].to_numpy(dtype=np.int64)
        self.away_goals = played["away_goals"].to_numpy(dtype=np.int64)
        self.days = played["match_date"].to_numpy(dtype="datetime64[D]")
        # the arrays poisson_targets reads, converted once (lazily: only a fit asks for them); a training
        # prefix of them gives the targets of the first n_train matches, k included
        self._goals_and_shots: tuple[np.ndarray, ...] | None = None
        # the weekly fits read rows [first, n_train); rows before ``first`` (older seasons) only feed the
        # season-start fit of carry_over_prior
        self.first = first
        # team appearances for the snapshots' matches_used: codes per name, counted per block with bincount
        self.code_of: dict[object, int] = {}
        codes = [self.code_of.setdefault(name, len(self.code_of))
                 for name in (*played["home_team"].tolist(), *played["away_team"].tolist())]
        codes = np.array(codes, dtype=np.int64)
        self.home_codes, self.away_codes = codes[: len(played)], codes[len(played):]

    def fit(self, n_train: int, cutoff, config: WalkForwardConfig, *, first: int | None = None,
            **options) -> DixonColesFit:
        """A fit on rows [first, n_train) (``first`` defaults to the start of the weekly fits' window)."""
        rows = slice(self.first if first is None else first, n_train)
        return fit_dixon_coles(
            self.home[rows], self.away[rows], self.home_goals[rows], self.away_goals[rows],
            self.days[rows], reference_date=cutoff, config=config.dixon_coles,
            poisson_targets=self.poisson_targets(rows, config.shots_on_target_weight, config.shots_per_side), **options,
        )

    def poisson_targets(self, rows: slice, shots_on_target_weight: float,
                        per_side: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        if shots_on_target_weight == 0.0 or "home_shots_on_target" not in self.played:
            return None
        if self._goals_and_shots is None:
            self._goals_and_shots = _goals_and_shots(self.played)
        return poisson_targets(*(values[rows] for values in self._goals_and_shots), shots_on_target_weight, per_side)

    def appearances(self, n_train: int, teams) -> list[int]:
        """Matches each of ``teams`` played in the first ``n_train`` rows (0 for a team with none)."""
        size = len(self.code_of)
        counts = (np.bincount(self.home_codes[self.first:n_train], minlength=size)
                  + np.bincount(self.away_codes[self.first:n_train], minlength=size))
        return [int(counts[self.code_of[team]]) if team in self.code_of else 0 for team in teams]


@dataclass(frozen=True)
class _FittedBlock:
    as_of: pd.Timestamp  # the block's Monday
    fit: DixonColesFit
    version: str | None
    n_train: int
    positions: np.ndarray  # the block's rows in the season's targets


def _snapshot_frame(blocks: list[_FittedBlock], league, season, promoted: set[str], played: _TrainingColumns) -> pd.DataFrame:
    """One row per team and block (the teams of each block's fit, in its order)."""
    sizes = [len(b.fit.teams) for b in blocks]

    def per_block(values, dtype) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), sizes)

    teams = [team for b in blocks for team in b.fit.teams]
    return pd.DataFrame(
        {
            "league": league,
            "season": season,
            "as_of_date": pd.DatetimeIndex([b.as_of for b in blocks]).repeat(sizes),
            "team": teams,
            "attack": np.concatenate([np.asarray(b.fit.attack, dtype=float) for b in blocks]),
            "defence": np.concatenate([np.asarray(b.fit.defence, dtype=float) for b in blocks]),
            "home_advantage": per_block([float(b.fit.home_advantage) for b in blocks], float),
            "intercept": per_block([float(b.fit.intercept) for b in blocks], float),
            "rho": per_block([float(b.fit.rho) for b in blocks], float),
            "xi": per_block([float(b.fit.config.xi) for b in blocks], float),
            "shrinkage": per_block([float(b.fit.config.shrinkage) for b in blocks], float),
            "is_promoted": [team in promoted for team in teams],
            "matches_used": [n for b in blocks for n in played.appearances(b.n_train, b.fit.teams)],
            "effective_weight": per_block([float(b.fit.diagnostics.effective_weight) for b in blocks], float),
            "log_likelihood": per_block([float(b.fit.diagnostics.log_likelihood) for b in blocks], float),
            "converged": per_block([bool(b.fit.diagnostics.converged) for b in blocks], bool),
            "iterations": per_block([int(b.fit.diagnostics.iterations) for b in blocks], np.int64),
            "model_version": per_block([b.version for b in blocks], object),
        }
    )


def _prediction_frame(blocks: list[_FittedBlock], targets: pd.DataFrame, home: np.ndarray, away: np.ndarray) -> pd.DataFrame:
    """The season's predicted matches (block by block) with each block's snapshot, 1X2 and λs."""
    lambda_home, lambda_away, probs, flags = [], [], [], []
    for b in blocks:
        block_home, block_away = home[b.positions], away[b.positions]
        probs.append(b.fit.predict_1x2(block_home, block_away))
        block_lambda_home, block_lambda_away = b.fit.lambdas(block_home, block_away)
        lambda_home.append(block_lambda_home)
        lambda_away.append(block_lambda_away)
        known = set(b.fit.teams)
        flags.extend(
            ",".join(flag for flag, unseen in (("unseen_home_team", h not in known), ("unseen_away_team", a not in known)) if unseen)
            for h, a in zip(block_home, block_away, strict=True)
        )
    positions = np.concatenate([b.positions for b in blocks])
    sizes = [len(b.positions) for b in blocks]
    probs = np.concatenate(probs)
    return targets.iloc[positions].reset_index(drop=True).assign(
        snapshot_as_of=targets["block"].to_numpy()[positions],
        model_version=np.repeat(np.array([b.version for b in blocks], dtype=object), sizes),
        lambda_home=np.concatenate(lambda_home),
        lambda_away=np.concatenate(lambda_away),
        model_home=probs[:, 0],
        model_draw=probs[:, 1],
        model_away=probs[:, 2],
        flags=flags,
    )
