"""Reading a CSV card (see :mod:`jackpot_pipeline.jackpots.cards` for the format)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from jackpot_pipeline.jackpots.cards.fields import (
    Where,
    check_fixture_count,
    check_fixtures,
    read_card_values,
    read_fixture,
    read_odds,
)
from jackpot_pipeline.jackpots.cards.model import ODDS_SIDES, CardError, CardFixture

CARD_CSV_COLUMNS: Final = (
    "jackpot_id", "name", "operator", "home_team", "away_team", "league", "kickoff",
    "odds_home", "odds_draw", "odds_away",
)
CARD_CSV_OPTIONAL_COLUMNS: Final = ("position", "owner")
_CSV_CARD_LEVEL_COLUMNS: Final = ("jackpot_id", "name", "operator", "owner")


def read_csv_records(text: str, file: str, error: type[CardError] = CardError) -> list[tuple[int, list[str]]]:
    """Every record of a CSV card (or results file) with its line number, the header first.

    Raises ``error`` (a :class:`CardError` type) for malformed CSV and for a text without records.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as problem:
        raise error(file, f"malformed CSV at line {reader.line_num}: {problem}") from None
    if not records:
        raise error(file, "empty file: no header row")
    return records


def parse_csv_card(text: str, file: str) -> dict[str, Any]:
    """The keyword arguments of :class:`JackpotCard` (all but source path and digest) read from a CSV
    card's text; :class:`CardError` naming ``file`` on any problem."""
    records = read_csv_records(text, file)
    header_line, raw_header = records[0]
    header = [cell.strip().lower() for cell in raw_header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise CardError(file, f"duplicate column(s) {', '.join(duplicated)}", field=duplicated[0],
                        line=header_line)
    missing = [column for column in CARD_CSV_COLUMNS if column not in header]
    if missing:
        hint = " (the file looks semicolon-separated; cards use commas)" if ";" in ",".join(raw_header) else ""
        raise CardError(file, f"missing column(s) {', '.join(missing)}{hint}", field=missing[0],
                        line=header_line)
    unknown = [c for c in header if c not in CARD_CSV_COLUMNS and c not in CARD_CSV_OPTIONAL_COLUMNS]
    if unknown:
        allowed = ", ".join((*CARD_CSV_COLUMNS, *CARD_CSV_OPTIONAL_COLUMNS))
        raise CardError(file, f"unknown column(s) {', '.join(unknown)}; allowed: {allowed}",
                        field=unknown[0], line=header_line)

    rows: list[tuple[int, dict[str, str]]] = []
    for line, cells in records[1:]:
        if all(not cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise CardError(file, f"row has {len(cells)} cells, the header has {len(header)}", line=line)
        rows.append((line, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}))
    check_fixture_count(file, len(rows), "fixtures")

    positions = _csv_positions(file, rows) if "position" in header else list(range(1, len(rows) + 1))
    header_values = _csv_card_header(file, rows, positions, has_owner="owner" in header)
    fixtures = sorted(
        (_csv_fixture(file, position, line, row)
         for position, (line, row) in zip(positions, rows, strict=True)),
        key=lambda fixture: fixture.position,
    )
    check_fixtures(file, fixtures, "home_team")
    return {**header_values, "fixtures": tuple(fixtures)}


def _csv_positions(file: str, rows: Sequence[tuple[int, dict[str, str]]]) -> list[int]:
    positions: list[int] = []
    first_line: dict[int, int] = {}
    for line, row in rows:
        cell = row["position"]
        if not re.fullmatch(r"[0-9]{1,6}", cell) or not 1 <= int(cell) <= len(rows):
            raise CardError(
                file, f"position {cell!r} is not a whole number from 1 to {len(rows)} (the number of fixtures)",
                field="position", line=line,
            )
        position = int(cell)
        if position in first_line:
            raise CardError(file, f"position {position} already used on line {first_line[position]}",
                            fixture=position, field="position", line=line)
        first_line[position] = line
        positions.append(position)
    return positions


def _csv_card_header(
    file: str, rows: Sequence[tuple[int, dict[str, str]]], positions: Sequence[int], *, has_owner: bool
) -> dict[str, Any]:
    columns = [c for c in _CSV_CARD_LEVEL_COLUMNS if c != "owner" or has_owner]
    values: dict[str, str] = {}
    first_position: dict[str, int] = {}
    for position, (line, row) in sorted(zip(positions, rows, strict=True)):
        for column in columns:
            value = " ".join(row[column].split())
            if column not in values:
                values[column], first_position[column] = value, position
            elif value != values[column]:
                raise CardError(
                    file,
                    f"inconsistent {column} across rows: {values[column]!r} on fixture "
                    f"{first_position[column]}, {value!r} here; card-level columns must agree on every row",
                    fixture=position, field=column, line=line,
                )
    return read_card_values(file, values)


def _csv_fixture(file: str, position: int, line: int, row: Mapping[str, str]) -> CardFixture:
    where = Where(file, position, line)
    return read_fixture(where, position, "home_team", "away_team", row, lambda: _csv_odds(where, row))


def _csv_odds(where: Where, row: Mapping[str, str]) -> tuple[float, float, float] | None:
    columns = [f"odds_{side}" for side in ODDS_SIDES]
    blank = [column for column in columns if not row[column]]
    if len(blank) == len(columns):
        return None
    if blank:
        raise where.error(
            f"partial odds: {', '.join(blank)} blank; give all of odds_home, odds_draw, odds_away or none",
            blank[0],
        )
    prices: list[float] = []
    for column in columns:
        try:
            number = float(row[column])
        except ValueError:
            raise where.error(f"odds {row[column]!r} is not a decimal number", column) from None
        prices.append(read_odds(where, column, number))
    return prices[0], prices[1], prices[2]
