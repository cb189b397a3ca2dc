"""The code location: every asset, check, job, sensor and resource of jackpot_pipeline."""

import warnings

from dagster import Definitions, in_process_executor

from jackpot_pipeline.defs.ingestion.assets import ingest_league_season, teams
from jackpot_pipeline.defs.jackpots import jackpot_assets, jackpot_resources
from jackpot_pipeline.defs.modeling.assets import modeling_assets
from jackpot_pipeline.defs.orchestration import PIPELINE_JOBS, PUBLISH_JOBS
from jackpot_pipeline.defs.publish import postgres_enabled, publish_assets, publish_resources
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseResource
from jackpot_pipeline.defs.schedules import fetch_job, weekly_fetch_schedule
from jackpot_pipeline.defs.sensors import build_pipeline_sensor
from jackpot_pipeline.defs.sqlite_storage import speed_up_local_instance
from jackpot_pipeline.defs.validation import validation_assets
from jackpot_pipeline.settings import Settings, load_settings
from jackpot_pipeline.sources.leagues import expand_seasons

# The stages' backfill policies differ on purpose (see defs/batch.py); league_season_job, which runs one
# partition through several stages, only ever gets single partitions or one stage, so whichever policy
# Dagster picks for it never applies.
warnings.filterwarnings("ignore", message="Asset job (league_season_job|jackpot_job) materializes assets with varying")
speed_up_local_instance()


def build_resources(settings: Settings) -> dict[str, object]:
    """Local resources: the Parquet warehouse and the raw files under the configured data dir."""
    return {
        "warehouse": WarehouseResource(root=str(settings.warehouse_root), catalog=str(settings.warehouse_path)),
        "raw_files": RawFilesResource(
            raw_dir=str(settings.raw_dir), leagues=list(settings.leagues),
            seasons=expand_seasons(settings.seasons_spec) if settings.seasons_spec else [],
        ),
    }


def build_definitions(settings: Settings | None = None) -> Definitions:
    """The local pipeline; with JACKPOT_PG_DSN set, plus the assets publishing to PostgreSQL."""
    settings = settings or load_settings()
    publishing = postgres_enabled()
    return Definitions(
        assets=[ingest_league_season, teams, *modeling_assets, *validation_assets, *jackpot_assets,
                *(publish_assets if publishing else [])],
        jobs=[*PIPELINE_JOBS, *(PUBLISH_JOBS if publishing else []), fetch_job],
        schedules=[weekly_fetch_schedule],
        sensors=[build_pipeline_sensor(publishing)],
        resources={**build_resources(settings), **jackpot_resources(settings), **publish_resources(settings)},
        # steps spread their partitions over the cores themselves; a process per step would only add start-up
        # time (a chain run of one partition has four steps)
        executor=in_process_executor,
    )


defs = build_definitions()
