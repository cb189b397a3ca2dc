"""``make run`` as a new user meets it: every shared league-season, cold, then again unchanged.

Runs the real CLI (``jackpot-pipeline run``) in a fresh DAGSTER_HOME and data folder against the shared
files through a ``file://`` base URL, and reports the wall time, how many Dagster runs it recorded, the
time each stage's step took (from the run's events) and what is left for Dagster itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jackpot_pipeline_tests.conftest import SHARED_FOOTBALL_DATA

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LEAGUES, SEASONS = "all", "1213-2324"


def _step_seconds(home: Path) -> dict[str, float]:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    seconds: dict[str, float] = {}
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        for run in instance.get_runs():
            stats = instance.get_run_step_stats(run.run_id)
            for step in stats:
                if step.end_time and step.start_time:
                    seconds[step.step_key] = round(seconds.get(step.step_key, 0.0) + step.end_time - step.start_time, 2)
    return seconds


def _runs(home: Path) -> int:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        return len(instance.get_runs())


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        home, data = Path(scratch) / "home", Path(scratch) / "data"
        home.mkdir()
        shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        shutil.copytree(PROJECT_ROOT / "data" / "jackpots", data / "jackpots")
        env = {**os.environ, "DAGSTER_HOME": str(home), "JACKPOT_DATA_DIR": str(data), "JACKPOT_LEAGUES": LEAGUES,
               "JACKPOT_SEASONS": SEASONS, "FOOTBALL_DATA_URL": SHARED_FOOTBALL_DATA.as_uri()}
        env.pop("JACKPOT_PG_DSN", None)
        command = [str(Path(sys.executable).parent / "jackpot-pipeline"), "run"]
        started = time.perf_counter()
        cold = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        cold_seconds = time.perf_counter() - started
        runs = _runs(home)
        steps = _step_seconds(home)
        started = time.perf_counter()
        again = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        again_seconds = time.perf_counter() - started
        return {
            "leagues": LEAGUES,
            "seasons": SEASONS,
            "exit_code": cold.returncode,
            "wall_seconds": round(cold_seconds, 1),
            "target_wall_seconds": 180,
            "runs_recorded": runs,
            "target_runs": 40,
            "step_seconds": steps,
            "steps_total_seconds": round(sum(steps.values()), 1),
            "outside_steps_seconds": round(cold_seconds - sum(steps.values()), 1),
            "unchanged_rerun_seconds": round(again_seconds, 1),
            "unchanged_rerun_new_runs": _runs(home) - runs,
            "unchanged_rerun_exit_code": again.returncode,
            "cpu_count": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
