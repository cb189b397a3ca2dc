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
    publish_catalog_job,
    publish_jobs,
    publish_partition_job,
    published_ingestion_logs,
    published_leagues,
    published_matches,
    published_teams,
)
from jackpot_pipeline.defs.publish.resources import PostgresNotConfigured, PostgresResource
from jackpot_pipeline.publish.instance import DSN_VARIABLE, postgres_enabled
from jackpot_pipeline.publish.postgres import connect, stale_partitions
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
    "publish_jobs",
    "publish_partition_job",
    "publish_resources",
    "published_ingestion_logs",
    "published_leagues",
    "published_matches",
    "published_teams",
]


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
    league catalogue and team registry. For ``make run`` after ingestion; ``defs`` must hold the
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
    return outcome
