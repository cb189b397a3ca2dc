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
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.pool import Pool

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


def speed_up_local_instance() -> None:
    """Install the connection hook once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Pool, "connect", _on_connect)
        _installed = True
