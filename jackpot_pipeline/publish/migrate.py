"""Versioned SQL migrations of the ``jackpot`` schema, applied idempotently.

Migrations are the files ``migrations/NNNN_<name>.sql``, numbered from 0001 without gaps. Each one
runs in its own transaction together with the row recording it in ``jackpot.schema_migrations``
(version, name, sha256 of the file), so a failing migration leaves no trace and the ones before it stay
applied. Applied migrations are verified on every run: a file edited after it was applied, or a
database carrying versions this code does not know, stops everything before any change. A
session-level advisory lock serialises concurrent runs (several Dagster steps starting at once).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from jackpot_pipeline.publish import SCHEMA

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_lock key ("jackpot"): migrate() and prepare_database() are serialised with it
LOCK_KEY = 0x6A61636B706F74


class MigrationError(RuntimeError):
    """The migrations on disk and the ones recorded in the database disagree, or a file is malformed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str  # sha256 of the file's bytes

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


@dataclass(frozen=True)
class MigrationReport:
    applied: tuple[int, ...]  # applied by this call
    already_applied: tuple[int, ...]

    @property
    def current_version(self) -> int:
        return max(self.applied + self.already_applied, default=0)


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lowercase_name.sql")
        data = path.read_bytes()
        migrations.append(Migration(int(match.group(1)), match.group(2), data.decode("utf-8"), hashlib.sha256(data).hexdigest()))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must run 1, 2, 3... without gaps or duplicates; found {versions}")
    return migrations


def migrate(
    connection: psycopg.Connection,
    migrations: Sequence[Migration] | None = None,
) -> MigrationReport:
    """Apply the pending migrations; a no-op (after verification) when the schema is current.

    ``connection`` must be in autocommit mode with no transaction open: each migration gets its own.
    Needs a role that may create the schema and own its objects.
    """
    if not connection.autocommit or connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise MigrationError("migrate() needs an autocommit connection outside any transaction")
    migrations = list(discover_migrations() if migrations is None else migrations)
    table = sql.Identifier(SCHEMA, MIGRATION_TABLE)
    connection.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    try:
        with connection.transaction():
            connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
            connection.execute(sql.SQL(
                """CREATE TABLE IF NOT EXISTS {} (
                    version    integer PRIMARY KEY CHECK (version > 0),
                    name       text NOT NULL,
                    checksum   text NOT NULL CHECK (checksum ~ '^[0-9a-f]{{64}}$'),
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    applied_by text NOT NULL DEFAULT current_user
                )"""
            ).format(table))
        recorded = {
            version: (name, checksum)
            for version, name, checksum in connection.execute(
                sql.SQL("SELECT version, name, checksum FROM {} ORDER BY version").format(table)
            ).fetchall()
        }
        _verify(recorded, migrations)
        applied = []
        for migration in migrations:
            if migration.version in recorded:
                continue
            with connection.transaction():
                connection.execute(migration.sql)
                connection.execute(
                    sql.SQL("INSERT INTO {} (version, name, checksum) VALUES (%s, %s, %s)").format(table),
                    [migration.version, migration.name, migration.checksum],
                )
            applied.append(migration.version)
        return MigrationReport(applied=tuple(applied), already_applied=tuple(sorted(recorded)))
    finally:
        if not connection.broken:
            # the lock is the session's: released here, or by the server when a broken session ends
            connection.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def _verify(recorded: dict[int, tuple[str, str]], migrations: Sequence[Migration]) -> None:
    known = {m.version: m for m in migrations}
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        raise MigrationError(
            f"the database has migration(s) {unknown} that this code does not know: it was migrated by a newer "
            "version of jackpot_pipeline"
        )
    for version, (name, checksum) in recorded.items():
        migration = known[version]
        if checksum != migration.checksum:
            raise MigrationError(
                f"migration {migration.filename} was changed after it was applied (recorded sha256 {checksum[:12]}..., "
                f"file {migration.checksum[:12]}...): never edit an applied migration, add a new one"
            )
        if name != migration.name:
            raise MigrationError(f"migration {version} was applied as {name!r} but is now named {migration.name!r}")


def applied_migrations(connection: psycopg.Connection) -> list[tuple[int, str, str]]:
    """(version, name, checksum) of every applied migration, or [] before the first migrate()."""
    exists = connection.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.{MIGRATION_TABLE}"]).fetchone()
    if not exists or not exists[0]:
        return []
    return connection.execute(
        sql.SQL("SELECT version, name, checksum FROM {} ORDER BY version").format(sql.Identifier(SCHEMA, MIGRATION_TABLE))
    ).fetchall()
