"""A modeled warehouse for the jackpot assets, built once per session from copies of the real files.

The sample card needs E0 SP1 D1 I1 F1 in 2023/24. Its strength snapshots are fitted on 2021/22-2023/24
(two previous seasons), and the 2023/24 calibration map on out-of-sample predictions before July 2023,
so: ingest 15 partitions (3 seasons x 5 leagues), teams, walk-forward 2022/23 and 2023/24 (2021/22 is only
training data), calibration 2023/24. match_predictions is not an input of the jackpot assets and is skipped.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, Definitions, MultiPartitionKey, instance_for_test

from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests.jackpots_defs.location import jackpot_definitions

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CARD = PROJECT_ROOT / "data" / "jackpots" / "sample_2324_final.json"
SAMPLE_ID = "sample_2324_final"
LEAGUES = ("E0", "SP1", "D1", "I1", "F1")
SEASONS = ("2122", "2223", "2324")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class JackpotWorkspace:
    settings: Settings
    instance: DagsterInstance
    shared: Path
    defs: Definitions
    setup_seconds: float = 0.0

    @property
    def cards(self) -> Path:
        return self.settings.jackpots_dir

    def run(self, job: str, partition_key, *, raise_on_error: bool = True, tags=None):
        return self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, partition_key=partition_key, raise_on_error=raise_on_error, run_config=QUIET,
            tags=tags,
        )

    def predict(self, jackpot_id: str, *, job: str = "jackpot_job"):
        if not self.instance.has_dynamic_partition("jackpots", jackpot_id):
            self.instance.add_dynamic_partitions("jackpots", [jackpot_id])
        return self.run(job, jackpot_id, raise_on_error=False)

    def finalise_sample(self):
        """The sample finalised (idempotent: re-running an unchanged card is a no-op)."""
        result = self.predict(SAMPLE_ID)
        assert result.success
        return result

    def sql(self, query: str, parameters=()) -> pd.DataFrame:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as connection:
            return connection.execute(query, list(parameters)).df()


def empty_workspace(tmp_path: Path, shared: Path, instance: DagsterInstance) -> JackpotWorkspace:
    settings = Settings(base_url=shared.as_uri(), leagues=LEAGUES, seasons_spec="2122-2324", data_dir=tmp_path / "data")
    settings.jackpots_dir.mkdir(parents=True)
    return JackpotWorkspace(settings, instance, shared, jackpot_definitions(settings))


@pytest.fixture(scope="session")
def modeled(tmp_path_factory, shared_data) -> JackpotWorkspace:
    started = time.perf_counter()
    with instance_for_test() as instance:
        workspace = empty_workspace(tmp_path_factory.mktemp("jackpots"), shared_data, instance)
        for league in LEAGUES:
            for season in SEASONS:
                target = workspace.settings.raw_dir / "mmz4281" / season / f"{league}.csv"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shared_data / "mmz4281" / season / f"{league}.csv", target)
        shutil.copyfile(SAMPLE_CARD, workspace.cards / SAMPLE_CARD.name)
        instance.add_dynamic_partitions("league", list(LEAGUES))
        instance.add_dynamic_partitions("season", list(SEASONS))
        for league in LEAGUES:
            for season in SEASONS:
                workspace.run("ingest_job", MultiPartitionKey({"league": league, "season": season}))
        assert workspace.defs.resolve_job_def("teams_job").execute_in_process(instance=instance, run_config=QUIET).success
        for season in ("2223", "2324"):
            for league in LEAGUES:
                workspace.run("walk_forward_job", MultiPartitionKey({"league": league, "season": season}))
        workspace.run("calibration_job", "2324")
        workspace.setup_seconds = time.perf_counter() - started
        yield workspace
