"""The code location: every asset, check, sensor and resource of jackpot_pipeline."""

from __future__ import annotations

import warnings

from dagster import AutomationCondition, BetaWarning, Definitions, define_asset_job

from jackpot_pipeline.defs.ingestion.assets import ingest_league_season, teams
from jackpot_pipeline.defs.ingestion.sensors import ingest_job, new_csv_sensor
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseIOManager, WarehouseResource
from jackpot_pipeline.settings import Settings, load_settings


# Output(data_version=...) is how ingestion pins data versions to the source bytes; it is marked beta.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*data_version.*")

teams_job = define_asset_job("teams_job", selection=["teams"], description="Rebuild the team-name registry.")


def build_resources(settings: Settings) -> dict[str, object]:
    """Local resources: the DuckDB warehouse and the raw files under the configured data dir."""
    database = str(settings.warehouse_path)
    return {
        "warehouse_io_manager": WarehouseIOManager(database=database, schema="main"),
        "warehouse": WarehouseResource(database=database),
        "raw_files": RawFilesResource(raw_dir=str(settings.raw_dir)),
    }


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or load_settings()
    return Definitions(
        assets=[
            ingest_league_season,
            # teams follows any ingested partition; combinations without a file never
            # materialise, so "missing upstream partitions" must not hold it back
            teams.with_attributes(
                automation_condition=AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
            ),
        ],
        jobs=[ingest_job, teams_job],
        sensors=[new_csv_sensor],
        resources=build_resources(settings),
    )


defs = build_definitions()
