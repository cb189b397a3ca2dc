"""Run independent per-partition work on several cores, with results in input order.

Each task runs in its own process from the same inputs, so results are bit-for-bit what a sequential loop
gives. Inside a daemonic process (a Celery prefork worker) no child process may start, so the work runs
in order there instead.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from jackpot_pipeline.steps.progress import partitions_finished

T = TypeVar("T")
R = TypeVar("R")

WORKERS_VARIABLE = "JACKPOT_WORKERS"


def worker_count(tasks: int) -> int:
    configured = os.environ.get(WORKERS_VARIABLE)
    cores = int(configured) if configured else (os.cpu_count() or 1)
    if multiprocessing.current_process().daemon:
        return 1
    return max(1, min(cores, tasks))


_pools: dict[tuple[int, int], ProcessPoolExecutor] = {}
_keep_pools = False


def keep_workers_between_batches() -> None:
    """Keep each pool for the next batch in this process (``make run``: starting a worker imports the
    scientific stack, about a second, which every stage would pay again). Only for a process that runs
    several steps itself: a step process of a run keeps no pool, since a live pool would keep it alive."""
    global _keep_pools
    _keep_pools = True


def _pool(workers: int) -> ProcessPoolExecutor:
    key = (os.getpid(), workers)
    if key not in _pools:
        context = multiprocessing.get_context("spawn")  # a forked Dagster step would inherit its threads and locks
        _pools[key] = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    return _pools[key]


def map_in_processes(
    function: Callable[[T], R],
    tasks: Sequence[T],
    *,
    min_tasks: int = 4,
    stage: str | None = None,
    partitions: Sequence[str | Sequence[str]] | None = None,
) -> list[R | BaseException]:
    """``function`` over ``tasks``; an exception a task raises is returned in its place, not raised.

    With ``stage`` and ``partitions`` (per task, the partition key or keys it computes), each finished task is
    announced through :func:`~jackpot_pipeline.steps.progress.partitions_finished` as it finishes."""
    def finished(index: int, result: R | BaseException) -> R | BaseException:
        if stage is not None and partitions is not None:
            covered = partitions[index]
            keys = [covered] if isinstance(covered, str) else list(covered)
            partitions_finished(stage, keys, _failures(result, len(keys)))
        return result

    workers = worker_count(len(tasks))
    if workers == 1 or len(tasks) < min_tasks:
        return [finished(i, _call(function, task)) for i, task in enumerate(tasks)]
    pool = _pool(workers)
    results: dict[int, R | BaseException] = {}
    try:
        futures: dict[Future, int] = {pool.submit(_call, function, task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            results[futures[future]] = finished(futures[future], future.result())
    except BrokenProcessPool:  # a worker died (killed, out of memory): finish here, start afresh next time
        _pools.pop((os.getpid(), workers), None)
        for i, task in enumerate(tasks):
            if i not in results:
                results[i] = finished(i, _call(function, task))
    finally:
        if not _keep_pools:
            _pools.pop((os.getpid(), workers), None)
            pool.shutdown(wait=True)
    return [results[i] for i in range(len(tasks))]


def _failures(result: object, partitions: int) -> int:
    """How many of a task's partitions failed: all when it raised; those a per-partition dict maps to an error."""
    if isinstance(result, BaseException):
        return partitions
    if isinstance(result, dict):
        return sum(isinstance(value, BaseException) for value in result.values())
    return 0


def _call(function: Callable[[T], R], task: T) -> R | BaseException:
    try:
        return function(task)
    except Exception as error:  # noqa: BLE001 - handed back to the caller, which names the partition
        return error


def chunks(items: Sequence[T], count: int) -> list[list[T]]:
    """``items`` dealt round-robin into ``count`` non-empty lists (early seasons and late ones mixed, so the
    lists take about as long as each other)."""
    count = max(1, min(count, len(items)))
    return [list(items[start::count]) for start in range(count)] if items else []
