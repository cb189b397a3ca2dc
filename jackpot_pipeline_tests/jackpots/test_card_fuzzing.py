"""Damaged jackpot cards: every generated JSON or CSV card is either accepted, and then usable by
every later step, or refused with a :class:`CardError` naming the file; nothing else escapes.

Cards are built from the shipped sample card and from real fixtures of the shared football-data
files (their team names, dates, kick-off times and Bet365 odds), then damaged: keys dropped, added
or repeated, values replaced with hostile ones, fixtures removed, duplicated or multiplied past the
limit, CSV columns dropped, repeated, renamed or reordered, rows made ragged, other separators,
line endings and encodings, and cuts at an arbitrary byte. Derandomised, so CI sees the same cards
on every run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from jackpot_pipeline.jackpots.cards import (
    JACKPOT_ID_PATTERN,
    MAX_FIXTURES,
    MAX_ODDS,
    MIN_ODDS,
    CardError,
    JackpotCard,
    fixture_key,
    parse_card,
)
from jackpot_pipeline.jackpots.predict import kickoff_local
from jackpot_pipeline.sources.leagues import ALL_LEAGUES
from jackpot_pipeline.sources.teams import unreadable_character
from jackpot_pipeline_tests.conftest import SHARED_FOOTBALL_DATA
from jackpot_pipeline_tests.fuzzing import FUZZ_SETTINGS, reproducible_generation
from jackpot_pipeline_tests.jackpots import read_canonical_matches

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CARD = PROJECT_ROOT / "data" / "jackpots" / "sample_2324_final.json"
JSON_CARD_EXAMPLES = 600
CSV_CARD_EXAMPLES = 500
REAL_FILES = ("mmz4281/2324/E0.csv", "mmz4281/2324/SP1.csv", "mmz4281/2223/D1.csv", "new/BRA.csv", "new/JPN.csv")

HOSTILE_VALUES: tuple[Any, ...] = (
    None, "", "   ", 0, -1, 1, 1.0, 1.005, 1.01, 1000, 1000.0001, 10**400, 10**20, math.nan, math.inf, -math.inf,
    True, False, [], {}, [1, 2, 3], {"home": 2.0}, "A", "x" * 101, "\x00", "\x07bell", "Team\u200bName",
    "\ud800", "\ufffd\ufffd", "Arsenal", "arsenal ", "E0", "e0", "ZZ", "ARG", "2024-02-30T10:00",
    "2024-05-19", "2024-05-19T16:00:00+15:00", "2024-05-19T16:00:00+14:00", "2024-05-19T16:00Z",
    "19/05/2024 16:00", "19/05/2024 25:00", "9999-01-01T00:00", "0001-01-01T00:00",
    "\u0661\u0669/\u0660\u0665/\u0662\u0660\u0662\u0664 16:00", "\uff12\uff10\uff12\uff14-05-19T16:00",
    "mega_17-2024", "bad id!", "x" * 65, "2.10", "1e309", "nan", "-0", "0x10",
)
values = st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=20), st.floats(), st.integers())


@cache
def sample_card() -> dict[str, Any]:
    return json.loads(SAMPLE_CARD.read_text(encoding="utf-8"))


@cache
def real_fixtures() -> tuple[dict[str, Any], ...]:
    """Fixtures of real matches: canonical names, date and kick-off time, Bet365 (or other) odds."""
    matches = read_canonical_matches(SHARED_FOOTBALL_DATA, REAL_FILES)
    fixtures = []
    for row in matches.itertuples():
        odds = None if pd.isna(row.odds_home) else {"home": row.odds_home, "draw": row.odds_draw, "away": row.odds_away}
        kickoff = f"{row.match_date:%Y-%m-%d}T{row.kickoff_time or '15:00'}"
        fixtures.append({"home": row.home_team, "away": row.away_team, "league": row.league, "kickoff": kickoff,
                         "odds": odds})
    return tuple(fixtures)


@st.composite
def base_cards(draw) -> dict[str, Any]:
    if draw(st.booleans()):
        return json.loads(json.dumps(sample_card()))
    fixtures = real_fixtures()
    start = draw(st.integers(0, len(fixtures) - MAX_FIXTURES))
    count = draw(st.integers(1, MAX_FIXTURES))
    return {"jackpot_id": f"real_{start}", "name": f"Real fixtures from {start}", "operator": "football-data",
            "owner": draw(st.sampled_from([None, "analyst"])),
            "fixtures": json.loads(json.dumps(fixtures[start : start + count]))}


# --- damages of the card's content (both formats) --------------------------------------------------


def replace_card_value(draw, card: dict[str, Any]) -> None:
    card[draw(st.sampled_from(["jackpot_id", "name", "operator", "owner", "fixtures"]))] = draw(values)


def replace_fixture_value(draw, card: dict[str, Any]) -> None:
    fixtures = card.get("fixtures")
    if isinstance(fixtures, list) and fixtures and isinstance(fixtures[-1], dict):
        fixture = draw(st.sampled_from(fixtures))
        if isinstance(fixture, dict):
            fixture[draw(st.sampled_from(["home", "away", "league", "kickoff", "odds"]))] = draw(values)


def replace_odds_value(draw, card: dict[str, Any]) -> None:
    fixtures = card.get("fixtures")
    if isinstance(fixtures, list) and fixtures:
        fixture = draw(st.sampled_from(fixtures))
        if isinstance(fixture, dict) and isinstance(fixture.get("odds"), dict):
            fixture["odds"][draw(st.sampled_from(["home", "draw", "away", "odd"]))] = draw(values)


def drop_key(draw, card: dict[str, Any]) -> None:
    target = card
    fixtures = card.get("fixtures")
    if draw(st.booleans()) and isinstance(fixtures, list) and fixtures and isinstance(fixtures[0], dict):
        target = fixtures[0]
    if target:
        del target[draw(st.sampled_from(sorted(target)))]


def unknown_key(draw, card: dict[str, Any]) -> None:
    card[draw(st.sampled_from(["odd", "Name", "fixture", "notes"]))] = draw(values)


def fixture_count(draw, card: dict[str, Any]) -> None:
    fixtures = card.get("fixtures")
    if isinstance(fixtures, list):
        how = draw(st.sampled_from(["none", "too_many", "duplicate", "same_teams", "twenty"]))
        if how == "none":
            fixtures.clear()
        elif fixtures and how == "too_many":
            fixtures.extend(json.loads(json.dumps(fixtures)) * (MAX_FIXTURES // len(fixtures) + 1))
        elif fixtures and how == "duplicate":
            fixtures.append(json.loads(json.dumps(fixtures[0])))
        elif fixtures and how == "same_teams" and isinstance(fixtures[0], dict):
            fixtures[0]["away"] = str(fixtures[0].get("home", "")).upper()
        elif how == "twenty":
            fixtures.extend(json.loads(json.dumps(real_fixtures()[: MAX_FIXTURES - len(fixtures)])))


CONTENT_DAMAGES = (
    replace_card_value, replace_fixture_value, replace_fixture_value, replace_odds_value, drop_key,
    unknown_key, fixture_count,
)


# --- damages of the bytes --------------------------------------------------------------------------


BYTE_DAMAGES = ("cut", "bom", "utf16", "latin1", "bad_byte", "nul", "empty")
JSON_TEXT_DAMAGES = ("repeat_key", "deep", "long_number", "not_object", "trailing")


def damage_bytes(draw, data: bytes, applied: list[str]) -> bytes:
    how = draw(st.sampled_from(("none",) * 8 + BYTE_DAMAGES))
    applied.append(how)
    if how == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "utf16":
        return data.decode("utf-8", errors="surrogatepass").encode("utf-16", errors="surrogatepass")
    if how == "latin1":
        return data.decode("utf-8", errors="surrogatepass").encode("latin-1", errors="replace")
    if how in ("bad_byte", "nul"):
        where = draw(st.integers(0, len(data)))
        return data[:where] + (b"\xff\xfe\xc3" if how == "bad_byte" else b"\x00") + data[where:]
    if how == "empty":
        return draw(st.sampled_from([b"", b"   \n", b"\n\n"]))
    return data


# --- JSON ------------------------------------------------------------------------------------------


def json_text_damage(draw, text: str, applied: list[str]) -> str:
    how = draw(st.sampled_from(("none",) * 8 + JSON_TEXT_DAMAGES))
    applied.append(how)
    if how == "repeat_key":
        return text.replace("{", '{"name": "twice", ', 1)
    if how == "deep":
        depth = draw(st.sampled_from([40, 5000, 200000]))
        return text.replace('"fixtures": [', '"fixtures": [' + "[" * depth, 1) + "]" * depth
    if how == "long_number":
        return re.sub(r"\d+\.\d+", "9" * draw(st.sampled_from([30, 5000])), text, count=1)
    if how == "not_object":
        return draw(st.sampled_from(["[]", "null", '"card"', "42", "[" + text + "]"]))
    if how == "trailing":
        return text + draw(st.sampled_from(["}", ",", "\n{}"]))
    return text


def content_damaged_card(draw) -> tuple[dict[str, Any], list[str]]:
    """A base card with up to three content damages applied, and the names of those applied."""
    card = draw(base_cards())
    applied = []
    for damage in draw(st.lists(st.sampled_from(CONTENT_DAMAGES), max_size=3)):
        applied.append(damage.__name__)
        damage(draw, card)
    return card, applied


@st.composite
def damaged_json_cards(draw) -> tuple[bytes, list[str]]:
    card, applied = content_damaged_card(draw)
    text = json.dumps(card, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1])))
    damaged = json_text_damage(draw, text, applied).encode("utf-8", errors="surrogatepass")
    return damage_bytes(draw, damaged, applied), applied


# --- CSV -------------------------------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


@st.composite
def damaged_csv_cards(draw) -> tuple[bytes, list[str]]:
    card, applied = content_damaged_card(draw)
    columns = ["jackpot_id", "name", "operator", "position", "home_team", "away_team", "league", "kickoff",
               "odds_home", "odds_draw", "odds_away"]
    if draw(st.booleans()):
        columns.append("owner")
    rows = []
    fixtures = card.get("fixtures") if isinstance(card.get("fixtures"), list) else [card.get("fixtures")]
    for position, fixture in enumerate(fixtures, start=1):
        fixture = fixture if isinstance(fixture, dict) else {"home": fixture}
        odds = fixture.get("odds") if isinstance(fixture.get("odds"), dict) else {}
        rows.append({
            "jackpot_id": card.get("jackpot_id"), "name": card.get("name"), "operator": card.get("operator"),
            "owner": card.get("owner"), "position": position, "home_team": fixture.get("home"),
            "away_team": fixture.get("away"), "league": fixture.get("league"), "kickoff": fixture.get("kickoff"),
            "odds_home": odds.get("home"), "odds_draw": odds.get("draw"), "odds_away": odds.get("away"),
        })
    table = [list(columns)] + [[csv_cell(row[column]) for column in columns] for row in rows]
    for damage in draw(st.lists(st.sampled_from(CSV_DAMAGES), max_size=3)):
        applied.append(damage.__name__)
        damage(draw, table)
    out = io.StringIO()
    delimiter = draw(st.sampled_from([",", ",", ",", ";"]))
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerows(table)
    text = out.getvalue()
    if draw(st.integers(0, 9)) == 0:
        text = text.replace('"', "", 1)  # an unbalanced quote
    return damage_bytes(draw, text.encode("utf-8", errors="surrogatepass"), applied), applied


def csv_drop_column(draw, table: list[list[str]]) -> None:
    where = draw(st.integers(0, len(table[0]) - 1))
    for row in table:
        if where < len(row):
            del row[where]


def csv_rename_column(draw, table: list[list[str]]) -> None:
    where = draw(st.integers(0, len(table[0]) - 1))
    table[0][where] = draw(st.sampled_from(["POSITION", " Home_Team ", "home", "jackpot_id", "extra", ""]))


def csv_reorder_columns(draw, table: list[list[str]]) -> None:
    order = draw(st.permutations(range(len(table[0]))))
    for index, row in enumerate(table):
        table[index] = [row[i] if i < len(row) else "" for i in order]


def csv_overwrite_cell(draw, table: list[list[str]]) -> None:
    row = table[draw(st.integers(0, len(table) - 1))]
    if row:
        row[draw(st.integers(0, len(row) - 1))] = draw(st.one_of(
            st.sampled_from(["", "0", "21", "01", "1.0", "9" * 5000, "\u0661", "-1", "1e400", "x;y", "\x00"]),
            values.map(csv_cell),
        ))


def csv_ragged_row(draw, table: list[list[str]]) -> None:
    row = table[draw(st.integers(0, len(table) - 1))]
    if draw(st.booleans()) and row:
        row.pop()
    else:
        row.append(draw(st.sampled_from(["", "extra"])))


def csv_blank_rows(draw, table: list[list[str]]) -> None:
    table.insert(draw(st.integers(1, len(table))), [""] * draw(st.integers(0, len(table[0]))))


def csv_repeat_header(draw, table: list[list[str]]) -> None:
    table.insert(draw(st.integers(1, len(table))), list(table[0]))


CSV_DAMAGES = (
    csv_drop_column, csv_rename_column, csv_reorder_columns, csv_overwrite_cell, csv_overwrite_cell,
    csv_ragged_row, csv_blank_rows, csv_repeat_header,
)


# --- the property ----------------------------------------------------------------------------------


def check_card_or_clear_error(data: bytes, path: str, outcomes: dict[str, int]) -> None:
    try:
        card = parse_card(data, path)
    except CardError as refused:
        assert str(refused).startswith(f"{path}") and refused.problem and refused.file == path
        assert "Traceback" not in str(refused)
        outcomes["refused"] += 1
        return
    assert_usable(card)
    outcomes["accepted"] += 1


def assert_usable(card: JackpotCard) -> None:
    """An accepted card keeps every promise of the card specification, and survives what follows:
    exports (UTF-8 JSON), the warehouse (no NUL, pandas timestamps) and PostgreSQL's constraints."""
    assert JACKPOT_ID_PATTERN.fullmatch(card.jackpot_id) and len(card.jackpot_id) <= 64
    assert card.name and 1 <= card.n_fixtures <= MAX_FIXTURES
    assert [fixture.position for fixture in card.fixtures] == list(range(1, card.n_fixtures + 1))
    keys = [fixture_key(f.home_team, f.away_team) for f in card.fixtures]
    assert len(set(keys)) == len(keys) and all(home != away for home, away in keys)
    for fixture in card.fixtures:
        for name in (fixture.home_team, fixture.away_team):
            assert 2 <= len(name) <= 100 and unreadable_character(name) is None
        assert fixture.league is None or fixture.league in ALL_LEAGUES
        assert fixture.odds is None or all(math.isfinite(p) and MIN_ODDS <= p <= MAX_ODDS for p in fixture.odds)
        offset = fixture.kickoff.utcoffset()
        assert offset is None or abs(offset) <= dt.timedelta(hours=14)
        kickoff_local(fixture.kickoff)  # inside pandas' timestamp range
    for text in (card.name, card.operator, card.owner):
        assert text is None or unreadable_character(text) is None
    json.dumps(card.to_dict(), ensure_ascii=False).encode("utf-8")


def run_fuzzing(strategy, suffix: str, examples: int) -> dict[str, int]:
    outcomes = {"cards": 0, "accepted": 0, "refused": 0}
    damages_seen: set[str] = set()

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(strategy)
    def one_card(case):
        data, applied = case
        outcomes["cards"] += 1
        damages_seen.update(applied)
        check_card_or_clear_error(data, f"cards/fuzzed{suffix}", outcomes)

    with reproducible_generation():
        one_card()
    return {**outcomes, "damages": damages_seen}


def test_damaged_json_cards_are_accepted_or_refused_clearly():
    outcomes = run_fuzzing(damaged_json_cards(), ".json", JSON_CARD_EXAMPLES)
    assert outcomes["cards"] >= JSON_CARD_EXAMPLES
    assert outcomes["damages"] >= {d.__name__ for d in CONTENT_DAMAGES} | set(JSON_TEXT_DAMAGES) | set(BYTE_DAMAGES)
    assert outcomes["accepted"] > JSON_CARD_EXAMPLES // 10 and outcomes["refused"] > JSON_CARD_EXAMPLES // 4


def test_damaged_csv_cards_are_accepted_or_refused_clearly():
    outcomes = run_fuzzing(damaged_csv_cards(), ".csv", CSV_CARD_EXAMPLES)
    assert outcomes["cards"] >= CSV_CARD_EXAMPLES
    assert outcomes["damages"] >= {d.__name__ for d in CONTENT_DAMAGES + CSV_DAMAGES} | set(BYTE_DAMAGES)
    assert outcomes["accepted"] > CSV_CARD_EXAMPLES // 10 and outcomes["refused"] > CSV_CARD_EXAMPLES // 4
