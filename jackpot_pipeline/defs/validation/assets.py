"""Validation assets: per league-season reports, the headline summary with drift and health, the
append-only model registry with its training-run audit, and data freshness. The numbers come from
:mod:`jackpot_pipeline.steps.validation`."""

import dataclasses
import datetime as dt
from functools import partial

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    multi_asset,
)

from jackpot_pipeline.defs.batch import (Materialized, materializations, partition_keys, partitioned_multi_asset,
                                         refuse_chained_batches, report_partitions)
from jackpot_pipeline.defs.partitions import every_partition_of, league_season_partitions
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.defs.state import current_inputs
from jackpot_pipeline.json_values import to_jsonable
from jackpot_pipeline.model import validation as v
from jackpot_pipeline import tracking
from jackpot_pipeline.model.walk_forward import DEFAULT_WALK_FORWARD, WALK_FORWARD_CODE_VERSION
from jackpot_pipeline.planning.pipeline import MATCH_PREDICTIONS_CODE_VERSION, VALIDATION_CODE_VERSION, stage_named
from jackpot_pipeline.steps.modeling import frame_version, save
from jackpot_pipeline.steps.parallel import map_in_processes
from jackpot_pipeline.steps.validation import (
    PREDICTION_INPUT_COLUMNS,
    REPORT_INPUT_COLUMNS,
    TRAINING_WINDOW_SQL,
    FreshnessSettings,
    RegistrySettings,
    ReportSettings,
    SummarySettings,
    freshness_step,
    headline_evaluation,
    register_models as register,
    summary_step,
    training_windows,
    validation_report_partition,
)

GROUP = "validation"


class HealthSettings(Config):
    """Thresholds of :class:`jackpot_pipeline.model.validation.HealthThresholds` (defaults from there)."""

    reference_set: str = v.HealthThresholds.reference_set
    rps_gap_warning: float = v.HealthThresholds.rps_gap_warning
    rps_gap_critical: float = v.HealthThresholds.rps_gap_critical
    ece_excess_warning: float = v.HealthThresholds.ece_excess_warning
    ece_excess_critical: float = v.HealthThresholds.ece_excess_critical
    min_matches: int = v.HealthThresholds.min_matches

    def thresholds(self) -> v.HealthThresholds:
        return v.HealthThresholds(**self.model_dump())


class ReportConfig(Config):
    min_season_match_index: int = ReportSettings.min_season_match_index
    n_bins: int = ReportSettings.n_bins
    health: HealthSettings = HealthSettings()

    def settings(self) -> ReportSettings:
        return ReportSettings(self.min_season_match_index, self.n_bins, self.health.thresholds())


class SummaryConfig(Config):
    min_season_match_index: int = SummarySettings.min_season_match_index
    headline_leagues: list[str] = list(SummarySettings.headline_leagues)
    headline_seasons: list[str] = list(SummarySettings.headline_seasons)
    n_bins: int = SummarySettings.n_bins
    health: HealthSettings = HealthSettings()

    def settings(self) -> SummarySettings:
        return SummarySettings(self.min_season_match_index, tuple(self.headline_leagues), tuple(self.headline_seasons),
                               self.n_bins, self.health.thresholds())


class RegistryConfig(Config):
    set_id: str = RegistrySettings.set_id
    tolerance: float = v.PromotionPolicy.tolerance
    health: HealthSettings = HealthSettings()

    def settings(self) -> RegistrySettings:
        return RegistrySettings(self.set_id, dataclasses.replace(v.PromotionPolicy(), tolerance=self.tolerance),
                                self.health.thresholds())


class FreshnessConfig(Config):
    stale_after_days: int = FreshnessSettings.stale_after_days


def _with_settings(name: str, settings) -> object:
    return dataclasses.replace(stage_named(name), settings=dataclasses.asdict(settings))


@partitioned_multi_asset(
    name="validation_reports", partitions_def=league_season_partitions, stage_index=4,
    specs=[AssetSpec("validation_reports", deps=["match_predictions"], group_name=GROUP, skippable=True,
                     code_version=VALIDATION_CODE_VERSION,
                     description="Out-of-sample scores of every probability set of one league × season (RPS, Brier, "
                     "log loss, ECE, accuracy), paired differences to pre-closing and closing odds with standard "
                     "errors, model health and the reliability bins (JSON); the reliability diagram is in the "
                     "materialization metadata.")],
)
def validation_reports(context: AssetExecutionContext, config: ReportConfig, warehouse: WarehouseResource):
    refuse_chained_batches(context, "validation_reports")
    keys, settings = partition_keys(context), config.settings()
    inputs = current_inputs(context.instance, _with_settings("validation_reports", settings), keys)
    done = map_in_processes(partial(validation_report_partition, warehouse.root, settings=settings), keys,
                            stage="validation_reports", partitions=keys)
    yield from report_partitions(context, dict(zip(keys, done, strict=True)), inputs,
                                 {"validation_reports": VALIDATION_CODE_VERSION})


@multi_asset(
    name="validation_summary",
    specs=[AssetSpec("validation_summary", deps=[every_partition_of("match_predictions")],
                     group_name=GROUP, code_version=VALIDATION_CODE_VERSION,
                     description="The headline comparison (E0 E1 SP1 D1 I1 F1 × 2015/16-2023/24, matches after the "
                     "first 100 of each season) of every set against both market rows, plus per-league and "
                     "per-league-season rows on the same filter; drift of the latest season against the trailing "
                     "seasons and model health in metadata.")],
    check_specs=[AssetCheckSpec("model_health_not_critical", asset="validation_summary",
                                description="The headline health of set A is not critical and no league drifts critically.")],
)
def validation_summary(context: AssetExecutionContext, config: SummaryConfig, warehouse: WarehouseResource):
    inputs = current_inputs(context.instance, _with_settings("validation_summary", config.settings()), [None])
    predictions = warehouse.store.query(f"SELECT {', '.join(PREDICTION_INPUT_COLUMNS)} FROM match_predictions "
                                        "ORDER BY league, season, match_date, match_id, set_id")
    output = summary_step(predictions, config.settings())
    yield from report_partitions(context, {None: save(warehouse.store, None, output)}, inputs,
                                 {"validation_summary": VALIDATION_CODE_VERSION})
    if tracking.enabled() and len(predictions):
        by_season, pooled, png = headline_evaluation(predictions, config.settings())
        tracking.record_experiment("pipeline", stage_named("walk_forward").settings, by_season, pooled, png,
                                   dagster_run_id=context.run.run_id, model_version=DEFAULT_WALK_FORWARD.fingerprint())
    status = output.metadata["validation_summary"]["overall_status"]
    yield AssetCheckResult(check_name="model_health_not_critical", passed=status != "critical",
                           severity=AssetCheckSeverity.WARN, description=f"overall status: {status}",
                           metadata={"overall_status": str(status)})


@multi_asset(
    name="register_models",
    specs=[
        AssetSpec("model_registry", group_name=GROUP, code_version=VALIDATION_CODE_VERSION,
                  deps=[every_partition_of(name) for name in ("validation_reports", "canonical_matches",
                                                                            "match_predictions")],
                  description="Append-only registry of model versions per league: a version (hash of code version, "
                  "walk-forward settings and input data versions) is registered once with its parameters and metrics; "
                  "promotions and supersessions are later rows. Never updated in place."),
        AssetSpec("training_runs", group_name=GROUP, deps=["model_registry"], code_version=VALIDATION_CODE_VERSION,
                  description="Append-only audit: one row per league and registry run with the training window, "
                  "objective, settings, metrics and the registry's decision."),
    ],
    can_subset=False,
)
def register_models(context: AssetExecutionContext, config: RegistryConfig, warehouse: WarehouseResource):
    store, now = warehouse.store, dt.datetime.now(dt.UTC).replace(tzinfo=None)
    fingerprint, inputs = current_inputs(context.instance, _with_settings("model_registry", config.settings()), [None])[None]
    canonical = {key[len("canonical_matches["):-1]: version for key, version in inputs.items()
                 if key.startswith("canonical_matches[") and version}
    reference = store.query("SELECT max(snapshot_date) AS d FROM ingestion_log")["d"].iloc[0]
    update = register(
        store.query(f"SELECT {', '.join(REPORT_INPUT_COLUMNS)} FROM validation_reports ORDER BY league, season, set_id"),
        store.query("SELECT * FROM model_registry ORDER BY event_id") if store.exists("model_registry") else None,
        canonical_versions=canonical, training_windows=training_windows(store.query(TRAINING_WINDOW_SQL)),
        parameters=stage_named("walk_forward").settings,
        code_version=f"walk_forward={WALK_FORWARD_CODE_VERSION};match_predictions={MATCH_PREDICTIONS_CODE_VERSION}",
        as_of=now.date() if pd.isna(reference) else pd.Timestamp(reference).date(), now=now,
        run_id=context.run.run_id, settings=config.settings(),
    )
    store.append("model_registry", update.registry_rows)
    store.append("training_runs", update.training_rows)
    if tracking.enabled():
        tracking.mirror_promotions(update.registry_rows)
    events = int(update.registry["event_id"].max()) if len(update.registry) else 0
    results = {"model_registry": Materialized(f"events-{events}", update.metadata["model_registry"]),
               "training_runs": Materialized(frame_version(update.training_rows), update.metadata["training_runs"])}
    yield from materializations(context, {None: results}, {None: fingerprint},
                                dict.fromkeys(results, VALIDATION_CODE_VERSION))


@multi_asset(
    name="data_freshness",
    specs=[AssetSpec("data_freshness", deps=[every_partition_of("canonical_matches"), every_partition_of("ingestion_log")],
                     group_name=GROUP, code_version=VALIDATION_CODE_VERSION,
                     description="Per league: date of the last played match, the newest snapshot date of the ingested "
                     "files and the days between; stale when more than the configured number of days (off-season gaps "
                     "count too).")],
    check_specs=[AssetCheckSpec("data_is_fresh", asset="data_freshness",
                                description="No league's last played match is older than the stale threshold.")],
)
def data_freshness(context: AssetExecutionContext, config: FreshnessConfig, warehouse: WarehouseResource):
    store = warehouse.store
    settings = FreshnessSettings(config.stale_after_days)
    inputs = current_inputs(context.instance, _with_settings("data_freshness", settings), [None])
    last = store.query("SELECT league, max(match_date) AS last_match_date FROM canonical_matches "
                       "WHERE status = 'played' GROUP BY league ORDER BY league")
    reference = store.query("SELECT max(snapshot_date) AS d FROM ingestion_log")["d"].iloc[0]
    output = freshness_step(last, None if pd.isna(reference) else pd.Timestamp(reference).date(), settings.stale_after_days)
    yield from report_partitions(context, {None: save(store, None, output)}, inputs, {"data_freshness": VALIDATION_CODE_VERSION})
    frame = output.frames["data_freshness"]
    stale = frame[frame["stale"].astype(bool)]
    yield AssetCheckResult(check_name="data_is_fresh", passed=stale.empty, severity=AssetCheckSeverity.WARN,
                           description=None if stale.empty else f"stale: {', '.join(stale['league'])}",
                           metadata={"stale_leagues": to_jsonable(stale[["league", "days_behind"]].to_dict("records"))})


validation_assets = [validation_reports, validation_summary, register_models, data_freshness]
