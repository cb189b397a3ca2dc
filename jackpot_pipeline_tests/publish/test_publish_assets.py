"""Real partitions (E0 2023/24 and Argentina's 2023 and 2024 calendar seasons) brought up to date by
``make run``'s engine with JACKPOT_PG_DSN set: every table published with the warehouse's row counts and
values, a second ``make run`` publishes nothing, forcing the publishers again changes nothing, and a
partition the warehouse lacks fails alone."""

import dataclasses

import pytest

from jackpot_pipeline.defs.local_runs import failure_message
from jackpot_pipeline.publish.migrate import discover_migrations
from jackpot_pipeline_tests.publish.expected import expected_counts, materialization_stats, publish_run, published_counts

pytestmark = pytest.mark.postgres

PARTITIONS = ["ARG|2023", "ARG|2024", "E0|2324"]
LEAGUE_SEASON_ASSETS = ("published_matches", "published_ingestion_logs", "published_team_strength_snapshots",
                        "published_match_predictions", "published_validation_reports", "published_calibration_curves",
                        "published_team_form_features", "published_league_baselines")


@pytest.fixture
def two_leagues(workspace):
    """The shared one-partition workspace configured for E0 and ARG: three partitions."""
    settings = dataclasses.replace(workspace.settings, leagues=("E0", "ARG"))
    mine = dataclasses.replace(workspace, settings=settings)
    mine.copy("mmz4281/2324/E0.csv", "new/ARG.csv")
    return mine


def test_published_tables_equal_the_warehouse_and_republishing_changes_nothing(two_leagues, database, publishing_to):
    publishing_to(database)
    outcome = two_leagues.pipeline()  # the first publication also migrates the fresh database and creates the roles
    assert outcome.success, outcome.failed
    assert two_leagues.instance.get_dynamic_partitions("league_season") == PARTITIONS
    published = [run for run in outcome.runs if run["stages"][0].startswith("publish_")]
    assert [(run["label"], run["success"]) for run in published] == [
        ("publish_league_season ARG|2023..E0|2324 (3)", True), ("publish_catalog", True)]

    expected = expected_counts(two_leagues)
    assert min(value for table, value in expected.items() if not table.startswith("jackpot")) > 0
    assert published_counts(database, expected) == expected
    for partition in PARTITIONS:
        league, season = partition.split("|")
        for warehouse_table, table in (("canonical_matches", "matches"), ("ingestion_log", "ingestion_logs"),
                                       ("team_strength_snapshots", "team_strength_snapshots"),
                                       ("validation_reports", "validation_reports"), ("calibration_curves", "calibration_curves"),
                                       ("team_form_features", "team_form_features"), ("league_baselines", "league_baselines")):
            rows = two_leagues.sql(f"SELECT count(*) n FROM {warehouse_table} WHERE league = ? AND season = ?", [league, season])
            assert database.count(table, "league = %s AND season = %s", [league, season]) == rows["n"][0] > 0, (partition, table)
    assert database.count("matches", "league = 'E0'") == 380

    # the values survive the trip, not only the counts
    duck = two_leagues.sql(
        "SELECT match_id, match_date::VARCHAR d, home_team, away_team, home_goals, away_goals, result, odds_home, "
        "closing_odds_away, kickoff_time FROM canonical_matches ORDER BY match_id"
    )
    with database.connect() as connection:
        rows = connection.execute(
            "SELECT match_id, match_date::text, home_team, away_team, home_goals, away_goals, result, odds_home, "
            "closing_odds_away, kickoff_time FROM jackpot.matches ORDER BY match_id"
        ).fetchall()
        log = connection.execute(
            "SELECT source_sha256, rows_canonical, changed_match_ids ->> 'inserted' FROM jackpot.ingestion_logs "
            "WHERE league = 'E0'"
        ).fetchall()
        migrations = connection.execute("SELECT count(*) FROM jackpot.schema_migrations").fetchone()[0]
        (active,) = connection.execute("SELECT count(*) FROM jackpot.models WHERE status = 'active'").fetchone()
    assert [tuple(None if v != v else v for v in row) for row in duck.astype(object).where(duck.notna(), None).itertuples(index=False)] == [
        tuple(row) for row in rows
    ]
    assert log == [(two_leagues.sql("SELECT source_sha256 FROM ingestion_log WHERE league = 'E0'")["source_sha256"][0], 380, "380")]
    assert migrations == len(discover_migrations()) == 7
    assert active == two_leagues.sql("SELECT count(*) n FROM model_registry WHERE status = 'active'")["n"][0] == 2

    # nothing stale: a second make run publishes nothing
    tables = database.tables()
    before = {table: database.dump(table) for table in tables}
    assert two_leagues.pipeline().runs == []

    # forcing every publisher again changes nothing: no duplicate, no update, identities kept
    forced = publish_run(two_leagues, "publish_league_season_job", PARTITIONS)
    for asset in LEAGUE_SEASON_ASSETS:
        stats = materialization_stats(forced, asset)
        assert sorted(stats) == PARTITIONS, asset
        for partition, values in stats.items():
            # a partition's ingestion log is replaced whole (delete and insert, one transaction): same rows
            rewritten = values["rows"] if asset == "published_ingestion_logs" else 0
            assert (values["inserted"], values["updated"], values["deleted"]) == (rewritten, 0, rewritten), (asset, partition)
    matches = materialization_stats(forced, "published_matches")
    assert {p: v["unchanged"] for p, v in matches.items()} == {p: v["dagster/row_count"] for p, v in matches.items()}
    catalog = publish_run(two_leagues, "publish_catalog_job")
    teams = materialization_stats(catalog, "published_teams")[None]
    assert (teams["inserted"], teams["updated"], teams["deleted"]) == (0, 0, 0)
    assert teams["aliases"] == database.count("team_aliases")
    assert {table: database.dump(table) for table in tables} == before


def test_a_partition_the_warehouse_lacks_fails_alone(two_leagues, database, publishing_to):
    two_leagues.pipeline()
    publishing_to(database)
    two_leagues.add("E0|2223")  # a key without any warehouse file
    result = publish_run(two_leagues, "publish_league_season_job", ["E0|2324", "E0|2223"], raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "1 of 2 partition(s) failed (the others were stored and reported)" in message
    assert "E0|2223: the warehouse has no canonical_matches for E0|2223: materialise it first" in message
    assert sorted(materialization_stats(result, "published_matches")) == ["E0|2324"]
    assert database.count("matches") == 380 and database.count("matches", "season = '2223'") == 0
