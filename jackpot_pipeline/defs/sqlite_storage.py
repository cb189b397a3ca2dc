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

Each event still costs two connections (its run's file and the index), a commit on each and two schema
look-ups (does the tags table exist, does the asset table have its index columns): about 5 ms of CPU, most
of what storing a batched run's thousands of events costs. Dagster hands events over in batches where it
can (a run's ``ASSET_MATERIALIZATION_PLANNED`` events when ``DAGSTER_EVENT_BATCH_SIZE`` is set; this module
sets it), but the SQLite storage stores a batch one event at a time. Here a batch, and the per-partition
materializations a batched step reports (:func:`events_stored_together`), share one connection per file
and one transaction, committed every :data:`EVENTS_PER_TRANSACTION` events and at the end; the schema
look-ups are remembered once they say yes (a table or column once there stays there).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
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


EVENTS_PER_TRANSACTION = 200  # bounds how long other writers of the index file wait for a shared transaction
BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
_shared = threading.local()  # this thread's open shared connections while events are stored together


class _SharedConnections:
    def __init__(self) -> None:
        self.open: dict[tuple[int, str], tuple[object, object]] = {}  # (storage, shard) -> (connection, transaction)
        self.uses = 0

    def connection(self, storage, shard: str, create_engine):
        key = (id(storage), shard)
        if key not in self.open:
            from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

            # the same engine and first-use schema set-up as the storage's own _connect
            engine = create_engine(storage.conn_string_for_shard(shard), poolclass=NullPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            with storage._db_lock:
                if shard not in storage._initialized_dbs:
                    storage._initdb(engine)
                    storage._initialized_dbs.add(shard)
            connection = engine.connect()
            self.open[key] = (connection, connection.begin())
        self.uses += 1
        return self.open[key][0]

    def finish(self, commit: bool) -> None:
        opened, self.open, self.uses = self.open, {}, 0
        try:
            for connection, transaction in opened.values():
                if commit and transaction.is_active:
                    transaction.commit()
        finally:
            for connection, transaction in opened.values():
                if transaction.is_active:
                    transaction.rollback()
                connection.close()


@contextmanager
def events_stored_together() -> Iterator[None]:
    """Events this thread stores in the block share one connection and transaction per SQLite file of the
    local event log (committed every :data:`EVENTS_PER_TRANSACTION` connections asked for and at the end;
    nothing of a block that raises is kept). Other storages and other threads are untouched."""
    if getattr(_shared, "connections", None) is not None:  # nested: the outer block commits
        yield
        return
    _shared.connections = _SharedConnections()
    committed = False
    try:
        yield
        committed = True
    except GeneratorExit:  # a generator closed after reporting: what it stored is true
        committed = True
        raise
    finally:
        connections, _shared.connections = _shared.connections, None
        connections.finish(commit=committed)


def _connect_sharing(connect, create_engine):
    """SqliteEventLogStorage._connect that hands out the shared connection inside events_stored_together."""

    @contextmanager
    def shared_or_own(self, shard: str):
        connections = getattr(_shared, "connections", None)
        if connections is None:
            with connect(self, shard) as connection:
                yield connection
            return
        if connections.uses >= EVENTS_PER_TRANSACTION * 2:  # about two connections per event
            connections.finish(commit=True)
        yield connections.connection(self, shard, create_engine)

    shared_or_own.shares_connections = True
    return shared_or_own


def _store_batch_together(self, events) -> None:
    with events_stored_together():
        for stored in events:
            self.store_event(stored)


def _remember_yes(check):
    """A schema check of a SQLite event log remembered per folder and name once it says yes."""
    seen: set[tuple[str, str]] = set()

    @functools.wraps(check)
    def remembered(self, *args):
        key = (self._base_dir, args[-1])  # the table or column name (a connection argument is not part of it)
        if key in seen:
            return True
        answer = check(self, *args)
        if answer:
            seen.add(key)
        return answer

    remembered.remembers = True
    return remembered


def _share_connections_of_sqlite_event_log() -> None:
    from dagster._core.storage.event_log.sqlite import sqlite_event_log

    storage = sqlite_event_log.SqliteEventLogStorage
    if getattr(storage._connect, "shares_connections", False):
        return
    storage._connect = _connect_sharing(storage._connect, lambda *a, **k: sqlite_event_log.create_engine(*a, **k))
    storage.store_event_batch = _store_batch_together
    storage.has_table = _remember_yes(storage.has_table)
    storage._has_asset_key_col_on_connection = _remember_yes(storage._has_asset_key_col_on_connection)


def speed_up_local_instance() -> None:
    """Install the connection hook, the engine reuse and the shared connections once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Pool, "connect", _on_connect)
        _installed = True
    os.environ.setdefault(BATCH_SIZE_VARIABLE, str(EVENTS_PER_TRANSACTION))
    _keep_engines_of_sqlite_storages()
    _share_connections_of_sqlite_event_log()
