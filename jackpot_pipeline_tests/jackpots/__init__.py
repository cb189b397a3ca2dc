"""Tests of the jackpot core, plus a reader of the real shared files for them.

The real files are read in place (never copied) and parsed by the project's own ingestion code,
so the canonical team names and matches are exactly what the warehouse would hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows

# Any date after every shared season, so every row with a result counts as played.
_SNAPSHOT = dt.date(2025, 1, 1)


def shared_relpaths(shared_data: Path) -> list[str]:
    """Every season file and ``new/`` file of the shared folder (relative paths, sorted)."""
    paths = sorted((shared_data / "mmz4281").glob("*/*.csv")) + sorted((shared_data / "new").glob("*.csv"))
    return [path.relative_to(shared_data).as_posix() for path in paths]


def read_canonical_matches(shared_data: Path, relpaths: Iterable[str]) -> pd.DataFrame:
    """``canonical_matches`` rows of the given shared files, through parse -> partition -> canonicalise."""
    frames: list[pd.DataFrame] = []
    for relpath in relpaths:
        parsed = parse_source((shared_data / relpath).read_bytes(), relpath)
        parts = Path(relpath).parts
        league = Path(relpath).stem
        season = parts[1] if parts[0] == "mmz4281" else None
        for partition in partition_rows(parsed, league, season).values():
            frames.append(canonicalise(parsed, partition, snapshot_date=_SNAPSHOT).canonical)
    return pd.concat(frames, ignore_index=True)
