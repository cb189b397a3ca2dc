"""What the validation assets compute: per league-season reports, the headline summary with drift, the
model registry's new rows and data freshness. Pure functions of the input frames."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from jackpot_pipeline.json_values import optional_number, to_jsonable
from jackpot_pipeline.model import validation as v
from jackpot_pipeline.reporting import Markdown, markdown_table
from jackpot_pipeline.steps.modeling import StepOutput

PREDICTION_INPUT_COLUMNS = [
    "match_id", "league", "season", "match_date", "status", "result", "season_match_index", "set_id",
    "prob_home", "prob_draw", "prob_away", "model_version", "calibration_version",
]
_CONTEXT_COLUMNS = ["first_match_date", "last_match_date", "n_scheduled", "min_season_match_index"]
REPORT_COLUMNS = ["league", "season", *v.METRIC_COLUMNS, "health", "health_reasons", *_CONTEXT_COLUMNS, "reliability"]
SUMMARY_COLUMNS = ["scope", "league", "season", *v.METRIC_COLUMNS, "health", "health_reasons", *_CONTEXT_COLUMNS]
FRESHNESS_COLUMNS = ["league", "last_match_date", "latest_snapshot_date", "days_behind", "stale"]
REPORT_INPUT_COLUMNS = ["league", "season", "set_id", "first_match_date", "last_match_date", "n_scheduled",
                        *[c for c in v.METRIC_COLUMNS if c != "set_id"]]


@dataclass(frozen=True)
class ReportSettings:
    min_season_match_index: int = 0
    n_bins: int = 10
    health: v.HealthThresholds = v.HealthThresholds()


@dataclass(frozen=True)
class SummarySettings:
    min_season_match_index: int = v.HEADLINE_MIN_SEASON_MATCH_INDEX
    headline_leagues: tuple[str, ...] = v.HEADLINE_LEAGUES
    headline_seasons: tuple[str, ...] = v.HEADLINE_SEASONS
    n_bins: int = 10
    health: v.HealthThresholds = v.HealthThresholds()
    drift: v.DriftThresholds = v.DriftThresholds()


def typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns in order with stable dtypes, whatever the frame held (an empty report included)."""
    frame = frame.reindex(columns=columns)
    types = {}
    for column in columns:
        if column in ("league", "season", "set_id", "scope", "health", "health_reasons", "reliability"):
            types[column] = "string"
        elif column.endswith("_date"):
            types[column] = "datetime64[ns]"
        elif column in ("n", "n_missing", "n_scheduled", "min_season_match_index") or column.startswith("n_paired_"):
            types[column] = "int64"
        elif column in v.METRIC_COLUMNS:
            types[column] = "float64"
    return frame.astype(types)


def _set_row(metrics: pd.DataFrame, set_id: str = "A") -> dict:
    rows = metrics[metrics["set_id"] == set_id]
    return rows.iloc[0].to_dict() if len(rows) else {}


def validation_report_step(predictions: pd.DataFrame, league: str, season: str,
                           settings: ReportSettings = ReportSettings()) -> StepOutput:
    """Every probability set of one league-season scored out of sample, with health and reliability."""
    report = v.assess_sets(
        v.evaluate_by(predictions, min_season_match_index=settings.min_season_match_index, n_bins=settings.n_bins),
        settings.health,
    ) if len(predictions) else pd.DataFrame(columns=REPORT_COLUMNS)
    if report.empty:
        note = "no predictions" if predictions.empty else "no played match with a result yet"
        return StepOutput({"validation_reports": typed(pd.DataFrame(columns=REPORT_COLUMNS), REPORT_COLUMNS)},
                          {"validation_reports": {"note": f"{league}|{season}: {note}"}})
    table = v.reliability_table(predictions, n_bins=settings.n_bins, min_season_match_index=settings.min_season_match_index)
    report = typed(report.assign(
        league=league, season=season, min_season_match_index=settings.min_season_match_index,
        reliability=v.reliability_jsons(table, report["set_id"].tolist()),
    ), REPORT_COLUMNS)
    model = _set_row(report)
    png = v.reliability_png(table, f"{league} {season}: reliability of out-of-sample probabilities (n = {model.get('n', 0)})")
    return StepOutput({"validation_reports": report}, {"validation_reports": {
        "matches_scored": int(model.get("n", 0)),
        "health": str(model.get("health", "unknown")),
        "health_reasons": {s: reasons for s, reasons in zip(report["set_id"], report["health_reasons"], strict=True) if reasons},
        "health_by_set": dict(zip(report["set_id"], report["health"], strict=True)),
        "rps_A": optional_number(model.get("rps")),
        "rps_gap_A_vs_market_pre": optional_number(model.get("rps_diff_market_pre")),
        "metrics": Markdown(v.metrics_markdown(report)),
        "reliability_diagram": Markdown(v.png_markdown(png, f"reliability {league} {season}")),
        "model_versions": int(predictions["model_version"].nunique()),
    }})


def paired_rps_difference(scored: pd.DataFrame, first: str, second: str) -> tuple[float | None, float | None, int]:
    """Mean RPS of ``first`` minus ``second`` on the matches both scored, its paired standard error and n."""
    if scored.empty or not {first, second} <= set(scored["set_id"]):
        return None, None, 0
    wide = scored[scored["set_id"].isin([first, second])].pivot(index="match_id", columns="set_id", values="rps").dropna()
    if len(wide) < 2:
        return None, None, len(wide)
    diff = (wide[first] - wide[second]).to_numpy()
    return float(diff.mean()), float(diff.std(ddof=1) / len(diff) ** 0.5), len(diff)


def headline_evaluation(predictions: pd.DataFrame, settings: SummarySettings = SummarySettings()):
    """(per league-season metrics, pooled headline metrics, reliability PNG) of the headline sample: what an
    experiment run records."""
    min_index, bins = settings.min_season_match_index, settings.n_bins
    headline = v.headline_sample(predictions, leagues=list(settings.headline_leagues), seasons=list(settings.headline_seasons))
    pooled = v.evaluate_sets(headline, min_season_match_index=min_index, n_bins=bins)
    by_season = v.evaluate_by(headline, min_season_match_index=min_index, n_bins=bins)
    png = v.reliability_png(v.reliability_table(headline, n_bins=bins, min_season_match_index=min_index),
                            f"Headline sample, matches after the first {min_index}")
    return by_season, pooled, png


def summary_step(predictions: pd.DataFrame, settings: SummarySettings = SummarySettings()) -> StepOutput:
    """The headline comparison, per-league and per-league-season rows, drift and overall health."""
    health, min_index, bins = settings.health, settings.min_season_match_index, settings.n_bins
    headline = v.headline_sample(predictions, leagues=list(settings.headline_leagues), seasons=list(settings.headline_seasons))
    headline_metrics = v.assess_sets(v.evaluate_sets(headline, min_season_match_index=min_index, n_bins=bins), health)
    by_league = v.assess_sets(v.evaluate_by(predictions, ("league",), min_season_match_index=min_index, n_bins=bins), health)
    by_season = v.assess_sets(v.evaluate_by(predictions, min_season_match_index=min_index, n_bins=bins), health)
    scored = v.score_predictions(headline, min_season_match_index=min_index)
    dates = pd.to_datetime(scored["match_date"]) if len(scored) else pd.Series(dtype="datetime64[ns]")
    frames = [
        headline_metrics.assign(scope="headline", league=None, season=None, first_match_date=dates.min(),
                                last_match_date=dates.max(), n_scheduled=0),
        by_league.assign(scope="league", season=None),
        by_season.assign(scope="league_season"),
    ]
    present_frames = [f for f in frames if len(f)]
    summary = typed(pd.concat(present_frames, ignore_index=True).assign(min_season_match_index=min_index)
                    if present_frames else pd.DataFrame(columns=SUMMARY_COLUMNS), SUMMARY_COLUMNS)
    drift = v.detect_drift(by_season, dataclasses.replace(settings.drift, min_matches=health.min_matches))
    model = _set_row(headline_metrics, settings.drift.set_id)
    overall = v.worst_status([str(model.get("health", "healthy")), *map(v.drift_health, drift["status"])])
    present = {f"{lg}|{s}" for lg, s in headline[["league", "season"]].drop_duplicates().itertuples(index=False)}
    expected = {f"{lg}|{s}" for lg in settings.headline_leagues for s in settings.headline_seasons}
    table = v.reliability_table(headline, n_bins=bins, min_season_match_index=min_index)
    png = v.reliability_png(table, f"Headline sample: {len(present)} league-seasons, matches after the first {min_index} "
                                   f"(n = {model.get('n', 0)})")
    gain, gain_se, gain_n = paired_rps_difference(scored, "A", "A0")
    return StepOutput({"validation_summary": summary}, {"validation_summary": {
        "headline_matches": int(model.get("n", 0)),
        "headline_rps_A": optional_number(model.get("rps")),
        "headline_rps_A_minus_A0": gain,
        "headline_rps_A_minus_A0_se": gain_se,
        "headline_matches_A_and_A0": gain_n,
        "headline_rps_gap_A_vs_market_pre": optional_number(model.get("rps_diff_market_pre")),
        "headline_partitions_present": len(present),
        "headline_partitions_missing": sorted(expected - present),
        "health": str(model.get("health", "unknown")),
        "health_by_set": dict(zip(headline_metrics["set_id"], headline_metrics["health"], strict=True)),
        "health_reasons": {r["set_id"]: r["health_reasons"] for r in headline_metrics.to_dict("records") if r["health_reasons"]},
        "overall_status": overall,
        "headline": Markdown(v.metrics_markdown(headline_metrics)),
        "by_league": Markdown(v.metrics_markdown(by_league[by_league["set_id"].isin(["A", "B", "G"])], extra_columns=["league"])),
        "drift": drift_markdown(drift),
        "drift_flags": to_jsonable(drift[drift["status"] != "ok"].to_dict("records")),
        "reliability_diagram": Markdown(v.png_markdown(png, "reliability, headline sample")),
    }})


def drift_markdown(drift: pd.DataFrame) -> Markdown:
    if drift.empty:
        return Markdown("no league has an evaluated season")
    rows = []
    for row in drift.to_dict("records"):
        baseline = "–" if pd.isna(row["baseline_value"]) else (
            f"{row['baseline_value']:+.4f} ± {row['baseline_se']:.4f} ({row['baseline_seasons']})")
        rows.append([row["league"], row["latest_season"], f"{row['latest_value']:+.4f} ± {row['latest_se']:.4f}", baseline,
                     "–" if pd.isna(row["delta"]) else f"{row['delta']:+.4f}", "–" if pd.isna(row["z"]) else f"{row['z']:+.2f}",
                     f"{row['status']} {row['flags']}".strip()])
    return markdown_table(["league", "latest", "value ± SE", "baseline (seasons)", "Δ", "z", "status"], rows, "llrrrrl")


# --- model registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrySettings:
    set_id: str = "A"
    policy: v.PromotionPolicy = v.PromotionPolicy()
    health: v.HealthThresholds = v.HealthThresholds()


@dataclass(frozen=True)
class RegistryUpdate:
    registry_rows: pd.DataFrame  # new rows only (append-only table)
    training_rows: pd.DataFrame
    registry: pd.DataFrame  # every row after the update
    decisions: dict[str, object]
    metadata: dict[str, dict[str, object]]


def latest_partition(league: str, reports: pd.DataFrame) -> str | None:
    seasons = reports.loc[reports["league"] == league].sort_values("first_match_date")["season"]
    return f"{league}|{seasons.iloc[-1]}" if len(seasons) else None


def register_models(
    reports: pd.DataFrame,
    existing_registry: pd.DataFrame | None,
    *,
    canonical_versions: Mapping[str, str],
    training_windows: Mapping[str, tuple[dt.date | None, dt.date | None]],
    parameters: Mapping[str, object],
    code_version: str,
    as_of: dt.date,
    now: dt.datetime,
    run_id: str,
    settings: RegistrySettings = RegistrySettings(),
) -> RegistryUpdate:
    """Register one candidate version per league (a hash of code version, settings and the league's input
    data versions); the promotion gate decides which becomes active. Existing rows are never rewritten."""
    candidates, partitions_used = [], {}
    for league in sorted(reports["league"].dropna().unique()):
        mine = {key: version for key, version in canonical_versions.items() if key.split("|")[0] == league}
        start, end = training_windows.get(league, (None, None))
        candidates.append(v.build_candidate(
            league, reports, code_version=code_version, parameters=parameters,
            input_data_versions={"canonical_matches": mine}, as_of=as_of, created_at=now, set_id=settings.set_id,
            training_start=start, training_end=end, thresholds=settings.health,
        ))
        partitions_used[league] = len(mine)
    new_rows, decisions = v.register_candidates(existing_registry, candidates, recorded_at=now, run_id=run_id,
                                                policy=settings.policy)
    frames = [frame for frame in (existing_registry, new_rows) if frame is not None and len(frame)]
    registry = pd.concat(frames, ignore_index=True) if frames else new_rows
    v.assert_append_only(existing_registry, registry, key="event_id")
    training = v.training_run_rows(
        candidates, run_id=run_id, recorded_at=now, statuses=v.registry_statuses(candidates, decisions, registry),
        n_partitions=partitions_used, objective=v.objective_text(parameters),
    )
    state = v.registry_state(registry)
    active = state[state["status"] == "active"]
    return RegistryUpdate(new_rows, training, registry, decisions, {
        "model_registry": {
            "events": len(registry), "new_events": len(new_rows),
            "decisions": to_jsonable({lg: d if d is not None else "unchanged" for lg, d in decisions.items()}),
            "active_versions": dict(zip(active["league"], active["model_version"], strict=True)),
            "state": registry_markdown(state), "as_of": as_of.isoformat(),
        },
        "training_runs": {"new_rows": len(training), "run_id": run_id},
    })


def registry_markdown(state: pd.DataFrame) -> Markdown:
    if state.empty:
        return Markdown("no versions registered")
    rows = []
    for row in state.sort_values(["league", "event_id"]).to_dict("records"):
        metrics = json.loads(row["metrics"] or "{}")
        season = row["evaluation_season"]
        rps = ((metrics.get("seasons") or {}).get(season) or {}).get("rps") if isinstance(season, str) else None
        rows.append([row["league"], row["model_version"], row["status"], season, "–" if rps is None else f"{rps:.4f}", row["reason"]])
    return markdown_table(["league", "model_version", "status", "evaluation season", "RPS", "reason"], rows, "llllrl")


# --- freshness ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FreshnessSettings:
    stale_after_days: int = 21


def freshness_step(last_matches: pd.DataFrame, reference: dt.date | None, stale_after_days: int = 21) -> StepOutput:
    frame = v.data_freshness(last_matches, reference, stale_after_days=stale_after_days)[FRESHNESS_COLUMNS]
    rows = []
    for row in frame.to_dict("records"):
        rows.append([row["league"], "–" if pd.isna(row["last_match_date"]) else f"{row['last_match_date']:%Y-%m-%d}",
                     "–" if pd.isna(row["latest_snapshot_date"]) else f"{row['latest_snapshot_date']:%Y-%m-%d}",
                     "–" if pd.isna(row["days_behind"]) else str(int(row["days_behind"])), "yes" if row["stale"] else "no"])
    return StepOutput({"data_freshness": frame}, {"data_freshness": {
        "leagues": len(frame), "stale_leagues": frame.loc[frame["stale"], "league"].tolist(),
        "latest_snapshot_date": reference.isoformat() if reference else "unknown", "stale_after_days": stale_after_days,
        "table": markdown_table(["league", "last match", "snapshot", "days behind", "stale"], rows, "lllrl"),
    }})


def training_windows(frame: pd.DataFrame) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """{league: (first played match, last played match before the newest snapshot cut-off)} from the rows of
    ``training_window_sql``."""
    def day(value):
        return None if pd.isna(value) else pd.Timestamp(value).date()

    return {row.league: (day(row.start), day(row.finish)) for row in frame.itertuples(index=False)}


TRAINING_WINDOW_SQL = """
    WITH cutoff AS (SELECT league, max(snapshot_as_of) AS cutoff FROM match_predictions GROUP BY league)
    SELECT m.league, min(m.match_date) AS start, max(CASE WHEN m.match_date < c.cutoff THEN m.match_date END) AS finish
    FROM canonical_matches m JOIN cutoff c USING (league)
    WHERE m.status = 'played'
    GROUP BY m.league
"""


def validation_report_partition(root: str, partition: str, settings: ReportSettings = ReportSettings()):
    from jackpot_pipeline.steps.modeling import save
    from jackpot_pipeline.warehouse.store import Warehouse

    store = Warehouse(root)
    predictions = store.read("match_predictions", partition, PREDICTION_INPUT_COLUMNS)
    if predictions is None:
        predictions = pd.DataFrame(columns=PREDICTION_INPUT_COLUMNS)
    return save(store, partition, validation_report_step(predictions, *partition.split("|", 1), settings))
