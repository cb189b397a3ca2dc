"""With PostgreSQL configured, ``make run``'s engine publishes every table of the modeled warehouse (E0 SP1
D1 I1 F1 × 2021/22-2023/24, validated and registered, the sample card finalised): the row counts per table
equal the warehouse's, publishing again changes nothing, only what changed is published next time, a new
empty database is filled because the target changed, and a finalised jackpot is published once."""

import pytest

from jackpot_pipeline.defs.orchestration import pipeline_stages, plan_runs
from jackpot_pipeline.defs.publish import PostgresResource
from jackpot_pipeline.defs.state import scan_cards, scan_sources
from jackpot_pipeline.steps.progress import listening
from jackpot_pipeline_tests.defs.modeled import SAMPLE_ID, SEASONS
from jackpot_pipeline_tests.publish.expected import (
    HAS_PROBABILITIES,
    count,
    expected_counts,
    materialization_stats,
    publish_run,
    published_counts,
)
from jackpot_pipeline_tests.publish.freshness import FRESHNESS, stale_signatures

pytestmark = pytest.mark.postgres


def stale_tables(workspace, database) -> dict[str, list]:
    """A second opinion on freshness, independent of the planner: per table, the partitions whose row
    signatures (model and calibration versions, counts, scores) differ between the warehouse and PostgreSQL."""
    with database.connect() as connection:
        return {name: stale for name, freshness in FRESHNESS.items()
                if (stale := stale_signatures(connection, freshness,
                                              workspace.sql(freshness.duckdb.replace("{schema}.", "")).itertuples(index=False)))}


def test_make_run_publishes_every_table_with_the_warehouses_row_counts(modeled, database, publishing_to):
    publishing_to(database)
    first = modeled.pipeline()
    assert first.success, first.failed
    partitions = modeled.instance.get_dynamic_partitions("league_season")
    assert len(partitions) == 15
    assert [run["label"] for run in first.runs] == [
        f"publish_league_season {partitions[0]}..{partitions[-1]} (15)", "publish_catalog", f"publish_jackpots {SAMPLE_ID}"]

    expected = expected_counts(modeled, [SAMPLE_ID])
    assert min(expected.values()) > 0
    assert published_counts(database, expected) == expected
    assert stale_tables(modeled, database) == {}
    assert database.count("match_predictions", "jackpot_id IS NOT NULL") == 105
    for partition in partitions:  # partition by partition too
        league, season = partition.split("|")
        assert database.count(
            "match_predictions", "jackpot_id IS NULL AND match_id IN (SELECT match_id FROM jackpot.matches WHERE league = %s AND season = %s)",
            [league, season],
        ) == count(modeled, f"SELECT * FROM match_predictions WHERE league = ? AND season = ? AND {HAS_PROBABILITIES}",
                   [league, season])

    # the values survive the trip: probabilities, and the flags split into the text[] of the schema
    warehouse = modeled.sql(f"SELECT match_id, set_id, prob_home, flags FROM match_predictions WHERE {HAS_PROBABILITIES} "
                            "ORDER BY match_id, set_id")
    with database.connect() as connection:
        published = connection.execute("SELECT match_id, set_id::text, prob_home, flags FROM jackpot.match_predictions "
                                       "WHERE jackpot_id IS NULL ORDER BY match_id, set_id::text").fetchall()
        active = dict(connection.execute("SELECT league, model_version FROM jackpot.models WHERE status = 'active'").fetchall())
    assert [(m, s, p, [f for f in (flags or "").split(",") if f]) for m, s, p, flags in warehouse.itertuples(index=False)] == [
        tuple(row) for row in published
    ]
    registry = modeled.sql("SELECT league, arg_max(model_version, event_id) v, arg_max(status, event_id) s FROM model_registry "
                           "GROUP BY league")
    assert active == {row.league: row.v for row in registry.itertuples() if row.s == "active"} and len(active) == 5

    # nothing stale any more: a second make run publishes nothing
    tables = database.tables()
    before = {table: database.dump(table) for table in tables}
    assert modeled.pipeline().runs == []

    # forcing every publisher again changes nothing either: no duplicate, no update, identities kept
    forced = publish_run(modeled, "publish_league_season_job", [partitions[0], partitions[-1]])
    snapshots = materialization_stats(forced, "published_team_strength_snapshots")
    predictions = materialization_stats(forced, "published_match_predictions")
    assert sorted(snapshots) == sorted(predictions) == sorted(partitions)
    for partition in partitions:
        league, season = partition.split("|")
        for stats in (snapshots[partition], predictions[partition]):
            assert (stats["inserted"], stats["updated"], stats["deleted"]) == (0, 0, 0), partition
        assert predictions[partition]["skipped_without_probabilities"] == count(
            modeled, f"SELECT * FROM match_predictions WHERE league = ? AND season = ? AND NOT ({HAS_PROBABILITIES})",
            [league, season])
    models = materialization_stats(publish_run(modeled, "publish_catalog_job"), "published_models")[None]
    assert (models["inserted"], models["updated"], models["training_runs_inserted"]) == (0, 0, 0)
    jackpot = materialization_stats(publish_run(modeled, "publish_jackpots_job", [SAMPLE_ID]), "published_jackpots")
    assert jackpot[SAMPLE_ID]["already_finalised"] == 1
    assert {table: database.dump(table) for table in tables} == before

    # append-only registry: a new registry run adds a training run of the same model versions, and make run
    # publishes just that
    assert modeled.run("model_registry").success
    third = modeled.pipeline()
    assert [run["label"] for run in third.runs] == ["publish_catalog"]
    assert published_counts(database, expected) == {**expected, "training_runs": expected["training_runs"] + 5}
    assert published_counts(database, expected) == expected_counts(modeled, [SAMPLE_ID])
    assert database.dump("models") == before["models"]

    # an empty database where the published one was (same name, new database): the target changed, so make
    # run publishes everything again
    database.recreate()
    assert database.tables() == []
    refill = modeled.pipeline()
    assert refill.success and [run["label"] for run in refill.runs] == [run["label"] for run in first.runs]
    assert published_counts(database, expected) == expected_counts(modeled, [SAMPLE_ID])
    assert stale_tables(modeled, database) == {}


def test_a_finalised_jackpot_is_published_once_and_then_left_alone(modeled, database, publishing_to):
    publishing_to(database)
    progress = []
    with listening(lambda stage, partitions, failed: progress.append((stage, partitions, failed))):
        first = publish_run(modeled, "publish_jackpots_job", [SAMPLE_ID])
    assert progress == [("publish_jackpots", (SAMPLE_ID,), 0)]  # make run's progress display: the jackpot's own stage
    stats = materialization_stats(first, "published_jackpots")[SAMPLE_ID]
    assert (stats["inserted"], stats["fixtures"], stats["predictions"], stats["already_finalised"]) == (1, 15, 105, 0)
    assert database.count("jackpots", "jackpot_id = %s AND status = 'finalised'", [SAMPLE_ID]) == 1
    assert database.count("jackpot_fixtures", "jackpot_id = %s", [SAMPLE_ID]) == 15
    assert database.count("match_predictions", "jackpot_id = %s", [SAMPLE_ID]) == 105
    with database.connect() as connection:
        owner, card_sha256 = connection.execute(
            "SELECT owner, card_sha256 FROM jackpot.jackpots WHERE jackpot_id = %s", [SAMPLE_ID]).fetchone()
        assert stale_signatures(connection, FRESHNESS["jackpots"], modeled.sql(
            "SELECT jackpot_id, card_sha256, status FROM jackpots").itertuples(index=False)) == []
    # the sample card names no owner: the writer role that published it owns it
    assert owner == database.roles.writer
    assert card_sha256 == modeled.sql("SELECT card_sha256 FROM jackpots WHERE jackpot_id = ?", [SAMPLE_ID])["card_sha256"][0]

    tables = ("jackpots", "jackpot_fixtures", "match_predictions")
    before = {table: database.dump(table) for table in tables}
    second = publish_run(modeled, "publish_jackpots_job", [SAMPLE_ID])
    assert materialization_stats(second, "published_jackpots")[SAMPLE_ID]["already_finalised"] == 1
    assert {table: database.dump(table) for table in tables} == before
    # the planner agrees: with this database as the target the jackpot is current (the league × season
    # partitions and the catalogue were never published here, so they are pending)
    resource = PostgresResource(dsn=database.dsn, role_prefix=database.prefix)
    with resource.connect() as connection:
        target = resource.target(connection)
    sources = scan_sources(modeled.raw, modeled.settings.leagues, SEASONS)
    planned = plan_runs(modeled.instance, pipeline_stages(target), sources, scan_cards(modeled.cards), {})
    assert sorted(planned.plan.counts().items()) == [("publish_catalog", 1), ("publish_league_season", 15)]
