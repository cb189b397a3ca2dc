"""Resources: the Parquet warehouse and the raw-file store."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path

from dagster import ConfigurableResource

from jackpot_pipeline.sources.catalog import source_relpaths
from jackpot_pipeline.sources.fetch import snapshot_date
from jackpot_pipeline.sources.ingest import SourceBytes
from jackpot_pipeline.sources.leagues import is_extra_league, source_relpath
from jackpot_pipeline.warehouse.store import Warehouse


@functools.cache
def _warehouse(root: str) -> Warehouse:
    return Warehouse(root)


class WarehouseResource(ConfigurableResource):
    """The warehouse's Parquet tables below ``root`` (``data/warehouse/``); ``catalog`` is the DuckDB file
    with a view per table for people who query it (``data/warehouse.duckdb``)."""

    root: str
    catalog: str = ""

    @property
    def store(self) -> Warehouse:
        return _warehouse(self.root)


class RawFilesResource(ConfigurableResource):
    """The fetched football-data files below ``data/raw/`` (same layout as the publisher's site), and which
    leagues and seasons the pipeline is configured for (empty: every file found)."""

    raw_dir: str
    leagues: list[str] = []
    seasons: list[str] = []

    @property
    def root(self) -> Path:
        return Path(self.raw_dir)

    def exists(self, relpath: str) -> bool:
        return (self.root / relpath).is_file()

    def relpaths(self) -> list[str]:
        return source_relpaths(self.root)

    def source(self, league: str, season: str) -> SourceBytes | None:
        """The bytes of a partition's file and when they were fetched, or None when the file is missing."""
        relpath = source_relpath(league, None if is_extra_league(league) else season)
        path = self.root / relpath
        if not path.is_file():
            return None
        data = path.read_bytes()
        return SourceBytes(relpath, data, self.snapshot_date(relpath, hashlib.sha256(data).hexdigest()))

    def snapshot_date(self, relpath: str, sha256: str) -> dt.date:
        return snapshot_date(self.root, relpath, sha256)
