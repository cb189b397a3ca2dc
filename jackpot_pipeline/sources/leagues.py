"""League catalogue and season keys of football-data.co.uk.

Two publication formats exist:
- main leagues, one file per division and season: ``mmz4281/{ssss}/{DIV}.csv`` (ssss = ``2324``),
  from 1993/94 (``9394``) on; which divisions a season has varies (SC1-SC3, EC, T1 and G1 start
  later than E0), and a file the publisher lacks is simply missing;
- extra leagues, one multi-season file per country: ``new/{CTRY}.csv`` (from 2012). Their ``Season``
  column is ``2012/2013`` for split seasons and ``2012`` for calendar-year seasons.

Season keys. A split season is keyed by the last two digits of its two years: ``9394`` (1993/94),
``9900`` (1999/2000), ``0001`` (2000/01) ... ``2526``. The archive starts in 1993, so a key's
first two digits from ``93`` to ``99`` are the 1900s and the others the 2000s (``9293`` would be
2092/93). A calendar season of an extra league is keyed by its year, ``2012``. The same text
``2021`` is the split season 2020/21 for main leagues and for the extra leagues that play split
seasons (Austria, Denmark, Mexico, Poland, Romania, Russia, Switzerland), and the year 2021 for
the calendar-year extra leagues (whose rare split-season labels such as Argentina's ``2019/2020``
get split keys, ``1920``; a split label that would collide with a calendar key is refused).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MAIN_LEAGUES: dict[str, str] = {
    "E0": "England Premier League",
    "E1": "England Championship",
    "E2": "England League One",
    "E3": "England League Two",
    "EC": "England National League",
    "SC0": "Scotland Premiership",
    "SC1": "Scotland Championship",
    "SC2": "Scotland League One",
    "SC3": "Scotland League Two",
    "D1": "Germany Bundesliga",
    "D2": "Germany 2. Bundesliga",
    "I1": "Italy Serie A",
    "I2": "Italy Serie B",
    "SP1": "Spain La Liga",
    "SP2": "Spain Segunda",
    "F1": "France Ligue 1",
    "F2": "France Ligue 2",
    "N1": "Netherlands Eredivisie",
    "B1": "Belgium First Division A",
    "P1": "Portugal Primeira Liga",
    "T1": "Turkey Super Lig",
    "G1": "Greece Super League",
}

EXTRA_LEAGUES: dict[str, str] = {
    "ARG": "Argentina Primera Division",
    "AUT": "Austria Bundesliga",
    "BRA": "Brazil Serie A",
    "CHN": "China Super League",
    "DNK": "Denmark Superliga",
    "FIN": "Finland Veikkausliiga",
    "IRL": "Ireland Premier Division",
    "JPN": "Japan J1 League",
    "MEX": "Mexico Liga MX",
    "NOR": "Norway Eliteserien",
    "POL": "Poland Ekstraklasa",
    "ROU": "Romania Liga 1",
    "RUS": "Russia Premier League",
    "SWE": "Sweden Allsvenskan",
    "SWZ": "Switzerland Super League",
    "USA": "USA MLS",
}
# Extra leagues whose Season column reads 2012/2013: their keys are split-season keys like the main
# leagues'. The other extra leagues play calendar years.
SPLIT_SEASON_EXTRA_LEAGUES: frozenset[str] = frozenset({"AUT", "DNK", "MEX", "POL", "ROU", "RUS", "SWZ"})

ALL_LEAGUES: dict[str, str] = {**MAIN_LEAGUES, **EXTRA_LEAGUES}
# The division each league's promoted teams come from (same country, one tier down).
LOWER_DIVISION: dict[str, str] = {
    "E0": "E1", "E1": "E2", "E2": "E3", "E3": "EC", "SC0": "SC1", "SC1": "SC2", "SC2": "SC3",
    "D1": "D2", "I1": "I2", "SP1": "SP2", "F1": "F2",
}
DEFAULT_LEAGUES: tuple[str, ...] = ("E0", "E1", "SP1", "D1", "I1", "F1")

FIRST_SEASON_START_YEAR = 1993  # football-data.co.uk's archive starts with 1993/94
_SPLIT_SEASON = re.compile(r"^([0-9]{2})([0-9]{2})$")
_CALENDAR_SEASON = re.compile(r"^20[0-9]{2}$")


class SeasonError(ValueError):
    """A season key or season range that cannot be understood."""


def is_extra_league(league: str) -> bool:
    return league in EXTRA_LEAGUES


def plays_calendar_seasons(league: str) -> bool:
    """Extra leagues keyed by calendar year (``2021`` = the year 2021)."""
    return league in EXTRA_LEAGUES and league not in SPLIT_SEASON_EXTRA_LEAGUES


def is_split_season_key(season: str) -> bool:
    match = _SPLIT_SEASON.match(season)
    return bool(match) and (int(match.group(1)) + 1) % 100 == int(match.group(2))


def is_calendar_season(league: str, season: str) -> bool:
    return plays_calendar_seasons(league) and bool(_CALENDAR_SEASON.match(season))


def check_season_key(league: str, season: str) -> None:
    if not (is_calendar_season(league, season) or is_split_season_key(season)):
        kind = "'2324' or '2012'" if plays_calendar_seasons(league) else "'2324'"
        raise SeasonError(f"{season!r} is not a season key of {league} (expected {kind})")


def split_season_start_year(season: str) -> int:
    """``9394`` -> 1993, ``9900`` -> 1999, ``0001`` -> 2000, ``2324`` -> 2023."""
    if not is_split_season_key(season):
        raise SeasonError(f"{season!r} is not a split-season key like '2324' or '9394'")
    return century_year(int(season[:2]))


def century_year(two_digits: int) -> int:
    """The year a two-digit season year stands for: 93-99 are the 1900s, the rest the 2000s."""
    pivot = FIRST_SEASON_START_YEAR % 100
    return (1900 if two_digits >= pivot else 2000) + two_digits


def split_season_key(start_year: int) -> str:
    return f"{start_year % 100:02d}{(start_year + 1) % 100:02d}"


def season_key_from_label(label: str, league: str | None = None) -> str:
    """Season key for a ``new/`` file's ``Season`` cell: ``2012/2013`` -> ``1213``, ``2012`` -> ``2012``.

    With ``league``, the label must fit how that league keys its seasons: a league playing split
    seasons takes only ``YYYY/YYYY+1`` labels (``2020/2021`` -> ``2021``); for the others a split
    label whose key would read as a calendar year (``2020/2021``) is refused.
    """
    text = label.strip()
    split_only = league is not None and league in SPLIT_SEASON_EXTRA_LEAGUES
    if re.fullmatch(r"(?:19|20)[0-9]{2}", text):
        if split_only:
            raise SeasonError(f"season label {label!r}: {league} plays split seasons ('YYYY/YYYY+1')")
        return text
    match = re.fullmatch(r"((?:19|20)[0-9]{2})/((?:19|20)[0-9]{2})", text)
    if match and int(match.group(2)) == int(match.group(1)) + 1:
        key = split_season_key(int(match.group(1)))
        if _CALENDAR_SEASON.match(key) and not split_only:
            # 2020/2021 would be keyed 2021, the same as the calendar year 2021
            raise SeasonError(f"season label {label!r} collides with calendar season {key}")
        return key
    raise SeasonError(f"season label {label!r} is neither 'YYYY' nor 'YYYY/YYYY+1'")


@dataclass(frozen=True)
class SeasonWindow:
    """Dates a season's matches may plausibly fall on (inclusive).

    Generous on purpose: 2019/20 ran into August 2020 (COVID-19) and calendar-year seasons of 2020
    ran into early 2021 (Brazil until 26/02/2021), yet a match dated two seasons away is an error.
    """

    first_day: dt.date
    last_day: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.first_day <= day <= self.last_day


def season_window(league: str, season: str) -> SeasonWindow:
    check_season_key(league, season)
    if is_calendar_season(league, season):
        year = int(season)
        return SeasonWindow(dt.date(year, 1, 1), dt.date(year + 1, 3, 31))
    start = split_season_start_year(season)
    return SeasonWindow(dt.date(start, 7, 1), dt.date(start + 1, 8, 31))


def season_years(league: str, season: str) -> tuple[int, int]:
    """Calendar years a season touches, used to match calendar seasons against split-season ranges
    and to read two-digit years in dates."""
    check_season_key(league, season)
    if is_calendar_season(league, season):
        return int(season), int(season)
    start = split_season_start_year(season)
    return start, start + 1


def season_order(league: str, season: object) -> tuple[int, str]:
    """Chronological sort key of a season key: ``1213`` -> 2012, ``9394`` -> 1993, ``2015`` -> 2015.

    ``2021`` is split season 2020/21 for the main divisions and the split-season extra leagues, and
    calendar year 2021 for the calendar-year extra leagues. A key that is not a season of ``league``
    sorts first.
    """
    text = str(season).strip()
    try:
        return season_years(league.strip(), text)[0], text
    except SeasonError:
        return -1, text


def current_split_season(today: dt.date) -> str:
    """The split season in progress on ``today`` (a new season starts on 1 July)."""
    return split_season_key(today.year if today.month >= 7 else today.year - 1)


def season_key_for_date(league: str, day: dt.date) -> str:
    """The season a match of ``league`` on ``day`` belongs to: the calendar year for calendar-year
    leagues, else the split season in progress (from 1 July)."""
    return str(day.year) if plays_calendar_seasons(league) else current_split_season(day)


def expand_seasons(spec: str) -> list[str]:
    """Parse ``JACKPOT_SEASONS``-style text: ``2324``, ``1920,2021``, ``9394-2324`` (inclusive ranges)."""
    seasons: list[str] = []
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        if "-" in part:
            first, last = (piece.strip() for piece in part.split("-", 1))
            start, end = split_season_start_year(first), split_season_start_year(last)
            if end < start:
                raise SeasonError(f"season range {part!r} runs backwards")
            seasons.extend(split_season_key(year) for year in range(start, end + 1))
        else:
            split_season_start_year(part)
            seasons.append(part)
    if not seasons:
        raise SeasonError(f"no season in {spec!r}")
    return sorted(set(seasons), key=split_season_start_year)


def expand_leagues(spec: str) -> list[str]:
    """Parse ``JACKPOT_LEAGUES``-style text: ``E0,SP1`` or ``all``."""
    text = spec.strip()
    if text.lower() == "all":
        return list(ALL_LEAGUES)
    leagues = [piece.strip().upper() for piece in text.split(",") if piece.strip()]
    unknown = [league for league in leagues if league not in ALL_LEAGUES]
    if unknown:
        raise ValueError(
            f"unknown league code(s) {', '.join(unknown)}; known: {', '.join(ALL_LEAGUES)} or 'all'"
        )
    if not leagues:
        raise ValueError("no league given")
    return list(dict.fromkeys(leagues))


def season_selected(league: str, season: str, configured: list[str]) -> bool:
    """Whether a season of ``league`` lies within the configured split seasons.

    Main leagues: membership. Extra leagues: the season's calendar years lie inside the years the
    configured range spans (``1213-2324`` selects 2012 to 2024 and 1213 to 2324)."""
    if not is_extra_league(league):
        return season in configured
    first_year = min(split_season_start_year(s) for s in configured)
    last_year = max(split_season_start_year(s) + 1 for s in configured)
    start, end = season_years(league, season)
    return start >= first_year and end <= last_year


def source_relpath(league: str, season: str | None = None) -> str:
    """Path of a league's file below the base URL and below ``data/raw/``."""
    if is_extra_league(league):
        return f"new/{league}.csv"
    if season is None:
        raise SeasonError(f"league {league} needs a season to name its file")
    return f"mmz4281/{season}/{league}.csv"
