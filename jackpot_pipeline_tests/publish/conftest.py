"""PostgreSQL fixtures: every test gets its own database and its own role names, dropped afterwards.

Roles are cluster-wide, so their names carry a per-test prefix (``jpt_<hex>_``); parallel workers and
reruns never collide. The server is the real one (``JACKPOT_TEST_PG_DSN``, default
``host=127.0.0.1 port=5432 user=postgres dbname=test``, a superuser).

Publishing is switched on the way users switch it on: ``JACKPOT_PG_DSN`` (and the role prefix) in the
environment (:func:`publishing_to`), so the code location gains the publishing assets and jobs and
``make run``'s engine plans the publishing stages. Warehouses come from the shared fixtures: the process's
modeled workspace (``modeled``) and the one-partition ``workspace`` of ``jackpot_pipeline_tests/defs``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from jackpot_pipeline.publish.instance import DSN_VARIABLE
from jackpot_pipeline.publish.database import prepare_database
from jackpot_pipeline.publish.roles import Roles
from jackpot_pipeline_tests.defs.conftest import workspace  # noqa: F401 - the shared fixture
from jackpot_pipeline_tests.defs.modeled import ModeledWorkspace, modeled_workspace

ADMIN_DSN = os.environ.get("JACKPOT_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


@dataclass
class Database:
    name: str
    dsn: str
    prefix: str

    @property
    def roles(self) -> Roles:
        return Roles.with_prefix(self.prefix)

    def connect(self, **overrides) -> psycopg.Connection:
        return psycopg.connect(make_conninfo(self.dsn, **overrides), autocommit=True)

    def create_login(self, name: str, *groups: str) -> str:
        """A LOGIN role (cluster-wide, prefixed, dropped after the test) that is a member of ``groups``."""
        login = f"{self.prefix}{name}"
        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
            for group in groups:
                connection.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login)))
        return login

    def tables(self) -> list[str]:
        with self.connect() as connection:
            return [name for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'jackpot' ORDER BY tablename"
            )]

    def dump(self, table: str, exclude: tuple[str, ...] = ()) -> list[tuple]:
        """Every row of ``jackpot.<table>``, in a stable order, as text."""
        with self.connect() as connection:
            columns = [name for (name,) in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'jackpot' AND table_name = %s "
                "ORDER BY ordinal_position", [table]
            ) if name not in exclude]
            column_list = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
            return connection.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY 1, 2, 3").format(column_list, sql.Identifier("jackpot", table))
            ).fetchall()

    def count(self, table: str, where: str = "true", parameters=()) -> int:
        with self.connect() as connection:
            return connection.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier("jackpot", table)) + sql.SQL(where),
                list(parameters),
            ).fetchone()[0]


    def recreate(self) -> None:
        """Drop the database and create an empty one of the same name: another database to publish to."""
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(self.name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))


@pytest.fixture
def database() -> Iterator[Database]:
    token = uuid.uuid4().hex[:10]
    name, prefix = f"jp_test_{token}", f"jpt_{token}_"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield Database(name=name, dsn=make_conninfo(ADMIN_DSN, dbname=name, application_name="jackpot_tests"), prefix=prefix)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            # after the database: the roles' privileges lived in it
            for (role,) in admin.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", [prefix]).fetchall():
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def migrated(database: Database) -> Database:
    """A database with the schema migrated and the (prefixed) roles, grants and policies in place."""
    with database.connect() as connection:
        prepare_database(connection, database.roles)
    return database


@contextmanager
def acting_as(connection: psycopg.Connection, role: str) -> Iterator[psycopg.Connection]:
    connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        yield connection
    finally:
        connection.execute("RESET ROLE")


@pytest.fixture(scope="session")
def modeled(request, tmp_path_factory, shared_data) -> ModeledWorkspace:
    return modeled_workspace(request.config, tmp_path_factory, shared_data)


@pytest.fixture
def publishing_to(monkeypatch):
    """``publishing_to(database)``: JACKPOT_PG_DSN and the role prefix set for the rest of the test."""
    def point_at(database: Database) -> Database:
        monkeypatch.setenv(DSN_VARIABLE, database.dsn)
        monkeypatch.setenv("JACKPOT_PG_ROLE_PREFIX", database.prefix)
        return database

    return point_at
