"""Publishing assets: DuckDB tables copied into PostgreSQL schema ``jackpot``, one partition per transaction.

They read DuckDB through ``WarehouseResource`` (pool ``duckdb``: one DuckDB user at a time) and write
through ``PostgresResource``; each returns a ``MaterializeResult`` with the row counts.
"""

from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    Failure,
    MaterializeResult,
    asset,
    define_asset_job,
)

from jackpot_pipeline.defs.ingestion.partitions import league_season_partitions, season_partitions
from jackpot_pipeline.defs.jackpots.partitions import jackpot_partitions
from jackpot_pipeline.defs.publish.resources import PostgresResource
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.publish.postgres import (
    ALIAS_COLUMNS,
    TEAM_COLUMNS,
    PublishResult,
    publish_calibration_data,
    publish_ingestion_logs,
    publish_jackpot,
    publish_leagues,
    publish_match_predictions,
    publish_matches,
    publish_models,
    publish_team_strength_snapshots,
    publish_teams,
    publish_validation_results,
)
from jackpot_pipeline.model import validation as v
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


def _league_season_publisher(name: str, table: str, publish, *, deps, description: str, columns=("*",)):
    """A publishing asset for one league × season partition: read the DuckDB partition of ``table``, hand
    it to ``publish(connection, frame, league, season, role=...)`` (one transaction), report the counts."""

    @asset(
        name=name,
        deps=deps,
        partitions_def=league_season_partitions,
        pool="duckdb",
        group_name=GROUP,
        kinds={"postgres"},
        automation_condition=FOLLOW_UPSTREAM,
        code_version=CODE_VERSION,
        description=description,
    )
    def publisher(context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource) -> MaterializeResult:
        league, season = _partition(context)
        frame = _read(warehouse, table, league, season, columns)
        with postgres.connect() as connection:
            postgres.prepare(connection)
            result = publish(connection, frame, league, season, role=postgres.writer_role)
        return MaterializeResult(metadata=_metadata(result))

    return publisher


published_matches = _league_season_publisher(
    "published_matches", "canonical_matches", publish_matches, deps=["canonical_matches"],
    description="canonical_matches of the partition in jackpot.matches (upsert on match_id, one transaction).",
)

# after the matches: a partition whose latest log is published is completely published
published_ingestion_logs = _league_season_publisher(
    "published_ingestion_logs", "ingestion_log", publish_ingestion_logs,
    deps=["ingestion_log", published_matches], columns=INGESTION_LOG_COLUMNS,
    description="ingestion_log of the partition in jackpot.ingestion_logs (delete and insert, one transaction).",
)


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


# --- the modelled tables ------------------------------------------------------------------------


published_team_strength_snapshots = _league_season_publisher(
    "published_team_strength_snapshots", "team_strength_snapshots", publish_team_strength_snapshots, deps=["team_strength_snapshots"],
    description="team_strength_snapshots of the partition in jackpot.team_strength_snapshots (upsert on the primary "
    "key, one transaction; missing teams are added first). Row count equals DuckDB's.",
)

published_match_predictions = _league_season_publisher(
    "published_match_predictions", "match_predictions", publish_match_predictions, deps=["match_predictions", published_matches],
    description="match_predictions of the partition (sets A-G, market_pre, market_close) in jackpot.predictions as "
    "match rows (jackpot_id NULL), synchronised on (match_id, set_id) in one transaction; flags become a text[]. "
    "Rows without probabilities (market rows of matches without odds: NaN) cannot satisfy the table's CHECKs and "
    "are skipped, counted in metadata 'skipped_without_probabilities': the published row count equals the "
    "number of DuckDB rows WITH probabilities.",
)

published_validation_results = _league_season_publisher(
    "published_validation_results", "validation_reports", publish_validation_results, deps=["validation_reports"],
    description="validation_reports of the partition (one row per probability set) in jackpot.validation_results, "
    "synchronised on (league, season, set_id) in one transaction. validation_summary is not published: its "
    "headline and per-league rows have no season (NOT NULL there), its league-season rows would collide with "
    "these on the table's key, and the table has no scope column.",
)


@asset(
    deps=["calibration_curves"],
    partitions_def=season_partitions,
    pool="duckdb",
    group_name=GROUP,
    kinds={"postgres"},
    automation_condition=FOLLOW_UPSTREAM,
    code_version=CODE_VERSION,
    description="calibration_curves of the season in jackpot.calibration_data, synchronised on (season, league, "
    "calibration_version) in one transaction; flags become a text[]. Row count equals DuckDB's.",
)
def published_calibration_data(
    context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource
) -> MaterializeResult:
    season = context.partition_key
    frame = warehouse.read_partition("calibration_curves", {"season": season})
    if frame is None:
        raise Failure(f"DuckDB table calibration_curves does not exist in {warehouse.database}: run calibration_job first")
    with postgres.connect() as connection:
        postgres.prepare(connection)
        result = publish_calibration_data(connection, frame, season, role=postgres.writer_role)
    return MaterializeResult(metadata=_metadata(result))


@asset(
    deps=["model_registry", "training_runs"],
    pool="duckdb",
    group_name=GROUP,
    kinds={"postgres"},
    automation_condition=FOLLOW_UPSTREAM,
    code_version=CODE_VERSION,
    description="The model registry's current state (one row per registered version with its latest status) in "
    "jackpot.models and the training-run audit in jackpot.training_runs, in one transaction. Append-only: new "
    "versions and runs are inserted; a status change (supersession) updates only that version's status row; nothing "
    "is deleted. Row counts equal DuckDB's distinct (league, model_version) and training_runs rows.",
)
def published_models(warehouse: WarehouseResource, postgres: PostgresResource) -> MaterializeResult:
    tables = {"model_registry": v.REGISTRY_COLUMNS, "training_runs": v.TRAINING_RUN_COLUMNS}
    frames = {}
    with warehouse.connect() as duck:
        for table, columns in tables.items():
            if not warehouse.table_exists(duck, table):
                raise Failure(f"DuckDB table {table} does not exist in {warehouse.database}: run weekly_summary_job first")
            frames[table] = duck.execute(f"SELECT {', '.join(columns)} FROM {warehouse.schema_name}.{table}").df()
    state = v.registry_state(frames["model_registry"])
    with postgres.connect() as connection:
        postgres.prepare(connection)
        models, runs = publish_models(connection, state, frames["training_runs"], role=postgres.writer_role)
    return MaterializeResult(metadata={
        **_metadata(models),
        **{f"training_runs_{key}": value for key, value in runs.as_metadata().items() if key != "table"},
    })


@asset(
    deps=["jackpot_predictions"],
    partitions_def=jackpot_partitions,
    pool="duckdb",
    group_name=GROUP,
    kinds={"postgres"},
    automation_condition=FOLLOW_UPSTREAM,
    code_version=CODE_VERSION,
    description="One finalised jackpot (DuckDB jackpots + jackpot_predictions) in jackpot.jackpots (owner: the card's "
    "owner), jackpot.jackpot_fixtures (one row per position) and jackpot.predictions (jackpot rows), in one "
    "transaction, then finalised there. Republishing a jackpot already finalised in PostgreSQL with the same card "
    "is a no-op (never an UPDATE: the triggers refuse it); a different card under the same id fails.",
)
def published_jackpots(
    context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource
) -> MaterializeResult:
    jackpot_id = context.partition_key
    jackpot = warehouse.read_partition("jackpots", {"jackpot_id": jackpot_id})
    predictions = warehouse.read_partition("jackpot_predictions", {"jackpot_id": jackpot_id})
    if jackpot is None or predictions is None or jackpot.empty:
        raise Failure(f"jackpot {jackpot_id} is not finalised in {warehouse.database}: run jackpot_job first")
    with postgres.connect() as connection:
        postgres.prepare(connection)
        result = publish_jackpot(connection, jackpot.iloc[0].to_dict(), predictions, role=postgres.writer_role)
    return MaterializeResult(metadata={"dagster/row_count": result.extra["predictions"], **result.as_metadata()})


publish_assets = [
    published_leagues, published_matches, published_ingestion_logs, published_teams, published_team_strength_snapshots,
    published_match_predictions, published_validation_results, published_calibration_data, published_models,
    published_jackpots,
]

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
publish_modeling_partition_job = define_asset_job(
    "publish_modeling_partition_job",
    selection=[published_team_strength_snapshots, published_match_predictions, published_validation_results],
    description="Publish one league × season partition of the modelled tables (strength snapshots, match "
    "predictions, validation results) to PostgreSQL; the matches must be published already.",
)
publish_calibration_job = define_asset_job(
    "publish_calibration_job", selection=[published_calibration_data],
    description="Publish one season's calibration maps to PostgreSQL.",
)
publish_models_job = define_asset_job(
    "publish_models_job", selection=[published_models],
    description="Publish the model registry and training-run audit to PostgreSQL (append-only).",
)
publish_jackpot_job = define_asset_job(
    "publish_jackpot_job", selection=[published_jackpots],
    description="Publish one finalised jackpot (card, fixtures, predictions) to PostgreSQL.",
)
publish_jobs = [
    publish_partition_job, publish_catalog_job, publish_modeling_partition_job, publish_calibration_job,
    publish_models_job, publish_jackpot_job,
]
