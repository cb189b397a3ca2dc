"""Ingestion benchmarks: parse throughput over every shared file, and a cold full ingestion."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
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


def cold_default_ingestion() -> dict[str, object]:
    """`jackpot-pipeline run` of the default configuration into an empty data dir and instance."""
    from dagster import DagsterInstance

    from jackpot_pipeline.cli import ingest
    from jackpot_pipeline.settings import load_settings
    from jackpot_pipeline.sources.fetch import fetch_files, source_files

    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text((Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml").read_text())
        os.environ["DAGSTER_HOME"] = str(home)
        settings = load_settings({"FOOTBALL_DATA_URL": SHARED_FOOTBALL_DATA.as_uri(), "JACKPOT_DATA_DIR": str(Path(scratch) / "data")})
        started = time.perf_counter()
        files = source_files(settings.base_url, settings.leagues, settings.seasons())
        fetch_files(files, settings.raw_dir)
        fetched = time.perf_counter()
        with DagsterInstance.get() as instance:
            outcome = ingest(settings, instance, log=lambda _: None)
            ingested = time.perf_counter()
            again = ingest(settings, instance, log=lambda _: None)
            rerun = time.perf_counter()
    return {
        "leagues": list(settings.leagues),
        "seasons": settings.seasons(),
        "partitions": len(outcome.ingested),
        "failed": len(outcome.failed),
        "checks_passed": outcome.checks_passed,
        "fetch_seconds": round(fetched - started, 2),
        "wall_seconds": round(ingested - started, 2),
        "rerun_unchanged_seconds": round(rerun - ingested, 2),
        "rerun_ingested_partitions": len(again.ingested),
    }


def run() -> dict[str, object]:
    return {"parse_throughput": parse_throughput(), "cold_default_ingestion": cold_default_ingestion()}
