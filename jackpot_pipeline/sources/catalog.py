"""Which league × season partitions the fetched files hold, and a fingerprint of each partition's bytes.

A main-league file is one partition, fingerprinted by its sha256. A ``new/`` file holds many seasons;
each season's slice gets its own fingerprint, so a new row in 2025 re-runs ARG|2025 and nothing else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jackpot_pipeline.sources.fetch import sha256_bytes
from jackpot_pipeline.sources.football_data import PARSER_VERSION, ParsedSource, SourceRow, parse_source, partition_rows
from jackpot_pipeline.sources.leagues import ALL_LEAGUES, is_extra_league, is_split_season_key, season_selected

_MAIN_PATH = re.compile(r"^mmz4281/(\d{4})/([A-Z0-9]+)\.csv$")
_EXTRA_PATH = re.compile(r"^new/([A-Z]+)\.csv$")


@dataclass(frozen=True)
class PartitionSource:
    league: str
    season: str
    relpath: str
    file_sha256: str
    fingerprint: str  # sha256 of the bytes that make up this partition

    @property
    def partition_key(self) -> str:
        # Dagster orders multi-partition dimensions by name: league before season.
        return f"{self.league}|{self.season}"

    @property
    def data_version(self) -> str:
        """Changes exactly when the partition's source slice or the parsing code changes."""
        return hashlib.sha256(f"{PARSER_VERSION}:{self.fingerprint}".encode()).hexdigest()[:24]


def league_and_season_of(relpath: str) -> tuple[str, str | None] | None:
    """``mmz4281/2324/E0.csv`` -> (E0, 2324); ``new/ARG.csv`` -> (ARG, None); anything else None."""
    main = _MAIN_PATH.match(relpath)
    if main and main.group(2) in ALL_LEAGUES and not is_extra_league(main.group(2)) and is_split_season_key(main.group(1)):
        return main.group(2), main.group(1)
    extra = _EXTRA_PATH.match(relpath)
    if extra and is_extra_league(extra.group(1)):
        return extra.group(1), None
    return None


def slice_fingerprint(parsed: ParsedSource, league: str, season: str, rows: Sequence[SourceRow] | None = None) -> str:
    """``rows``: the season's rows when the caller has split the file already (splitting is the costly part)."""
    if parsed.format == "main":
        return parsed.decoded.sha256
    if rows is None:
        rows = partition_rows(parsed, league)[season].rows
    digest = hashlib.sha256(",".join(parsed.header).encode())
    for row in rows:
        digest.update(b"\n" + row.text.encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


def partitions_of_file(raw_dir: Path, relpath: str) -> list[PartitionSource]:
    located = league_and_season_of(relpath)
    if located is None:
        return []
    league, season = located
    data = (raw_dir / relpath).read_bytes()
    if season is not None:
        sha256 = sha256_bytes(data)
        return [PartitionSource(league, season, relpath, sha256, sha256)]
    parsed = parse_source(data, relpath)
    return [
        PartitionSource(league, key, relpath, parsed.decoded.sha256, slice_fingerprint(parsed, league, key, part.rows))
        for key, part in partition_rows(parsed, league).items()
    ]


def source_relpaths(raw_dir: Path) -> list[str]:
    if not raw_dir.is_dir():
        return []
    found = [
        path.relative_to(raw_dir).as_posix()
        for path in raw_dir.rglob("*.csv")
        if not path.name.startswith(".")
    ]
    return sorted(relpath for relpath in found if league_and_season_of(relpath))


def discover_partitions(
    raw_dir: Path,
    leagues: Iterable[str] | None = None,
    seasons: list[str] | None = None,
) -> list[PartitionSource]:
    """Partitions present in ``raw_dir``, optionally limited to configured leagues and seasons."""
    wanted = set(leagues) if leagues is not None else None
    found: list[PartitionSource] = []
    for relpath in source_relpaths(raw_dir):
        league, _ = league_and_season_of(relpath)  # type: ignore[misc]
        if wanted is not None and league not in wanted:
            continue
        for partition in partitions_of_file(raw_dir, relpath):
            if seasons is None or season_selected(partition.league, partition.season, seasons):
                found.append(partition)
    return found
