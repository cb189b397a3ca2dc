"""Per-season calibration maps and the long table of match predictions (sets A-G and market rows).

A season's calibrator (for the Set-B blend) and stacked pool (Set G) are fitted only on out-of-sample
predictions of matches dated before that season starts for the league. Per league when the league
alone has enough rows, pooled over every league otherwise; with no usable history the season gets
identity and no pool, flagged ``no_calibration_history``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jackpot_pipeline.model.blending import StackedPool, linear_pool
from jackpot_pipeline.model.calibration import (
    Calibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    calibrator_from_dict,
    select_calibrator,
)
from jackpot_pipeline.model.metrics import encode_outcomes
from jackpot_pipeline.model.probability_sets import ProbabilitySetConfig, build_probability_sets

SET_IDS = ("A", "B", "C", "D", "E", "F", "G")
BASELINE_SET_ID = "A0"
OUTCOMES = ("home", "draw", "away")
FLAG_NO_HISTORY = "no_calibration_history"

MATCH_PREDICTION_COLUMNS = [
    "match_id", "league", "season", "match_date", "home_team", "away_team", "status", "result",
    "season_match_index", "set_id", "prob_home", "prob_draw", "prob_away", "lambda_home", "lambda_away",
    "edge_home", "edge_draw", "edge_away", "kelly_home", "kelly_draw", "kelly_away",
    "snapshot_as_of", "model_version", "calibration_version", "flags",
]
CALIBRATION_COLUMNS = [
    "season", "league", "scope", "method", "calibration_version", "trained_on_start", "trained_on_end",
    "cutoff_date", "n_train", "n_league_rows", "candidate_scores", "calibrator", "stacked_pool",
    "isotonic_bins", "flags",
]


@dataclass(frozen=True)
class SeasonCalibrationConfig:
    min_league_rows: int = 2000  # below this a league borrows the pooled fit of all leagues
    min_rows: int = 500  # below this there is no calibration at all (identity, no pool)
    consistency_folds: int = 3  # see select_calibrator: a calibrator must win on each of the last folds
    # Measured on E0 E1 SP1 D1 I1 F1 2012-2024: calibrators that won the held-back slice by 0.001-0.003
    # nats lost up to 0.0036 on the next season (the 2020/21 seasons without crowds moved everything).
    # A gain smaller than that swing is not evidence; clear miscalibration (~0.01 nats) still passes.
    min_improvement: float = 0.004
    sets: ProbabilitySetConfig = field(default_factory=ProbabilitySetConfig)
    # Set G's pool with free exponents and outcome biases (no market cap): the capped pool is what kept G
    # behind the pre-closing market; the cap stays on the blends B and C.
    free_stacked_pool: bool = True


@dataclass(frozen=True)
class SeasonCalibration:
    season: str
    league: str
    scope: str  # "league", "pooled" or "none"
    method: str
    calibrator: Calibrator
    stacked_pool: StackedPool | None
    cutoff_date: dt.date
    trained_on_start: dt.date | None
    trained_on_end: dt.date | None
    n_train: int
    n_league_rows: int
    candidate_scores: dict[str, object]
    isotonic_bins: dict[str, object] | None
    flags: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        payload = json.dumps(
            {
                "calibrator": self.calibrator.to_dict(),
                "pool": self.stacked_pool.to_dict() if self.stacked_pool else None,
                "cutoff": self.cutoff_date.isoformat(),
                "n": self.n_train,
                "scope": self.scope,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def to_row(self) -> dict[str, object]:
        return {
            "season": self.season,
            "league": self.league,
            "scope": self.scope,
            "method": self.method,
            "calibration_version": self.version,
            "trained_on_start": pd.Timestamp(self.trained_on_start) if self.trained_on_start else pd.NaT,
            "trained_on_end": pd.Timestamp(self.trained_on_end) if self.trained_on_end else pd.NaT,
            "cutoff_date": pd.Timestamp(self.cutoff_date),
            "n_train": self.n_train,
            "n_league_rows": self.n_league_rows,
            "candidate_scores": json.dumps(self.candidate_scores, sort_keys=True),
            "calibrator": json.dumps(self.calibrator.to_dict(), sort_keys=True),
            "stacked_pool": json.dumps(self.stacked_pool.to_dict(), sort_keys=True) if self.stacked_pool else None,
            "isotonic_bins": json.dumps(self.isotonic_bins, sort_keys=True) if self.isotonic_bins else None,
            "flags": ",".join(self.flags),
        }

    @classmethod
    def from_row(cls, row: dict[str, object]) -> SeasonCalibration:
        def day(value):
            return None if value is None or pd.isna(value) else pd.Timestamp(value).date()

        pool = row.get("stacked_pool")
        isotonic = row.get("isotonic_bins")
        return cls(
            season=str(row["season"]),
            league=str(row["league"]),
            scope=str(row["scope"]),
            method=str(row["method"]),
            calibrator=calibrator_from_dict(json.loads(str(row["calibrator"]))),
            stacked_pool=StackedPool.from_dict(json.loads(str(pool))) if isinstance(pool, str) else None,
            cutoff_date=day(row["cutoff_date"]),
            trained_on_start=day(row.get("trained_on_start")),
            trained_on_end=day(row.get("trained_on_end")),
            n_train=int(row["n_train"]),
            n_league_rows=int(row["n_league_rows"]),
            candidate_scores=json.loads(str(row["candidate_scores"])),
            isotonic_bins=json.loads(str(isotonic)) if isinstance(isotonic, str) else None,
            flags=tuple(flag for flag in str(row.get("flags") or "").split(",") if flag),
        )


def _probs(frame: pd.DataFrame, prefix: str) -> np.ndarray:
    return frame[[f"{prefix}_{outcome}" for outcome in OUTCOMES]].to_numpy(dtype=float)


def fit_season_calibration(
    history: pd.DataFrame,
    league: str,
    season: str,
    cutoff_date: dt.date,
    config: SeasonCalibrationConfig = SeasonCalibrationConfig(),
    pooled_fits: dict | None = None,
) -> SeasonCalibration:
    """Fit the calibrator of the Set-B blend and the Set-G pool on predictions dated before ``cutoff_date``.

    ``history``: wide walk-forward predictions (any leagues) with league, match_date, status, result,
    model_* and market_pre_* columns. Rows on or after the cut-off are ignored, whatever the caller passes.
    ``pooled_fits``: a dict shared by calls with the same ``history`` and config; leagues that borrow the
    pooled fit of the same cut-off then fit it once (the fit does not depend on the league).
    """
    # cache=False: the cache's probe builds thousands of Timestamps per call, and the column is usually parsed already
    dates = pd.to_datetime(history["match_date"], cache=False)
    usable = history[
        (dates < pd.Timestamp(cutoff_date))
        & (history["status"] == "played")
        & history[[f"market_pre_{o}" for o in OUTCOMES]].notna().all(axis=1)
        & history[[f"model_{o}" for o in OUTCOMES]].notna().all(axis=1)
    ]
    league_rows = usable[usable["league"] == league]
    if len(league_rows) >= config.min_league_rows:
        scope, train = "league", league_rows
    else:
        scope, train = "pooled", usable
    if len(train) < config.min_rows:
        return SeasonCalibration(
            season, league, "none", "identity", IdentityCalibrator().fit(np.full((1, 3), 1 / 3), [0]), None,
            cutoff_date, None, None, len(train), len(league_rows), {"reason": f"only {len(train)} earlier rows"},
            None, (FLAG_NO_HISTORY,),
        )
    key = (cutoff_date, len(train))
    if scope == "pooled" and pooled_fits is not None and key in pooled_fits:
        fitted = pooled_fits[key]
    else:
        fitted = _fit_calibration(train, config)
        if scope == "pooled" and pooled_fits is not None:
            pooled_fits[key] = fitted
    selection, pool, isotonic, first_day, last_day = fitted
    scores = selection.to_dict()
    scores.pop("calibrator")
    return SeasonCalibration(
        season, league, scope, selection.method, selection.calibrator, pool, cutoff_date,
        first_day, last_day, len(train), len(league_rows), scores, isotonic,
    )


def _fit_calibration(train: pd.DataFrame, config: SeasonCalibrationConfig):
    train = train.assign(_date=pd.to_datetime(train["match_date"], cache=False))
    train = train.sort_values(["_date", "match_id"], kind="stable")
    model, market = _probs(train, "model"), _probs(train, "market_pre")
    outcomes = encode_outcomes(train["result"].to_numpy())
    blend = linear_pool(model, market, model_weight=config.sets.set_b_model_weight,
                        max_market_weight=config.sets.max_market_weight).probs
    selection = select_calibrator(
        blend, outcomes, consistency_folds=config.consistency_folds, min_improvement=config.min_improvement
    )
    pool = StackedPool(max_market_weight=config.sets.max_market_weight, free=config.free_stacked_pool).fit(
        model, market, outcomes)
    # kept as a diagnostic even when another method is chosen: the reliability of the blend
    isotonic = IsotonicCalibrator().fit(blend, outcomes).to_dict()
    return selection, pool, isotonic, train["_date"].min().date(), train["_date"].max().date()


def match_prediction_rows(
    wide: pd.DataFrame,
    calibration: SeasonCalibration,
    config: SeasonCalibrationConfig = SeasonCalibrationConfig(),
) -> pd.DataFrame:
    """Long rows (one per match and set): sets A-G from the model, the pre-closing market, the season's
    calibrator and pool, plus the de-vigged ``market_pre`` and ``market_close`` rows."""
    if wide.empty:
        return pd.DataFrame(columns=MATCH_PREDICTION_COLUMNS)
    model = _probs(wide, "model")
    market = _probs(wide, "market_pre")
    odds = wide[["odds_home", "odds_draw", "odds_away"]].to_numpy(dtype=float)
    sets = build_probability_sets(
        model, market, calibrator=calibration.calibrator, stacked_pool=calibration.stacked_pool,
        operator_odds=odds, config=config.sets,
    )
    base = wide[["match_id", "league", "season", "match_date", "home_team", "away_team", "status", "result",
                 "season_match_index", "lambda_home", "lambda_away", "snapshot_as_of", "model_version"]]
    model_flags = wide["flags"].fillna("").to_numpy()
    season_flags = list(calibration.flags)
    # Per set: (set_id, calibration version, probabilities, edge and Kelly components, flags, keeps the
    # model's lambdas). The long frame is built once from these: a frame per set cost more than the arithmetic.
    blocks: list[tuple[str, str | None, np.ndarray, dict, object, bool]] = []
    for set_id in SET_IDS:
        probability_set = sets[set_id]
        flags = [
            ",".join(dict.fromkeys([*season_flags, *row_flags, *filter(None, extra.split(","))]))
            for row_flags, extra in zip(probability_set.row_flag_lists(), model_flags, strict=True)
        ]
        blocks.append((set_id, calibration.version, probability_set.probs, probability_set.components, flags, True))
    baseline_columns = [f"baseline_{outcome}" for outcome in OUTCOMES]
    if set(baseline_columns) <= set(wide.columns) and wide[baseline_columns].notna().any().any():
        # pure Dixon-Coles from the baseline walk-forward, kept beside every improvement so the gain shows
        blocks.append((BASELINE_SET_ID, None, _probs(wide, "baseline"), {}, model_flags, False))
    for set_id, prefix in (("market_pre", "market_pre"), ("market_close", "market_close")):
        values = _probs(wide, prefix)
        flags = np.where(np.isnan(values).any(axis=1), "no_market_odds", "").astype(object)
        blocks.append((set_id, None, values, {}, flags, False))
    return _long_rows(base, blocks)[MATCH_PREDICTION_COLUMNS]


def _long_rows(base: pd.DataFrame, blocks) -> pd.DataFrame:
    """``base`` repeated once per block, beside each block's columns."""
    n = len(base)
    missing = np.full(n, np.nan)
    repeated = base.iloc[np.tile(np.arange(n), len(blocks))].reset_index(drop=True)
    lambdas = {side: np.concatenate([base[side].to_numpy(dtype=float) if keeps else missing
                                     for *_, keeps in blocks]) for side in ("lambda_home", "lambda_away")}
    columns: dict[str, np.ndarray] = {
        "set_id": np.repeat(np.array([block[0] for block in blocks], dtype=object), n),
        "calibration_version": np.repeat(np.array([block[1] for block in blocks], dtype=object), n),
    }
    for k, outcome in enumerate(OUTCOMES):
        columns[f"prob_{outcome}"] = np.concatenate([block[2][:, k] for block in blocks])
    for component, prefix in (("edge", "edge"), ("kelly_fraction", "kelly")):
        for k, outcome in enumerate(OUTCOMES):
            columns[f"{prefix}_{outcome}"] = np.concatenate([
                block[3][component][:, k] if block[3].get(component) is not None else missing for block in blocks])
    flags = np.empty(n * len(blocks), dtype=object)
    for index, block in enumerate(blocks):
        flags[index * n:(index + 1) * n] = list(block[4])
    columns["flags"] = flags
    extra = pd.DataFrame({**lambdas, **columns})
    return pd.concat([repeated.drop(columns=["lambda_home", "lambda_away"]), extra], axis=1)
