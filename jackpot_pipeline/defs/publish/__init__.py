"""Publishing to PostgreSQL: the thin Dagster shell over :mod:`jackpot_pipeline.publish`.

Loaded only with ``JACKPOT_PG_DSN`` set; without it the pipeline runs on the local warehouse alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import EnvVar

from jackpot_pipeline.defs.publish.assets import publish_assets, publish_catalog, publish_jackpots, publish_league_season
from jackpot_pipeline.defs.publish.resources import PostgresNotConfigured, PostgresResource
from jackpot_pipeline.publish.instance import DSN_VARIABLE, postgres_enabled
from jackpot_pipeline.settings import Settings

ROLE_PREFIX_VARIABLE = "JACKPOT_PG_ROLE_PREFIX"

__all__ = [
    "PostgresNotConfigured", "PostgresResource", "postgres_enabled", "publish_assets", "publish_catalog",
    "publish_jackpots", "publish_league_season", "publish_resources",
]


def publish_resources(settings: Settings | None = None, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """``{"postgres": PostgresResource}``. The DSN stays an ``EnvVar`` (never shown in the UI); when
    ``JACKPOT_PG_DSN`` is unset the resource is still there but refuses to connect, with that reason."""
    del settings  # the same on every machine: the DSN says where to publish
    env = os.environ if environ is None else environ
    dsn = EnvVar(DSN_VARIABLE) if postgres_enabled(env) else ""
    return {"postgres": PostgresResource(dsn=dsn, role_prefix=env.get(ROLE_PREFIX_VARIABLE, ""))}
