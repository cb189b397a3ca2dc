"""What ``make run`` shows while it works: live progress bars on a terminal, one line per stage otherwise.

The engine (``defs/local_runs.py``) tells a display what it planned and when each run starts and finishes;
the steps announce each partition they finish (:mod:`jackpot_pipeline.steps.progress`). Three displays:

* :class:`RunDisplay`: a line per run and, verbose, a line per partition (what ``--verbose`` prints);
* :class:`StageLines`: one line per stage when it is done (a log file, CI, a pipe);
* :class:`ProgressBars`: a bar per stage with counts, rate, elapsed time and time left (a terminal).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

# Stages shown together: the unpartitioned tables run as one run, a card's two steps as one card's work.
DISPLAY_GROUPS: tuple[tuple[str, str], ...] = (
    ("fetch", "files"),
    ("ingest", "partitions"),
    ("walk-forward", "partitions"),
    ("calibration", "partitions"),
    ("predictions", "partitions"),
    ("validation", "partitions"),
    ("form features", "partitions"),
    ("tables", "tables"),
    ("jackpots", "card steps"),
    ("publish", "partitions"),
)
UNITS = dict(DISPLAY_GROUPS)
_STAGE_GROUPS = {
    "ingest": "ingest", "walk_forward": "walk-forward", "calibration": "calibration",
    "match_predictions": "predictions", "validation_reports": "validation", "form_features": "form features", "teams": "tables",
    "validation_summary": "tables", "model_registry": "tables", "data_freshness": "tables",
    "jackpot_predictions": "jackpots", "jackpot_outputs": "jackpots",
}


def display_group(stage: str) -> str:
    if stage.startswith("publish"):
        return "publish"
    return _STAGE_GROUPS.get(stage, stage)


class RunDisplay:
    """A line per run (``ingest E0|2223..E1|2324 (4) (44.2s) ok``); with ``partitions``, a line per partition
    too and every file the fetch looked at."""

    def __init__(self, log: Callable[[str], None] = print, *, partitions: bool = False):
        self.log = log
        self.partitions = partitions
        self.owned_stream: TextIO | None = None  # closed with the display

    def __enter__(self) -> RunDisplay:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def message(self, text: str) -> None:
        self.log(text)

    def fetch_started(self, files: int) -> None:
        pass

    def file_fetched(self, line: str) -> None:
        if self.partitions:
            self.log(line)

    def fetch_finished(self, summary: str, seconds: float) -> None:
        self.log(summary)

    def preparing(self, what: str) -> None:
        """Work before the first plan (loading the definitions, reading the instance) that has no count."""

    def planned(self, pending: Mapping[str, int]) -> None:
        pass

    def run_started(self, label: str, stages: Sequence[str], partitions: Sequence[str]) -> None:
        pass

    def partitions_finished(self, stage: str, partitions: Sequence[str], failed: int) -> None:
        if self.partitions:
            status = "ok" if not failed else ("FAILED" if failed == len(partitions) else f"{failed} FAILED")
            self.log(f"  {stage} {','.join(partitions)} {status}")

    def run_finished(self, label: str, stages: Sequence[str], partitions: Sequence[str], seconds: float,
                     error: str | None) -> None:
        self.log(f"{label} ({seconds:.1f}s) {'ok' if error is None else 'FAILED: ' + error}")

    def close(self) -> None:
        self._finish()
        if self.owned_stream is not None:
            self.owned_stream.close()
            self.owned_stream = None

    def _finish(self) -> None:
        pass


class _Tally:
    """Work per display group: planned, done, failed, and the seconds spent on it."""

    def __init__(self) -> None:
        self.total: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.notes: dict[str, str] = {}
        self._noticed: dict[str, int] = {}
        self._since = time.monotonic()

    def planned(self, pending: Mapping[str, int]) -> list[str]:
        """Set each group's total to what is done plus what is pending; the groups whose total changed."""
        by_group: dict[str, int] = {}
        for stage, count in pending.items():
            by_group[display_group(stage)] = by_group.get(display_group(stage), 0) + count
        changed = []
        for group, count in by_group.items():
            total = self.done.get(group, 0) + count
            if total != self.total.get(group):
                self.total[group] = total
                changed.append(group)
        return changed

    def start(self, group: str | None = None, total: int | None = None) -> None:
        self._since = time.monotonic()
        self._noticed = {}
        if group is not None and total is not None:
            self.total[group] = self.done.get(group, 0) + total

    def _spend(self, group: str) -> None:
        now = time.monotonic()
        self.seconds[group] = self.seconds.get(group, 0.0) + now - self._since
        self._since = now

    def advance(self, stage_or_group: str, units: int, failed: int = 0, *, is_stage: bool = True) -> str:
        group = display_group(stage_or_group) if is_stage else stage_or_group
        self._spend(group)
        if is_stage:
            self._noticed[stage_or_group] = self._noticed.get(stage_or_group, 0) + units
        self.done[group] = self.done.get(group, 0) + units
        self.failed[group] = self.failed.get(group, 0) + failed
        self.total[group] = max(self.total.get(group, 0), self.done[group])
        return group

    def finish_run(self, stages: Sequence[str], partitions: Sequence[str], error: str | None) -> list[str]:
        """Count what the run's steps did not announce themselves (unpartitioned tables, cards); the groups touched."""
        touched = []
        for stage in stages:
            missing = max(1, len(partitions)) - self._noticed.get(stage, 0)
            group = display_group(stage)
            if missing > 0:
                self.done[group] = self.done.get(group, 0) + missing
                self.failed[group] = self.failed.get(group, 0) + (missing if error else 0)
                self.total[group] = max(self.total.get(group, 0), self.done[group])
            if group not in touched:
                touched.append(group)
        self._spend(display_group(stages[-1]))
        return touched

    def line(self, group: str) -> str:
        done, total = self.done.get(group, 0), self.total.get(group, 0)
        seconds = self.seconds.get(group, 0.0)
        text = f"{group:<13}{done:>5}/{total:<5} {UNITS.get(group, ''):<11}{seconds:8.1f}s"
        if seconds > 0 and done:
            text += f"  {_rate(done / seconds)}"
        if self.failed.get(group):
            text += f"  {self.failed[group]} FAILED"
        if group in self.notes:
            text += f"  ({self.notes[group]})"
        return text


def _rate(per_second: float) -> str:
    return f"{per_second:.1f}/s" if per_second >= 1 else f"{1 / per_second:.1f}s each"


class StageLines(RunDisplay):
    """One line per stage once it is done: ``walk-forward     4/4     partitions       19.0s  4.8s each``."""

    def __init__(self, log: Callable[[str], None] = print):
        super().__init__(log)
        self.tally = _Tally()
        self._printed: set[str] = set()
        self._ran = False

    def fetch_started(self, files: int) -> None:
        self.tally.start("fetch", files)

    def file_fetched(self, line: str) -> None:
        self.tally.advance("fetch", 1, failed=int(": FAILED" in line), is_stage=False)

    def fetch_finished(self, summary: str, seconds: float) -> None:
        self.tally.seconds["fetch"] = seconds
        self.tally.notes["fetch"] = summary.splitlines()[0].removeprefix("fetch: ")
        self.log(self.tally.line("fetch"))
        for detail in summary.splitlines()[1:]:  # the files missing or failed
            self.log(detail)

    def planned(self, pending: Mapping[str, int]) -> None:
        for group in self.tally.planned(pending):
            self._printed.discard(group)

    def run_started(self, label: str, stages: Sequence[str], partitions: Sequence[str]) -> None:
        self._ran = True
        self.tally.start()

    def partitions_finished(self, stage: str, partitions: Sequence[str], failed: int) -> None:
        self.tally.advance(stage, len(partitions), failed)

    def run_finished(self, label: str, stages: Sequence[str], partitions: Sequence[str], seconds: float,
                     error: str | None) -> None:
        for group in self.tally.finish_run(stages, partitions, error):
            if self.tally.done.get(group, 0) >= self.tally.total.get(group, 0):
                self._flush(group)

    def _flush(self, group: str) -> None:
        if group not in self._printed:
            self._printed.add(group)
            self.log(self.tally.line(group))

    def _finish(self) -> None:
        for group, _ in DISPLAY_GROUPS:
            if group != "fetch" and self.tally.done.get(group):
                self._flush(group)
        if not self._ran:
            self.log("nothing to compute: every configured partition is current")


class ProgressBars(StageLines):
    """A live bar per stage (rich): done/total, rate, elapsed, time left; the bars stay on screen afterwards."""

    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task) -> Text:
                speed = task.finished_speed or task.speed
                return Text(_rate(speed) if speed else "", style="progress.data.speed")

        super().__init__(log=self._print)
        self.console = Console(file=stream)
        self.progress = Progress(
            SpinnerColumn(finished_text="✓"), TextColumn("{task.description:<13}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[unit]}"), RateColumn(), TimeElapsedColumn(),
            TextColumn("elapsed,"), TimeRemainingColumn(), TextColumn("left"), console=self.console, transient=False,
        )
        self._tasks: dict[str, object] = {}
        self._running: set[str] = set()
        self._started = False
        self._waiting = None

    def _print(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def _start(self) -> None:
        if not self._started:
            self.progress.start()
            self._started = True

    def _bar(self, group: str):
        self._start()
        if group not in self._tasks:
            # started when its first run starts, so elapsed and time left count its own work only
            self._tasks[group] = self.progress.add_task(group, total=self.tally.total.get(group) or None,
                                                        unit=UNITS.get(group, ""), start=False)
        return self._tasks[group]

    def _show(self, group: str) -> None:
        task = self._bar(group)
        self.progress.update(task, total=max(self.tally.total.get(group, 0), 1), completed=self.tally.done.get(group, 0))

    def fetch_started(self, files: int) -> None:
        super().fetch_started(files)
        self._show("fetch")
        self._running.add("fetch")
        self.progress.start_task(self._bar("fetch"))

    def run_started(self, label: str, stages: Sequence[str], partitions: Sequence[str]) -> None:
        super().run_started(label, stages, partitions)
        for group in dict.fromkeys(display_group(stage) for stage in stages):
            if group not in self._running:
                self._running.add(group)
                self.progress.start_task(self._bar(group))

    def file_fetched(self, line: str) -> None:
        super().file_fetched(line)
        self._show("fetch")

    def fetch_finished(self, summary: str, seconds: float) -> None:
        self.tally.notes["fetch"] = summary.splitlines()[0].removeprefix("fetch: ")
        self._show("fetch")
        for detail in summary.splitlines()[1:]:
            self._print(detail)

    def preparing(self, what: str) -> None:
        self._start()
        self._waiting = self.progress.add_task(what, total=None, unit="")

    def planned(self, pending: Mapping[str, int]) -> None:
        if self._waiting is not None:
            self.progress.remove_task(self._waiting)
            self._waiting = None
        changed = set(self.tally.planned(pending))
        for group, _ in DISPLAY_GROUPS:  # the bars of all planned stages appear at once, in pipeline order
            if group in changed:
                self._show(group)

    def partitions_finished(self, stage: str, partitions: Sequence[str], failed: int) -> None:
        self._show(self.tally.advance(stage, len(partitions), failed))

    def run_finished(self, label: str, stages: Sequence[str], partitions: Sequence[str], seconds: float,
                     error: str | None) -> None:
        for group in self.tally.finish_run(stages, partitions, error):
            self._show(group)
        if error:
            self._print(f"FAILED {label}: {error.splitlines()[0]}")

    def _finish(self) -> None:
        if self._started:
            self.progress.stop()
        elif not self._ran:
            self._print("nothing to compute: every configured partition is current")


def own_stream(stream: TextIO) -> TextIO:
    """A stream on a duplicate of ``stream``'s file descriptor. While a step runs, Dagster captures descriptors
    1 and 2 into the run's compute logs and echoes them later: what a display writes through its own
    descriptor reaches the screen at once, in order, and stays out of the compute logs."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return stream
    stream.flush()
    return os.fdopen(os.dup(descriptor), "w", encoding=getattr(stream, "encoding", None) or "utf-8", buffering=1)


def choose_display(stream: TextIO, *, verbose: bool = False) -> RunDisplay:
    """Verbose: a line per run and partition; a terminal: live bars; anything else: a line per stage."""
    out = own_stream(stream)

    def log(text: str) -> None:
        print(text, file=out, flush=True)

    if verbose:
        display = RunDisplay(log, partitions=True)
    elif stream.isatty():
        display = ProgressBars(out)
    else:
        display = StageLines(log)
    display.owned_stream = out if out is not stream else None
    return display
