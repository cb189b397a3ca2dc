"""Parse football-data.co.uk CSV bytes into raw rows, canonical matches and quarantined rows.

Every data line of a file ends up in exactly one place: a canonical match, a quarantined row (with a
reason code, the field and the offending value, and a message naming file, line and field) or a
blank/padding line. Only a file that cannot be read as a football-data CSV at all raises
:class:`SourceFormatError` naming the file and the problem: empty, an HTML page, binary (NUL
bytes), undecodable UTF-16, cut off mid-line, or without a usable header. Anything wrong inside a
line concerns that line alone.

What a bad cell does depends on the cell:

* the cells a match is made of (division, season, teams, date, full-time goals and result)
  quarantine the row: non-numbers, negative or absurd goal counts, impossible dates, blank team
  names or names holding control/undecodable characters, result letters other than H/D/A;
* every other cell (half-time, shots, kick-off time, bookmaker odds) is left empty and named in the
  row's ``issues`` (``B365CH='#' is not a number``): the match result is good and is kept, and a
  price that is not a plausible 1X2 market is never used.

Files lacking optional columns (no odds before 2000, no shots in lower tiers, no half-time in the
1990s) ingest with what they have; :func:`source_coverage` names what a header lacks.

Real quirks handled here (see ``shared/football-data/MANIFEST.md``): UTF-8 BOM, CRLF, LF and CR,
``dd/mm/yy`` and ``dd/mm/yyyy`` (two-digit years read as one of the season's own years, so
``14/08/93`` in 1993/94 is 1993), a cp1252 no-break space in a UTF-8-invalid file (decoded line by
line), comma-only padding lines, empty header names, rows narrower or wider than the header (the
1990s and early-2000s files: a header padded with empty names, rows of 7 fields; rows carrying
cells for columns the header never named), ``HT``/``AT`` for the team columns in early Greek files,
non-numeric odds cells (``#``), zero odds, rows with empty half-time cells, the ``new/``
multi-season format with its varying ``Season`` and ``League`` spellings.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from jackpot_pipeline.sources.cells import (
    _cached_float,
    _parse_count,
    parse_kickoff_time,
    parse_match_date,
    result_from_goals,
)
from jackpot_pipeline.sources.leagues import (
    ALL_LEAGUES,
    SeasonError,
    SeasonWindow,
    is_extra_league,
    season_key_from_label,
    season_window,
    season_years,
)
from jackpot_pipeline.sources.teams import clean_source_name, unify_source_name, unreadable_character

# Bump when canonical rows would come out differently from the same bytes: it is part of every
# ingestion data version, so a parser change re-ingests and an unchanged one is a no-op.
PARSER_VERSION = "2"

MAIN_FORMAT = "main"
EXTRA_FORMAT = "extra"
REQUIRED_COLUMNS = {
    MAIN_FORMAT: ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR"),
    EXTRA_FORMAT: ("Country", "League", "Season", "Date", "Home", "Away", "HG", "AG", "Res"),
}
# Older spellings of required columns: early-2000s Greek files name the teams HT and AT.
COLUMN_ALIASES = {"HomeTeam": ("HT",), "AwayTeam": ("AT",)}

# Pre-closing 1X2 prices in order of preference: Pinnacle, market average (``Avg`` from 2019/20,
# BetBrain's ``BbAv`` before), then Bet365. Closing: Pinnacle closing, then closing average.
PRE_CLOSING_ODDS_PREFERENCE = ("PS", "Avg", "BbAv", "B365")
CLOSING_ODDS_PREFERENCE = ("PSC", "AvgC")
MIN_ODDS = 1.01
# Sum of implied probabilities. Observed on all shared files: 0.98 (closing average) to 1.13
# (Pinnacle in small leagues); outside this band a triple is a data error, not a market.
OVERROUND_BAND = (0.97, 1.30)
# Larger counts are typing errors, not football (the record in these leagues is 9 or 10 goals for
# one side); the bounds also keep every count inside the warehouse's 32-bit integer columns.
MAX_GOALS = 30
MAX_MATCH_STAT = 200
MAX_TEAM_NAME_LENGTH = 100

QUARANTINE_REASONS = {
    "wrong_field_count": "the row ends before every required column is reached",
    "bad_quoting": "the line's quotes do not balance, so its fields cannot be told apart",
    "repeated_header": "the line repeats the header",
    "wrong_division": "the Div cell names another league than the file",
    "bad_season": "the Season cell cannot be read",
    "missing_team": "home or away team is empty",
    "bad_team": "a team name holds control or undecodable characters, or is too long",
    "same_team": "home and away team are the same",
    "bad_date": "the date cannot be read as dd/mm/yy or dd/mm/yyyy",
    "date_outside_season": "the date lies outside the season's window",
    "bad_goals": "full-time goals are not whole numbers from 0 to 30",
    "bad_result": "the result letter is not H, D or A",
    "partial_result": "the result is only partly given",
    "result_mismatch": "the result letter contradicts the goals",
    "duplicate_match": "the same fixture on the same date appears twice",
    "unreadable_row": "the row could not be read because of a parser defect (please report it)",
}

CANONICAL_COLUMNS = [
    "match_id", "league", "season", "competition", "match_date", "kickoff_time",
    "home_team", "away_team", "source_home_team", "source_away_team", "status",
    "home_goals", "away_goals", "result", "ht_home_goals", "ht_away_goals", "ht_result",
    "home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target",
    "odds_home", "odds_draw", "odds_away", "odds_source",
    "closing_odds_home", "closing_odds_draw", "closing_odds_away", "closing_odds_source",
    "issues", "source_path", "source_sha256", "source_row",
]
QUARANTINE_COLUMNS = [
    "league", "season", "source_path", "source_sha256", "source_row",
    "reason", "field", "value", "message", "raw_line",
]
RAW_COLUMNS = [
    "league", "season", "source_path", "source_sha256", "source_row", "snapshot_date",
    "row_kind", "raw_line",
]
_INT_COLUMNS = [
    "home_goals", "away_goals", "ht_home_goals", "ht_away_goals",
    "home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target",
]
_ODDS_COLUMN = re.compile(r"^(.+?)([HDA])$")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_LINE_BREAK_BYTES = re.compile(rb"(\r\n|\n|\r)")


class SourceFormatError(ValueError):
    """The bytes are not a football-data.co.uk CSV (HTML page, truncated file, wrong columns...)."""

    def __init__(self, relpath: str, problem: str):
        super().__init__(f"{relpath}: {problem}")
        self.relpath = relpath
        self.problem = problem


@dataclass(frozen=True)
class DecodedSource:
    relpath: str
    sha256: str
    n_bytes: int
    # "ascii", "utf-8", "utf-8-sig", "utf-16", "cp1252" (no line is multi-byte UTF-8) or
    # "utf-8+cp1252" (lines of both)
    encoding: str
    line_ending: str  # "CRLF", "LF", "CR" or "mixed"
    text: str


@dataclass(frozen=True)
class SourceRow:
    line_number: int  # 1-based line in the file; the header is line 1
    text: str
    fields: tuple[str, ...]
    is_blank: bool
    unreadable: str | None = None  # why the line could not be split into fields


@dataclass(frozen=True)
class ParsedSource:
    decoded: DecodedSource
    format: str
    header: tuple[str, ...]
    rows: tuple[SourceRow, ...]

    @property
    def data_lines(self) -> int:
        return len(self.rows)


def decode_source(data: bytes, relpath: str) -> DecodedSource:
    sha256 = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise SourceFormatError(relpath, "the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise SourceFormatError(relpath, f"UTF-16 text that does not decode (byte {error.start})") from None
        encoding = "utf-16"
    else:
        head = data[:2048].lstrip().lower()
        if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head:
            raise SourceFormatError(relpath, "this is an HTML page, not a football-data CSV (error page?)")
        text, encoding = _decode_text(data)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SourceFormatError(
            relpath, f"binary content: NUL byte on line {line}, not a CSV (a corrupted or partial download?)"
        )
    if text.startswith("\ufeff") and encoding == "utf-16":
        text = text[1:]
    return DecodedSource(relpath, sha256, len(data), encoding, _line_ending(text), text)


def _decode_text(data: bytes) -> tuple[str, str]:
    """Text and encoding label of UTF-8 or Windows bytes.

    The publisher writes Windows text; two shared files carry one cp1252 no-break space (0xA0) in
    otherwise ASCII files. Lines are decoded one by one so a single such byte never turns the
    UTF-8 names of every other line into mojibake. Bytes cp1252 leaves undefined are kept as
    latin-1 code points (control characters), so nothing is dropped and a team name holding one is
    quarantined rather than guessed.
    """
    encoding, body = ("utf-8-sig", data[3:]) if data.startswith(b"\xef\xbb\xbf") else ("utf-8", data)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, ("ascii" if encoding == "utf-8" and text.isascii() else encoding)
    pieces: list[str] = []
    kinds: set[str] = set()
    for piece in _LINE_BREAK_BYTES.split(body):
        try:
            decoded = piece.decode("utf-8")
            if not decoded.isascii():
                kinds.add("utf-8")
        except UnicodeDecodeError:
            decoded = piece.decode("cp1252") if _cp1252_clean(piece) else piece.decode("latin-1")
            kinds.add("cp1252")
        pieces.append(decoded)
    return "".join(pieces), ("utf-8+cp1252" if kinds == {"utf-8", "cp1252"} else "cp1252")


def _cp1252_clean(body: bytes) -> bool:
    return not any(byte in body for byte in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))


def _line_ending(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    kinds = [name for name, count in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if count]
    return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "LF")


def split_line(line: str) -> tuple[str, ...]:
    """The fields of one CSV line; ``csv.Error`` when its quotes do not balance."""
    reader = csv.reader([line], strict=True)
    fields = next(reader, [])
    if next(reader, None) is not None:
        raise csv.Error("the line holds more than one record")
    return tuple(fields)


def parse_source(data: bytes, relpath: str) -> ParsedSource:
    decoded = decode_source(data, relpath)
    lines = _LINE_BREAK.split(decoded.text)
    ends_with_newline = lines[-1] == ""
    if ends_with_newline:
        lines.pop()
    try:
        header = _clean_header(split_line(lines[0]))
    except csv.Error:
        raise SourceFormatError(relpath, "the header line cannot be read as CSV (unbalanced quotes)") from None
    file_format = _detect_format(header, relpath)
    rows = []
    for line_number, line in enumerate(lines[1:], start=2):
        try:
            fields = split_line(line)
        except csv.Error:
            rows.append(SourceRow(line_number, line, (), False, "unbalanced quotes"))
            continue
        rows.append(SourceRow(line_number, line, fields, all(not cell.strip() for cell in fields)))
    if rows and not ends_with_newline and not rows[-1].is_blank:
        last, named = rows[-1], named_width(header)
        if last.unreadable or len(last.fields) < named:
            raise SourceFormatError(
                relpath,
                f"truncated: line {last.line_number} has {len(last.fields)} of {named} fields "
                "and the file does not end with a newline",
            )
    return ParsedSource(decoded, file_format, header, tuple(rows))


def named_width(header: Sequence[str]) -> int:
    """Columns up to the last one with a name: 1990s headers are padded with empty names."""
    width = len(header)
    while width and header[width - 1].startswith("_unnamed_"):
        width -= 1
    return width


def _clean_header(names: Sequence[str]) -> tuple[str, ...]:
    cleaned: list[str] = []
    seen: Counter[str] = Counter()
    for position, name in enumerate(names):
        # mmz4281/2122/B1.csv ends its header (and rows) with a comma: an unnamed column; files of
        # the 1990s pad their 7 names with 21 empty ones.
        base = name.replace("\ufeff", "").strip() or f"_unnamed_{position + 1}"
        seen[base] += 1
        cleaned.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return tuple(cleaned)


def _resolve_column(columns: Iterable[str], name: str) -> str | None:
    present = set(columns)
    for candidate in (name, *COLUMN_ALIASES.get(name, ())):
        if candidate in present:
            return candidate
    return None


def _detect_format(header: Sequence[str], relpath: str) -> str:
    missing_by_format = {
        file_format: [c for c in required if _resolve_column(header, c) is None]
        for file_format, required in REQUIRED_COLUMNS.items()
    }
    for file_format, missing in missing_by_format.items():
        if not missing:
            return file_format
    main_missing, extra_missing = missing_by_format[MAIN_FORMAT], missing_by_format[EXTRA_FORMAT]
    missing = main_missing if len(main_missing) <= len(extra_missing) else extra_missing
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    raise SourceFormatError(
        relpath,
        f"not a football-data CSV: missing column(s) {', '.join(missing)} (header: {_printable(shown, 160)})",
    )


def source_coverage(parsed: ParsedSource) -> list[str]:
    """What a file's header lacks that a full modern file has: ``no_pre_closing_odds``,
    ``no_closing_odds``, ``no_half_time``, ``no_shots``, ``no_shots_on_target``, ``no_kickoff_time``.
    Such files ingest with what they have; this names the gaps (older seasons, lower tiers, the
    ``new/`` files, which carry closing odds only)."""
    columns = _ColumnMap(parsed.header, parsed.format)
    gaps = []
    if not columns.pre_closing:
        gaps.append("no_pre_closing_odds")
    if not columns.closing:
        gaps.append("no_closing_odds")
    if parsed.format == MAIN_FORMAT and "HTHG" not in columns.index:
        gaps.append("no_half_time")
    if parsed.format == MAIN_FORMAT and not {"HS", "AS"} <= set(columns.index):
        gaps.append("no_shots")
    if parsed.format == MAIN_FORMAT and not {"HST", "AST"} <= set(columns.index):
        gaps.append("no_shots_on_target")
    if columns.time is None:
        gaps.append("no_kickoff_time")
    return gaps


def _printable(text: str, limit: int) -> str:
    """``text`` safe to show in a message: control characters escaped, at most ``limit`` characters."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


# --- partitioning ---------------------------------------------------------------------------------


@dataclass
class PartitionRows:
    """The rows of one source file that belong to one league × season partition."""

    league: str
    season: str
    rows: list[SourceRow] = field(default_factory=list)


def partition_rows(parsed: ParsedSource, league: str, season: str | None = None) -> dict[str, PartitionRows]:
    """Split a file's rows by season key.

    A main-league file is one season (``season`` from its path). A ``new/`` file holds many seasons,
    keyed by its ``Season`` column; a row whose season cannot be read goes with the preceding row so
    it is quarantined (``bad_season``) rather than lost; padding lines also follow the preceding row.
    """
    if league not in ALL_LEAGUES:
        raise ValueError(f"unknown league {league!r}")
    if parsed.format == MAIN_FORMAT:
        if is_extra_league(league) or season is None:
            raise SourceFormatError(
                parsed.decoded.relpath, f"a one-season file needs a main league and season, got {league}"
            )
        return {season: PartitionRows(league, season, list(parsed.rows))}
    if not is_extra_league(league):
        raise SourceFormatError(
            parsed.decoded.relpath, f"multi-season 'new/' format found for main league {league}"
        )
    season_column = parsed.header.index("Season")
    partitions: dict[str, PartitionRows] = {}
    current: str | None = None
    pending: list[SourceRow] = []
    for row in parsed.rows:
        key = None
        if not row.is_blank and season_column < len(row.fields):
            try:
                key = season_key_from_label(row.fields[season_column], league)
            except SeasonError:
                key = None
        target = key or current
        if target is None:
            pending.append(row)  # no season seen yet: attach to the first season found
            continue
        bucket = partitions.setdefault(target, PartitionRows(league, target))
        if pending:
            bucket.rows.extend(pending)
            pending.clear()
        bucket.rows.append(row)
        current = target
    if pending and any(not row.is_blank for row in pending):
        raise SourceFormatError(parsed.decoded.relpath, "no row carries a readable Season value")
    return partitions


# --- canonicalisation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CanonicalResult:
    raw: pd.DataFrame
    canonical: pd.DataFrame
    quarantined: pd.DataFrame
    blank_rows: int

    @property
    def accounted_rows(self) -> int:
        return len(self.canonical) + len(self.quarantined) + self.blank_rows


class _Quarantine(Exception):
    def __init__(self, reason: str, column: str, value: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.column = column
        self.value = value
        self.detail = detail


def make_match_id(league: str, season: str, home_team: str, away_team: str, occurrence: int) -> str:
    """Stable across publisher revisions that move a date or fix a score: keyed on the fixture, and
    on its occurrence for leagues where a pairing repeats (Scottish split, MLS, Argentine cups)."""
    key = f"{league}|{season}|{home_team}|{away_team}|{occurrence}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def canonicalise(
    parsed: ParsedSource,
    partition: PartitionRows,
    *,
    snapshot_date: dt.date,
) -> CanonicalResult:
    relpath, sha256 = parsed.decoded.relpath, parsed.decoded.sha256
    league, season = partition.league, partition.season
    columns = _ColumnMap(parsed.header, parsed.format)
    context = _RowContext(league, season, season_window(league, season), season_years(league, season), ALL_LEAGUES[league])

    accepted: list[dict[str, object]] = []
    quarantined: list[dict[str, object]] = []
    blank_rows = 0
    seen_fixtures: set[tuple[str, str, dt.date]] = set()

    for row in partition.rows:
        if row.is_blank:
            blank_rows += 1
            continue
        try:
            record = _canonical_record(row, columns, context)
            fixture = (record["home_team"], record["away_team"], record["match_date"])
            if fixture in seen_fixtures:
                raise _Quarantine("duplicate_match", columns.home, str(record["source_home_team"]),
                                  f"{fixture[0]} v {fixture[1]} on {fixture[2]:%d/%m/%Y} already seen")
            seen_fixtures.add(fixture)
        except _Quarantine as rejected:
            quarantined.append(_quarantine_record(relpath, row, rejected))
            continue
        except Exception as error:  # noqa: BLE001 - one defective row must not sink the file's good rows
            defect = _Quarantine("unreadable_row", "*", "", f"internal {type(error).__name__}")
            quarantined.append(_quarantine_record(relpath, row, defect))
            continue
        accepted.append(record)

    canonical = _canonical_frame(accepted, league, season, snapshot_date)
    common = {"league": league, "season": season, "source_path": relpath, "source_sha256": sha256}
    raw = pd.DataFrame([(row.line_number, "blank" if row.is_blank else "data", row.text) for row in partition.rows],
                       columns=["source_row", "row_kind", "raw_line"])
    raw = raw.assign(**common, snapshot_date=pd.Timestamp(snapshot_date))[RAW_COLUMNS]
    raw["source_row"] = raw["source_row"].astype("int64")
    quarantine = pd.DataFrame(
        quarantined, columns=["source_row", "reason", "field", "value", "message", "raw_line"]
    ).assign(**common)[QUARANTINE_COLUMNS]
    quarantine["source_row"] = quarantine["source_row"].astype("int64")
    canonical = canonical.assign(source_path=relpath, source_sha256=sha256)[CANONICAL_COLUMNS]
    return CanonicalResult(raw, canonical, quarantine, blank_rows)


def _quarantine_record(relpath: str, row: SourceRow, rejected: _Quarantine) -> dict[str, object]:
    message = QUARANTINE_REASONS[rejected.reason]
    if rejected.detail:
        message = f"{message}: {rejected.detail}"
    return {
        "source_row": row.line_number,
        "reason": rejected.reason,
        "field": rejected.column,
        "value": rejected.value,
        "message": f"{relpath} line {row.line_number}, field {_printable(rejected.column, 40)}: {message}",
        "raw_line": row.text,
    }


@dataclass(frozen=True)
class _RowContext:
    league: str
    season: str
    window: SeasonWindow
    years: tuple[int, int]
    default_competition: str


class _ColumnMap:
    """Positions of the columns we read, resolved once per file.

    Rows narrower than the header are read as if their missing trailing cells were empty (the
    1990s files pad a 7-name header with 21 empty names and write 7-field rows), as long as they
    reach every required column; cells beyond the header have no column to belong to.
    """

    def __init__(self, header: Sequence[str], file_format: str):
        self.width = len(header)
        self.named_width = named_width(header)
        self.index = {name: position for position, name in enumerate(header)}
        extra = file_format == EXTRA_FORMAT
        self.division = None if extra else "Div"
        self.home = "Home" if extra else (_resolve_column(header, "HomeTeam") or "HomeTeam")
        self.away = "Away" if extra else (_resolve_column(header, "AwayTeam") or "AwayTeam")
        self.home_goals, self.away_goals, self.result = ("HG", "AG", "Res") if extra else ("FTHG", "FTAG", "FTR")
        self.competition = "League" if extra else None
        self.season = "Season" if extra else None
        self.time = "Time" if "Time" in self.index else None
        required = [self.division, self.season, self.competition, self.home, self.away, "Date",
                    self.home_goals, self.away_goals, self.result]
        self.required = [name for name in required if name is not None and name in self.index]
        self.reach = max(self.index[name] for name in self.required) + 1
        self.pre_closing = [] if extra else self._triples(PRE_CLOSING_ODDS_PREFERENCE)
        self.closing = self._triples(CLOSING_ODDS_PREFERENCE)
        self.triples = {p: tuple(self.index[f"{p}{o}"] for o in "HDA") for p in (*self.pre_closing, *self.closing)}
        self.optional_ints = {
            target: source
            for target, source in (
                ("home_shots", "HS"), ("away_shots", "AS"),
                ("home_shots_on_target", "HST"), ("away_shots_on_target", "AST"),
            )
            if source in self.index
        }
        triples = defaultdict(set)
        for name in header:
            match = _ODDS_COLUMN.match(name)
            if match:
                triples[match.group(1)].add(match.group(2))
        # every complete 1X2 triple, scanned for unreadable cells so none goes unnoticed
        self.all_odds_cells = [
            (self.index[f"{prefix}{outcome}"], f"{prefix}{outcome}")
            for prefix, outcomes in sorted(triples.items())
            if outcomes == {"H", "D", "A"}
            for outcome in "HDA"
        ]
        # raw odds cells known to add no issue: most rows repeat a few hundred prices, so a row whose
        # cells are all known skips the per-cell parse (see _odds_cell_issues)
        self.odds_reach = max((position for position, _ in self.all_odds_cells), default=-1) + 1
        positions = [position for position, _ in self.all_odds_cells]
        self.odds_texts = operator.itemgetter(*positions) if len(positions) > 1 else None
        self.clean_odds_cells: set[str] = set()

    def _triples(self, prefixes: Iterable[str]) -> list[str]:
        return [p for p in prefixes if all(f"{p}{o}" in self.index for o in "HDA")]

    def cell(self, fields: Sequence[str], name: str | None) -> str:
        if name is None:
            return ""
        position = self.index.get(name)
        return fields[position].strip() if position is not None and position < len(fields) else ""

    def is_header_again(self, fields: Sequence[str]) -> bool:
        return all(
            self.cell(fields, name).replace("\ufeff", "").strip().casefold() == name.casefold()
            for name in self.required
        )


def _canonical_record(row: SourceRow, columns: _ColumnMap, context: _RowContext) -> dict[str, object]:
    league, season = context.league, context.season
    if row.unreadable:
        raise _Quarantine("bad_quoting", "*", "", row.unreadable)
    fields = row.fields
    if columns.is_header_again(fields):
        raise _Quarantine("repeated_header", "*", "", "a header line in the middle of the data")
    if len(fields) < columns.reach:
        raise _Quarantine("wrong_field_count", "*", str(len(fields)),
                          f"{len(fields)} fields, the required columns need {columns.reach} (header has {columns.width})")
    cell = columns.cell
    issues: list[str] = []
    if len(fields) < columns.named_width:
        issues.append(f"row has {len(fields)} of the header's {columns.named_width} fields, the missing cells read as empty")
    beyond = [value for value in fields[columns.width:] if value.strip()]
    if beyond:
        issues.append(f"{len(beyond)} cell(s) beyond the header's {columns.width} columns ignored")

    if columns.division:
        division = cell(fields, columns.division)
        if division and division != league:
            raise _Quarantine("wrong_division", columns.division, division, f"expected {league}")
    if columns.season:
        label = cell(fields, columns.season)
        try:
            key = season_key_from_label(label, league)
        except SeasonError as error:
            raise _Quarantine("bad_season", columns.season, label, str(error)) from None
        if key != season:
            raise _Quarantine("bad_season", columns.season, label, f"expected season {season}")

    source_home, source_away = cell(fields, columns.home), cell(fields, columns.away)
    for column, name in ((columns.home, source_home), (columns.away, source_away)):
        problem = team_name_problem(name)
        if problem:
            raise _Quarantine("bad_team", column, name, problem)
    # the publisher spells a few clubs two ways over the years; one name keeps one history
    home_team, away_team = unify_source_name(league, source_home), unify_source_name(league, source_away)
    if not home_team:
        raise _Quarantine("missing_team", columns.home, source_home)
    if not away_team:
        raise _Quarantine("missing_team", columns.away, source_away)
    if home_team == away_team:
        raise _Quarantine("same_team", columns.away, source_away)

    date_text = cell(fields, "Date")
    match_date = parse_match_date(date_text, context.years)
    if match_date is None:
        raise _Quarantine("bad_date", "Date", date_text)
    if not context.window.contains(match_date):
        raise _Quarantine("date_outside_season", "Date", date_text,
                          f"season {season} runs {context.window.first_day} to {context.window.last_day}")

    kickoff_time = None
    if columns.time:
        time_text = cell(fields, columns.time)
        kickoff_time = parse_kickoff_time(time_text)
        if time_text and kickoff_time is None:
            issues.append(f"Time={time_text!r} unreadable, left empty")

    home_goals, away_goals, result = _full_time(fields, columns)
    ht_home, ht_away, ht_result = _half_time(fields, columns, home_goals, away_goals, issues)

    competition = clean_source_name(cell(fields, columns.competition))
    if competition and team_name_problem(competition):
        issues.append(f"{columns.competition}={competition!r} unreadable, the league's name used")
        competition = ""
    record: dict[str, object] = {
        "league": league,
        "season": season,
        "competition": competition or context.default_competition,
        "match_date": match_date,
        "kickoff_time": kickoff_time,
        "home_team": home_team,
        "away_team": away_team,
        "source_home_team": source_home,
        "source_away_team": source_away,
        "home_goals": home_goals,
        "away_goals": away_goals,
        "result": result,
        "ht_home_goals": ht_home,
        "ht_away_goals": ht_away,
        "ht_result": ht_result,
        "source_row": row.line_number,
    }
    for target, source in columns.optional_ints.items():
        text = cell(fields, source)
        value = _parse_count(text, MAX_MATCH_STAT)
        if text and value is None:
            issues.append(f"{source}={text!r} is not a count from 0 to {MAX_MATCH_STAT}, left empty")
        record[target] = value
    _odds_cell_issues(fields, columns, issues)
    record.update(_choose_odds(fields, columns, columns.pre_closing, "", issues))
    record.update(_choose_odds(fields, columns, columns.closing, "closing_", issues))
    record["issues"] = "; ".join(issues) if issues else None
    return record


def _odds_cell_issues(fields: Sequence[str], columns: _ColumnMap, issues: list[str]) -> None:
    width, clean = len(fields), columns.clean_odds_cells
    if columns.odds_texts and width >= columns.odds_reach:
        unseen = set(columns.odds_texts(fields)).difference(clean)
        if all(not raw.strip() or _cached_float(raw.strip()) is not None for raw in unseen):
            clean.update(unseen)
            return
    for position, name in columns.all_odds_cells:
        text = fields[position].strip() if position < width else ""
        if text and _cached_float(text) is None:
            issues.append(f"{name}={text!r} is not a number")


def team_name_problem(name: str) -> str | None:
    """Why a team-name cell cannot be a team name (control or undecodable characters, too long), or None."""
    if len(name) > MAX_TEAM_NAME_LENGTH:
        return f"{len(name)} characters, more than {MAX_TEAM_NAME_LENGTH}"
    character = unreadable_character(name.replace("\ufeff", ""))
    return f"holds the character {character}" if character else None


def _full_time(fields, columns: _ColumnMap) -> tuple[int | None, int | None, str | None]:
    cell = columns.cell
    home_text, away_text = cell(fields, columns.home_goals), cell(fields, columns.away_goals)
    result_text = cell(fields, columns.result).upper()
    if not home_text and not away_text and not result_text:
        return None, None, None
    if result_text and result_text not in ("H", "D", "A"):
        raise _Quarantine("bad_result", columns.result, cell(fields, columns.result))
    home_goals, away_goals = _parse_count(home_text, MAX_GOALS), _parse_count(away_text, MAX_GOALS)
    for name, text, value in ((columns.home_goals, home_text, home_goals), (columns.away_goals, away_text, away_goals)):
        if text and value is None:
            raise _Quarantine("bad_goals", name, text)
    if home_goals is None or away_goals is None:
        missing = columns.home_goals if home_goals is None else columns.away_goals
        raise _Quarantine("partial_result", missing, "", "a goal count is empty")
    derived = result_from_goals(home_goals, away_goals)
    if result_text and result_text != derived:
        raise _Quarantine("result_mismatch", columns.result, result_text,
                          f"{home_goals}-{away_goals} is {derived}")
    return home_goals, away_goals, derived


def _half_time(fields, columns: _ColumnMap, home_goals, away_goals, issues: list[str]):
    if "HTHG" not in columns.index:
        return None, None, None
    cell = columns.cell
    texts = cell(fields, "HTHG"), cell(fields, "HTAG")
    values = _parse_count(texts[0], MAX_GOALS), _parse_count(texts[1], MAX_GOALS)
    if not any(texts):
        return None, None, None
    if None in values:
        issues.append(f"half-time goals {texts[0]!r}-{texts[1]!r} unreadable, left empty")
        return None, None, None
    if home_goals is not None and (values[0] > home_goals or values[1] > away_goals):
        issues.append(f"half-time {values[0]}-{values[1]} exceeds full-time {home_goals}-{away_goals}")
    return values[0], values[1], result_from_goals(*values)


def _choose_odds(fields, columns: _ColumnMap, prefixes, prefix_out: str, issues: list[str]) -> dict[str, object]:
    width = len(fields)
    for prefix in prefixes:
        texts = [fields[position].strip() if position < width else "" for position in columns.triples[prefix]]
        if not all(texts):
            continue
        prices = [_cached_float(t) for t in texts]
        if any(p is None for p in prices):
            continue  # the unreadable cell is already listed in issues
        problem = odds_problem(prices)
        if problem:
            issues.append(f"{prefix} 1X2 odds {'/'.join(texts)} rejected: {problem}")
            continue
        return dict(zip(_ODDS_FIELDS[prefix_out], (*prices, prefix), strict=True))
    return dict.fromkeys(_ODDS_FIELDS[prefix_out])


_ODDS_FIELDS = {out: tuple(f"{out}odds_{k}" for k in ("home", "draw", "away", "source")) for out in ("", "closing_")}


def odds_problem(prices: Sequence[float]) -> str | None:
    """Why a 1X2 triple is not a plausible market, or None."""
    if any(not math.isfinite(p) for p in prices):
        return "not finite"
    low = min(prices)
    if low < MIN_ODDS:
        return f"{low:g} < {MIN_ODDS}"
    overround = sum(1.0 / p for p in prices)
    if not OVERROUND_BAND[0] <= overround <= OVERROUND_BAND[1]:
        return f"overround {overround:.3f} outside {OVERROUND_BAND[0]}-{OVERROUND_BAND[1]}"
    return None


def _canonical_frame(records: list[dict[str, object]], league: str, season: str, snapshot_date: dt.date) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=[c for c in CANONICAL_COLUMNS if c not in {"match_id", "status", "source_path", "source_sha256"}])
    if frame.empty:
        frame = frame.assign(match_id=pd.Series(dtype="object"), status=pd.Series(dtype="object"))
    else:
        frame = frame.sort_values(["match_date", "source_row"], kind="stable").reset_index(drop=True)
        occurrence = frame.groupby(["home_team", "away_team"], sort=False).cumcount() + 1
        frame["match_id"] = [
            make_match_id(league, season, home, away, int(n))
            for home, away, n in zip(frame["home_team"], frame["away_team"], occurrence, strict=True)
        ]
        played = frame["result"].notna()
        upcoming = frame["match_date"] >= snapshot_date
        frame["status"] = ["played" if p else ("scheduled" if u else "unplayed") for p, u in zip(played, upcoming, strict=True)]
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    for column in _INT_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Int64")
    for column in ("odds_home", "odds_draw", "odds_away", "closing_odds_home", "closing_odds_draw", "closing_odds_away"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("float64")
    frame["source_row"] = frame["source_row"].astype("int64")
    return frame
