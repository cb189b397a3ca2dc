"""Real football-data team names for the team tests: a small reader, just enough for team names,
and the registry and resolver built from every shared file (read in place, never copied)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from jackpot_pipeline.sources.teams import (
    TeamResolver,
    build_team_registry,
    clean_source_name,
    load_curated_aliases,
)


def _read_rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # two season files carry a cp1252 no-break space (0xA0)
        text = raw.decode("cp1252")
    return list(csv.DictReader(io.StringIO(text)))


def _new_season_key(label: str) -> str:
    """``2012/2013`` -> ``1213``, ``2015`` -> ``2015`` (the pipeline's season keys)."""
    text = label.strip()
    match = re.fullmatch(r"(\d{4})/(\d{4})", text)
    return f"{match.group(1)[2:]}{match.group(2)[2:]}" if match else text


@pytest.fixture(scope="package")
def real_matches(shared_data: Path) -> pd.DataFrame:
    """Every match of the shared files as (league, season, home_team, away_team)."""
    season_files = sorted((shared_data / "mmz4281").glob("*/*.csv"))
    new_files = sorted((shared_data / "new").glob("*.csv"))
    # Guards against a scan that finds nothing and lets every check below pass vacuously.
    assert len(season_files) == 16 * 12
    assert [p.stem for p in new_files] == ["ARG", "BRA", "JPN", "NOR", "USA"]
    rows: list[tuple[str, str, str, str]] = []
    for path in season_files:
        for record in _read_rows(path):
            home, away = (record.get("HomeTeam") or "").strip(), (record.get("AwayTeam") or "").strip()
            if home and away:  # skips the comma-only padding lines
                rows.append((path.stem, path.parent.name, clean_source_name(home), clean_source_name(away)))
    for path in new_files:
        for record in _read_rows(path):
            home, away = (record.get("Home") or "").strip(), (record.get("Away") or "").strip()
            if home and away:
                rows.append((path.stem, _new_season_key(record["Season"]),
                             clean_source_name(home), clean_source_name(away)))
    return pd.DataFrame(rows, columns=["league", "season", "home_team", "away_team"])


@pytest.fixture(scope="package")
def real_teams(real_matches: pd.DataFrame) -> pd.DataFrame:
    """Distinct (league, team) source names of the shared files."""
    sides = [
        real_matches[["league", side]].rename(columns={side: "team"}) for side in ("home_team", "away_team")
    ]
    return pd.concat(sides).drop_duplicates().sort_values(["league", "team"]).reset_index(drop=True)


@pytest.fixture(scope="package")
def real_registry(real_matches: pd.DataFrame) -> pd.DataFrame:
    return build_team_registry(real_matches)


@pytest.fixture(scope="package")
def resolver(real_registry: pd.DataFrame) -> TeamResolver:
    return TeamResolver(real_registry)


@pytest.fixture(scope="package")
def curated() -> pd.DataFrame:
    return load_curated_aliases()
