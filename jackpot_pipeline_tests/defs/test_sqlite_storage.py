"""The local instance's SQLite tuning: files in WAL mode, one engine per database file (compiled statements
reused), events stored and read back as without it."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import uuid

from dagster import (
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    StaticPartitionsDefinition,
    asset,
    materialize,
)
from dagster._core.events import DagsterEvent, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.runs.sqlite import sqlite_run_storage
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from jackpot_pipeline.defs import sqlite_storage


@asset
def tiny() -> int:
    return 1


def _instance(home) -> DagsterInstance:
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return DagsterInstance.from_config(str(home))


def test_engines_are_kept_per_file_and_events_still_land(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    sqlite_storage.speed_up_local_instance()
    assert sqlite_event_log.create_engine.keeps_engines and sqlite_run_storage.create_engine.keeps_engines
    with _instance(tmp_path) as instance:
        first = materialize([tiny], instance=instance)
        second = materialize([tiny], instance=instance)
        assert first.success and second.success
        records = instance.fetch_materializations(AssetKey("tiny"), limit=10).records
        assert {r.run_id for r in records} == {first.run_id, second.run_id}

    index = (tmp_path / "history" / "runs" / "index.db").as_posix()
    kept = [engine for (url, _), engine in sqlite_storage._engines.items() if url.endswith(index)]
    assert len(kept) == 1, "one engine for the index database across every event of both runs"
    assert len(kept[0]._compiled_cache) > 0, "its compiled statements are kept for the next event"
    # the tuning of the connection hook still applies: the files are in WAL mode
    with sqlite3.connect(index) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_same_url_and_settings_share_an_engine_other_settings_do_not(tmp_path):
    create = sqlite_storage._engine_kept_per_file(create_engine)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert create(url, poolclass=NullPool) is create(url, poolclass=NullPool)
    assert create(url, poolclass=NullPool) is not create(url, poolclass=NullPool, connect_args={"timeout": 5})
    assert create(url) is not create(url), "an engine with a connection pool is never shared"
    assert create(f"sqlite:///{tmp_path / 'b.db'}", poolclass=NullPool) is not create(url, poolclass=NullPool)


def test_a_deleted_database_is_created_again_through_a_kept_engine(tmp_path):
    create = sqlite_storage._engine_kept_per_file(create_engine)
    path = tmp_path / "gone.db"
    engine = create(f"sqlite:///{path}", poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    path.unlink()
    engine.dispose()  # what Dagster's storages do after each use
    with create(f"sqlite:///{path}", poolclass=NullPool).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert sqlite3.connect(path).execute("SELECT x FROM t").fetchall() == [(1,)]


def _materialization(run_id: str, partition: str) -> EventLogEntry:
    materialization = AssetMaterialization(asset_key="scores", partition=partition, metadata={"rows": 3},
                                           tags={"dagster/data_version": f"v-{partition}"})
    event = DagsterEvent(DagsterEventType.ASSET_MATERIALIZATION.value, "job",
                         event_specific_data=StepMaterializationData(materialization))
    return EventLogEntry(user_message="", level=logging.DEBUG, job_name="job", run_id=run_id, error_info=None,
                         timestamp=time.time(), step_key="step", dagster_event=event)


def _run(instance: DagsterInstance) -> str:
    return instance.add_run(DagsterRun(job_name="job", run_id=str(uuid.uuid4()))).run_id


def _stored(instance: DagsterInstance) -> dict[str, str]:
    records = instance.fetch_materializations(AssetKey("scores"), limit=1000).records
    return {r.partition_key: r.asset_materialization.tags["dagster/data_version"] for r in records}


def test_events_stored_together_read_back_as_events_stored_one_by_one(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    sqlite_storage.speed_up_local_instance()
    partitions = [f"E0|{year}" for year in range(2000, 2030)]
    with _instance(tmp_path) as instance:
        one_by_one = _run(instance)
        for partition in partitions[:15]:
            instance.handle_new_event(_materialization(one_by_one, partition))
        together = _run(instance)
        with sqlite_storage.events_stored_together():
            for partition in partitions[15:]:
                instance.handle_new_event(_materialization(together, partition))
        assert _stored(instance) == {p: f"v-{p}" for p in partitions}
        assert len(instance.all_logs(together)) == 15, "the run's own file holds its events too"
        assert instance.get_materialized_partitions(AssetKey("scores")) == set(partitions)


def test_a_block_that_raises_keeps_none_of_its_events(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    sqlite_storage.speed_up_local_instance()
    with _instance(tmp_path) as instance:
        run_id = _run(instance)
        try:
            with sqlite_storage.events_stored_together():
                instance.handle_new_event(_materialization(run_id, "E0|2000"))
                raise ValueError("the step failed")
        except ValueError:
            pass
        assert _stored(instance) == {}
        instance.handle_new_event(_materialization(run_id, "E0|2001"))  # the storage works on afterwards
        assert _stored(instance) == {"E0|2001": "v-E0|2001"}


def test_a_long_block_commits_as_it_goes_so_other_writers_wait_briefly(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr(sqlite_storage, "EVENTS_PER_TRANSACTION", 5)
    sqlite_storage.speed_up_local_instance()
    index = tmp_path / "history" / "runs" / "index.db"
    with _instance(tmp_path) as instance:
        run_id = _run(instance)
        with sqlite_storage.events_stored_together():
            for year in range(2000, 2012):
                instance.handle_new_event(_materialization(run_id, f"E0|{year}"))
            # a materialization takes two connections (run file, index): committed after 5 and after 10 events
            seen = sqlite3.connect(index).execute(
                "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'").fetchone()[0]
            assert seen == 10
        assert len(_stored(instance)) == 12


def test_planned_events_of_a_ranged_run_are_stored_as_one_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv(sqlite_storage.BATCH_SIZE_VARIABLE, raising=False)
    monkeypatch.setattr(sqlite_storage, "_installed", False)
    sqlite_storage.speed_up_local_instance()
    assert os.environ[sqlite_storage.BATCH_SIZE_VARIABLE] == str(sqlite_storage.EVENTS_PER_TRANSACTION)
    batches: list[int] = []
    storing = sqlite_event_log.SqliteEventLogStorage.store_event_batch
    monkeypatch.setattr(sqlite_event_log.SqliteEventLogStorage, "store_event_batch",
                        lambda self, events: (batches.append(len(events)), storing(self, events))[1])
    with _instance(tmp_path) as instance:
        result = materialize([per_season], instance=instance, tags={
            "dagster/asset_partition_range_start": "2000", "dagster/asset_partition_range_end": "2011"})
        assert result.success
        planned = instance.get_records_for_run(result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        assert len(planned.records) == 12
        assert 12 in batches, "the twelve planned events went to the storage as one batch"
        assert instance.get_materialized_partitions(AssetKey("per_season")) == {str(y) for y in range(2000, 2012)}


@asset(partitions_def=StaticPartitionsDefinition([str(year) for year in range(2000, 2012)]),
       backfill_policy=BackfillPolicy.single_run())
def per_season(context) -> None:
    for key in context.partition_keys:
        context.log_event(AssetMaterialization(asset_key="per_season", partition=key))
