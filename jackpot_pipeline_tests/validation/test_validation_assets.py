"""Validation assets through Dagster on real partitions (E0 2021/22-2023/24 brought up to date by ``make
run``'s engine): per league-season reports with the reliability diagram, the summary with its map of inputs,
the append-only registry and its promotion gate, partitions without predictions, and the weekly fetch that
hands a changed file to the sensor."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.model.walk_forward import DEFAULT_WALK_FORWARD
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultScheduleStatus,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from jackpot_pipeline.definitions import build_definitions, build_resources
from jackpot_pipeline.defs.jackpots import jackpot_resources
from jackpot_pipeline.defs.publish import PostgresResource
from jackpot_pipeline.defs.schedules import fetch_job, weekly_fetch_schedule
from jackpot_pipeline.model import validation as v
from jackpot_pipeline.settings import Settings, load_settings
from jackpot_pipeline.steps.validation import PREDICTION_INPUT_COLUMNS, REPORT_COLUMNS, validation_report_step
from jackpot_pipeline_tests.defs.conftest import data_version
from jackpot_pipeline_tests.defs.modeled import ModeledWorkspace
from jackpot_pipeline_tests.validation.conftest import VALIDATED_SEASONS

PNG_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)")
PARTITIONS = [f"E0|{season}" for season in VALIDATED_SEASONS]


def png_of(metadata_value) -> bytes:
    match = PNG_URI.search(metadata_value.value if hasattr(metadata_value, "value") else metadata_value.text)
    assert match, "no inline PNG in the metadata"
    return base64.b64decode(match.group(1))


def latest_record(instance, asset: str, partition: str | None = None):
    return instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition] if partition else None), limit=1
    ).records[0]


def test_reports_of_each_partition_through_one_batched_run(validated):
    run = validated.setup_run(f"validation_reports {PARTITIONS[0]}..{PARTITIONS[-1]} (3)")
    versions = {}
    for partition in PARTITIONS:
        record = latest_record(validated.instance, "validation_reports", partition)
        assert record.run_id == run["run_id"]  # one run, one materialization per partition
        materialization = record.asset_materialization
        metadata = materialization.metadata
        versions[partition] = materialization.tags["dagster/data_version"]
        assert png_of(metadata["reliability_diagram"]).startswith(b"\x89PNG\r\n\x1a\n")
        assert metadata["metrics"].value.startswith("| set |")
        assert metadata["rows"].value == len(v.SET_ORDER)
        assert 0.19 < metadata["rps_A"].value < 0.23
        # what it was computed from: the partition's predictions, at the version the instance holds
        assert metadata["input_data_versions"].value == {
            f"match_predictions[{partition}]": data_version(validated.instance, "match_predictions", partition)}
    assert len(set(versions.values())) == 3

    latest = latest_record(validated.instance, "validation_reports", "E0|2324").asset_materialization.metadata
    assert latest["health"].value == "healthy" and latest["matches_scored"].value == 380
    stored = validated.store.read("validation_reports", "E0|2324")
    assert stored.columns.tolist() == REPORT_COLUMNS
    assert stored["set_id"].tolist() == list(v.SET_ORDER)
    # the stored rows are the core's report of the stored predictions
    predictions = validated.store.read("match_predictions", "E0|2324", PREDICTION_INPUT_COLUMNS)
    expected = validation_report_step(predictions, "E0", "2324").frames["validation_reports"].set_index("set_id")
    got = stored.set_index("set_id")
    for column in ("n", "rps", "rps_se", "log_loss", "brier", "ece", "rps_diff_market_pre", "rps_diff_market_pre_se",
                   "rps_diff_market_close"):
        np.testing.assert_allclose(got[column].astype(float), expected.loc[got.index, column].astype(float), rtol=1e-12,
                                   err_msg=column)
    assert got["health"].tolist() == expected.loc[got.index, "health"].tolist()
    independent = v.evaluate_sets(predictions).set_index("set_id")
    np.testing.assert_allclose(got.loc[independent.index, "rps"], independent["rps"], rtol=1e-12)
    assert json.loads(got.loc["A", "reliability"])["H"]["count"]
    assert validated.sql("SELECT count(*) n FROM validation_reports")["n"][0] == 3 * len(v.SET_ORDER)


def test_the_summary_maps_its_inputs_and_checks_health(validated):
    record = latest_record(validated.instance, "validation_summary")
    metadata = record.asset_materialization.metadata
    assert record.run_id == validated.setup_run("teams+validation_summary+model_registry+data_freshness")["run_id"]
    inputs = metadata["input_data_versions"].value
    assert set(inputs) == {f"match_predictions[{p}]" for p in PARTITIONS}
    for partition in PARTITIONS:
        assert inputs[f"match_predictions[{partition}]"] == data_version(validated.instance, "match_predictions", partition)
    assert png_of(metadata["reliability_diagram"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not set(PARTITIONS) & set(metadata["headline_partitions_missing"].value)
    assert metadata["headline_partitions_present"].value == 3

    summary = validated.sql("SELECT * FROM validation_summary")
    assert set(summary["scope"]) == {"headline", "league", "league_season"}
    headline = summary[(summary["scope"] == "headline") & (summary["set_id"] == "A")].iloc[0]
    assert headline["n"] == 3 * (380 - 100) == metadata["headline_matches"].value  # matches after the first 100
    assert 0.19 < headline["rps"] < 0.23
    by_season = summary[(summary["scope"] == "league_season") & (summary["set_id"] == "A")]
    assert sorted(by_season["season"]) == list(VALIDATED_SEASONS) and (by_season["n"] == 280).all()

    # the checks: health is fine; the copies carry today's snapshot date, so 2023/24 is long stale
    assert validated.outcome.check_warnings == [
        "teams+validation_summary+model_registry+data_freshness: data_is_fresh (stale: E0)"]
    freshness = validated.sql("SELECT * FROM data_freshness")
    assert freshness["last_match_date"].tolist() == [pd.Timestamp("2024-05-19")] and freshness["stale"].tolist() == [True]


def test_the_first_registry_run_registers_an_active_version(validated):
    registry = validated.sql("SELECT * FROM model_registry ORDER BY event_id")
    assert registry[["league", "event", "status"]].values.tolist() == [["E0", "registered", "active"]]
    assert json.loads(registry["metrics"][0])["evaluation_season"] == "2324"
    inputs = json.loads(registry["input_data_versions"][0])
    assert inputs == {"canonical_matches": {p: data_version(validated.instance, "canonical_matches", p) for p in PARTITIONS}}
    assert json.loads(registry["parameters"][0])["dixon_coles"]["xi"] == pytest.approx(DEFAULT_WALK_FORWARD.dixon_coles.xi)
    assert registry["training_start"][0] == pd.Timestamp("2021-08-13")
    runs = validated.sql("SELECT * FROM training_runs")
    assert runs[["league", "model_version", "registry_status"]].values.tolist() == [
        ["E0", registry["model_version"][0], "active"]]


def revise(workspace, line: int) -> None:
    """The publisher corrects the home shots of one match of E0 2023/24: new canonical rows, same goals."""
    path = workspace.raw / "mmz4281/2324/E0.csv"
    lines = path.read_bytes().split(b"\r\n")
    header = lines[0].split(b",")
    cells = lines[line].split(b",")
    shots = header.index(b"HS")
    cells[shots] = str(int(cells[shots]) + 1).encode()
    lines[line] = b",".join(cells)
    path.write_bytes(b"\r\n".join(lines))


def remodel(workspace, blur: float = 0.0) -> None:
    """E0 2023/24 ingested, refitted and predicted again; with ``blur``, set A pulled towards the uniform
    forecast (a deliberately worse model) before it is validated."""
    for stage in ("ingest", "walk_forward", "match_predictions"):
        assert workspace.run(stage, partitions=["E0|2324"]).success
    if blur:
        frame = workspace.store.read("match_predictions", "E0|2324")
        rows = frame["set_id"] == "A"
        columns = list(v.PROB_COLUMNS)
        frame.loc[rows, columns] = (1 - blur) * frame.loc[rows, columns] + blur / 3
        workspace.store.write("match_predictions", frame, "E0|2324")
    assert workspace.run("validation_reports", partitions=["E0|2324"]).success


def registry_of(workspace) -> pd.DataFrame:
    return workspace.sql("SELECT * FROM model_registry ORDER BY event_id")


def test_the_registry_is_append_only_and_gated(fresh_validated):
    workspace = fresh_validated
    first = registry_of(workspace)
    original = (workspace.raw / "mmz4281/2324/E0.csv").read_bytes()

    # unchanged inputs: a second run adds no event, only its training-run audit row
    again = workspace.run("model_registry")
    assert again.success
    (event,) = [e for e in again.asset_materializations_for_node("register_models") if e.asset_key == AssetKey("model_registry")]
    assert event.metadata["new_events"].value == 0
    pd.testing.assert_frame_equal(registry_of(workspace), first)
    runs = workspace.sql("SELECT run_id, registry_status FROM training_runs ORDER BY recorded_at")
    assert runs["registry_status"].tolist() == ["active", "active"] and runs["run_id"].nunique() == 2
    assert workspace.pipeline().runs == []  # and the planner finds the registry current

    # a revised file is a new version; predicting worse on 2023/24, the gate archives it
    revise(workspace, 5)
    remodel(workspace, blur=0.1)
    run = workspace.run("model_registry")
    registry = registry_of(workspace)
    assert registry[["event", "status"]].values.tolist() == [["registered", "active"], ["registered", "archived"]]
    assert registry["model_version"][1] != first["model_version"][0]
    assert "worse than active" in registry["reason"][1] and "rps on 2324" in registry["reason"][1]
    pd.testing.assert_frame_equal(registry.iloc[:1], first)  # the first version is untouched
    (event,) = [e for e in run.asset_materializations_for_node("register_models") if e.asset_key == AssetKey("model_registry")]
    assert event.metadata["active_versions"].value == {"E0": first["model_version"][0]}

    # far worse: its own health is critical (RPS gap to the market above 0.015), so it fails outright
    revise(workspace, 6)
    remodel(workspace, blur=0.4)
    workspace.run("model_registry")
    registry = registry_of(workspace)
    assert registry["status"].tolist() == ["active", "archived", "failed"] and "critical health" in registry["reason"][2]

    # as good as the active one (within the tolerance): promoted, and the previous version superseded
    revise(workspace, 7)
    remodel(workspace)
    workspace.run("model_registry")
    registry = registry_of(workspace)
    promoted = registry["model_version"][3]
    assert registry[["event", "status"]].values.tolist()[3:] == [["registered", "active"], ["status_change", "archived"]]
    assert registry["model_version"][4] == first["model_version"][0] and registry["reason"][4] == f"superseded by {promoted}"
    v.assert_append_only(first, registry)
    audit = workspace.sql("SELECT registry_status FROM training_runs ORDER BY recorded_at")["registry_status"].tolist()
    assert audit == ["active", "active", "archived", "failed", "active"]

    # the original file again: make run brings everything back, and the first version is not registered twice
    (workspace.raw / "mmz4281/2324/E0.csv").write_bytes(original)
    outcome = workspace.pipeline()
    assert outcome.success and "model_registry" in outcome.stage_partitions
    pd.testing.assert_frame_equal(registry_of(workspace), registry)
    assert len(workspace.sql("SELECT * FROM training_runs")) == 6


def test_partitions_without_predictions_or_results_add_no_rows(tmp_path, shared_data, validated):
    settings = Settings(base_url=shared_data.as_uri(), leagues=("E0",), seasons_spec="2324", data_dir=tmp_path / "data")
    with instance_for_test() as instance:
        workspace = ModeledWorkspace(settings, instance, shared_data)
        # next season's fixtures are out, none played yet
        fixtures = validated.store.read("match_predictions", "E0|2324").assign(season="2425", status="scheduled", result=None)
        workspace.store.write("match_predictions", fixtures, "E0|2425")
        workspace.add("E0|2014", "E0|2425")
        result = workspace.run("validation_reports", partitions=["E0|2014", "E0|2425"])
        notes = {e.partition: (e.metadata["note"].value, e.tags["dagster/data_version"])
                 for e in result.asset_materializations_for_node("validation_reports")}
        assert notes == {"E0|2014": ("E0|2014: no predictions", "empty"),
                         "E0|2425": ("E0|2425: no played match with a result yet", "empty")}
        assert len(workspace.store.read("validation_reports", "E0|2014")) == 0
        assert workspace.store.read("validation_reports", "E0|2425").columns.tolist() == REPORT_COLUMNS
        assert workspace.sql("SELECT count(*) n FROM validation_reports")["n"][0] == 0


def test_the_weekly_fetch_brings_a_revised_file_that_the_sensor_then_ingests(tmp_path, shared_data, monkeypatch):
    site = tmp_path / "site"  # the publisher
    published = site / "mmz4281/2324/E0.csv"
    published.parent.mkdir(parents=True)
    shutil.copyfile(shared_data / "mmz4281/2324/E0.csv", published)
    for name, value in {"FOOTBALL_DATA_URL": site.as_uri(), "JACKPOT_LEAGUES": "E0", "JACKPOT_SEASONS": "2324",
                        "JACKPOT_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JACKPOT_PG_DSN", raising=False)
    settings = load_settings()
    assert weekly_fetch_schedule.cron_schedule == "0 2 * * 0" and weekly_fetch_schedule.execution_timezone == "UTC"
    assert weekly_fetch_schedule.default_status == DefaultScheduleStatus.RUNNING
    assert [s.job_name for s in build_definitions(settings).schedules] == ["fetch_job"]

    with instance_for_test() as instance:
        workspace = ModeledWorkspace(settings, instance, shared_data)
        resources = {**build_resources(settings), **jackpot_resources(settings), "postgres": PostgresResource(dsn="")}

        def fetch():
            sunday = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
            (request,) = weekly_fetch_schedule.evaluate_tick(
                build_schedule_context(instance=instance, scheduled_execution_time=sunday)).run_requests
            assert request.job_name in (None, weekly_fetch_schedule.job_name) and weekly_fetch_schedule.job_name == "fetch_job"
            assert fetch_job.execute_in_process(instance=instance, tags=request.tags).success

        (sensor,) = workspace.defs().sensors

        def tick(cursor=None):
            result = sensor(build_sensor_context(instance=instance, cursor=cursor, resources=resources))
            for request in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            return result

        fetch()
        raw = settings.raw_dir / "mmz4281/2324/E0.csv"
        assert raw.read_bytes() == published.read_bytes()
        first = tick()
        assert [(r.partitions_def_name, list(r.partition_keys)) for r in first.dynamic_partitions_requests] == [
            ("league_season", ["E0|2324"])]
        (request,) = first.run_requests
        assert (request.job_name, request.partition_key) == ("league_season_job", "E0|2324")
        assert request.tags["jackpot/stages"] == "ingest+walk_forward+calibration+match_predictions+validation_reports+form_features"
        assert workspace.pipeline().success  # what the daemon would run, here in-process
        assert workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == 380

        fetch()  # nothing new at the publisher: the file is left alone and nothing is planned
        current = tick(first.cursor)
        assert not current.run_requests and current.skip_reason.skip_message == "everything is current"

        with published.open("ab") as handle:  # the publisher adds a fixture
            handle.write(b"E0,30/06/2024,20:00,Arsenal,Chelsea" + b"," * 101 + b"\r\n")
        fetch()
        assert raw.read_bytes() == published.read_bytes()
        revised = tick(current.cursor)
        (request,) = revised.run_requests
        assert (request.partition_key, request.tags["jackpot/stages"].split("+")[0]) == ("E0|2324", "ingest")
        assert request.run_key != first.run_requests[0].run_key and not revised.dynamic_partitions_requests


def test_the_fetch_schedule_has_the_name_the_docs_give_it():
    """The README, the module docstring and the code call it ``weekly_fetch_schedule``; the UI and the
    schedule daemon show ``ScheduleDefinition.name``."""
    assert weekly_fetch_schedule.name == "weekly_fetch_schedule", (
        "defs/schedules.py: ScheduleDefinition(...) has no name=, so Dagster names it after its job "
        f"({weekly_fetch_schedule.name!r}); pass name=\"weekly_fetch_schedule\"")
