"""Making a table's rows of one partition exactly a frame's, inside one transaction.

A partition (e.g. ``{"league": "E0", "season": "2324"}``) is written in ONE transaction:

1. ``SET LOCAL ROLE`` to the writer (optional), an advisory lock on table + partition so two
   publishers of the same partition queue instead of interleaving (:func:`begin`);
2. the frame is COPYed into a temporary staging table with the target's column types (domains
   apply already), and every staged row is checked to belong to the partition (:func:`stage`);
3. the partition is synchronised with the staged rows (:func:`synchronise`). ``replace``: the
   partition's rows are deleted, the staged rows inserted. ``upsert``: rows of the partition absent
   from the frame are deleted, changed rows updated on the key (only when a value differs, so an
   unchanged republish writes nothing and keeps identities and ``created_at`` stamps), new rows
   inserted;
4. COMMIT. Whatever fails before (a constraint, a lost connection, a killed backend) rolls it all
   back: readers see the previous partition until the new one is complete, republishing never
   duplicates.

Table and column names are identifiers (``psycopg.sql.Identifier``), values are always parameters or
COPY data (converted by :mod:`jackpot_pipeline.publish.values`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import psycopg
from psycopg import sql

from jackpot_pipeline.publish import SCHEMA, PublishError
from jackpot_pipeline.publish.values import Column, copy_rows, primary_key, table_columns
from jackpot_pipeline.sources.leagues import ALL_LEAGUES, is_extra_league

Mode = Literal["replace", "upsert"]
# called inside the transaction after the delete and before the insert: the tests' way to kill a
# publisher at its most fragile moment
BeforeWrite = Callable[[psycopg.Connection], None]
EVERYTHING = sql.SQL("true")


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


@dataclass(frozen=True)
class Staged:
    """A frame COPYed into a temporary table shaped like ``table`` (dropped at commit)."""

    table: str
    name: sql.Identifier
    columns: list[str]
    catalog: dict[str, Column]


def begin(connection: psycopg.Connection, table: str, partition: Mapping[str, object] | None, role: str | None) -> None:
    """Act as ``role`` and lock ``table``'s ``partition`` until the transaction ends."""
    if role:
        connection.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    scope = f"{SCHEMA}.{table}|" + "|".join(f"{k}={v}" for k, v in sorted((partition or {}).items()))
    connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [scope])


def stage(
    connection: psycopg.Connection, table: str, frame: pd.DataFrame, partition: Mapping[str, object] | None = None,
) -> Staged:
    """COPY ``frame`` into a temporary table with ``table``'s column types; with ``partition``, refuse a
    frame holding rows outside it."""
    catalog = table_columns(connection, table)
    columns = list(frame.columns)
    unknown = [c for c in columns if c not in catalog]
    if unknown:
        raise PublishError(f"{SCHEMA}.{table} has no column(s) {unknown}")
    name = sql.Identifier(f"stage_{table}")
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
    # the frame's columns with the target's types (domains check values already); NOT NULL and
    # defaults apply when the rows reach the target
    connection.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            name, column_list, sql.Identifier(SCHEMA, table))
    )
    with connection.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(name, column_list)) as copy:
        for row in copy_rows(frame, [catalog[c] for c in columns]):
            copy.write_row(row)
    if partition:
        in_partition, values = partition_condition(partition, alias=None)
        outside = connection.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE NOT coalesce({}, false)").format(name, in_partition), values
        ).fetchone()[0]
        if outside:
            raise PublishError(f"{outside} row(s) of the frame for {SCHEMA}.{table} lie outside partition {dict(partition)}")
    return Staged(table, name, columns, catalog)


def partition_condition(partition: Mapping[str, object], alias: str | None) -> tuple[sql.Composable, list[object]]:
    """``a = %s AND b IS NULL ...``: a None value selects the rows where that column is NULL (pooled rows)."""
    if not partition:
        return EVERYTHING, []
    parts, values = [], []
    for column, value in partition.items():
        name = sql.Identifier(alias, column) if alias else sql.Identifier(column)
        if value is None:
            parts.append(sql.SQL("{} IS NULL").format(name))
        else:
            parts.append(sql.SQL("{} = %s").format(name))
            values.append(value)
    return sql.SQL(" AND ").join(parts), values


def _same_key(keys: Sequence[str], nullable: bool) -> sql.Composable:
    """s.key = t.key; with a nullable key NULLs are equal, in a form PostgreSQL can hash (IS NOT
    DISTINCT FROM cannot)."""
    parts = []
    for k in keys:
        s, t = sql.Identifier("s", k), sql.Identifier("t", k)
        if nullable:
            parts.append(sql.SQL("({} IS NULL) = ({} IS NULL) AND coalesce({}::text, '') = coalesce({}::text, '')").format(
                s, t, s, t))
        else:
            parts.append(sql.SQL("{} = {}").format(s, t))
    return sql.SQL(" AND ").join(parts)


def synchronise(
    connection: psycopg.Connection,
    staged: Staged,
    keys: Sequence[str],
    *,
    mode: Mode = "upsert",
    scope: sql.Composable = EVERYTHING,
    scope_values: Sequence[object] = (),
    keys_unique_in_table: bool = False,
    delete_missing: bool = True,
    update: bool = True,
    insert: bool = True,
    stage_filter: sql.Composable = EVERYTHING,
    before_write: BeforeWrite | None = None,
) -> tuple[int, int, int]:
    """Make the rows of ``staged.table`` matching ``scope`` (a condition on alias ``t``) equal the
    staged rows (alias ``s``, those matching ``stage_filter``) on ``keys``: (inserted, updated, deleted).

    ``replace`` deletes the scope's rows and inserts every staged row. ``upsert`` deletes the scope's
    rows whose key the stage lacks (``delete_missing``), updates the rows whose values differ
    (``update``) and inserts the rest (``insert``). A staged row matches the target row with its key
    inside ``scope``, or anywhere in the table when ``keys_unique_in_table`` (a unique index on the
    keys, checked). Two staged rows with one key are refused. Runs inside the caller's transaction.
    """
    if mode not in ("replace", "upsert"):
        raise PublishError(f"mode must be 'replace' or 'upsert', not {mode!r}")
    target = sql.Identifier(SCHEMA, staged.table)
    values = list(scope_values)
    columns = staged.columns
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    if mode == "replace":
        deleted = connection.execute(sql.SQL("DELETE FROM {} AS t WHERE {}").format(target, scope), values).rowcount
        if before_write is not None:
            before_write(connection)
        inserted = connection.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, column_list, column_list, staged.name)
        ).rowcount
        return inserted, 0, deleted

    if keys_unique_in_table:
        _require_unique_index(connection, staged.table, keys)
    _refuse_repeated_keys(connection, staged, keys)
    same_key = _same_key(keys, nullable=any(staged.catalog[k].nullable for k in keys))
    key_scope, key_values = (EVERYTHING, []) if keys_unique_in_table else (scope, values)
    deleted = updated = inserted = 0
    if delete_missing:
        deleted = connection.execute(
            sql.SQL("DELETE FROM {} AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
                target, scope, staged.name, same_key),
            values,
        ).rowcount
    if before_write is not None:
        before_write(connection)
    others = [c for c in columns if c not in keys]
    if update and others:
        updated = connection.execute(
            sql.SQL("UPDATE {} AS t SET {} FROM {} AS s WHERE {} AND {} AND {} AND ({}) IS DISTINCT FROM ({})").format(
                target,
                sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Identifier("s", c)) for c in others),
                staged.name, key_scope, stage_filter, same_key,
                sql.SQL(", ").join(sql.Identifier("t", c) for c in others),
                sql.SQL(", ").join(sql.Identifier("s", c) for c in others),
            ),
            key_values,
        ).rowcount
    if insert:
        inserted = connection.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} AS s WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS t WHERE {} AND {})").format(
                target, column_list, sql.SQL(", ").join(sql.Identifier("s", c) for c in columns), staged.name,
                stage_filter, target, key_scope, same_key),
            key_values,
        ).rowcount
    return inserted, updated, deleted


def _require_unique_index(connection: psycopg.Connection, table: str, keys: Sequence[str]) -> None:
    unique = connection.execute(
        """
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND i.indisunique
          AND i.indpred IS NULL AND i.indexprs IS NULL
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
               WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) = %s::text[]
        """,
        [SCHEMA, table, sorted(keys)],
    ).fetchone()
    if unique is None:
        raise PublishError(f"{SCHEMA}.{table} has no unique index on {list(keys)} to upsert on")


def _refuse_repeated_keys(connection: psycopg.Connection, staged: Staged, keys: Sequence[str]) -> None:
    repeated = connection.execute(
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} GROUP BY {} HAVING count(*) > 1) AS r").format(
            staged.name, sql.SQL(", ").join(sql.Identifier(k) for k in keys))
    ).fetchone()[0]
    if repeated:
        raise PublishError(f"the frame for {SCHEMA}.{staged.table} repeats {repeated} key(s) {list(keys)}")


def publish_frame(
    connection: psycopg.Connection,
    table: str,
    frame: pd.DataFrame,
    partition: Mapping[str, object] | None,
    *,
    mode: Mode,
    key_columns: Sequence[str] | None,
    before_write: BeforeWrite | None = None,
    after_stage: Callable[[sql.Identifier], None] | None = None,
    delete_missing: bool = True,
) -> PublishResult:
    """Make ``table``'s rows of ``partition`` exactly ``frame`` (inside the caller's transaction).

    ``partition`` maps columns to values; None is the whole table. ``upsert`` matches rows on
    ``key_columns`` (default: the primary key), a unique index of the table. ``after_stage`` runs once
    the frame is staged and checked (parent rows, withdrawals), before anything is written.
    """
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
    staged = stage(connection, table, frame, partition)
    if after_stage is not None:
        after_stage(staged.name)
    scope, values = partition_condition(partition, alias="t")
    inserted, updated, deleted = synchronise(
        connection, staged, keys, mode=mode, scope=scope, scope_values=values, keys_unique_in_table=True,
        delete_missing=delete_missing, before_write=before_write,
    )
    return PublishResult(table, partition, rows=len(frame), inserted=inserted, updated=updated, deleted=deleted)


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
        begin(connection, table, partition, role)
        return publish_frame(connection, table, frame, partition, mode=mode, key_columns=key_columns,
                             before_write=before_write)


def add_leagues(connection: psycopg.Connection, leagues: Iterable[str]) -> None:
    """The leagues ``jackpot.leagues`` lacks (foreign keys), named from the catalogue."""
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


def add_teams(connection: psycopg.Connection, staged: sql.Identifier, pairs: Sequence[tuple[str, str]]) -> None:
    """Teams named by a staged table (league column + team columns) that jackpot.teams lacks: foreign keys."""
    selects = sql.SQL(" UNION ").join(
        sql.SQL("SELECT {}, {} FROM {} WHERE {} IS NOT NULL AND {} IS NOT NULL").format(
            sql.Identifier(league), sql.Identifier(team), staged, sql.Identifier(league), sql.Identifier(team))
        for league, team in pairs
    )
    connection.execute(
        sql.SQL("INSERT INTO {} (league, team) {} ON CONFLICT DO NOTHING").format(sql.Identifier(SCHEMA, "teams"), selects)
    )
