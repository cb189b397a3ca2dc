"""new_csv_sensor: partitions added for new files, exactly one run per new or changed partition."""

import json
import os

from dagster import DagsterInstance, SensorResult, build_sensor_context

from jackpot_pipeline.defs.ingestion.sensors import new_csv_sensor
from jackpot_pipeline.defs.resources import RawFilesResource


def tick(workspace, cursor: str | None) -> SensorResult:
    context = build_sensor_context(
        instance=workspace.instance,
        cursor=cursor,
        resources={"raw_files": RawFilesResource(raw_dir=str(workspace.raw))},
    )
    result = new_csv_sensor(context)
    # build_sensor_context does not apply partition additions (the daemon does): apply them here
    for request in result.dynamic_partitions_requests or []:
        workspace.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def runs(result: SensorResult) -> list[tuple[str, str]]:
    return [(str(r.partition_key), r.run_key) for r in result.run_requests or []]


def append_fixture(path, line: bytes) -> None:
    data = path.read_bytes()
    path.write_bytes(data + line)


def test_new_files_add_partitions_and_request_one_run_each(workspace):
    workspace.copy("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv", "mmz4281/2324/SP1.csv")
    first = tick(workspace, None)
    assert sorted(key for key, _ in runs(first)) == ["E0|2223", "E0|2324", "SP1|2324"]
    additions = {r.partitions_def_name: sorted(r.partition_keys) for r in first.dynamic_partitions_requests}
    assert additions == {"league": ["E0", "SP1"], "season": ["2223", "2324"]}
    assert set(workspace.instance.get_dynamic_partitions("season")) == {"2223", "2324"}
    cursor = json.loads(first.cursor)
    assert set(cursor) == {"mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv", "mmz4281/2324/SP1.csv"}

    second = tick(workspace, first.cursor)
    assert runs(second) == [] and not second.dynamic_partitions_requests  # unchanged files never run


def test_an_appended_row_requests_exactly_one_run_and_an_edit_back_reruns(workspace):
    workspace.copy("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv")
    first = tick(workspace, None)
    cursor = first.cursor
    path = workspace.raw / "mmz4281/2324/E0.csv"
    original = path.read_bytes()
    original_stat = path.stat()

    append_fixture(path, b"E0,30/06/2024,20:00,Arsenal,Chelsea" + b"," * 101 + b"\r\n")
    changed = tick(workspace, cursor)
    assert [key for key, _ in runs(changed)] == ["E0|2324"]

    path.write_bytes(original)  # edited back to the content already ingested once
    os.utime(path, ns=(original_stat.st_atime_ns, original_stat.st_mtime_ns + 10_000_000_000))
    reverted = tick(workspace, changed.cursor)
    assert [key for key, _ in runs(reverted)] == ["E0|2324"]
    first_run_keys = {key for _, key in runs(first)}
    assert runs(reverted)[0][1] not in first_run_keys  # a new run key: the daemon will not dedupe it away
    assert runs(tick(workspace, reverted.cursor)) == []


def test_new_format_file_runs_only_the_season_that_changed(workspace):
    workspace.copy("new/NOR.csv")
    first = tick(workspace, None)
    assert len(runs(first)) == 14 and {key for key, _ in runs(first)} == {f"NOR|{y}" for y in range(2012, 2026)}
    path = workspace.raw / "new/NOR.csv"
    last_line = path.read_bytes().rstrip(b"\r\n").split(b"\r\n")[-1]
    append_fixture(path, last_line.replace(b"Brann", b"Molde", 1) + b"\r\n")
    assert [key for key, _ in runs(tick(workspace, first.cursor))] == ["NOR|2025"]


def test_sensor_is_running_by_default(workspace):
    from dagster import DefaultSensorStatus

    assert new_csv_sensor.default_status == DefaultSensorStatus.RUNNING
    (sensor,) = [sensor for sensor in workspace.defs().sensors if sensor.name == "new_csv_sensor"]
    assert sensor.job_name == "ingest_job"
    assert isinstance(workspace.instance, DagsterInstance)
