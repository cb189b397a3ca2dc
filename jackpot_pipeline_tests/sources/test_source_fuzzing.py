"""Damaged football-data files, generated from the real shared files: every line of every generated
file ends up canonical, quarantined with a reason, or the whole file is refused by name.

Each example takes a slice of a real file (its header and 1-3 runs of its lines, so parsing stays
fast) and applies a sequence of damages: cells overwritten with hostile values, columns added or
removed (in the header, the rows or both), repeated headers, padding lines, other line endings and
encodings, undecodable bytes, and cuts at an arbitrary byte. The examples are derandomised, so CI
sees the same files on every run.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from jackpot_pipeline.sources import quality
from jackpot_pipeline.sources.football_data import (
    MAX_TEAM_NAME_LENGTH,
    QUARANTINE_REASONS,
    SourceFormatError,
    canonicalise,
    team_name_problem,
    parse_source,
    partition_rows,
)
from jackpot_pipeline.sources.leagues import EXTRA_LEAGUES
from jackpot_pipeline_tests.conftest import SHARED_FOOTBALL_DATA
from jackpot_pipeline_tests.fuzzing import FUZZ_SETTINGS, reproducible_generation

SNAPSHOT = dt.date(2026, 1, 1)
MAIN_FILE_EXAMPLES = 700
EXTRA_FILE_EXAMPLES = 300

# Real files with different quirks: CRLF / LF, BOM, a cp1252 byte, padding lines, an unnamed
# column, two-digit years, the 19-column 2012 layout, odds in every column, the new/ format.
MAIN_BASES = (
    "mmz4281/2324/E0.csv",
    "mmz4281/2122/E0.csv",
    "mmz4281/1819/I2.csv",
    "mmz4281/1213/I2.csv",
    "mmz4281/2122/B1.csv",
    "mmz4281/1516/E1.csv",
    "mmz4281/2223/N1.csv",
    "mmz4281/2223/F2.csv",
)
EXTRA_BASES = ("new/ARG.csv", "new/BRA.csv", "new/USA.csv")

HOSTILE_CELLS = (
    "", " ", "-1", "0", "31", "99999999999999999999999", "1e400", "1e-400", "1e2", "3.5", "3.0", "NaN",
    "nan", "inf", "-inf", "#", "#REF!", "1_0", "\uff13", "\u00b2", "\u0661\u0662", "31/02/2024",
    "00/00/00", "29/02/23", "99/99/9999", "01/01/99999999999999999999", "99999999999999999999/01/2024",
    "1/1/1", "01/08/1899", "1e20", "4294967296",
    "12/08/2099", "H", "D", "A", "X", "h", "HH", "\x00", "\x01", "\x1b[31m", "\ufffd", "\ufeff",
    "\u200b", '"', '"unclosed', 'a "b" c', "a,b", "\r", "\n", "E0", "E1", "Div", "HomeTeam",
    "Arsenal", "A" * (MAX_TEAM_NAME_LENGTH + 1), "25:61", "9:5", "\u0661\u0662:\u0663\u0664",
    "2020/2021", "2021", "1999/2000", "2012/2014",
)
cell_values = st.one_of(
    st.sampled_from(HOSTILE_CELLS),
    st.text(max_size=12),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@cache
def real_lines(relpath: str) -> tuple[str, tuple[str, ...]]:
    """Header and data lines of a shared file, decoded as the parser decodes them."""
    parsed = parse_source((SHARED_FOOTBALL_DATA / relpath).read_bytes(), relpath)
    header_line = re.split(r"\r\n|\n|\r", parsed.decoded.text, maxsplit=1)[0]
    return header_line, tuple(row.text for row in parsed.rows)


@dataclass
class Sample:
    """A file under construction: lines of cells (header first), how they are joined and encoded."""

    relpath: str
    lines: list[list[str]]
    line_endings: list[str]
    final_newline: bool
    encoding: str
    byte_damage: list[tuple[int, bytes]]
    cut_at: float | None

    def to_bytes(self) -> bytes:
        text = ""
        for position, cells in enumerate(self.lines):
            ending = self.line_endings[position % len(self.line_endings)]
            last = position == len(self.lines) - 1
            text += ",".join(cells) + ("" if last and not self.final_newline else ending)
        if self.encoding == "utf-8-sig":
            data = b"\xef\xbb\xbf" + text.encode("utf-8", errors="surrogatepass")
        elif self.encoding == "utf-16":
            data = text.encode("utf-16", errors="surrogatepass")
        elif self.encoding == "cp1252":
            data = text.encode("cp1252", errors="replace")
        else:
            data = text.encode("utf-8", errors="surrogatepass")
        for fraction, inserted in self.byte_damage:
            where = int(fraction * len(data))
            data = data[:where] + inserted + data[where:]
        if self.cut_at is not None:
            data = data[: int(self.cut_at * len(data))]
        return data


@st.composite
def damaged_files(draw, bases: tuple[str, ...]) -> tuple[Sample, list[str]]:
    relpath = draw(st.sampled_from(bases))
    header_line, lines = real_lines(relpath)
    runs = []
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(lines) - 1))
        runs.extend(lines[start : start + draw(st.integers(1, 12))])
    sample = Sample(
        relpath=relpath,
        lines=[header_line.split(",")] + [line.split(",") for line in runs],
        line_endings=["\r\n"],
        final_newline=True,
        encoding="utf-8",
        byte_damage=[],
        cut_at=None,
    )
    applied = []
    for damage in draw(st.lists(st.sampled_from(DAMAGES), max_size=5)):
        applied.append(damage.__name__)
        damage(draw, sample)
    return sample, applied


def overwrite_cell(draw, sample: Sample) -> None:
    row = draw(st.integers(0, len(sample.lines) - 1))
    if sample.lines[row]:
        column = draw(st.integers(0, len(sample.lines[row]) - 1))
        sample.lines[row][column] = draw(cell_values)


def overwrite_cells(draw, sample: Sample) -> None:
    for _ in range(draw(st.integers(2, 8))):
        overwrite_cell(draw, sample)


def add_column(draw, sample: Sample) -> None:
    where = draw(st.integers(0, len(sample.lines[0])))
    name = draw(st.sampled_from(["Extra", "HS", "Div", "", "PSCH", "Time"]))
    scope = draw(st.sampled_from(["everywhere", "header", "rows"]))
    for position, cells in enumerate(sample.lines):
        if (position == 0 and scope != "rows") or (position > 0 and scope != "header"):
            cells.insert(min(where, len(cells)), name if position == 0 else draw(cell_values))


def remove_column(draw, sample: Sample) -> None:
    if not sample.lines[0]:
        return
    where = draw(st.integers(0, len(sample.lines[0]) - 1))
    scope = draw(st.sampled_from(["everywhere", "everywhere", "header", "rows"]))
    for position, cells in enumerate(sample.lines):
        if ((position == 0 and scope != "rows") or (position > 0 and scope != "header")) and where < len(cells):
            del cells[where]


def ragged_row(draw, sample: Sample) -> None:
    if len(sample.lines) > 1:
        row = sample.lines[draw(st.integers(1, len(sample.lines) - 1))]
        if draw(st.booleans()):
            del row[draw(st.integers(0, len(row))) :]
        else:
            row.extend(draw(st.lists(st.sampled_from(["", "", "1.5", "x"]), min_size=1, max_size=20)))


def repeat_header(draw, sample: Sample) -> None:
    sample.lines.insert(draw(st.integers(1, len(sample.lines))), list(sample.lines[0]))


def duplicate_row(draw, sample: Sample) -> None:
    if len(sample.lines) > 1:
        row = sample.lines[draw(st.integers(1, len(sample.lines) - 1))]
        sample.lines.insert(draw(st.integers(1, len(sample.lines))), list(row))


def padding_lines(draw, sample: Sample) -> None:
    width = len(sample.lines[0])
    for _ in range(draw(st.integers(1, 3))):
        padding = draw(st.sampled_from([[""] * width, [""], ["   "], [""] * (width + 3)]))
        sample.lines.insert(draw(st.integers(1, len(sample.lines))), list(padding))


def swap_header_names(draw, sample: Sample) -> None:
    header = sample.lines[0]
    if not header:
        return
    first, second = draw(st.integers(0, len(header) - 1)), draw(st.integers(0, len(header) - 1))
    header[first], header[second] = header[second], header[first]


def line_endings(draw, sample: Sample) -> None:
    sample.line_endings = draw(st.lists(st.sampled_from(["\r\n", "\n", "\r"]), min_size=1, max_size=3))
    sample.final_newline = draw(st.booleans())


def encoding(draw, sample: Sample) -> None:
    sample.encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))


def undecodable_bytes(draw, sample: Sample) -> None:
    for _ in range(draw(st.integers(1, 3))):
        sample.byte_damage.append((
            draw(st.floats(0, 1)),
            draw(st.sampled_from([b"\xa0", b"\x81", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x1a"])),
        ))


def cut(draw, sample: Sample) -> None:
    sample.cut_at = draw(st.floats(0, 1))


def html_instead(draw, sample: Sample) -> None:
    sample.lines = [["<!DOCTYPE html><html><body>503 Service Unavailable</body></html>"]]


DAMAGES = (
    overwrite_cell, overwrite_cells, overwrite_cells, add_column, remove_column, ragged_row, repeat_header,
    duplicate_row, padding_lines, swap_header_names, line_endings, encoding, undecodable_bytes, cut,
    html_instead,
)


def league_and_season(relpath: str) -> tuple[str, str | None]:
    league = Path(relpath).stem
    return league, (None if league in EXTRA_LEAGUES else Path(relpath).parent.name)


def check_every_line_is_placed(sample: Sample, outcomes: dict[str, int]) -> None:
    data = sample.to_bytes()
    league, season = league_and_season(sample.relpath)
    try:
        parsed = parse_source(data, sample.relpath)
        slices = partition_rows(parsed, league, season)
        results = {key: canonicalise(parsed, rows, snapshot_date=SNAPSHOT) for key, rows in slices.items()}
    except SourceFormatError as refused:
        # refused as a whole, by name, with a problem a person can act on
        assert str(refused).startswith(f"{sample.relpath}: ") and refused.problem
        assert "Traceback" not in refused.problem
        outcomes["refused"] += 1
        return
    placed: list[int] = []
    for key, result in results.items():
        canonical, quarantined = result.canonical, result.quarantined
        blank = result.raw.loc[result.raw["row_kind"] == "blank", "source_row"].tolist()
        placed += canonical["source_row"].tolist() + quarantined["source_row"].tolist() + blank
        for row in quarantined.itertuples():
            assert row.reason in QUARANTINE_REASONS and row.reason != "unreadable_row", row
            assert row.message.startswith(f"{sample.relpath} line {row.source_row}, field "), row.message
        # what is accepted passes every blocking check the warehouse runs
        for outcome in (
            quality.unique_match_ids(canonical),
            quality.goals_consistent(canonical),
            quality.odds_plausible(canonical),
            quality.dates_in_season(canonical, league, key),
            quality.rows_accounted(result.raw, canonical, quarantined, len(slices[key].rows)),
        ):
            assert outcome.passed, (outcome.description, outcome.examples)
        assert_storable(canonical)
        outcomes["canonical"] += len(canonical)
        outcomes["quarantined"] += len(quarantined)
    # every data line exactly once: nothing lost, nothing counted twice
    assert sorted(placed) == list(range(2, parsed.data_lines + 2))
    outcomes["accepted"] += 1


def assert_storable(canonical: pd.DataFrame) -> None:
    """What reaches the warehouse fits its column types and PostgreSQL's constraints."""
    for column in ("home_goals", "away_goals", "ht_home_goals", "ht_away_goals", "home_shots", "away_shots"):
        values = canonical[column].dropna()
        assert ((values >= 0) & (values < 2**31)).all(), column
    for column in ("home_team", "away_team", "source_home_team", "source_away_team", "competition"):
        for name in canonical[column]:
            assert name and team_name_problem(name) is None, (column, name)
    times = canonical["kickoff_time"].dropna()
    assert times.str.fullmatch(r"[0-2][0-9]:[0-5][0-9]").all()


def run_fuzzing(bases: tuple[str, ...], examples: int) -> dict[str, int]:
    outcomes = {"files": 0, "accepted": 0, "refused": 0, "canonical": 0, "quarantined": 0}
    damages_seen: set[str] = set()

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(damaged_files(bases))
    def one_file(case):
        sample, applied = case
        outcomes["files"] += 1
        damages_seen.update(applied)
        check_every_line_is_placed(sample, outcomes)

    with reproducible_generation():
        one_file()
    assert damages_seen == {damage.__name__ for damage in DAMAGES}
    return outcomes


def test_damaged_season_files_never_crash_and_lose_no_line():
    outcomes = run_fuzzing(MAIN_BASES, MAIN_FILE_EXAMPLES)
    assert outcomes["files"] >= MAIN_FILE_EXAMPLES
    # both outcomes occur in quantity: the damage is neither always fatal nor always harmless
    assert outcomes["accepted"] > MAIN_FILE_EXAMPLES // 4 and outcomes["refused"] > MAIN_FILE_EXAMPLES // 20
    assert outcomes["quarantined"] > 100 and outcomes["canonical"] > 1000


def test_damaged_multi_season_files_never_crash_and_lose_no_line():
    outcomes = run_fuzzing(EXTRA_BASES, EXTRA_FILE_EXAMPLES)
    assert outcomes["files"] >= EXTRA_FILE_EXAMPLES
    assert outcomes["accepted"] > EXTRA_FILE_EXAMPLES // 4 and outcomes["refused"] > 0
    assert outcomes["quarantined"] > 20 and outcomes["canonical"] > 500
