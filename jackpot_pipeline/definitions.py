"""The code location: every asset, check, sensor and resource of jackpot_pipeline."""

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    define_asset_job,
)

from jackpot_pipeline.defs.ingestion.assets import ingest_league_season, teams
from jackpot_pipeline.defs.ingestion.sensors import ingest_job, new_csv_sensor
from jackpot_pipeline.defs.jackpots import jackpot_assets, jackpot_jobs, jackpot_resources, jackpot_sensors
from jackpot_pipeline.defs.modeling.assets import modeling_assets
from jackpot_pipeline.defs.publish import postgres_enabled, publish_assets, publish_jobs, publish_resources
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseIOManager, WarehouseResource
from jackpot_pipeline.defs.validation import (
    validation_assets,
    validation_checks,
    validation_jobs,
    validation_schedules,
    validation_sensors,
)
from jackpot_pipeline.settings import Settings, load_settings

teams_job = define_asset_job("teams_job", selection=["teams"], description="Rebuild the team-name registry.")
walk_forward_job = define_asset_job(
    "walk_forward_job", selection=["team_strength_snapshots", "uncalibrated_predictions"],
    description="Walk-forward fits and out-of-sample predictions of one league × season.",
)
calibration_job = define_asset_job("calibration_job", selection=["calibration_curves"], description="Calibration maps of one season.")
match_predictions_job = define_asset_job(
    "match_predictions_job", selection=["match_predictions"], description="Sets A-G and market rows of one league × season."
)
validation_reports_job = define_asset_job(
    "validation_reports_job", selection=["validation_reports"], description="Validation report of one league × season."
)

# Runs of new_csv_sensor flow downstream through declarative automation (FOLLOW_UPSTREAM on the
# modeling assets): this sensor evaluates those conditions and is on by default.
downstream_automation = AutomationConditionSensorDefinition(
    "downstream_automation",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)


def build_resources(settings: Settings) -> dict[str, object]:
    """Local resources: the DuckDB warehouse and the raw files under the configured data dir."""
    database = str(settings.warehouse_path)
    return {
        "warehouse_io_manager": WarehouseIOManager(database=database, schema="main"),
        "warehouse": WarehouseResource(database=database),
        "raw_files": RawFilesResource(raw_dir=str(settings.raw_dir)),
    }


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Local (DuckDB) definitions; with JACKPOT_PG_DSN set, plus the assets publishing to PostgreSQL."""
    settings = settings or load_settings()
    publishing = postgres_enabled()
    return Definitions(
        assets=[
            ingest_league_season,
            # teams follows any ingested partition; combinations without a file never
            # materialise, so "missing upstream partitions" must not hold it back
            teams.with_attributes(
                automation_condition=AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
            ),
            *modeling_assets,
            *validation_assets,
            *jackpot_assets,
            *(publish_assets if publishing else []),
        ],
        asset_checks=[*validation_checks],
        jobs=[ingest_job, teams_job, walk_forward_job, calibration_job, match_predictions_job, validation_reports_job,
              *validation_jobs, *jackpot_jobs, *(publish_jobs if publishing else [])],
        schedules=[*validation_schedules],
        sensors=[new_csv_sensor, downstream_automation, *validation_sensors, *jackpot_sensors],
        resources={
            **build_resources(settings),
            **jackpot_resources(settings),
            **(publish_resources(settings) if publishing else {}),
        },
    )


defs = build_definitions()
