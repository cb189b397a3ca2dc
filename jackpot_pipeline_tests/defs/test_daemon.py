"""The real daemon next to make run: after ``jackpot-pipeline run`` it has nothing to do; a new row in one
file is one run that refreshes that partition's predictions; the CLI working while daemon-launched runs
write ends with the tables a serial run gives.

``build_sensor_context`` skips what only the daemon does (adding partitions, dropping known run keys,
queueing and launching runs in subprocesses), so these tests run ``dagster-daemon`` and the CLI as
processes against a temporary instance and data folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef
from dagster._core.scheduler.instigation import TickStatus

from jackpot_pipeline.warehouse.store import Warehouse
from jackpot_pipeline_tests.waiting import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FILES = ("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv", "mmz4281/2223/SP1.csv", "mmz4281/2324/SP1.csv")
RUN_COLUMNS = {"run_id", "ingested_at", "validated_at", "finalised_at", "recorded_at"}
COMPARED = {
    "canonical_matches": "league, season, match_id",
    "team_strength_snapshots": "league, season, as_of_date, team",
    "uncalibrated_predictions": "league, season, match_id",
    "calibration_curves": "league, season",
    "match_predictions": "league, season, match_id, set_id",
    "validation_reports": "league, season, set_id",
    "teams": "league, team, alias",
    "validation_summary": "scope, league, season, set_id",
}


class Deployment:
    """A DAGSTER_HOME and data folder with copies of real files, the CLI and a daemon as processes."""

    def __init__(self, root: Path, shared: Path):
        self.home, self.data = root / "home", root / "data"
        self.home.mkdir(parents=True)
        shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.yaml", self.home / "dagster.yaml")
        for relpath in FILES:
            target = self.data / "raw" / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared / relpath, target)
        self.env = {**os.environ, "DAGSTER_HOME": str(self.home), "JACKPOT_DATA_DIR": str(self.data),
                    "JACKPOT_LEAGUES": "E0,SP1", "JACKPOT_SEASONS": "2223-2324", "FOOTBALL_DATA_URL": shared.as_uri()}
        self.env.pop("JACKPOT_PG_DSN", None)
        # create the SQLite storage before two processes race to create it
        DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home))).dispose()
        self.daemon: subprocess.Popen | None = None

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))

    def cli(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "jackpot-pipeline"), *args], cwd=PROJECT_ROOT, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def start_daemon(self, log: Path) -> None:
        self.log = log.open("w")
        self.daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT_ROOT,
                                       env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            os.killpg(self.daemon.pid, signal.SIGKILL)
            self.daemon.wait()
            self.log.close()

    def runs(self, **filters) -> list:
        with self.instance() as instance:
            return list(instance.get_runs(RunsFilter(**filters)))

    def sensor_ticks(self) -> list:
        with self.instance() as instance:
            state = next((s for s in instance.all_instigator_state() if s.name == "new_csv_sensor"), None)
            return list(instance.get_ticks(state.instigator_origin_id, state.selector_id)) if state else []

    def table(self, name: str) -> pd.DataFrame:
        frame = Warehouse(self.data / "warehouse").query(f"SELECT * FROM {name} ORDER BY {COMPARED[name]}")
        return frame.drop(columns=[c for c in frame.columns if c in RUN_COLUMNS])


@pytest.fixture
def deployment(tmp_path, shared_data):
    deployment = Deployment(tmp_path, shared_data)
    try:
        yield deployment
    finally:
        deployment.stop_daemon()


def test_after_make_run_the_daemon_launches_nothing_and_one_new_row_refreshes_in_one_run(deployment, tmp_path):
    cli = deployment.cli("run", "--no-fetch")
    output, _ = cli.communicate(timeout=600)
    assert cli.returncode == 0, output
    made = deployment.runs()
    assert all(run.status == DagsterRunStatus.SUCCESS for run in made) and len(made) <= 10

    deployment.start_daemon(tmp_path / "daemon.log")
    wait_for(lambda: len(deployment.sensor_ticks()) >= 2, 120, "two sensor ticks")
    time.sleep(90)
    ticks = deployment.sensor_ticks()
    assert len(ticks) >= 5 and {tick.status for tick in ticks} <= {TickStatus.SKIPPED, TickStatus.STARTED}
    assert len(deployment.runs()) == len(made)  # 90 s of daemon and sensor: not one run launched

    path = deployment.data / "raw" / "mmz4281/2324/E0.csv"
    path.write_bytes(path.read_bytes() + b"E0,30/06/2024,20:00,Arsenal,Chelsea" + b"," * 101 + b"\r\n")
    launched = wait_for(lambda: [r for r in deployment.runs() if r.tags.get("jackpot/trigger") == "sensor"], 120,
                        "the sensor's run")
    requested_at = wait_for(lambda: next((t.timestamp for t in deployment.sensor_ticks() if t.status == TickStatus.SUCCESS),
                                         None), 60, "the tick that requested it")
    (run,) = launched
    assert run.tags["dagster/partition"] == "E0|2324"
    assert {key.to_user_string() for key in run.asset_selection} >= {
        "canonical_matches", "team_strength_snapshots", "uncalibrated_predictions", "match_predictions",
        "validation_reports"}
    store = Warehouse(deployment.data / "warehouse")

    def refreshed():
        found = store.query("SELECT count(*) AS n FROM match_predictions WHERE league = 'E0' AND season = '2324' "
                            "AND home_team = 'Arsenal' AND away_team = 'Chelsea' AND match_date = DATE '2024-06-30'")
        return found["n"][0] == 10 and time.time()  # sets A0, A-G and both markets

    arrived = wait_for(refreshed, 120, "the new fixture's predictions")
    assert arrived - requested_at < 60, f"{arrived - requested_at:.0f}s from the tick to the refreshed predictions"
    finished = wait_for(lambda: next((r for r in deployment.runs() if r.run_id == run.run_id and r.is_finished), None),
                        120, "the run to finish")
    assert finished.status == DagsterRunStatus.SUCCESS
    assert store.query("SELECT count(*) n FROM canonical_matches WHERE league = 'E0' AND season = '2324'")["n"][0] == 381
    assert store.query("SELECT list(change ORDER BY ingested_at) c FROM ingestion_log WHERE league = 'E0' AND "
                       "season = '2324'")["c"][0].tolist() == ["new", "changed"]


def test_make_run_beside_daemon_runs_ends_with_the_tables_of_a_serial_run(deployment, tmp_path, shared_data):
    serial = Deployment(tmp_path / "serial", shared_data)
    alone = serial.cli("run", "--no-fetch")
    output, _ = alone.communicate(timeout=600)
    assert alone.returncode == 0, output

    deployment.start_daemon(tmp_path / "daemon.log")
    wait_for(lambda: deployment.runs(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.SUCCESS]), 180,
             "a run launched by the daemon")
    cli = deployment.cli("run", "--no-fetch")
    output, _ = cli.communicate(timeout=900)
    assert cli.returncode == 0, output
    triggers = {run.tags.get("jackpot/trigger") for run in deployment.runs()}
    assert triggers == {"sensor", "make run"}, triggers  # both did part of the work

    def idle():
        active = deployment.runs(statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED])
        last = deployment.sensor_ticks()[:1]
        return not active and last and last[0].status == TickStatus.SKIPPED
    wait_for(idle, 300, "the daemon to find nothing left to do")
    assert all(run.status == DagsterRunStatus.SUCCESS for run in deployment.runs())
    for name in COMPARED:
        pd.testing.assert_frame_equal(deployment.table(name), serial.table(name), check_exact=True, obj=name)
