"""Validation assets: per league-season reports, the headline summary with drift and health, the
append-only model registry with its training-run audit, and data freshness.

The numbers come from :mod:`jackpot_pipeline.model.validation`; this module reads inputs, writes tables
and metadata. An asset fed by many partitions records only one upstream pointer in Dagster, so the
summary and the registry write the map of the partitions they read to those partitions' data versions
into their own metadata.
"""


import dataclasses
import datetime as dt
import json

import pandas as pd
from dagster import (
    AllPartitionMapping,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetRecordsFilter,
    AssetSpec,
    AutomationCondition,
    Config,
    DagsterEventType,
    DagsterInstance,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
    asset_check,
    multi_asset,
)

from jackpot_pipeline.defs.ingestion.partitions import league_season_partitions
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.model import validation as v
from jackpot_pipeline.model.walk_forward import WALK_FORWARD_CODE_VERSION, WalkForwardConfig

# Bump when the stored validation numbers would change for the same predictions.
VALIDATION_CODE_VERSION = "1"
GROUP = "validation"
PARTITION_EXPR = {"league": "league", "season": "season"}
DATA_VERSION_TAG = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"
PREDICTIONS = AssetKey("match_predictions")
CANONICAL = AssetKey("canonical_matches")
WALK_FORWARD_OUTPUT = AssetKey("uncalibrated_predictions")
# Same rule as the modeling assets: combinations without data (E0|2014) never materialise upstream.
FOLLOW_UPSTREAM = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())

PREDICTION_INPUT_COLUMNS = [
    "match_id", "league", "season", "match_date", "status", "result", "season_match_index", "set_id",
    "prob_home", "prob_draw", "prob_away", "model_version", "calibration_version",
]
_CONTEXT_COLUMNS = ["first_match_date", "last_match_date", "n_scheduled", "min_season_match_index"]
REPORT_COLUMNS = ["league", "season", *v.METRIC_COLUMNS, "health", "health_reasons", *_CONTEXT_COLUMNS, "reliability"]
SUMMARY_COLUMNS = ["scope", "league", "season", *v.METRIC_COLUMNS, "health", "health_reasons", *_CONTEXT_COLUMNS]
FRESHNESS_COLUMNS = ["league", "last_match_date", "latest_snapshot_date", "days_behind", "stale"]


class HealthSettings(Config):
    """Thresholds of :class:`jackpot_pipeline.model.validation.HealthThresholds`."""

    # defaults come from the core, so the two can never disagree
    reference_set: str = v.HealthThresholds.reference_set
    rps_gap_warning: float = v.HealthThresholds.rps_gap_warning
    rps_gap_critical: float = v.HealthThresholds.rps_gap_critical
    ece_excess_warning: float = v.HealthThresholds.ece_excess_warning
    ece_excess_critical: float = v.HealthThresholds.ece_excess_critical
    min_matches: int = v.HealthThresholds.min_matches

    def thresholds(self) -> v.HealthThresholds:
        return v.HealthThresholds(
            reference_set=self.reference_set, rps_gap_warning=self.rps_gap_warning,
            rps_gap_critical=self.rps_gap_critical, ece_excess_warning=self.ece_excess_warning,
            ece_excess_critical=self.ece_excess_critical, min_matches=self.min_matches,
        )


class ReportConfig(Config):
    min_season_match_index: int = 0
    n_bins: int = 10
    health: HealthSettings = HealthSettings()


class SummaryConfig(Config):
    min_season_match_index: int = v.HEADLINE_MIN_SEASON_MATCH_INDEX
    headline_leagues: list[str] = list(v.HEADLINE_LEAGUES)
    headline_seasons: list[str] = list(v.HEADLINE_SEASONS)
    n_bins: int = 10
    health: HealthSettings = HealthSettings()
    drift_set: str = "A"
    drift_metric: str = "rps_diff_market_pre"
    drift_baseline_seasons: int = 3
    drift_z_warning: float = 2.0
    drift_z_critical: float = 3.0


class RegistryConfig(Config):
    set_id: str = "A"
    metric: str = "rps"
    tolerance: float = 0.0005
    health: HealthSettings = HealthSettings()


class FreshnessConfig(Config):
    stale_after_days: int = 21


# --- helpers ---------------------------------------------------------------------------------------


def latest_partition_tags(instance: DagsterInstance, asset_key: AssetKey, tag: str = DATA_VERSION_TAG) -> dict[str, str]:
    """{partition key: value of ``tag`` on its latest materialization} in one event-log query."""
    tags = instance.event_log_storage.get_latest_tags_by_partition(
        asset_key, DagsterEventType.ASSET_MATERIALIZATION, [tag]
    )
    return {partition: values[tag] for partition, values in sorted(tags.items()) if tag in values}


def _table_exists(warehouse: WarehouseResource, table: str) -> bool:
    with warehouse.connect() as connection:
        return warehouse.table_exists(connection, table)


def _typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns in order with stable dtypes, so an empty first partition creates the right table."""
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


def _headline_row(metrics: pd.DataFrame, set_id: str = "A") -> dict:
    rows = metrics[metrics["set_id"] == set_id]
    return rows.iloc[0].to_dict() if len(rows) else {}


def _float_or_none(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


# --- validation_reports ----------------------------------------------------------------------------


@asset(
    partitions_def=league_season_partitions,
    ins={"match_predictions": AssetIn(metadata={"columns": PREDICTION_INPUT_COLUMNS})},
    io_manager_key="warehouse_io_manager",
    metadata={"partition_expr": PARTITION_EXPR},
    group_name=GROUP,
    pool="duckdb",
    code_version=VALIDATION_CODE_VERSION,
    automation_condition=FOLLOW_UPSTREAM,
    description="Out-of-sample scores of every probability set of one league × season (RPS, Brier, log loss, "
    "ECE, accuracy), paired differences to pre-closing and closing odds with standard errors, model health "
    "and the reliability bins (JSON); the reliability diagram is in the materialization metadata.",
)
def validation_reports(context: AssetExecutionContext, config: ReportConfig, match_predictions: pd.DataFrame) -> Output[pd.DataFrame]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[union-attr]
    league, season = keys["league"], keys["season"]
    thresholds = config.health.thresholds()
    report = v.assess_sets(
        v.evaluate_by(match_predictions, min_season_match_index=config.min_season_match_index, n_bins=config.n_bins),
        thresholds,
    ) if len(match_predictions) else pd.DataFrame(columns=REPORT_COLUMNS)
    if report.empty:
        note = "no predictions" if match_predictions.empty else "no played match with a result yet"
        return Output(_typed(pd.DataFrame(columns=REPORT_COLUMNS), REPORT_COLUMNS), metadata={"note": f"{league}|{season}: {note}", "rows": 0})
    table = v.reliability_table(match_predictions, n_bins=config.n_bins, min_season_match_index=config.min_season_match_index)
    report = report.assign(
        league=league,
        season=season,
        min_season_match_index=config.min_season_match_index,
        reliability=[v.reliability_json(table, set_id) for set_id in report["set_id"]],
    )
    report = _typed(report, REPORT_COLUMNS)
    model = _headline_row(report)
    png = v.reliability_png(table, f"{league} {season}: reliability of out-of-sample probabilities (n = {model.get('n', 0)})")
    return Output(
        report,
        metadata={
            "rows": len(report),
            "matches_scored": int(model.get("n", 0)),
            "health": str(model.get("health", "unknown")),
            "health_reasons": MetadataValue.json({row["set_id"]: row["health_reasons"] for row in report.to_dict("records") if row["health_reasons"]}),
            "health_by_set": MetadataValue.json(dict(zip(report["set_id"], report["health"], strict=True))),
            "rps_A": _float_or_none(model.get("rps")),
            "rps_gap_A_vs_market_pre": _float_or_none(model.get("rps_diff_market_pre")),
            "metrics": MetadataValue.md(v.metrics_markdown(report)),
            "reliability_diagram": MetadataValue.md(v.png_markdown(png, f"reliability {league} {season}")),
            "model_versions": int(match_predictions["model_version"].nunique()),
        },
    )


# --- validation_summary ----------------------------------------------------------------------------


@asset(
    ins={"match_predictions": AssetIn(partition_mapping=AllPartitionMapping(), metadata={"columns": PREDICTION_INPUT_COLUMNS})},
    io_manager_key="warehouse_io_manager",
    group_name=GROUP,
    pool="duckdb",
    code_version=VALIDATION_CODE_VERSION,
    description="The headline comparison (E0 E1 SP1 D1 I1 F1 × 2015/16-2023/24, matches after the first 100 of "
    "each season) of every set against both market rows, plus per-league and per-league-season rows on the "
    "same filter; drift of the latest season against the trailing seasons and model health in metadata.",
)
def validation_summary(context: AssetExecutionContext, config: SummaryConfig, match_predictions: pd.DataFrame) -> Output[pd.DataFrame]:
    thresholds = config.health.thresholds()
    min_index = config.min_season_match_index
    predictions = match_predictions
    headline = v.headline_sample(predictions, leagues=config.headline_leagues, seasons=config.headline_seasons)
    headline_metrics = v.assess_sets(v.evaluate_sets(headline, min_season_match_index=min_index, n_bins=config.n_bins), thresholds)
    by_league = v.assess_sets(v.evaluate_by(predictions, ("league",), min_season_match_index=min_index, n_bins=config.n_bins), thresholds)
    by_season = v.assess_sets(v.evaluate_by(predictions, min_season_match_index=min_index, n_bins=config.n_bins), thresholds)
    scored = v.score_predictions(headline, min_season_match_index=min_index)
    frames = [
        headline_metrics.assign(scope="headline", league=None, season=None,
                                first_match_date=pd.to_datetime(scored["match_date"]).min() if len(scored) else pd.NaT,
                                last_match_date=pd.to_datetime(scored["match_date"]).max() if len(scored) else pd.NaT,
                                n_scheduled=0),
        by_league.assign(scope="league", season=None),
        by_season.assign(scope="league_season"),
    ]
    summary = _typed(pd.concat([f for f in frames if len(f)], ignore_index=True).assign(min_season_match_index=min_index), SUMMARY_COLUMNS) \
        if any(len(f) for f in frames) else _typed(pd.DataFrame(columns=SUMMARY_COLUMNS), SUMMARY_COLUMNS)

    drift = v.detect_drift(by_season, v.DriftThresholds(
        set_id=config.drift_set, metric=config.drift_metric, baseline_seasons=config.drift_baseline_seasons,
        min_matches=thresholds.min_matches, z_warning=config.drift_z_warning, z_critical=config.drift_z_critical,
    ))
    model = _headline_row(headline_metrics, config.drift_set)
    overall = v.worst_status([str(model.get("health", "healthy")), *map(v.drift_health, drift["status"])])
    present = {f"{lg}|{s}" for lg, s in headline[["league", "season"]].drop_duplicates().itertuples(index=False)}
    expected = {f"{lg}|{s}" for lg in config.headline_leagues for s in config.headline_seasons}
    table = v.reliability_table(headline, n_bins=config.n_bins, min_season_match_index=min_index)
    png = v.reliability_png(table, f"Headline sample: {len(present)} league-seasons, matches after the first {min_index} (n = {model.get('n', 0)})")
    input_versions = latest_partition_tags(context.instance, PREDICTIONS)
    return Output(
        summary,
        metadata={
            "rows": len(summary),
            "headline_matches": int(model.get("n", 0)),
            "headline_rps_A": _float_or_none(model.get("rps")),
            "headline_rps_gap_A_vs_market_pre": _float_or_none(model.get("rps_diff_market_pre")),
            "headline_partitions_present": len(present),
            "headline_partitions_missing": MetadataValue.json(sorted(expected - present)),
            "health": str(model.get("health", "unknown")),
            "health_by_set": MetadataValue.json(dict(zip(headline_metrics["set_id"], headline_metrics["health"], strict=True))),
            "health_reasons": MetadataValue.json({r["set_id"]: r["health_reasons"] for r in headline_metrics.to_dict("records") if r["health_reasons"]}),
            "overall_status": overall,
            "headline": MetadataValue.md(v.metrics_markdown(headline_metrics)),
            "by_league": MetadataValue.md(v.metrics_markdown(by_league[by_league["set_id"].isin(["A", "B", "G"])], extra_columns=["league"])),
            "drift": MetadataValue.md(_drift_markdown(drift)),
            "drift_flags": MetadataValue.json(v.json_safe(drift[drift["status"] != "ok"].to_dict("records"))),
            "reliability_diagram": MetadataValue.md(v.png_markdown(png, "reliability, headline sample")),
            "input_data_versions": MetadataValue.json({"match_predictions": input_versions}),
            "input_partitions": len(input_versions),
        },
    )


def _drift_markdown(drift: pd.DataFrame) -> str:
    if drift.empty:
        return "no league has an evaluated season"
    lines = ["| league | latest | value ± SE | baseline (seasons) | Δ | z | status |", "|---|---|---:|---:|---:|---:|---|"]
    for row in drift.to_dict("records"):
        baseline = "–" if pd.isna(row["baseline_value"]) else f"{row['baseline_value']:+.4f} ± {row['baseline_se']:.4f} ({row['baseline_seasons']})"
        delta = "–" if pd.isna(row["delta"]) else f"{row['delta']:+.4f}"
        z = "–" if pd.isna(row["z"]) else f"{row['z']:+.2f}"
        lines.append(f"| {row['league']} | {row['latest_season']} | {row['latest_value']:+.4f} ± {row['latest_se']:.4f} | "
                     f"{baseline} | {delta} | {z} | {row['status']} {row['flags']} |")
    return "\n".join(lines)


# --- model registry and training runs --------------------------------------------------------------

_REPORT_INPUT_COLUMNS = ["league", "season", "set_id", "first_match_date", "last_match_date", "n_scheduled",
                         *[c for c in v.METRIC_COLUMNS if c != "set_id"]]


@multi_asset(
    specs=[
        AssetSpec(
            "model_registry",
            group_name=GROUP,
            description="Append-only registry of model versions per league: a version (hash of code version, "
            "walk-forward settings and input data versions) is registered once with its parameters and "
            "metrics; promotions and supersessions are later rows. Never updated in place.",
            deps=[AssetDep("validation_reports", partition_mapping=AllPartitionMapping())],
            code_version=VALIDATION_CODE_VERSION,
        ),
        AssetSpec(
            "training_runs",
            group_name=GROUP,
            description="Append-only audit: one row per league and registry run with the training window, "
            "objective, settings, metrics and the registry's decision.",
            deps=["model_registry"],
            code_version=VALIDATION_CODE_VERSION,
        ),
    ],
    pool="duckdb",
    can_subset=False,
)
def register_models(context: AssetExecutionContext, config: RegistryConfig, warehouse: WarehouseResource):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    validation_reports = _read_table(warehouse, "validation_reports", _REPORT_INPUT_COLUMNS)
    if validation_reports is None:
        validation_reports = _typed(pd.DataFrame(columns=_REPORT_INPUT_COLUMNS), _REPORT_INPUT_COLUMNS)
    as_of = _reference_date(warehouse) or now.date()
    windows = _training_windows(warehouse)
    canonical_versions = latest_partition_tags(context.instance, CANONICAL)
    prediction_versions = latest_partition_tags(context.instance, PREDICTIONS)
    thresholds = config.health.thresholds()
    candidates, partitions_used = [], {}
    for league in sorted(validation_reports["league"].dropna().unique()):
        mine = {k: val for k, val in canonical_versions.items() if k.split("|")[0] == league}
        source = "canonical_matches"
        if not mine:  # no ingestion history in this instance: the predictions stand for the data
            mine = {k: val for k, val in prediction_versions.items() if k.split("|")[0] == league}
            source = "match_predictions"
        latest = _latest_partition(league, validation_reports)
        code_version = (
            f"walk_forward={WALK_FORWARD_CODE_VERSION};"
            f"match_predictions={_code_version(context.instance, PREDICTIONS, latest) or '?'}"
        )
        parameters = _walk_forward_settings(context.instance, latest)
        start, end = windows.get(league, (None, None))
        candidate = v.build_candidate(
            league, validation_reports, code_version=code_version, parameters=parameters,
            input_data_versions={source: mine}, as_of=as_of, created_at=now, set_id=config.set_id,
            training_start=start, training_end=end, thresholds=thresholds,
        )
        candidates.append(candidate)
        partitions_used[league] = len(mine)

    existing = _read_table(warehouse, "model_registry", v.REGISTRY_COLUMNS)
    new_rows, decisions = v.register_candidates(
        existing, candidates, recorded_at=now, run_id=context.run.run_id,
        policy=v.PromotionPolicy(metric=config.metric, tolerance=config.tolerance),
    )
    registry = _append(warehouse, "model_registry", v.REGISTRY_DDL, v.REGISTRY_COLUMNS, new_rows, key="event_id", before=existing)
    state = v.registry_state(registry)
    runs = v.training_run_rows(
        candidates, run_id=context.run.run_id, recorded_at=now, statuses=v.registry_statuses(candidates, decisions, registry),
        n_partitions=partitions_used,
        objective=v.objective_text(candidates[0].parameters if candidates else WalkForwardConfig().as_dict()),
    )
    runs_before = _read_table(warehouse, "training_runs", v.TRAINING_RUN_COLUMNS)
    audit = _append(warehouse, "training_runs", v.TRAINING_RUN_DDL, v.TRAINING_RUN_COLUMNS, runs, key=["run_id", "league"], before=runs_before)

    active = state[state["status"] == "active"]
    yield MaterializeResult(
        asset_key="model_registry",
        data_version=DataVersion(f"events-{int(registry['event_id'].max()) if len(registry) else 0}"),
        metadata={
            "events": len(registry),
            "new_events": len(new_rows),
            "decisions": MetadataValue.json(v.json_safe({lg: (dataclasses.asdict(d) if d is not None else "unchanged") for lg, d in decisions.items()})),
            "active_versions": MetadataValue.json(dict(zip(active["league"], active["model_version"], strict=True))),
            "state": MetadataValue.md(_registry_markdown(state)),
            "as_of": as_of.isoformat(),
            "input_data_versions": MetadataValue.json({"validation_reports": latest_partition_tags(context.instance, AssetKey("validation_reports"))}),
        },
    )
    yield MaterializeResult(
        asset_key="training_runs",
        data_version=DataVersion(f"rows-{len(audit)}-{context.run.run_id}"),
        metadata={"rows": len(audit), "new_rows": len(runs), "run_id": context.run.run_id},
    )


def _registry_markdown(state: pd.DataFrame) -> str:
    if state.empty:
        return "no versions registered"
    lines = ["| league | model_version | status | evaluation season | RPS | reason |", "|---|---|---|---|---:|---|"]
    for row in state.sort_values(["league", "event_id"]).to_dict("records"):
        metrics = json.loads(row["metrics"] or "{}")
        season = row["evaluation_season"]
        rps = ((metrics.get("seasons") or {}).get(season) or {}).get("rps") if isinstance(season, str) else None
        lines.append(f"| {row['league']} | {row['model_version']} | {row['status']} | {season} | "
                     f"{'–' if rps is None else f'{rps:.4f}'} | {row['reason']} |")
    return "\n".join(lines)


def _latest_partition(league: str, reports: pd.DataFrame) -> str | None:
    seasons = reports.loc[reports["league"] == league].sort_values("first_match_date")["season"]
    return f"{league}|{seasons.iloc[-1]}" if len(seasons) else None


def _latest_materialization(instance: DagsterInstance, asset_key: AssetKey, partition: str | None):
    if partition is None:
        return None
    record = instance.get_latest_data_version_record(asset_key, is_source=False, partition_key=partition)
    return record.asset_materialization if record is not None else None


def _code_version(instance: DagsterInstance, asset_key: AssetKey, partition: str | None) -> str | None:
    """Code version of the asset that produced the partition (per asset, so one lookup suffices)."""
    materialization = _latest_materialization(instance, asset_key, partition)
    return (materialization.tags or {}).get(CODE_VERSION_TAG) if materialization is not None else None


def _walk_forward_settings(instance: DagsterInstance, partition: str | None) -> dict:
    """The settings the modeling step recorded for the league's latest season, else the defaults."""
    materialization = _latest_materialization(instance, WALK_FORWARD_OUTPUT, partition)
    settings = materialization.metadata.get("settings") if materialization is not None else None
    if settings is not None and isinstance(settings.value, dict):
        return dict(settings.value)
    return WalkForwardConfig().as_dict()


def _reference_date(warehouse: WarehouseResource) -> dt.date | None:
    """The newest snapshot date of the ingested files: 'now' as far as the data knows."""
    if not _table_exists(warehouse, "ingestion_log"):
        return None
    value = warehouse.query(f"SELECT max(snapshot_date) AS d FROM {warehouse.schema_name}.ingestion_log")["d"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def _training_windows(warehouse: WarehouseResource) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """Per league: first played match of the data, last played match before the latest snapshot cut-off
    of the predictions (the newest fit used matches strictly before it)."""
    if not (_table_exists(warehouse, "canonical_matches") and _table_exists(warehouse, "match_predictions")):
        return {}
    schema = warehouse.schema_name
    frame = warehouse.query(
        f"""
        WITH cutoff AS (SELECT league, max(snapshot_as_of) AS cutoff FROM {schema}.match_predictions GROUP BY league)
        SELECT m.league, min(m.match_date) AS start, max(CASE WHEN m.match_date < c.cutoff THEN m.match_date END) AS finish
        FROM {schema}.canonical_matches m JOIN cutoff c USING (league)
        WHERE m.status = 'played'
        GROUP BY m.league
        """
    )

    def day(value):
        return None if pd.isna(value) else pd.Timestamp(value).date()

    return {row.league: (day(row.start), day(row.finish)) for row in frame.itertuples(index=False)}


def _read_table(warehouse: WarehouseResource, table: str, columns: list[str]) -> pd.DataFrame | None:
    if not _table_exists(warehouse, table):
        return None
    return warehouse.query(f"SELECT {', '.join(columns)} FROM {warehouse.schema_name}.{table}")


def _append(
    warehouse: WarehouseResource, table: str, ddl: dict[str, str], columns: list[str], rows: pd.DataFrame,
    *, key: str | list[str], before: pd.DataFrame | None,
) -> pd.DataFrame:
    """INSERT ``rows`` (never UPDATE or DELETE) in one transaction, then check the old rows are intact."""
    schema = warehouse.schema_name
    with warehouse.connect() as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        body = ", ".join(f"{name} {ddl[name]}" for name in columns)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{table} ({body})")
        if len(rows):
            connection.execute("BEGIN TRANSACTION")
            try:
                connection.register("_new_rows", rows[columns])
                connection.execute(f"INSERT INTO {schema}.{table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM _new_rows")
                connection.unregister("_new_rows")
                connection.execute("COMMIT")
            except Exception:
                connection.execute("ROLLBACK")
                raise
        after = connection.execute(f"SELECT {', '.join(columns)} FROM {schema}.{table}").df()
    v.assert_append_only(before, after, key=key)
    if len(after) != (0 if before is None else len(before)) + len(rows):
        raise AssertionError(f"{table}: {len(rows)} rows appended to {0 if before is None else len(before)}, {len(after)} stored")
    return after


# --- data freshness --------------------------------------------------------------------------------


@asset(
    deps=["canonical_matches", "ingestion_log"],
    io_manager_key="warehouse_io_manager",
    group_name=GROUP,
    pool="duckdb",
    code_version=VALIDATION_CODE_VERSION,
    description="Per league: date of the last played match, the newest snapshot date of the ingested files and "
    "the days between; stale when more than the configured number of days (off-season gaps count too).",
)
def data_freshness(context: AssetExecutionContext, config: FreshnessConfig, warehouse: WarehouseResource) -> Output[pd.DataFrame]:
    if not _table_exists(warehouse, "canonical_matches"):
        frame = v.data_freshness(pd.DataFrame(columns=["league", "last_match_date"]), None, stale_after_days=config.stale_after_days)
        return Output(frame, metadata={"note": "no canonical matches yet", "leagues": 0})
    last = warehouse.query(
        f"SELECT league, max(match_date) AS last_match_date FROM {warehouse.schema_name}.canonical_matches "
        "WHERE status = 'played' GROUP BY league ORDER BY league"
    )
    reference = _reference_date(warehouse)
    frame = v.data_freshness(last, reference, stale_after_days=config.stale_after_days)
    stale = frame.loc[frame["stale"], "league"].tolist()
    return Output(
        frame[FRESHNESS_COLUMNS],
        metadata={
            "leagues": len(frame),
            "stale_leagues": MetadataValue.json(stale),
            "latest_snapshot_date": reference.isoformat() if reference else "unknown",
            "stale_after_days": config.stale_after_days,
            "table": MetadataValue.md(_freshness_markdown(frame)),
        },
    )


def _freshness_markdown(frame: pd.DataFrame) -> str:
    lines = ["| league | last match | snapshot | days behind | stale |", "|---|---|---|---:|---|"]
    for row in frame.to_dict("records"):
        last = "–" if pd.isna(row["last_match_date"]) else f"{row['last_match_date']:%Y-%m-%d}"
        snap = "–" if pd.isna(row["latest_snapshot_date"]) else f"{row['latest_snapshot_date']:%Y-%m-%d}"
        behind = "–" if pd.isna(row["days_behind"]) else str(int(row["days_behind"]))
        lines.append(f"| {row['league']} | {last} | {snap} | {behind} | {'yes' if row['stale'] else 'no'} |")
    return "\n".join(lines)


# --- checks ----------------------------------------------------------------------------------------


@asset_check(asset=data_freshness, description="No league's last played match is older than the stale threshold.")
def data_is_fresh(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    frame = _read_table(warehouse, "data_freshness", FRESHNESS_COLUMNS)
    if frame is None or frame.empty:
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata={"note": "no leagues yet"})
    stale = frame[frame["stale"].astype(bool)]
    return AssetCheckResult(
        passed=stale.empty,
        severity=AssetCheckSeverity.WARN,
        description=None if stale.empty else f"stale: {', '.join(stale['league'])}",
        metadata={"stale_leagues": MetadataValue.json(v.json_safe(stale[["league", "days_behind"]].to_dict("records")))},
    )


@asset_check(asset=validation_summary, description="The headline health of set A is not critical and no league drifts critically.")
def model_health_not_critical(context: AssetCheckExecutionContext) -> AssetCheckResult:
    record = context.instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey("validation_summary")), limit=1).records
    metadata = record[0].asset_materialization.metadata if record and record[0].asset_materialization else {}
    status = metadata["overall_status"].value if "overall_status" in metadata else "unknown"
    return AssetCheckResult(
        passed=status != "critical",
        severity=AssetCheckSeverity.WARN,
        description=f"overall status: {status}",
        metadata={"overall_status": str(status)},
    )


validation_assets = [validation_reports, validation_summary, register_models, data_freshness]
validation_checks = [data_is_fresh, model_health_not_critical]
