"""``PostgresResource``: the connection to the published warehouse (schema ``jackpot``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from dagster import ConfigurableResource
from pydantic import Field

from jackpot_pipeline.publish import SCHEMA
from jackpot_pipeline.publish.instance import DSN_VARIABLE
from jackpot_pipeline.publish.migrate import MIGRATION_TABLE, discover_migrations
from jackpot_pipeline.publish.database import connect, prepare_database
from jackpot_pipeline.publish.roles import Roles

_prepared: set[tuple[str, str]] = set()
_prepared_lock = threading.Lock()


class PostgresNotConfigured(RuntimeError):
    pass


class PostgresResource(ConfigurableResource):
    """A libpq DSN (``JACKPOT_PG_DSN``) for a role that owns schema ``jackpot`` (it runs the
    migrations); writes happen as the writer role (``SET LOCAL ROLE``) unless ``act_as_writer`` is off."""

    dsn: str = Field(description="libpq connection string or postgresql:// URI; empty: publishing is disabled")
    role_prefix: str = Field(default="", description="prefix of the jackpot_writer/auditor/analyst role names")
    act_as_writer: bool = Field(default=True, description="write as the jackpot_writer role, not as the connecting role")
    manage_roles: bool = Field(default=True, description="create the roles and apply grants and policies after migrating")

    @property
    def roles(self) -> Roles:
        return Roles.with_prefix(self.role_prefix)

    @property
    def writer_role(self) -> str | None:
        return self.roles.writer if self.act_as_writer else None

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        if not self.dsn.strip():
            raise PostgresNotConfigured(
                f"{DSN_VARIABLE} is not set, so publishing to PostgreSQL is disabled: set it (e.g. "
                "postgresql://user@127.0.0.1:5432/jackpot) or leave the published_* assets out of the selection"
            )
        with connect(self.dsn) as connection:
            yield connection

    @contextmanager
    def prepared(self) -> Iterator[tuple[psycopg.Connection, str]]:
        """A connection to the prepared database (:meth:`prepare`) and the database's :meth:`target`."""
        with self.connect() as connection:
            self.prepare(connection)
            yield connection, self.target(connection)

    def target(self, connection: psycopg.Connection) -> str:
        """Which database this is: server, name and the database's oid (a re-created database gets a new one)."""
        info = connection.info
        oid = connection.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
        return f"{info.host}:{info.port}/{info.dbname}#{oid}"

    def prepare(self, connection: psycopg.Connection) -> None:
        """Migrations, roles, grants and policies: once per process and database, idempotent anyway."""
        key = (self.dsn, self.role_prefix)
        latest = len(discover_migrations())
        with _prepared_lock:
            if key in _prepared and _schema_version(connection) == latest:
                return
            prepare_database(connection, self.roles if self.manage_roles else None)
            _prepared.add(key)


def _schema_version(connection: psycopg.Connection) -> int | None:
    found = connection.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.{MIGRATION_TABLE}"]).fetchone()
    if not (found and found[0]):
        return None
    return connection.execute(
        sql.SQL("SELECT max(version) FROM {}").format(sql.Identifier(SCHEMA, MIGRATION_TABLE))
    ).fetchone()[0]
