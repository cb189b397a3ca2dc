"""Where the cells a match is read from sit in a file's header, and what a header lacks."""

from __future__ import annotations

import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from jackpot_pipeline.sources.football_data.reading import (
    EXTRA_FORMAT,
    MAIN_FORMAT,
    ParsedSource,
    named_width,
    resolve_column,
)

# Pre-closing 1X2 prices in order of preference: Pinnacle, market average (``Avg`` from 2019/20,
# BetBrain's ``BbAv`` before), then Bet365. Closing: Pinnacle closing, then closing average.
PRE_CLOSING_ODDS_PREFERENCE = ("PS", "Avg", "BbAv", "B365")
CLOSING_ODDS_PREFERENCE = ("PSC", "AvgC")
_ODDS_COLUMN = re.compile(r"^(.+?)([HDA])$")


class ColumnMap:
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
        self.home = "Home" if extra else (resolve_column(header, "HomeTeam") or "HomeTeam")
        self.away = "Away" if extra else (resolve_column(header, "AwayTeam") or "AwayTeam")
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
        # cells are all known skips the per-cell parse (see odds_cell_issues)
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


def source_coverage(parsed: ParsedSource) -> list[str]:
    """What a file's header lacks that a full modern file has: ``no_pre_closing_odds``,
    ``no_closing_odds``, ``no_half_time``, ``no_shots``, ``no_shots_on_target``, ``no_kickoff_time``.
    Such files ingest with what they have; this names the gaps (older seasons, lower tiers, the
    ``new/`` files, which carry closing odds only)."""
    columns = ColumnMap(parsed.header, parsed.format)
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
