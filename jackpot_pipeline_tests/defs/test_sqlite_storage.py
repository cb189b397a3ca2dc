"""The local instance's SQLite tuning: files in WAL mode, one engine per database file (compiled statements
reused), events stored and read back as without it."""

from __future__ import annotations

import sqlite3

from dagster import AssetKey, DagsterInstance, asset, materialize
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
