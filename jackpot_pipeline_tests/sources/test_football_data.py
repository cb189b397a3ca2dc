"""The parser on the real football-data files: every quirk of shared/football-data/MANIFEST.md by name."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jackpot_pipeline.sources.football_data import (
    CANONICAL_COLUMNS,
    QUARANTINE_REASONS,
    SourceFormatError,
    canonicalise,
    parse_source,
    partition_rows,
)
from jackpot_pipeline.sources.football_data.cells import parse_match_date
from jackpot_pipeline.sources.leagues import EXTRA_LEAGUES

SNAPSHOT = dt.date(2026, 11, 21)


def ingest(shared_data: Path, relpath: str, data: bytes | None = None):
    """Parse and canonicalise one file; returns {season: CanonicalResult}."""
    parsed = parse_source(data if data is not None else (shared_data / relpath).read_bytes(), relpath)
    league = Path(relpath).stem
    season = None if league in EXTRA_LEAGUES else Path(relpath).parent.name
    return parsed, {
        key: canonicalise(parsed, rows, snapshot_date=SNAPSHOT)
        for key, rows in partition_rows(parsed, league, season).items()
    }


def only(results):
    (result,) = results.values()
    return result


def manifest_rows(shared_data: Path) -> dict[str, tuple[int, int]]:
    """(data rows, lines) per file, from the manifest's per-file table."""
    table = {}
    for line in (shared_data / "MANIFEST.md").read_text().splitlines():
        match = re.match(r"^\| ((?:mmz4281|new)/\S+\.csv) \| (\d+) \| (\d+) \|", line)
        if match:
            table[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return table


def all_shared_files(shared_data: Path) -> list[str]:
    return sorted(p.relative_to(shared_data).as_posix() for p in shared_data.glob("*/**/*.csv"))


# --- every file, not a sample -----------------------------------------------------------------------


def test_every_shared_file_accounts_for_every_line(shared_data):
    files = all_shared_files(shared_data)
    expected = manifest_rows(shared_data)
    assert len(files) == 197 and set(files) == set(expected)
    totals = {"canonical": 0, "quarantined": 0, "blank": 0}
    for relpath in files:
        parsed, results = ingest(shared_data, relpath)
        data_rows, lines = expected[relpath]
        assert parsed.data_lines == lines - 1, relpath  # every line but the header
        placed = []
        for result in results.values():
            assert result.accounted_rows == len(result.raw), relpath
            placed += result.canonical["source_row"].tolist() + result.quarantined["source_row"].tolist()
            placed += result.raw.loc[result.raw["row_kind"] == "blank", "source_row"].tolist()
            totals["canonical"] += len(result.canonical)
            totals["quarantined"] += len(result.quarantined)
            totals["blank"] += result.blank_rows
        # each line 2..N exactly once: nothing lost, nothing counted twice
        assert sorted(placed) == list(range(2, lines + 1)), relpath
        assert sum(len(r.canonical) + len(r.quarantined) for r in results.values()) == data_rows, relpath
    assert totals == {"canonical": 73001 + 23684 - 1, "quarantined": 1, "blank": 32}


# --- named quirks -------------------------------------------------------------------------------------


def test_utf8_bom_is_stripped_from_the_first_header(shared_data):
    parsed, results = ingest(shared_data, "mmz4281/2122/E0.csv")
    assert parsed.decoded.encoding == "utf-8-sig"
    assert parsed.header[0] == "Div"
    assert len(only(results).canonical) == 380


def test_crlf_and_lf_files_parse_alike(shared_data):
    crlf, crlf_results = ingest(shared_data, "mmz4281/1213/E0.csv")
    lf, lf_results = ingest(shared_data, "mmz4281/1213/E1.csv")
    assert (crlf.decoded.line_ending, lf.decoded.line_ending) == ("CRLF", "LF")
    crlf_canonical = only(crlf_results).canonical
    assert len(crlf_canonical) == 380 and len(only(lf_results).canonical) == 552
    assert not crlf_canonical["away_team"].str.contains("\r").any()
    # the same bytes with LF line endings give the same canonical rows
    lf_bytes = (shared_data / "mmz4281/1213/E0.csv").read_bytes().replace(b"\r\n", b"\n")
    _, relf = ingest(shared_data, "mmz4281/1213/E0.csv", lf_bytes)
    pd.testing.assert_frame_equal(
        crlf_canonical.drop(columns="source_sha256"), only(relf).canonical.drop(columns="source_sha256")
    )


def test_two_and_four_digit_year_dates(shared_data):
    # E0 2015/16 was re-published with dd/mm/yyyy; E1 of the same season still has dd/mm/yy
    _, four = ingest(shared_data, "mmz4281/1516/E0.csv")
    _, two = ingest(shared_data, "mmz4281/1516/E1.csv")
    assert "/2015" in only(four).raw["raw_line"].iloc[0]
    assert re.search(r",\d\d/\d\d/15,", only(two).raw["raw_line"].iloc[0])
    for result in (only(four), only(two)):
        dates = result.canonical["match_date"]
        assert dates.min() >= pd.Timestamp("2015-07-01") and dates.max() <= pd.Timestamp("2016-06-30")
    assert only(four).canonical["match_date"].min() == pd.Timestamp("2015-08-08")


def test_non_utf8_byte_decodes_as_cp1252(shared_data):
    for relpath in ("mmz4281/1819/I2.csv", "mmz4281/1819/SC0.csv"):
        data = (shared_data / relpath).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        parsed, results = ingest(shared_data, relpath)
        assert parsed.decoded.encoding == "cp1252"
        assert only(results).raw["raw_line"].str.contains("8\u00a0").sum() == 1  # the byte survives in raw
        assert only(results).quarantined.empty


def test_comma_only_padding_rows_are_counted_blank(shared_data):
    parsed, results = ingest(shared_data, "mmz4281/1213/I2.csv")
    result = only(results)
    assert result.blank_rows == 5 and len(result.canonical) == 462
    assert parsed.data_lines == 467
    blank_lines = result.raw.loc[result.raw["row_kind"] == "blank", "source_row"].tolist()
    assert blank_lines == [464, 465, 466, 467, 468]


def test_empty_header_name_gets_a_placeholder(shared_data):
    parsed, results = ingest(shared_data, "mmz4281/2122/B1.csv")
    assert parsed.header[-1] == f"_unnamed_{len(parsed.header)}"
    assert len(only(results).canonical) == 306 and only(results).quarantined.empty


def test_hash_in_odds_cell_is_reported_and_the_match_kept(shared_data):
    _, results = ingest(shared_data, "mmz4281/2223/N1.csv")
    canonical = only(results).canonical
    flagged = canonical[canonical["issues"].notna()]
    assert len(flagged) == 1
    row = flagged.iloc[0]
    assert (row["home_team"], row["away_team"], row["match_date"]) == ("Utrecht", "Feyenoord", pd.Timestamp("2023-01-08"))
    assert row["issues"] == "B365CH='#' is not a number"
    assert row["odds_source"] == "PS" and row["closing_odds_source"] == "PSC"


def test_row_with_empty_half_time_and_stats_keeps_its_result(shared_data):
    _, results = ingest(shared_data, "mmz4281/2223/F2.csv")
    canonical = only(results).canonical
    row = canonical[(canonical["home_team"] == "Bordeaux") & (canonical["away_team"] == "Rodez")].iloc[0]
    assert (row["home_goals"], row["away_goals"], row["result"], row["status"]) == (0, 1, "A", "played")
    assert pd.isna(row["ht_home_goals"]) and pd.isna(row["home_shots"])
    assert len(canonical) == 380


def test_zero_bookmaker_odds_fall_back_to_the_next_source(shared_data):
    _, results = ingest(shared_data, "mmz4281/1213/E1.csv")
    canonical = only(results).canonical
    assert (canonical["odds_home"] >= 1.01).all()
    assert set(canonical["odds_source"]) <= {"PS", "BbAv", "B365"}


def test_revised_half_time_score_changes_one_row(shared_data):
    """E0 2021/22 Wolves v Watford: the publisher revised the half-time score from 2-0 to 3-0."""
    relpath = "mmz4281/2122/E0.csv"
    current = (shared_data / relpath).read_bytes()
    line = next(l for l in current.split(b"\n") if b"Wolves,Watford" in l)
    fields = line.split(b",")
    assert fields[7:10] == [b"3", b"0", b"H"] or fields[8:10] == [b"3", b"0"]
    header = current.split(b"\n")[0].decode("utf-8-sig").split(",")
    hthg = header.index("HTHG")
    older = list(fields)
    older[hthg] = b"2"
    _, new_results = ingest(shared_data, relpath)
    _, old_results = ingest(shared_data, relpath, current.replace(line, b",".join(older)))
    new, old = only(new_results).canonical, only(old_results).canonical
    assert list(new["match_id"]) == list(old["match_id"])
    differing = new.compare(old.assign(source_sha256=new["source_sha256"]))
    assert list(differing.columns.get_level_values(0).unique()) == ["ht_home_goals"]


def test_moved_date_keeps_the_match_id(shared_data):
    """P1 2020/21 Santa Clara v Benfica moved from 03/01/2021 to 04/01/2021 between two downloads."""
    relpath = "mmz4281/2021/P1.csv"
    current = (shared_data / relpath).read_bytes()
    line = next(l for l in current.split(b"\n") if b"Santa Clara,Benfica" in l)
    assert b"04/01/2021" in line
    _, new_results = ingest(shared_data, relpath)
    _, old_results = ingest(shared_data, relpath, current.replace(line, line.replace(b"04/01/2021", b"03/01/2021")))
    new, old = only(new_results).canonical, only(old_results).canonical
    assert set(new["match_id"]) == set(old["match_id"])
    pick = lambda frame: frame[(frame["home_team"] == "Santa Clara") & (frame["away_team"] == "Benfica")].iloc[0]
    assert pick(new)["match_id"] == pick(old)["match_id"]
    assert pick(old)["match_date"] == pd.Timestamp("2021-01-03")


def test_new_format_is_split_into_seasons(shared_data):
    parsed, results = ingest(shared_data, "new/ARG.csv")
    assert parsed.decoded.encoding == "utf-8-sig" and parsed.decoded.line_ending == "CRLF"
    assert sorted(results) == sorted(
        ["1213", "1314", "1617", "1718", "1819", "1920", "2014", "2015", "2016"]
        + [str(year) for year in range(2020, 2026)]
    )
    assert len(results["2021"].canonical) == 501  # calendar 2021, not the 2020/21 split season
    assert set(results["2021"].canonical["competition"]) <= {"Torneo De La Liga Profesional", "Copa De La Liga Profesional"}
    _, jpn = ingest(shared_data, "new/JPN.csv")
    assert set(pd.concat(r.canonical for r in jpn.values())["competition"]) == {"J1 League"}
    new_format = only({"x": jpn["2024"]}).canonical
    assert new_format["odds_source"].isna().all() and new_format["closing_odds_source"].eq("PSC").all()


def test_misdated_row_is_quarantined_with_its_reason(shared_data):
    _, results = ingest(shared_data, "new/ARG.csv")
    quarantined = results["1314"].quarantined
    assert len(quarantined) == 1
    row = quarantined.iloc[0]
    assert (row["reason"], row["field"], row["value"], row["source_row"]) == ("date_outside_season", "Date", "29/01/2015", 765)
    assert row["message"].startswith("new/ARG.csv line 765, field Date:")


def test_fixture_without_result_is_kept_with_a_status(shared_data):
    _, results = ingest(shared_data, "new/BRA.csv")
    canonical = results["2016"].canonical
    row = canonical[(canonical["home_team"] == "Chapecoense-SC") & (canonical["away_team"] == "Atletico-MG")].iloc[0]
    assert row["status"] == "unplayed" and pd.isna(row["home_goals"]) and pd.isna(row["result"])
    assert len(canonical) == 380
    # the same row dated after the snapshot is a scheduled fixture
    parsed = parse_source((shared_data / "new/BRA.csv").read_bytes(), "new/BRA.csv")
    early = canonicalise(parsed, partition_rows(parsed, "BRA")["2016"], snapshot_date=dt.date(2016, 12, 1))
    assert early.canonical.loc[early.canonical["result"].isna(), "status"].tolist() == ["scheduled"]


def test_non_numeric_closing_average_in_new_file(shared_data):
    _, results = ingest(shared_data, "new/USA.csv")
    flagged = results["2025"].canonical["issues"].dropna()
    assert flagged.tolist() == ["AvgCH='x' is not a number"]


def test_canonical_columns_and_types(shared_data):
    _, results = ingest(shared_data, "mmz4281/2324/E0.csv")
    canonical = only(results).canonical
    assert list(canonical.columns) == CANONICAL_COLUMNS
    assert canonical["match_id"].is_unique and canonical["match_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    first = canonical.iloc[0]
    assert (first["home_team"], first["away_team"], first["kickoff_time"]) == ("Burnley", "Man City", "20:00")
    assert (first["home_goals"], first["away_goals"], first["result"], first["ht_home_goals"]) == (0, 3, "A", 0)
    assert (first["odds_home"], first["odds_source"], first["closing_odds_home"], first["closing_odds_source"]) == (8.58, "PS", 9.62, "PSC")
    assert (first["home_shots"], first["away_shots_on_target"]) == (6, 8)


# --- rejected rows, built from real lines ---------------------------------------------------------------


def _edit_line(shared_data: Path, relpath: str, line_number: int, column: str, value: str) -> bytes:
    lines = (shared_data / relpath).read_bytes().decode("utf-8-sig").split("\n")
    header = lines[0].rstrip("\r").split(",")
    fields = lines[line_number - 1].rstrip("\r").split(",")
    fields[header.index(column)] = value
    lines[line_number - 1] = ",".join(fields)
    return "\n".join(lines).encode("utf-8")


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("FTHG", "-1", "bad_goals"),
        ("FTHG", "two", "bad_goals"),
        ("FTAG", "", "partial_result"),
        ("FTR", "H", "result_mismatch"),
        ("Date", "31/02/2024", "bad_date"),
        ("Date", "12/08/2021", "date_outside_season"),
        ("HomeTeam", "", "missing_team"),
        ("AwayTeam", "Burnley", "same_team"),
        ("Div", "E1", "wrong_division"),
        ("FTR", "X", "bad_result"),
        ("FTHG", "31", "bad_goals"),
        ("FTHG", "1e20", "bad_goals"),
        ("FTHG", "\uff10", "bad_goals"),
        ("Date", "99999999999999999999/08/2023", "bad_date"),
        ("Date", "\uff11\uff11/08/2023", "bad_date"),
        ("HomeTeam", "Burn\x01ley", "bad_team"),
        ("AwayTeam", "Man\u200bCity", "bad_team"),
        ("AwayTeam", "M" * 101, "bad_team"),
    ],
)
def test_bad_rows_are_quarantined_with_field_and_value(shared_data, column, value, reason):
    relpath = "mmz4281/2324/E0.csv"  # line 2: Burnley 0-3 Man City, A
    _, results = ingest(shared_data, relpath, _edit_line(shared_data, relpath, 2, column, value))
    result = only(results)
    assert len(result.canonical) == 379 and len(result.quarantined) == 1
    row = result.quarantined.iloc[0]
    assert (row["reason"], row["field"], row["value"], row["source_row"]) == (reason, column, value, 2)
    assert row["message"].startswith(f"{relpath} line 2, field {column}: {QUARANTINE_REASONS[reason]}")


@pytest.mark.parametrize(
    ("inserted", "expected"),
    [
        # a duplicate of the first match and a row that ends after the home team
        (lambda lines: [lines[1], b"E0,11/08/2023,Burnley"], [[4, "duplicate_match"], [5, "wrong_field_count"]]),
        # the header again and a line whose quotes do not balance
        (lambda lines: [lines[0], b'E0,"unclosed,Burnley'], [[4, "repeated_header"], [5, "bad_quoting"]]),
    ],
    ids=["duplicate_and_short_rows", "repeated_header_and_unbalanced_quotes"],
)
def test_bad_lines_are_quarantined_alone(shared_data, inserted, expected):
    relpath = "mmz4281/2324/E0.csv"
    lines = (shared_data / relpath).read_bytes().split(b"\r\n")
    data = b"\r\n".join(lines[:3] + inserted(lines) + lines[3:])
    _, results = ingest(shared_data, relpath, data)
    quarantined = only(results).quarantined
    assert quarantined[["source_row", "reason"]].values.tolist() == expected
    assert len(only(results).canonical) == 380


def test_a_parser_defect_quarantines_its_row_and_names_no_python_text(shared_data, monkeypatch):
    def broken(text):
        raise OverflowError("Python int too large to convert to C int")

    monkeypatch.setattr("jackpot_pipeline.sources.football_data.canonical.parse_kickoff_time", broken)
    _, results = ingest(shared_data, "mmz4281/2324/E0.csv")
    quarantined = only(results).quarantined
    assert len(quarantined) == 380 and set(quarantined["reason"]) == {"unreadable_row"}
    message = quarantined["message"].iloc[0]
    assert message.startswith("mmz4281/2324/E0.csv line 2, field *: the row could not be read because of a parser defect")
    assert "too large" not in message and message.endswith("internal OverflowError")


def test_one_line_in_windows_encoding_leaves_utf8_names_alone(shared_data):
    relpath = "mmz4281/2324/SP1.csv"
    lines = (shared_data / relpath).read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"Almeria", "Almer\u00eda".encode("utf-8"))  # UTF-8
    lines[2] = lines[2].replace(b"Sevilla", "Sevill\u00e0".encode("cp1252"))  # one cp1252 byte
    parsed, results = ingest(shared_data, relpath, b"\n".join(lines))
    assert parsed.decoded.encoding == "utf-8+cp1252"
    names = set(only(results).canonical["home_team"]) | set(only(results).canonical["away_team"])
    assert {"Almer\u00eda", "Sevill\u00e0"} <= names


def test_utf16_files_are_read(shared_data):
    relpath = "mmz4281/2324/E0.csv"
    text = (shared_data / relpath).read_bytes().decode("ascii")
    parsed, results = ingest(shared_data, relpath, text.encode("utf-16"))
    assert parsed.decoded.encoding == "utf-16" and len(only(results).canonical) == 380


# --- files that are not football-data CSVs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "HTML page"),
        (b"", "empty"),
        (b"name,value\nfoo,1\n", "missing column(s) Div, Date, HomeTeam"),
        (b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\nE0,11/08/2023,Burnley,Man City,0,3,A\n\x00\x00\x00", "NUL byte on line 3"),
        (b'"Div,Date,HomeTeam\n', "the header line cannot be read as CSV"),
        (b"\xff\xfeD\x00\xd8", "UTF-16 text that does not decode"),
    ],
)
def test_not_a_football_data_file(data, problem):
    with pytest.raises(SourceFormatError, match=re.escape(problem)) as raised:
        parse_source(data, "mmz4281/2324/E0.csv")
    assert str(raised.value).startswith("mmz4281/2324/E0.csv: ")


def test_truncated_file_names_the_line(shared_data):
    data = (shared_data / "mmz4281/2324/E0.csv").read_bytes()
    truncated = data[: len(data) // 2]
    lines = truncated.count(b"\n") + 1
    with pytest.raises(SourceFormatError, match=rf"mmz4281/2324/E0.csv: truncated: line {lines} has \d+ of 106 fields"):
        parse_source(truncated, "mmz4281/2324/E0.csv")


# --- properties -----------------------------------------------------------------------------------------


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_both_date_formats_round_trip(day):
    assert parse_match_date(day.strftime("%d/%m/%Y")) == day
    assert parse_match_date(day.strftime("%d/%m/%y")) == day


@given(st.text(max_size=12))
def test_date_parser_never_raises(text):
    result = parse_match_date(text)
    assert result is None or isinstance(result, dt.date)


_cells = st.text(alphabet=st.characters(blacklist_characters=',"\r\n', blacklist_categories=("Cs", "Cc")), max_size=6)


@given(st.lists(st.lists(_cells, min_size=7, max_size=7), max_size=15))
def test_any_rows_under_a_valid_header_are_all_accounted_for(rows):
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR"
    text = "\n".join([header] + [",".join(r) for r in rows]) + "\n"
    parsed = parse_source(text.encode(), "mmz4281/2324/E0.csv")
    (partition,) = partition_rows(parsed, "E0", "2324").values()
    result = canonicalise(parsed, partition, snapshot_date=SNAPSHOT)
    assert result.accounted_rows == len(rows) == len(result.raw)
    assert set(result.quarantined["reason"]) <= set(QUARANTINE_REASONS)
