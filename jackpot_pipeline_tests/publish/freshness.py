"""The tests' oracle of whether PostgreSQL holds what the local warehouse holds: the ingested partitions
by their data version, the modelled tables and jackpots by signatures compared partition by partition
(the pipeline itself plans publishing by input fingerprints, see ``jackpot_pipeline.planning``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from jackpot_pipeline.publish import SCHEMA
from jackpot_pipeline.publish.values import is_missing
from jackpot_pipeline_tests.publish.expected import HAS_PROBABILITIES


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


@dataclass(frozen=True)
class Freshness:
    """How to tell whether a DuckDB table's partitions are in PostgreSQL: both queries return rows
    (partition columns..., signature values...); a partition is up to date when the multisets of its
    signature rows are equal on both sides (versions hash the data, so equal versions mean equal rows)."""

    source: str  # the DuckDB table
    width: int  # how many leading columns name the partition (0: unpartitioned)
    duckdb: str  # ``{schema}``: the DuckDB schema
    postgres: str


FRESHNESS: dict[str, Freshness] = {
    "team_strength_snapshots": Freshness(
        "team_strength_snapshots", 2,
        "SELECT league, season, model_version, count(*) FROM {schema}.team_strength_snapshots GROUP BY ALL",
        "SELECT league, season, model_version, count(*) FROM jackpot.team_strength_snapshots GROUP BY 1, 2, 3",
    ),
    "match_predictions": Freshness(
        "match_predictions", 2,
        "SELECT league, season, set_id, model_version, calibration_version, count(*) FROM {schema}.match_predictions "
        f"WHERE {HAS_PROBABILITIES} GROUP BY ALL",
        "SELECT m.league, m.season, p.set_id, p.model_version, p.calibration_version, count(*) FROM jackpot.match_predictions p "
        "JOIN jackpot.matches m USING (match_id) WHERE p.jackpot_id IS NULL GROUP BY 1, 2, 3, 4, 5",
    ),
    "validation_reports": Freshness(
        "validation_reports", 2,
        "SELECT league, season, set_id, n, rps, log_loss, health FROM {schema}.validation_reports",
        "SELECT league, season, set_id::text, n, rps, log_loss, health FROM jackpot.validation_reports WHERE league IS NOT NULL",
    ),
    "calibration_curves": Freshness(
        "calibration_curves", 1,
        "SELECT season, league, calibration_version, count(*) FROM {schema}.calibration_curves GROUP BY ALL",
        "SELECT season, league, calibration_version, count(*) FROM jackpot.calibration_curves GROUP BY 1, 2, 3",
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
    if not isinstance(value, list | tuple | np.ndarray | dict) and is_missing(value):
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
