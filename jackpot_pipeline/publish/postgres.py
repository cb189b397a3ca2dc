"""Publishing DataFrames into the ``jackpot`` schema, one partition per transaction.

A partition (e.g. ``{"league": "E0", "season": "2324"}``) is written in ONE transaction:

1. ``SET LOCAL ROLE`` to the writer (optional), an advisory lock on table + partition so two
   publishers of the same partition queue instead of interleaving;
2. the frame is COPYed into a temporary staging table with the target's column types (domains
   apply already), and every staged row is checked to belong to the partition;
3. ``replace``: the partition's rows are deleted, the staged rows inserted.
   ``upsert``: rows of the partition absent from the frame are deleted, the others inserted or
   updated on the key, and only when a value differs (an unchanged republish writes nothing).
4. COMMIT. Whatever fails before (a constraint, a lost connection, a killed backend) rolls it all
   back: readers see the previous partition until the new one is complete, republishing never
   duplicates (the key is the table's primary key).

Values are converted from what pandas/DuckDB hand over (NaN, NaT, numpy scalars, naive UTC
timestamps, JSON text) to the target column's type, looked up in the catalog. Table and column
names are identifiers (``psycopg.sql.Identifier``), values are always parameters or COPY data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from jackpot_pipeline.publish import SCHEMA
from jackpot_pipeline.publish.migrate import MigrationReport, migrate
from jackpot_pipeline.publish.roles import Roles, ensure_roles
from jackpot_pipeline.sources.leagues import ALL_LEAGUES, is_extra_league

Mode = Literal["replace", "upsert"]
# called inside the transaction after the delete and before the insert: the tests' way to kill a
# publisher at its most fragile moment
BeforeWrite = Callable[[psycopg.Connection], None]
_PREPARE_LOCK_KEY = 0x6A61636B706F74  # the same key as migrate(): roles and grants are serialised with it
_TEAM_REFERENCES = (
    # every foreign key to jackpot.teams; test_publish asserts this list against the catalog
    ("matches", ("home_team", "away_team")),
    ("team_strength_snapshots", ("team",)),
    ("jackpot_fixtures", ("resolved_home_team", "resolved_away_team")),
)
TEAM_COLUMNS = ("league", "team", "first_season", "last_season", "n_matches")
ALIAS_COLUMNS = ("league", "team", "alias", "alias_key", "alias_source")


class PublishError(ValueError):
    """The frame cannot be published as asked (unknown columns, rows outside the partition...)."""


@dataclass(frozen=True)
class PublishResult:
    table: str
    partition: Mapping[str, object]
    rows: int  # rows of the partition after publishing
    inserted: int
    updated: int
    deleted: int
    extra: Mapping[str, int] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated

    def as_metadata(self) -> dict[str, int | str]:
        return {
            "table": f"{SCHEMA}.{self.table}",
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            **self.extra,
        }


# --- connections and database preparation -------------------------------------------------------


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

    Idempotent and serialised across sessions by an advisory lock, so parallel Dagster steps can all
    call it. Needs the schema owner (and CREATEROLE while a role is missing).
    """
    connection.execute("SELECT pg_advisory_lock(%s)", [_PREPARE_LOCK_KEY])
    try:
        report = migrate(connection)
        if roles is not None:
            ensure_roles(connection, roles)
        return report
    finally:
        if not connection.broken:
            connection.execute("SELECT pg_advisory_unlock(%s)", [_PREPARE_LOCK_KEY])


# --- the generic partition publisher -------------------------------------------------------------


def publish_partition(
    connection: psycopg.Connection,
    table: str,
    frame: pd.DataFrame,
    partition: Mapping[str, object] | None,
    *,
    mode: Mode = "upsert",
    key_columns: Sequence[str] | None = None,
    role: str | None = None,
    before_write: BeforeWrite | None = None,
) -> PublishResult:
    """Make ``table``'s rows of ``partition`` exactly ``frame``, in one transaction.

    ``partition`` maps columns to values; None publishes the whole table. ``key_columns`` defaults to
    the primary key (``upsert`` only). ``role``: the writer role to act as (``SET LOCAL ROLE``).
    """
    with connection.transaction():
        _begin(connection, table, partition, role)
        return _publish_in_transaction(connection, table, frame, partition, mode=mode, key_columns=key_columns,
                                       before_write=before_write)


def _begin(connection: psycopg.Connection, table: str, partition: Mapping[str, object] | None, role: str | None) -> None:
    if role:
        connection.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    scope = f"{SCHEMA}.{table}|" + "|".join(f"{k}={v}" for k, v in sorted((partition or {}).items()))
    connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [scope])


def _publish_in_transaction(
    connection: psycopg.Connection,
    table: str,
    frame: pd.DataFrame,
    partition: Mapping[str, object] | None,
    *,
    mode: Mode,
    key_columns: Sequence[str] | None,
    before_write: BeforeWrite | None,
    after_stage: Callable[[sql.Identifier], None] | None = None,
    delete_missing: bool = True,
) -> PublishResult:
    if mode not in ("replace", "upsert"):
        raise PublishError(f"mode must be 'replace' or 'upsert', not {mode!r}")
    partition = dict(partition or {})
    catalog = table_columns(connection, table)
    columns = list(frame.columns)
    unknown = [c for c in [*columns, *partition] if c not in catalog]
    if unknown:
        raise PublishError(f"{SCHEMA}.{table} has no column(s) {unknown}")
    missing = [c for c in partition if c not in columns]
    if missing:
        raise PublishError(f"the frame for {SCHEMA}.{table} lacks its partition column(s) {missing}")
    keys = list(key_columns or primary_key(connection, table))
    if mode == "upsert" and (not keys or any(k not in columns for k in keys)):
        raise PublishError(f"upserting {SCHEMA}.{table} needs its key columns {keys} in the frame")

    target = sql.Identifier(SCHEMA, table)
    stage = sql.Identifier(f"stage_{table}")
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    # the frame's columns with the target's types (domains check values already); NOT NULL and
    # defaults apply when the rows reach the target
    connection.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(stage, column_list, target)
    )
    with connection.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, column_list)) as copy:
        for row in _rows(frame, [catalog[c] for c in columns]):
            copy.write_row(row)
    in_partition, values = _partition_condition(partition, alias=None)
    outside = connection.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE NOT coalesce({}, false)").format(stage, in_partition), values
    ).fetchone()[0]
    if outside:
        raise PublishError(f"{outside} row(s) of the frame for {SCHEMA}.{table} lie outside partition {partition}")
    if after_stage is not None:
        after_stage(stage)

    target_in_partition, values = _partition_condition(partition, alias="t")
    if mode == "replace":
        deleted = connection.execute(
            sql.SQL("DELETE FROM {} AS t WHERE {}").format(target, target_in_partition), values
        ).rowcount
        if before_write is not None:
            before_write(connection)
        inserted = connection.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, column_list, column_list, stage)
        ).rowcount
        return PublishResult(table, partition, rows=len(frame), inserted=inserted, updated=0, deleted=deleted)

    nullable_key = any(catalog[k].nullable for k in keys)
    equal = sql.SQL(" IS NOT DISTINCT FROM " if nullable_key else " = ")
    same_key = sql.SQL(" AND ").join(
        sql.Composed([sql.Identifier("s", k), equal, sql.Identifier("t", k)]) for k in keys
    )
    deleted = 0
    if delete_missing:
        deleted = connection.execute(
            sql.SQL("DELETE FROM {} AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
                target, target_in_partition, stage, same_key
            ),
            values,
        ).rowcount
    if before_write is not None:
        before_write(connection)
    others = [c for c in columns if c not in keys]
    if others:
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in others
        )
        differs = sql.SQL("({}) IS DISTINCT FROM ({})").format(
            sql.SQL(", ").join(sql.Identifier("t", c) for c in others),
            sql.SQL(", ").join(sql.Identifier("excluded", c) for c in others),
        )
        action = sql.SQL("DO UPDATE SET {} WHERE {}").format(assignments, differs)
    else:
        action = sql.SQL("DO NOTHING")
    # xmax = 0 on a returned row: it was inserted, not updated
    flags = connection.execute(
        sql.SQL("INSERT INTO {} AS t ({}) SELECT {} FROM {} ON CONFLICT ({}) {} RETURNING (xmax = 0)").format(
            target, column_list, column_list, stage, sql.SQL(", ").join(sql.Identifier(k) for k in keys), action
        )
    ).fetchall()
    inserted = sum(1 for (was_inserted,) in flags if was_inserted)
    return PublishResult(table, partition, rows=len(frame), inserted=inserted, updated=len(flags) - inserted, deleted=deleted)


def _partition_condition(partition: Mapping[str, object], alias: str | None) -> tuple[sql.Composable, list[object]]:
    """``a = %s AND b IS NULL ...``: a None value selects the rows where that column is NULL (pooled rows)."""
    if not partition:
        return sql.SQL("true"), []
    parts, values = [], []
    for column, value in partition.items():
        name = sql.Identifier(alias, column) if alias else sql.Identifier(column)
        if value is None:
            parts.append(sql.SQL("{} IS NULL").format(name))
        else:
            parts.append(sql.SQL("{} = %s").format(name))
            values.append(value)
    return sql.SQL(" AND ").join(parts), values


# --- the ingested tables -------------------------------------------------------------------------


def publish_matches(
    connection: psycopg.Connection,
    canonical: pd.DataFrame,
    league: str,
    season: str,
    *,
    role: str | None = None,
    before_write: BeforeWrite | None = None,
) -> PublishResult:
    """One partition of DuckDB ``canonical_matches`` into ``jackpot.matches`` (upsert on match_id).

    The league and the teams the matches name are added first if missing (foreign keys), in the same
    transaction. A match that disappeared from the source is deleted unless a fixture or prediction
    refers to it: then the foreign key stops the whole publish and the previous rows stay.
    """
    partition = {"league": league, "season": season}

    def add_parents(stage: sql.Identifier) -> None:
        _add_leagues(connection, [league])
        connection.execute(
            sql.SQL(
                "INSERT INTO {} (league, team) SELECT league, home_team FROM {} UNION SELECT league, away_team FROM {} "
                "ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(SCHEMA, "teams"), stage, stage)
        )

    with connection.transaction():
        _begin(connection, "matches", partition, role)
        return _publish_in_transaction(
            connection, "matches", canonical, partition, mode="upsert", key_columns=["match_id"],
            before_write=before_write, after_stage=add_parents,
        )


def publish_ingestion_logs(
    connection: psycopg.Connection,
    log: pd.DataFrame,
    league: str,
    season: str,
    *,
    role: str | None = None,
    before_write: BeforeWrite | None = None,
) -> PublishResult:
    """One partition of DuckDB ``ingestion_log`` into ``jackpot.ingestion_logs`` (delete and insert)."""
    partition = {"league": league, "season": season}
    with connection.transaction():
        _begin(connection, "ingestion_logs", partition, role)
        return _publish_in_transaction(
            connection, "ingestion_logs", log, partition, mode="replace", key_columns=None,
            before_write=before_write, after_stage=lambda _stage: _add_leagues(connection, [league]),
        )


def league_catalogue() -> pd.DataFrame:
    """Every league football-data.co.uk publishes, as ``jackpot.leagues`` rows."""
    return pd.DataFrame(
        [(code, name, "extra" if is_extra_league(code) else "main") for code, name in ALL_LEAGUES.items()],
        columns=["league", "name", "source_format"],
    )


def publish_leagues(connection: psycopg.Connection, leagues: pd.DataFrame | None = None, *, role: str | None = None) -> PublishResult:
    """Upsert the league catalogue. Leagues are never deleted: matches and models refer to them."""
    leagues = league_catalogue() if leagues is None else leagues[["league", "name", "source_format"]]
    with connection.transaction():
        _begin(connection, "leagues", None, role)
        return _publish_in_transaction(
            connection, "leagues", leagues, None, mode="upsert", key_columns=["league"], before_write=None,
            delete_missing=False,
        )


def publish_teams(
    connection: psycopg.Connection,
    registry: pd.DataFrame,
    *,
    role: str | None = None,
    before_write: BeforeWrite | None = None,
) -> PublishResult:
    """The DuckDB ``teams`` registry (one row per league, team, alias) into ``jackpot.teams`` and
    ``jackpot.team_aliases``, in one transaction.

    Teams are upserted; a team no longer in the registry is deleted only when nothing refers to it
    (a match, a strength snapshot, a jackpot fixture). Aliases are replaced as a whole.
    """
    teams = registry[list(TEAM_COLUMNS)].drop_duplicates(subset=["league", "team"]).reset_index(drop=True)
    aliases = registry[list(ALIAS_COLUMNS)].reset_index(drop=True)
    retired = 0

    def retire_unreferenced(stage: sql.Identifier) -> None:
        nonlocal retired
        _add_leagues(connection, sorted(set(teams["league"])))
        unreferenced = sql.SQL(" AND ").join(
            sql.SQL("NOT EXISTS (SELECT 1 FROM {} AS r WHERE r.league = t.league AND t.team IN ({}))").format(
                sql.Identifier(SCHEMA, referencing), sql.SQL(", ").join(sql.Identifier("r", c) for c in columns)
            )
            for referencing, columns in _TEAM_REFERENCES
        )
        retired = connection.execute(
            sql.SQL(
                "DELETE FROM {} AS t WHERE NOT EXISTS (SELECT 1 FROM {} AS s WHERE s.league = t.league AND s.team = t.team) "
                "AND {}"
            ).format(sql.Identifier(SCHEMA, "teams"), stage, unreferenced)
        ).rowcount

    with connection.transaction():
        _begin(connection, "teams", None, role)
        result = _publish_in_transaction(
            connection, "teams", teams, None, mode="upsert", key_columns=["league", "team"], before_write=before_write,
            after_stage=retire_unreferenced, delete_missing=False,
        )
        alias_result = _publish_in_transaction(
            connection, "team_aliases", aliases, None, mode="replace", key_columns=None, before_write=None,
        )
    return PublishResult(
        "teams", {}, rows=result.rows, inserted=result.inserted, updated=result.updated, deleted=retired,
        extra={"aliases": alias_result.rows},
    )


def _add_leagues(connection: psycopg.Connection, leagues: Iterable[str]) -> None:
    rows = [(code, ALL_LEAGUES.get(code, code), "extra" if is_extra_league(code) else "main") for code in leagues]
    if not rows:
        return
    connection.execute(
        sql.SQL(
            "INSERT INTO {} (league, name, source_format) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) "
            "ON CONFLICT (league) DO NOTHING"
        ).format(sql.Identifier(SCHEMA, "leagues")),
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )


# --- freshness -----------------------------------------------------------------------------------


def published_data_versions(connection: psycopg.Connection) -> dict[tuple[str, str], str]:
    """(league, season) -> data_version of the latest published ingestion log.

    ``jackpot.ingestion_logs`` is published after ``jackpot.matches``, so a partition whose latest
    logged data version equals DuckDB's is fully published.
    """
    rows = connection.execute(
        sql.SQL(
            "SELECT DISTINCT ON (league, season) league, season, data_version FROM {} "
            "ORDER BY league, season, ingested_at DESC"
        ).format(sql.Identifier(SCHEMA, "ingestion_logs"))
    ).fetchall()
    return {(league, season): version for league, season, version in rows}


def stale_partitions(
    connection: psycopg.Connection, warehouse_versions: Mapping[tuple[str, str], str | None]
) -> list[tuple[str, str]]:
    """The (league, season) pairs whose DuckDB data version differs from the published one."""
    published = published_data_versions(connection)
    return sorted(key for key, version in warehouse_versions.items() if published.get(key) != version)


# --- catalog lookups and value conversion -------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type of the base type: 'integer', 'double precision', 'date', 'text[]', 'jsonb'...
    nullable: bool


def table_columns(connection: psycopg.Connection, table: str) -> dict[str, Column]:
    rows = connection.execute(
        """
        SELECT a.attname,
               format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid), NULL),
               NOT a.attnotnull
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        [SCHEMA, table],
    ).fetchall()
    if not rows:
        raise PublishError(f"table {SCHEMA}.{table} does not exist: run the migrations first")
    return {name: Column(name, kind, nullable) for name, kind, nullable in rows}


def primary_key(connection: psycopg.Connection, table: str) -> list[str]:
    rows = connection.execute(
        """
        SELECT a.attname
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND i.indisprimary
        ORDER BY array_position(i.indkey, a.attnum)
        """,
        [SCHEMA, table],
    ).fetchall()
    return [name for (name,) in rows]


_INTEGER_TYPES = {"smallint", "integer", "bigint"}
_FLOAT_TYPES = {"double precision", "real", "numeric"}


def _rows(frame: pd.DataFrame, columns: Sequence[Column]) -> Iterator[tuple[object, ...]]:
    converters = [_converter(column) for column in columns]
    for values in frame.itertuples(index=False, name=None):
        yield tuple(convert(value) for convert, value in zip(converters, values, strict=True))


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, np.datetime64) and np.isnat(value)


def _converter(column: Column) -> Callable[[object], object]:
    kind = column.type

    def convert(value: object) -> object:
        if not isinstance(value, list | tuple | np.ndarray | dict) and _is_missing(value):
            return None
        try:
            return _convert(kind, value)
        except (TypeError, ValueError) as error:
            raise PublishError(f"column {column.name} ({kind}): cannot store {value!r}: {error}") from None

    return convert


def _convert(kind: str, value: Any) -> object:
    if kind in _INTEGER_TYPES:
        if isinstance(value, float | np.floating) and not float(value).is_integer():
            raise ValueError("not a whole number")
        if isinstance(value, bool | np.bool_):
            raise ValueError("a boolean is not an integer")
        return int(value)
    if kind in _FLOAT_TYPES:
        return float(value)
    if kind == "boolean":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise ValueError("not a boolean")
    if kind == "date":
        if isinstance(value, pd.Timestamp | dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value))
    if kind.startswith("timestamp"):
        stamp = pd.Timestamp(value)
        if kind == "timestamp with time zone" and stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")  # the warehouse keeps UTC without a zone
        return stamp.to_pydatetime()
    if kind in ("jsonb", "json"):
        if isinstance(value, str):
            json.loads(value)  # fail here, naming the column, rather than in COPY
            return value
        return json.dumps(_plain(value), sort_keys=True)
    if kind.endswith("[]"):
        if isinstance(value, str):
            raise ValueError("give a list, not a string, for an array column")
        return [None if _is_missing(v) else str(v) if kind == "text[]" else _plain(v) for v in value]
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"{type(value).__name__} is not text")
        return value
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
