"""Scale-out on Celery, for real: a Postgres instance, Redis as the broker, the webserver and the daemon, two
Celery worker processes; a backfill of 24 league × season partitions launched through the GraphQL API runs
on both workers, survives the loss of one, and leaves the tables a local in-process run gives."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterRunStatus, RunsFilter, instance_for_test

from jackpot_pipeline.defs.celery import WORKER_TAG
from jackpot_pipeline.settings import Settings
from jackpot_pipeline.warehouse.store import Warehouse
from jackpot_pipeline_tests.defs.conftest import Workspace
from jackpot_pipeline_tests.deploy.scaleout import LEAGUES, PARTITIONS, SEASONS, STAGE_ASSETS, Deployment
from jackpot_pipeline_tests.waiting import wait_for

pytestmark = pytest.mark.postgres
ASSETS = STAGE_ASSETS["ingest"] + STAGE_ASSETS["walk_forward"]
COMPARED = {
    "canonical_matches": "league, season, match_id",
    "team_strength_snapshots": "league, season, as_of_date, team",
    "uncalibrated_predictions": "league, season, match_id",
}


@pytest.fixture(scope="module")
def local_tables(tmp_path_factory, shared_data) -> dict[str, pd.DataFrame]:
    """The same partitions and stages run in-process on a local instance: what the workers must reproduce."""
    settings = Settings(shared_data.as_uri(), LEAGUES, f"{SEASONS[0]}-{SEASONS[-1]}", tmp_path_factory.mktemp("local") / "data")
    with instance_for_test() as instance:
        workspace = Workspace(settings, instance, shared_data)
        workspace.copy(*(f"mmz4281/{key.split('|')[1]}/{key.split('|')[0]}.csv" for key in PARTITIONS))
        workspace.add(*PARTITIONS)
        for stage in ("ingest", "walk_forward"):
            assert workspace.run(stage, partitions=PARTITIONS).success
        return {table: workspace.sql(f"SELECT * FROM {table} ORDER BY {order}") for table, order in COMPARED.items()}


@pytest.fixture
def deployment(tmp_path, shared_data, monkeypatch):
    deployment = Deployment(tmp_path, shared_data)
    for name, value in deployment.exported().items():
        monkeypatch.setenv(name, value)
    try:
        yield deployment
    finally:
        deployment.close()


def runs(deployment: Deployment) -> list:
    with deployment.instance() as instance:
        return list(instance.get_runs(RunsFilter()))


def _partitions(instance, run) -> list[str]:
    """The partition keys a run covered (a single key, or the keys of its range in the instance's order)."""
    if "dagster/partition" in run.tags:
        return [run.tags["dagster/partition"]]
    keys = instance.get_dynamic_partitions("league_season")
    first, last = run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]
    return keys[keys.index(first): keys.index(last) + 1]


def assert_equal_to_local(deployment: Deployment, local_tables) -> None:
    store = Warehouse(deployment.data / "warehouse")
    for table, order in COMPARED.items():
        pd.testing.assert_frame_equal(store.query(f"SELECT * FROM {table} ORDER BY {order}"), local_tables[table],
                                      check_exact=True, obj=table)


def test_a_backfill_runs_on_two_workers_and_equals_the_local_run(deployment, local_tables):
    deployment.start_services(workers=2, sensor=False)  # the backfill alone does the work
    backfill = deployment.launch_backfill(PARTITIONS, ASSETS)
    assert deployment.wait_for_backfill(backfill) == "COMPLETED_SUCCESS"
    done = runs(deployment)
    assert all(run.status == DagsterRunStatus.SUCCESS for run in done)
    # two stages, 24 partitions each, in runs of at most 8 partitions (9 for the second stage)
    with deployment.instance() as instance:
        for assets, most in ((set(STAGE_ASSETS["ingest"]), 8), (set(STAGE_ASSETS["walk_forward"]), 9)):
            sizes = [len(_partitions(instance, run))
                     for run in done if {key.to_user_string() for key in run.asset_selection} == assets]
            assert sum(sizes) == 24 and max(sizes) <= most and len(sizes) >= 3, sizes
    assert all(run.tags.get("dagster/backfill") == backfill for run in done)
    workers = {run.tags[WORKER_TAG].split("@")[0] for run in done}
    assert workers == {"worker1", "worker2"}, workers  # both worker processes executed runs
    assert_equal_to_local(deployment, local_tables)


def test_a_lost_worker_s_run_is_retried_and_no_reader_sees_half_a_partition(deployment, local_tables):
    deployment.start_services(workers=2, sensor=False)  # the backfill alone does the work
    store = Warehouse(deployment.data / "warehouse")
    problems: list[str] = []
    reads = [0]
    stop = threading.Event()

    def read_every_partition_while_they_are_written() -> None:
        while not stop.is_set():
            for folder in list(Path(store.root).glob("*")):
                for path in list(folder.glob("*.parquet")):
                    try:
                        store.query(f"SELECT count(*) FROM read_parquet('{path}')")
                        reads[0] += 1
                    except FileNotFoundError:
                        continue
                    except Exception as error:  # noqa: BLE001 - any failure to read a file is the finding
                        if path.exists():
                            problems.append(f"{path.name}: {error}")
            time.sleep(0.05)

    reader = threading.Thread(target=read_every_partition_while_they_are_written, daemon=True)
    reader.start()
    backfill = deployment.launch_backfill(PARTITIONS, ASSETS)

    def walk_forward_on_worker1():
        for run in runs(deployment):
            stages = {key.to_user_string() for key in (run.asset_selection or ())}
            if (run.status == DagsterRunStatus.STARTED and "team_strength_snapshots" in stages
                    and run.tags.get(WORKER_TAG, "").startswith("worker1@")):
                return run
        return None

    victim = wait_for(walk_forward_on_worker1, 600, "a walk-forward run on worker1")
    deployment.kill("worker1")
    assert deployment.wait_for_backfill(backfill) == "COMPLETED_SUCCESS"
    stop.set()
    reader.join()

    by_id = {run.run_id: run for run in runs(deployment)}
    assert by_id[victim.run_id].status == DagsterRunStatus.FAILURE
    retries = [run for run in by_id.values() if run.tags.get("dagster/parent_run_id") == victim.run_id]
    assert len(retries) == 1 and retries[0].status == DagsterRunStatus.SUCCESS
    assert retries[0].tags[WORKER_TAG].startswith("worker2@")
    assert retries[0].tags.get("dagster/backfill") == backfill
    assert problems == [] and reads[0] > 100
    assert_equal_to_local(deployment, local_tables)


def test_rabbitmq_is_a_broker_by_url(tmp_path, shared_data, monkeypatch, local_tables):
    deployment = Deployment(tmp_path, shared_data, broker="rabbitmq")
    for name, value in deployment.exported().items():
        monkeypatch.setenv(name, value)
    try:
        assert deployment.env["JACKPOT_CELERY_BROKER"].startswith("amqp://guest:guest@127.0.0.1:5672/jpt_")
        deployment.start_services(workers=1, sensor=False)
        backfill = deployment.launch_backfill(PARTITIONS, STAGE_ASSETS["ingest"])
        assert deployment.wait_for_backfill(backfill) == "COMPLETED_SUCCESS"
        done = runs(deployment)
        assert len(done) == 3 and {run.tags[WORKER_TAG].split("@")[0] for run in done} == {"worker1"}
        store = Warehouse(deployment.data / "warehouse")
        pd.testing.assert_frame_equal(store.query(f"SELECT * FROM canonical_matches ORDER BY {COMPARED['canonical_matches']}"),
                                      local_tables["canonical_matches"], check_exact=True)
    finally:
        deployment.close()
