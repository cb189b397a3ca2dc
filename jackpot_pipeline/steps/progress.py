"""Partitions a step has finished, told to whoever listens in this process.

``make run`` executes its runs in its own process and draws its progress bars from these notices. A step
that the daemon or a Celery worker runs has no listener, so the notices go nowhere there. Listening never
changes what a step computes: a listener that fails is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

Listener = Callable[[str, tuple[str, ...], int], None]  # (stage, partitions finished, how many of them failed)

_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def partitions_finished(stage: str, partitions: Sequence[str], failed: int = 0) -> None:
    for listener in list(_listeners):
        try:
            listener(stage, tuple(partitions), failed)
        except Exception:  # noqa: BLE001 - a progress display must never fail the work it shows
            pass
