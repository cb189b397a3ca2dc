"""What a new version of a source file changed in its partition's canonical matches."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Provenance columns move when the publisher inserts a row above a match; they are not the match.
_PROVENANCE = {"source_path", "source_sha256", "source_row"}


@dataclass(frozen=True)
class MatchDiff:
    inserted: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: int

    def as_dict(self) -> dict[str, object]:
        return {"inserted": self.inserted, "updated": self.updated, "removed": self.removed}


def diff_matches(previous: pd.DataFrame | None, current: pd.DataFrame) -> MatchDiff:
    """Compare two versions of a partition's canonical matches by ``match_id``."""
    if previous is None or previous.empty:
        return MatchDiff(sorted(current["match_id"]), [], [], 0)
    compared = [c for c in current.columns if c not in _PROVENANCE and c in previous.columns]
    before = _normalised(previous[compared]).set_index("match_id")
    after = _normalised(current[compared]).set_index("match_id")
    inserted = sorted(after.index.difference(before.index))
    removed = sorted(before.index.difference(after.index))
    common = after.index.intersection(before.index)
    left, right = before.loc[common, after.columns], after.loc[common]
    same = (left.eq(right) | (left.isna() & right.isna())).all(axis=1)
    updated = sorted(same.index[~same])
    return MatchDiff(inserted, updated, removed, int(same.sum()))


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Make a frame read back from DuckDB comparable with a freshly parsed one (dtypes differ)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if column == "match_date":
            out[column] = pd.to_datetime(series).dt.normalize()
        elif pd.api.types.is_numeric_dtype(series):
            out[column] = pd.to_numeric(series).astype("float64")
        else:
            out[column] = series.astype("object").where(series.notna(), None)
    return out
