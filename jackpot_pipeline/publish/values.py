"""Values as the ``jackpot`` schema stores them, from what pandas and DuckDB hand over (NaN, NaT, numpy
scalars, naive UTC timestamps, JSON text), converted by the target column's type from the catalog."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from jackpot_pipeline.json_values import to_jsonable
from jackpot_pipeline.publish import SCHEMA, PublishError

_INTEGER_TYPES = {"smallint", "integer", "bigint"}
_FLOAT_TYPES = {"double precision", "real", "numeric"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type of the base type: 'integer', 'double precision', 'date', 'text[]', 'jsonb'...
    nullable: bool


def table_columns(connection: psycopg.Connection, table: str) -> dict[str, Column]:
    rows = connection.execute(
        """
        SELECT a.attname,
               format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid), NULL),
               NOT a.attnotnull
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        [SCHEMA, table],
    ).fetchall()
    if not rows:
        raise PublishError(f"table {SCHEMA}.{table} does not exist: run the migrations first")
    return {name: Column(name, kind, nullable) for name, kind, nullable in rows}


def primary_key(connection: psycopg.Connection, table: str) -> list[str]:
    rows = connection.execute(
        """
        SELECT a.attname
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND i.indisprimary
        ORDER BY array_position(i.indkey, a.attnum)
        """,
        [SCHEMA, table],
    ).fetchall()
    return [name for (name,) in rows]


def copy_rows(frame: pd.DataFrame, columns: Sequence[Column]) -> Iterator[tuple[object, ...]]:
    """The frame's rows with each value converted for its column (COPY data)."""
    converters = [_converter(column) for column in columns]
    for values in frame.itertuples(index=False, name=None):
        yield tuple(convert(value) for convert, value in zip(converters, values, strict=True))


def is_missing(value: object) -> bool:
    """None, NA, NaT or NaN (a scalar; containers are never missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, np.datetime64) and np.isnat(value)


def _converter(column: Column) -> Callable[[object], object]:
    kind = column.type

    def convert_value(value: object) -> object:
        if not isinstance(value, list | tuple | np.ndarray | dict) and is_missing(value):
            return None
        try:
            return convert(kind, value)
        except (TypeError, ValueError) as error:
            raise PublishError(f"column {column.name} ({kind}): cannot store {value!r}: {error}") from None

    return convert_value


def convert(kind: str, value: Any) -> object:
    """``value`` (not missing) as a value of the PostgreSQL type ``kind``; ValueError when it is not one."""
    if kind in _INTEGER_TYPES:
        if isinstance(value, float | np.floating) and not float(value).is_integer():
            raise ValueError("not a whole number")
        if isinstance(value, bool | np.bool_):
            raise ValueError("a boolean is not an integer")
        return int(value)
    if kind in _FLOAT_TYPES:
        return float(value)
    if kind == "boolean":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise ValueError("not a boolean")
    if kind == "date":
        if isinstance(value, pd.Timestamp | dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value))
    if kind.startswith("timestamp"):
        stamp = pd.Timestamp(value)
        if kind == "timestamp with time zone" and stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")  # the warehouse keeps UTC without a zone
        return stamp.to_pydatetime()
    if kind in ("jsonb", "json"):
        if isinstance(value, str):
            json.loads(value)  # fail here, naming the column, rather than in COPY
            return value
        return json.dumps(to_jsonable(value), sort_keys=True, allow_nan=False)
    if kind.endswith("[]"):
        if isinstance(value, str):
            raise ValueError("give a list, not a string, for an array column")
        return [None if is_missing(v) else str(v) if kind == "text[]" else _python_scalar(v) for v in value]
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"{type(value).__name__} is not text")
        return value
    return value


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def split_flags(value: object) -> list[str]:
    """DuckDB's comma-separated flags text as the ``text[]`` the schema uses ('' or NULL: no flags)."""
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value if not is_missing(v) and str(v)]
    if is_missing(value):
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]
