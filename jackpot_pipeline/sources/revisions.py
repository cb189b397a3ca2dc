"""What a new version of a source file changed in its partition's canonical matches, and what
happens to the matches a revision removes.

Policy: a match is never deleted because the publisher's file no longer has it.

* ``canonical_matches`` mirrors the current file (its checks count the file's lines), so a match
  that disappears from a revised file leaves it; the match's last canonical row moves to
  ``withdrawn_matches`` with when it was withdrawn, the sha256 of the source version that no longer
  has it and why (``removed_from_source``). The ingestion log names its ``match_id`` as removed.
* A partition whose source no longer holds it at all (a ``new/`` file that dropped a season, a
  partition dropped from the warehouse by hand) is withdrawn as a whole the same way, as
  ``partition_dropped``.
* A withdrawn match that reappears (same fixture: the ``match_id`` is keyed on it) is canonical
  again and leaves ``withdrawn_matches``; the log names it as inserted.
* PostgreSQL does the same in place: ``jackpot.matches`` keeps the row, marked with the same three
  columns (migration 0005), and refuses DELETE; a partition missing from the local warehouse is
  never deleted by publishing, only reported (and withdrawn on request).
* Derived rows follow their inputs: a refit replaces a partition's strength snapshots and match
  predictions with those of the current matches, in DuckDB and PostgreSQL alike, so a withdrawn
  match gets no new prediction. Jackpot cards and their predictions are locked and never touched:
  a jackpot fixture that was resolved to a withdrawn match keeps referring to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from jackpot_pipeline.sources.football_data import CANONICAL_COLUMNS

# Provenance columns move when the publisher inserts a row above a match; they are not the match.
_PROVENANCE = {"source_path", "source_sha256", "source_row"}

REMOVED_FROM_SOURCE = "removed_from_source"
PARTITION_DROPPED = "partition_dropped"
WITHDRAWAL_REASONS = {
    REMOVED_FROM_SOURCE: "a revised version of the source file no longer has the match",
    PARTITION_DROPPED: "the source no longer holds the partition, or it was dropped from the warehouse",
}
WITHDRAWAL_COLUMNS = ["withdrawn_at", "withdrawn_by_sha256", "withdrawn_reason"]
WITHDRAWN_COLUMNS = CANONICAL_COLUMNS + WITHDRAWAL_COLUMNS


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


def withdrawn_matches(
    previous_canonical: pd.DataFrame | None,
    current_canonical: pd.DataFrame,
    previous_withdrawn: pd.DataFrame | None,
    *,
    source_sha256: str | None,
    at: dt.datetime,
    reason: str = REMOVED_FROM_SOURCE,
) -> pd.DataFrame:
    """A partition's withdrawn matches after a new version of its source (``WITHDRAWN_COLUMNS``).

    The matches withdrawn before and still absent, plus every match of ``previous_canonical`` that
    ``current_canonical`` lacks, with its last canonical row, ``at`` (naive UTC), the sha256 of the
    version that lacks it and ``reason``. Matches present again are no longer withdrawn.
    """
    if reason not in WITHDRAWAL_REASONS:
        raise ValueError(f"unknown withdrawal reason {reason!r}; known: {', '.join(WITHDRAWAL_REASONS)}")
    if (previous_canonical is None or previous_canonical.empty) and (previous_withdrawn is None or previous_withdrawn.empty):
        return _withdrawn_frame(None)  # nothing was stored, so nothing can be withdrawn (a first ingest)
    present = set(current_canonical["match_id"])
    kept = _withdrawn_frame(previous_withdrawn)
    kept = kept[~kept["match_id"].isin(present)]
    newly = pd.DataFrame(columns=WITHDRAWN_COLUMNS)
    if previous_canonical is not None and not previous_canonical.empty:
        gone = previous_canonical[~previous_canonical["match_id"].isin(present | set(kept["match_id"]))]
        newly = gone.reindex(columns=CANONICAL_COLUMNS).assign(
            withdrawn_at=pd.Timestamp(at.replace(tzinfo=None)), withdrawn_by_sha256=source_sha256, withdrawn_reason=reason
        )
    frames = [frame for frame in (kept, newly) if not frame.empty]
    if not frames:
        return _withdrawn_frame(None)
    result = pd.concat(frames, ignore_index=True)[WITHDRAWN_COLUMNS]
    return result.sort_values(["withdrawn_at", "match_id"], kind="stable").reset_index(drop=True)


def withdraw_partition(
    previous_canonical: pd.DataFrame | None,
    previous_withdrawn: pd.DataFrame | None,
    *,
    at: dt.datetime,
    source_sha256: str | None = None,
) -> pd.DataFrame:
    """Every match of a partition withdrawn (``partition_dropped``): what the warehouse keeps of a
    partition its source no longer holds."""
    columns = previous_canonical.columns if previous_canonical is not None else CANONICAL_COLUMNS
    nothing = pd.DataFrame(columns=columns)
    return withdrawn_matches(
        previous_canonical, nothing, previous_withdrawn, source_sha256=source_sha256, at=at, reason=PARTITION_DROPPED
    )


def _withdrawn_frame(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in WITHDRAWN_COLUMNS})
    return frame.reindex(columns=WITHDRAWN_COLUMNS)


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
