"""Canonical matches and quarantined rows of one partition, with the raw lines they came from.

Every data line ends up in exactly one place: a canonical match, a quarantined row (reason code,
field, offending value and a message naming file, line and field) or a blank/padding line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pandas as pd

from jackpot_pipeline.sources.football_data.cells import (
    parse_count,
    parse_kickoff_time,
    parse_match_date,
    result_from_goals,
)
from jackpot_pipeline.sources.football_data.columns import ColumnMap
from jackpot_pipeline.sources.football_data.odds import choose_odds, odds_cell_issues
from jackpot_pipeline.sources.football_data.partitions import PartitionRows
from jackpot_pipeline.sources.football_data.reading import ParsedSource, SourceRow, printable
from jackpot_pipeline.sources.leagues import (
    ALL_LEAGUES,
    SeasonError,
    SeasonWindow,
    season_key_from_label,
    season_window,
    season_years,
)
from jackpot_pipeline.sources.teams import (
    MAX_TEAM_NAME_LENGTH,
    clean_source_name,
    unify_source_name,
    unreadable_character,
)

# Bump when canonical rows would come out differently from the same bytes: it is part of every
# ingestion data version, so a parser change re-ingests and an unchanged one is a no-op.
PARSER_VERSION = "2"

# Larger counts are typing errors, not football (the record in these leagues is 9 or 10 goals for
# one side); the bounds also keep every count inside the warehouse's 32-bit integer columns.
MAX_GOALS = 30
MAX_MATCH_STAT = 200

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
    columns = ColumnMap(parsed.header, parsed.format)
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
        "message": f"{relpath} line {row.line_number}, field {printable(rejected.column, 40)}: {message}",
        "raw_line": row.text,
    }


@dataclass(frozen=True)
class _RowContext:
    league: str
    season: str
    window: SeasonWindow
    years: tuple[int, int]
    default_competition: str


def _canonical_record(row: SourceRow, columns: ColumnMap, context: _RowContext) -> dict[str, object]:
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
        value = parse_count(text, MAX_MATCH_STAT)
        if text and value is None:
            issues.append(f"{source}={text!r} is not a count from 0 to {MAX_MATCH_STAT}, left empty")
        record[target] = value
    odds_cell_issues(fields, columns, issues)
    record.update(choose_odds(fields, columns, columns.pre_closing, "", issues))
    record.update(choose_odds(fields, columns, columns.closing, "closing_", issues))
    record["issues"] = "; ".join(issues) if issues else None
    return record


def team_name_problem(name: str) -> str | None:
    """Why a team-name cell cannot be a team name (control or undecodable characters, too long), or None."""
    if len(name) > MAX_TEAM_NAME_LENGTH:
        return f"{len(name)} characters, more than {MAX_TEAM_NAME_LENGTH}"
    character = unreadable_character(name.replace("\ufeff", ""))
    return f"holds the character {character}" if character else None


def _full_time(fields, columns: ColumnMap) -> tuple[int | None, int | None, str | None]:
    cell = columns.cell
    home_text, away_text = cell(fields, columns.home_goals), cell(fields, columns.away_goals)
    result_text = cell(fields, columns.result).upper()
    if not home_text and not away_text and not result_text:
        return None, None, None
    if result_text and result_text not in ("H", "D", "A"):
        raise _Quarantine("bad_result", columns.result, cell(fields, columns.result))
    home_goals, away_goals = parse_count(home_text, MAX_GOALS), parse_count(away_text, MAX_GOALS)
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


def _half_time(fields, columns: ColumnMap, home_goals, away_goals, issues: list[str]):
    if "HTHG" not in columns.index:
        return None, None, None
    cell = columns.cell
    texts = cell(fields, "HTHG"), cell(fields, "HTAG")
    values = parse_count(texts[0], MAX_GOALS), parse_count(texts[1], MAX_GOALS)
    if not any(texts):
        return None, None, None
    if None in values:
        issues.append(f"half-time goals {texts[0]!r}-{texts[1]!r} unreadable, left empty")
        return None, None, None
    if home_goals is not None and (values[0] > home_goals or values[1] > away_goals):
        issues.append(f"half-time {values[0]}-{values[1]} exceeds full-time {home_goals}-{away_goals}")
    return values[0], values[1], result_from_goals(*values)


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
