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
from jackpot_pipeline.model.form import LEAGUE_BASELINE_COLUMNS, TEAM_FORM_COLUMNS
from jackpot_pipeline.sources.revisions import PARTITION_DROPPED, REMOVED_FROM_SOURCE, WITHDRAWAL_COLUMNS

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
    transaction. A published match the frame no longer holds is never deleted: it is marked withdrawn
    (``removed_from_source``, by the frame's source sha256), so predictions and jackpot fixtures that
    refer to it stay valid; a withdrawn match present again is reinstated (counted as updated too).
    ``extra``: ``withdrawn`` and ``reinstated`` counts.
    """
    partition = {"league": league, "season": season}
    frame = canonical.assign(**{column: None for column in WITHDRAWAL_COLUMNS})
    sources = sorted({str(sha) for sha in canonical["source_sha256"].dropna()})
    if len(sources) > 1:
        raise PublishError(f"the matches of {league}|{season} come from {len(sources)} source versions; expected one")
    counts = {"withdrawn": 0, "reinstated": 0}
    matches = sql.Identifier(SCHEMA, "matches")

    def add_parents_and_withdraw(stage: sql.Identifier) -> None:
        _add_leagues(connection, [league])
        connection.execute(
            sql.SQL(
                "INSERT INTO {} (league, team) SELECT league, home_team FROM {} UNION SELECT league, away_team FROM {} "
                "ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(SCHEMA, "teams"), stage, stage)
        )
        counts["reinstated"] = connection.execute(
            sql.SQL("SELECT count(*) FROM {} AS m JOIN {} AS s USING (match_id) WHERE m.withdrawn_at IS NOT NULL").format(
                matches, stage)
        ).fetchone()[0]
        if sources:
            counts["withdrawn"] = _withdraw(
                connection, league, season, REMOVED_FROM_SOURCE, sources[0],
                sql.SQL("NOT EXISTS (SELECT 1 FROM {} AS s WHERE s.match_id = m.match_id)").format(stage),
            )
        else:  # the source holds no match of the partition any more
            counts["withdrawn"] = _withdraw(connection, league, season, PARTITION_DROPPED, None, sql.SQL("true"))

    with connection.transaction():
        _begin(connection, "matches", partition, role)
        result = _publish_in_transaction(
            connection, "matches", frame, partition, mode="upsert", key_columns=["match_id"],
            before_write=before_write, after_stage=add_parents_and_withdraw, delete_missing=False,
        )
    return PublishResult("matches", partition, rows=result.rows, inserted=result.inserted, updated=result.updated,
                         deleted=0, extra=counts)


def _withdraw(
    connection: psycopg.Connection, league: str, season: str, reason: str, source_sha256: str | None,
    which: sql.Composable,
) -> int:
    """Mark the partition's current matches satisfying ``which`` (alias ``m``) withdrawn; how many."""
    return connection.execute(
        sql.SQL(
            "UPDATE {} AS m SET withdrawn_at = now(), withdrawn_by_sha256 = %s, withdrawn_reason = %s "
            "WHERE m.league = %s AND m.season = %s AND m.withdrawn_at IS NULL AND {}"
        ).format(sql.Identifier(SCHEMA, "matches"), which),
        [source_sha256, reason, league, season],
    ).rowcount


def withdraw_partition(
    connection: psycopg.Connection, league: str, season: str, *, role: str | None = None
) -> PublishResult:
    """Withdraw every current match of a partition (``partition_dropped``), deleting nothing: what
    PostgreSQL does, on request, with a partition the local warehouse no longer holds."""
    partition = {"league": league, "season": season}
    with connection.transaction():
        _begin(connection, "matches", partition, role)
        withdrawn = _withdraw(connection, league, season, PARTITION_DROPPED, None, sql.SQL("true"))
        rows = connection.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE league = %s AND season = %s AND withdrawn_at IS NULL").format(
                sql.Identifier(SCHEMA, "matches")), [league, season]
        ).fetchone()[0]
    return PublishResult("matches", partition, rows=rows, inserted=0, updated=0, deleted=0, extra={"withdrawn": withdrawn})


def orphaned_partitions(
    connection: psycopg.Connection, warehouse_partitions: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(league, season) pairs with current (not withdrawn) published matches that the local warehouse
    does not hold. Publishing never deletes them; they are reported, and withdrawn only on request
    (:func:`withdraw_partition`)."""
    local = {(str(league), str(season)) for league, season in warehouse_partitions}
    published = connection.execute(
        sql.SQL("SELECT DISTINCT league, season FROM {} WHERE withdrawn_at IS NULL").format(sql.Identifier(SCHEMA, "matches"))
    ).fetchall()
    return sorted((league, season) for league, season in published if (league, season) not in local)


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


# --- the modelled tables -------------------------------------------------------------------------
#
# Tables whose rows carry a generated identity key (predictions, calibration_data, validation_results)
# are synchronised on their natural key: rows no longer in the frame are deleted, changed rows updated
# (only when a value differs), new rows inserted. An unchanged republish therefore writes nothing and
# keeps identities and created_at stamps, and republishing never duplicates.

SNAPSHOT_COLUMNS = (
    "league", "season", "as_of_date", "team", "model_version", "attack", "defence", "home_advantage", "intercept",
    "rho", "xi", "shrinkage", "is_promoted", "matches_used", "effective_weight", "log_likelihood", "converged",
    "iterations",
)
MATCH_PREDICTION_COLUMNS = (
    "match_id", "set_id", "prob_home", "prob_draw", "prob_away", "lambda_home", "lambda_away", "edge_home",
    "edge_draw", "edge_away", "kelly_home", "kelly_draw", "kelly_away", "snapshot_as_of", "model_version",
    "calibration_version", "flags",
)
PROBABILITY_COLUMNS = ("prob_home", "prob_draw", "prob_away")
CALIBRATION_COLUMNS = (
    "season", "league", "scope", "method", "calibration_version", "trained_on_start", "trained_on_end", "cutoff_date",
    "n_train", "n_league_rows", "candidate_scores", "calibrator", "stacked_pool", "isotonic_bins", "flags",
)
VALIDATION_COLUMNS = (
    "league", "season", "set_id", "n", "n_missing", "rps", "rps_se", "brier", "log_loss", "log_loss_se", "ece",
    "ece_noise", "accuracy", "n_paired_market_pre", "rps_diff_market_pre", "rps_diff_market_pre_se",
    "log_loss_diff_market_pre", "log_loss_diff_market_pre_se", "n_paired_market_close", "rps_diff_market_close",
    "rps_diff_market_close_se", "log_loss_diff_market_close", "log_loss_diff_market_close_se", "health",
    "health_reasons",
)
MODEL_COLUMNS = (
    "model_version", "league", "parameters", "training_start", "training_end", "metrics", "status", "reason",
    "code_version", "evaluation_season", "input_data_versions", "created_at",
)
TRAINING_RUN_COLUMNS = (
    "run_id", "model_version", "league", "recorded_at", "registry_status", "objective", "code_version", "parameters",
    "data_start", "data_end", "seasons", "n_partitions", "n_matches", "metrics",
)


def split_flags(value: object) -> list[str]:
    """DuckDB's comma-separated flags text as the ``text[]`` the schema uses ('' or NULL: no flags)."""
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value if not _is_missing(v) and str(v)]
    if _is_missing(value):
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _stage(connection: psycopg.Connection, table: str, frame: pd.DataFrame) -> tuple[sql.Identifier, dict[str, Column]]:
    """COPY ``frame`` into a temporary table with ``table``'s column types (dropped at commit)."""
    catalog = table_columns(connection, table)
    unknown = [c for c in frame.columns if c not in catalog]
    if unknown:
        raise PublishError(f"{SCHEMA}.{table} has no column(s) {unknown}")
    stage = sql.Identifier(f"stage_{table}")
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
    connection.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            stage, column_list, sql.Identifier(SCHEMA, table))
    )
    with connection.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, column_list)) as copy:
        for row in _rows(frame, [catalog[c] for c in frame.columns]):
            copy.write_row(row)
    return stage, catalog


def _same_key(keys: Sequence[str]) -> sql.Composable:
    """s.key = t.key, NULLs equal, in a form PostgreSQL can hash (IS NOT DISTINCT FROM cannot)."""
    parts = []
    for k in keys:
        s, t = sql.Identifier("s", k), sql.Identifier("t", k)
        parts.append(sql.SQL("({} IS NULL) = ({} IS NULL) AND coalesce({}::text, '') = coalesce({}::text, '')").format(s, t, s, t))
    return sql.SQL(" AND ").join(parts)


def _sync(
    connection: psycopg.Connection,
    table: str,
    frame: pd.DataFrame,
    scope: sql.Composable,
    scope_values: Sequence[object],
    keys: Sequence[str],
    *,
    delete_missing: bool = True,
    update: bool = True,
    stage: sql.Identifier | None = None,
    stage_filter: sql.Composable = sql.SQL("true"),
) -> tuple[int, int, int]:
    """Make the rows of ``table`` matching ``scope`` (a condition on alias ``t``) equal ``frame`` on
    ``keys``: (inserted, updated, deleted). Runs inside the caller's transaction."""
    if stage is None:
        stage, _ = _stage(connection, table, frame)
    target = sql.Identifier(SCHEMA, table)
    columns = list(frame.columns)
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    same_key = _same_key(keys)
    deleted = updated = 0
    if delete_missing:
        deleted = connection.execute(
            sql.SQL("DELETE FROM {} AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
                target, scope, stage, same_key),
            list(scope_values),
        ).rowcount
    others = [c for c in columns if c not in keys]
    if update and others:
        updated = connection.execute(
            sql.SQL("UPDATE {} AS t SET {} FROM {} AS s WHERE {} AND {} AND {} AND ({}) IS DISTINCT FROM ({})").format(
                target,
                sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Identifier("s", c)) for c in others),
                stage, scope, stage_filter, same_key,
                sql.SQL(", ").join(sql.Identifier("t", c) for c in others),
                sql.SQL(", ").join(sql.Identifier("s", c) for c in others),
            ),
            list(scope_values),
        ).rowcount
    inserted = connection.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} AS s WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS t WHERE {} AND {})").format(
            target, column_list, sql.SQL(", ").join(sql.Identifier("s", c) for c in columns), stage, stage_filter,
            target, scope, same_key),
        list(scope_values),
    ).rowcount
    return inserted, updated, deleted


def _add_teams(connection: psycopg.Connection, stage: sql.Identifier, pairs: Sequence[tuple[str, str]]) -> None:
    """Teams named by a staged table (league column + team columns) that jackpot.teams lacks: foreign keys."""
    selects = sql.SQL(" UNION ").join(
        sql.SQL("SELECT {}, {} FROM {} WHERE {} IS NOT NULL AND {} IS NOT NULL").format(
            sql.Identifier(league), sql.Identifier(team), stage, sql.Identifier(league), sql.Identifier(team))
        for league, team in pairs
    )
    connection.execute(
        sql.SQL("INSERT INTO {} (league, team) {} ON CONFLICT DO NOTHING").format(sql.Identifier(SCHEMA, "teams"), selects)
    )


def publish_team_strength_snapshots(
    connection: psycopg.Connection, snapshots: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One partition of DuckDB ``team_strength_snapshots`` (upsert on the primary key, one transaction).
    Teams and the league are added first when missing (foreign keys)."""
    partition = {"league": league, "season": season}
    frame = snapshots[list(SNAPSHOT_COLUMNS)]

    def add_parents(stage: sql.Identifier) -> None:
        _add_leagues(connection, [league])
        _add_teams(connection, stage, [("league", "team")])

    with connection.transaction():
        _begin(connection, "team_strength_snapshots", partition, role)
        return _publish_in_transaction(
            connection, "team_strength_snapshots", frame, partition, mode="upsert", key_columns=None,
            before_write=None, after_stage=add_parents,
        )


def _publish_league_season_table(
    connection: psycopg.Connection, table: str, frame: pd.DataFrame, league: str, season: str, role: str | None,
) -> PublishResult:
    partition = {"league": league, "season": season}
    with connection.transaction():
        _begin(connection, table, partition, role)
        return _publish_in_transaction(
            connection, table, frame.reset_index(drop=True), partition, mode="upsert", key_columns=None,
            before_write=None, after_stage=lambda _stage: _add_leagues(connection, [league]),
        )


def publish_team_form_features(
    connection: psycopg.Connection, form: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One partition of ``team_form_features`` (upsert on league, season, match_id, venue; one transaction)."""
    return _publish_league_season_table(connection, "team_form_features", form[list(TEAM_FORM_COLUMNS)], league, season, role)


def publish_league_baselines(
    connection: psycopg.Connection, baselines: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One partition of ``league_baselines`` (upsert on league, season, as_of_date; one transaction)."""
    return _publish_league_season_table(
        connection, "league_baselines", baselines[list(LEAGUE_BASELINE_COLUMNS)], league, season, role)


def match_prediction_rows(predictions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """DuckDB ``match_predictions`` rows as ``jackpot.predictions`` rows, and how many were skipped:
    rows without probabilities (market rows of matches without odds) cannot satisfy the table's CHECKs."""
    usable = predictions[list(PROBABILITY_COLUMNS)].notna().all(axis=1)
    frame = predictions.loc[usable, list(MATCH_PREDICTION_COLUMNS)].copy()
    frame["flags"] = [split_flags(value) for value in frame["flags"]]
    return frame.reset_index(drop=True), int((~usable).sum())


def publish_match_predictions(
    connection: psycopg.Connection, predictions: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One league × season of DuckDB ``match_predictions`` into ``jackpot.predictions`` (match rows,
    ``jackpot_id`` NULL), synchronised on (match_id, set_id) in one transaction. The partition is the
    published matches of that league and season, so ``jackpot.matches`` must hold them already.
    ``extra["skipped_without_probabilities"]``: rows left out (see :func:`match_prediction_rows`)."""
    frame, skipped = match_prediction_rows(predictions)
    partition = {"league": league, "season": season}
    matches = sql.Identifier(SCHEMA, "matches")
    scope = sql.SQL("t.jackpot_id IS NULL AND t.match_id IN (SELECT match_id FROM {} WHERE league = %s AND season = %s)").format(matches)
    with connection.transaction():
        _begin(connection, "predictions", partition, role)
        stage, _ = _stage(connection, "predictions", frame)
        outside = connection.execute(
            sql.SQL("SELECT count(*) FROM {} AS s WHERE NOT EXISTS (SELECT 1 FROM {} AS m WHERE m.match_id = s.match_id "
                    "AND m.league = %s AND m.season = %s)").format(stage, matches),
            [league, season],
        ).fetchone()[0]
        if outside:
            raise PublishError(
                f"{outside} prediction row(s) name matches that jackpot.matches does not hold for {league}|{season}: "
                "publish the matches first")
        inserted, updated, deleted = _sync(connection, "predictions", frame, scope, [league, season], ["match_id", "set_id"], stage=stage)
        rows = connection.execute(sql.SQL("SELECT count(*) FROM {} AS t WHERE {}").format(
            sql.Identifier(SCHEMA, "predictions"), scope), [league, season]).fetchone()[0]
    return PublishResult("predictions", partition, rows=rows, inserted=inserted, updated=updated, deleted=deleted,
                         extra={"skipped_without_probabilities": skipped})


def calibration_rows(curves: pd.DataFrame) -> pd.DataFrame:
    frame = curves[list(CALIBRATION_COLUMNS)].copy()
    frame["flags"] = [split_flags(value) for value in frame["flags"]]
    frame["candidate_scores"] = frame["candidate_scores"].where(frame["candidate_scores"].notna(), "{}")
    return frame.reset_index(drop=True)


def publish_calibration_data(
    connection: psycopg.Connection, curves: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One league-season of ``calibration_curves`` into ``jackpot.calibration_data``, synchronised on
    (season, league, calibration_version) in one transaction."""
    frame = calibration_rows(curves)
    partition = {"league": league, "season": season}
    with connection.transaction():
        _begin(connection, "calibration_data", partition, role)
        stage, _ = _stage(connection, "calibration_data", frame)
        outside = connection.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE season IS DISTINCT FROM %s OR league IS DISTINCT FROM %s").format(stage),
            [season, league]).fetchone()[0]
        if outside:
            raise PublishError(f"{outside} row(s) of the frame for {SCHEMA}.calibration_data lie outside partition {partition}")
        _add_leagues(connection, [league])
        inserted, updated, deleted = _sync(
            connection, "calibration_data", frame, sql.SQL("t.season = %s AND t.league = %s"), [season, league],
            ["season", "league", "calibration_version"], stage=stage)
    return PublishResult("calibration_data", partition, rows=len(frame), inserted=inserted, updated=updated, deleted=deleted)


def publish_validation_results(
    connection: psycopg.Connection, reports: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One league × season of DuckDB ``validation_reports`` into ``jackpot.validation_results``,
    synchronised on (league, season, set_id) in one transaction (reliability bins and the report's
    context columns have no place in the table and stay in DuckDB)."""
    frame = reports[list(VALIDATION_COLUMNS)].reset_index(drop=True)
    partition = {"league": league, "season": season}
    with connection.transaction():
        _begin(connection, "validation_results", partition, role)
        return _publish_in_transaction(
            connection, "validation_results", frame, partition, mode="upsert", key_columns=["league", "season", "set_id"],
            before_write=None, after_stage=lambda _stage: _add_leagues(connection, [league]),
        )


def model_rows(state: pd.DataFrame) -> pd.DataFrame:
    """The registry's current state (one row per version, see ``model.validation.registry_state``) as
    ``jackpot.models`` rows; JSON columns that are NOT NULL there default to ``{}``."""
    frame = state.copy()
    frame["created_at"] = frame["created_at"].where(frame["created_at"].notna(), frame["recorded_at"])
    for column in ("parameters", "metrics"):
        frame[column] = frame[column].where(frame[column].notna(), "{}")
    return frame[list(MODEL_COLUMNS)].reset_index(drop=True)


def training_run_rows(runs: pd.DataFrame) -> pd.DataFrame:
    frame = runs[list(TRAINING_RUN_COLUMNS)].copy()
    frame["metrics"] = frame["metrics"].where(frame["metrics"].notna(), "{}")
    return frame.reset_index(drop=True)


def publish_models(
    connection: psycopg.Connection, models: pd.DataFrame, runs: pd.DataFrame, *, role: str | None = None,
) -> tuple[PublishResult, PublishResult]:
    """The model registry's current state into ``jackpot.models`` and the training-run audit into
    ``jackpot.training_runs``, in one transaction. Append-only: versions and runs are inserted once and
    never deleted; a version's row changes only when the registry changed its status (supersession),
    and versions leaving 'active' are updated before any becomes active (one active per league)."""
    models, runs = model_rows(models), training_run_rows(runs)
    with connection.transaction():
        _begin(connection, "models", None, role)
        _add_leagues(connection, sorted(set(models["league"]) | set(runs["league"])))
        stage, _ = _stage(connection, "models", models)
        everything = sql.SQL("true")
        updated = 0
        for becomes_active in (False, True):
            condition = sql.SQL("s.status = 'active'" if becomes_active else "s.status <> 'active'")
            updated += _update_models(connection, stage, condition)
        inserted = _sync(connection, "models", models, everything, [], ["model_version"], delete_missing=False,
                         update=False, stage=stage)[0]
        model_rows_now = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, "models"))).fetchone()[0]
        run_stage, _ = _stage(connection, "training_runs", runs)
        runs_inserted = _sync(connection, "training_runs", runs, everything, [], ["run_id", "model_version"],
                              delete_missing=False, update=False, stage=run_stage)[0]
        run_rows_now = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, "training_runs"))).fetchone()[0]
    return (
        PublishResult("models", {}, rows=model_rows_now, inserted=inserted, updated=updated, deleted=0),
        PublishResult("training_runs", {}, rows=run_rows_now, inserted=runs_inserted, updated=0, deleted=0),
    )


def _update_models(connection: psycopg.Connection, stage: sql.Identifier, condition: sql.Composable) -> int:
    others = [c for c in MODEL_COLUMNS if c != "model_version"]
    return connection.execute(
        sql.SQL("UPDATE {} AS t SET {} FROM {} AS s WHERE t.model_version = s.model_version AND {} AND ({}) IS DISTINCT FROM ({})").format(
            sql.Identifier(SCHEMA, "models"),
            sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Identifier("s", c)) for c in others),
            stage, condition,
            sql.SQL(", ").join(sql.Identifier("t", c) for c in others),
            sql.SQL(", ").join(sql.Identifier("s", c) for c in others),
        )
    ).rowcount


# --- jackpots ------------------------------------------------------------------------------------

JACKPOT_PREDICTION_COLUMNS = (
    "jackpot_id", "position", "set_id", "prob_home", "prob_draw", "prob_away", "lambda_home", "lambda_away",
    "edge_home", "edge_draw", "edge_away", "kelly_home", "kelly_draw", "kelly_away", "snapshot_as_of",
    "model_version", "calibration_version", "flags",
)
FIXTURE_COLUMNS = (
    "jackpot_id", "position", "home_team", "away_team", "league", "kickoff", "kickoff_utc_offset", "odds_home",
    "odds_draw", "odds_away", "resolved_home_team", "resolved_away_team",
)


def _utc_offset(text: object) -> dt.timedelta | None:
    if _is_missing(text):
        return None
    try:
        return dt.datetime.fromisoformat(str(text)).utcoffset()
    except ValueError:
        return None


def jackpot_fixture_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """One ``jackpot.jackpot_fixtures`` row per position of DuckDB ``jackpot_predictions`` (the card's
    names, kick-off as written with its UTC offset, the operator's odds, the resolved teams)."""
    first = predictions.sort_values(["position", "set_id"], kind="stable").drop_duplicates("position")
    frame = pd.DataFrame({
        "jackpot_id": first["jackpot_id"],
        "position": first["position"],
        "home_team": first["home_team_card"],
        "away_team": first["away_team_card"],
        "league": first["league"],
        "kickoff": first["kickoff"],
        "kickoff_utc_offset": [_utc_offset(text) for text in first["kickoff_text"]],
        "odds_home": first["odds_home"],
        "odds_draw": first["odds_draw"],
        "odds_away": first["odds_away"],
        "resolved_home_team": first["home_team"],
        "resolved_away_team": first["away_team"],
    })
    return frame.astype({"kickoff_utc_offset": object}).reset_index(drop=True)


def jackpot_prediction_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """Prediction rows of a jackpot; a fixture priced without the model says how (its fallback mode is a
    flag), which is what lets such a row go without a model version (migration 0004)."""
    frame = predictions[list(JACKPOT_PREDICTION_COLUMNS)].copy()
    modes = predictions["mode"] if "mode" in predictions.columns else pd.Series("model", index=predictions.index)
    frame["flags"] = [
        split_flags(value) + ([str(mode)] if mode in ("market_only", "league_prior") and str(mode) not in split_flags(value) else [])
        for value, mode in zip(frame["flags"], modes, strict=True)
    ]
    return frame.reset_index(drop=True)


def _version_list(value: object) -> list[str]:
    if _is_missing(value):
        return []
    decoded = json.loads(value) if isinstance(value, str) else value
    values = decoded.values() if isinstance(decoded, dict) else decoded
    return sorted({str(v) for v in values if v is not None})


def publish_jackpot(
    connection: psycopg.Connection, jackpot: Mapping[str, Any], predictions: pd.DataFrame, *, role: str | None = None,
) -> PublishResult:
    """One finalised jackpot of DuckDB (``jackpots`` row + its ``jackpot_predictions``) into
    ``jackpot.jackpots``, ``jackpot.jackpot_fixtures`` and ``jackpot.predictions``, in one transaction.

    The owner is the card's owner (the writer role when the card names none). The jackpot is inserted
    as a draft, its fixtures and predictions added, then it is finalised; the triggers refuse every
    later change. Republishing a jackpot already finalised in PostgreSQL with the same card (sha256) is
    a no-op; a different card under the same id is refused (PublishError), never updated.
    """
    jackpot_id = str(jackpot["jackpot_id"])
    partition = {"jackpot_id": jackpot_id}
    jackpots = sql.Identifier(SCHEMA, "jackpots")
    fixtures, rows = jackpot_fixture_rows(predictions), jackpot_prediction_rows(predictions)
    finalised_at = _convert("timestamp with time zone", jackpot["finalised_at"])
    with connection.transaction():
        _begin(connection, "jackpots", partition, role)
        existing = connection.execute(
            sql.SQL("SELECT status, card_sha256 FROM {} WHERE jackpot_id = %s FOR UPDATE").format(jackpots), [jackpot_id]
        ).fetchone()
        if existing is not None and existing[0] == "finalised":
            if existing[1] != jackpot["card_sha256"]:
                raise PublishError(
                    f"jackpot {jackpot_id} is finalised in PostgreSQL with card sha256 {existing[1]}, DuckDB holds "
                    f"{jackpot['card_sha256']}: finalised jackpots are immutable")
            n = connection.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE jackpot_id = %s").format(sql.Identifier(SCHEMA, "predictions")), [jackpot_id]
            ).fetchone()[0]
            return PublishResult("jackpots", partition, rows=1, inserted=0, updated=0, deleted=0,
                                 extra={"fixtures": len(fixtures), "predictions": n, "already_finalised": 1})
        deleted = 0
        if existing is not None:  # a draft (not written by this pipeline): replaced as a whole
            deleted = connection.execute(sql.SQL("DELETE FROM {} WHERE jackpot_id = %s").format(jackpots), [jackpot_id]).rowcount
        connection.execute(
            sql.SQL(
                "INSERT INTO {} (jackpot_id, name, operator, owner, status, card_sha256, model_versions, created_at) "
                "VALUES (%s, %s, %s, coalesce(%s, current_user), 'draft', %s, %s, %s)"
            ).format(jackpots),
            [jackpot_id, jackpot["name"], None if _is_missing(jackpot.get("operator")) else jackpot["operator"],
             None if _is_missing(jackpot.get("owner")) else jackpot["owner"], jackpot["card_sha256"],
             _version_list(jackpot.get("model_versions")), finalised_at],
        )
        stage, _ = _stage(connection, "jackpot_fixtures", fixtures)
        _add_leagues(connection, sorted({lg for lg in fixtures["league"] if not _is_missing(lg)}))
        _add_teams(connection, stage, [("league", "resolved_home_team"), ("league", "resolved_away_team")])
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in fixtures.columns)
        n_fixtures = connection.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(sql.Identifier(SCHEMA, "jackpot_fixtures"), columns, columns, stage)
        ).rowcount
        # the published match a resolved fixture is, when jackpot.matches holds it
        connection.execute(
            sql.SQL(
                "UPDATE {} AS f SET match_id = m.match_id FROM {} AS m WHERE f.jackpot_id = %s AND m.league = f.league "
                "AND m.home_team = f.resolved_home_team AND m.away_team = f.resolved_away_team AND m.match_date = f.kickoff::date"
            ).format(sql.Identifier(SCHEMA, "jackpot_fixtures"), sql.Identifier(SCHEMA, "matches")),
            [jackpot_id],
        )
        stage, _ = _stage(connection, "predictions", rows)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in rows.columns)
        n_predictions = connection.execute(
            sql.SQL("INSERT INTO {} ({}, match_id) SELECT {}, f.match_id FROM {} AS s JOIN {} AS f USING (jackpot_id, position)").format(
                sql.Identifier(SCHEMA, "predictions"), columns,
                sql.SQL(", ").join(sql.Identifier("s", c) for c in rows.columns), stage,
                sql.Identifier(SCHEMA, "jackpot_fixtures"))
        ).rowcount
        if n_predictions != len(rows):
            raise PublishError(f"jackpot {jackpot_id}: {len(rows)} prediction rows, {n_predictions} with a fixture")
        connection.execute(
            sql.SQL("UPDATE {} SET status = 'finalised', finalised_at = %s WHERE jackpot_id = %s").format(jackpots),
            [finalised_at, jackpot_id],
        )
    return PublishResult("jackpots", partition, rows=1, inserted=1, updated=0, deleted=deleted,
                         extra={"fixtures": n_fixtures, "predictions": n_predictions, "already_finalised": 0})


# --- freshness of the modelled tables and jackpots ----------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """How to tell whether a DuckDB table's partitions are in PostgreSQL: both queries return rows
    (partition columns..., signature values...); a partition is up to date when the multisets of its
    signature rows are equal on both sides (versions hash the data, so equal versions mean equal rows)."""

    source: str  # the DuckDB table
    width: int  # how many leading columns name the partition (0: unpartitioned)
    duckdb: str  # ``{schema}``: the DuckDB schema
    postgres: str


_HAS_PROBABILITIES = " AND ".join(f"coalesce(NOT isnan({c}), false)" for c in PROBABILITY_COLUMNS)
FRESHNESS: dict[str, Freshness] = {
    "team_strength_snapshots": Freshness(
        "team_strength_snapshots", 2,
        "SELECT league, season, model_version, count(*) FROM {schema}.team_strength_snapshots GROUP BY ALL",
        "SELECT league, season, model_version, count(*) FROM jackpot.team_strength_snapshots GROUP BY 1, 2, 3",
    ),
    "predictions": Freshness(
        "match_predictions", 2,
        "SELECT league, season, set_id, model_version, calibration_version, count(*) FROM {schema}.match_predictions "
        f"WHERE {_HAS_PROBABILITIES} GROUP BY ALL",
        "SELECT m.league, m.season, p.set_id, p.model_version, p.calibration_version, count(*) FROM jackpot.predictions p "
        "JOIN jackpot.matches m USING (match_id) WHERE p.jackpot_id IS NULL GROUP BY 1, 2, 3, 4, 5",
    ),
    "validation_results": Freshness(
        "validation_reports", 2,
        "SELECT league, season, set_id, n, rps, log_loss, health FROM {schema}.validation_reports",
        "SELECT league, season, set_id::text, n, rps, log_loss, health FROM jackpot.validation_results WHERE league IS NOT NULL",
    ),
    "calibration_data": Freshness(
        "calibration_curves", 1,
        "SELECT season, league, calibration_version, count(*) FROM {schema}.calibration_curves GROUP BY ALL",
        "SELECT season, league, calibration_version, count(*) FROM jackpot.calibration_data GROUP BY 1, 2, 3",
    ),
    "models": Freshness(
        "model_registry", 0,
        "SELECT model_version, arg_max(status, event_id) FROM {schema}.model_registry GROUP BY model_version",
        "SELECT model_version, status FROM jackpot.models",
    ),
    "training_runs": Freshness(
        "training_runs", 0,
        "SELECT run_id, model_version FROM {schema}.training_runs",
        "SELECT run_id, model_version FROM jackpot.training_runs",
    ),
    "jackpots": Freshness(
        "jackpots", 1,
        "SELECT jackpot_id, card_sha256, status FROM {schema}.jackpots",
        "SELECT jackpot_id, card_sha256, status FROM jackpot.jackpots",
    ),
}


def _plain_value(value: object) -> object:
    if not isinstance(value, list | tuple | np.ndarray | dict) and _is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def signatures(rows: Iterable[Sequence[object]], width: int) -> dict[tuple, list[tuple]]:
    """{partition: sorted signature rows}; NaN, NULL and numpy scalars normalised so both sides compare."""
    grouped: dict[tuple, list[tuple]] = {}
    for row in rows:
        values = tuple(_plain_value(v) for v in row)
        grouped.setdefault(values[:width], []).append(values[width:])
    return {key: sorted(items, key=repr) for key, items in grouped.items()}


def stale_signatures(
    connection: psycopg.Connection, freshness: Freshness, duckdb_rows: Iterable[Sequence[object]]
) -> list[tuple]:
    """The partitions (tuples of partition values; ``()`` when unpartitioned) whose DuckDB signature
    differs from PostgreSQL's."""
    warehouse = signatures(duckdb_rows, freshness.width)
    published = signatures(connection.execute(freshness.postgres).fetchall(), freshness.width)
    return sorted((key for key, rows in warehouse.items() if published.get(key) != rows), key=repr)
