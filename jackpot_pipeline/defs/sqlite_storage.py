"""Faster writes to the local Dagster instance's SQLite files.

Dagster's SQLite storage opens a new connection for every statement it writes (``NullPool``) and means
its files to be in WAL mode, but it issues ``PRAGMA journal_mode=WAL`` inside a transaction, where SQLite
ignores it (dagster 1.13.27): the files stay in rollback-journal mode and every event costs several
synced writes, 20-60 ms on this kind of machine, most of a batched run's time. So in each process that
writes events, a connection to a file under ``$DAGSTER_HOME`` switches it to WAL (once; the mode is
stored in the file), commits with ``synchronous=NORMAL`` (in WAL mode the database stays consistent
through any crash of a process; only an operating-system crash can lose the last transactions), and the
first connection leaves one more open for the life of the process, so that closing the others does not
checkpoint the log every time. Files outside ``$DAGSTER_HOME`` (a Postgres instance has none) are left
alone.

The same storages also build a new SQLAlchemy engine for every connection. SQLAlchemy keeps its cache of
compiled statements on the engine (keyed by the engine's own dialect), so every insert of every event was
compiled from scratch: about half of the CPU a batched run spends storing events. Here the SQLite storages
get one engine per database file and connection settings for the life of the process. The engines keep
``NullPool``, so each connection is still opened and closed around its statements as Dagster intends (no
file is held open, a deleted file is simply created again); only the compiled statements are reused.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool, Pool

_keepers: dict[str, sqlite3.Connection] = {}
_in_wal: set[tuple[str, int]] = set()  # files seen in WAL mode: the mode is stored in the file, no need to ask again
_lock = threading.Lock()
_installed = False


def _database_file(connection: sqlite3.Connection) -> str | None:
    rows = connection.execute("PRAGMA database_list").fetchall()
    return next((row[2] for row in rows if row[1] == "main" and row[2]), None)


@functools.lru_cache(maxsize=256)
def _under(path: str, home: str) -> bool:
    return Path(path).resolve().is_relative_to(Path(home).resolve())


def _on_connect(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    home = os.environ.get("DAGSTER_HOME")
    path = _database_file(dbapi_connection)
    if not home or not path or not _under(path, home):
        return
    file = (path, os.stat(path).st_ino)  # a file deleted and made again at the same path starts in rollback mode
    if file not in _in_wal:
        try:
            mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                mode = dbapi_connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode == "wal":
                _in_wal.add(file)
        except sqlite3.OperationalError:
            pass  # another process holds the file right now; a later connection switches it
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    with _lock:
        if path not in _keepers:
            keeper = sqlite3.connect(path, check_same_thread=False)
            keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a read attaches it to the WAL
            _keepers[path] = keeper


_ENGINES_KEPT = 64  # a daemon sees a new run database per run: the least recently used engines are let go
_engines: OrderedDict[tuple[str, str], Engine] = OrderedDict()


def _engine_kept_per_file(create_engine):
    """``create_engine`` that hands back the same engine for the same SQLite URL and settings."""

    @functools.wraps(create_engine)
    def engine_for(url, *args, **kwargs) -> Engine:
        if args or kwargs.get("poolclass") is not NullPool or not str(url).startswith("sqlite:"):
            return create_engine(url, *args, **kwargs)
        key = (str(url), repr(sorted(kwargs.items(), key=lambda item: item[0])))
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                engine = _engines[key] = create_engine(url, **kwargs)
                while len(_engines) > _ENGINES_KEPT:
                    _engines.popitem(last=False)
            else:
                _engines.move_to_end(key)
            return engine

    engine_for.keeps_engines = True
    return engine_for


def _keep_engines_of_sqlite_storages() -> None:
    from dagster._core.storage.event_log.sqlite import consolidated_sqlite_event_log, sqlite_event_log
    from dagster._core.storage.runs.sqlite import sqlite_run_storage
    from dagster._core.storage.schedules.sqlite import sqlite_schedule_storage

    for module in (sqlite_event_log, consolidated_sqlite_event_log, sqlite_run_storage, sqlite_schedule_storage):
        if not getattr(module.create_engine, "keeps_engines", False):
            module.create_engine = _engine_kept_per_file(module.create_engine)


def speed_up_local_instance() -> None:
    """Install the connection hook and the engine reuse once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Pool, "connect", _on_connect)
        _installed = True
    _keep_engines_of_sqlite_storages()
