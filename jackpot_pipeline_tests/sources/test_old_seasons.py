"""Seasons from 1993/94: files built from real shared files re-dated to the 1990s (and, for
2000/01, into the next century) keep every match, on the right day of the right year."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from jackpot_pipeline.settings import load_settings
from jackpot_pipeline.sources import quality
from jackpot_pipeline.sources.catalog import discover_partitions, league_and_season_of
from jackpot_pipeline.sources.football_data import (
    CanonicalResult,
    canonicalise,
    parse_source,
    partition_rows,
    source_coverage,
)
from jackpot_pipeline.sources.leagues import SeasonWindow, expand_seasons, season_window

SNAPSHOT = dt.date(2026, 1, 1)
NINETIES_COLUMNS = ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR")


def ingest(data: bytes, relpath: str) -> CanonicalResult:
    parsed = parse_source(data, relpath)
    league, season = Path(relpath).stem, Path(relpath).parent.name
    (rows,) = partition_rows(parsed, league, season).values()
    return canonicalise(parsed, rows, snapshot_date=SNAPSHOT)


def redated(shared_data: Path, relpath: str, years: dict[str, str], *, nineties_layout: bool = False) -> bytes:
    """The shared file with the year part of every date replaced (``{"12": "93", "13": "94"}``).

    ``nineties_layout`` keeps only the seven columns of the 1993/94 files, with their header padded
    by 21 empty names and 7-field rows, CRLF as the publisher serves."""
    lines = (shared_data / relpath).read_bytes().decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    date = header.index("Date")
    out = []
    for line in lines[1:]:
        fields = line.split(",")
        if not any(fields):
            continue
        day, month, year = fields[date].split("/")
        fields[date] = f"{day}/{month}/{years[year]}"
        out.append(fields)
    if nineties_layout:
        keep = [header.index(name) for name in NINETIES_COLUMNS]
        header = list(NINETIES_COLUMNS) + [""] * 21
        out = [[fields[i] for i in keep] for fields in out]
    return ("\r\n".join(",".join(fields) for fields in [header, *out]) + "\r\n").encode()


def original_dates(shared_data: Path, relpath: str) -> pd.Series:
    return ingest((shared_data / relpath).read_bytes(), relpath).canonical.set_index("source_row")["match_date"]


def test_a_1993_94_file_from_a_real_one_gets_1993_94_dates(shared_data):
    # E0 2012/13 writes dd/mm/yy: 12 -> 93 and 13 -> 94 make it a 1993/94 file in the 1990s layout
    data = redated(shared_data, "mmz4281/1213/E0.csv", {"12": "93", "13": "94"}, nineties_layout=True)
    result = ingest(data, "mmz4281/9394/E0.csv")
    canonical = result.canonical
    assert len(canonical) == 380 and result.quarantined.empty and canonical["issues"].isna().all()
    assert season_window("E0", "9394") == SeasonWindow(dt.date(1993, 7, 1), dt.date(1994, 8, 31))
    # every date: the same day and month, 19 years earlier
    before = original_dates(shared_data, "mmz4281/1213/E0.csv")
    after = canonical.set_index("source_row")["match_date"]
    assert len(before) == len(after) == 380
    expected = {row: day.replace(year=day.year - 19) for row, day in before.items()}
    assert {row: day for row, day in after.items()} == expected
    assert after.min() == pd.Timestamp("1993-08-18") and after.max() == pd.Timestamp("1994-05-19")
    assert quality.dates_in_season(canonical, "E0", "9394").passed
    assert (canonical["season"] == "9394").all() and canonical["odds_source"].isna().all()
    assert canonical["match_id"].is_unique and set(canonical["status"]) == {"played"}
    parsed = parse_source(data, "mmz4281/9394/E0.csv")
    assert source_coverage(parsed) == [
        "no_pre_closing_odds", "no_closing_odds", "no_half_time", "no_shots", "no_shots_on_target", "no_kickoff_time",
    ]


def test_four_digit_years_and_a_season_across_the_millennium(shared_data):
    # E0 2023/24 writes dd/mm/yyyy
    result = ingest(redated(shared_data, "mmz4281/2324/E0.csv", {"2023": "1993", "2024": "1994"}), "mmz4281/9394/E0.csv")
    assert len(result.canonical) == 380 and result.quarantined.empty
    before = original_dates(shared_data, "mmz4281/2324/E0.csv")
    after = result.canonical.set_index("source_row")["match_date"]
    assert {row: day for row, day in after.items()} == {row: day.replace(year=day.year - 30) for row, day in before.items()}
    # 1999/2000: "00" is 2000, not 1900 nor 2099
    millennium = ingest(redated(shared_data, "mmz4281/1213/E1.csv", {"12": "99", "13": "00"}), "mmz4281/9900/E1.csv")
    dates = millennium.canonical["match_date"]
    assert len(dates) == 552 and millennium.quarantined.empty
    assert dates.min() == pd.Timestamp("1999-08-17") and dates.max() == pd.Timestamp("2000-05-04")
    # a date two seasons away is refused, named, not stretched into the season
    wrong = redated(shared_data, "mmz4281/1213/E1.csv", {"12": "99", "13": "01"})
    rejected = ingest(wrong, "mmz4281/9900/E1.csv").quarantined
    assert set(rejected["reason"]) == {"date_outside_season"}
    assert rejected["message"].str.contains("season 9900 runs 1999-07-01 to 2000-08-31").all()


def test_seasons_from_1993_94_are_configured_discovered_and_partitioned(shared_data, tmp_path):
    settings = load_settings({"JACKPOT_SEASONS": "9394-2324"})
    seasons = settings.seasons()
    assert seasons[:8] == ["9394", "9495", "9596", "9697", "9798", "9899", "9900", "0001"]
    assert seasons[-1] == "2324" and len(seasons) == 31
    raw = tmp_path / "raw"
    (raw / "mmz4281/9394").mkdir(parents=True)
    (raw / "mmz4281/9394/E0.csv").write_bytes(
        redated(shared_data, "mmz4281/1213/E0.csv", {"12": "93", "13": "94"}, nineties_layout=True)
    )
    (raw / "mmz4281/2324").mkdir(parents=True)
    shutil.copyfile(shared_data / "mmz4281/2324/E0.csv", raw / "mmz4281/2324/E0.csv")
    assert league_and_season_of("mmz4281/9394/E0.csv") == ("E0", "9394")
    keys = [p.partition_key for p in discover_partitions(raw, ["E0"], expand_seasons("9394-2324"))]
    assert keys == ["E0|2324", "E0|9394"]
    assert [p.partition_key for p in discover_partitions(raw, ["E0"], expand_seasons("9394-9495"))] == ["E0|9394"]


@pytest.mark.parametrize("relpath", ["mmz4281/1213/E0.csv", "mmz4281/2324/SP1.csv", "mmz4281/1819/I2.csv"])
def test_rows_narrower_or_wider_than_the_header_keep_their_match(shared_data, relpath):
    """The 1990s and early-2000s files: padded headers, rows that stop early or run past the header."""
    lines = (shared_data / relpath).read_bytes().split(b"\n")
    header = lines[0].rstrip(b"\r")
    width = header.count(b",") + 1
    short = lines[1].rstrip(b"\r").split(b",")[:12]  # up to the half-time result and a little more
    long = lines[2].rstrip(b"\r") + b",,,,1.85,2.05"
    data = b"\n".join([header + b",,,", b",".join(short), long] + [line.rstrip(b"\r") for line in lines[3:]])
    result = ingest(data, relpath)
    assert result.quarantined.empty
    first, second = result.canonical.set_index("source_row").loc[[2, 3], "issues"]
    assert first == f"row has 12 of the header's {width} fields, the missing cells read as empty"
    assert second == f"2 cell(s) beyond the header's {width + 3} columns ignored"


def test_early_greek_headers_name_the_teams_ht_and_at(shared_data):
    data = (shared_data / "mmz4281/2324/E0.csv").read_bytes().replace(b",HomeTeam,AwayTeam,", b",HT,AT,", 1)
    result = ingest(data, "mmz4281/2324/E0.csv")
    assert len(result.canonical) == 380 and result.canonical["home_team"].iloc[0] == "Burnley"
    assert re.fullmatch(r"[0-9a-f]{16}", result.canonical["match_id"].iloc[0])
