"""Warehouse tables of the jackpot feature, with explicit DDL, and the SQL that reads and writes them.

``jackpots`` and ``jackpot_predictions`` are append-only: a finalised jackpot is written once, in one
transaction, and never updated (primary keys make a second copy impossible). ``jackpot_validation``
and ``jackpot_results`` are derived from results that arrive later, so one jackpot's rows are replaced
(delete + insert in one transaction) each time it is validated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import duckdb
import pandas as pd

from jackpot_pipeline.jackpots.predict import PREDICTION_COLUMNS

__all__ = [
    "JACKPOT_COLUMNS",
    "RESULT_COLUMNS",
    "TABLES",
    "VALIDATION_COLUMNS",
    "ensure_tables",
    "insert_finalised",
    "read_jackpot",
    "read_predictions",
    "replace_validation",
    "table_exists",
]

SCHEMA: Final = "main"

TABLES: Final[dict[str, str]] = {
    "jackpots": """
        CREATE TABLE IF NOT EXISTS {schema}.jackpots (
            jackpot_id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            operator VARCHAR,
            owner VARCHAR,
            card_path VARCHAR NOT NULL,
            card_sha256 VARCHAR NOT NULL,
            card_json VARCHAR NOT NULL,           -- the card as read (JSON card format + positions)
            n_fixtures INTEGER NOT NULL,
            model_versions VARCHAR NOT NULL,      -- JSON object: "league|season@as_of" -> model_version
            calibration_versions VARCHAR NOT NULL,  -- JSON object: "league|season" -> version or "none"
            content_sha256 VARCHAR NOT NULL,      -- sha256 of the prediction rows
            code_version VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            finalised_at TIMESTAMP NOT NULL,      -- UTC
            status VARCHAR NOT NULL CHECK (status = 'finalised')
        )""",
    "jackpot_predictions": """
        CREATE TABLE IF NOT EXISTS {schema}.jackpot_predictions (
            jackpot_id VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            set_id VARCHAR NOT NULL,
            home_team_card VARCHAR NOT NULL,      -- as written on the card
            away_team_card VARCHAR NOT NULL,
            home_team VARCHAR,                    -- canonical (NULL when unresolved)
            away_team VARCHAR,
            league VARCHAR,
            season VARCHAR,
            kickoff TIMESTAMP NOT NULL,           -- operator's local wall-clock time
            kickoff_text VARCHAR NOT NULL,        -- as on the card, ISO 8601 with its offset if any
            mode VARCHAR NOT NULL CHECK (mode IN ('model', 'market_only', 'league_prior')),
            prob_home DOUBLE NOT NULL,
            prob_draw DOUBLE NOT NULL,
            prob_away DOUBLE NOT NULL,
            pick VARCHAR NOT NULL,
            entropy_bits DOUBLE NOT NULL,
            confidence VARCHAR NOT NULL CHECK (confidence IN ('high', 'medium', 'low')),
            lambda_home DOUBLE,
            lambda_away DOUBLE,
            snapshot_league VARCHAR,
            snapshot_season VARCHAR,
            snapshot_as_of DATE,
            model_version VARCHAR,
            calibration_version VARCHAR,
            flags VARCHAR NOT NULL,
            warnings VARCHAR NOT NULL,            -- JSON list of strings
            explanation VARCHAR NOT NULL,         -- JSON
            odds_home DOUBLE, odds_draw DOUBLE, odds_away DOUBLE,
            market_home DOUBLE, market_draw DOUBLE, market_away DOUBLE,
            edge_home DOUBLE, edge_draw DOUBLE, edge_away DOUBLE,
            kelly_home DOUBLE, kelly_draw DOUBLE, kelly_away DOUBLE,
            run_id VARCHAR NOT NULL,
            finalised_at TIMESTAMP NOT NULL,
            PRIMARY KEY (jackpot_id, position, set_id)
        )""",
    "jackpot_validation": """
        CREATE TABLE IF NOT EXISTS {schema}.jackpot_validation (
            jackpot_id VARCHAR NOT NULL,
            set_id VARCHAR NOT NULL,
            n_fixtures INTEGER NOT NULL,
            n_scored INTEGER NOT NULL,
            correct_picks INTEGER NOT NULL,
            all_correct BOOLEAN NOT NULL,
            brier DOUBLE,
            log_loss DOUBLE,
            rps DOUBLE,
            picks VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            validated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (jackpot_id, set_id)
        )""",
    "jackpot_results": """
        CREATE TABLE IF NOT EXISTS {schema}.jackpot_results (
            jackpot_id VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            result VARCHAR,                       -- H, D, A or NULL (no result yet)
            source VARCHAR,                       -- results_file, matches or NULL
            detail VARCHAR NOT NULL,
            notes VARCHAR NOT NULL,               -- JSON list
            run_id VARCHAR NOT NULL,
            validated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (jackpot_id, position)
        )""",
}

JACKPOT_COLUMNS: Final = [
    "jackpot_id", "name", "operator", "owner", "card_path", "card_sha256", "card_json", "n_fixtures",
    "model_versions", "calibration_versions", "content_sha256", "code_version", "run_id", "finalised_at", "status",
]
STORED_PREDICTION_COLUMNS: Final = [*PREDICTION_COLUMNS, "run_id", "finalised_at"]
VALIDATION_COLUMNS: Final = [
    "jackpot_id", "set_id", "n_fixtures", "n_scored", "correct_picks", "all_correct", "brier", "log_loss", "rps",
    "picks", "run_id", "validated_at",
]
RESULT_COLUMNS: Final = ["jackpot_id", "position", "result", "source", "detail", "notes", "run_id", "validated_at"]


def table_exists(connection: duckdb.DuckDBPyConnection, table: str, schema: str = SCHEMA) -> bool:
    found = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchone()
    return bool(found and found[0])


def ensure_tables(connection: duckdb.DuckDBPyConnection, schema: str = SCHEMA) -> None:
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for ddl in TABLES.values():
        connection.execute(ddl.format(schema=schema))


def read_jackpot(connection: duckdb.DuckDBPyConnection, jackpot_id: str, schema: str = SCHEMA) -> dict[str, Any] | None:
    """The ``jackpots`` row of ``jackpot_id`` (JSON columns decoded), or None."""
    if not table_exists(connection, "jackpots", schema):
        return None
    frame = connection.execute(f"SELECT * FROM {schema}.jackpots WHERE jackpot_id = ?", [jackpot_id]).df()
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    for column in ("model_versions", "calibration_versions", "card_json"):
        row[column] = json.loads(row[column])
    return row


def read_predictions(connection: duckdb.DuckDBPyConnection, jackpot_id: str, schema: str = SCHEMA) -> pd.DataFrame:
    """Stored prediction rows of one jackpot, by position then set."""
    if not table_exists(connection, "jackpot_predictions", schema):
        return pd.DataFrame(columns=STORED_PREDICTION_COLUMNS)
    return connection.execute(
        f"SELECT * FROM {schema}.jackpot_predictions WHERE jackpot_id = ? ORDER BY position, set_id", [jackpot_id]
    ).df()


def _insert(connection: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, columns: list[str], schema: str) -> None:
    view = f"_incoming_{table}"
    connection.register(view, frame[columns])
    try:
        listed = ", ".join(columns)
        connection.execute(f"INSERT INTO {schema}.{table} ({listed}) SELECT {listed} FROM {view}")
    finally:
        connection.unregister(view)


def insert_finalised(
    connection: duckdb.DuckDBPyConnection, jackpot: Mapping[str, Any], predictions: pd.DataFrame, schema: str = SCHEMA
) -> None:
    """Append the ``jackpots`` row and its prediction rows in one transaction (all or nothing)."""
    header = pd.DataFrame([{
        **jackpot,
        "model_versions": json.dumps(jackpot["model_versions"], sort_keys=True),
        "calibration_versions": json.dumps(jackpot["calibration_versions"], sort_keys=True),
        "card_json": json.dumps(jackpot["card_json"], sort_keys=True, ensure_ascii=False),
    }])
    connection.execute("BEGIN TRANSACTION")
    try:
        _insert(connection, "jackpots", header, JACKPOT_COLUMNS, schema)
        _insert(connection, "jackpot_predictions", predictions, STORED_PREDICTION_COLUMNS, schema)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def replace_validation(
    connection: duckdb.DuckDBPyConnection, jackpot_id: str, scores: pd.DataFrame, results: pd.DataFrame,
    schema: str = SCHEMA,
) -> None:
    """Replace one jackpot's validation and result rows in one transaction."""
    connection.execute("BEGIN TRANSACTION")
    try:
        for table, frame, columns in (
            ("jackpot_validation", scores, VALIDATION_COLUMNS), ("jackpot_results", results, RESULT_COLUMNS)
        ):
            connection.execute(f"DELETE FROM {schema}.{table} WHERE jackpot_id = ?", [jackpot_id])
            _insert(connection, table, frame, columns, schema)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
