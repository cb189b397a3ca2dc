"""Splitting a file's rows into league x season partitions."""

from __future__ import annotations

from dataclasses import dataclass, field

from jackpot_pipeline.sources.football_data.reading import (
    MAIN_FORMAT,
    ParsedSource,
    SourceFormatError,
    SourceRow,
)
from jackpot_pipeline.sources.leagues import ALL_LEAGUES, SeasonError, is_extra_league, season_key_from_label


@dataclass
class PartitionRows:
    """The rows of one source file that belong to one league × season partition."""

    league: str
    season: str
    rows: list[SourceRow] = field(default_factory=list)


def partition_rows(parsed: ParsedSource, league: str, season: str | None = None) -> dict[str, PartitionRows]:
    """Split a file's rows by season key.

    A main-league file is one season (``season`` from its path). A ``new/`` file holds many seasons,
    keyed by its ``Season`` column; a row whose season cannot be read goes with the preceding row so
    it is quarantined (``bad_season``) rather than lost; padding lines also follow the preceding row.
    """
    if league not in ALL_LEAGUES:
        raise ValueError(f"unknown league {league!r}")
    if parsed.format == MAIN_FORMAT:
        if is_extra_league(league) or season is None:
            raise SourceFormatError(
                parsed.decoded.relpath, f"a one-season file needs a main league and season, got {league}"
            )
        return {season: PartitionRows(league, season, list(parsed.rows))}
    if not is_extra_league(league):
        raise SourceFormatError(
            parsed.decoded.relpath, f"multi-season 'new/' format found for main league {league}"
        )
    season_column = parsed.header.index("Season")
    partitions: dict[str, PartitionRows] = {}
    current: str | None = None
    pending: list[SourceRow] = []
    for row in parsed.rows:
        key = None
        if not row.is_blank and season_column < len(row.fields):
            try:
                key = season_key_from_label(row.fields[season_column], league)
            except SeasonError:
                key = None
        target = key or current
        if target is None:
            pending.append(row)  # no season seen yet: attach to the first season found
            continue
        bucket = partitions.setdefault(target, PartitionRows(league, target))
        if pending:
            bucket.rows.extend(pending)
            pending.clear()
        bucket.rows.append(row)
        current = target
    if pending and any(not row.is_blank for row in pending):
        raise SourceFormatError(parsed.decoded.relpath, "no row carries a readable Season value")
    return partitions
