"""Revisions that remove rows, end to end: the same matches are withdrawn, never deleted, in the
local warehouse and in PostgreSQL, and come back the same way when the publisher restores them."""

import pandas as pd
import pytest

from jackpot_pipeline.sources.fetch import sha256_file
from jackpot_pipeline_tests.publish.conftest import acting_as
from jackpot_pipeline_tests.publish.expected import materialization_stats, publish_run

pytestmark = pytest.mark.postgres


def publish(workspace, partition: str) -> dict:
    """The partition published; the metadata of its published_matches materialization."""
    result = publish_run(workspace, "publish_league_season_job", [partition])
    assert result.success
    return materialization_stats(result, "published_matches")[partition]


def withdrawn_in_duckdb(workspace) -> pd.DataFrame:
    return workspace.sql(
        "SELECT match_id, withdrawn_by_sha256, withdrawn_reason FROM withdrawn_matches ORDER BY match_id"
    )


def withdrawn_in_postgres(database) -> list[tuple]:
    with database.connect() as connection:
        return connection.execute(
            "SELECT match_id, withdrawn_by_sha256, withdrawn_reason FROM jackpot.matches "
            "WHERE withdrawn_at IS NOT NULL ORDER BY match_id"
        ).fetchall()


def ingest_and_publish(workspace, league: str, season: str) -> dict:
    """The partition ingested from its raw file as it is now, modelled (model, calibration, validation, form)
    and published; the metadata of its published_matches materialization."""
    partition = f"{league}|{season}"
    assert workspace.ingest(league, season).success
    assert workspace.run("walk_forward", "calibration", "match_predictions", "validation_reports", "form_features",
                         partitions=[partition]).success
    return publish(workspace, partition)


def test_a_revision_that_removes_matches_withdraws_them_in_both_stores(workspace, database, publishing_to):
    publishing_to(database)
    relpath = "mmz4281/2324/E0.csv"
    workspace.copy(relpath)
    ingest_and_publish(workspace, "E0", "2324")
    original = (workspace.raw / relpath).read_bytes()
    lines = original.split(b"\r\n")
    gone = {line.split(b",")[3].decode() + " v " + line.split(b",")[4].decode() for line in lines[5:7]}

    # the publisher's revision drops two matches
    (workspace.raw / relpath).write_bytes(b"\r\n".join(lines[:5] + lines[7:]))
    revised_sha = sha256_file(workspace.raw / relpath)
    metadata = ingest_and_publish(workspace, "E0", "2324")
    duck = withdrawn_in_duckdb(workspace)
    assert len(duck) == 2 and set(duck["withdrawn_reason"]) == {"removed_from_source"}
    assert set(duck["withdrawn_by_sha256"]) == {revised_sha}
    assert [tuple(row) for row in duck.itertuples(index=False)] == withdrawn_in_postgres(database)
    assert metadata["withdrawn"] == 2 and metadata["deleted"] == 0
    rows = workspace.sql("SELECT home_team || ' v ' || away_team AS fixture FROM withdrawn_matches")["fixture"]
    assert set(rows) == gone
    log = workspace.sql("SELECT rows_removed, changed_match_ids FROM ingestion_log ORDER BY ingested_at").iloc[-1]
    assert log["rows_removed"] == 2 and all(match_id in log["changed_match_ids"] for match_id in duck["match_id"])
    # what is current is the same on both sides, and every match ever seen is still somewhere
    assert workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == database.count("current_matches") == 378
    assert database.count("matches") == 380
    with database.connect() as connection, acting_as(connection, database.roles.analyst):
        assert connection.execute("SELECT count(*) FROM jackpot.current_matches").fetchone()[0] == 378

    # the publisher restores them: reinstated on both sides, nothing withdrawn any more
    (workspace.raw / relpath).write_bytes(original)
    assert ingest_and_publish(workspace, "E0", "2324")["reinstated"] == 2
    assert withdrawn_in_duckdb(workspace).empty and withdrawn_in_postgres(database) == []
    assert workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == database.count("current_matches") == 380


def test_a_season_the_source_no_longer_holds_is_withdrawn_as_a_whole_in_both_stores(workspace, database, publishing_to):
    publishing_to(database)
    relpath = "new/NOR.csv"
    workspace.copy(relpath)
    ingest_and_publish(workspace, "NOR", "2012")
    stored = workspace.sql("SELECT match_id FROM canonical_matches WHERE season = '2012'")["match_id"]
    assert len(stored) == 242

    # the publisher trims 2012 from its multi-season file
    lines = (workspace.raw / relpath).read_bytes().split(b"\r\n")
    (workspace.raw / relpath).write_bytes(b"\r\n".join(line for line in lines if b",2012," not in line))
    ingest_and_publish(workspace, "NOR", "2012")
    duck = withdrawn_in_duckdb(workspace)
    assert workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == 0
    assert sorted(duck["match_id"]) == sorted(stored) and set(duck["withdrawn_reason"]) == {"partition_dropped"}
    assert duck["withdrawn_by_sha256"].isna().all()
    assert [tuple(None if v is None or v != v else v for v in row) for row in duck.itertuples(index=False)] == (
        withdrawn_in_postgres(database)
    )
    assert database.count("matches") == 242 and database.count("current_matches") == 0
