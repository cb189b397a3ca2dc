"""Run independent per-partition work on several cores, with results in input order.

Each task runs in its own process from the same inputs, so results are bit-for-bit what a sequential loop
gives. Inside a daemonic process (a Celery prefork worker) no child process may start, so the work runs
in order there instead.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

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


def map_in_processes(function: Callable[[T], R], tasks: Sequence[T], *, min_tasks: int = 4) -> list[R | BaseException]:
    """``function`` over ``tasks``; an exception a task raises is returned in its place, not raised."""
    workers = worker_count(len(tasks))
    if workers == 1 or len(tasks) < min_tasks:
        return [_call(function, task) for task in tasks]
    pool = _pool(workers)
    try:
        return list(pool.map(_call, [function] * len(tasks), tasks, chunksize=1))
    except BrokenProcessPool:  # a worker died (killed, out of memory): finish here, start afresh next time
        _pools.pop((os.getpid(), workers), None)
        return [_call(function, task) for task in tasks]
    finally:
        if not _keep_pools:
            _pools.pop((os.getpid(), workers), None)
            pool.shutdown(wait=True)


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
