"""The warehouse: one folder of Parquet files per table below a root folder.

Writers replace whole files atomically (write a hidden temporary file beside the target, then rename),
so any number of processes may write different partitions at once and a reader never sees a half-written
file: it sees the previous version or the new one. Readers query the files through an in-memory DuckDB
connection with one view per table, so reading takes no lock that a writer could be waiting for.

The root is a local folder, or any fsspec URL (``s3://bucket/warehouse``, ``memory://...``) through
universal-pathlib, so workers on several machines can share one warehouse: a file is written locally,
then uploaded whole (an object store makes it visible at once, complete), and DuckDB reads the URLs through
the same filesystem.

``data/warehouse.duckdb`` (see :func:`write_catalog`) holds the same views for people who query the
warehouse with DuckDB directly; it stores no rows.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from jackpot_pipeline.warehouse.tables import TABLES, Table, table

SCHEMA_FILE = "_schema.parquet"
WHOLE_TABLE_FILE = "all"
_TEMPORARY_MARK = ".tmp-"


class WarehouseError(RuntimeError):
    """A frame that does not fit its table, or a partition name the table's layout does not take."""


class AlreadyFinalised(WarehouseError):
    """A write-once file exists already."""


@dataclass(frozen=True)
class StoredFile:
    table: str
    partition: str | None
    path: Path
    rows: int


def partition_file_stem(partition: str) -> str:
    """``E0|2324`` -> ``E0-2324`` (league codes hold no ``-``); a jackpot id stays as it is."""
    return partition.replace("|", "-", 1)


def partition_from_stem(layout: str, stem: str) -> str:
    return stem.replace("-", "|", 1) if layout == "league_season" else stem


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def content_digest(frame: pd.DataFrame) -> str:
    """sha256 of a frame's row count, column names, dtypes and values in column and row order: equal frames,
    equal digest. Numbers and dates go in as their raw bits, text as length-prefixed strings, other types
    through pandas' per-row hashes: several times faster than writing the frame out as text, which every
    stored partition paid for its data version."""
    digest = hashlib.sha256(f"{len(frame)}\x1e".encode())
    for name in frame.columns:
        column = frame[name]
        digest.update(f"{name}\x1f{column.dtype}\x1e".encode("utf-8", "surrogatepass"))
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM":  # fixed-width: the raw bits
            values = column.to_numpy()
            if values.dtype.kind == "f":  # one NaN: missing values from different sources carry different bits
                values = np.where(np.isnan(values), np.nan, values)
            digest.update(np.ascontiguousarray(values).tobytes())
        elif column.dtype == object:  # text; anything else (None, NaN, dates) marked so it never equals a string
            digest.update("".join(f"{len(value)}:{value}" if isinstance(value, str) else f"\x00{value!r}\x00"
                                  for value in column.to_numpy()).encode("utf-8", "surrogatepass"))
        else:
            digest.update(pd.util.hash_pandas_object(column, index=False, categorize=False).to_numpy().tobytes())
    return digest.hexdigest()


def as_root(root: str | os.PathLike[str]) -> Path | UPath:
    """A local folder as a ``Path`` (``file://`` URLs included), anything else as a ``UPath``."""
    text = os.fspath(root)
    if "://" in text and not text.startswith("file://"):
        return UPath(text)
    return Path(text.removeprefix("file://"))


class Warehouse:
    """The Parquet tables below ``root`` (created on first write): a folder or an fsspec URL."""

    def __init__(self, root: str | os.PathLike[str], tables: dict[str, Table] = TABLES):
        self.root = as_root(root)
        self.remote = not isinstance(self.root, Path)
        self.tables = tables
        # views of this warehouse live in their own schema of the thread's in-memory database
        self._schema = "w_" + hashlib.sha256(self._location(self.root).encode()).hexdigest()[:16]

    def _location(self, path) -> str:
        """How DuckDB names a file or glob of this warehouse."""
        return str(path) if self.remote else str(Path(path).resolve())

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        database, _ = _database()
        if self.remote:
            _register_filesystem(database, self.root.fs)
        return database.cursor()

    # -- paths -------------------------------------------------------------------------------------

    def folder(self, name: str) -> Path:
        return self.root / self._table(name).name

    def path(self, name: str, partition: str | None = None) -> Path:
        spec = self._table(name)
        if spec.layout == "whole":
            if partition is not None:
                raise WarehouseError(f"table {name} is stored whole; it takes no partition ({partition!r} given)")
            return self.folder(name) / f"{WHOLE_TABLE_FILE}.parquet"
        if partition is None:
            raise WarehouseError(f"table {name} is stored per {spec.layout.replace('_', ' ')}; name the partition")
        if spec.layout == "league_season" and partition.count("|") != 1:
            raise WarehouseError(f"table {name}: partition {partition!r} is not a '<league>|<season>' key")
        stem = partition_file_stem(partition)
        if not stem or "/" in stem or stem.startswith("."):
            raise WarehouseError(f"table {name}: {partition!r} cannot name a file")
        return self.folder(name) / f"{stem}.parquet"

    def _table(self, name: str) -> Table:
        if name not in self.tables:
            return table(name)  # raises with the known names
        return self.tables[name]

    # -- writing -----------------------------------------------------------------------------------

    def write(self, name: str, frame: pd.DataFrame, partition: str | None = None) -> StoredFile:
        """Replace the partition's file (or the whole table's) with ``frame``."""
        target = self.path(name, partition)
        self._write_file(self._table(name), frame, target, exclusive=False)
        return StoredFile(name, partition, target, len(frame))

    def write_once(self, name: str, frame: pd.DataFrame, partition: str) -> StoredFile:
        """Create the partition's file; :class:`AlreadyFinalised` when it exists (it is never replaced)."""
        target = self.path(name, partition)
        self._write_file(self._table(name), frame, target, exclusive=True)
        return StoredFile(name, partition, target, len(frame))

    def append(self, name: str, frame: pd.DataFrame) -> StoredFile | None:
        """Add ``frame`` to an append-only table as a new file named by its content; appending the same rows
        twice stores them once. Returns None for an empty frame."""
        spec = self._table(name)
        if spec.layout != "append":
            raise WarehouseError(f"table {name} is not append-only (layout {spec.layout})")
        if frame.empty:
            return None
        conformed = self._conform(spec, frame, None)
        target = self.folder(name) / f"{content_digest(conformed)[:32]}.parquet"
        if not target.exists():
            try:
                self._write_file(spec, conformed, target, exclusive=True)
            except AlreadyFinalised:
                pass  # another writer stored the same rows a moment ago
        return StoredFile(name, None, target, len(frame))

    def remove(self, name: str, partition: str | None = None) -> bool:
        target = self.path(name, partition)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        return True

    def ensure_schema_files(self, names: Sequence[str] | None = None) -> None:
        """An empty file with each table's columns, so a view over the folder always has a file to read."""
        for name in names or list(self.tables):
            spec = self._table(name)
            target = self.folder(name) / SCHEMA_FILE
            if not target.exists():
                self._write_file(spec, pd.DataFrame({c: pd.Series(dtype="object") for c in spec.column_names}), target,
                                 exclusive=False)

    def remove_stale_temporaries(self, older_than_seconds: float = 3600.0) -> int:
        """Delete temporary files a killed writer left behind (they are never read). Remote roots get none:
        their files are uploaded whole."""
        if self.remote or not self.root.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than_seconds
        for path in self.root.glob(f"*/.*{_TEMPORARY_MARK}*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _conform(self, spec: Table, frame: pd.DataFrame, partition: str | None) -> pd.DataFrame:
        where = f"table {spec.name}" + (f", partition {partition}" if partition else "")
        names = spec.column_names
        if list(frame.columns) != names:
            missing = [c for c in names if c not in frame.columns]
            extra = [c for c in frame.columns if c not in names]
            if missing or extra:
                raise WarehouseError(
                    f"{where}: the frame does not match the table's columns"
                    + (f"; missing: {', '.join(missing)}" if missing else "")
                    + (f"; not in the table: {', '.join(map(str, extra))}" if extra else "")
                )
            frame = frame[names]
        required = sorted(spec.not_null)
        if required and len(frame):
            # one pass over the required columns (each column alone costs a Series per column and write)
            counts = frame[required].isna().to_numpy().sum(axis=0)
            for column, nulls in zip(required, counts, strict=True):
                if nulls:
                    raise WarehouseError(f"{where}: column {column} must not be empty, but {int(nulls)} row(s) are")
        return frame

    def _write_file(self, spec: Table, frame: pd.DataFrame, target, *, exclusive: bool) -> None:
        partition = None if target.name in (SCHEMA_FILE,) else target.stem
        conformed = frame if target.name == SCHEMA_FILE else self._conform(spec, frame, partition)
        if not self.remote:
            target.parent.mkdir(parents=True, exist_ok=True)
        if target.name != SCHEMA_FILE and not (target.parent / SCHEMA_FILE).exists():
            self.ensure_schema_files([spec.name])
        # locally the temporary file sits beside the target, so the rename is atomic
        folder = tempfile.gettempdir() if self.remote else str(target.parent)
        temporary = Path(folder) / f".{target.stem}{_TEMPORARY_MARK}{uuid.uuid4().hex}"
        select = ", ".join(f"CAST({_quote(c)} AS {kind}) AS {_quote(c)}" for c, kind in spec.columns)
        try:
            # DuckDB finds the frame by its variable name (a replacement scan): the same pandas scan as
            # register(), without creating and dropping a view per file, which cost as much as the copy
            # of a small frame
            warehouse_frame_to_write = conformed  # noqa: F841 - named in the SQL below
            with _database()[0].cursor() as connection:
                connection.execute(
                    f"COPY (SELECT {select} FROM warehouse_frame_to_write) TO {_literal(str(temporary))} "
                    "(FORMAT PARQUET, COMPRESSION ZSTD)"
                )
            if self.remote:
                if exclusive and target.exists():
                    raise AlreadyFinalised(f"table {spec.name}: {target.name} exists and is never replaced")
                target.fs.put_file(str(temporary), target.path)
                return
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            if exclusive:
                try:
                    os.link(temporary, target)  # fails when the target exists: first writer wins
                except FileExistsError:
                    raise AlreadyFinalised(f"table {spec.name}: {target.name} exists and is never replaced") from None
            else:
                os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------------------------------

    def exists(self, name: str, partition: str | None = None) -> bool:
        spec = self._table(name)
        if spec.layout == "append" or (partition is None and spec.layout != "whole"):
            return self.folder(name).is_dir() and any(self._data_files(name))
        return self.path(name, partition).is_file()

    def partitions(self, name: str) -> list[str]:
        """Partitions with a file, in file-name order."""
        spec = self._table(name)
        if spec.layout not in ("league_season", "jackpot"):
            raise WarehouseError(f"table {name} has no partitions (layout {spec.layout})")
        return [partition_from_stem(spec.layout, path.stem) for path in self._data_files(name)]

    def _data_files(self, name: str) -> Iterator[Path]:
        folder = self.folder(name)
        if not folder.is_dir():
            return iter(())
        return iter(sorted(p for p in folder.glob("*.parquet") if p.name != SCHEMA_FILE))

    def read(self, name: str, partition: str | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame | None:
        """One partition's rows (or a whole table's), or None when that file does not exist."""
        target = self.path(name, partition)
        if not target.is_file():
            return None
        if not self.remote and (frame := _read_local_parquet(target, columns)) is not None:
            return frame
        listed = ", ".join(_quote(c) for c in columns) if columns else "*"
        with self._cursor() as connection:
            return connection.execute(f"SELECT {listed} FROM read_parquet({_literal(self._location(target))})").df()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB cursor with one view per table over its files (empty tables included). Read-only in
        spirit: the views read the files at query time, so every query sees the files as they are then."""
        database, views = _database()
        if self.remote:
            _register_filesystem(database, self.root.fs)
        database.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
        for name, spec in self.tables.items():
            view = self._view_sql(spec)
            if views.get((self._schema, name)) != view:
                database.execute(f"CREATE OR REPLACE VIEW {self._schema}.{_quote(name)} AS {view}")
                views[(self._schema, name)] = view
        cursor = database.cursor()
        try:
            cursor.execute(f"SET schema = '{self._schema}'")
            yield cursor
        finally:
            cursor.close()

    def query(self, sql: str, parameters: Sequence[object] = ()) -> pd.DataFrame:
        with self.connect() as connection:
            return connection.execute(sql, list(parameters)).df()

    def _view_sql(self, spec: Table) -> str:
        folder = self.folder(spec.name)
        if (folder / SCHEMA_FILE).is_file() or any(self._data_files(spec.name)):
            return f"SELECT * FROM read_parquet({_literal(self._location(folder / '*.parquet'))}, union_by_name = true)"
        columns = ", ".join(f"CAST(NULL AS {kind}) AS {_quote(c)}" for c, kind in spec.columns)
        return f"SELECT {columns} WHERE false"


def _read_local_parquet(path: Path, columns: Sequence[str] | None) -> pd.DataFrame | None:
    """A local file as DuckDB's ``.df()`` gives it, read by pyarrow directly: half the time of a DuckDB
    query for the small files of one partition, which the modelling stages read thousands of times.

    DuckDB gives dates as ``datetime64[us]`` and an INTEGER column with gaps as pandas' ``Int32`` (pyarrow:
    float64); those are converted. None where the two differ in ways not handled here (a file with no rows,
    a boolean column or another integer width with gaps), for the caller to ask DuckDB. The tests compare
    with DuckDB's frame (values and dtypes) on real canonical partitions and on an empty file."""
    data = pq.read_table(path, columns=list(columns) if columns else None)
    if data.num_rows == 0:
        return None
    conversions: dict[str, str] = {}
    for field, column in zip(data.schema, data.columns):
        if pa.types.is_date32(field.type):
            conversions[field.name] = "datetime64[us]"
        elif column.null_count and pa.types.is_boolean(field.type):
            return None
        elif column.null_count and pa.types.is_integer(field.type):
            if not pa.types.is_int32(field.type):
                return None
            conversions[field.name] = "Int32"
    frame = data.to_pandas(date_as_object=False)
    return frame.astype(conversions) if conversions else frame


_local = threading.local()


def _database() -> tuple[duckdb.DuckDBPyConnection, dict[tuple[str, str], str]]:
    """This thread's in-memory DuckDB database (opening one costs ~15 ms; cursors on it are cheap) and the
    views created in it so far."""
    state = getattr(_local, "state", None)
    if state is None or state[2] != os.getpid():
        state = (duckdb.connect(), {}, os.getpid())
        _local.state = state
    return state[0], state[1]


def release_thread_database() -> None:
    """Close this thread's in-memory DuckDB database, if it has one (the next query opens a fresh one).

    For worker threads of a server: a database left behind by a thread that has finished is destroyed only when
    the process exits, and DuckDB aborts the process if that happens during interpreter shutdown.
    """
    state = getattr(_local, "state", None)
    if state is not None:
        _local.state = None
        state[0].close()


def _register_filesystem(database: duckdb.DuckDBPyConnection, filesystem) -> None:
    """Let DuckDB read this fsspec filesystem's URLs (once per database and protocol)."""
    protocols = filesystem.protocol if isinstance(filesystem.protocol, tuple) else (filesystem.protocol,)
    registered = set(database.list_filesystems())
    if not any(protocol in name for protocol in protocols for name in registered):
        database.register_filesystem(filesystem)


def write_catalog(warehouse: Warehouse, path: str | os.PathLike[str]) -> Path:
    """A DuckDB file at ``path`` holding one view per table over the warehouse's files (absolute paths).

    Rebuilt by renaming a fresh file over the old one, so a person holding the old file open keeps a
    working copy. Views read the files at query time: the catalogue never goes stale as partitions change.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    warehouse.ensure_schema_files()
    temporary = target.parent / f".{target.name}{_TEMPORARY_MARK}{uuid.uuid4().hex}"
    try:
        with duckdb.connect(str(temporary)) as connection:
            for name, spec in warehouse.tables.items():
                connection.execute(f"CREATE VIEW {_quote(name)} AS {warehouse._view_sql(spec)}")  # noqa: SLF001
            connection.execute("CREATE TABLE warehouse_info AS SELECT ? AS root, ? AS tables",
                               [warehouse._location(warehouse.root), ",".join(sorted(warehouse.tables))])  # noqa: SLF001
        os.replace(temporary, target)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def catalog_is_current(warehouse: Warehouse, path: str | os.PathLike[str]) -> bool:
    """Whether the catalogue at ``path`` points at this warehouse's root and has a view of every table."""
    target = Path(path)
    if not target.is_file():
        return False
    try:
        with duckdb.connect(str(target), read_only=True) as connection:
            root, tables = connection.execute("SELECT root, tables FROM warehouse_info").fetchone()
    except (duckdb.Error, TypeError):
        return False
    return root == warehouse._location(warehouse.root) and tables == ",".join(sorted(warehouse.tables))  # noqa: SLF001
