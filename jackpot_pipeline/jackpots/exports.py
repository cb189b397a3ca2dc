"""Jackpot exports: ``<folder>/<jackpot_id>.json`` and ``<folder>/<jackpot_id>.csv``.

Both files are written atomically (temp file beside the target, fsync, rename; see
:func:`jackpot_pipeline.sources.fetch.write_atomically`), so a reader sees the previous or the
new version of each file, never half of one. The two files are replaced one after the other
(CSV first, then JSON), not as a pair.

The JSON is deterministic: keys sorted, two-space indent, UTF-8, trailing newline, and values
converted by :func:`to_jsonable` -- NaN and ±inf become ``null`` (JSON has no such numbers),
numpy scalars and arrays become numbers and lists, dates and datetimes ISO 8601 strings, paths
strings, objects with a ``to_dict()`` method their dict. Any other type is a ``TypeError``
rather than a silent ``str()``. The CSV is ``DataFrame.to_csv`` without the index, ``\\n``
line endings and empty cells for missing values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jackpot_pipeline.jackpots.cards import check_jackpot_id
from jackpot_pipeline.sources.fetch import write_atomically

__all__ = ["ExportPaths", "export_paths", "to_json_bytes", "to_jsonable", "write_exports"]


@dataclass(frozen=True)
class ExportPaths:
    json: Path
    csv: Path


def export_paths(folder: str | Path, jackpot_id: str) -> ExportPaths:
    """Where :func:`write_exports` writes; the id is checked so it cannot leave ``folder``."""
    check_jackpot_id(jackpot_id)
    root = Path(folder)
    return ExportPaths(root / f"{jackpot_id}.json", root / f"{jackpot_id}.csv")


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (see the module docstring for the conversions)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, Mapping):
        # JSON keys are strings; converting here (1 -> "1") lets sort_keys order mixed keys.
        return {str(to_jsonable(key)): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(record) for record in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_jsonable(value.tolist())
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    raise TypeError(f"cannot export a {type(value).__name__} as JSON: {value!r}")


def to_json_bytes(payload: Mapping[str, Any]) -> bytes:
    """The deterministic JSON text of ``payload`` (same payload, same bytes)."""
    text = json.dumps(to_jsonable(payload), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def _csv_bytes(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


def write_exports(
    folder: str | Path, jackpot_id: str, payload: Mapping[str, Any], table: pd.DataFrame
) -> ExportPaths:
    """Write ``payload`` as ``<jackpot_id>.json`` and ``table`` as ``<jackpot_id>.csv`` in ``folder``."""
    paths = export_paths(folder, jackpot_id)
    # Serialise both before writing either, so a payload that cannot be exported leaves the
    # previous pair untouched.
    json_bytes, csv_bytes = to_json_bytes(payload), _csv_bytes(table)
    write_atomically(paths.csv, csv_bytes)
    write_atomically(paths.json, json_bytes)
    return paths
