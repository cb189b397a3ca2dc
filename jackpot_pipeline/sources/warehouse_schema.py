"""Column types of the ingestion tables in the DuckDB warehouse.

Tables are created from this DDL before the first write: the DuckDB IO manager would otherwise
infer types from whichever partition comes first (an all-empty ``kickoff_time`` in a 2018 file
would become an INTEGER column) and it inserts by position, so frames keep exactly this order.
"""

from __future__ import annotations

from jackpot_pipeline.sources.football_data import CANONICAL_COLUMNS, QUARANTINE_COLUMNS, RAW_COLUMNS
from jackpot_pipeline.sources.revisions import WITHDRAWN_COLUMNS

TABLE_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "raw_matches": [
        ("league", "VARCHAR NOT NULL"), ("season", "VARCHAR NOT NULL"), ("source_path", "VARCHAR NOT NULL"),
        ("source_sha256", "VARCHAR NOT NULL"), ("source_row", "BIGINT NOT NULL"), ("snapshot_date", "DATE NOT NULL"),
        ("row_kind", "VARCHAR NOT NULL"), ("raw_line", "VARCHAR NOT NULL"),
    ],
    "canonical_matches": [
        ("match_id", "VARCHAR NOT NULL"), ("league", "VARCHAR NOT NULL"), ("season", "VARCHAR NOT NULL"),
        ("competition", "VARCHAR"), ("match_date", "DATE NOT NULL"), ("kickoff_time", "VARCHAR"),
        ("home_team", "VARCHAR NOT NULL"), ("away_team", "VARCHAR NOT NULL"),
        ("source_home_team", "VARCHAR NOT NULL"), ("source_away_team", "VARCHAR NOT NULL"),
        ("status", "VARCHAR NOT NULL"), ("home_goals", "INTEGER"), ("away_goals", "INTEGER"), ("result", "VARCHAR"),
        ("ht_home_goals", "INTEGER"), ("ht_away_goals", "INTEGER"), ("ht_result", "VARCHAR"),
        ("home_shots", "INTEGER"), ("away_shots", "INTEGER"),
        ("home_shots_on_target", "INTEGER"), ("away_shots_on_target", "INTEGER"),
        ("odds_home", "DOUBLE"), ("odds_draw", "DOUBLE"), ("odds_away", "DOUBLE"), ("odds_source", "VARCHAR"),
        ("closing_odds_home", "DOUBLE"), ("closing_odds_draw", "DOUBLE"), ("closing_odds_away", "DOUBLE"),
        ("closing_odds_source", "VARCHAR"), ("issues", "VARCHAR"),
        ("source_path", "VARCHAR NOT NULL"), ("source_sha256", "VARCHAR NOT NULL"), ("source_row", "BIGINT NOT NULL"),
    ],
    "quarantined_rows": [
        ("league", "VARCHAR NOT NULL"), ("season", "VARCHAR NOT NULL"), ("source_path", "VARCHAR NOT NULL"),
        ("source_sha256", "VARCHAR NOT NULL"), ("source_row", "BIGINT NOT NULL"), ("reason", "VARCHAR NOT NULL"),
        ("field", "VARCHAR NOT NULL"), ("value", "VARCHAR"), ("message", "VARCHAR NOT NULL"), ("raw_line", "VARCHAR NOT NULL"),
    ],
    "ingestion_log": [
        ("league", "VARCHAR NOT NULL"), ("season", "VARCHAR NOT NULL"), ("source_path", "VARCHAR NOT NULL"),
        ("snapshot_date", "DATE NOT NULL"), ("source_sha256", "VARCHAR NOT NULL"), ("previous_sha256", "VARCHAR"),
        ("partition_fingerprint", "VARCHAR NOT NULL"), ("data_version", "VARCHAR NOT NULL"),
        ("change", "VARCHAR NOT NULL"), ("ingested_at", "TIMESTAMP NOT NULL"), ("run_id", "VARCHAR NOT NULL"),
        ("encoding", "VARCHAR NOT NULL"), ("line_ending", "VARCHAR NOT NULL"), ("source_bytes", "BIGINT NOT NULL"),
        ("header", "VARCHAR NOT NULL"),
        ("rows_loaded", "BIGINT NOT NULL"), ("rows_canonical", "BIGINT NOT NULL"), ("rows_inserted", "BIGINT NOT NULL"),
        ("rows_updated", "BIGINT NOT NULL"), ("rows_removed", "BIGINT NOT NULL"), ("rows_unchanged", "BIGINT NOT NULL"),
        ("rows_quarantined", "BIGINT NOT NULL"), ("rows_blank", "BIGINT NOT NULL"), ("changed_match_ids", "VARCHAR NOT NULL"),
    ],
}

# A match a revision removed: its last canonical row and when, by which source version and why
# (jackpot_pipeline.sources.revisions).
TABLE_COLUMNS["withdrawn_matches"] = [
    *TABLE_COLUMNS["canonical_matches"],
    ("withdrawn_at", "TIMESTAMP NOT NULL"), ("withdrawn_by_sha256", "VARCHAR"), ("withdrawn_reason", "VARCHAR NOT NULL"),
]

assert [name for name, _ in TABLE_COLUMNS["raw_matches"]] == RAW_COLUMNS
assert [name for name, _ in TABLE_COLUMNS["withdrawn_matches"]] == WITHDRAWN_COLUMNS
assert [name for name, _ in TABLE_COLUMNS["canonical_matches"]] == CANONICAL_COLUMNS
assert [name for name, _ in TABLE_COLUMNS["quarantined_rows"]] == QUARANTINE_COLUMNS

INGESTION_LOG_COLUMNS = [name for name, _ in TABLE_COLUMNS["ingestion_log"]]


def create_table_sql(schema: str, table: str) -> str:
    columns = ",\n    ".join(f"{name} {kind}" for name, kind in TABLE_COLUMNS[table])
    return f"CREATE TABLE IF NOT EXISTS {schema}.{table} (\n    {columns}\n)"
