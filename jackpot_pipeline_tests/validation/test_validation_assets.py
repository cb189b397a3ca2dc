"""Validation assets through Dagster: a temporary DuckDB file and instance, real football-data partitions.

Two setups: a stand-in ``match_predictions`` asset (same partitions and columns, computed with
walk_forward on real files) keeps the validation shell testable on its own; the integration test runs
the real chain ingestion -> modeling -> validation, including the weekly jobs, schedule and sensor.
"""

import base64
import datetime as dt
import hashlib
import json
import re
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import (
    AssetKey,
    Config,
    DagsterEventType,
    DagsterRunStatus,
    DataVersion,
    Definitions,
    MultiPartitionKey,
    Output,
    asset,
    build_schedule_context,
    build_sensor_context,
    define_asset_job,
    instance_for_test,
    materialize,
)

from jackpot_pipeline.defs.ingestion.assets import ingest_league_season
from jackpot_pipeline.defs.ingestion.partitions import league_season_partitions
from jackpot_pipeline.defs.ingestion.sensors import ingest_job
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseIOManager, WarehouseResource
from jackpot_pipeline.defs.validation import validation_assets, validation_checks, validation_jobs, validation_schedules, validation_sensors
from jackpot_pipeline.defs.validation.assets import REPORT_COLUMNS, register_models, validation_reports, validation_summary
from jackpot_pipeline.defs.validation.schedules import (
    WEEKLY_BATCH_TAG,
    latest_season_partitions,
    weekly_refit_job,
    weekly_refit_schedule,
    weekly_summary_sensor,
)
from jackpot_pipeline.model import validation as v
from jackpot_pipeline_tests.validation.real_predictions import long_predictions

PNG_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def png_of(metadata_value) -> bytes:
    match = PNG_URI.search(metadata_value.value if hasattr(metadata_value, "value") else metadata_value.text)
    assert match, "no inline PNG in the metadata"
    return base64.b64decode(match.group(1))


def sql(database, query: str) -> pd.DataFrame:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(query).df()


def add_partitions(instance, league: str, seasons) -> None:
    instance.add_dynamic_partitions("league", [league])
    instance.add_dynamic_partitions("season", list(seasons))


def latest_metadata(instance, asset_name: str, partition: str | None = None) -> dict:
    record = instance.get_latest_data_version_record(AssetKey(asset_name), partition_key=partition)
    return dict(record.asset_materialization.metadata)


# --- stand-in upstream ------------------------------------------------------------------------------


class StandInConfig(Config):
    # > 0 pulls set A towards the uniform forecast: a deliberately worse model
    blur_model: float = 0.0


def make_stand_in(shared_data):
    @asset(
        name="match_predictions",
        partitions_def=league_season_partitions,
        io_manager_key="warehouse_io_manager",
        metadata={"partition_expr": {"league": "league", "season": "season"}},
        group_name="modeling",
        code_version="stand-in",
    )
    def match_predictions(context, config: StandInConfig):
        keys = context.partition_key.keys_by_dimension
        frame = long_predictions(shared_data, keys["league"], ["2223", "2324"])
        frame = frame[frame["season"] == keys["season"]].reset_index(drop=True)
        if config.blur_model:
            rows = frame["set_id"] == "A"
            frame.loc[rows, list(v.PROB_COLUMNS)] = (1 - config.blur_model) * frame.loc[rows, list(v.PROB_COLUMNS)] + config.blur_model / 3
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame[["match_id", "set_id", *v.PROB_COLUMNS]], index=False).values.tobytes()).hexdigest()[:16]
        return Output(frame, data_version=DataVersion(digest))

    return match_predictions


@pytest.fixture
def warehouse(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    return database, {
        "warehouse_io_manager": WarehouseIOManager(database=str(database), schema="main"),
        "warehouse": WarehouseResource(database=str(database)),
    }


def test_reports_summary_and_registry_on_a_stand_in(shared_data, warehouse):
    database, resources = warehouse
    stand_in = make_stand_in(shared_data)
    with instance_for_test() as instance:
        add_partitions(instance, "E0", ["2223", "2324"])
        for season in ("2223", "2324"):
            result = materialize([stand_in, validation_reports], partition_key=f"E0|{season}", instance=instance, resources=resources)
            assert result.success

        # --- one partition's report: table rows and metadata with an inline PNG
        metadata = result.asset_materializations_for_node("validation_reports")[0].metadata
        png = png_of(metadata["reliability_diagram"])
        assert png.startswith(b"\x89PNG")
        assert metadata["metrics"].value.startswith("| set |")
        assert metadata["health"].value == "healthy" and metadata["matches_scored"].value == 380
        stored = sql(database, "SELECT * FROM validation_reports WHERE league = 'E0' AND season = '2324'")
        assert stored.columns.tolist() == REPORT_COLUMNS
        assert stored["set_id"].tolist() == list(v.SET_ORDER)
        expected = v.evaluate_sets(long_predictions(shared_data, "E0", ["2223", "2324"]).query("season == '2324'")).set_index("set_id")
        got = stored.set_index("set_id")
        np.testing.assert_allclose(got.loc[expected.index, "rps"], expected["rps"], rtol=1e-12)
        np.testing.assert_allclose(got.loc[expected.index, "rps_diff_market_pre_se"], expected["rps_diff_market_pre_se"], rtol=1e-12)
        assert json.loads(got.loc["A", "reliability"])["H"]["count"]
        assert sql(database, "SELECT count(*) n FROM validation_reports")["n"][0] == 2 * 9

        # --- the summary over every partition, with the partition -> data version map
        result = materialize([stand_in, validation_summary], selection=[validation_summary], instance=instance, resources=resources)
        assert result.success
        metadata = result.asset_materializations_for_node("validation_summary")[0].metadata
        versions = metadata["input_data_versions"].value["match_predictions"]
        assert set(versions) == {"E0|2223", "E0|2324"}
        for partition, version in versions.items():
            record = instance.get_latest_data_version_record(AssetKey("match_predictions"), partition_key=partition)
            assert record.asset_materialization.tags["dagster/data_version"] == version
        assert png_of(metadata["reliability_diagram"]).startswith(b"\x89PNG")
        assert "E0|2324" not in metadata["headline_partitions_missing"].value
        summary = sql(database, "SELECT * FROM validation_summary")
        headline = summary[(summary["scope"] == "headline") & (summary["set_id"] == "A")].iloc[0]
        assert headline["n"] == 2 * (380 - 100)  # every match after the first 100 of each season
        assert set(summary["scope"]) == {"headline", "league", "league_season"}
        assert 0.19 < headline["rps"] < 0.23

        # --- registry: first version active; the same inputs again add nothing; history is append-only
        def register():
            run = materialize([stand_in, validation_reports, register_models], selection=[register_models], instance=instance, resources=resources)
            assert run.success
            return run

        register()
        first = sql(database, "SELECT * FROM model_registry ORDER BY event_id")
        assert first[["league", "event", "status"]].values.tolist() == [["E0", "registered", "active"]]
        assert json.loads(first["metrics"][0])["evaluation_season"] == "2324"
        register()
        assert sql(database, "SELECT count(*) n FROM model_registry")["n"][0] == 1
        runs = sql(database, "SELECT * FROM training_runs ORDER BY recorded_at")
        assert len(runs) == 2 and runs["registry_status"].tolist() == ["active", "active"]
        assert runs["run_id"].tolist()[0] == first["run_id"][0] != runs["run_id"].tolist()[1]

        # a worse model (A pulled towards uniform) is a new version that the gate archives
        def predict(blur: float) -> None:
            config = {"ops": {"match_predictions": {"config": {"blur_model": blur}}}}
            assert materialize([stand_in, validation_reports], partition_key="E0|2324", instance=instance, resources=resources, run_config=config).success

        predict(0.1)
        run = register()
        registry = sql(database, "SELECT * FROM model_registry ORDER BY event_id")
        assert registry[["event", "status"]].values.tolist() == [["registered", "active"], ["registered", "archived"]]
        assert "worse than active" in registry["reason"][1] and "rps on 2324" in registry["reason"][1]
        pd.testing.assert_frame_equal(registry.iloc[:1], first)  # the first version is untouched
        assert run.asset_materializations_for_node("register_models")[0].metadata["active_versions"].value == {"E0": first["model_version"][0]}

        # far worse: its own health is critical (RPS gap to the market above 0.015), so it fails outright
        predict(0.3)
        register()
        registry = sql(database, "SELECT * FROM model_registry ORDER BY event_id")
        assert registry["status"].tolist() == ["active", "archived", "failed"] and "critical health" in registry["reason"][2]
        audit = sql(database, "SELECT registry_status FROM training_runs ORDER BY recorded_at")["registry_status"].tolist()
        assert audit == ["active", "active", "archived", "failed"]

        # the original model again: an already registered version, so nothing new
        predict(0.0)
        register()
        final = sql(database, "SELECT * FROM model_registry ORDER BY event_id")
        pd.testing.assert_frame_equal(final, registry)
        assert len(sql(database, "SELECT * FROM training_runs")) == 5


def test_an_empty_partition_adds_no_rows(shared_data, warehouse):
    database, resources = warehouse

    @asset(name="match_predictions", partitions_def=league_season_partitions, io_manager_key="warehouse_io_manager",
           metadata={"partition_expr": {"league": "league", "season": "season"}})
    def some_predictions(context):
        frame = long_predictions(shared_data, "E0", ["2324"])
        return frame if context.partition_key.keys_by_dimension["season"] == "2324" else frame.iloc[0:0]

    with instance_for_test() as instance:
        add_partitions(instance, "E0", ["2014", "2324"])
        assert materialize([some_predictions, validation_reports], partition_key="E0|2324", instance=instance, resources=resources).success
        result = materialize([some_predictions, validation_reports], partition_key="E0|2014", instance=instance, resources=resources)
        assert result.success
        metadata = result.asset_materializations_for_node("validation_reports")[0].metadata
        assert "no predictions" in metadata["note"].value
        assert sql(database, "SELECT season, count(*) n FROM validation_reports GROUP BY season").values.tolist() == [["2324", 9]]


# --- the real chain ---------------------------------------------------------------------------------


@pytest.fixture
def pipeline(tmp_path, shared_data):
    from jackpot_pipeline.defs.modeling.assets import modeling_assets  # the lead's assets

    raw = tmp_path / "raw"
    database = tmp_path / "warehouse.duckdb"
    for season in ("2122", "2223", "2324"):
        target = raw / "mmz4281" / season / "E0.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / "mmz4281" / season / "E0.csv", target)
    defs = Definitions(
        assets=[ingest_league_season, *modeling_assets, *validation_assets],
        asset_checks=validation_checks,
        jobs=[
            ingest_job, *validation_jobs,
            define_asset_job("walk_forward", selection=["team_strength_snapshots", "uncalibrated_predictions"]),
            define_asset_job("calibration", selection=["calibration_curves"]),
        ],
        schedules=validation_schedules,
        sensors=validation_sensors,
        resources={
            "warehouse_io_manager": WarehouseIOManager(database=str(database), schema="main"),
            "warehouse": WarehouseResource(database=str(database)),
            "raw_files": RawFilesResource(raw_dir=str(raw)),
        },
    )
    with instance_for_test() as instance:
        yield defs, instance, database


def test_weekly_chain_on_real_partitions(pipeline):
    defs, instance, database = pipeline
    seasons = ("2122", "2223", "2324")
    add_partitions(instance, "E0", [*seasons, "2014"])

    def run(job, partition_key=None, tags=None):
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=partition_key, tags=tags)
        assert result.success
        return result

    for season in (*seasons, "2014"):  # E0|2014 is a key combination without data
        run("ingest_job", MultiPartitionKey({"league": "E0", "season": season}))
    assert [str(key) for key in latest_season_partitions(instance)] == ["E0|2324"]

    for season in seasons:
        run("walk_forward", MultiPartitionKey({"league": "E0", "season": season}))
    run("calibration", "2324")

    # the schedule asks for the latest season of each league, tagged with the week's batch
    tick = weekly_refit_schedule.evaluate_tick(
        build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 1, 4, 2, 0, tzinfo=dt.UTC), repository_def=defs.get_repository_def()
        )
    )
    (request,) = tick.run_requests
    assert request.partition_key == "E0|2324" and request.tags[WEEKLY_BATCH_TAG] == "2026-01-04T02:00"

    weekly = run("weekly_refit_job", request.partition_key, tags=request.tags)
    materialized = {event.asset_key.to_user_string() for event in weekly.all_events if event.event_type == DagsterEventType.ASSET_MATERIALIZATION}
    assert {"uncalibrated_predictions", "match_predictions", "validation_reports"} <= materialized
    report = latest_metadata(instance, "validation_reports", "E0|2324")
    assert png_of(report["reliability_diagram"]).startswith(b"\x89PNG")
    assert 0.19 < report["rps_A"].value < 0.23

    # once the batch is finished, the sensor starts the unpartitioned half
    context = build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    follow_up = weekly_summary_sensor.evaluate_tick(context)
    (summary_request,) = follow_up.run_requests
    assert summary_request.tags[WEEKLY_BATCH_TAG] == "2026-01-04T02:00" and summary_request.tags["jackpot/refit_failures"] == "0"
    summary_run = run("weekly_summary_job", tags=summary_request.tags)
    checks = {event.event_specific_data.check_name: event.event_specific_data.passed for event in summary_run.all_events
              if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION}
    # the copies carry today's snapshot date, so a 2023/24 league is long stale
    assert checks == {"data_is_fresh": False, "model_health_not_critical": True}
    freshness = sql(database, "SELECT * FROM data_freshness")
    assert freshness["last_match_date"].tolist() == [pd.Timestamp("2024-05-19")] and freshness["stale"].tolist() == [True]

    registry = sql(database, "SELECT * FROM model_registry")
    assert registry[["league", "event", "status"]].values.tolist() == [["E0", "registered", "active"]]
    inputs = json.loads(registry["input_data_versions"][0])
    assert set(inputs["canonical_matches"]) == {"E0|2014", "E0|2122", "E0|2223", "E0|2324"}
    assert json.loads(registry["parameters"][0])["dixon_coles"]["xi"] == pytest.approx(0.0018)
    assert registry["training_start"][0] == pd.Timestamp("2021-08-13")
    assert sql(database, "SELECT count(*) n FROM training_runs")["n"][0] == 1
    summary = latest_metadata(instance, "validation_summary")
    assert set(summary["input_data_versions"].value["match_predictions"]) >= {"E0|2324"}

    # the same batch is not summarised twice
    again = weekly_summary_sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=follow_up.cursor))
    assert not again.run_requests and "already summarised" in again.skip_message


def test_summary_sensor_waits_for_the_whole_batch():
    with instance_for_test() as instance:
        job = Definitions(assets=[make_stand_in_for_jobs()], jobs=[weekly_refit_job]).resolve_job_def("weekly_refit_job")

        def add_run(batch, status):
            return instance.create_run_for_job(job_def=job, status=status, tags={WEEKLY_BATCH_TAG: batch})

        assert weekly_summary_sensor.evaluate_tick(build_sensor_context(instance=instance)).skip_message == "no weekly refit has run yet"
        add_run("2026-01-04T02:00", DagsterRunStatus.SUCCESS)
        running = add_run("2026-01-04T02:00", DagsterRunStatus.STARTED)
        tick = weekly_summary_sensor.evaluate_tick(build_sensor_context(instance=instance))
        assert not tick.run_requests and "1 of 2 runs still going" in tick.skip_message
        instance.report_run_failed(running)
        tick = weekly_summary_sensor.evaluate_tick(build_sensor_context(instance=instance))
        (request,) = tick.run_requests
        assert request.run_key == "summary:2026-01-04T02:00" and request.tags["jackpot/refit_failures"] == "1"
        assert tick.cursor == "2026-01-04T02:00"


def make_stand_in_for_jobs():
    @asset(name="validation_reports", partitions_def=league_season_partitions, group_name="validation")
    def placeholder():
        return None

    return placeholder


def test_schedule_skips_without_data():
    with instance_for_test() as instance:
        tick = weekly_refit_schedule.evaluate_tick(build_schedule_context(instance=instance))
        assert not tick.run_requests and "no league" in tick.skip_message
