"""Jackpot exports: ``<folder>/<jackpot_id>.json`` and ``<folder>/<jackpot_id>.csv``.

Both files are written atomically (temp file beside the target, fsync, rename; see
:func:`jackpot_pipeline.sources.fetch.write_atomically`), so a reader sees the previous or the
new version of each file, never half of one. The two files are replaced one after the other
(CSV first, then JSON), not as a pair.

The JSON is deterministic: keys sorted, two-space indent, UTF-8, trailing newline, and values
converted by :func:`jackpot_pipeline.json_values.to_jsonable` -- NaN and ±inf become ``null``
(JSON has no such numbers), numpy scalars and arrays become numbers and lists, dates and datetimes
ISO 8601 strings, paths strings, objects with a ``to_dict()`` method their dict. Any other type is a
``TypeError`` rather than a silent ``str()``. The CSV is ``DataFrame.to_csv`` without the index, ``\\n``
line endings and empty cells for missing values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from jackpot_pipeline.jackpots.cards import check_jackpot_id
from jackpot_pipeline.json_values import to_jsonable
from jackpot_pipeline.sources.fetch import write_atomically

__all__ = ["ExportPaths", "export_paths", "to_json_bytes", "write_exports"]


@dataclass(frozen=True)
class ExportPaths:
    json: Path
    csv: Path


def export_paths(folder: str | Path, jackpot_id: str) -> ExportPaths:
    """Where :func:`write_exports` writes; the id is checked so it cannot leave ``folder``."""
    check_jackpot_id(jackpot_id)
    root = Path(folder)
    return ExportPaths(root / f"{jackpot_id}.json", root / f"{jackpot_id}.csv")


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
