"""Ingestion benchmarks: parse throughput over every shared file, and a cold full ingestion."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows
from jackpot_pipeline.sources.leagues import EXTRA_LEAGUES
from jackpot_pipeline_tests.conftest import SHARED_FOOTBALL_DATA


def parse_throughput(root: Path = SHARED_FOOTBALL_DATA, repeats: int = 3) -> dict[str, object]:
    """Decode + parse + canonicalise every shared file in memory (no I/O in the timed part)."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.glob("*/**/*.csv"))}
    best = float("inf")
    rows = 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = 0
        for relpath, data in files.items():
            parsed = parse_source(data, relpath)
            league = Path(relpath).stem
            season = None if league in EXTRA_LEAGUES else Path(relpath).parent.name
            for partition in partition_rows(parsed, league, season).values():
                result = canonicalise(parsed, partition, snapshot_date=dt.date(2026, 1, 1))
                rows += len(result.raw)
        best = min(best, time.perf_counter() - started)
    return {
        "files": len(files),
        "rows": rows,
        "bytes": sum(len(d) for d in files.values()),
        "best_seconds": round(best, 3),
        "rows_per_second": round(rows / best),
    }


def run() -> dict[str, object]:
    return {"parse_throughput": parse_throughput()}
