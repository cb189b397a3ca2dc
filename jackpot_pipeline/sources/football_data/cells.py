"""Parsers of single football-data.co.uk cells: dates, kick-off times, prices and counts.

Pure functions of the cell text; :mod:`jackpot_pipeline.sources.football_data.canonical` applies them row by row.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re

_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_DATE = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{2}|[0-9]{4})$")


def parse_match_date(text: str, season_years: tuple[int, int] | None = None) -> dt.date | None:
    """``dd/mm/yy`` or ``dd/mm/yyyy`` (both occur, sometimes within one season), ASCII digits only.

    A two-digit year is one of the season's own years when ``season_years`` (first, last) is given
    (``14/08/93`` in 1993/94 is 1993, ``15/01/00`` in 1999/2000 is 2000), else the one of the century
    nearest the season; without ``season_years`` it is 20yy.
    """
    match = _DATE.match(text.strip())
    if match is None:
        return None
    day, month, year = (int(part) for part in match.groups())
    if len(match.group(3)) == 2:
        year = _two_digit_year(year, season_years)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _two_digit_year(two_digits: int, season_years: tuple[int, int] | None) -> int:
    if season_years is None:
        return 2000 + two_digits
    for year in season_years:
        if year % 100 == two_digits:
            return year
    first = season_years[0]
    century = first - first % 100
    candidates = (century - 100 + two_digits, century + two_digits, century + 100 + two_digits)
    return min(candidates, key=lambda year: abs(year - first))


def parse_kickoff_time(text: str) -> str | None:
    match = _TIME.match(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return f"{int(match.group(1)):02d}:{match.group(2)}"


# cells repeat across rows and files (prices, goal counts); the result is a float or None, safe to share
@functools.lru_cache(maxsize=1 << 16)
def parse_float(text: str) -> float | None:
    """A finite plain ASCII decimal (``2.10``, ``1e2``): no ``nan``, ``inf``, ``1_000`` or non-ASCII digits."""
    try:
        value = float(text)
    except ValueError:
        return None
    # float() also reads "1_000", "\uff13" and " 3 "; what it reads as nan or inf is no price or count
    if not math.isfinite(value) or "_" in text or not text.isascii() or text != text.strip():
        return None
    return value


def parse_count(text: str, limit: int) -> int | None:
    """A whole number from 0 to ``limit`` (``3`` or ``3.0``), else None."""
    if not text:
        return None
    value = parse_float(text)
    if value is None or value < 0 or value > limit or value != int(value):
        return None
    return int(value)


def result_from_goals(home_goals: int, away_goals: int) -> str:
    return "H" if home_goals > away_goals else ("A" if home_goals < away_goals else "D")
