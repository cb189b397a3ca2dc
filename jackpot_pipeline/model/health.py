"""Model health of a set's metric row, drift of a league's latest season, and when a season is complete."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from jackpot_pipeline.model.evaluation import MARKET_SETS
from jackpot_pipeline.model.reports import format_metric
from jackpot_pipeline.sources.leagues import SeasonError, season_window

UNIFORM_LOG_LOSS: Final = math.log(3.0)
HEALTH_STATUSES: Final = ("healthy", "warning", "critical")


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
                gap_text = f"RPS gap to {reference} {gap:+.4f} ± {format_metric(se)} on {paired} matches"
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


def season_order_key(row: Mapping[str, Any]) -> tuple:
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
        records = sorted(group.to_dict("records"), key=season_order_key)
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
