"""Acceptance 1 and 2: real partitions ingested into DuckDB through Dagster, published to PostgreSQL by
the publishing assets; the row counts agree and a second publication changes nothing."""

import pytest
from dagster import MultiPartitionKey

from jackpot_pipeline.publish.migrate import discover_migrations
from jackpot_pipeline.publish.postgres import league_catalogue
from jackpot_pipeline_tests.publish.conftest import publishing_definitions

pytestmark = pytest.mark.postgres

PARTITIONS = [("E0", "2324"), ("ARG", "2023")]


def publish_everything(defs, instance) -> dict[str, dict]:
    metadata = {}
    for league, season in PARTITIONS:
        result = defs.resolve_job_def("publish_partition_job").execute_in_process(
            instance=instance, partition_key=MultiPartitionKey({"league": league, "season": season})
        )
        assert result.success
        for materialization in result.asset_materializations_for_node("published_matches") + \
                result.asset_materializations_for_node("published_ingestion_logs"):
            metadata[f"{materialization.asset_key.to_user_string()} {league}|{season}"] = {
                k: v.value for k, v in materialization.metadata.items()
            }
    result = defs.resolve_job_def("publish_catalog_job").execute_in_process(instance=instance)
    assert result.success
    for node in ("published_teams", "published_leagues"):
        (materialization,) = result.asset_materializations_for_node(node)
        metadata[node] = {k: v.value for k, v in materialization.metadata.items()}
    return metadata


def test_published_tables_equal_duckdb_and_republishing_changes_nothing(workspace, database):
    workspace.copy("mmz4281/2324/E0.csv", "new/ARG.csv")
    for league, season in PARTITIONS:
        assert workspace.ingest(league, season).success
    assert workspace.defs().resolve_job_def("teams_job").execute_in_process(instance=workspace.instance).success
    defs = publishing_definitions(workspace.settings, database)

    # the first publication also migrates the fresh database and creates the roles
    first = publish_everything(defs, workspace.instance)

    for league, season in PARTITIONS:
        for duck_table, pg_table in (("canonical_matches", "matches"), ("ingestion_log", "ingestion_logs")):
            expected = workspace.sql(
                f"SELECT count(*) n FROM {duck_table} WHERE league = ? AND season = ?", [league, season]
            )["n"][0]
            assert expected > 0
            assert database.count(pg_table, "league = %s AND season = %s", [league, season]) == expected
        key = f"published_matches {league}|{season}"
        assert first[key]["dagster/row_count"] == first[key]["inserted"] == database.count(
            "matches", "league = %s AND season = %s", [league, season])
    assert database.count("matches") == workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == 380 + 582
    assert database.count("teams") == workspace.sql("SELECT count(DISTINCT (league, team)) n FROM teams")["n"][0]
    assert database.count("team_aliases") == workspace.sql("SELECT count(*) n FROM teams")["n"][0]
    assert database.count("leagues") == len(league_catalogue()) == first["published_leagues"]["rows"]
    assert first["published_teams"]["aliases"] == database.count("team_aliases")

    # the values survive the trip, not only the counts
    duck = workspace.sql(
        "SELECT match_id, match_date::VARCHAR d, home_team, away_team, home_goals, away_goals, result, odds_home, "
        "closing_odds_away, kickoff_time FROM canonical_matches ORDER BY match_id"
    )
    with database.connect() as connection:
        published = connection.execute(
            "SELECT match_id, match_date::text, home_team, away_team, home_goals, away_goals, result, odds_home, "
            "closing_odds_away, kickoff_time FROM jackpot.matches ORDER BY match_id"
        ).fetchall()
        log = connection.execute(
            "SELECT source_sha256, rows_canonical, changed_match_ids ->> 'inserted' FROM jackpot.ingestion_logs "
            "WHERE league = 'E0'"
        ).fetchall()
        migrations = connection.execute("SELECT count(*) FROM jackpot.schema_migrations").fetchone()[0]
    assert [tuple(None if v != v else v for v in row) for row in duck.astype(object).where(duck.notna(), None).itertuples(index=False)] == [
        tuple(row) for row in published
    ]
    assert log == [(workspace.sql("SELECT source_sha256 FROM ingestion_log WHERE league = 'E0'")["source_sha256"][0], 380, "380")]
    assert migrations == len(discover_migrations()) == 5

    tables = database.tables()
    before = {table: database.dump(table) for table in tables}
    second = publish_everything(defs, workspace.instance)
    assert {table: database.dump(table) for table in tables} == before
    for league, season in PARTITIONS:
        stats = second[f"published_matches {league}|{season}"]
        assert (stats["inserted"], stats["updated"], stats["deleted"], stats["unchanged"]) == (0, 0, 0, stats["rows"])
    assert second["published_teams"]["inserted"] == second["published_teams"]["updated"] == 0
