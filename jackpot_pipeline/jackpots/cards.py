"""Jackpot cards: file formats, validation and team resolution.

A *jackpot card* is the list of 1-20 fixtures an operator (SportPesa, Betika, ...) sells as one
jackpot; players pick 1 (home), X (draw) or 2 (away) for every fixture. Cards live in
``data/jackpots/`` as one JSON or CSV file per card (the suffix ``.json``/``.csv`` decides the
format; files named ``<stem>.results.csv`` are results files, see
:mod:`jackpot_pipeline.jackpots.scoring`, never cards). Files are UTF-8 (a BOM is accepted).

JSON card
---------
One object::

    {
      "jackpot_id": "sportpesa_mega_2024_05_18",     required, 1-64 characters of [A-Za-z0-9_-]
      "name": "Mega Jackpot 17",                      required, non-empty string
      "operator": "SportPesa",                        optional, string or null
      "owner": "analyst@example.com",                 optional, string or null
      "fixtures": [                                   required, 1-20 objects, in card order
        {
          "home": "Manchester United",                required, 2-100 characters
          "away": "Arsenal",                          required, 2-100 characters
          "league": "E0",                             optional, football-data league code or null
          "kickoff": "2024-05-19T16:00:00+01:00",     required, see "Kick-off" below
          "odds": {"home": 2.10, "draw": 3.40, "away": 3.25}
                                                      optional (or null): all three decimal odds
        }
      ]
    }

Fixture positions are 1-based in list order. Unknown keys are errors (a typo such as ``"odd"``
would otherwise drop the odds silently), and so is a key given twice in one object.

CSV card
--------
One row per fixture, comma-separated, header row first. Columns (any order, names
case-insensitive)::

    jackpot_id,name,operator,position,home_team,away_team,league,kickoff,odds_home,odds_draw,odds_away

``position`` and ``owner`` are optional columns, every other column is required (its cells may be
blank where the value is optional: ``operator``, ``owner``, ``league``, the three odds).
``jackpot_id``, ``name``, ``operator`` and ``owner`` describe the card and are repeated on every row;
they must agree on every row. With a ``position`` column the positions must be exactly 1..n (rows
may come in any order); without it, row order is card order. Rows whose cells are all blank are
skipped (spreadsheets leave them). Other columns are errors.

Values (both formats)
---------------------
* Team names: trimmed, inner whitespace collapsed, 2-100 characters, no control, invisible
  (zero-width) or undecodable characters (the same holds for ``name``, ``operator`` and
  ``owner``); home and away must differ. Two fixtures with the same home and away names (compared
  ignoring case and whitespace) are a duplicate.
* League: a football-data.co.uk code (``E0``, ``SP1``, ``ARG`` ...; case-insensitive), or
  blank/null when unknown (it is then inferred from the teams by :func:`resolve_card`).
* Kick-off: a date *and* a time, either ISO 8601 (``2024-05-19T16:00``, ``2024-05-19 16:00:00``,
  with an optional ``Z`` or ``+01:00`` offset within ±14:00) or day-first ``19/05/2024 16:00``,
  in ASCII digits, in the years 1900-2100. Without an offset it is the operator's local time, kept
  as written.
* Odds: decimal odds in [1.01, 1000]; all three (home, draw, away) or none.

Every problem raises :class:`CardError` naming the file, the fixture (1-based position) and the
field in the file's own vocabulary (``odds.draw`` in JSON, ``odds_draw`` in CSV).
:func:`load_cards` loads a folder card by card, so one bad card never stops the others.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from jackpot_pipeline.sources.fetch import sha256_bytes
from jackpot_pipeline.sources.leagues import ALL_LEAGUES
from jackpot_pipeline.sources.teams import TeamMatch, TeamResolver, clean_source_name, unreadable_character

__all__ = [
    "CARD_CSV_COLUMNS",
    "CARD_CSV_OPTIONAL_COLUMNS",
    "JACKPOT_ID_PATTERN",
    "MAX_FIXTURES",
    "MAX_ODDS",
    "MIN_ODDS",
    "RESULTS_SUFFIX",
    "CardError",
    "CardFixture",
    "Fallback",
    "FixtureWarning",
    "JackpotCard",
    "ResolvedFixture",
    "Severity",
    "card_sha256",
    "check_jackpot_id",
    "fixture_key",
    "load_card",
    "load_cards",
    "parse_card",
    "parse_kickoff",
    "resolve_card",
]

MAX_FIXTURES: Final = 20
MIN_ODDS: Final = 1.01
MAX_ODDS: Final = 1000.0
MIN_TEAM_NAME_LENGTH: Final = 2
MAX_TEAM_NAME_LENGTH: Final = 100
MAX_JACKPOT_ID_LENGTH: Final = 64
# The id names export files (data/exports/<jackpot_id>.json), so it must be a safe file name.
JACKPOT_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]+")
RESULTS_SUFFIX: Final = ".results.csv"

CARD_CSV_COLUMNS: Final = (
    "jackpot_id", "name", "operator", "home_team", "away_team", "league", "kickoff",
    "odds_home", "odds_draw", "odds_away",
)
CARD_CSV_OPTIONAL_COLUMNS: Final = ("position", "owner")
_CSV_CARD_LEVEL_COLUMNS: Final = ("jackpot_id", "name", "operator", "owner")

_JSON_CARD_KEYS: Final = frozenset({"jackpot_id", "name", "operator", "owner", "fixtures"})
_JSON_REQUIRED_CARD_KEYS: Final = ("jackpot_id", "name", "fixtures")
_JSON_FIXTURE_KEYS: Final = frozenset({"home", "away", "league", "kickoff", "odds"})
_JSON_REQUIRED_FIXTURE_KEYS: Final = ("home", "away", "kickoff")
_ODDS_SIDES: Final = ("home", "draw", "away")

_ISO_KICKOFF: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?", re.ASCII
)
_DAY_FIRST_KICKOFF: Final = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})", re.ASCII)
# Kick-offs must fit every place they go: pandas timestamps (1677-2262) and the UTC offsets
# PostgreSQL's jackpot_fixtures accepts.
KICKOFF_YEARS: Final = (1900, 2100)
MAX_UTC_OFFSET: Final = dt.timedelta(hours=14)
_MAX_JSON_DEPTH: Final = 32

Severity = Literal["info", "warning", "critical"]
Fallback = Literal["market_only", "league_prior"]


# --------------------------------------------------------------------------------------------
# Errors and data classes
# --------------------------------------------------------------------------------------------


class CardError(ValueError):
    """A card (or results) file that cannot be used, with where the problem is.

    ``file`` is the path as given, ``fixture`` the 1-based position (None for card-level
    problems) and ``field`` the key or column in the file's own vocabulary (None when the
    problem is the file as a whole, e.g. malformed JSON). ``line`` (CSV only) is added to the
    message, e.g. ``cards/x.csv, fixture 3 (line 4), field 'kickoff': ...``.
    """

    def __init__(
        self, file: str | Path, problem: str, *, fixture: int | None = None, field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = str(file)
        self.fixture = fixture
        self.field = field
        self.problem = problem
        where = [self.file]
        if fixture is not None:
            where.append(f"fixture {fixture}" + (f" (line {line})" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {problem}")


@dataclass(frozen=True)
class CardFixture:
    """One fixture of a card as written by the operator (names not yet resolved)."""

    position: int
    home_team: str
    away_team: str
    league: str | None
    kickoff: dt.datetime
    odds: tuple[float, float, float] | None

    @property
    def label(self) -> str:
        return f"{self.home_team} v {self.away_team}"

    def to_dict(self) -> dict[str, Any]:
        """The fixture in the JSON card format (plus its position)."""
        odds = None if self.odds is None else dict(zip(_ODDS_SIDES, self.odds, strict=True))
        return {
            "position": self.position,
            "home": self.home_team,
            "away": self.away_team,
            "league": self.league,
            "kickoff": self.kickoff.isoformat(),
            "odds": odds,
        }


@dataclass(frozen=True)
class JackpotCard:
    """A validated card. ``sha256`` is of the file's bytes, so a re-saved card is a new version."""

    jackpot_id: str
    name: str
    operator: str | None
    owner: str | None
    fixtures: tuple[CardFixture, ...]
    source_path: Path
    sha256: str

    @property
    def n_fixtures(self) -> int:
        return len(self.fixtures)

    @property
    def results_path(self) -> Path:
        """Where a results file for this card is looked for: ``<card stem>.results.csv`` beside it."""
        return self.source_path.with_name(self.source_path.stem + RESULTS_SUFFIX)

    def to_dict(self) -> dict[str, Any]:
        """The card in the JSON card format, with provenance (source path and sha256)."""
        return {
            "jackpot_id": self.jackpot_id,
            "name": self.name,
            "operator": self.operator,
            "owner": self.owner,
            "fixtures": [fixture.to_dict() for fixture in self.fixtures],
            "source_path": str(self.source_path),
            "sha256": self.sha256,
        }


# --------------------------------------------------------------------------------------------
# Value checks shared by both formats
# --------------------------------------------------------------------------------------------


def card_sha256(data: bytes | Path) -> str:
    """sha256 (hex) of a card file's bytes, or of the file at ``data`` when given a path."""
    return sha256_bytes(data.read_bytes() if isinstance(data, Path) else data)


def check_jackpot_id(value: str) -> str:
    """``value`` if it is a usable jackpot id, else ``ValueError`` saying why."""
    if not value:
        raise ValueError("jackpot_id is empty")
    if len(value) > MAX_JACKPOT_ID_LENGTH:
        raise ValueError(f"jackpot_id {value!r} is longer than {MAX_JACKPOT_ID_LENGTH} characters")
    if not JACKPOT_ID_PATTERN.fullmatch(value):
        bad = sorted({ch for ch in value if not JACKPOT_ID_PATTERN.fullmatch(ch)})
        raise ValueError(
            f"jackpot_id {value!r} contains {''.join(bad)!r}; only letters, digits, '_' and '-' are allowed"
        )
    return value


def fixture_key(home_team: str, away_team: str) -> tuple[str, str]:
    """Identity of a fixture on a card: names without any whitespace, casefolded."""
    return "".join(home_team.split()).casefold(), "".join(away_team.split()).casefold()


def parse_kickoff(text: str) -> dt.datetime:
    """A card's kick-off cell -> datetime (aware when an offset is given, naive otherwise).

    Accepts ISO 8601 date and time (``T`` or a space between them, optional seconds, optional
    ``Z``/``±HH:MM``) or day-first ``dd/mm/yyyy HH:MM``, ASCII digits only. A date without a time is
    rejected: a jackpot kick-off always has one, and midnight would silently be wrong. The year must
    lie in 1900-2100 and an offset within ±14:00 (the offsets that exist).
    """
    value = text.strip()
    day_first = _DAY_FIRST_KICKOFF.fullmatch(value)
    if _ISO_KICKOFF.fullmatch(value):
        try:
            kickoff = dt.datetime.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"kick-off {text!r} is not a real date and time ({error})") from None
    elif day_first:
        day, month, year, hour, minute = (int(part) for part in day_first.groups())
        try:
            kickoff = dt.datetime(year, month, day, hour, minute)
        except ValueError as error:
            raise ValueError(f"kick-off {text!r} is not a real date and time ({error})") from None
    elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}", value):
        raise ValueError(f"kick-off {text!r} has a date but no time")
    else:
        raise ValueError(
            f"kick-off {text!r} is not 'YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]' or 'DD/MM/YYYY HH:MM'"
        )
    if not KICKOFF_YEARS[0] <= kickoff.year <= KICKOFF_YEARS[1]:
        raise ValueError(f"kick-off {text!r} is not in the years {KICKOFF_YEARS[0]}-{KICKOFF_YEARS[1]}")
    offset = kickoff.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValueError(f"kick-off {text!r} has a UTC offset beyond ±14:00")
    return kickoff


@dataclass(frozen=True)
class _Where:
    """Location of the values being checked, for error messages."""

    file: str
    fixture: int | None = None
    line: int | None = None

    def error(self, problem: str, field: str | None = None) -> CardError:
        return CardError(self.file, problem, fixture=self.fixture, field=field, line=self.line)


def _team_name(where: _Where, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise where.error(f"team name must be a string, got {_describe(value)}", field)
    name = clean_source_name(value)
    bad = unreadable_character(name)
    if bad:
        raise where.error(f"team name {name!r} holds the invisible or undecodable character {bad}", field)
    if not MIN_TEAM_NAME_LENGTH <= len(name) <= MAX_TEAM_NAME_LENGTH:
        raise where.error(
            f"team name {name!r} has {len(name)} characters; allowed "
            f"{MIN_TEAM_NAME_LENGTH}-{MAX_TEAM_NAME_LENGTH}",
            field,
        )
    return name


def _league(where: _Where, field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise where.error(f"league must be a string code or null, got {_describe(value)}", field)
    code = value.strip().upper()
    if not code:
        return None
    if code not in ALL_LEAGUES:
        raise where.error(
            f"unknown league code {value.strip()!r}; known codes: {', '.join(ALL_LEAGUES)}", field
        )
    return code


def _kickoff(where: _Where, field: str, value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise where.error(f"kick-off must be a string, got {_describe(value)}", field)
    try:
        return parse_kickoff(value)
    except ValueError as error:
        raise where.error(str(error), field) from None


def _odds_value(where: _Where, field: str, value: object) -> float:
    # bool is an int subclass; true/false are never odds.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise where.error(f"odds must be a number, got {_describe(value)}", field)
    try:
        price = float(value)
    except OverflowError:
        price = math.inf
    if not math.isfinite(price) or not MIN_ODDS <= price <= MAX_ODDS:
        shown = f"of {len(str(abs(value)))} digits" if isinstance(value, int) and abs(value) >= 10**12 else repr(value)
        raise where.error(f"odds {shown} outside [{MIN_ODDS}, {MAX_ODDS:g}]", field)
    return price


def _optional_text(where: _Where, field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise where.error(f"must be a string or null, got {_describe(value)}", field)
    text = " ".join(value.replace("\ufeff", " ").split())
    bad = unreadable_character(text)
    if bad:
        raise where.error(f"{text!r} holds the invisible or undecodable character {bad}", field)
    return text or None


def _required_text(where: _Where, field: str, value: object) -> str:
    text = _optional_text(where, field, value)
    if text is None:
        raise where.error("must not be empty", field)
    return text


def _jackpot_id(where: _Where, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise where.error(f"jackpot_id must be a string, got {_describe(value)}", field)
    try:
        return check_jackpot_id(value.strip())
    except ValueError as error:
        raise where.error(str(error), field) from None


def _describe(value: object) -> str:
    kind = {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(type(value))
    if kind:
        return kind
    if isinstance(value, int) and abs(value) >= 10**12:
        return f"int of {len(str(abs(value)))} digits"
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def _check_fixture_count(file: str, count: int, field: str) -> None:
    if count == 0:
        raise CardError(file, "the card has no fixtures; a card holds 1 to 20", field=field)
    if count > MAX_FIXTURES:
        raise CardError(
            file, f"the card has {count} fixtures; a card holds at most {MAX_FIXTURES}", field=field
        )


def _check_fixtures(file: str, fixtures: Sequence[CardFixture], home_field: str) -> None:
    seen: dict[tuple[str, str], CardFixture] = {}
    for fixture in fixtures:
        home_key, away_key = fixture_key(fixture.home_team, fixture.away_team)
        if home_key == away_key:
            raise CardError(
                file, f"home and away team are the same ({fixture.home_team!r})",
                fixture=fixture.position, field=home_field,
            )
        key = fixture_key(fixture.home_team, fixture.away_team)
        earlier = seen.get(key)
        if earlier is not None:
            raise CardError(
                file,
                f"duplicate fixture: {fixture.label} is already fixture {earlier.position}",
                fixture=fixture.position, field=home_field,
            )
        seen[key] = fixture


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def _parse_json_card(text: str, file: str) -> dict[str, Any]:
    try:
        document = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as error:
        raise CardError(
            file, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except _DuplicateKey as duplicate:
        raise CardError(file, f"key {duplicate.key!r} appears twice in one object; which one counts is ambiguous",
                        field=duplicate.key) from None
    except RecursionError:
        raise CardError(file, "malformed JSON: nested too deeply to be a card") from None
    except ValueError:
        # json reads integers of more than 4300 digits as an error, not a JSONDecodeError
        raise CardError(file, "malformed JSON: a number too long to read") from None
    if _depth(document) > _MAX_JSON_DEPTH:
        raise CardError(file, "malformed JSON: nested too deeply to be a card")
    if not isinstance(document, dict):
        raise CardError(file, f"a JSON card must be an object, got {_describe(document)}")
    where = _Where(file)
    missing = [key for key in _JSON_REQUIRED_CARD_KEYS if key not in document]
    if missing:
        raise where.error(f"missing key(s) {', '.join(missing)}", missing[0])
    unknown = sorted(set(document) - _JSON_CARD_KEYS)
    if unknown:
        raise where.error(
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_JSON_CARD_KEYS))}",
            unknown[0],
        )
    raw_fixtures = document["fixtures"]
    if not isinstance(raw_fixtures, list):
        raise where.error(f"fixtures must be a list, got {_describe(raw_fixtures)}", "fixtures")
    header = {
        "jackpot_id": _jackpot_id(where, "jackpot_id", document["jackpot_id"]),
        "name": _required_text(where, "name", document["name"]),
        "operator": _optional_text(where, "operator", document.get("operator")),
        "owner": _optional_text(where, "owner", document.get("owner")),
    }
    _check_fixture_count(file, len(raw_fixtures), "fixtures")
    fixtures = [_json_fixture(file, position, raw) for position, raw in enumerate(raw_fixtures, 1)]
    _check_fixtures(file, fixtures, "home")
    return {**header, "fixtures": tuple(fixtures)}


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _depth(value: object) -> int:
    """Nesting depth of a JSON value, iteratively (a recursive walk is what deep input would break)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > _MAX_JSON_DEPTH:
            break
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _json_fixture(file: str, position: int, raw: object) -> CardFixture:
    where = _Where(file, position)
    if not isinstance(raw, dict):
        raise where.error(f"a fixture must be an object, got {_describe(raw)}")
    missing = [key for key in _JSON_REQUIRED_FIXTURE_KEYS if key not in raw]
    if missing:
        raise where.error(f"missing key(s) {', '.join(missing)}", missing[0])
    unknown = sorted(set(raw) - _JSON_FIXTURE_KEYS)
    if unknown:
        raise where.error(
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_JSON_FIXTURE_KEYS))}",
            unknown[0],
        )
    return CardFixture(
        position=position,
        home_team=_team_name(where, "home", raw["home"]),
        away_team=_team_name(where, "away", raw["away"]),
        league=_league(where, "league", raw.get("league")),
        kickoff=_kickoff(where, "kickoff", raw["kickoff"]),
        odds=_json_odds(where, raw.get("odds")),
    )


def _json_odds(where: _Where, raw: object) -> tuple[float, float, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise where.error(f"odds must be an object {{home, draw, away}} or null, got {_describe(raw)}",
                          "odds")
    unknown = sorted(set(raw) - set(_ODDS_SIDES))
    if unknown:
        raise where.error(f"unknown key(s) {', '.join(unknown)}; odds take home, draw, away",
                          f"odds.{unknown[0]}")
    given = [side for side in _ODDS_SIDES if raw.get(side) is not None]
    if len(given) != len(_ODDS_SIDES):
        absent = [side for side in _ODDS_SIDES if side not in given]
        raise where.error(
            f"partial odds: {', '.join(absent)} missing; give all of home, draw, away or none",
            f"odds.{absent[0]}",
        )
    home, draw, away = (_odds_value(where, f"odds.{side}", raw[side]) for side in _ODDS_SIDES)
    return home, draw, away


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _parse_csv_card(text: str, file: str) -> dict[str, Any]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise CardError(file, f"malformed CSV at line {reader.line_num}: {error}") from None
    if not records:
        raise CardError(file, "empty file: no header row")
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
    _check_fixture_count(file, len(rows), "fixtures")

    positions = _csv_positions(file, rows) if "position" in header else list(range(1, len(rows) + 1))
    header_values = _csv_card_header(file, rows, positions, has_owner="owner" in header)
    fixtures = sorted(
        (_csv_fixture(file, position, line, row)
         for position, (line, row) in zip(positions, rows, strict=True)),
        key=lambda fixture: fixture.position,
    )
    _check_fixtures(file, fixtures, "home_team")
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
    where = _Where(file)
    return {
        "jackpot_id": _jackpot_id(where, "jackpot_id", values["jackpot_id"]),
        "name": _required_text(where, "name", values["name"]),
        "operator": _optional_text(where, "operator", values["operator"]),
        "owner": _optional_text(where, "owner", values.get("owner")),
    }


def _csv_fixture(file: str, position: int, line: int, row: Mapping[str, str]) -> CardFixture:
    where = _Where(file, position, line)
    return CardFixture(
        position=position,
        home_team=_team_name(where, "home_team", row["home_team"]),
        away_team=_team_name(where, "away_team", row["away_team"]),
        league=_league(where, "league", row["league"]),
        kickoff=_kickoff(where, "kickoff", row["kickoff"]),
        odds=_csv_odds(where, row),
    )


def _csv_odds(where: _Where, row: Mapping[str, str]) -> tuple[float, float, float] | None:
    columns = [f"odds_{side}" for side in _ODDS_SIDES]
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
        prices.append(_odds_value(where, column, number))
    return prices[0], prices[1], prices[2]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def parse_card(data: bytes, path: str | Path, *, card_format: Literal["json", "csv"] | None = None) -> JackpotCard:
    """A card from its bytes. ``path`` is recorded and named in errors; its suffix picks the
    format unless ``card_format`` is given."""
    source = Path(path)
    file = str(path)
    if card_format is None:
        suffix = source.suffix.lower()
        if source.name.lower().endswith(RESULTS_SUFFIX):
            raise CardError(file, f"a {RESULTS_SUFFIX} file holds results, not a card")
        if suffix not in (".json", ".csv"):
            raise CardError(file, f"unsupported card file type {suffix or '(none)'!r}; use .json or .csv")
        card_format = "json" if suffix == ".json" else "csv"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CardError(file, f"not UTF-8 text (byte {error.start}: {data[error.start:error.start + 1]!r})") from None
    if not text.strip():
        raise CardError(file, "empty file")
    parsed = _parse_json_card(text, file) if card_format == "json" else _parse_csv_card(text, file)
    return JackpotCard(source_path=source, sha256=card_sha256(data), **parsed)


def load_card(path: str | Path) -> JackpotCard:
    """Read and validate one card file; raises :class:`CardError` on any problem."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as error:
        raise CardError(str(path), f"cannot read the file: {error.strerror or error}") from None
    return parse_card(data, path)


def _is_card_file(path: Path) -> bool:
    name = path.name.lower()
    return (
        path.is_file()
        and not name.startswith(".")  # editor swap files, our own atomic-write temp files
        and not name.endswith(RESULTS_SUFFIX)
        and path.suffix.lower() in (".json", ".csv")
    )


def load_cards(folder: str | Path) -> tuple[list[JackpotCard], list[CardError]]:
    """Every card in ``folder`` (``*.json``, ``*.csv``; not ``*.results.csv``, not hidden files),
    in file-name order, and one error per file that failed. Never raises for a bad card.

    Two files declaring the same ``jackpot_id`` would overwrite each other's exports, and neither
    can be preferred on principle, so both are rejected with an error naming the other file. A
    missing folder holds no cards.
    """
    root = Path(folder)
    if not root.is_dir():
        return [], []
    cards: list[JackpotCard] = []
    errors: list[CardError] = []
    for path in sorted(p for p in root.iterdir() if _is_card_file(p)):
        try:
            cards.append(load_card(path))
        except CardError as error:
            errors.append(error)
    by_id: dict[str, list[JackpotCard]] = {}
    for card in cards:
        by_id.setdefault(card.jackpot_id, []).append(card)
    kept: list[JackpotCard] = []
    for card in cards:
        twins = [other for other in by_id[card.jackpot_id] if other is not card]
        if twins:
            others = ", ".join(str(other.source_path) for other in twins)
            errors.append(CardError(card.source_path, f"jackpot_id {card.jackpot_id!r} is also declared by {others}",
                                    field="jackpot_id"))
        else:
            kept.append(card)
    errors.sort(key=lambda error: error.file)
    return kept, errors


# --------------------------------------------------------------------------------------------
# Team resolution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixtureWarning:
    """A note on a resolved fixture. ``critical`` means the model cannot price the fixture."""

    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass(frozen=True)
class ResolvedFixture:
    """A card fixture with its teams matched to canonical football-data names.

    ``league`` is the card's code when given (``league_source='card'``), else inferred from the
    teams (``'inferred'``), else None. ``fallback`` is None when the model can price the fixture;
    otherwise ``'market_only'`` (the card has operator odds) or ``'league_prior'`` (the league's
    average home/draw/away rates, or a global prior when the league is unknown).
    """

    fixture: CardFixture
    home: TeamMatch
    away: TeamMatch
    league: str | None
    league_source: Literal["card", "inferred"] | None
    fallback: Fallback | None
    warnings: tuple[FixtureWarning, ...]

    @property
    def position(self) -> int:
        return self.fixture.position

    @property
    def home_team(self) -> str | None:
        return self.home.team

    @property
    def away_team(self) -> str | None:
        return self.away.team

    @property
    def critical(self) -> bool:
        return any(warning.severity == "critical" for warning in self.warnings)

    @property
    def warning_messages(self) -> list[str]:
        return [str(warning) for warning in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "home_query": self.home.query,
            "away_query": self.away.query,
            "home_team": self.home.team,
            "away_team": self.away.team,
            "home_method": self.home.method,
            "away_method": self.away.method,
            "home_confidence": self.home.confidence,
            "away_confidence": self.away.confidence,
            "league": self.league,
            "league_source": self.league_source,
            "fallback": self.fallback,
            "warnings": [{"severity": w.severity, "message": w.message} for w in self.warnings],
        }


def resolve_card(card: JackpotCard, resolver: TeamResolver) -> list[ResolvedFixture]:
    """Resolve every fixture's teams; problems become warnings on that fixture, never exceptions."""
    return [_resolve_fixture(fixture, resolver) for fixture in card.fixtures]


def _resolve_fixture(fixture: CardFixture, resolver: TeamResolver) -> ResolvedFixture:
    warnings: list[FixtureWarning] = []
    league_source: Literal["card", "inferred"] | None
    if fixture.league is not None:
        home = resolver.resolve(fixture.home_team, fixture.league)
        away = resolver.resolve(fixture.away_team, fixture.league)
        league, league_source = fixture.league, "card"
    else:
        home = resolver.resolve(fixture.home_team)
        away = resolver.resolve(fixture.away_team)
        home, away, league, inference_warnings = _infer_league(fixture, home, away, resolver)
        league_source = "inferred" if league is not None else None
        warnings.extend(inference_warnings)

    for side, match in (("home", home), ("away", away)):
        warnings.extend(_match_warnings(side, match, fixture, resolver))
    if home.resolved and away.resolved and (home.team, home.league) == (away.team, away.league):
        warnings.append(FixtureWarning(
            "critical", f"home {home.query!r} and away {away.query!r} both resolve to {home.team}"
        ))
    fallback: Fallback | None = None
    if any(warning.severity == "critical" for warning in warnings):
        fallback = "market_only" if fixture.odds is not None else "league_prior"
    return ResolvedFixture(fixture, home, away, league, league_source, fallback, tuple(warnings))


def _infer_league(
    fixture: CardFixture, home: TeamMatch, away: TeamMatch, resolver: TeamResolver
) -> tuple[TeamMatch, TeamMatch, str | None, list[FixtureWarning]]:
    """League of a fixture the card gives none for: the resolved teams' common league.

    Teams answered in different divisions (searching all leagues answers a club in its latest
    one) are re-resolved in each of the two; exactly one division holding both by a deterministic
    method settles it with a warning, otherwise the league stays unknown (critical).
    """
    if not (home.resolved and away.resolved):
        # The unresolved side is critical anyway; the other side's league still lets the
        # fallback use that league's prior.
        known = home if home.resolved else away
        return home, away, known.league, []
    if home.league == away.league:
        return home, away, home.league, []
    sides = f"{home.query!r} -> {home.team} ({home.league}), {away.query!r} -> {away.team} ({away.league})"
    shared: list[tuple[str, TeamMatch, TeamMatch]] = []
    for league in dict.fromkeys((home.league, away.league)):
        assert league is not None  # resolved matches always carry their league
        in_home, in_away = resolver.resolve(fixture.home_team, league), resolver.resolve(fixture.away_team, league)
        if in_home.method not in ("unresolved", "fuzzy") and in_away.method not in ("unresolved", "fuzzy"):
            shared.append((league, in_home, in_away))
    if len(shared) == 1:
        league, in_home, in_away = shared[0]
        note = FixtureWarning(
            "warning", f"no league on the card and the teams resolve to different leagues ({sides}); "
                       f"used {league}, the one league holding both"
        )
        return in_home, in_away, league, [note]
    reason = "both" if shared else "neither"
    note = FixtureWarning(
        "critical", f"no league on the card and the teams resolve to different leagues ({sides}); "
                    f"{reason} of the two divisions holds both teams: give the fixture a league"
    )
    return home, away, None, [note]


def _match_warnings(
    side: str, match: TeamMatch, fixture: CardFixture, resolver: TeamResolver
) -> Iterable[FixtureWarning]:
    if not match.resolved:
        hint = ""
        if fixture.league is not None:
            # The card's league is authoritative, but saying where the name does resolve
            # turns "unresolved" into an actionable fix (a promoted club, a wrong code).
            elsewhere = resolver.resolve(match.query)
            if elsewhere.resolved:
                hint = f" (resolves to {elsewhere.team} in {elsewhere.league}: check the fixture's league)"
        yield FixtureWarning(
            "critical", f"{side} team {match.query!r} not resolved: {match.warning or 'no match'}{hint}"
        )
    elif match.warning:
        yield FixtureWarning(
            "warning",
            f"{side} team {match.query!r} -> {match.team} ({match.league}, {match.method}, "
            f"confidence {match.confidence:.2f}): {match.warning}",
        )
    elif match.method == "fuzzy":
        yield FixtureWarning(
            "info", f"{side} team {match.query!r} -> {match.team} ({match.league}) by fuzzy match, "
                    f"confidence {match.confidence:.2f}"
        )
