"""Reading a JSON card (see :mod:`jackpot_pipeline.jackpots.cards` for the format)."""

from __future__ import annotations

import json
from typing import Any, Final

from jackpot_pipeline.jackpots.cards.fields import (
    Where,
    check_fixture_count,
    check_fixtures,
    describe,
    read_card_values,
    read_fixture,
    read_odds,
)
from jackpot_pipeline.jackpots.cards.model import ODDS_SIDES, CardError, CardFixture

_JSON_CARD_KEYS: Final = frozenset({"jackpot_id", "name", "operator", "owner", "fixtures"})
_JSON_REQUIRED_CARD_KEYS: Final = ("jackpot_id", "name", "fixtures")
_JSON_FIXTURE_KEYS: Final = frozenset({"home", "away", "league", "kickoff", "odds"})
_JSON_REQUIRED_FIXTURE_KEYS: Final = ("home", "away", "kickoff")
_MAX_JSON_DEPTH: Final = 32


def parse_json_card(text: str, file: str) -> dict[str, Any]:
    """The keyword arguments of :class:`JackpotCard` (all but source path and digest) read from a JSON
    card's text; :class:`CardError` naming ``file`` on any problem."""
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
        raise CardError(file, f"a JSON card must be an object, got {describe(document)}")
    where = Where(file)
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
        raise where.error(f"fixtures must be a list, got {describe(raw_fixtures)}", "fixtures")
    header = read_card_values(file, document)
    check_fixture_count(file, len(raw_fixtures), "fixtures")
    fixtures = [_json_fixture(file, position, raw) for position, raw in enumerate(raw_fixtures, 1)]
    check_fixtures(file, fixtures, "home")
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
    where = Where(file, position)
    if not isinstance(raw, dict):
        raise where.error(f"a fixture must be an object, got {describe(raw)}")
    missing = [key for key in _JSON_REQUIRED_FIXTURE_KEYS if key not in raw]
    if missing:
        raise where.error(f"missing key(s) {', '.join(missing)}", missing[0])
    unknown = sorted(set(raw) - _JSON_FIXTURE_KEYS)
    if unknown:
        raise where.error(
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_JSON_FIXTURE_KEYS))}",
            unknown[0],
        )
    return read_fixture(where, position, "home", "away", raw, lambda: _json_odds(where, raw.get("odds")))


def _json_odds(where: Where, raw: object) -> tuple[float, float, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise where.error(f"odds must be an object {{home, draw, away}} or null, got {describe(raw)}",
                          "odds")
    unknown = sorted(set(raw) - set(ODDS_SIDES))
    if unknown:
        raise where.error(f"unknown key(s) {', '.join(unknown)}; odds take home, draw, away",
                          f"odds.{unknown[0]}")
    given = [side for side in ODDS_SIDES if raw.get(side) is not None]
    if len(given) != len(ODDS_SIDES):
        absent = [side for side in ODDS_SIDES if side not in given]
        raise where.error(
            f"partial odds: {', '.join(absent)} missing; give all of home, draw, away or none",
            f"odds.{absent[0]}",
        )
    home, draw, away = (read_odds(where, f"odds.{side}", raw[side]) for side in ODDS_SIDES)
    return home, draw, away
