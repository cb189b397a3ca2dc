"""The real daemon runs jackpot_card_sensor: the partition it adds exists before its run starts, a bad card
beside a good one is skipped, and one card version runs once.

build_sensor_context skips what only the daemon does (adding dynamic partitions, dropping run keys it has
seen). The code location is the project's plus the jackpot feature (``location.py``); the warehouse is a copy
of the session's modeled one, so the launched run predicts the sample card for real.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from jackpot_pipeline_tests.jackpots_defs.conftest import SAMPLE_CARD, SAMPLE_ID
from jackpot_pipeline_tests.jackpots_defs.test_sensor_and_bad_cards import bad_card_bytes
from jackpot_pipeline_tests.waiting import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAEMON = Path(sys.executable).parent / "dagster-daemon"


def jackpot_runs(home: Path, statuses=None) -> list:
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        runs = instance.get_runs(RunsFilter(job_name="jackpot_job", statuses=statuses or []))
        return runs


def test_daemon_adds_the_partition_and_runs_the_good_card_once(tmp_path, modeled):
    modeled.finalise_sample()  # the copied warehouse then holds it: the daemon's run is the unchanged no-op
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    (data / "jackpots").mkdir(parents=True)
    shutil.copyfile(modeled.settings.warehouse_path, data / "warehouse.duckdb")
    shutil.copyfile(SAMPLE_CARD, data / "jackpots" / SAMPLE_CARD.name)
    (data / "jackpots" / "broken_card.json").write_bytes(bad_card_bytes())
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: jackpot_pipeline_tests.jackpots_defs.location\n"
        f"      working_directory: {PROJECT_ROOT}\n      location_name: jackpot_pipeline\n"
    )
    DagsterInstance.from_ref(InstanceRef.from_dir(str(home))).dispose()  # create the storage before the daemon
    env = {**os.environ, "DAGSTER_HOME": str(home), "JACKPOT_DATA_DIR": str(data)}
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [str(DAEMON), "run", "-w", str(workspace)], cwd=PROJECT_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE]
            runs = wait_for(lambda: jackpot_runs(home, finished), 240, "the sensor's jackpot_job run to finish")
            assert [(r.status, r.tags["dagster/partition"]) for r in runs] == [(DagsterRunStatus.SUCCESS, SAMPLE_ID)], log_path.read_text()[-3000:]
            assert runs[0].tags["jackpot/card_sha256"] == modeled.sql(
                "SELECT card_sha256 FROM jackpots WHERE jackpot_id = ?", [SAMPLE_ID])["card_sha256"][0]
            with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
                assert instance.get_dynamic_partitions("jackpots") == [SAMPLE_ID]
            time.sleep(35)  # one more sensor interval: nothing changed, nothing requested
            assert len(jackpot_runs(home)) == 1
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM jackpot_predictions WHERE jackpot_id = ?", [SAMPLE_ID]).fetchone()[0] == 105
    assert json.loads((data / "exports" / f"{SAMPLE_ID}.json").read_text())["jackpot"]["jackpot_id"] == SAMPLE_ID
