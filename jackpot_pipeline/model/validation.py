"""Out-of-sample validation of match probabilities, model health, drift and the model registry.

Pure functions over the long ``match_predictions`` table (one row per match and probability set:
sets A-G plus the de-vigged ``market_pre`` and ``market_close`` rows). No Dagster here: the assets in
``jackpot_pipeline.defs.validation`` call these and store what they return.

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

Model registry: append-only event rows (see :data:`REGISTRY_COLUMNS`). A version is registered once,
with its immutable parameters and metrics; later status changes (a newer version superseding it) are new
``status_change`` rows that carry only the status and the reason. Nothing is ever updated in place.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
from jackpot_pipeline.sources.leagues import SeasonError, season_window

__all__ = [
    "SET_ORDER",
    "MODEL_SETS",
    "MARKET_SETS",
    "PROB_COLUMNS",
    "HEADLINE_LEAGUES",
    "HEADLINE_SEASONS",
    "HEADLINE_MIN_SEASON_MATCH_INDEX",
    "UNIFORM_LOG_LOSS",
    "METRIC_COLUMNS",
    "HEALTH_STATUSES",
    "score_predictions",
    "evaluate_sets",
    "evaluate_by",
    "headline_sample",
    "reliability_table",
    "reliability_json",
    "reliability_png",
    "png_markdown",
    "metrics_markdown",
    "HealthThresholds",
    "HealthReport",
    "assess_health",
    "assess_sets",
    "worst_status",
    "DriftThresholds",
    "detect_drift",
    "season_is_complete",
    "REGISTRY_COLUMNS",
    "TRAINING_RUN_COLUMNS",
    "ModelVersion",
    "PromotionPolicy",
    "PromotionDecision",
    "model_version_id",
    "build_candidate",
    "promotion_decision",
    "register_candidates",
    "registry_state",
    "active_versions",
    "training_run_rows",
    "registry_statuses",
    "assert_append_only",
    "json_safe",
    "RELIABILITY_COLUMNS",
    "DRIFT_COLUMNS",
    "REGISTRY_DDL",
    "TRAINING_RUN_DDL",
    "DEFAULT_PLOT_SETS",
    "drift_health",
    "objective_text",
    "data_freshness",
    "VERSION_STATUSES",
]

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

UNIFORM_LOG_LOSS: Final = math.log(3.0)
HEALTH_STATUSES: Final = ("healthy", "warning", "critical")


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


# --- scoring ---------------------------------------------------------------------------------------


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


def _ordered_sets(present: Iterable[str]) -> list[str]:
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

    for set_id in _ordered_sets(set_names):
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


# --- reliability -----------------------------------------------------------------------------------

RELIABILITY_COLUMNS: Final = [
    "set_id", "outcome", "bin", "bin_lower", "bin_upper", "count", "mean_predicted", "observed_frequency",
]


def reliability_table(
    predictions: pd.DataFrame,
    *,
    set_ids: Sequence[str] | None = None,
    n_bins: int = 10,
    min_season_match_index: int = 0,
) -> pd.DataFrame:
    """Reliability bins per set and outcome ('H', 'D', 'A'): :data:`RELIABILITY_COLUMNS`.

    Same binning as :func:`jackpot_pipeline.model.metrics.reliability_curve` (equal-width bins of
    [0, 1], one-vs-rest per outcome); empty bins have count 0 and NaN mean / frequency."""
    scored = score_predictions(predictions, min_season_match_index=min_season_match_index)
    scored = scored[scored["has_probs"].to_numpy()]
    wanted = _ordered_sets(scored["set_id"].unique()) if set_ids is None else list(set_ids)
    # one frame built from plain arrays: a frame per set and outcome cost more than the binning
    set_column, outcomes = scored["set_id"].to_numpy(dtype=object, na_value=None), scored["outcome"].to_numpy()
    probs_all, frames = scored[list(PROB_COLUMNS)].to_numpy(dtype=np.float64), {c: [] for c in RELIABILITY_COLUMNS}
    for set_id in wanted:
        mine = set_column == set_id
        for code, label in enumerate(OUTCOME_LABELS if mine.any() else ()):
            curve = reliability_curve(probs_all[mine], outcomes[mine], n_bins=n_bins, outcome=code)
            for column, values in zip(RELIABILITY_COLUMNS, ([set_id] * n_bins, [label] * n_bins, np.arange(
                    n_bins, dtype=np.int64), curve.bin_edges[:-1], curve.bin_edges[1:], curve.counts,
                    curve.mean_predicted, curve.observed_frequency), strict=True):
                frames[column].append(np.asarray(values, dtype=object if column in ("set_id", "outcome") else None))
    if not frames["set_id"]:
        return pd.DataFrame({column: pd.Series(dtype="float64") for column in RELIABILITY_COLUMNS}).astype(
            {"set_id": "string", "outcome": "string", "bin": "int64", "count": "int64"}
        )
    table = pd.DataFrame({column: np.concatenate(parts) for column, parts in frames.items()})
    return table.astype({"set_id": "string", "outcome": "string"})


def reliability_json(table: pd.DataFrame, set_id: str) -> str:
    """One set's bins as compact JSON: {"H": {"count": [...], "mean_predicted": [...], ...}, ...}."""
    return _reliability_payload(table[table["set_id"] == set_id])


def reliability_jsons(table: pd.DataFrame, set_ids: Sequence[str]) -> list[str]:
    """:func:`reliability_json` of each of ``set_ids``, the table split once."""
    by_set = dict(iter(table.groupby("set_id", sort=False)))
    return [_reliability_payload(by_set.get(set_id, table.iloc[:0])) for set_id in set_ids]


def _reliability_payload(mine: pd.DataFrame) -> str:
    outcomes = mine["outcome"].to_numpy(dtype=object)
    bins = mine["bin"].to_numpy()
    lower, upper = mine["bin_lower"].to_numpy(dtype=float), mine["bin_upper"].to_numpy(dtype=float)
    counts = mine["count"].to_numpy()
    predicted, observed = mine["mean_predicted"].to_numpy(dtype=float), mine["observed_frequency"].to_numpy(dtype=float)
    payload: dict[str, Any] = {}
    for label in OUTCOME_LABELS:
        rows = np.flatnonzero(outcomes == label)
        if not len(rows):
            continue
        rows = rows[np.argsort(bins[rows], kind="stable")]
        payload[label] = {
            "bin_edges": [*lower[rows].tolist(), float(upper[rows[-1]])],
            "count": counts[rows].astype(int).tolist(),
            "mean_predicted": json_safe(predicted[rows].tolist()),
            "observed_frequency": json_safe(observed[rows].tolist()),
        }
    return json.dumps(payload, sort_keys=True)


# Fixed colours keep the figures comparable from one report to the next.
_SET_COLOURS: Final = {
    "A": "#1f77b4", "B": "#ff7f0e", "C": "#2ca02c", "D": "#d62728", "E": "#9467bd", "F": "#8c564b",
    "G": "#e377c2", "market_pre": "#7f7f7f", "market_close": "#111111",
}
DEFAULT_PLOT_SETS: Final = ("A", "B", "C", "G", "market_pre", "market_close")


def reliability_png(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    title: str,
    *,
    set_ids: Sequence[str] | None = None,
    min_count: int = 20,
) -> bytes:
    """Reliability diagram (home / draw / away panels, one line per set) as PNG bytes.

    ``tables``: a :func:`reliability_table` frame, or {label: table of one set}. Deterministic: Agg
    canvas, fixed size and dpi, no software/date metadata, so equal inputs give identical bytes. Bins
    with fewer than ``min_count`` predictions are not drawn (a single match is 0 % or 100 %)."""
    from jackpot_pipeline.model.reliability_plot import draw_reliability

    if isinstance(tables, Mapping):
        frame = pd.concat(
            [table.assign(set_id=label) for label, table in tables.items()], ignore_index=True
        ) if tables else pd.DataFrame(columns=RELIABILITY_COLUMNS)
    else:
        frame = tables
    present = _ordered_sets(frame["set_id"].dropna().unique()) if len(frame) else []
    if set_ids is not None:
        sets = [s for s in set_ids if s in present]
    else:
        sets = [s for s in DEFAULT_PLOT_SETS if s in present] or present
    # masks and columns taken once as arrays: filtering the frame per set and outcome dominated the plot
    counts, bins = frame["count"].to_numpy(), frame["bin"].to_numpy()
    plotted = (frame["count"] >= min_count).to_numpy(dtype=bool, na_value=False)
    predicted, observed = frame["mean_predicted"].to_numpy(dtype=float), frame["observed_frequency"].to_numpy(dtype=float)
    of_set = {s: (frame["set_id"] == s).to_numpy(dtype=bool, na_value=False) for s in sets}
    panels = []
    for label, name in zip(OUTCOME_LABELS, ("home win", "draw", "away win"), strict=True):
        of_outcome, lines = (frame["outcome"] == label).to_numpy(dtype=bool, na_value=False), {}
        for set_id in sets:
            rows = np.flatnonzero(of_set[set_id] & of_outcome & plotted)
            rows = rows[np.argsort(bins[rows], kind="quicksort")]  # as sort_values("bin") orders them
            lines[set_id] = list(zip(predicted[rows], observed[rows], strict=True))
        total = int(counts[of_outcome & of_set[sets[0]]].sum()) if sets else 0
        panels.append((name, total, lines))
    return draw_reliability(panels, title, _SET_COLOURS, sets)


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown image with the PNG inlined as a base64 data URI (Dagster has no image metadata type)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.{digits}f}"
    return str(value)


def metrics_markdown(metrics: pd.DataFrame, *, extra_columns: Sequence[str] = ()) -> str:
    """Markdown table of :func:`evaluate_sets` rows: scores, then the paired difference to each market
    (mean ± SE; positive = worse than the market)."""
    header = [*extra_columns, "set", "n", "RPS", "Brier", "log loss", "ECE", "accuracy",
              "ΔRPS vs pre (±SE)", "ΔRPS vs close (±SE)", "Δlog loss vs pre (±SE)", "Δlog loss vs close (±SE)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(extra_columns) + ["---"] + ["---:"] * (len(header) - len(extra_columns) - 1)) + "|"]
    for row in metrics.to_dict("records"):
        cells = [_fmt(row.get(column)) for column in extra_columns]
        cells += [str(row["set_id"]), str(row["n"]), _fmt(row["rps"]), _fmt(row["brier"]), _fmt(row["log_loss"]),
                  _fmt(row["ece"]), _fmt(row["accuracy"], 3)]
        for score in ("rps", "log_loss"):
            for market in MARKET_SETS:
                diff, se = row[f"{score}_diff_{market}"], row[f"{score}_diff_{market}_se"]
                cells.append("–" if pd.isna(diff) else f"{diff:+.4f} ± {_fmt(se)} (n={row[f'n_paired_{market}']})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- model health ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthThresholds:
    """When a set is healthy, warning or critical.

    * the paired RPS gap to ``reference_set`` (positive = worse than the market): warning above
      ``rps_gap_warning``, critical above ``rps_gap_critical``; measured, the pure model trails
      pre-closing odds by about 0.006 over the headline sample;
    * ECE (pooled over outcomes) beyond what chance alone gives on the same bins (``ece - ece_noise``):
      warning / critical above ``ece_excess_warning`` / ``ece_excess_critical``. A perfectly calibrated
      forecast of one league-season (~380 matches) shows an ECE near 0.027 by chance, so a raw ECE
      threshold would only measure sample size. Measured over the headline sample: set A 0.003 − 0.004,
      the draw-boosted D +0.015 and the sharpened E +0.039 beyond chance;
    * a log loss above the uniform forecast's ln 3 is critical, and so is an infinite one (a
      probability of 0 given to what happened);
    * a model set with played matches but no probabilities (``n_missing``) is a warning.

    Gaps and log loss are judged only on at least ``min_matches`` (paired) matches; below, the
    report says so and stays healthy."""

    reference_set: str = "market_pre"
    rps_gap_warning: float = 0.008
    rps_gap_critical: float = 0.015
    ece_excess_warning: float = 0.015
    ece_excess_critical: float = 0.03
    min_matches: int = 100


@dataclass(frozen=True)
class HealthReport:
    set_id: str
    status: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"set_id": self.set_id, "status": self.status, "reasons": list(self.reasons)}


def worst_status(statuses: Iterable[str]) -> str:
    """The most severe of healthy < warning < critical (unknown values count as healthy)."""
    rank = {status: position for position, status in enumerate(HEALTH_STATUSES)}
    worst = 0
    for status in statuses:
        worst = max(worst, rank.get(status, 0))
    return HEALTH_STATUSES[worst]


def assess_health(metrics: Mapping[str, Any] | pd.Series, thresholds: HealthThresholds = HealthThresholds()) -> HealthReport:
    """Health of one :func:`evaluate_sets` row."""
    row = dict(metrics)
    set_id = str(row["set_id"])
    findings: list[tuple[str, str]] = []
    n = int(row.get("n") or 0)
    if set_id not in MARKET_SETS and int(row.get("n_missing") or 0) > 0:
        findings.append(("warning", f"{int(row['n_missing'])} played matches have no {set_id} probabilities"))
    log_loss = row.get("log_loss")
    if log_loss is not None and not pd.isna(log_loss) and math.isinf(log_loss):
        findings.append(("critical", "infinite log loss: a probability of 0 was given to an outcome that happened"))
    elif n < thresholds.min_matches:
        findings.append(("healthy", f"only {n} scored matches (< {thresholds.min_matches}): too few to judge"))
    else:
        if not pd.isna(log_loss) and log_loss > UNIFORM_LOG_LOSS:
            findings.append(("critical", f"log loss {log_loss:.4f} is worse than the uniform forecast's ln 3 = {UNIFORM_LOG_LOSS:.4f}"))
        reference = thresholds.reference_set
        gap_column = f"rps_diff_{reference}"
        if set_id != reference and gap_column in row:
            gap, se, paired = row[gap_column], row.get(f"{gap_column}_se"), int(row.get(f"n_paired_{reference}") or 0)
            if paired < thresholds.min_matches or pd.isna(gap):
                findings.append(("healthy", f"only {paired} matches paired with {reference}: gap not judged"))
            else:
                gap_text = f"RPS gap to {reference} {gap:+.4f} ± {_fmt(se)} on {paired} matches"
                if gap > thresholds.rps_gap_critical:
                    findings.append(("critical", f"{gap_text} > {thresholds.rps_gap_critical}"))
                elif gap > thresholds.rps_gap_warning:
                    findings.append(("warning", f"{gap_text} > {thresholds.rps_gap_warning}"))
        ece, noise = row.get("ece"), row.get("ece_noise")
        if ece is not None and noise is not None and not (pd.isna(ece) or pd.isna(noise)):
            excess = ece - noise
            text = f"ECE {ece:.4f} is {excess:+.4f} beyond the {noise:.4f} expected by chance"
            if excess > thresholds.ece_excess_critical:
                findings.append(("critical", f"{text} (> {thresholds.ece_excess_critical})"))
            elif excess > thresholds.ece_excess_warning:
                findings.append(("warning", f"{text} (> {thresholds.ece_excess_warning})"))
    status = worst_status(level for level, _ in findings)
    return HealthReport(set_id, status, tuple(reason for _, reason in findings))


def assess_sets(metrics: pd.DataFrame, thresholds: HealthThresholds = HealthThresholds()) -> pd.DataFrame:
    """``metrics`` with ``health`` and ``health_reasons`` ('; '-joined) columns added."""
    reports = [assess_health(row, thresholds) for row in metrics.to_dict("records")]
    return metrics.assign(
        health=pd.array([report.status for report in reports], dtype="string"),
        health_reasons=pd.array(["; ".join(report.reasons) for report in reports], dtype="string"),
    )


# --- drift -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftThresholds:
    """Latest season against the mean of the previous ``baseline_seasons`` seasons of the same league.

    ``metric`` is a column of :func:`evaluate_by` with a ``<metric>_se`` partner; the default, the
    paired RPS gap of set A to pre-closing odds, removes the season-to-season change in how predictable
    the league was. z = (latest − baseline) / √(SE_latest² + SE_baseline²) with SE_baseline =
    √(Σ SE²) / k. Larger = worse for every loss metric: z above ``z_warning`` / ``z_critical`` is a
    warning / critical drift; below −``z_warning`` it is reported as an improvement."""

    set_id: str = "A"
    metric: str = "rps_diff_market_pre"
    baseline_seasons: int = 3
    min_baseline_seasons: int = 2
    min_matches: int = 100
    z_warning: float = 2.0
    z_critical: float = 3.0


DRIFT_COLUMNS: Final = [
    "league", "set_id", "metric", "latest_season", "latest_value", "latest_se", "latest_n", "baseline_seasons",
    "baseline_value", "baseline_se", "delta", "z", "status", "flags",
]


def _season_order_key(row: Mapping[str, Any]) -> tuple:
    first = row.get("first_match_date")
    try:
        start = season_window(str(row["league"]), str(row["season"])).first_day
    except (SeasonError, KeyError):
        start = None
    anchor = pd.Timestamp(first) if first is not None and not pd.isna(first) else (pd.Timestamp(start) if start else pd.Timestamp.max)
    return (anchor, str(row["season"]))


def detect_drift(by_season: pd.DataFrame, thresholds: DriftThresholds = DriftThresholds()) -> pd.DataFrame:
    """One row per league: :data:`DRIFT_COLUMNS`. ``by_season``: :func:`evaluate_by` rows grouped by
    league and season. Status is 'ok', 'warning', 'critical', 'improved' or 'insufficient_data'."""
    metric, se_column = thresholds.metric, f"{thresholds.metric}_se"
    rows = []
    if by_season.empty:
        return pd.DataFrame(columns=DRIFT_COLUMNS)
    mine = by_season[by_season["set_id"] == thresholds.set_id]
    n_column = f"n_paired_{metric.split('_diff_', 1)[1]}" if "_diff_" in metric else "n"
    for league, group in mine.groupby("league", sort=True):
        records = sorted(group.to_dict("records"), key=_season_order_key)
        usable = [r for r in records if int(r.get(n_column) or 0) >= thresholds.min_matches and not pd.isna(r[metric])]
        base = {"league": league, "set_id": thresholds.set_id, "metric": metric}
        if not records:
            continue
        latest = records[-1]
        row = {
            **base,
            "latest_season": latest["season"],
            "latest_value": float(latest[metric]),
            "latest_se": float(latest[se_column]),
            "latest_n": int(latest.get(n_column) or 0),
            "baseline_seasons": "",
            "baseline_value": math.nan,
            "baseline_se": math.nan,
            "delta": math.nan,
            "z": math.nan,
            "status": "insufficient_data",
            "flags": "",
        }
        if latest not in usable:
            row["flags"] = f"latest season has fewer than {thresholds.min_matches} scored matches"
            rows.append(row)
            continue
        baseline = [r for r in usable if r is not latest][-thresholds.baseline_seasons:]
        row["baseline_seasons"] = ",".join(str(r["season"]) for r in baseline)
        if len(baseline) < thresholds.min_baseline_seasons:
            row["flags"] = f"only {len(baseline)} earlier seasons (< {thresholds.min_baseline_seasons})"
            rows.append(row)
            continue
        values = np.array([float(r[metric]) for r in baseline])
        ses = np.array([float(r[se_column]) for r in baseline])
        baseline_value = float(values.mean())
        baseline_se = float(math.sqrt(float((ses**2).sum())) / len(baseline))
        delta = row["latest_value"] - baseline_value
        scale = math.sqrt(row["latest_se"] ** 2 + baseline_se**2)
        z = delta / scale if scale > 0 else (0.0 if delta == 0 else math.copysign(math.inf, delta))
        if z > thresholds.z_critical:
            status, flags = "critical", "drift_worse"
        elif z > thresholds.z_warning:
            status, flags = "warning", "drift_worse"
        elif z < -thresholds.z_warning:
            status, flags = "improved", "drift_better"
        else:
            status, flags = "ok", ""
        row.update(baseline_value=baseline_value, baseline_se=baseline_se, delta=delta, z=z, status=status, flags=flags)
        rows.append(row)
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


def drift_health(status: str) -> str:
    """Drift status as a health level (improvements and thin data are healthy)."""
    return status if status in ("warning", "critical") else "healthy"


# --- seasons ---------------------------------------------------------------------------------------


def season_is_complete(league: str, season: str, *, has_later_season: bool, n_scheduled: int, as_of: dt.date) -> bool:
    """A season is complete once the league has a later season, or when nothing is scheduled and its
    window (split seasons: 1 July - 31 August; calendar seasons: to 31 March) ended before ``as_of``."""
    if has_later_season:
        return True
    try:
        last_day = season_window(league, season).last_day
    except SeasonError:
        return False
    return n_scheduled == 0 and as_of > last_day


# --- model registry --------------------------------------------------------------------------------

REGISTRY_COLUMNS: Final = [
    "event_id", "recorded_at", "run_id", "league", "model_version", "event", "status", "reason",
    # immutable version fields: filled on the 'registered' row only
    "code_version", "parameters", "input_data_versions", "training_start", "training_end",
    "evaluation_season", "metrics", "created_at",
]
REGISTRY_DDL: Final = {
    "event_id": "BIGINT NOT NULL", "recorded_at": "TIMESTAMP NOT NULL", "run_id": "VARCHAR", "league": "VARCHAR NOT NULL",
    "model_version": "VARCHAR NOT NULL", "event": "VARCHAR NOT NULL", "status": "VARCHAR NOT NULL",
    "reason": "VARCHAR NOT NULL", "code_version": "VARCHAR", "parameters": "VARCHAR", "input_data_versions": "VARCHAR",
    "training_start": "DATE", "training_end": "DATE", "evaluation_season": "VARCHAR", "metrics": "VARCHAR",
    "created_at": "TIMESTAMP",
}
TRAINING_RUN_COLUMNS: Final = [
    "run_id", "recorded_at", "league", "model_version", "registry_status", "objective", "code_version",
    "parameters", "data_start", "data_end", "seasons", "n_partitions", "n_matches", "metrics",
]
TRAINING_RUN_DDL: Final = {
    "run_id": "VARCHAR NOT NULL", "recorded_at": "TIMESTAMP NOT NULL", "league": "VARCHAR NOT NULL",
    "model_version": "VARCHAR NOT NULL", "registry_status": "VARCHAR", "objective": "VARCHAR NOT NULL",
    "code_version": "VARCHAR", "parameters": "VARCHAR", "data_start": "DATE", "data_end": "DATE", "seasons": "VARCHAR",
    "n_partitions": "BIGINT", "n_matches": "BIGINT", "metrics": "VARCHAR",
}
VERSION_STATUSES: Final = ("active", "archived", "failed")


def json_safe(value: Any) -> Any:
    """Recursively: NaN / ±inf -> None, numpy scalars -> Python, dates -> ISO text."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return [json_safe(item) for item in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _dumps(value: Any) -> str:
    return json.dumps(json_safe(value), sort_keys=True, separators=(",", ":"))


def model_version_id(league: str, code_version: str, parameters: Mapping[str, Any], input_data_versions: Mapping[str, Any]) -> str:
    """Hash of the league, code version, walk-forward settings and the input data versions."""
    payload = _dumps({"league": league, "code": code_version, "parameters": parameters, "data": input_data_versions})
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class ModelVersion:
    """One immutable model version of a league.

    ``metrics``: {"set_id", "evaluation_season", "seasons": {season: {n, rps, rps_se, log_loss, brier,
    ece, rps_diff_market_pre, rps_diff_market_pre_se, n_paired_market_pre, complete}}, "overall": {...},
    "health": {...}}. ``status``/``reason`` are the registry's latest word on it."""

    league: str
    model_version: str
    code_version: str
    parameters: Mapping[str, Any]
    input_data_versions: Mapping[str, Any]
    training_start: dt.date | None
    training_end: dt.date | None
    evaluation_season: str | None
    metrics: Mapping[str, Any]
    created_at: dt.datetime
    status: str = "candidate"
    reason: str = ""

    def season_metric(self, season: str, metric: str) -> float:
        value = (self.metrics.get("seasons") or {}).get(season, {}).get(metric)
        return math.nan if value is None else float(value)

    def complete_seasons(self) -> list[str]:
        """Seasons evaluated and complete, oldest first (the order they were stored in)."""
        return [season for season, values in (self.metrics.get("seasons") or {}).items() if values.get("complete")]

    def registered_row(self, *, event_id: int, recorded_at: dt.datetime, run_id: str | None, status: str, reason: str) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "recorded_at": pd.Timestamp(recorded_at),
            "run_id": run_id,
            "league": self.league,
            "model_version": self.model_version,
            "event": "registered",
            "status": status,
            "reason": reason,
            "code_version": self.code_version,
            "parameters": _dumps(self.parameters),
            "input_data_versions": _dumps(self.input_data_versions),
            "training_start": pd.Timestamp(self.training_start) if self.training_start else pd.NaT,
            "training_end": pd.Timestamp(self.training_end) if self.training_end else pd.NaT,
            "evaluation_season": self.evaluation_season,
            "metrics": _dumps(self.metrics),
            "created_at": pd.Timestamp(self.created_at),
        }

    @classmethod
    def from_registry(cls, registered: Mapping[str, Any], status: str, reason: str) -> ModelVersion:
        def day(value):
            return None if value is None or pd.isna(value) else pd.Timestamp(value).date()

        return cls(
            league=str(registered["league"]),
            model_version=str(registered["model_version"]),
            code_version=str(registered["code_version"]),
            parameters=json.loads(registered["parameters"] or "{}"),
            input_data_versions=json.loads(registered["input_data_versions"] or "{}"),
            training_start=day(registered["training_start"]),
            training_end=day(registered["training_end"]),
            evaluation_season=None if pd.isna(registered["evaluation_season"]) else str(registered["evaluation_season"]),
            metrics=json.loads(registered["metrics"] or "{}"),
            created_at=pd.Timestamp(registered["created_at"]).to_pydatetime(),
            status=status,
            reason=reason,
        )


_SEASON_METRICS: Final = (
    "n", "rps", "rps_se", "brier", "log_loss", "log_loss_se", "ece", "accuracy",
    "n_paired_market_pre", "rps_diff_market_pre", "rps_diff_market_pre_se",
    "n_paired_market_close", "rps_diff_market_close", "rps_diff_market_close_se",
)


def build_candidate(
    league: str,
    season_metrics: pd.DataFrame,
    *,
    code_version: str,
    parameters: Mapping[str, Any],
    input_data_versions: Mapping[str, Any],
    as_of: dt.date,
    created_at: dt.datetime,
    set_id: str = "A",
    training_start: dt.date | None = None,
    training_end: dt.date | None = None,
    thresholds: HealthThresholds = HealthThresholds(),
) -> ModelVersion:
    """A candidate version of ``league`` from its per-season evaluation.

    ``season_metrics``: :func:`evaluate_by` rows (league, season) of that league; the rows of
    ``set_id`` give the per-season metrics. The evaluation season is the latest complete season (see
    :func:`season_is_complete`), else the latest season; health is judged on it."""
    mine = season_metrics[(season_metrics["league"] == league) & (season_metrics["set_id"] == set_id)]
    records = sorted(mine.to_dict("records"), key=_season_order_key)
    seasons: dict[str, dict[str, Any]] = {}
    for position, record in enumerate(records):
        complete = season_is_complete(
            league, str(record["season"]), has_later_season=position < len(records) - 1,
            n_scheduled=int(record.get("n_scheduled") or 0), as_of=as_of,
        )
        seasons[str(record["season"])] = {
            **{metric: json_safe(record.get(metric)) for metric in _SEASON_METRICS if metric in record},
            "complete": complete,
        }
    complete = [season for season, values in seasons.items() if values["complete"]]
    evaluation_season = complete[-1] if complete else (list(seasons)[-1] if seasons else None)
    overall: dict[str, Any] = {}
    if records:
        weights = np.array([float(r["n"]) for r in records])
        if weights.sum() > 0:
            for metric in ("rps", "brier", "log_loss"):
                values = np.array([float(r[metric]) if r["n"] else 0.0 for r in records])
                overall[metric] = float((weights * values).sum() / weights.sum())
            overall["n"] = int(weights.sum())
    health = (
        assess_health(next(r for r in records if str(r["season"]) == evaluation_season), thresholds).to_dict()
        if evaluation_season is not None else {"set_id": set_id, "status": "critical", "reasons": ["nothing evaluated"]}
    )
    metrics = {"set_id": set_id, "evaluation_season": evaluation_season, "seasons": seasons, "overall": overall, "health": health}
    return ModelVersion(
        league=league,
        model_version=model_version_id(league, code_version, parameters, input_data_versions),
        code_version=code_version,
        parameters=json_safe(parameters),
        input_data_versions=json_safe(input_data_versions),
        training_start=training_start,
        training_end=training_end,
        evaluation_season=evaluation_season,
        metrics=json_safe(metrics),
        created_at=created_at,
    )


@dataclass(frozen=True)
class PromotionPolicy:
    """A candidate replaces the active version unless it is worse by more than ``tolerance`` in
    ``metric`` on the latest complete season both versions evaluated. With no such common season, the
    paired gap to pre-closing odds on each one's own evaluation season is compared instead (it removes
    how predictable each season was). A candidate whose health is critical, or with nothing evaluated,
    fails."""

    metric: str = "rps"
    tolerance: float = 0.0005
    fallback_metric: str = "rps_diff_market_pre"
    fail_on_critical_health: bool = True


@dataclass(frozen=True)
class PromotionDecision:
    status: str  # active, archived or failed
    reason: str
    compared_on: str | None = None
    candidate_value: float | None = None
    active_value: float | None = None


def promotion_decision(candidate: ModelVersion, active: ModelVersion | None, policy: PromotionPolicy = PromotionPolicy()) -> PromotionDecision:
    """The gate: whether ``candidate`` becomes the active version of its league."""
    if candidate.evaluation_season is None or math.isnan(candidate.season_metric(candidate.evaluation_season, policy.metric)):
        return PromotionDecision("failed", "no evaluable played matches")
    health = candidate.metrics.get("health") or {}
    if policy.fail_on_critical_health and health.get("status") == "critical":
        return PromotionDecision("failed", "critical health on " + str(candidate.evaluation_season) + ": " + "; ".join(health.get("reasons", [])))
    if active is None:
        return PromotionDecision("active", "first version of the league")
    common = [season for season in candidate.complete_seasons() if season in set(active.complete_seasons())]
    common = [s for s in common if not math.isnan(candidate.season_metric(s, policy.metric)) and not math.isnan(active.season_metric(s, policy.metric))]
    if common:
        season = common[-1]
        new, old, compared = candidate.season_metric(season, policy.metric), active.season_metric(season, policy.metric), f"{policy.metric} on {season}"
    else:
        season = None
        new = candidate.season_metric(candidate.evaluation_season, policy.fallback_metric)
        old = active.season_metric(active.evaluation_season, policy.fallback_metric) if active.evaluation_season else math.nan
        compared = (
            f"{policy.fallback_metric} (no common complete season: candidate on {candidate.evaluation_season}, "
            f"active on {active.evaluation_season})"
        )
        if math.isnan(new) or math.isnan(old):
            return PromotionDecision("active", f"no comparable metric with {active.model_version}; promoted as the newer version", None, None, None)
    if new <= old + policy.tolerance:
        return PromotionDecision(
            "active", f"not worse than {active.model_version}: {compared} {new:.5f} vs {old:.5f} (tolerance {policy.tolerance})",
            season, new, old,
        )
    return PromotionDecision(
        "archived", f"worse than active {active.model_version}: {compared} {new:.5f} vs {old:.5f} (+{new - old:.5f} > tolerance {policy.tolerance})",
        season, new, old,
    )


def _empty_registry() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=_pandas_dtype(REGISTRY_DDL[column])) for column in REGISTRY_COLUMNS})


def _pandas_dtype(sql_type: str) -> str:
    kind = sql_type.split()[0]
    return {"BIGINT": "int64", "TIMESTAMP": "datetime64[ns]", "DATE": "datetime64[ns]", "VARCHAR": "object"}[kind]


def registry_state(registry: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (league, model_version): the registered row with the latest status and reason."""
    if registry is None or registry.empty:
        return _empty_registry().assign(status_event_id=pd.Series(dtype="int64"))
    ordered = registry.sort_values("event_id", kind="stable")
    registered = ordered[ordered["event"] == "registered"].drop_duplicates(["league", "model_version"], keep="first")
    latest = ordered.drop_duplicates(["league", "model_version"], keep="last")[["league", "model_version", "status", "reason", "event_id"]]
    state = registered.drop(columns=["status", "reason"]).merge(
        latest.rename(columns={"event_id": "status_event_id"}), on=["league", "model_version"], how="left"
    )
    return state.sort_values("event_id", kind="stable").reset_index(drop=True)


def active_versions(registry: pd.DataFrame | None) -> dict[str, ModelVersion]:
    """{league: its active version} (the most recently activated when, against the rules, several are)."""
    state = registry_state(registry)
    active = state[state["status"] == "active"].sort_values("status_event_id", kind="stable")
    return {row["league"]: ModelVersion.from_registry(row, row["status"], row["reason"]) for row in active.to_dict("records")}


def register_candidates(
    registry: pd.DataFrame | None,
    candidates: Sequence[ModelVersion],
    *,
    recorded_at: dt.datetime,
    run_id: str | None = None,
    policy: PromotionPolicy = PromotionPolicy(),
) -> tuple[pd.DataFrame, dict[str, PromotionDecision | None]]:
    """New registry rows for ``candidates`` (the existing rows are never part of the result).

    A version already registered for its league adds nothing (decision None). Otherwise a
    'registered' row with the gate's status; when it becomes active, the previous active version gets
    a 'status_change' row (archived, superseded). Returns (new rows, {league: decision})."""
    existing = registry if registry is not None else _empty_registry()
    next_id = int(existing["event_id"].max()) + 1 if len(existing) else 1
    known = set(zip(existing["league"], existing["model_version"], strict=True)) if len(existing) else set()
    active = active_versions(existing)
    rows: list[dict[str, Any]] = []
    decisions: dict[str, PromotionDecision | None] = {}
    for candidate in candidates:
        if (candidate.league, candidate.model_version) in known:
            decisions[candidate.league] = None
            continue
        current = active.get(candidate.league)
        decision = promotion_decision(candidate, current, policy)
        decisions[candidate.league] = decision
        rows.append(candidate.registered_row(event_id=next_id, recorded_at=recorded_at, run_id=run_id, status=decision.status, reason=decision.reason))
        next_id += 1
        known.add((candidate.league, candidate.model_version))
        if decision.status == "active":
            if current is not None:
                rows.append({
                    "event_id": next_id, "recorded_at": pd.Timestamp(recorded_at), "run_id": run_id,
                    "league": candidate.league, "model_version": current.model_version, "event": "status_change",
                    "status": "archived", "reason": f"superseded by {candidate.model_version}",
                })
                next_id += 1
            active[candidate.league] = candidate
    new = pd.DataFrame(rows, columns=REGISTRY_COLUMNS) if rows else _empty_registry()
    return new.astype({"event_id": "int64"}), decisions


def assert_append_only(before: pd.DataFrame | None, after: pd.DataFrame, key: str | Sequence[str] = "event_id") -> None:
    """Raise AssertionError unless every row of ``before`` is in ``after`` unchanged (rows matched on
    ``key``, one column or several)."""
    if before is None or before.empty:
        return
    keys = [key] if isinstance(key, str) else list(key)
    merged = before.merge(after, on=keys, how="left", suffixes=("", "_after"), indicator=True)
    lost = merged["_merge"] != "both"
    if lost.any():
        raise AssertionError(f"rows {merged.loc[lost, keys].values.tolist()[:5]} of the history are gone")
    for column in before.columns:
        if column in keys:
            continue
        old, new = merged[column], merged[f"{column}_after"]
        changed = ~((old == new) | (old.isna() & new.isna()))
        if changed.any():
            raise AssertionError(f"column {column} of rows {merged.loc[changed, keys].values.tolist()[:5]} was rewritten")


def training_run_rows(
    candidates: Sequence[ModelVersion],
    *,
    run_id: str,
    recorded_at: dt.datetime,
    statuses: Mapping[str, str] | None = None,
    n_partitions: Mapping[str, int] | None = None,
    objective: str,
) -> pd.DataFrame:
    """Audit rows: one per league and run, what it was trained on and how it scored. ``statuses``:
    {league: what the registry did with the candidate}, e.g. from :func:`registry_statuses`."""
    rows = []
    for candidate in candidates:
        seasons = list((candidate.metrics.get("seasons") or {}).keys())
        rows.append({
            "run_id": run_id,
            "recorded_at": pd.Timestamp(recorded_at),
            "league": candidate.league,
            "model_version": candidate.model_version,
            "registry_status": (statuses or {}).get(candidate.league, "not registered"),
            "objective": objective,
            "code_version": candidate.code_version,
            "parameters": _dumps(candidate.parameters),
            "data_start": pd.Timestamp(candidate.training_start) if candidate.training_start else pd.NaT,
            "data_end": pd.Timestamp(candidate.training_end) if candidate.training_end else pd.NaT,
            "seasons": ",".join(seasons),
            "n_partitions": int((n_partitions or {}).get(candidate.league, len(seasons))),
            "n_matches": int((candidate.metrics.get("overall") or {}).get("n", 0)),
            "metrics": _dumps({"overall": candidate.metrics.get("overall"), "evaluation_season": candidate.evaluation_season,
                               "health": candidate.metrics.get("health")}),
        })
    frame = pd.DataFrame(rows, columns=TRAINING_RUN_COLUMNS)
    return frame.astype({"n_partitions": "int64", "n_matches": "int64"}) if len(frame) else frame


def registry_statuses(
    candidates: Sequence[ModelVersion], decisions: Mapping[str, PromotionDecision | None], registry: pd.DataFrame | None
) -> dict[str, str]:
    """{league: the candidate version's status in the registry after this run} (active, archived or
    failed). For a version registered earlier it is its current status; whether a run registered the
    version itself shows in the registry (its 'registered' row carries the run id)."""
    state = registry_state(registry)
    current = dict(zip(zip(state["league"], state["model_version"], strict=True), state["status"], strict=True))
    statuses = {}
    for candidate in candidates:
        decision = decisions.get(candidate.league)
        fallback = decision.status if decision is not None else "unknown"
        statuses[candidate.league] = current.get((candidate.league, candidate.model_version), fallback)
    return statuses


def objective_text(parameters: Mapping[str, Any]) -> str:
    """A one-line description of the fitted objective from walk-forward settings."""
    dc = parameters.get("dixon_coles", {}) if isinstance(parameters, Mapping) else {}
    return (
        "Dixon-Coles weighted log-likelihood with L2 shrinkage, weekly walk-forward refits "
        f"(xi={dc.get('xi')}/day, shrinkage={dc.get('shrinkage')}, previous_seasons={parameters.get('previous_seasons')}, "
        f"min_training_matches={parameters.get('min_training_matches')})"
    )


def data_freshness(
    last_matches: pd.DataFrame, latest_snapshot: dt.date | None, *, stale_after_days: int = 21
) -> pd.DataFrame:
    """Per league: last played match date, the reference snapshot date, days between, and ``stale``
    when more than ``stale_after_days``. ``last_matches``: columns league, last_match_date."""
    rows = []
    for record in last_matches.to_dict("records"):
        last = record.get("last_match_date")
        last_day = None if last is None or pd.isna(last) else pd.Timestamp(last).date()
        behind = (latest_snapshot - last_day).days if (latest_snapshot and last_day) else None
        rows.append({
            "league": record["league"],
            "last_match_date": pd.Timestamp(last_day) if last_day else pd.NaT,
            "latest_snapshot_date": pd.Timestamp(latest_snapshot) if latest_snapshot else pd.NaT,
            "days_behind": behind,
            "stale": bool(behind is None or behind > stale_after_days),
        })
    frame = pd.DataFrame(rows, columns=["league", "last_match_date", "latest_snapshot_date", "days_behind", "stale"])
    return frame.astype({"league": "string", "days_behind": "Int64", "stale": "bool",
                         "last_match_date": "datetime64[ns]", "latest_snapshot_date": "datetime64[ns]"})

