"""Reading one value of a card (team name, league, kick-off, odds, text) with the error naming its place.

Shared by both formats; each ``read_*`` takes a :class:`Where`, the field's name in the file's own
vocabulary and the raw value, and returns the checked value or raises :class:`CardError`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jackpot_pipeline.jackpots.cards.model import (
    MAX_FIXTURES,
    MAX_ODDS,
    MIN_ODDS,
    CardError,
    CardFixture,
    check_jackpot_id,
    fixture_key,
    parse_kickoff,
)
from jackpot_pipeline.sources.leagues import ALL_LEAGUES
from jackpot_pipeline.sources.teams import MAX_TEAM_NAME_LENGTH, clean_source_name, unreadable_character

MIN_TEAM_NAME_LENGTH: Final = 2


@dataclass(frozen=True)
class Where:
    """Location of the values being checked, for error messages."""

    file: str
    fixture: int | None = None
    line: int | None = None

    def error(self, problem: str, field: str | None = None) -> CardError:
        return CardError(self.file, problem, fixture=self.fixture, field=field, line=self.line)


def _read_team_name(where: Where, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise where.error(f"team name must be a string, got {describe(value)}", field)
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


def _read_league(where: Where, field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise where.error(f"league must be a string code or null, got {describe(value)}", field)
    code = value.strip().upper()
    if not code:
        return None
    if code not in ALL_LEAGUES:
        raise where.error(
            f"unknown league code {value.strip()!r}; known codes: {', '.join(ALL_LEAGUES)}", field
        )
    return code


def _read_kickoff(where: Where, field: str, value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise where.error(f"kick-off must be a string, got {describe(value)}", field)
    try:
        return parse_kickoff(value)
    except ValueError as error:
        raise where.error(str(error), field) from None


def read_odds(where: Where, field: str, value: object) -> float:
    # bool is an int subclass; true/false are never odds.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise where.error(f"odds must be a number, got {describe(value)}", field)
    try:
        price = float(value)
    except OverflowError:
        price = math.inf
    if not math.isfinite(price) or not MIN_ODDS <= price <= MAX_ODDS:
        shown = f"of {len(str(abs(value)))} digits" if isinstance(value, int) and abs(value) >= 10**12 else repr(value)
        raise where.error(f"odds {shown} outside [{MIN_ODDS}, {MAX_ODDS:g}]", field)
    return price


def _read_optional_text(where: Where, field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise where.error(f"must be a string or null, got {describe(value)}", field)
    text = " ".join(value.replace("\ufeff", " ").split())
    bad = unreadable_character(text)
    if bad:
        raise where.error(f"{text!r} holds the invisible or undecodable character {bad}", field)
    return text or None


def _read_required_text(where: Where, field: str, value: object) -> str:
    text = _read_optional_text(where, field, value)
    if text is None:
        raise where.error("must not be empty", field)
    return text


def _read_jackpot_id(where: Where, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise where.error(f"jackpot_id must be a string, got {describe(value)}", field)
    try:
        return check_jackpot_id(value.strip())
    except ValueError as error:
        raise where.error(str(error), field) from None


def describe(value: object) -> str:
    kind = {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(type(value))
    if kind:
        return kind
    if isinstance(value, int) and abs(value) >= 10**12:
        return f"int of {len(str(abs(value)))} digits"
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def read_card_values(file: str, values: Mapping[str, object]) -> dict[str, Any]:
    """The card-level values of either format: jackpot_id and name (required), operator and owner."""
    where = Where(file)
    return {
        "jackpot_id": _read_jackpot_id(where, "jackpot_id", values["jackpot_id"]),
        "name": _read_required_text(where, "name", values["name"]),
        "operator": _read_optional_text(where, "operator", values.get("operator")),
        "owner": _read_optional_text(where, "owner", values.get("owner")),
    }


def read_fixture(
    where: Where, position: int, home: str, away: str, values: Mapping[str, object],
    read_fixture_odds: Callable[[], tuple[float, float, float] | None],
) -> CardFixture:
    """A fixture of either format: ``home``/``away`` name the team fields (``league`` and ``kickoff`` are
    named alike in both); the odds, read last, come from the format's own ``read_fixture_odds``."""
    return CardFixture(
        position=position,
        home_team=_read_team_name(where, home, values[home]),
        away_team=_read_team_name(where, away, values[away]),
        league=_read_league(where, "league", values.get("league")),
        kickoff=_read_kickoff(where, "kickoff", values["kickoff"]),
        odds=read_fixture_odds(),
    )


def check_fixture_count(file: str, count: int, field: str) -> None:
    if count == 0:
        raise CardError(file, "the card has no fixtures; a card holds 1 to 20", field=field)
    if count > MAX_FIXTURES:
        raise CardError(
            file, f"the card has {count} fixtures; a card holds at most {MAX_FIXTURES}", field=field
        )


def check_fixtures(file: str, fixtures: Sequence[CardFixture], home_field: str) -> None:
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
