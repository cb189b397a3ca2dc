"""Publishing to PostgreSQL schema ``jackpot``: each league × season partition, the catalogue and model
registry, and each finalised jackpot, one transaction per table and partition (see
:mod:`jackpot_pipeline.publish.engine`). A partition is republished when the warehouse versions it was
published from change, or when the target database is another one (a new database is filled)."""

from collections.abc import Callable, Sequence

from dagster import AssetExecutionContext, AssetSpec, multi_asset

from jackpot_pipeline.defs.batch import (
    Materialized,
    materializations,
    partition_keys,
    partitioned_multi_asset,
    raise_failures,
    refuse_chained_batches,
)
from jackpot_pipeline.defs.partitions import jackpot_partitions, league_season_partitions
from jackpot_pipeline.defs.publish.resources import PostgresResource
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.defs.state import current_inputs
from jackpot_pipeline.planning.publishing import PUBLISH_CODE_VERSION, publish_stage
from jackpot_pipeline.publish import PublishError
from jackpot_pipeline.publish.ingested import (
    ALIAS_COLUMNS,
    TEAM_COLUMNS,
    publish_ingestion_logs,
    publish_leagues,
    publish_matches,
    publish_teams,
)
from jackpot_pipeline.publish.jackpots import publish_jackpot
from jackpot_pipeline.publish.modelled import (
    publish_calibration_curves,
    publish_league_baselines,
    publish_match_predictions,
    publish_models,
    publish_team_form_features,
    publish_team_strength_snapshots,
    publish_validation_reports,
)
from jackpot_pipeline.model import validation as v
from jackpot_pipeline.sources.warehouse_schema import INGESTION_LOG_COLUMNS
from jackpot_pipeline.steps.progress import partitions_finished

GROUP = "publish"
# (connection, target database, partition key) -> {published asset: Materialized}
PartitionPublisher = Callable[[object, str, str], dict[str, Materialized]]
# published asset -> (warehouse table it copies, publishing function), in the order foreign keys need
LEAGUE_SEASON_TABLES = {
    "published_matches": ("canonical_matches", publish_matches),
    "published_ingestion_logs": ("ingestion_log", publish_ingestion_logs),
    "published_team_strength_snapshots": ("team_strength_snapshots", publish_team_strength_snapshots),
    "published_match_predictions": ("match_predictions", publish_match_predictions),
    "published_validation_reports": ("validation_reports", publish_validation_reports),
    "published_calibration_curves": ("calibration_curves", publish_calibration_curves),
    "published_team_form_features": ("team_form_features", publish_team_form_features),
    "published_league_baselines": ("league_baselines", publish_league_baselines),
}
_DESCRIPTIONS = {
    "published_matches": "canonical_matches of the partition in jackpot.matches (upsert on match_id).",
    "published_ingestion_logs": "ingestion_log of the partition in jackpot.ingestion_logs (delete and insert).",
    "published_team_strength_snapshots": "team_strength_snapshots of the partition (upsert on the primary key; missing "
    "teams are added first).",
    "published_match_predictions": "match_predictions of the partition (sets A0, A-G, market_pre, market_close) in "
    "jackpot.match_predictions as match rows (jackpot_id NULL); rows without probabilities (market rows of matches without "
    "odds) cannot satisfy the table's CHECKs and are skipped, counted in metadata.",
    "published_validation_reports": "validation_reports of the partition in jackpot.validation_reports.",
    "published_calibration_curves": "calibration_curves of the partition in jackpot.calibration_curves.",
    "published_team_form_features": "team_form_features of the partition in jackpot.team_form_features.",
    "published_league_baselines": "league_baselines of the partition in jackpot.league_baselines.",
}


def _publish_metadata(result) -> dict[str, object]:
    return {"dagster/row_count": result.rows, **result.as_metadata()}


def _publish_each_partition(context: AssetExecutionContext, postgres: PostgresResource, stage: str,
                            assets: Sequence[str], publish_partition: PartitionPublisher):
    """Publishes each partition of the run, ``publish_partition(connection, target, key)`` returning its
    {asset: Materialized}; a PublishError fails that partition only. Reports progress under ``stage``, yields
    the materialisations of the partitions published, then raises naming the ones that failed."""
    refuse_chained_batches(context, stage)
    keys, results, failures = partition_keys(context), {}, {}
    with postgres.prepared() as (connection, target):
        for key in keys:
            try:
                results[key] = publish_partition(connection, target, key)
            except PublishError as error:
                failures[key] = str(error)
                partitions_finished(stage, [key], failed=1)
                continue
            partitions_finished(stage, [key])
    inputs = current_inputs(context.instance, publish_stage(stage, target), list(results))
    yield from materializations(context, results, {k: fp for k, (fp, _) in inputs.items()},
                                dict.fromkeys(assets, PUBLISH_CODE_VERSION))
    raise_failures(failures, len(keys))


@partitioned_multi_asset(
    name="publish_league_season",
    specs=[AssetSpec(name, deps=[table], group_name=GROUP, kinds={"postgres"}, code_version=PUBLISH_CODE_VERSION,
                     skippable=True, description=_DESCRIPTIONS[name] + " One transaction per table and partition.")
           for name, (table, _) in LEAGUE_SEASON_TABLES.items()],
    partitions_def=league_season_partitions,
    stage_index=20,
)
def publish_league_season(context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource):
    store = warehouse.store

    def publish_partition(connection, target: str, key: str) -> dict[str, Materialized]:
        league, season = key.split("|", 1)
        published = {}
        for name, (table, publish) in LEAGUE_SEASON_TABLES.items():
            frame = store.read(table, key, INGESTION_LOG_COLUMNS if table == "ingestion_log" else None)
            if frame is None:
                raise PublishError(f"the warehouse has no {table} for {key}: materialise it first")
            published[name] = publish(connection, frame, league, season, role=postgres.writer_role)
        return {name: Materialized(f"{target}:{result.rows}:{result.unchanged}", _publish_metadata(result))
                for name, result in published.items()}

    yield from _publish_each_partition(context, postgres, "publish_league_season", list(LEAGUE_SEASON_TABLES),
                                       publish_partition)


@multi_asset(
    name="publish_catalog",
    specs=[
        AssetSpec("published_leagues", group_name=GROUP, kinds={"postgres"}, code_version=PUBLISH_CODE_VERSION,
                  description="The league catalogue (codes and names of football-data.co.uk) in jackpot.leagues."),
        AssetSpec("published_teams", deps=["teams"], group_name=GROUP, kinds={"postgres"}, code_version=PUBLISH_CODE_VERSION,
                  description="The team registry in jackpot.teams and jackpot.team_aliases (one transaction)."),
        AssetSpec("published_models", deps=["model_registry", "training_runs"], group_name=GROUP, kinds={"postgres"},
                  code_version=PUBLISH_CODE_VERSION,
                  description="The model registry's current state in jackpot.models and the training-run audit in "
                  "jackpot.training_runs (append-only: new versions and runs inserted, a supersession updates only that "
                  "version's status, nothing deleted)."),
    ],
    can_subset=False,
)
def publish_catalog(context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource):
    store = warehouse.store
    registry = store.query(f"SELECT {', '.join(v.REGISTRY_COLUMNS)} FROM model_registry ORDER BY event_id")
    runs = store.query(f"SELECT {', '.join(v.TRAINING_RUN_COLUMNS)} FROM training_runs ORDER BY recorded_at, run_id, league")
    teams = store.query(f"SELECT {', '.join(dict.fromkeys([*TEAM_COLUMNS, *ALIAS_COLUMNS]))} FROM teams ORDER BY league, team, alias")
    with postgres.prepared() as (connection, target):
        leagues = publish_leagues(connection, role=postgres.writer_role)
        published_teams = publish_teams(connection, teams, role=postgres.writer_role)
        models, training = publish_models(connection, v.registry_state(registry), runs, role=postgres.writer_role)
    fingerprint = current_inputs(context.instance, publish_stage("publish_catalog", target), [None])[None][0]
    results = {
        "published_leagues": Materialized(f"{target}:{leagues.rows}", _publish_metadata(leagues)),
        "published_teams": Materialized(f"{target}:{published_teams.rows}", _publish_metadata(published_teams)),
        "published_models": Materialized(f"{target}:{models.rows}:{training.rows}", {
            **_publish_metadata(models), **{f"training_runs_{k}": value for k, value in training.as_metadata().items() if k != "table"}}),
    }
    yield from materializations(context, {None: results}, {None: fingerprint}, dict.fromkeys(results, PUBLISH_CODE_VERSION))


@partitioned_multi_asset(
    name="publish_jackpots",
    specs=[AssetSpec("published_jackpots", deps=["jackpot_predictions"], group_name=GROUP, kinds={"postgres"},
                     code_version=PUBLISH_CODE_VERSION, skippable=True,
                     description="One finalised jackpot in jackpot.jackpots (owner: the card's owner), "
                     "jackpot.jackpot_fixtures and jackpot.match_predictions, in one transaction, then finalised there. "
                     "Republishing the same card is a no-op (never an UPDATE: the triggers refuse it).")],
    partitions_def=jackpot_partitions,
    stage_index=21,
)
def publish_jackpots(context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource):
    store = warehouse.store

    def publish_partition(connection, target: str, key: str) -> dict[str, Materialized]:
        jackpot, predictions = store.read("jackpots", key), store.read("jackpot_predictions", key)
        if jackpot is None or predictions is None or jackpot.empty:
            raise PublishError(f"jackpot {key} is not finalised in the warehouse: run jackpot_predictions first")
        result = publish_jackpot(connection, jackpot.iloc[0].to_dict(), predictions, role=postgres.writer_role)
        return {"published_jackpots": Materialized(f"{target}:{jackpot.iloc[0]['content_sha256'][:16]}", {
            "dagster/row_count": result.extra["predictions"], **result.as_metadata()})}

    yield from _publish_each_partition(context, postgres, "publish_jackpots", ["published_jackpots"], publish_partition)


publish_assets = [publish_league_season, publish_catalog, publish_jackpots]
