"""Dagster-level fixtures: a temporary data dir holding copies of real files, a temporary instance, and
helpers to run the pipeline's jobs the way ``make run`` and the sensor do."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, instance_for_test

from jackpot_pipeline.definitions import build_definitions
from jackpot_pipeline.defs.local_runs import QUIET_RUN_CONFIG, RunOutcome, failure_message, run_pipeline
from jackpot_pipeline.defs.orchestration import RANGE_END_TAG, RANGE_START_TAG
from jackpot_pipeline.defs.partitions import jackpot_partitions, league_season_partitions
from jackpot_pipeline.planning.pipeline import stage_named
from jackpot_pipeline.settings import Settings
from jackpot_pipeline.warehouse.store import Warehouse

__all__ = ["Workspace", "data_version", "failure_message", "workspace"]


def data_version(instance: DagsterInstance, asset: str, partition: str | None = None) -> str | None:
    record = instance.get_latest_data_version_record(AssetKey(asset), partition_key=partition)
    return record.asset_materialization.tags.get("dagster/data_version") if record else None


@dataclass
class Workspace:
    settings: Settings
    instance: DagsterInstance
    shared: Path

    @property
    def raw(self) -> Path:
        return self.settings.raw_dir

    @property
    def store(self) -> Warehouse:
        return Warehouse(self.settings.warehouse_root)

    def copy(self, *relpaths: str) -> None:
        for relpath in relpaths:
            target = self.raw / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.shared / relpath, target)

    def defs(self):
        return build_definitions(self.settings)

    def add(self, *keys: str, jackpots: tuple[str, ...] = ()) -> None:
        for definition, wanted in ((league_season_partitions, keys), (jackpot_partitions, jackpots)):
            missing = [key for key in wanted if not self.instance.has_dynamic_partition(definition.name, key)]
            if missing:
                self.instance.add_dynamic_partitions(definition.name, missing)

    def run(self, *stages: str, partitions: tuple[str, ...] | list[str] = (), raise_on_error: bool = True,
            job: str | None = None, tags=None):
        """One in-process run of ``stages`` over one partition key, a contiguous range ``first..last`` of
        the keys in ``partitions`` (in the instance's order), or nothing (unpartitioned stages)."""
        scope = stage_named(stages[0]).scope
        job = job or {"league_season": "league_season_job", "global": "warehouse_job", "jackpot": "jackpot_job"}[scope]
        selection = [AssetKey(asset) for name in stages for asset in stage_named(name).assets]
        run_tags = dict(tags or {})
        partition_key = None
        if len(partitions) == 1:
            partition_key = partitions[0]
        elif partitions:
            run_tags.update({RANGE_START_TAG: partitions[0], RANGE_END_TAG: partitions[-1]})
        return self.defs().resolve_job_def(job).execute_in_process(
            instance=self.instance, partition_key=partition_key, asset_selection=selection, tags=run_tags,
            run_config=QUIET_RUN_CONFIG, raise_on_error=raise_on_error,
        )

    def ingest(self, league: str, season: str, *, raise_on_error: bool = True):
        key = f"{league}|{season}"
        self.add(key)
        return self.run("ingest", partitions=[key], raise_on_error=raise_on_error)

    def pipeline(self) -> RunOutcome:
        """What ``make run`` does after fetching: plan, run, until nothing is stale."""
        return run_pipeline(self.defs(), self.settings, self.instance, log=lambda _: None)

    def sql(self, query: str, parameters=()) -> pd.DataFrame:
        return self.store.query(query, parameters)


@pytest.fixture
def workspace(tmp_path, shared_data):
    data_dir = tmp_path / "data"
    settings = Settings(base_url=shared_data.as_uri(), leagues=("E0",), seasons_spec="2324", data_dir=data_dir)
    with instance_for_test() as instance:
        yield Workspace(settings, instance, shared_data)
