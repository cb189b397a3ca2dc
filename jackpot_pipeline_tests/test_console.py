"""What ``make run`` shows while it works: a line per stage in a pipe, live bars on a terminal (a real pseudo
terminal here), a line per run and partition with ``--verbose``."""

from __future__ import annotations

import io
import os
import pty
import re
import threading
import time

from jackpot_pipeline.console import ProgressBars, RunDisplay, StageLines, choose_display

KEYS = ("E0|2223", "E0|2324", "E1|2223", "E1|2324")
TABLES = ("teams", "validation_summary", "model_registry", "data_freshness")


def _pipeline(display: RunDisplay, pause: float = 0.0) -> None:
    """What the engine tells a display for a run of four partitions: ingest (one partition failing), the
    unpartitioned tables."""
    display.fetch_started(4)
    for key in KEYS:
        display.file_fetched(f"[1/4] mmz4281/{key[-4:]}/{key[:2]}.csv: unchanged")
    display.fetch_finished("fetch: 0 new, 0 changed, 4 unchanged, 0 missing, 0 failed", 0.2)
    display.preparing("planning")
    time.sleep(pause)
    display.planned({"ingest": 4, "walk_forward": 4, **dict.fromkeys(TABLES, 1)})
    display.run_started("ingest E0|2223..E1|2324 (4)", ("ingest",), KEYS)
    for key in KEYS:
        time.sleep(pause)
        display.partitions_finished("ingest", (key,), int(key == "E1|2223"))
    display.run_finished("ingest E0|2223..E1|2324 (4)", ("ingest",), KEYS, 1.5, "1 of 4 partition(s) failed")
    display.planned({"walk_forward": 3, **dict.fromkeys(TABLES, 1)})  # the failed partition's work is left alone
    display.run_started("walk_forward E0|2223..E1|2324 (3)", ("walk_forward",), KEYS[:2] + KEYS[3:])
    for key in KEYS[:2] + KEYS[3:]:
        time.sleep(pause)
        display.partitions_finished("walk_forward", (key,), 0)
    display.run_finished("walk_forward", ("walk_forward",), KEYS[:2] + KEYS[3:], 1.0, None)
    display.run_started("tables", TABLES, ())
    time.sleep(pause)
    display.run_finished("tables", TABLES, (), 0.5, None)
    display.close()


def test_a_pipe_gets_one_line_per_stage():
    lines: list[str] = []
    _pipeline(StageLines(lines.append))
    assert [line.split()[0] for line in lines] == ["fetch", "ingest", "walk-forward", "tables"]
    assert re.fullmatch(r"fetch\s+4/4\s+files\s+0\.2s\s+20\.0/s\s+\(0 new, 0 changed, 4 unchanged, 0 missing, 0 failed\)",
                        lines[0]), lines[0]
    assert re.fullmatch(r"ingest\s+4/4\s+partitions\s+\d+\.\ds\s+\S+  1 FAILED", lines[1]), lines[1]
    assert re.fullmatch(r"walk-forward\s+3/3\s+partitions\s+\d+\.\ds\s+\S+", lines[2]), lines[2]
    assert re.match(r"tables\s+4/4\s+tables", lines[3]), lines[3]


def test_verbose_keeps_a_line_per_run_and_per_partition():
    lines: list[str] = []
    _pipeline(RunDisplay(lines.append, partitions=True))
    assert lines[:4] == [f"[1/4] mmz4281/{key[-4:]}/{key[:2]}.csv: unchanged" for key in KEYS]
    assert lines[4] == "fetch: 0 new, 0 changed, 4 unchanged, 0 missing, 0 failed"
    assert lines[5:10] == ["  ingest E0|2223 ok", "  ingest E0|2324 ok", "  ingest E1|2223 FAILED", "  ingest E1|2324 ok",
                           "ingest E0|2223..E1|2324 (4) (1.5s) FAILED: 1 of 4 partition(s) failed"]
    assert lines[-1] == "tables (0.5s) ok"


def test_nothing_to_do_is_said():
    lines: list[str] = []
    with StageLines(lines.append) as display:
        display.planned({})
    assert lines == ["nothing to compute: every configured partition is current"]


def test_a_terminal_gets_live_bars_that_stay_on_screen():
    leader, follower = pty.openpty()
    received = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    terminal = os.fdopen(follower, "w", encoding="utf-8")
    display = choose_display(terminal)
    assert isinstance(display, ProgressBars)
    _pipeline(display, pause=0.3)
    terminal.flush()
    time.sleep(0.3)
    terminal.close()
    reader.join(timeout=5)
    os.close(leader)
    screen = received.decode("utf-8", "replace")
    assert "\x1b[" in screen and "\r" in screen  # redrawn in place
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    # while ingest ran, its bar stood part way with the stages still to come below it
    assert re.search(r"ingest\s+[━╺╸]+\s+2/4 partitions", plain), plain[-3000:]
    assert re.search(r"walk-forward\s+[━╺╸]+\s+0/4 partitions", plain)
    final = plain[plain.rindex("✓ fetch"):]
    for stage, count in (("fetch", "4/4 files"), ("ingest", "4/4 partitions"), ("walk-forward", "3/3 partitions"),
                         ("tables", "4/4 tables")):
        assert re.search(rf"✓ {stage}\s+━+\s+{count}", final), final
    assert "elapsed," in final and "left" in final
    assert "planning" in plain and "planning" not in final  # shown until the first plan, then gone


def test_verbose_or_a_pipe_chooses_lines():
    assert type(choose_display(io.StringIO())) is StageLines
    assert type(choose_display(io.StringIO(), verbose=True)) is RunDisplay
