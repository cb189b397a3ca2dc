"""Publishing assets: DuckDB tables copied into PostgreSQL schema ``jackpot``, one partition per transaction.

They read DuckDB through ``WarehouseResource`` (pool ``duckdb``: one DuckDB user at a time) and write
through ``PostgresResource``; each returns a ``MaterializeResult`` with the row counts.
"""

from dagster import AssetExecutionContext, AutomationCondition, Failure, MaterializeResult, asset, define_asset_job

from jackpot_pipeline.defs.ingestion.partitions import league_season_partitions
from jackpot_pipeline.defs.publish.resources import PostgresResource
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.publish.postgres import (
    ALIAS_COLUMNS,
    TEAM_COLUMNS,
    PublishResult,
    publish_ingestion_logs,
    publish_leagues,
    publish_matches,
    publish_teams,
)
from jackpot_pipeline.sources.warehouse_schema import INGESTION_LOG_COLUMNS

GROUP = "publish"
CODE_VERSION = "1"
# Like the modeling assets: follow every upstream materialisation (the daemon's automation sensor
# publishes what the sensor ingested); partitions without data must not hold the automation back.
FOLLOW_UPSTREAM = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())


def _metadata(result: PublishResult) -> dict[str, object]:
    return {"dagster/row_count": result.rows, **result.as_metadata()}


def _partition(context: AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[union-attr]
    return keys["league"], keys["season"]


def _read(warehouse: WarehouseResource, table: str, league: str, season: str, columns=("*",)):
    frame = warehouse.read_partition(table, {"league": league, "season": season}, columns)
    if frame is None:
        raise Failure(f"DuckDB table {table} does not exist in {warehouse.database}: ingest {league}|{season} first")
    return frame


@asset(
    deps=["canonical_matches"],
    partitions_def=league_season_partitions,
    pool="duckdb",
    group_name=GROUP,
    kinds={"postgres"},
    automation_condition=FOLLOW_UPSTREAM,
    code_version=CODE_VERSION,
    description="canonical_matches of the partition in jackpot.matches (upsert on match_id, one transaction).",
)
def published_matches(
    context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource
) -> MaterializeResult:
    league, season = _partition(context)
    frame = _read(warehouse, "canonical_matches", league, season)
    with postgres.connect() as connection:
        postgres.prepare(connection)
        result = publish_matches(connection, frame, league, season, role=postgres.writer_role)
    return MaterializeResult(metadata=_metadata(result))


@asset(
    # after the matches: a partition whose latest log is published is completely published
    deps=["ingestion_log", published_matches],
    partitions_def=league_season_partitions,
    pool="duckdb",
    group_name=GROUP,
    kinds={"postgres"},
    automation_condition=FOLLOW_UPSTREAM,
    code_version=CODE_VERSION,
    description="ingestion_log of the partition in jackpot.ingestion_logs (delete and insert, one transaction).",
)
def published_ingestion_logs(
    context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource
) -> MaterializeResult:
    league, season = _partition(context)
    frame = _read(warehouse, "ingestion_log", league, season, INGESTION_LOG_COLUMNS)
    with postgres.connect() as connection:
        postgres.prepare(connection)
        result = publish_ingestion_logs(connection, frame, league, season, role=postgres.writer_role)
    return MaterializeResult(metadata=_metadata(result))


@asset(
    group_name=GROUP,
    kinds={"postgres"},
    automation_condition=FOLLOW_UPSTREAM,
    code_version=CODE_VERSION,
    description="The league catalogue (codes and names of football-data.co.uk) in jackpot.leagues.",
)
def published_leagues(postgres: PostgresResource) -> MaterializeResult:
    with postgres.connect() as connection:
        postgres.prepare(connection)
        result = publish_leagues(connection, role=postgres.writer_role)
    return MaterializeResult(metadata=_metadata(result))


@asset(
    deps=["teams"],
    pool="duckdb",
    group_name=GROUP,
    kinds={"postgres"},
    automation_condition=FOLLOW_UPSTREAM,
    code_version=CODE_VERSION,
    description="The team registry in jackpot.teams and jackpot.team_aliases (one transaction).",
)
def published_teams(warehouse: WarehouseResource, postgres: PostgresResource) -> MaterializeResult:
    columns = list(dict.fromkeys([*TEAM_COLUMNS, *ALIAS_COLUMNS]))
    with warehouse.connect() as duck:
        if not warehouse.table_exists(duck, "teams"):
            raise Failure(f"DuckDB table teams does not exist in {warehouse.database}: materialise teams first")
    registry = warehouse.query(f"SELECT {', '.join(columns)} FROM {warehouse.schema_name}.teams ORDER BY league, team, alias")
    with postgres.connect() as connection:
        postgres.prepare(connection)
        result = publish_teams(connection, registry, role=postgres.writer_role)
    return MaterializeResult(metadata=_metadata(result))


publish_assets = [published_leagues, published_matches, published_ingestion_logs, published_teams]

publish_partition_job = define_asset_job(
    "publish_partition_job",
    selection=[published_matches, published_ingestion_logs],
    description="Publish one league × season partition (matches, ingestion logs) to PostgreSQL.",
)
publish_catalog_job = define_asset_job(
    "publish_catalog_job",
    selection=[published_leagues, published_teams],
    description="Publish the league catalogue and the team registry to PostgreSQL.",
)
publish_jobs = [publish_partition_job, publish_catalog_job]
