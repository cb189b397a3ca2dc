"""A real ``dagster-daemon`` runs ``new_csv_sensor`` on the instance and data dir that ``make run``'s engine
brought up to date (the session's modeled workspace): it requests nothing for the unchanged files, adds
the partition of a new card before its run starts, runs the good card once (finalisation, then exports and
scores) and skips the bad card beside it.

``build_sensor_context`` skips what only the daemon does (adding dynamic partitions, dropping run keys it
has seen), hence this test. The daemon loads the project's code location (``workspace.yaml``) with the
workspace's settings from the environment, as ``make dev`` does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from jackpot_pipeline.publish.instance import prepare_dagster_home
from jackpot_pipeline.settings import PROJECT_ROOT
from jackpot_pipeline_tests.defs.modeled import LEAGUES, bad_card_bytes, card_as
from jackpot_pipeline_tests.waiting import wait_for

DAEMON = Path(sys.executable).parent / "dagster-daemon"
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]


def runs_since(home: Path, started: float, statuses=None) -> list:
    """Runs created after ``started`` (epoch seconds), oldest first."""
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        records = instance.get_run_records(RunsFilter(
            statuses=statuses or [], created_after=dt.datetime.fromtimestamp(started, dt.UTC)))
    return [record.dagster_run for record in sorted(records, key=lambda record: record.create_timestamp)]


def test_daemon_adds_the_partition_and_runs_the_good_card_once(tmp_path, modeled):
    home = Path(modeled.instance.root_directory)
    prepare_dagster_home(home, {})  # the project's instance settings (run queue) for the daemon
    env = {key: value for key, value in os.environ.items() if not key.startswith("JACKPOT_")}
    env.update({"DAGSTER_HOME": str(home), "JACKPOT_DATA_DIR": str(modeled.settings.data_dir),
                "JACKPOT_LEAGUES": ",".join(LEAGUES), "JACKPOT_SEASONS": modeled.settings.seasons_spec})
    started = time.time()
    with (modeled.scratch_card("daemon_good.json", card_as("daemon_good")),
          modeled.scratch_card("daemon_broken.json", bad_card_bytes("daemon_broken"))):
        log_path = tmp_path / "daemon.log"
        with log_path.open("w") as log:
            daemon = subprocess.Popen(
                [str(DAEMON), "run", "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                runs = wait_for(
                    lambda: (found := runs_since(home, started, FINISHED)) and len(found) >= 2 and found,
                    300, "the sensor's two jackpot_job runs to finish",
                )
                assert [(r.job_name, r.status, r.tags["dagster/partition"], r.tags["jackpot/stages"]) for r in runs] == [
                    ("jackpot_job", DagsterRunStatus.SUCCESS, "daemon_good", "jackpot_predictions"),
                    ("jackpot_job", DagsterRunStatus.SUCCESS, "daemon_good", "jackpot_outputs"),
                ], log_path.read_text()[-3000:]
                assert {r.tags["jackpot/trigger"] for r in runs} == {"sensor"}
                assert "daemon_good" in modeled.instance.get_dynamic_partitions("jackpots")
                assert "daemon_broken" not in modeled.instance.get_dynamic_partitions("jackpots")
                time.sleep(15)  # at least one more sensor tick: nothing changed, nothing requested
                assert len(runs_since(home, started)) == 2
            finally:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
        assert modeled.sql("SELECT count(*) n FROM jackpot_predictions WHERE jackpot_id = 'daemon_good'")["n"][0] == 105
        assert modeled.sql("SELECT run_id FROM jackpots WHERE jackpot_id = 'daemon_good'")["run_id"][0] == runs[0].run_id
        assert json.loads((modeled.exports / "daemon_good.json").read_text())["jackpot"]["jackpot_id"] == "daemon_good"
        assert not modeled.store.exists("jackpots", "daemon_broken")
