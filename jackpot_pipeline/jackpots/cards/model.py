"""The validated jackpot card: its fixtures, its error type and the rules of ids, kick-offs and fixtures.

See :mod:`jackpot_pipeline.jackpots.cards` for the file formats.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jackpot_pipeline.sources.fetch import sha256_bytes
# A card's odds have the source files' lower bound (one constant); the upper bound is the cards' own.
from jackpot_pipeline.sources.football_data.odds import MIN_ODDS as MIN_ODDS

MAX_FIXTURES: Final = 20
MAX_ODDS: Final = 1000.0
MAX_JACKPOT_ID_LENGTH: Final = 64
# The id names export files (data/exports/<jackpot_id>.json), so it must be a safe file name.
JACKPOT_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]+")
RESULTS_SUFFIX: Final = ".results.csv"
ODDS_SIDES: Final = ("home", "draw", "away")

_ISO_KICKOFF: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?", re.ASCII
)
_DAY_FIRST_KICKOFF: Final = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})", re.ASCII)
# Kick-offs must fit every place they go: pandas timestamps (1677-2262) and the UTC offsets
# PostgreSQL's jackpot_fixtures accepts.
KICKOFF_YEARS: Final = (1900, 2100)
MAX_UTC_OFFSET: Final = dt.timedelta(hours=14)


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
        odds = None if self.odds is None else dict(zip(ODDS_SIDES, self.odds, strict=True))
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
