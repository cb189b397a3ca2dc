"""The scale-out profile: one GraphQL backfill (every shared main-league season file, 192 league × season
partitions, ingestion and walk-forward) on
one Celery worker, then on two, each in a fresh deployment (Postgres instance, Redis broker, webserver,
daemon); the wall time from launch to completion and the ratio. Each worker gets one core
(``JACKPOT_WORKERS=1``), as a worker machine would bring its own: on this two-core machine two workers are
then the whole machine, one worker half of it."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from jackpot_pipeline_tests.conftest import SHARED_FOOTBALL_DATA
from jackpot_pipeline_tests.deploy.scaleout import STAGE_ASSETS, Deployment

LEAGUES = ("E0", "E1", "E2", "E3", "SC0", "D1", "D2", "I1", "I2", "SP1", "SP2", "F1", "F2", "N1", "B1", "P1")
SEASONS = tuple(f"{year % 100:02d}{(year + 1) % 100:02d}" for year in range(2012, 2024))


def _backfill_seconds(workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        deployment = Deployment(Path(scratch), SHARED_FOOTBALL_DATA, partitions_per_run=24, leagues=LEAGUES,
                                seasons=SEASONS)
        deployment.env["JACKPOT_WORKERS"] = "1"
        saved = dict(os.environ)
        os.environ.update(deployment.exported())
        try:
            deployment.start_services(workers=workers, sensor=False)
            started = time.perf_counter()
            backfill = deployment.launch_backfill(deployment.partitions,
                                                  STAGE_ASSETS["ingest"] + STAGE_ASSETS["walk_forward"])
            status = deployment.wait_for_backfill(backfill, timeout=1800)
            seconds = time.perf_counter() - started
            with deployment.instance() as instance:
                runs = len(instance.get_runs())
        finally:
            deployment.close()
            os.environ.clear()
            os.environ.update(saved)
    return {"status": status, "wall_seconds": round(seconds, 1), "runs": runs}


def run() -> dict[str, object]:
    one = _backfill_seconds(1)
    two = _backfill_seconds(2)
    return {
        "partitions": len(LEAGUES) * len(SEASONS),
        "stages": ["ingest", "walk_forward"],
        "one_worker": one,
        "two_workers": two,
        "speed_up": round(one["wall_seconds"] / two["wall_seconds"], 2),
        "note": "one core per worker; the wall time includes the backfill daemon's iterations (every 30 s) "
                "between the two stages, which no number of workers shortens",
        "cpu_count": os.cpu_count(),
    }
