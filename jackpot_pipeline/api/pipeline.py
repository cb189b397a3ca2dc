"""The API's side of Dagster: getting a submitted card predicted, tracing it, and the instance's health.

A submitted card becomes a file in the card folder, exactly like a card dropped there by hand. When a Dagster
daemon is running, ``new_csv_sensor`` finds it on its next tick and requests the jackpot runs. When none is
(``make serve`` alone), the API runs ``make run``'s engine itself (:func:`run_pipeline`: the same plan, the
same jobs, the same tags) in one background thread, so API predictions are always materialisations of the
jackpot assets with their lineage, never a second code path. Launches are coalesced: cards submitted while a
run is going are all planned by the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from jackpot_pipeline.api.reads import releasing_duckdb
from jackpot_pipeline.settings import Settings

__all__ = ["PipelineLink", "daemon_running"]

log = logging.getLogger("jackpot_pipeline.api")

# the daemon writes a heartbeat every ~20 s; one older than this means no daemon
_HEARTBEAT_FRESH_SECONDS = 60.0


def daemon_running(instance: DagsterInstance) -> bool:
    """Whether a Dagster daemon running sensors has sent a heartbeat to this instance recently."""
    try:
        heartbeats = instance.get_daemon_heartbeats()
    except Exception:  # an instance without daemon storage: no daemon
        return False
    now = time.time()
    return any("SENSOR" in str(kind).upper() and now - beat.timestamp < _HEARTBEAT_FRESH_SECONDS
               for kind, beat in heartbeats.items())


class PipelineLink:
    """The Dagster instance the API works with, and the background launcher of ``make run``'s engine.

    ``launch``: ``"auto"`` (run the engine when no daemon is running), ``"never"`` (leave cards to a daemon).
    """

    def __init__(self, settings: Settings, instance_factory: Callable[[], DagsterInstance], *, launch: str = "auto") -> None:
        self.settings = settings
        self._instance_factory = instance_factory
        self._instance: DagsterInstance | None = None
        self.launch = launch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jackpot-runs")
        self._lock = threading.Lock()
        self._pending: Future | None = None
        self.failures: dict[str, str] = {}  # jackpot_id -> why its last launched run failed
        self.launches = 0

    @property
    def instance(self) -> DagsterInstance:
        with self._lock:
            if self._instance is None:
                self._instance = self._instance_factory()
            return self._instance

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)

    def request_predictions(self, jackpot_id: str) -> str:
        """Get the card predicted: ``"sensor"`` (a daemon will), ``"launched"`` (this process runs it) or
        ``"waiting"`` (launching is off and no daemon is running)."""
        self.failures.pop(jackpot_id, None)
        if daemon_running(self.instance):
            return "sensor"
        if self.launch == "never":
            return "waiting"
        with self._lock:
            # a launch queued but not started yet will plan this card too
            if self._pending is None or self._pending.running() or self._pending.done():
                self._pending = self._executor.submit(self._run)
                self.launches += 1
        return "launched"

    def wait(self, timeout: float | None = None) -> None:
        """Block until the launched work is done (tests, shutdown)."""
        pending = self._pending
        if pending is not None:
            pending.result(timeout=timeout)

    def busy(self) -> bool:
        pending = self._pending
        return pending is not None and not pending.done()

    @releasing_duckdb
    def _run(self) -> None:
        from jackpot_pipeline.definitions import build_definitions
        from jackpot_pipeline.defs.local_runs import run_pipeline

        try:
            outcome = run_pipeline(build_definitions(self.settings), self.settings, self.instance,
                                   log=lambda line: log.info("pipeline: %s", line))
        except Exception as error:  # reported per card through the API; the server keeps going
            log.exception("pipeline run failed")
            for jackpot_id in self._pending_cards():
                self.failures[jackpot_id] = f"the pipeline failed: {type(error).__name__}: {error}"
            return
        for label, message in outcome.failed.items():
            jackpot_id = label.rsplit(" ", 1)[-1]
            self.failures[jackpot_id] = message

    def _pending_cards(self) -> list[str]:
        folder = self.settings.jackpots_dir
        return [p.stem for p in folder.glob("*.json")] if folder.is_dir() else []

    # -- reads from the instance -----------------------------------------------------------------

    @releasing_duckdb
    def trace(self, jackpot_id: str) -> dict[str, Any]:
        from jackpot_pipeline.defs.jackpots.trace import trace_jackpot

        return trace_jackpot(self.settings, self.instance, jackpot_id, None)

    def health(self) -> dict[str, Any]:
        from dagster._core.scheduler.instigation import InstigatorType

        instance = self.instance
        runs = instance.get_runs(limit=5)
        in_progress = instance.get_runs_count(RunsFilter(statuses=[
            DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]))
        sensors = [
            {"name": state.instigator_name, "status": state.status.value}
            for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        ]
        return {
            "reachable": True,
            "daemon_running": daemon_running(instance),
            "launching": self.launch,
            "runs_in_progress": in_progress,
            "last_runs": [
                {"run_id": run.run_id, "job_name": run.job_name, "status": run.status.value,
                 "partition": run.tags.get("dagster/partition"), "stages": run.tags.get("jackpot/stages")}
                for run in runs
            ],
            "sensors": sensors,
        }
