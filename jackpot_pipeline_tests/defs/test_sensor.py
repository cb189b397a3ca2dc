"""new_csv_sensor: the same plan as make run, turned into run requests for the daemon.

``build_sensor_context`` does not apply partition additions or run-key de-duplication (the daemon does):
the tests apply the additions themselves and assert on the returned ``SensorResult``; the daemon test
covers the rest.
"""

import json

from dagster import AssetKey, DagsterInstance, SensorResult, SkipReason, build_sensor_context

from jackpot_pipeline.defs.jackpots.resources import JackpotFilesResource
from jackpot_pipeline.defs.orchestration import RANGE_END_TAG, RANGE_START_TAG, RUN_KEY_TAG
from jackpot_pipeline.defs.publish.resources import PostgresResource
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseResource
from jackpot_pipeline.defs.sensors import new_csv_sensor


def tick(workspace, cursor: str | None) -> SensorResult | SkipReason:
    context = build_sensor_context(
        instance=workspace.instance,
        cursor=cursor,
        resources={
            "raw_files": RawFilesResource(raw_dir=str(workspace.raw), leagues=list(workspace.settings.leagues)),
            "jackpot_files": JackpotFilesResource(jackpots_dir=str(workspace.settings.jackpots_dir),
                                                  exports_dir=str(workspace.settings.exports_dir)),
            "postgres": PostgresResource(dsn=""),
            "warehouse": WarehouseResource(root=str(workspace.settings.warehouse_root)),
        },
    )
    result = new_csv_sensor(context)
    for request in getattr(result, "dynamic_partitions_requests", None) or []:
        workspace.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def requested(result) -> list[tuple[str, str | None, tuple[str, str] | None]]:
    """(assets, partition, range) of each run request."""
    found = []
    for request in getattr(result, "run_requests", None) or []:
        assets = "+".join(sorted(key.to_user_string() for key in request.asset_selection))
        span = (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) if RANGE_START_TAG in request.tags else None
        found.append((assets, request.partition_key, span))
    return found


def execute(workspace, result) -> None:
    """Run what the sensor asked for, in-process, as the daemon would launch it."""
    defs = workspace.defs()
    for request in result.run_requests:
        job = defs.resolve_job_def(request.job_name)
        outcome = job.execute_in_process(instance=workspace.instance, partition_key=request.partition_key,
                                         asset_selection=list(request.asset_selection), tags=request.tags,
                                         raise_on_error=False)
        assert outcome.success, request.tags


def test_new_files_add_partitions_and_request_one_batched_ingestion(workspace):
    workspace.copy("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv")
    first = tick(workspace, None)
    additions = {r.partitions_def_name: list(r.partition_keys) for r in first.dynamic_partitions_requests}
    assert additions == {"league_season": ["E0|2223", "E0|2324"]}
    ingestion = "canonical_matches+ingestion_log+quarantined_rows+raw_matches+withdrawn_matches"
    assert requested(first) == [(ingestion, None, ("E0|2223", "E0|2324"))]
    assert set(json.loads(first.cursor)["files"]) == {"mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv"}
    execute(workspace, first)
    second = tick(workspace, first.cursor)
    assert requested(second) == [("team_strength_snapshots+uncalibrated_predictions", None, ("E0|2223", "E0|2324"))]


def test_after_make_run_the_sensor_finds_nothing_and_one_new_row_is_one_chain(workspace):
    workspace.copy("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv")
    workspace.settings = type(workspace.settings)(**{**workspace.settings.__dict__, "seasons_spec": "2223-2324"})
    outcome = workspace.pipeline()
    assert outcome.success and len(outcome.runs) == 7
    quiet = tick(workspace, None)
    assert isinstance(quiet, SensorResult) and not quiet.run_requests and not quiet.dynamic_partitions_requests
    assert quiet.skip_reason.skip_message.startswith("everything is current")

    path = workspace.raw / "mmz4281/2324/E0.csv"
    path.write_bytes(path.read_bytes() + b"E0,30/06/2024,20:00,Arsenal,Chelsea" + b"," * 101 + b"\r\n")
    changed = tick(workspace, quiet.cursor)
    (assets, partition, span), = requested(changed)
    assert partition == "E0|2324" and span is None
    assert assets.split("+") == sorted(["raw_matches", "canonical_matches", "quarantined_rows", "ingestion_log",
                                        "withdrawn_matches",
                                        "team_strength_snapshots", "uncalibrated_predictions", "match_predictions",
                                        "validation_reports", "team_form_features", "league_baselines"])
    execute(workspace, changed)
    after = tick(workspace, changed.cursor)
    assert requested(after) == [("data_freshness+model_registry+teams+training_runs+validation_summary", None, None)]
    execute(workspace, after)
    assert requested(tick(workspace, after.cursor)) == []
    assert workspace.sql("SELECT count(*) n FROM canonical_matches WHERE season = '2324'")["n"][0] == 381


def test_a_run_that_failed_is_not_requested_again_until_its_file_changes(workspace):
    workspace.copy("mmz4281/2324/E0.csv")
    (workspace.raw / "mmz4281/2324/SP1.csv").write_bytes(b"<html>503</html>")
    first = tick(workspace, None)
    # the unreadable file is named in the sensor's log and planned nowhere
    assert requested(first)[0][1] == "E0|2324"
    execute(workspace, first)
    rest = tick(workspace, first.cursor)
    execute(workspace, rest)
    assert requested(tick(workspace, rest.cursor)) == []
    path = workspace.raw / "mmz4281/2324/E0.csv"
    path.write_bytes(b"Div,Date\n")  # a broken revision
    broken = tick(workspace, rest.cursor)
    assert requested(broken)[0][1] == "E0|2324"
    defs = workspace.defs()
    (request,) = broken.run_requests
    result = defs.resolve_job_def(request.job_name).execute_in_process(
        instance=workspace.instance, partition_key=request.partition_key, asset_selection=list(request.asset_selection),
        tags=request.tags, raise_on_error=False)
    assert not result.success
    again = tick(workspace, broken.cursor)
    assert requested(again) == []  # tried with these inputs already; what is stored stays in use
    assert "left alone" in again.skip_reason.skip_message
    workspace.copy("mmz4281/2324/E0.csv")  # the publisher fixes the file: the same bytes as stored
    assert requested(tick(workspace, again.cursor)) == []


def test_run_keys_carry_the_work_and_its_inputs(workspace):
    workspace.copy("mmz4281/2324/E0.csv")
    first = tick(workspace, None)
    (request,) = first.run_requests
    assert request.run_key == request.tags[RUN_KEY_TAG] and request.run_key.startswith("ingest+walk_forward+calibration+match_predictions+validation_reports+form_features:")
    repeat = tick(workspace, None)  # a fresh cursor plans the same run with the same key: the daemon drops it
    assert repeat.run_requests[0].run_key == request.run_key
    assert isinstance(workspace.instance, DagsterInstance) and AssetKey("canonical_matches")


def test_the_sensor_is_on_by_default():
    from dagster import DefaultSensorStatus

    assert new_csv_sensor.default_status == DefaultSensorStatus.RUNNING
