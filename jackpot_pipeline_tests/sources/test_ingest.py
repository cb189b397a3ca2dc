"""One partition's ingestion as the core computes it: tables, versions, the carried-forward log, withdrawals."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from jackpot_pipeline.sources.catalog import partitions_of_file
from jackpot_pipeline.sources.football_data import PARSER_VERSION, SourceFormatError
from jackpot_pipeline.sources.ingest import (
    INGESTION_TABLES,
    MissingSourceFile,
    SourceBytes,
    check_stored,
    ingest_into,
    ingest_partition,
)
from jackpot_pipeline.warehouse.store import Warehouse

NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)


def source(shared_data, relpath: str, data: bytes | None = None) -> SourceBytes:
    return SourceBytes(relpath, data if data is not None else (shared_data / relpath).read_bytes(), dt.date(2024, 6, 1))


def test_a_season_file_becomes_five_tables_and_the_slice_version(shared_data, tmp_path):
    first = ingest_partition("E0", "2324", source(shared_data, "mmz4281/2324/E0.csv"), previous_canonical=None,
                             previous_log=None, run_id="r1", now=NOW)
    assert set(first.tables) == set(INGESTION_TABLES)
    assert [len(first.tables[name]) for name in INGESTION_TABLES] == [380, 380, 0, 1, 0]
    (expected,) = partitions_of_file(shared_data, "mmz4281/2324/E0.csv")
    assert first.data_version == first.source_version == expected.data_version
    assert first.metadata["canonical_matches"]["played"] == 380 and first.expected_lines == 380
    assert first.tables["ingestion_log"]["change"].tolist() == ["new"]
    assert all(result.passed for result in check_stored(first.tables, "E0", "2324", first.expected_lines).values())

    # the same bytes again: nothing new in the log; a revision that drops two matches withdraws them
    again = ingest_partition("E0", "2324", source(shared_data, "mmz4281/2324/E0.csv"),
                             previous_canonical=first.tables["canonical_matches"],
                             previous_log=first.tables["ingestion_log"], run_id="r2", now=NOW)
    assert again.tables["ingestion_log"]["run_id"].tolist() == ["r1"]
    lines = (shared_data / "mmz4281/2324/E0.csv").read_bytes().split(b"\r\n")
    revised = ingest_partition("E0", "2324", source(shared_data, "mmz4281/2324/E0.csv", b"\r\n".join(lines[:5] + lines[7:])),
                               previous_canonical=first.tables["canonical_matches"],
                               previous_log=first.tables["ingestion_log"], run_id="r3", now=NOW)
    log = revised.tables["ingestion_log"]
    assert log["change"].tolist() == ["new", "changed"] and log["rows_removed"].tolist()[-1] == 2
    assert revised.tables["withdrawn_matches"]["withdrawn_reason"].tolist() == ["removed_from_source"] * 2
    assert revised.data_version != first.data_version


def test_a_multi_season_file_without_the_season_withdraws_the_partition(shared_data):
    relpath = "new/NOR.csv"
    full = ingest_partition("NOR", "2012", source(shared_data, relpath), previous_canonical=None, previous_log=None,
                            run_id="r1", now=NOW)
    assert len(full.tables["canonical_matches"]) == 242
    trimmed = b"\r\n".join(line for line in (shared_data / relpath).read_bytes().split(b"\r\n") if b",2012," not in line)
    gone = ingest_partition("NOR", "2012", source(shared_data, relpath, trimmed),
                            previous_canonical=full.tables["canonical_matches"],
                            previous_log=full.tables["ingestion_log"], run_id="r2", now=NOW)
    assert gone.data_version == f"empty-{PARSER_VERSION}" and gone.source_version.startswith("absent-")
    assert len(gone.tables["canonical_matches"]) == 0 and len(gone.tables["withdrawn_matches"]) == 242
    assert set(gone.tables["withdrawn_matches"]["withdrawn_reason"]) == {"partition_dropped"}
    assert gone.tables["ingestion_log"]["run_id"].tolist() == ["r1"]  # the history stays


def test_what_cannot_be_read_raises_before_anything_is_stored(shared_data, tmp_path):
    with pytest.raises(MissingSourceFile, match="source file mmz4281/2324/E0.csv does not exist"):
        ingest_partition("E0", "2324", None, previous_canonical=None, previous_log=None, run_id="r", now=NOW)
    with pytest.raises(SourceFormatError, match="mmz4281/2324/E0.csv: this is an HTML page"):
        ingest_partition("E0", "2324", source(shared_data, "mmz4281/2324/E0.csv", b"<html><body>503</body></html>"),
                         previous_canonical=None, previous_log=None, run_id="r", now=NOW)


def test_ingest_into_stores_every_table_and_checks_what_it_stored(shared_data, tmp_path):
    raw = tmp_path / "raw" / "mmz4281" / "2324"
    raw.mkdir(parents=True)
    (raw / "SP1.csv").write_bytes((shared_data / "mmz4281/2324/SP1.csv").read_bytes())
    partition, checks = ingest_into(str(tmp_path / "warehouse"), str(tmp_path / "raw"), "SP1|2324", run_id="r", now=NOW)
    assert partition.tables == {} and all(result.passed for result in checks.values())
    store = Warehouse(tmp_path / "warehouse")
    assert store.read("canonical_matches", "SP1|2324").shape[0] == 380
    assert store.read("withdrawn_matches", "SP1|2324").empty
    assert pd.Timestamp(store.read("ingestion_log", "SP1|2324")["ingested_at"].iloc[0]) == pd.Timestamp("2024-06-01 12:00")
