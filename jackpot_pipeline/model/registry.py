"""The model registry: versions of each league's model, their DDL and the promotion rules.

Append-only event rows (see :data:`REGISTRY_COLUMNS`). A version is registered once, with its
immutable parameters and metrics; later status changes (a newer version superseding it) are new
``status_change`` rows that carry only the status and the reason. Nothing is ever updated in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from jackpot_pipeline.model.health import HealthThresholds, assess_health, season_is_complete, season_order_key
from jackpot_pipeline.json_values import canonical_json, to_jsonable

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


def model_version_id(league: str, code_version: str, parameters: Mapping[str, Any], input_data_versions: Mapping[str, Any]) -> str:
    """Hash of the league, code version, walk-forward settings and the input data versions."""
    payload = canonical_json({"league": league, "code": code_version, "parameters": parameters, "data": input_data_versions})
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
            "parameters": canonical_json(self.parameters),
            "input_data_versions": canonical_json(self.input_data_versions),
            "training_start": pd.Timestamp(self.training_start) if self.training_start else pd.NaT,
            "training_end": pd.Timestamp(self.training_end) if self.training_end else pd.NaT,
            "evaluation_season": self.evaluation_season,
            "metrics": canonical_json(self.metrics),
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
    records = sorted(mine.to_dict("records"), key=season_order_key)
    seasons: dict[str, dict[str, Any]] = {}
    for position, record in enumerate(records):
        complete = season_is_complete(
            league, str(record["season"]), has_later_season=position < len(records) - 1,
            n_scheduled=int(record.get("n_scheduled") or 0), as_of=as_of,
        )
        seasons[str(record["season"])] = {
            **{metric: to_jsonable(record.get(metric)) for metric in _SEASON_METRICS if metric in record},
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
        parameters=to_jsonable(parameters),
        input_data_versions=to_jsonable(input_data_versions),
        training_start=training_start,
        training_end=training_end,
        evaluation_season=evaluation_season,
        metrics=to_jsonable(metrics),
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
            "parameters": canonical_json(candidate.parameters),
            "data_start": pd.Timestamp(candidate.training_start) if candidate.training_start else pd.NaT,
            "data_end": pd.Timestamp(candidate.training_end) if candidate.training_end else pd.NaT,
            "seasons": ",".join(seasons),
            "n_partitions": int((n_partitions or {}).get(candidate.league, len(seasons))),
            "n_matches": int((candidate.metrics.get("overall") or {}).get("n", 0)),
            "metrics": canonical_json({"overall": candidate.metrics.get("overall"), "evaluation_season": candidate.evaluation_season,
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
