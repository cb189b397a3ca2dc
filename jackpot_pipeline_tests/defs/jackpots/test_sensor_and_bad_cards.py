"""``new_csv_sensor`` plans jackpot work like any other (a partition and a run per new card, exports and
scores when results arrive, nothing for bad cards, which are logged and skipped without affecting the
others); a bad card fails only its own partition; the code location wires the jackpot assets."""

from __future__ import annotations

import shutil

import pytest
from dagster import AssetKey, DefaultSensorStatus, SensorResult, build_sensor_context

from jackpot_pipeline.definitions import build_resources
from jackpot_pipeline.defs.jackpots import jackpot_resources
from jackpot_pipeline.defs.local_runs import failure_message
from jackpot_pipeline.defs.orchestration import RUN_KEY_TAG, STAGES_TAG
from jackpot_pipeline.defs.publish import PostgresResource
from jackpot_pipeline.jackpots.cards import CardError, load_card
from jackpot_pipeline_tests.defs.modeled import SAMPLE_CARD, SAMPLE_ID, bad_card_bytes, card_as


def tick(workspace, cursor: str | None) -> SensorResult:
    settings = workspace.settings
    context = build_sensor_context(
        instance=workspace.instance, cursor=cursor,
        resources={**build_resources(settings), **jackpot_resources(settings), "postgres": PostgresResource(dsn="")},
    )
    result = pipeline_sensor(workspace)(context)
    assert isinstance(result, SensorResult), result
    # build_sensor_context does not apply partition additions (the daemon does): apply them here
    for request in result.dynamic_partitions_requests or []:
        workspace.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def pipeline_sensor(workspace):
    """The code location's one sensor, as the daemon loads it."""
    (sensor,) = workspace.defs().sensors
    assert sensor.name == "new_csv_sensor"
    return sensor


def requested(result: SensorResult) -> list[tuple[str, str | None, list[str]]]:
    return [(r.job_name, r.partition_key, [k.to_user_string() for k in r.asset_selection or []])
            for r in result.run_requests or []]


def execute(workspace, result: SensorResult):
    """Run the sensor's requests in-process, with their tags (the run key among them), as the daemon would."""
    for request in result.run_requests:
        stages = request.tags[STAGES_TAG].split("+")
        run = workspace.run(*stages, partitions=[request.partition_key], tags=request.tags)
        assert run.success


def test_the_sensor_adds_a_partition_and_runs_a_new_card_and_skips_bad_ones(modeled, capfd):
    broken = bad_card_bytes("sensor_broken")
    with (modeled.scratch_card("sensor_good.json", card_as("sensor_good")),
          modeled.scratch_card("sensor_broken.json", broken),
          modeled.scratch_card("notes.txt", "not a card", jackpot_id="notes")):
        with pytest.raises(CardError) as bad:
            load_card(modeled.cards / "sensor_broken.json")
        assert "fixture 3, field 'odds.draw'" in str(bad.value)

        capfd.readouterr()
        first = tick(modeled, None)
        logged = capfd.readouterr().err  # Dagster's sensor logger writes to stderr, not to the root logger
        assert f"card skipped: {bad.value}" in logged  # the CardError message, naming file, fixture and field
        assert [(r.partitions_def_name, list(r.partition_keys)) for r in first.dynamic_partitions_requests] == [
            ("jackpots", ["sensor_good"])]
        assert requested(first) == [("jackpot_job", "sensor_good", ["jackpot_predictions"])]
        (request,) = first.run_requests
        assert request.run_key.startswith("jackpot_predictions:") and request.tags[RUN_KEY_TAG] == request.run_key
        assert request.tags["jackpot/trigger"] == "sensor"
        assert "sensor_broken" not in modeled.instance.get_dynamic_partitions("jackpots")

        execute(modeled, first)
        assert modeled.sql("SELECT count(*) n FROM jackpot_predictions WHERE jackpot_id = 'sensor_good'")["n"][0] == 105
        second = tick(modeled, first.cursor)  # the card is finalised: its exports and scores come next
        assert requested(second) == [("jackpot_job", "sensor_good", ["jackpot_exports", "jackpot_validation"])]
        assert not second.dynamic_partitions_requests
        execute(modeled, second)
        assert (modeled.exports / "sensor_good.json").is_file()

        third = tick(modeled, second.cursor)
        assert requested(third) == [] and not third.dynamic_partitions_requests
        assert third.skip_reason.skip_message == "everything is current"

        # the bad card fixed: now it is planned too, the good one left alone
        (modeled.cards / "sensor_broken.json").write_bytes(broken.replace(b"0.5", b"3.5"))
        fixed = tick(modeled, third.cursor)
        assert requested(fixed) == [("jackpot_job", "sensor_broken", ["jackpot_predictions"])]


def test_a_changed_finalised_card_fails_once_and_is_left_alone_until_it_changes(modeled):
    card_file = modeled.cards / SAMPLE_CARD.name
    original = card_file.read_bytes()
    stored = modeled.stored_bytes(SAMPLE_ID)
    try:
        card_file.write_bytes(original.replace(b'"home": "Brentford"', b'"home": "Brentford FC"'))
        first = tick(modeled, None)
        assert requested(first) == [("jackpot_job", SAMPLE_ID, ["jackpot_predictions"])]
        (request,) = first.run_requests
        run = modeled.run("jackpot_predictions", partitions=[SAMPLE_ID], tags=request.tags, raise_on_error=False)
        assert not run.success and "fixture 5 home: 'Brentford' -> 'Brentford FC'" in failure_message(run)
        second = tick(modeled, first.cursor)  # tried with these inputs: not requested again
        assert requested(second) == []
        assert second.skip_reason.skip_message == (
            f"everything is current (left alone: jackpot_predictions {SAMPLE_ID} failed earlier with the same inputs)")
        # even without the cursor, the run key keeps the same work from being requested twice
        assert requested(tick(modeled, None)) == []
        assert modeled.stored_bytes(SAMPLE_ID) == stored
    finally:
        card_file.write_bytes(original)
    assert requested(tick(modeled, None)) == []  # back to the finalised card: current


def test_a_results_file_beside_a_card_asks_for_its_exports_and_scores_only(modeled):
    results = modeled.cards / "sample_2324_final.results.csv"
    results.write_text("position,result\n1,H\n")
    try:
        result = tick(modeled, None)
        assert requested(result) == [("jackpot_job", SAMPLE_ID, ["jackpot_exports", "jackpot_validation"])]
    finally:
        results.unlink()
    assert requested(tick(modeled, result.cursor)) == []


def test_two_cards_with_one_jackpot_id_are_both_skipped(modeled, capfd):
    with (modeled.scratch_card("dup_a.json", card_as("dup_card"), jackpot_id="dup_card"),
          modeled.scratch_card("dup_b.json", card_as("dup_card"), jackpot_id="dup_card")):
        capfd.readouterr()
        result = tick(modeled, None)
        logged = capfd.readouterr().err
    assert requested(result) == [] and not result.dynamic_partitions_requests
    assert "dup_a.json, field 'jackpot_id': jackpot_id 'dup_card' is also declared by" in logged
    assert "dup_b.json, field 'jackpot_id'" in logged


def test_a_bad_card_fails_its_partition_with_the_card_error(light):
    (light.cards / "broken_card.json").write_bytes(bad_card_bytes())
    with pytest.raises(CardError) as expected:
        load_card(light.cards / "broken_card.json")
    result = light.predict("broken_card")
    assert not result.success
    assert failure_message(result) == str(expected.value)
    assert not light.store.exists("jackpots", "broken_card")

    missing = light.predict("never_written")
    assert "no card file in this folder declares jackpot_id 'never_written'" in failure_message(missing)

    shutil.copyfile(SAMPLE_CARD, light.cards / SAMPLE_CARD.name)  # a good card, but no model to predict it with
    unmodeled = light.predict(SAMPLE_ID)
    assert failure_message(unmodeled) == "the warehouse has no teams yet: materialise teams after ingestion"


def test_the_code_location_wires_the_jackpot_assets_and_one_sensor(light):
    defs = light.defs()
    graph = defs.resolve_asset_graph()
    predictions = graph.get(AssetKey("jackpot_predictions"))
    assert predictions.partitions_def.name == "jackpots"
    assert {k.to_user_string() for k in predictions.parent_keys} == {"teams", "team_strength_snapshots", "calibration_curves"}
    for name in ("jackpot_exports", "jackpot_validation"):
        assert graph.get(AssetKey(name)).partitions_def.name == "jackpots"
    assert pipeline_sensor(light).default_status == DefaultSensorStatus.RUNNING
    assert {job.name for job in pipeline_sensor(light).jobs} >= {"ingest_job", "league_season_job", "warehouse_job", "jackpot_job"}
    job = defs.resolve_job_def("jackpot_job")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
        "jackpot_predictions", "jackpot_exports", "jackpot_validation"}
    assert {"jackpot_files", "warehouse"} <= set(defs.resources)
