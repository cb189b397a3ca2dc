"""Ingestion assets: one step per league × season reads its source file and writes raw, canonical,
quarantined rows and the ingestion log to the DuckDB warehouse, then checks what was stored."""


import datetime as dt
import json

import pandas as pd
from dagster import (
    AllPartitionMapping,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    DataVersion,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from jackpot_pipeline.defs.ingestion.partitions import league_season_partitions
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseResource
from jackpot_pipeline.sources import quality
from jackpot_pipeline.sources.catalog import PartitionSource, slice_fingerprint
from jackpot_pipeline.sources.football_data import (
    PARSER_VERSION,
    CanonicalResult,
    ParsedSource,
    canonicalise,
    parse_source,
    partition_rows,
    source_coverage,
)
from jackpot_pipeline.sources.leagues import SeasonError, check_season_key, is_extra_league, source_relpath
from jackpot_pipeline.sources.revisions import diff_matches, withdraw_partition, withdrawn_matches
from jackpot_pipeline.sources.teams import build_team_registry
from jackpot_pipeline.sources.warehouse_schema import INGESTION_LOG_COLUMNS, TABLE_COLUMNS, create_table_sql

PARTITION_EXPR = {"league": "league", "season": "season"}
INGESTION_TABLES = ("raw_matches", "canonical_matches", "quarantined_rows", "ingestion_log", "withdrawn_matches")
_DESCRIPTIONS = {
    "raw_matches": "Every data line of the source file as text, with its path, sha256, line number and snapshot date.",
    "canonical_matches": "Typed matches (teams, goals, result, half-time, shots, chosen 1X2 odds) with a stable match_id.",
    "quarantined_rows": "Rejected lines with a reason code, the offending field and value.",
    "ingestion_log": "One row per ingested version of the partition's source: what was inserted, updated, removed.",
    "withdrawn_matches": "Matches a revision of the source removed: their last canonical row, when, by which version, why.",
}
_CHECKS = {
    "unique_match_id": "match_id is unique within the partition",
    "goals_consistent": "goals are non-negative integers consistent with the H/D/A result",
    "odds_plausible": "present 1X2 odds are >= 1.01 with overround in a plausible band",
    "dates_in_season": "every match is dated inside its season",
    "rows_accounted": "canonical + quarantined + blank lines = data lines of the source partition",
}


@multi_asset(
    name="ingest_league_season",
    outs={
        name: AssetOut(
            io_manager_key="warehouse_io_manager",
            metadata={"partition_expr": PARTITION_EXPR},
            code_version=PARSER_VERSION,
            description=_DESCRIPTIONS[name],
            group_name="ingestion",
                )
        for name in INGESTION_TABLES
    },
    internal_asset_deps={
        "raw_matches": set(),
        "canonical_matches": {AssetKey("raw_matches")},
        "quarantined_rows": {AssetKey("raw_matches")},
        "ingestion_log": {AssetKey("canonical_matches"), AssetKey("quarantined_rows")},
        "withdrawn_matches": {AssetKey("canonical_matches")},
    },
    check_specs=[
        AssetCheckSpec(name, asset="canonical_matches", description=description, blocking=True)
        for name, description in _CHECKS.items()
    ],
    partitions_def=league_season_partitions,
    pool="duckdb",
    can_subset=False,
)
def ingest_league_season(context: AssetExecutionContext, raw_files: RawFilesResource, warehouse: WarehouseResource):
    keys = context.partition_key.keys_by_dimension  # type: ignore[union-attr]
    league, season = keys["league"], keys["season"]
    partition = {"league": league, "season": season}
    _ensure_tables(warehouse)
    try:
        check_season_key(league, season)
    except SeasonError as error:
        # league and season are independent dynamic dimensions, so E0|2014 exists as a key
        yield from _empty_partition(warehouse, partition, f"no data: {error}")
        return
    relpath = source_relpath(league, season)
    if not raw_files.exists(relpath):
        raise FileNotFoundError(
            f"partition {league}|{season}: source file {raw_files.root / relpath} does not exist; "
            "run `jackpot-pipeline fetch` (stored rows were left as they are)"
        )
    # A file that is not a football-data CSV raises here, before anything stored is touched.
    parsed = parse_source(raw_files.read_bytes(relpath), relpath)
    slices = partition_rows(parsed, league, None if is_extra_league(league) else season)
    if season not in slices:
        yield from _empty_partition(warehouse, partition, f"no data: {relpath} has no rows for season {season}")
        return
    source = PartitionSource(league, season, relpath, parsed.decoded.sha256, slice_fingerprint(parsed, league, season))
    snapshot = raw_files.snapshot_date(relpath, parsed.decoded.sha256)
    result = canonicalise(parsed, slices[season], snapshot_date=snapshot)

    previous_canonical = warehouse.read_partition("canonical_matches", partition)
    previous_log = warehouse.read_partition("ingestion_log", partition)
    diff = diff_matches(previous_canonical, result.canonical)
    log = _ingestion_log(context, parsed, source, snapshot, result, diff, previous_log)
    withdrawn = withdrawn_matches(
        previous_canonical, result.canonical, warehouse.read_partition("withdrawn_matches", partition),
        source_sha256=parsed.decoded.sha256, at=dt.datetime.now(dt.UTC),
    )

    version = DataVersion(source.data_version)
    common = {"source_path": relpath, "source_sha256": parsed.decoded.sha256, "data_version": source.data_version}
    yield Output(result.raw, "raw_matches", data_version=version, metadata={
        **common,
        "bytes": parsed.decoded.n_bytes,
        "encoding": parsed.decoded.encoding,
        "line_ending": parsed.decoded.line_ending,
        "rows": len(result.raw),
        "snapshot_date": snapshot.isoformat(),
    })
    yield Output(result.canonical, "canonical_matches", data_version=version, metadata={
        **common,
        "rows": len(result.canonical),
        "played": int((result.canonical["status"] == "played").sum()),
        "inserted": len(diff.inserted),
        "updated": len(diff.updated),
        "removed": len(diff.removed),
        "rows_with_issues": int(result.canonical["issues"].notna().sum()),
        "coverage_gaps": MetadataValue.json(source_coverage(parsed)),
        "odds_sources": MetadataValue.json(result.canonical["odds_source"].value_counts(dropna=False).rename(str).to_dict()),
    })
    yield Output(result.quarantined, "quarantined_rows", data_version=version, metadata={
        **common,
        "rows": len(result.quarantined),
        "reasons": MetadataValue.json(result.quarantined["reason"].value_counts().to_dict()),
    })
    yield Output(log, "ingestion_log", data_version=version, metadata={
        **common,
        "versions_logged": len(log),
        "change": str(log["change"].iloc[-1]),
    })
    yield Output(withdrawn, "withdrawn_matches", data_version=version, metadata={**common, "rows": len(withdrawn)})
    yield from _check_stored_partition(warehouse, partition, expected_lines=len(slices[season].rows))


def _empty_partition(warehouse: WarehouseResource, partition: dict[str, str], note: str):
    """A key combination without source rows: stored as an empty partition, said so in metadata.
    Matches stored before, if any, are withdrawn (kept in withdrawn_matches), never dropped."""
    withdrawn = withdraw_partition(
        warehouse.read_partition("canonical_matches", partition), warehouse.read_partition("withdrawn_matches", partition),
        at=dt.datetime.now(dt.UTC),
    )
    version = DataVersion(f"empty-{PARSER_VERSION}")
    for table in ("raw_matches", "canonical_matches", "quarantined_rows"):
        empty = pd.DataFrame({name: pd.Series(dtype="object") for name, _ in TABLE_COLUMNS[table]})
        yield Output(empty, table, data_version=version, metadata={"rows": 0, "note": note})
    history = warehouse.read_partition("ingestion_log", partition)
    history = history[INGESTION_LOG_COLUMNS] if history is not None else pd.DataFrame(columns=INGESTION_LOG_COLUMNS)
    yield Output(history, "ingestion_log", data_version=version, metadata={"versions_logged": len(history), "note": note})
    yield Output(withdrawn, "withdrawn_matches", data_version=version, metadata={"rows": len(withdrawn), "note": note})
    yield from _check_stored_partition(warehouse, partition, expected_lines=0)


def _check_stored_partition(warehouse: WarehouseResource, partition: dict[str, str], expected_lines: int):
    """Checked on what the warehouse now holds, not on the frames in memory."""
    stored = {}
    for table in ("raw_matches", "canonical_matches", "quarantined_rows"):
        frame = warehouse.read_partition(table, partition)
        stored[table] = frame if frame is not None else pd.DataFrame(columns=[c for c, _ in TABLE_COLUMNS[table]])
    canonical = stored["canonical_matches"]
    outcomes = {
        "unique_match_id": quality.unique_match_ids(canonical),
        "goals_consistent": quality.goals_consistent(canonical),
        "odds_plausible": quality.odds_plausible(canonical),
        "dates_in_season": quality.dates_in_season(canonical, partition["league"], partition["season"]),
        "rows_accounted": quality.rows_accounted(
            stored["raw_matches"], canonical, stored["quarantined_rows"], expected_lines
        ),
    }
    for name, outcome in outcomes.items():
        yield AssetCheckResult(
            check_name=name,
            asset_key="canonical_matches",
            passed=outcome.passed,
            severity=AssetCheckSeverity.ERROR,
            description=outcome.description,
            metadata={"failures": outcome.failures, "examples": MetadataValue.json(outcome.examples)},
        )


def _ensure_tables(warehouse: WarehouseResource) -> None:
    with warehouse.connect() as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {warehouse.schema_name}")
        for table in INGESTION_TABLES:
            connection.execute(create_table_sql(warehouse.schema_name, table))


def _ingestion_log(
    context: AssetExecutionContext,
    parsed: ParsedSource,
    source: PartitionSource,
    snapshot: dt.date,
    result: CanonicalResult,
    diff,
    previous_log: pd.DataFrame | None,
) -> pd.DataFrame:
    """The partition's whole log: earlier versions plus this one when its bytes are new.

    The IO manager rewrites a partition as a whole, so the history is carried forward here.
    """
    history = previous_log[INGESTION_LOG_COLUMNS] if previous_log is not None else pd.DataFrame(columns=INGESTION_LOG_COLUMNS)
    history = history.sort_values("ingested_at", kind="stable")
    last = history.iloc[-1] if len(history) else None
    if last is not None and last["data_version"] == source.data_version:
        return history.reset_index(drop=True)  # same bytes, same parser: nothing new to log
    entry = {
        "league": source.league,
        "season": source.season,
        "source_path": source.relpath,
        "snapshot_date": pd.Timestamp(snapshot),
        "source_sha256": source.file_sha256,
        "previous_sha256": None if last is None else last["source_sha256"],
        "partition_fingerprint": source.fingerprint,
        "data_version": source.data_version,
        "change": "new" if last is None else "changed",
        "ingested_at": pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        "run_id": context.run.run_id,
        "encoding": parsed.decoded.encoding,
        "line_ending": parsed.decoded.line_ending,
        "source_bytes": parsed.decoded.n_bytes,
        "header": ",".join(parsed.header),
        "rows_loaded": len(result.raw),
        "rows_canonical": len(result.canonical),
        "rows_inserted": len(diff.inserted),
        "rows_updated": len(diff.updated),
        "rows_removed": len(diff.removed),
        "rows_unchanged": diff.unchanged,
        "rows_quarantined": len(result.quarantined),
        "rows_blank": result.blank_rows,
        "changed_match_ids": json.dumps(diff.as_dict() if last is not None else {"inserted": len(diff.inserted)}),
    }
    return pd.concat([history, pd.DataFrame([entry])], ignore_index=True)[INGESTION_LOG_COLUMNS]


@asset(
    ins={"canonical_matches": AssetIn(partition_mapping=AllPartitionMapping(), metadata={"columns": ["league", "season", "home_team", "away_team"]})},
    io_manager_key="warehouse_io_manager",
    group_name="ingestion",
    pool="duckdb",
    code_version="1",
    description="Canonical team names per league with their aliases (curated table + normalised forms).",
)
def teams(context: AssetExecutionContext, canonical_matches: pd.DataFrame) -> Output[pd.DataFrame]:
    registry = build_team_registry(canonical_matches)
    return Output(registry, metadata={
        "leagues": int(registry["league"].nunique()),
        "teams": int(registry[["league", "team"]].drop_duplicates().shape[0]),
        "aliases": len(registry),
    })
