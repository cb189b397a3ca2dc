"""Scoring of out-of-sample match probabilities: per-match scores and per-set metric rows.

Pure functions over the long ``match_predictions`` table (one row per match and probability set:
sets A-G plus the de-vigged ``market_pre`` and ``market_close`` rows).

Conventions (shared with :mod:`jackpot_pipeline.model.metrics` and STYLE.md):

* only played matches with a result 'H'/'D'/'A' are scored; a set's rows without probabilities
  (NaN, e.g. a market row without odds) are left out of that set's metrics and counted in
  ``n_missing``;
* RPS is ordinal RPS / 2, Brier is the multi-class sum over outcomes, log loss uses the natural log;
* every set is compared *paired* with each market row, on the matches where both have probabilities:
  ``rps_diff_market_pre`` = mean(RPS of the set − RPS of market_pre), positive = the set is worse,
  with its standard error (SD of the per-match differences / √n) and ``n_paired_market_pre``. A
  season's mean RPS has an SE near 0.008 while the paired SE is several times smaller, which is why
  health and drift are judged on paired differences.

Metric columns of :func:`evaluate_sets` (one row per set)::

    set_id, n, n_missing, rps, rps_se, brier, log_loss, log_loss_se, ece, ece_noise, accuracy,
    n_paired_<m>, rps_diff_<m>, rps_diff_<m>_se, log_loss_diff_<m>, log_loss_diff_<m>_se
    for m in market_pre, market_close
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from jackpot_pipeline.model.metrics import (
    OUTCOME_LABELS,
    brier_score_per_match,
    log_loss_per_match,
    ranked_probability_score_per_match,
    reliability_curve,
)

MODEL_SETS: Final = ("A", "B", "C", "D", "E", "F", "G")
MARKET_SETS: Final = ("market_pre", "market_close")
BASELINE_SETS: Final = ("A0",)  # pure Dixon-Coles, the baseline every model improvement is measured against
SET_ORDER: Final = BASELINE_SETS + MODEL_SETS + MARKET_SETS
PROB_COLUMNS: Final = ("prob_home", "prob_draw", "prob_away")
REQUIRED_COLUMNS: Final = ("match_id", "set_id", "status", "result", "season_match_index", *PROB_COLUMNS)

# The headline sample of STYLE.md: six leagues x 2015/16-2023/24, every match after the first 100 of its season.
HEADLINE_LEAGUES: Final = ("E0", "E1", "SP1", "D1", "I1", "F1")
HEADLINE_SEASONS: Final = ("1516", "1617", "1718", "1819", "1920", "2021", "2122", "2223", "2324")
HEADLINE_MIN_SEASON_MATCH_INDEX: Final = 100


def _paired_columns(market: str) -> list[str]:
    return [
        f"n_paired_{market}",
        f"rps_diff_{market}",
        f"rps_diff_{market}_se",
        f"log_loss_diff_{market}",
        f"log_loss_diff_{market}_se",
    ]


METRIC_COLUMNS: Final = [
    "set_id", "n", "n_missing", "rps", "rps_se", "brier", "log_loss", "log_loss_se", "ece", "ece_noise", "accuracy",
    *[column for market in MARKET_SETS for column in _paired_columns(market)],
]
_INT_METRICS: Final = {"n", "n_missing", *(f"n_paired_{market}" for market in MARKET_SETS)}


def score_predictions(predictions: pd.DataFrame, *, min_season_match_index: int = 0) -> pd.DataFrame:
    """Played, resulted rows with ``season_match_index > min_season_match_index``, each with its
    per-match ``rps``, ``brier``, ``log_loss`` and ``correct`` (NaN where the set has no probabilities)
    and the boolean ``has_probs``. Raises ValueError on missing columns or a duplicated (match, set)."""
    missing = [column for column in REQUIRED_COLUMNS if column not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack the columns {missing}")
    result = predictions["result"]
    keep = (
        (predictions["status"] == "played")
        & result.isin(list(OUTCOME_LABELS))
        & (pd.to_numeric(predictions["season_match_index"], errors="coerce") > min_season_match_index)
    )
    frame = predictions.loc[keep].reset_index(drop=True)
    duplicated = frame.duplicated(["match_id", "set_id"])
    if duplicated.any():
        row = frame.loc[duplicated.idxmax()]
        raise ValueError(f"match {row['match_id']} has more than one row for set {row['set_id']}")
    outcome = np.select(
        [frame["result"].to_numpy() == label for label in OUTCOME_LABELS], [0, 1, 2], default=-1
    ).astype(np.int64)
    probs = frame[list(PROB_COLUMNS)].to_numpy(dtype=np.float64, na_value=np.nan)
    has_probs = np.isfinite(probs).all(axis=1)
    scores = {name: np.full(len(frame), np.nan) for name in ("rps", "brier", "log_loss", "correct")}
    if has_probs.any():
        usable, observed = probs[has_probs], outcome[has_probs]
        scores["rps"][has_probs] = ranked_probability_score_per_match(usable, observed)
        scores["brier"][has_probs] = brier_score_per_match(usable, observed)
        scores["log_loss"][has_probs] = log_loss_per_match(usable, observed)
        scores["correct"][has_probs] = usable.argmax(axis=1) == observed
    return frame.assign(outcome=outcome, has_probs=has_probs, **scores)


def _mean_and_se(values: np.ndarray) -> tuple[float, float]:
    n = values.shape[0]
    if n == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    if n < 2 or not np.isfinite(values).all():
        return mean, math.nan
    return mean, float(values.std(ddof=1) / math.sqrt(n))


def ordered_sets(present: Iterable[str]) -> list[str]:
    present = set(present)
    return [s for s in SET_ORDER if s in present] + sorted(present - set(SET_ORDER))


def _evaluate_scored(scored: pd.DataFrame, *, n_bins: int) -> pd.DataFrame:
    return _typed_metrics(pd.DataFrame(_metric_rows(scored, n_bins=n_bins), columns=METRIC_COLUMNS))


def _metric_rows(scored: pd.DataFrame, *, n_bins: int) -> list[dict[str, Any]]:
    # Plain arrays, not pandas selections: this runs once per league-season and set in every summary.
    rows: list[dict[str, Any]] = []
    if scored.empty:
        return rows
    set_codes, set_names = pd.factorize(scored["set_id"])
    # sort=True: paired differences run over matches in match_id order, as a pivot on match_id would
    match_codes, match_ids = pd.factorize(scored["match_id"], sort=True)
    has_probs = scored["has_probs"].to_numpy(dtype=bool)
    rps_all, log_loss_all = scored["rps"].to_numpy(dtype=np.float64), scored["log_loss"].to_numpy(dtype=np.float64)
    brier_all, correct_all = scored["brier"].to_numpy(dtype=np.float64), scored["correct"].to_numpy(dtype=np.float64)
    probs_all, outcome_all = scored[list(PROB_COLUMNS)].to_numpy(dtype=np.float64), scored["outcome"].to_numpy()
    code_of = {name: code for code, name in enumerate(set_names)}

    columns, wide_by = {"rps": rps_all, "log_loss": log_loss_all}, {}  # each set is paired with both markets

    def by_match(column: str, code: int) -> np.ndarray:
        if (column, code) not in wide_by:
            wide = wide_by[column, code] = np.full(len(match_ids), np.nan)
            mine = set_codes == code
            wide[match_codes[mine]] = columns[column][mine]
        return wide_by[column, code]

    for set_id in ordered_sets(set_names):
        code = code_of[set_id]
        mine = set_codes == code
        usable = mine & has_probs
        n = int(usable.sum())
        rps, rps_se = _mean_and_se(rps_all[usable])
        log_loss, log_loss_se = _mean_and_se(log_loss_all[usable])
        row: dict[str, Any] = {
            "set_id": set_id,
            "n": n,
            "n_missing": int(mine.sum() - n),
            "rps": rps,
            "rps_se": rps_se,
            "brier": float(brier_all[usable].mean()) if n else math.nan,
            "log_loss": log_loss,
            "log_loss_se": log_loss_se,
            **_calibration_error(probs_all[usable], outcome_all[usable], n_bins),
            "accuracy": float(correct_all[usable].mean()) if n else math.nan,
        }
        for market in MARKET_SETS:
            n_paired, rps_diff, rps_diff_se, ll_diff, ll_diff_se = 0, math.nan, math.nan, math.nan, math.nan
            if market in code_of:
                a, b = by_match("rps", code), by_match("rps", code_of[market])
                both = np.isfinite(a) & np.isfinite(b)
                n_paired = int(both.sum())
                rps_diff, rps_diff_se = _mean_and_se(a[both] - b[both])
                la, lb = by_match("log_loss", code)[both], by_match("log_loss", code_of[market])[both]
                with np.errstate(invalid="ignore"):
                    ll_diff, ll_diff_se = _mean_and_se(la - lb)
            row.update(dict(zip(_paired_columns(market), (n_paired, rps_diff, rps_diff_se, ll_diff, ll_diff_se), strict=True)))
        rows.append(row)
    return rows


def _calibration_error(probs: np.ndarray, outcome: np.ndarray, n_bins: int) -> dict[str, float]:
    """Pooled ECE and ``ece_noise``, the ECE a perfectly calibrated forecast would show on the same bins
    by chance: sum over bins of count/N x E|observed - mean| with observed ~ Binomial(count, mean) / count,
    approximated by sqrt(2 / pi) x sqrt(mean (1 - mean) / count). With a few hundred matches it is about
    0.02, so ECE alone cannot tell a league-season's calibration apart from noise."""
    if len(probs) == 0:
        return {"ece": math.nan, "ece_noise": math.nan}
    curve = reliability_curve(probs, outcome, n_bins=n_bins)
    filled = curve.counts > 0
    counts, mean = curve.counts[filled].astype(float), curve.mean_predicted[filled]
    total = counts.sum()
    ece = float((counts * np.abs(mean - curve.observed_frequency[filled])).sum() / total)
    noise = float((counts * math.sqrt(2.0 / math.pi) * np.sqrt(mean * (1.0 - mean) / counts)).sum() / total)
    return {"ece": ece, "ece_noise": noise}


def _typed_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    types = {column: ("int64" if column in _INT_METRICS else "float64") for column in METRIC_COLUMNS[1:]}
    return frame.astype({"set_id": "string", **types})


def evaluate_sets(predictions: pd.DataFrame, *, min_season_match_index: int = 0, n_bins: int = 10) -> pd.DataFrame:
    """One row per set_id (A-G, market_pre, market_close, in that order): :data:`METRIC_COLUMNS`.

    ``ece`` pools the three outcomes over ``n_bins`` equal-width bins. Matches are scored only when
    played, with a result, and ``season_match_index > min_season_match_index``."""
    scored = score_predictions(predictions, min_season_match_index=min_season_match_index)
    return _evaluate_scored(scored, n_bins=n_bins)


def evaluate_by(
    predictions: pd.DataFrame,
    by: Sequence[str] = ("league", "season"),
    *,
    min_season_match_index: int = 0,
    n_bins: int = 10,
) -> pd.DataFrame:
    """:func:`evaluate_sets` per group: the ``by`` columns, ``first_match_date``, ``last_match_date``
    (of the scored matches), ``n_scheduled`` (rows of the group's set A, or of its first set, that are
    not played yet), then the metric columns. Groups without a scored match are left out."""
    by = list(by)
    scored = score_predictions(predictions, min_season_match_index=min_season_match_index)
    scheduled = _scheduled_counts(predictions, by)
    # Only the columns scoring reads: every group would otherwise copy all the prediction columns.
    needed = [*by, "match_id", "set_id", "has_probs", "rps", "brier", "log_loss", "correct", "outcome", *PROB_COLUMNS]
    has_dates = "match_date" in scored
    scored = scored[needed].assign(match_date=pd.to_datetime(scored["match_date"], cache=False)) if has_dates else scored[needed]
    rows = []  # of every group, typed once: a typed frame per group cost more than its metrics
    for key, group in scored.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        dates = group["match_date"] if has_dates else pd.Series(dtype="datetime64[ns]")
        context = {**dict(zip(by, key, strict=True)), "first_match_date": dates.min() if len(dates) else pd.NaT,
                   "last_match_date": dates.max() if len(dates) else pd.NaT, "n_scheduled": int(scheduled.get(key, 0))}
        rows.extend({**context, **row} for row in _metric_rows(group, n_bins=n_bins))
    if not rows:
        empty = _typed_metrics(pd.DataFrame(columns=METRIC_COLUMNS))
        for position, column in enumerate([*by, "first_match_date", "last_match_date", "n_scheduled"]):
            dtype = "datetime64[ns]" if column.endswith("_date") else ("int64" if column == "n_scheduled" else "string")
            empty.insert(position, column, pd.Series(dtype=dtype))
        return empty
    # the dates keep their unit, as they did when inserted per group as scalars of it
    date_type = scored["match_date"].dtype if has_dates else "datetime64[ns]"
    frame = pd.DataFrame(rows, columns=[*by, "first_match_date", "last_match_date", "n_scheduled", *METRIC_COLUMNS])
    return _typed_metrics(frame.astype({"first_match_date": date_type, "last_match_date": date_type}))


def _scheduled_counts(predictions: pd.DataFrame, by: list[str]) -> dict[tuple, int]:
    if predictions.empty or any(column not in predictions for column in by):
        return {}
    first_set = "A" if (predictions["set_id"] == "A").any() else predictions["set_id"].iloc[0]
    mine = predictions[(predictions["set_id"] == first_set) & (predictions["status"] == "scheduled")]
    counts = mine.groupby(by, dropna=False).size()
    return {(key if isinstance(key, tuple) else (key,)): int(value) for key, value in counts.items()}


def headline_sample(
    predictions: pd.DataFrame,
    *,
    leagues: Sequence[str] = HEADLINE_LEAGUES,
    seasons: Sequence[str] = HEADLINE_SEASONS,
) -> pd.DataFrame:
    """The rows of the headline leagues and seasons (filter on season_match_index separately)."""
    return predictions[predictions["league"].isin(list(leagues)) & predictions["season"].isin(list(seasons))]
