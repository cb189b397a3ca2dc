"""Ingestion through Dagster on real partitions: a temporary warehouse and instance."""

import json

from dagster import DagsterEventType

from jackpot_pipeline.sources.catalog import partitions_of_file
from jackpot_pipeline.sources.football_data import PARSER_VERSION
from jackpot_pipeline_tests.defs.conftest import data_version, failure_message


def check_results(result) -> dict[str, bool]:
    return {
        event.event_specific_data.check_name: event.event_specific_data.passed
        for event in result.all_events
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


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
    assert failure_message(result).startswith("mmz4281/2324/E0.csv: this is an HTML page")
    assert workspace.sql("SELECT * FROM canonical_matches WHERE league = 'E0' ORDER BY match_id").equals(stored)
    assert workspace.sql("SELECT count(*) n FROM canonical_matches WHERE league = 'SP1'")["n"][0] == 380
    # a wrong-columns file and a truncated one fail the same way
    (workspace.raw / "mmz4281/2324/E0.csv").write_bytes(b"a,b\n1,2\n")
    result = workspace.ingest("E0", "2324", raise_on_error=False)
    assert "mmz4281/2324/E0.csv: not a football-data CSV: missing column(s) Div, Date" in failure_message(result)


def test_extra_league_partitions(workspace):
    workspace.copy("new/ARG.csv")
    assert workspace.ingest("ARG", "1314").success
    quarantined = workspace.sql("SELECT reason, source_row FROM quarantined_rows").values.tolist()
    assert quarantined == [["date_outside_season", 765]]
    assert workspace.ingest("ARG", "2324").success  # a key the file holds no rows for is stored empty
    assert workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == 383 - 1
    assert data_version(workspace.instance, "canonical_matches", "ARG|2324") == f"empty-{PARSER_VERSION}"


def test_missing_source_file_is_a_clear_failure(workspace):
    result = workspace.ingest("E0", "2324", raise_on_error=False)
    message = failure_message(result)
    assert "partition E0|2324: source file" in message and "run `jackpot-pipeline fetch`" in message


def test_teams_reads_every_partition(workspace):
    workspace.copy("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv", "mmz4281/2324/E1.csv")
    for league, season in (("E0", "2223"), ("E0", "2324"), ("E1", "2324")):
        assert workspace.ingest(league, season).success
    assert workspace.run("teams").success
    teams = workspace.sql("SELECT * FROM teams")
    e0 = teams[teams["league"] == "E0"]
    assert e0["team"].nunique() == 23  # 20 clubs a season, 3 relegated/promoted between 22/23 and 23/24
    assert "Manchester United" in set(e0.loc[e0["team"] == "Man United", "alias"])
    assert teams.loc[teams["league"] == "E1", "team"].nunique() == 24
