"""Runs on Celery workers: the run launcher the scale-out instance uses, and the worker app.

``JackpotCeleryRunLauncher`` is dagster-celery's ``CeleryRunLauncher`` (each run one Celery task, executed
whole by a worker) with a health check that tells a lost worker from a busy one: the stock check reports a
started task as running for ever when its worker process dies (nobody is left to report), so a started
task's worker is pinged; no answer means the worker is gone, run monitoring fails the run, and run retries
launch it again on a worker that is alive.

``app`` is what ``celery -A jackpot_pipeline.defs.celery worker`` starts (``make workers``): the same broker,
result backend and Celery settings as the launcher, the execute/resume tasks, and a tag on each run naming
the worker that executed it (``jackpot/celery_worker``).
"""

from __future__ import annotations

import os
import socket

from celery.signals import task_prerun
from dagster import DagsterInstance
# dagster exports no public names for a launcher's health result; dagster-celery uses these same ones
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster_celery.config import DEFAULT_CONFIG
from dagster_celery.defaults import task_default_queue
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.make_app import make_app
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

BROKER_VARIABLE = "JACKPOT_CELERY_BROKER"
BACKEND_VARIABLE = "JACKPOT_CELERY_BACKEND"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/1"
WORKER_TAG = "jackpot/celery_worker"
PING_TIMEOUT_SECONDS = 3.0

# Settings every worker and the launcher share (they must agree on queues and serialisation).
CELERY_SETTINGS = {
    "worker_prefetch_multiplier": 1,  # a worker holds only the run it executes; the rest wait in the broker
    "task_acks_late": False,  # a lost worker's task is not redelivered: run retries launch a new run instead
    "result_expires": 7 * 24 * 3600,
    "broker_connection_retry_on_startup": True,
}


def broker_url() -> str:
    return os.environ.get(BROKER_VARIABLE) or DEFAULT_BROKER


def backend_url() -> str:
    return os.environ.get(BACKEND_VARIABLE) or DEFAULT_BACKEND


class JackpotCeleryRunLauncher(CeleryRunLauncher):
    """``CeleryRunLauncher`` whose health check notices a worker that is gone (see the module docstring)."""

    def __init__(self, *args, config_source: dict | None = None, **kwargs):
        super().__init__(*args, config_source={**CELERY_SETTINGS, **(config_source or {})}, **kwargs)

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        result = super().check_run_worker_health(run)
        if result.status != WorkerStatus.RUNNING:
            return result
        task = self.celery.AsyncResult(run.tags[DAGSTER_CELERY_TASK_ID_TAG])
        worker = (task.info or {}).get("hostname") if isinstance(task.info, dict) else None
        if worker is None:
            return result
        answers = self.celery.control.ping(destination=[worker], timeout=PING_TIMEOUT_SECONDS)
        if answers:
            return result
        return CheckRunHealthResult(WorkerStatus.FAILED, f"Celery worker {worker} does not answer: it was lost")


def worker_app_args() -> dict:
    """The Celery app arguments the launcher builds from the instance, from the same environment."""
    return {"broker": broker_url(), "backend": backend_url(), "include": [],
            "config_source": {**DEFAULT_CONFIG, **CELERY_SETTINGS}, "task_default_queue": task_default_queue}


@task_prerun.connect
def _tag_run_with_worker(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    """Name the worker on the run it is about to execute (who did what, when several workers share a queue)."""
    packed = (kwargs or {}).get("execute_job_args_packed")
    if not packed:
        return
    from dagster._serdes import unpack_value

    run_id = unpack_value(packed).run_id
    hostname = getattr(getattr(task, "request", None), "hostname", None) or socket.gethostname()
    with DagsterInstance.get() as instance:
        instance.add_run_tags(run_id, {WORKER_TAG: f"{hostname} pid {os.getpid()}"})


app = make_app(app_args=worker_app_args())
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)
