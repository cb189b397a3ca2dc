"""The real daemon: the sensor's partition additions and run requests, de-duplicated by run key, executed.

build_sensor_context skips what only the daemon does (adding dynamic partitions, dropping run keys it has
seen), so this test runs `dagster-daemon` against a temporary instance and data dir.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from jackpot_pipeline_tests.waiting import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAEMON = Path(sys.executable).parent / "dagster-daemon"


def finished_runs(home: Path, job_name: str | None = "ingest_job") -> list:
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE]))
    return [run for run in runs if job_name is None or run.job_name == job_name]


def test_daemon_ingests_new_and_changed_files_once(tmp_path, shared_data):
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    raw_file = data / "raw" / "mmz4281" / "2324" / "E0.csv"
    raw_file.parent.mkdir(parents=True)
    shutil.copyfile(shared_data / "mmz4281/2324/E0.csv", raw_file)

    # create the SQLite storage before the daemon does: two processes creating it at once collide
    DagsterInstance.from_ref(InstanceRef.from_dir(str(home))).dispose()
    env = {**os.environ, "DAGSTER_HOME": str(home), "JACKPOT_DATA_DIR": str(data)}
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [str(DAEMON), "run", "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        first = wait_for(lambda: finished_runs(home), 240, "the first sensor run to finish")
        assert [(r.status, r.tags["dagster/partition"]) for r in first] == [(DagsterRunStatus.SUCCESS, "E0|2324")]
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            assert instance.get_dynamic_partitions("league") == ["E0"]
            assert instance.get_dynamic_partitions("season") == ["2324"]

        with raw_file.open("ab") as handle:  # the publisher adds a fixture
            handle.write(b"E0,30/06/2024,20:00,Arsenal,Chelsea" + b"," * 101 + b"\r\n")
        runs = wait_for(lambda: (lambda found: found if len(found) >= 2 else None)(finished_runs(home)), 240, "the second run")
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS] * 2
        assert runs[0].tags["dagster/partition"] == "E0|2324"
        time.sleep(35)  # one more sensor interval: an unchanged file requests nothing
        assert len(finished_runs(home)) == 2
        # ingested partitions flow downstream: the automation sensor launches the dependent assets
        downstream = wait_for(
            lambda: [r for r in finished_runs(home, job_name=None) if r.job_name != "ingest_job"], 120, "a downstream run"
        )
        selected = {key.to_user_string() for run in downstream for key in (run.asset_selection or set())}
        assert selected & {"teams", "team_strength_snapshots", "uncalibrated_predictions"}
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
        log.close()
    import duckdb

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM canonical_matches").fetchone()[0] == 381
        assert connection.execute("SELECT list(change ORDER BY ingested_at) FROM ingestion_log").fetchone()[0] == ["new", "changed"]
