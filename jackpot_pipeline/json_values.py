"""Plain JSON values: the one conversion behind every JSON the project writes.

Exports, the REST API, Dagster metadata, the model registry, explanations, the run summary and the
Postgres ``json``/``jsonb`` columns all go through :func:`to_jsonable`, so a value reads the same
wherever it is published. :func:`canonical_json` is the registry's text of a value (hashed into
model versions), and :func:`optional_number` the float-or-``None`` of a single metric.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["canonical_json", "optional_number", "to_jsonable"]


def to_jsonable(value: Any, *, default: Callable[[Any], Any] | None = None) -> Any:
    """``value`` as plain JSON types, recursively.

    - NaN and ±inf become ``None`` (JSON has no such numbers), and so do ``pd.NA`` and ``NaT``;
    - numpy scalars and arrays become Python numbers, booleans and lists;
    - dates, datetimes and times (pandas, numpy or ``datetime``) become ISO 8601 text, paths text;
    - mappings become dicts with text keys, tuples lists, sets lists in a fixed order;
    - a DataFrame becomes its list of records, a Series its list, and an object with a ``to_dict()``
      method, or a dataclass instance, its dict.

    Any other type is passed to ``default`` (``str``, say, where a reader must always get an
    answer) and, without one, is a ``TypeError`` rather than a silent ``str()``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        return to_jsonable(pd.Timestamp(value), default=default)
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return [to_jsonable(item, default=default) for item in value.tolist()]
    if isinstance(value, Mapping):
        # JSON keys are text; converting here (1 -> "1") lets sort_keys order mixed keys.
        return {str(to_jsonable(key, default=default)): to_jsonable(item, default=default)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, default=default) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(item, default=default) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(record, default=default) for record in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_jsonable(value.tolist(), default=default)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict(), default=default)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), default=default)
    if default is not None:
        return to_jsonable(default(value))
    raise TypeError(f"cannot write a {type(value).__name__} as JSON: {value!r}")


def canonical_json(value: Any) -> str:
    """The one text of ``value`` (keys sorted, no spaces) that the model registry stores and hashes."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def optional_number(value: Any) -> float | None:
    """A metric as a float, or ``None`` when it is missing (None, NaN, NA, NaT) or not finite."""
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
