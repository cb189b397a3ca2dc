"""Publishing to PostgreSQL (issue 6): the thin Dagster shell over :mod:`jackpot_pipeline.publish`.

Wiring (done in ``jackpot_pipeline/definitions.py``)::

    from jackpot_pipeline.defs.publish import postgres_enabled, publish_assets, publish_jobs, publish_resources

    if postgres_enabled():
        assets += publish_assets; jobs += publish_jobs; resources |= publish_resources(settings)

Without ``JACKPOT_PG_DSN`` nothing of this is loaded and the pipeline runs on DuckDB alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dagster import DagsterInstance, Definitions, EnvVar, MultiPartitionKey

from jackpot_pipeline.defs.runs import step_failure_message
from jackpot_pipeline.defs.publish.assets import (
    publish_assets,
    publish_calibration_job,
    publish_catalog_job,
    publish_jackpot_job,
    publish_jobs,
    publish_modeling_partition_job,
    publish_models_job,
    publish_partition_job,
    published_calibration_data,
    published_ingestion_logs,
    published_jackpots,
    published_leagues,
    published_match_predictions,
    published_matches,
    published_models,
    published_team_strength_snapshots,
    published_teams,
    published_validation_results,
)
from jackpot_pipeline.defs.publish.resources import PostgresNotConfigured, PostgresResource
from jackpot_pipeline.publish.instance import DSN_VARIABLE, postgres_enabled
from jackpot_pipeline.publish.postgres import FRESHNESS, stale_partitions, stale_signatures
from jackpot_pipeline.settings import Settings

ROLE_PREFIX_VARIABLE = "JACKPOT_PG_ROLE_PREFIX"

__all__ = [
    "PostgresNotConfigured",
    "PostgresResource",
    "PublishOutcome",
    "postgres_enabled",
    "publish_assets",
    "publish_catalog_job",
    "publish_changed",
    "publish_calibration_job",
    "publish_jackpot_job",
    "publish_jobs",
    "publish_modeling_partition_job",
    "publish_models_job",
    "publish_partition_job",
    "publish_resources",
    "published_calibration_data",
    "published_ingestion_logs",
    "published_jackpots",
    "published_leagues",
    "published_match_predictions",
    "published_matches",
    "published_models",
    "published_team_strength_snapshots",
    "published_teams",
    "published_validation_results",
]

# published table -> (its publishing asset, its job); FRESHNESS (jackpot_pipeline.publish.postgres) says
# how a partition's DuckDB version is compared with PostgreSQL's
_MODELLED = {
    "team_strength_snapshots": (published_team_strength_snapshots, publish_modeling_partition_job),
    "predictions": (published_match_predictions, publish_modeling_partition_job),
    "validation_results": (published_validation_results, publish_modeling_partition_job),
    "calibration_data": (published_calibration_data, publish_calibration_job),
    "models": (published_models, publish_models_job),
    "training_runs": (published_models, publish_models_job),
    "jackpots": (published_jackpots, publish_jackpot_job),
}


def publish_resources(settings: Settings | None = None, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """``{"postgres": PostgresResource}``. The DSN stays an ``EnvVar`` (never shown in the UI); when
    ``JACKPOT_PG_DSN`` is unset the resource is still there but refuses to connect, with that reason."""
    del settings  # the same on every machine: the DSN says where to publish
    env = os.environ if environ is None else environ
    prefix = env.get(ROLE_PREFIX_VARIABLE, "")
    dsn = EnvVar(DSN_VARIABLE) if postgres_enabled(env) else ""
    return {"postgres": PostgresResource(dsn=dsn, role_prefix=prefix)}


@dataclass
class PublishOutcome:
    published: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    catalog: bool = False  # leagues and teams were published
    # the modelled tables and jackpots: "<table> <partition>" published (or "<table>" when unpartitioned)
    tables: list[str] = field(default_factory=list)


def publish_changed(
    defs: Definitions,
    settings: Settings,
    instance: DagsterInstance,
    *,
    dsn: str | None = None,
    run_config: Mapping[str, object] | None = None,
    log: Callable[[str], None] = print,
) -> PublishOutcome:
    """Publish every DuckDB partition whose latest data version is not yet in PostgreSQL, then the
    league catalogue and team registry, then every partition of the modelled tables (strength
    snapshots, match predictions, validation results, calibrations, the model registry and training
    runs) and every finalised jackpot whose DuckDB version is not in PostgreSQL (see ``FRESHNESS``).
    For ``make run`` after ingestion, modelling, validation and jackpots; ``defs`` must hold the
    publishing assets and jobs. Compares with the database itself, so a new, empty database is filled.
    """
    import duckdb

    outcome = PublishOutcome()
    dsn = dsn if dsn is not None else os.environ.get(DSN_VARIABLE, "")
    if not settings.warehouse_path.exists():
        log(f"publish: no warehouse at {settings.warehouse_path} yet")
        return outcome
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as duck:
        exists = duck.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'ingestion_log'"
        ).fetchone()[0]
        rows = duck.execute(
            "SELECT league, season, arg_max(data_version, ingested_at) FROM main.ingestion_log GROUP BY ALL"
        ).fetchall() if exists else []
    versions = {(league, season): version for league, season, version in rows}
    resource = PostgresResource(dsn=dsn, role_prefix=os.environ.get(ROLE_PREFIX_VARIABLE, ""))
    with resource.connect() as connection:
        resource.prepare(connection)
        stale = stale_partitions(connection, versions)
        teams_published = connection.execute("SELECT count(*) FROM jackpot.teams").fetchone()[0]
    outcome.unchanged = len(versions) - len(stale)
    log(f"publish: {len(versions)} partition(s) in DuckDB, {len(stale)} to publish to PostgreSQL")
    job = defs.resolve_job_def(publish_partition_job.name)
    for league, season in stale:
        key = f"{league}|{season}"
        result = job.execute_in_process(
            instance=instance,
            partition_key=MultiPartitionKey({"league": league, "season": season}),
            raise_on_error=False,
            tags={"jackpot/trigger": "make run"},
            run_config=run_config,
        )
        if result.success:
            outcome.published.append(key)
        else:
            outcome.failed[key] = step_failure_message(result)
            log(f"publish {key} FAILED: {outcome.failed[key]}")
    if outcome.published or not teams_published:
        result = defs.resolve_job_def(publish_catalog_job.name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config, tags={"jackpot/trigger": "make run"},
        )
        outcome.catalog = result.success
        if not result.success:
            outcome.failed["catalog"] = step_failure_message(result)
            log(f"publish catalog FAILED: {outcome.failed['catalog']}")
    _publish_modelled(defs, settings, instance, resource, outcome, run_config=run_config, log=log)
    return outcome


def _publish_modelled(
    defs: Definitions,
    settings: Settings,
    instance: DagsterInstance,
    resource: PostgresResource,
    outcome: PublishOutcome,
    *,
    run_config: Mapping[str, object] | None,
    log: Callable[[str], None],
) -> None:
    """The modelled tables and jackpots: one run per stale partition and job, selecting only the stale
    tables' assets (the matches a prediction refers to were published before)."""
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as duck:
        present = {name for (name,) in duck.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()}
        warehouse_rows = {
            table: duck.execute(spec.duckdb.format(schema="main")).fetchall()
            for table, spec in FRESHNESS.items() if spec.source in present
        }
    if not warehouse_rows:
        return
    with resource.connect() as connection:
        stale = {table: stale_signatures(connection, FRESHNESS[table], rows) for table, rows in warehouse_rows.items()}
    # (job, partition) -> the stale tables' assets, in a stable order
    runs: dict[tuple[str, tuple], list] = {}
    for table, keys in stale.items():
        asset, job = _MODELLED[table]
        for key in keys:
            selected = runs.setdefault((job.name, key), [])
            if asset.key not in selected:
                selected.append(asset.key)
    if not runs:
        return
    log(f"publish: {len(runs)} run(s) for the modelled tables and jackpots: "
        + ", ".join(f"{table} {len(keys)}" for table, keys in stale.items() if keys))
    order = [publish_modeling_partition_job.name, publish_calibration_job.name, publish_models_job.name, publish_jackpot_job.name]
    for (job_name, key), asset_keys in sorted(runs.items(), key=lambda item: (order.index(item[0][0]), repr(item[0][1]))):
        partition_key = _partition_key(instance, job_name, key)
        label = " ".join([",".join(k.to_user_string() for k in asset_keys), "|".join(key)]).strip()
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, partition_key=partition_key, asset_selection=asset_keys, raise_on_error=False,
            tags={"jackpot/trigger": "make run"}, run_config=run_config,
        )
        if result.success:
            outcome.tables.append(label)
        else:
            outcome.failed[label] = step_failure_message(result)
            log(f"publish {label} FAILED: {outcome.failed[label]}")


def _partition_key(instance: DagsterInstance, job_name: str, key: tuple) -> str | MultiPartitionKey | None:
    """The Dagster partition key of a stale partition, adding dynamic partitions the instance lacks."""
    dimensions = {
        publish_modeling_partition_job.name: ("league", "season"),
        publish_calibration_job.name: ("season",),
        publish_jackpot_job.name: ("jackpots",),
    }.get(job_name, ())
    for dimension, value in zip(dimensions, key, strict=True):
        if not instance.has_dynamic_partition(dimension, value):
            instance.add_dynamic_partitions(dimension, [value])
    if len(dimensions) == 2:
        return MultiPartitionKey(dict(zip(dimensions, key, strict=True)))
    return key[0] if dimensions else None
