"""jackpot_card_sensor (one partition and one run per new card; bad cards skipped and logged), a bad card
failing its own partition, and the code location with the jackpot feature wired in."""

from __future__ import annotations

import json
import shutil

import pytest
from dagster import DefaultSensorStatus, SensorResult, build_sensor_context, instance_for_test

from jackpot_pipeline.defs.runs import step_failure_message
from jackpot_pipeline.defs.jackpots import JackpotFilesResource, jackpot_card_sensor
from jackpot_pipeline.jackpots.cards import CardError, load_card
from jackpot_pipeline_tests.jackpots_defs.conftest import SAMPLE_CARD, SAMPLE_ID, empty_workspace


@pytest.fixture
def light(tmp_path, shared_data):
    """A workspace without any data: enough for the sensor and for cards that fail before reading the warehouse."""
    with instance_for_test() as instance:
        yield empty_workspace(tmp_path, shared_data, instance)


def tick(workspace, cursor: str | None) -> SensorResult:
    context = build_sensor_context(
        instance=workspace.instance,
        cursor=cursor,
        resources={"jackpot_files": JackpotFilesResource(
            jackpots_dir=str(workspace.cards), exports_dir=str(workspace.settings.exports_dir))},
    )
    result = jackpot_card_sensor(context)
    # build_sensor_context does not apply partition additions (the daemon does): apply them here
    for request in result.dynamic_partitions_requests or []:
        workspace.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def runs(result: SensorResult) -> list[tuple[str, str, str]]:
    return [(r.job_name, str(r.partition_key), r.run_key) for r in result.run_requests or []]


def bad_card_bytes() -> bytes:
    card = json.loads(SAMPLE_CARD.read_text())
    card["jackpot_id"] = "broken_card"
    card["fixtures"][2]["odds"]["draw"] = 0.5
    return json.dumps(card).encode()


def test_sensor_adds_a_partition_and_one_run_per_new_card_and_skips_bad_ones(light, capfd):
    shutil.copyfile(SAMPLE_CARD, light.cards / SAMPLE_CARD.name)
    (light.cards / "broken_card.json").write_bytes(bad_card_bytes())
    (light.cards / "notes.txt").write_text("not a card")
    with pytest.raises(CardError) as bad:
        load_card(light.cards / "broken_card.json")

    capfd.readouterr()
    first = tick(light, None)
    logged = capfd.readouterr().err  # Dagster's sensor logger writes to stderr, not to the root logger
    sha = load_card(light.cards / SAMPLE_CARD.name).sha256
    assert runs(first) == [("jackpot_job", SAMPLE_ID, f"{SAMPLE_CARD.name}:{sha}")]
    assert first.run_requests[0].tags["jackpot/card_sha256"] == sha
    assert [(r.partitions_def_name, list(r.partition_keys)) for r in first.dynamic_partitions_requests] == [("jackpots", [SAMPLE_ID])]
    assert light.instance.get_dynamic_partitions("jackpots") == [SAMPLE_ID]
    assert f"ERROR - card skipped: {bad.value}" in logged  # the CardError message, naming file, fixture and field
    assert "fixture 3, field 'odds.draw'" in str(bad.value)
    cursor = json.loads(first.cursor)
    assert set(cursor) == {SAMPLE_CARD.name, "broken_card.json"}

    second = tick(light, first.cursor)  # nothing changed: no run, no addition, the bad card not logged again
    assert runs(second) == [] and not second.dynamic_partitions_requests
    assert "card skipped" not in capfd.readouterr().err
    assert second.skip_reason is not None

    card = json.loads(SAMPLE_CARD.read_text())
    card["jackpot_id"] = "second_card"
    (light.cards / "second_card.csv").write_text(  # a CSV card: same rules
        "jackpot_id,name,operator,home_team,away_team,league,kickoff,odds_home,odds_draw,odds_away\n"
        "second_card,Second,,Arsenal,Everton,E0,2024-05-19 16:00,1.2,7,13\n"
    )
    (light.cards / "broken_card.json").write_bytes(bad_card_bytes().replace(b"0.5", b"3.5"))  # fixed
    third = tick(light, second.cursor)
    assert sorted((job, key) for job, key, _ in runs(third)) == [("jackpot_job", "broken_card"), ("jackpot_job", "second_card")]
    assert sorted(light.instance.get_dynamic_partitions("jackpots")) == sorted([SAMPLE_ID, "broken_card", "second_card"])

    # a results file beside a predicted card asks for exports + validation only
    (light.cards / "sample_2324_final.results.csv").write_text("position,result\n1,H\n")
    fourth = tick(light, third.cursor)
    assert [(job, key) for job, key, _ in runs(fourth)] == [("jackpot_refresh_job", SAMPLE_ID)]
    assert runs(tick(light, fourth.cursor)) == []


def test_two_cards_with_one_jackpot_id_are_both_skipped(light, capfd):
    shutil.copyfile(SAMPLE_CARD, light.cards / "a.json")
    shutil.copyfile(SAMPLE_CARD, light.cards / "b.json")
    result = tick(light, None)
    assert runs(result) == [] and not result.dynamic_partitions_requests
    logged = capfd.readouterr().err
    assert "a.json, field 'jackpot_id': jackpot_id 'sample_2324_final' is also declared by" in logged
    assert "b.json, field 'jackpot_id'" in logged


def test_sensor_is_on_by_default():
    assert jackpot_card_sensor.default_status == DefaultSensorStatus.RUNNING


def test_a_bad_card_fails_its_partition_with_the_card_error(light):
    (light.cards / "broken_card.json").write_bytes(bad_card_bytes())
    with pytest.raises(CardError) as expected:
        load_card(light.cards / "broken_card.json")
    result = light.predict("broken_card")
    assert not result.success
    assert step_failure_message(result).endswith(f"CardError: {expected.value}")

    missing = light.predict("never_written")
    assert f"no card file in this folder declares jackpot_id 'never_written'" in step_failure_message(missing)


def test_the_code_location_loads_with_the_jackpot_feature(light):
    graph = light.defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"jackpot_predictions", "jackpot_exports", "jackpot_validation"} <= keys
    predictions = graph.get(next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "jackpot_predictions"))
    assert predictions.partitions_def.name == "jackpots"
    assert {k.to_user_string() for k in predictions.parent_keys} == {"teams", "team_strength_snapshots", "calibration_curves"}
    assert {s.name for s in light.defs.sensors} >= {"jackpot_card_sensor", "new_csv_sensor"}
    light.defs.resolve_job_def("jackpot_job")
    light.defs.resolve_job_def("jackpot_refresh_job")
