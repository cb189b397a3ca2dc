"""One league × season partition from its source file: raw, canonical and quarantined rows, the partition's
ingestion log (history carried forward), its data version and the quality checks of what was stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from dataclasses import dataclass, field

import pandas as pd

from jackpot_pipeline.sources import quality
from jackpot_pipeline.sources.catalog import PartitionSource, slice_fingerprint
from jackpot_pipeline.sources.fetch import sha256_bytes
from jackpot_pipeline.sources.football_data import (
    PARSER_VERSION,
    ParsedSource,
    canonicalise,
    parse_source,
    partition_rows,
    source_coverage,
)
from jackpot_pipeline.sources.leagues import SeasonError, check_season_key, is_extra_league, source_relpath
from jackpot_pipeline.sources.revisions import diff_matches, withdraw_partition, withdrawn_matches
from jackpot_pipeline.sources.warehouse_schema import INGESTION_LOG_COLUMNS, TABLE_COLUMNS

INGESTION_TABLES = ("raw_matches", "canonical_matches", "quarantined_rows", "ingestion_log", "withdrawn_matches")
QUALITY_CHECKS = {
    "unique_match_id": "match_id is unique within the partition",
    "goals_consistent": "goals are non-negative integers consistent with the H/D/A result",
    "odds_plausible": "present 1X2 odds are >= 1.01 with overround in a plausible band",
    "dates_in_season": "every match is dated inside its season",
    "rows_accounted": "canonical + quarantined + blank lines = data lines of the source partition",
}


class MissingSourceFile(FileNotFoundError):
    """The partition's source file is not in the raw folder."""


@dataclass(frozen=True)
class IngestedPartition:
    league: str
    season: str
    tables: dict[str, pd.DataFrame]  # the four ingestion tables
    data_version: str
    metadata: dict[str, dict[str, object]]  # per table
    expected_lines: int
    source_version: str = ""  # what the planner knows the source by (the slice's version, or its absence)

    @property
    def partition(self) -> str:
        return f"{self.league}|{self.season}"

    def without_tables(self) -> IngestedPartition:
        """The same result without its frames (what a worker process hands back once they are stored)."""
        return dataclasses.replace(self, tables={})


@dataclass(frozen=True)
class SourceBytes:
    relpath: str
    data: bytes
    snapshot_date: dt.date | None = None  # when the bytes were fetched (None: unknown yet)
    extra: dict[str, object] = field(default_factory=dict)


def empty_table(name: str) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column, _ in TABLE_COLUMNS[name]})


def ingest_partition(
    league: str,
    season: str,
    source: SourceBytes | None,
    *,
    previous_canonical: pd.DataFrame | None,
    previous_log: pd.DataFrame | None,
    previous_withdrawn: pd.DataFrame | None = None,
    run_id: str,
    now: dt.datetime,
) -> IngestedPartition:
    """Parse and canonicalise the partition's rows of ``source``.

    Raises :class:`MissingSourceFile` when there is no source, and the parser's ``SourceFormatError`` when
    the bytes are not a football-data file: both before anything is written, so the stored partition stays.
    A partition whose file has no rows for the season is stored empty, with a note, its earlier matches
    withdrawn (see :mod:`jackpot_pipeline.sources.revisions`: nothing is dropped silently).
    """
    try:
        check_season_key(league, season)
    except SeasonError as error:
        return _empty(league, season, previous_canonical, previous_log, previous_withdrawn, now, f"no data: {error}")
    if source is None:
        raise MissingSourceFile(f"partition {league}|{season}: source file {source_relpath(league, season)} does not "
                                "exist; run `jackpot-pipeline fetch` (stored rows were left as they are)")
    parsed, slices = _parsed_slices(source.data, source.relpath, league, None if is_extra_league(league) else season)
    if season not in slices:
        return _empty(league, season, previous_canonical, previous_log, previous_withdrawn, now,
                      f"no data: {source.relpath} has no rows for season {season}",
                      source_version=absent_slice_version(parsed.decoded.sha256))
    partition = PartitionSource(league, season, source.relpath, parsed.decoded.sha256,
                                slice_fingerprint(parsed, league, season, slices[season].rows))
    snapshot = source.snapshot_date or now.date()
    result = canonicalise(parsed, slices[season], snapshot_date=snapshot)
    diff = diff_matches(previous_canonical, result.canonical)
    log = ingestion_log(parsed, partition, snapshot, result, diff, previous_log, run_id=run_id, now=now)
    withdrawn = withdrawn_matches(previous_canonical, result.canonical, previous_withdrawn,
                                  source_sha256=parsed.decoded.sha256, at=now)
    common = {"source_path": source.relpath, "source_sha256": parsed.decoded.sha256, "data_version": partition.data_version}
    canonical = result.canonical
    return IngestedPartition(
        league, season,
        {"raw_matches": result.raw, "canonical_matches": canonical, "quarantined_rows": result.quarantined,
         "ingestion_log": log, "withdrawn_matches": withdrawn},
        partition.data_version,
        {
            "raw_matches": {**common, "bytes": parsed.decoded.n_bytes, "encoding": parsed.decoded.encoding,
                            "line_ending": parsed.decoded.line_ending, "rows": len(result.raw),
                            "snapshot_date": snapshot.isoformat()},
            "canonical_matches": {
                **common, "rows": len(canonical), "played": int((canonical["status"] == "played").sum()),
                "inserted": len(diff.inserted), "updated": len(diff.updated), "removed": len(diff.removed),
                "rows_with_issues": int(canonical["issues"].notna().sum()),
                "coverage_gaps": source_coverage(parsed),
                "odds_sources": canonical["odds_source"].value_counts(dropna=False).rename(str).to_dict(),
            },
            "quarantined_rows": {**common, "rows": len(result.quarantined),
                                 "reasons": result.quarantined["reason"].value_counts().to_dict()},
            "ingestion_log": {**common, "versions_logged": len(log), "change": str(log["change"].iloc[-1])},
            "withdrawn_matches": {**common, "rows": len(withdrawn)},
        },
        expected_lines=len(slices[season].rows),
        source_version=partition.data_version,
    )


@functools.lru_cache(maxsize=2)
def _parsed_slices(data: bytes, relpath: str, league: str, season: str | None):
    """Parsed once per process for all the seasons of one multi-season file (its partitions are ingested one
    after the other); a season file is parsed for its one partition. Keyed on the bytes, so a changed file
    is parsed again."""
    parsed = parse_source(data, relpath)
    return parsed, partition_rows(parsed, league, season)


def _empty(league: str, season: str, previous_canonical: pd.DataFrame | None, previous_log: pd.DataFrame | None,
           previous_withdrawn: pd.DataFrame | None, now: dt.datetime, note: str,
           source_version: str = "no-season") -> IngestedPartition:
    history = previous_log[INGESTION_LOG_COLUMNS] if previous_log is not None else empty_table("ingestion_log")
    # withdrawn as a whole, with no source version: none holds the partition any more (same in PostgreSQL)
    withdrawn = withdraw_partition(previous_canonical, previous_withdrawn, at=now)
    tables = {name: empty_table(name) for name in INGESTION_TABLES[:3]}
    tables["ingestion_log"] = history
    tables["withdrawn_matches"] = withdrawn
    metadata = {name: {"rows": 0, "note": note} for name in INGESTION_TABLES[:3]}
    metadata["ingestion_log"] = {"versions_logged": len(history), "note": note}
    metadata["withdrawn_matches"] = {"rows": len(withdrawn), "note": note}
    return IngestedPartition(league, season, tables, f"empty-{PARSER_VERSION}", metadata, expected_lines=0,
                             source_version=source_version)


def absent_slice_version(file_sha256: str) -> str:
    """The source version of a partition a multi-season file no longer holds (its matches are withdrawn)."""
    return f"absent-{file_sha256[:24]}"


def ingestion_log(
    parsed: ParsedSource,
    source: PartitionSource,
    snapshot: dt.date,
    result,
    diff,
    previous_log: pd.DataFrame | None,
    *,
    run_id: str,
    now: dt.datetime,
) -> pd.DataFrame:
    """The partition's whole log: earlier versions plus this one when its bytes are new (a partition file is
    rewritten whole, so the history is carried forward here)."""
    history = previous_log[INGESTION_LOG_COLUMNS] if previous_log is not None else empty_table("ingestion_log")
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
        "ingested_at": pd.Timestamp(now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now),
        "run_id": run_id,
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
    rows = [history, pd.DataFrame([entry])] if len(history) else [pd.DataFrame([entry])]
    return pd.concat(rows, ignore_index=True)[INGESTION_LOG_COLUMNS]


def check_stored(tables: dict[str, pd.DataFrame | None], league: str, season: str,
                 expected_lines: int) -> dict[str, quality.QualityResult]:
    """The quality checks, run on what the warehouse holds now (not on the frames in memory)."""
    stored = {name: frame if frame is not None else empty_table(name) for name, frame in tables.items()}
    canonical = stored["canonical_matches"]
    return {
        "unique_match_id": quality.unique_match_ids(canonical),
        "goals_consistent": quality.goals_consistent(canonical),
        "odds_plausible": quality.odds_plausible(canonical),
        "dates_in_season": quality.dates_in_season(canonical, league, season),
        "rows_accounted": quality.rows_accounted(stored["raw_matches"], canonical, stored["quarantined_rows"],
                                                 expected_lines),
    }


def ingest_into(root: str, raw_dir: str, partition: str, *, run_id: str, now: dt.datetime):
    """Ingest one partition from ``raw_dir`` into the warehouse at ``root`` and check what was stored.

    Returns (the partition's :class:`IngestedPartition`, {check: QualityResult})."""
    from pathlib import Path

    from jackpot_pipeline.sources.fetch import snapshot_date
    from jackpot_pipeline.warehouse.store import Warehouse

    store = Warehouse(root)
    league, season = partition.split("|", 1)
    relpath = source_relpath(league, None if is_extra_league(league) else season)
    path = Path(raw_dir) / relpath
    source = None
    if path.is_file():
        data = path.read_bytes()
        source = SourceBytes(relpath, data, snapshot_date(Path(raw_dir), relpath, sha256_bytes(data)))
    ingested = ingest_partition(league, season, source, previous_canonical=store.read("canonical_matches", partition),
                                previous_log=store.read("ingestion_log", partition),
                                previous_withdrawn=store.read("withdrawn_matches", partition), run_id=run_id, now=now)
    for name in INGESTION_TABLES:
        store.write(name, ingested.tables[name], partition)
    stored = {name: store.read(name, partition) for name in INGESTION_TABLES[:3]}
    return ingested.without_tables(), check_stored(stored, league, season, ingested.expected_lines)
