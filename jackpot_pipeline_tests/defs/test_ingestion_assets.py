"""Ingestion through Dagster on real partitions: temporary DuckDB file, temporary instance."""

import json

import pandas as pd
import pytest
from dagster import AssetKey, DagsterEventType, MultiPartitionKey, asset, instance_for_test, materialize
from dagster._check import CheckError
from dagster_duckdb_pandas import DuckDBPandasIOManager

from jackpot_pipeline.defs.runs import step_failure_message
from jackpot_pipeline.defs.ingestion.partitions import league_season_partitions
from jackpot_pipeline.defs.resources import WarehouseIOManager
from jackpot_pipeline.sources.catalog import partitions_of_file


def check_results(result) -> dict[str, bool]:
    return {
        event.event_specific_data.check_name: event.event_specific_data.passed
        for event in result.all_events
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def data_version(instance, asset_name: str, partition_key: str) -> str:
    record = instance.get_latest_data_version_record(AssetKey(asset_name), partition_key=partition_key)
    return record.asset_materialization.tags["dagster/data_version"]


def test_a_real_partition_is_ingested_and_checked(workspace):
    workspace.copy("mmz4281/2324/E0.csv", "mmz4281/1213/I2.csv")
    result = workspace.ingest("E0", "2324")
    assert result.success
    assert check_results(result) == dict.fromkeys(
        ["unique_match_id", "goals_consistent", "odds_plausible", "dates_in_season", "rows_accounted"], True
    )
    counts = workspace.sql(
        "SELECT (SELECT count(*) FROM raw_matches) raw, (SELECT count(*) FROM canonical_matches) canonical, "
        "(SELECT count(*) FROM ingestion_log) log"
    ).iloc[0].tolist()
    assert counts == [380, 380, 1]
    metadata = result.asset_materializations_for_node("ingest_league_season")[0].metadata
    assert metadata["encoding"].value == "ascii" and metadata["line_ending"].value == "CRLF"
    assert metadata["bytes"].value == 172196
    (partition,) = partitions_of_file(workspace.raw, "mmz4281/2324/E0.csv")
    assert data_version(workspace.instance, "canonical_matches", "E0|2324") == partition.data_version

    # a padded file in a second dynamic partition; the first partition's rows stay
    assert workspace.ingest("I2", "1213").success
    by_partition = workspace.sql(
        "SELECT league, season, row_kind, count(*) n FROM raw_matches GROUP BY ALL ORDER BY ALL"
    ).values.tolist()
    assert by_partition == [["E0", "2324", "data", 380], ["I2", "1213", "blank", 5], ["I2", "1213", "data", 462]]
    log = workspace.sql("SELECT encoding, rows_blank FROM ingestion_log WHERE league = 'I2'").iloc[0].tolist()
    assert log == ["ascii", 5]


def test_rerun_on_unchanged_file_changes_nothing(workspace):
    workspace.copy("mmz4281/2324/E0.csv")
    assert workspace.ingest("E0", "2324").success
    before = data_version(workspace.instance, "canonical_matches", "E0|2324")
    table_before = workspace.sql("SELECT * FROM canonical_matches ORDER BY match_id")
    assert workspace.ingest("E0", "2324").success
    assert data_version(workspace.instance, "canonical_matches", "E0|2324") == before
    assert data_version(workspace.instance, "raw_matches", "E0|2324") == before
    assert workspace.sql("SELECT count(*) n FROM ingestion_log")["n"][0] == 1
    assert workspace.sql("SELECT * FROM canonical_matches ORDER BY match_id").equals(table_before)


def test_revised_file_rewrites_its_partition_and_logs_the_change(workspace):
    relpath = "mmz4281/2324/E0.csv"
    workspace.copy(relpath)
    assert workspace.ingest("E0", "2324").success
    path = workspace.raw / relpath
    data = path.read_bytes()
    first_line = data.split(b"\r\n")[1]
    revised = data.replace(first_line, first_line.replace(b"Burnley,Man City,0,3,A,0,2,A", b"Burnley,Man City,0,3,A,0,1,A"))
    # the publisher also appends a fixture without a result
    path.write_bytes(revised + b"E0,30/06/2024,20:00,Arsenal,Chelsea" + b"," * 101 + b"\r\n")
    assert workspace.ingest("E0", "2324").success
    log = workspace.sql("SELECT * FROM ingestion_log ORDER BY ingested_at")
    assert log["change"].tolist() == ["new", "changed"]
    latest = log.iloc[-1]
    assert (latest["rows_inserted"], latest["rows_updated"], latest["rows_removed"], latest["rows_unchanged"]) == (1, 1, 0, 379)
    assert latest["previous_sha256"] == log.iloc[0]["source_sha256"]
    changed = json.loads(latest["changed_match_ids"])
    assert len(changed["updated"]) == 1 and len(changed["inserted"]) == 1
    canonical = workspace.sql("SELECT status, count(*) n FROM canonical_matches GROUP BY ALL ORDER BY ALL").values.tolist()
    assert canonical == [["played", 380], ["unplayed", 1]]
    assert workspace.sql("SELECT count(DISTINCT source_sha256) n FROM canonical_matches")["n"][0] == 1


def test_a_bad_file_fails_only_its_partition_and_loses_nothing(workspace):
    workspace.copy("mmz4281/2324/E0.csv", "mmz4281/2324/SP1.csv")
    assert workspace.ingest("E0", "2324").success
    assert workspace.ingest("SP1", "2324").success
    stored = workspace.sql("SELECT * FROM canonical_matches WHERE league = 'E0' ORDER BY match_id")
    (workspace.raw / "mmz4281/2324/E0.csv").write_bytes(b"<html><body>503 Service Unavailable</body></html>")
    result = workspace.ingest("E0", "2324", raise_on_error=False)
    assert not result.success
    assert step_failure_message(result).startswith(
        "jackpot_pipeline.sources.football_data.SourceFormatError: mmz4281/2324/E0.csv: this is an HTML page"
    )
    assert workspace.sql("SELECT * FROM canonical_matches WHERE league = 'E0' ORDER BY match_id").equals(stored)
    assert workspace.sql("SELECT count(*) n FROM canonical_matches WHERE league = 'SP1'")["n"][0] == 380
    # a wrong-columns file and a truncated one fail the same way
    (workspace.raw / "mmz4281/2324/E0.csv").write_bytes(b"a,b\n1,2\n")
    result = workspace.ingest("E0", "2324", raise_on_error=False)
    assert "mmz4281/2324/E0.csv: not a football-data CSV: missing column(s) Div, Date" in step_failure_message(result)


def test_extra_league_partitions_and_empty_combinations(workspace):
    workspace.copy("new/ARG.csv")
    assert workspace.ingest("ARG", "1314").success
    quarantined = workspace.sql("SELECT reason, source_row FROM quarantined_rows").values.tolist()
    assert quarantined == [["date_outside_season", 765]]
    # E0|2021-style keys of another scheme hold no data and do not fail a "materialize all"
    workspace.copy("mmz4281/2324/E0.csv")
    assert workspace.ingest("E0", "2014").success
    assert workspace.ingest("ARG", "2324").success
    assert workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == 383 - 1


def test_missing_source_file_is_a_clear_failure(workspace):
    result = workspace.ingest("E0", "2324", raise_on_error=False)
    message = step_failure_message(result)
    assert "partition E0|2324: source file" in message and "run `jackpot-pipeline fetch`" in message


def test_teams_reads_every_dynamic_partition_through_the_io_manager(workspace):
    workspace.copy("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv", "mmz4281/2324/E1.csv")
    for league, season in (("E0", "2223"), ("E0", "2324"), ("E1", "2324")):
        assert workspace.ingest(league, season).success
    result = workspace.defs().resolve_job_def("teams_job").execute_in_process(instance=workspace.instance)
    assert result.success
    teams = workspace.sql("SELECT * FROM teams")
    e0 = teams[teams["league"] == "E0"]
    assert e0["team"].nunique() == 23  # 20 clubs a season, 3 relegated/promoted between 22/23 and 23/24
    assert "Manchester United" in set(e0.loc[e0["team"] == "Man United", "alias"])
    assert teams.loc[teams["league"] == "E1", "team"].nunique() == 24


def test_stock_duckdb_io_manager_fails_on_dynamic_partitions_and_ours_works(tmp_path):
    """The bug from shared/STYLE.md (dagster #32631, #33815) and the fix, on real dynamic partitions."""
    by_dimension = {"partition_expr": {"league": "league", "season": "season"}}

    @asset(partitions_def=league_season_partitions, metadata=by_dimension)
    def scores(context) -> pd.DataFrame:
        keys = context.partition_key.keys_by_dimension
        return pd.DataFrame({"league": [keys["league"]], "season": [keys["season"]], "goals": [3]})

    @asset(partitions_def=league_season_partitions, metadata=by_dimension)
    def doubled(scores: pd.DataFrame) -> pd.DataFrame:
        return scores.assign(goals=scores["goals"] * 2)

    partition = MultiPartitionKey({"league": "E0", "season": "2324"})
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("league", ["E0"])
        instance.add_dynamic_partitions("season", ["2324"])
        stock = DuckDBPandasIOManager(database=str(tmp_path / "stock.duckdb"))
        with pytest.raises(CheckError, match="instance is not available to load partitions"):
            materialize([scores], resources={"io_manager": stock}, instance=instance, partition_key=partition)
        ours = WarehouseIOManager(database=str(tmp_path / "ours.duckdb"))
        result = materialize([scores, doubled], resources={"io_manager": ours}, instance=instance, partition_key=partition)
        assert result.success
        assert result.output_for_node("doubled")["goals"].tolist() == [6]
