"""Connections to the PostgreSQL warehouse and its preparation (migrations, roles, grants)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from jackpot_pipeline.publish.migrate import LOCK_KEY, MigrationReport, migrate
from jackpot_pipeline.publish.roles import Roles, ensure_roles


@contextmanager
def connect(dsn: str, **kwargs: Any) -> Iterator[psycopg.Connection]:
    """An autocommit connection: every publish opens its own explicit transaction."""
    connection = psycopg.connect(dsn, autocommit=True, application_name="jackpot_pipeline", **kwargs)
    try:
        yield connection
    finally:
        connection.close()


def prepare_database(connection: psycopg.Connection, roles: Roles | None = Roles()) -> MigrationReport:
    """Migrate the schema and (unless ``roles`` is None) create roles, grants and policies.

    Idempotent and serialised across sessions by the migrations' advisory lock (held here around both
    steps), so parallel Dagster steps can all call it. Needs the schema owner (and CREATEROLE while a
    role is missing).
    """
    connection.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    try:
        report = migrate(connection)
        if roles is not None:
            ensure_roles(connection, roles)
        return report
    finally:
        if not connection.broken:
            connection.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
