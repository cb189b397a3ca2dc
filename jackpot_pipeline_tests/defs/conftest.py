"""Dagster-level fixtures: a temporary data dir holding copies of real files, a temporary instance."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, MultiPartitionKey, instance_for_test

from jackpot_pipeline.definitions import build_definitions
from jackpot_pipeline.settings import Settings


@dataclass
class Workspace:
    settings: Settings
    instance: DagsterInstance
    shared: Path

    @property
    def raw(self) -> Path:
        return self.settings.raw_dir

    def copy(self, *relpaths: str) -> None:
        for relpath in relpaths:
            target = self.raw / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.shared / relpath, target)

    def defs(self):
        return build_definitions(self.settings)

    def ingest(self, league: str, season: str, *, raise_on_error: bool = True):
        for dimension, key in (("league", league), ("season", season)):
            if not self.instance.has_dynamic_partition(dimension, key):
                self.instance.add_dynamic_partitions(dimension, [key])
        return self.defs().resolve_job_def("ingest_job").execute_in_process(
            instance=self.instance,
            partition_key=MultiPartitionKey({"league": league, "season": season}),
            raise_on_error=raise_on_error,
        )

    def sql(self, query: str, parameters=()) -> pd.DataFrame:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as connection:
            return connection.execute(query, list(parameters)).df()


@pytest.fixture
def workspace(tmp_path, shared_data):
    data_dir = tmp_path / "data"
    settings = Settings(base_url=shared_data.as_uri(), leagues=("E0",), seasons_spec="2324", data_dir=data_dir)
    with instance_for_test() as instance:
        yield Workspace(settings, instance, shared_data)
