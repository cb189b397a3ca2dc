"""Issue 6, acceptance 1: with PostgreSQL configured, ``make run``'s publishing step (``publish_changed``)
publishes every table, and the row counts per table in PostgreSQL equal those in DuckDB, on real
partitions (E0 2022/23 + 2023/24 ingested, modelled, validated and registered through Dagster).
Publishing twice leaves identical tables. Jackpots: the real sample card, finalised through Dagster."""

import pytest
from dagster import MultiPartitionKey

from jackpot_pipeline.defs.publish import publish_changed
from jackpot_pipeline.publish.postgres import FRESHNESS, stale_signatures
from jackpot_pipeline_tests.jackpots_defs.conftest import SAMPLE_ID, modeled  # noqa: F401 - the shared fixture
from jackpot_pipeline_tests.publish.conftest import publishing_definitions

pytestmark = pytest.mark.postgres

SEASONS = ("2223", "2324")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
HAS_PROBABILITIES = "NOT isnan(prob_home) AND NOT isnan(prob_draw) AND NOT isnan(prob_away)"


def run(workspace, job: str, partition_key=None):
    result = workspace.defs().resolve_job_def(job).execute_in_process(
        instance=workspace.instance, partition_key=partition_key, run_config=QUIET
    )
    assert result.success, job
    return result


def duck_count(workspace, query: str, parameters=()) -> int:
    return int(workspace.sql(f"SELECT count(*) n FROM ({query})", parameters)["n"][0])


def expected_counts(workspace) -> dict[str, int]:
    """Row count per PostgreSQL table, as DuckDB holds them."""
    return {
        "matches": duck_count(workspace, "SELECT * FROM canonical_matches"),
        "ingestion_logs": duck_count(workspace, "SELECT * FROM ingestion_log"),
        "teams": duck_count(workspace, "SELECT DISTINCT league, team FROM teams"),
        "team_aliases": duck_count(workspace, "SELECT * FROM teams"),
        "team_strength_snapshots": duck_count(workspace, "SELECT * FROM team_strength_snapshots"),
        # market rows without odds (NaN probabilities) cannot be stored: they are counted as skipped
        "predictions": duck_count(workspace, f"SELECT * FROM match_predictions WHERE {HAS_PROBABILITIES}"),
        "calibration_data": duck_count(workspace, "SELECT * FROM calibration_curves"),
        "validation_results": duck_count(workspace, "SELECT * FROM validation_reports"),
        "models": duck_count(workspace, "SELECT DISTINCT league, model_version FROM model_registry"),
        "training_runs": duck_count(workspace, "SELECT * FROM training_runs"),
    }


def test_make_run_publishes_every_table_with_duckdbs_row_counts(workspace, database, monkeypatch):
    monkeypatch.setenv("JACKPOT_PG_ROLE_PREFIX", database.prefix)
    workspace.copy(*(f"mmz4281/{season}/E0.csv" for season in SEASONS))
    for season in SEASONS:
        assert workspace.ingest("E0", season).success
    run(workspace, "teams_job")
    partitions = [MultiPartitionKey({"league": "E0", "season": season}) for season in SEASONS]
    for key in partitions:
        run(workspace, "walk_forward_job", key)
    for season, key in zip(SEASONS, partitions, strict=True):
        run(workspace, "calibration_job", season)
        run(workspace, "match_predictions_job", key)
        run(workspace, "validation_reports_job", key)
    run(workspace, "weekly_summary_job")
    defs = publishing_definitions(workspace.settings, database)
    lines = []

    first = publish_changed(defs, workspace.settings, workspace.instance, dsn=database.dsn, run_config=QUIET, log=lines.append)
    assert first.failed == {}
    assert first.published == ["E0|2223", "E0|2324"] and first.catalog
    assert sorted(first.tables) == sorted([
        *(f"published_team_strength_snapshots,published_match_predictions,published_validation_results E0|{s}" for s in SEASONS),
        *(f"published_calibration_data {s}" for s in SEASONS),
        "published_models",
    ])

    expected = expected_counts(workspace)
    assert min(expected.values()) > 0
    assert {table: database.count(table) for table in expected} == expected
    assert database.count("predictions", "jackpot_id IS NOT NULL") == 0
    for season in SEASONS:  # partition by partition too
        assert database.count(
            "predictions", "match_id IN (SELECT match_id FROM jackpot.matches WHERE league = 'E0' AND season = %s)", [season]
        ) == duck_count(workspace, f"SELECT * FROM match_predictions WHERE season = ? AND {HAS_PROBABILITIES}", [season])
        assert database.count("team_strength_snapshots", "season = %s", [season]) == duck_count(
            workspace, "SELECT * FROM team_strength_snapshots WHERE season = ?", [season])
        assert database.count("validation_results", "season = %s", [season]) == duck_count(
            workspace, "SELECT * FROM validation_reports WHERE season = ?", [season])

    # the values survive the trip: probabilities, and the flags split into the text[] of the schema
    duck = workspace.sql(
        f"SELECT match_id, set_id, prob_home, flags FROM match_predictions WHERE {HAS_PROBABILITIES} ORDER BY match_id, set_id"
    )
    with database.connect() as connection:
        published = connection.execute(
            "SELECT match_id, set_id::text, prob_home, flags FROM jackpot.predictions ORDER BY match_id, set_id::text"
        ).fetchall()
        (active,) = connection.execute("SELECT model_version FROM jackpot.models WHERE status = 'active'").fetchone()
    assert [(m, s, p, [f for f in (flags or "").split(",") if f]) for m, s, p, flags in duck.itertuples(index=False)] == [
        tuple(row) for row in published
    ]
    assert active == workspace.sql("SELECT model_version FROM model_registry WHERE status = 'active'")["model_version"][0]

    # nothing stale any more: a second make run publishes nothing
    tables = database.tables()
    before = {table: database.dump(table) for table in tables}
    second = publish_changed(defs, workspace.settings, workspace.instance, dsn=database.dsn, run_config=QUIET, log=lines.append)
    assert (second.published, second.tables, second.failed, second.catalog) == ([], [], {}, False)
    assert {table: database.dump(table) for table in tables} == before

    # forcing every publisher again changes nothing either: no duplicate, no update, identities kept
    for key in partitions:
        result = defs.resolve_job_def("publish_modeling_partition_job").execute_in_process(
            instance=workspace.instance, partition_key=key, run_config=QUIET)
        assert result.success
        stats = {
            node: {k: v.value for k, v in m.metadata.items()}
            for node in ("published_team_strength_snapshots", "published_match_predictions", "published_validation_results")
            for m in result.asset_materializations_for_node(node)
        }
        assert len(stats) == 3
        for name, values in stats.items():
            assert (values["inserted"], values["updated"], values["deleted"]) == (0, 0, 0), name
        assert stats["published_match_predictions"]["skipped_without_probabilities"] == duck_count(
            workspace, f"SELECT * FROM match_predictions WHERE season = ? AND NOT ({HAS_PROBABILITIES})", [key.keys_by_dimension["season"]])
    for season in SEASONS:
        assert defs.resolve_job_def("publish_calibration_job").execute_in_process(
            instance=workspace.instance, partition_key=season, run_config=QUIET).success
    assert defs.resolve_job_def("publish_models_job").execute_in_process(instance=workspace.instance, run_config=QUIET).success
    assert {table: database.dump(table) for table in tables} == before

    # append-only registry: a new registry run adds a training run, the model is the same version
    run(workspace, "weekly_summary_job")
    third = publish_changed(defs, workspace.settings, workspace.instance, dsn=database.dsn, run_config=QUIET, log=lines.append)
    assert (third.tables, third.failed) == (["published_models"], {})
    assert {table: database.count(table) for table in expected} == expected_counts(workspace)
    assert database.count("training_runs") == expected["training_runs"] + 1
    assert database.dump("models") == before["models"]


def test_a_finalised_jackpot_is_published_once_and_then_left_alone(modeled, database):  # noqa: F811
    modeled.finalise_sample()
    defs = publishing_definitions(modeled.settings, database)
    publish = defs.resolve_job_def("publish_jackpot_job")

    first = publish.execute_in_process(instance=modeled.instance, partition_key=SAMPLE_ID, run_config=QUIET)
    assert first.success
    (materialization,) = first.asset_materializations_for_node("published_jackpots")
    stats = {k: v.value for k, v in materialization.metadata.items()}
    n_rows = int(modeled.sql("SELECT count(*) n FROM jackpot_predictions WHERE jackpot_id = ?", [SAMPLE_ID])["n"][0])
    n_fixtures = int(modeled.sql("SELECT count(DISTINCT position) n FROM jackpot_predictions WHERE jackpot_id = ?", [SAMPLE_ID])["n"][0])
    assert (stats["inserted"], stats["fixtures"], stats["predictions"]) == (1, n_fixtures, n_rows) == (1, 15, 15 * 7)
    assert database.count("jackpots", "jackpot_id = %s AND status = 'finalised'", [SAMPLE_ID]) == 1
    assert database.count("jackpot_fixtures", "jackpot_id = %s", [SAMPLE_ID]) == n_fixtures
    assert database.count("predictions", "jackpot_id = %s", [SAMPLE_ID]) == n_rows
    with database.connect() as connection:
        owner, card_sha256 = connection.execute(
            "SELECT owner, card_sha256 FROM jackpot.jackpots WHERE jackpot_id = %s", [SAMPLE_ID]).fetchone()
        assert stale_signatures(connection, FRESHNESS["jackpots"], modeled.sql(
            "SELECT jackpot_id, card_sha256, status FROM jackpots").itertuples(index=False)) == []
    # the sample card names no owner: the writer role that published it owns it
    assert owner == database.roles.writer
    assert card_sha256 == modeled.sql("SELECT card_sha256 FROM jackpots WHERE jackpot_id = ?", [SAMPLE_ID])["card_sha256"][0]

    tables = ("jackpots", "jackpot_fixtures", "predictions")
    before = {table: database.dump(table) for table in tables}
    second = publish.execute_in_process(instance=modeled.instance, partition_key=SAMPLE_ID, run_config=QUIET)
    assert second.success  # the triggers would refuse any write: the republish is a no-op
    (materialization,) = second.asset_materializations_for_node("published_jackpots")
    assert materialization.metadata["already_finalised"].value == 1
    assert {table: database.dump(table) for table in tables} == before
