"""Results of jackpot fixtures and scores of the probability sets on them.

Outcomes are codes 0 = home, 1 = draw, 2 = away (:mod:`jackpot_pipeline.model.metrics`), and
:data:`MISSING` (-1) for a fixture without a result yet (not played, postponed, not found).

Where results come from, per fixture, in order of precedence:

1. a *results file* beside the card, ``<card stem>.results.csv`` (see :func:`read_results_file`):
   what the operator declared is what the jackpot pays on, so it overrides everything;
2. a played match in ``canonical_matches`` (:func:`find_results`): the same canonical home and
   away teams (never the reverse fixture), in the fixture's league family when the fixture has
   a league, dated within ±3 days of the kick-off date.

A fixture the results file leaves blank or does not list falls through to the matches; a
disagreement between the two keeps the file's result and records a note.

Results file: UTF-8 CSV with a ``result`` column and either a ``position`` column (1-based card
position) or ``home_team`` and ``away_team`` columns (the card's names, compared ignoring case
and whitespace); with both, the teams must be the card's at that position. ``result`` is ``H``,
``D``, ``A`` or ``1``, ``X``, ``2`` (case-insensitive), or blank when not known yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from jackpot_pipeline.jackpots.cards import CardError, JackpotCard, ResolvedFixture, fixture_key
from jackpot_pipeline.jackpots.cards.csv_format import read_csv_records
from jackpot_pipeline.jackpots.tickets import check_probabilities, most_likely_ticket
from jackpot_pipeline.model.metrics import (
    OUTCOME_LABELS,
    brier_score,
    log_loss,
    ranked_probability_score,
)
from jackpot_pipeline.sources.teams import league_family

__all__ = [
    "MATCH_WINDOW_DAYS",
    "MISSING",
    "FixtureResult",
    "ResultsFileError",
    "SetScore",
    "collect_results",
    "find_results",
    "normalise_outcomes",
    "outcome_codes",
    "read_results_file",
    "score_card",
    "scores_frame",
]

MISSING: Final = -1
MATCH_WINDOW_DAYS: Final = 3
_RESULT_CODES: Final = {"H": 0, "D": 1, "A": 2, "1": 0, "X": 1, "2": 2}
ResultSource = Literal["results_file", "matches"]


class ResultsFileError(CardError):
    """A ``<card stem>.results.csv`` that cannot be used (same attributes as :class:`CardError`)."""


@dataclass(frozen=True)
class FixtureResult:
    """The result found for one card fixture; ``outcome`` is None when there is none yet."""

    position: int
    outcome: int | None
    source: ResultSource | None
    detail: str
    notes: tuple[str, ...] = field(default=())

    @property
    def result(self) -> str | None:
        """'H', 'D' or 'A'."""
        return None if self.outcome is None else OUTCOME_LABELS[self.outcome]

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "result": self.result, "source": self.source,
                "detail": self.detail, "notes": list(self.notes)}


def outcome_codes(results: Sequence[FixtureResult]) -> NDArray[np.int64]:
    """(n,) outcome codes in card order, :data:`MISSING` where there is no result."""
    ordered = sorted(results, key=lambda result: result.position)
    return np.array([MISSING if r.outcome is None else r.outcome for r in ordered], dtype=np.int64)


def normalise_outcomes(outcomes: ArrayLike) -> NDArray[np.int64]:
    """Outcomes as codes with :data:`MISSING` for no result.

    Accepts codes 0/1/2 (and -1), 'H'/'D'/'A' or '1'/'X'/'2' (any case), and None, NaN or ''
    for a missing result; anything else raises ``ValueError`` naming the fixture.
    """
    values = np.asarray(outcomes, dtype=object).ravel()
    codes = np.empty(values.shape[0], dtype=np.int64)
    for index, value in enumerate(values):
        codes[index] = _outcome_code(value, index)
    return codes


def _outcome_code(value: object, index: int) -> int:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if int(value) in (MISSING, 0, 1, 2):
            return int(value)
    elif isinstance(value, str):
        text = value.strip().upper()
        if not text:
            return MISSING
        if text in _RESULT_CODES:
            return _RESULT_CODES[text]
    raise ValueError(
        f"outcome of fixture {index + 1} is {value!r}; expected 0/1/2, H/D/A, 1/X/2 or missing"
    )


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetScore:
    """One probability set scored on a card's fixtures with a result.

    ``correct_picks``: fixtures where the set's most-likely pick happened, out of ``n_scored``.
    Brier (multi-class, 0..2), log loss and RPS (ordinal / 2) are means over the scored fixtures,
    NaN when none is scored yet; log loss is +inf when an outcome that happened had probability 0.
    """

    set_id: str
    n_fixtures: int
    n_scored: int
    correct_picks: int
    brier: float
    log_loss: float
    rps: float
    picks: tuple[str, ...]

    @property
    def all_correct(self) -> bool:
        """Every fixture scored and every most-likely pick right."""
        return self.n_scored == self.n_fixtures and self.correct_picks == self.n_fixtures

    def to_dict(self) -> dict[str, Any]:
        return {
            "set_id": self.set_id,
            "n_fixtures": self.n_fixtures,
            "n_scored": self.n_scored,
            "correct_picks": self.correct_picks,
            "all_correct": self.all_correct,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "rps": self.rps,
            "picks": list(self.picks),
        }


def score_card(probs_by_set: Mapping[str, ArrayLike], outcomes: ArrayLike) -> dict[str, SetScore]:
    """Score every probability set of a card on the fixtures that have a result.

    ``probs_by_set`` maps a set id (``"A"``..``"G"``) to its (n, 3) probabilities; ``outcomes``
    is (n,) in any form :func:`normalise_outcomes` accepts. Scores reuse
    :mod:`jackpot_pipeline.model.metrics`.
    """
    observed = normalise_outcomes(outcomes)
    scored = observed != MISSING
    scores: dict[str, SetScore] = {}
    for set_id, probs in probs_by_set.items():
        forecast = check_probabilities(probs)
        if forecast.shape[0] != observed.shape[0]:
            raise ValueError(
                f"set {set_id!r} has {forecast.shape[0]} fixtures but there are {observed.shape[0]} outcomes"
            )
        ticket = most_likely_ticket(forecast)
        picks = forecast.argmax(axis=1)
        if scored.any():
            brier = brier_score(forecast[scored], observed[scored])
            loss = log_loss(forecast[scored], observed[scored])
            rps = ranked_probability_score(forecast[scored], observed[scored])
        else:
            brier = loss = rps = math.nan
        scores[set_id] = SetScore(
            set_id=set_id,
            n_fixtures=int(forecast.shape[0]),
            n_scored=int(scored.sum()),
            correct_picks=int((picks[scored] == observed[scored]).sum()),
            brier=brier,
            log_loss=loss,
            rps=rps,
            picks=ticket.labels,
        )
    return scores


def scores_frame(scores: Mapping[str, SetScore]) -> pd.DataFrame:
    """One row per set (picks joined as e.g. ``1 X 2 1``), in the mapping's order."""
    rows = [{**score.to_dict(), "picks": " ".join(score.picks)} for score in scores.values()]
    columns = ["set_id", "n_fixtures", "n_scored", "correct_picks", "all_correct", "brier", "log_loss",
               "rps", "picks"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# Results from canonical matches
# --------------------------------------------------------------------------------------------

_MATCH_COLUMNS: Final = ("league", "match_date", "home_team", "away_team", "result")


def find_results(
    resolved: Sequence[ResolvedFixture],
    canonical_matches: pd.DataFrame,
    *,
    window_days: int = MATCH_WINDOW_DAYS,
) -> list[FixtureResult]:
    """Match each resolved fixture to a played match of ``canonical_matches``.

    ``canonical_matches`` needs columns league, match_date, home_team, away_team, result
    ('H'/'D'/'A'; anything else counts as not played). A fixture matches a row with the same
    canonical home and away team, dated within ``window_days`` of the kick-off date (as written
    on the card) and, when the fixture has a league, in the same league family (a club's
    canonical name is shared across its country's divisions only). Several candidates: the
    nearest date; equally near ones with different results give no result and a note.
    """
    missing = [column for column in _MATCH_COLUMNS if column not in canonical_matches.columns]
    if missing:
        raise ValueError(f"canonical_matches lacks column(s) {', '.join(missing)}")
    matches = canonical_matches[list(_MATCH_COLUMNS)].copy()
    matches["match_date"] = pd.to_datetime(matches["match_date"]).dt.normalize()
    matches["family"] = matches["league"].map(lambda code: league_family(str(code)))
    by_pairing = {key: group for key, group in matches.groupby(["home_team", "away_team"], sort=False)}
    return [_find_result(fixture, by_pairing, window_days) for fixture in resolved]


def _find_result(
    fixture: ResolvedFixture, by_pairing: Mapping[tuple[str, str], pd.DataFrame], window_days: int
) -> FixtureResult:
    position = fixture.position
    if fixture.home_team is None or fixture.away_team is None:
        return FixtureResult(position, None, None, "teams not resolved; no match to look up")
    kickoff_day = pd.Timestamp(fixture.fixture.kickoff.date())
    window = pd.Timedelta(days=window_days)

    def near(frame: pd.DataFrame | None) -> pd.DataFrame:
        if frame is None:
            return pd.DataFrame(columns=[*_MATCH_COLUMNS, "family"])
        if fixture.league is not None:
            frame = frame[frame["family"] == league_family(fixture.league)]
        return frame[(frame["match_date"] - kickoff_day).abs() <= window]

    candidates = near(by_pairing.get((fixture.home_team, fixture.away_team)))
    pairing = f"{fixture.home_team} v {fixture.away_team}"
    if candidates.empty:
        notes: tuple[str, ...] = ()
        if not near(by_pairing.get((fixture.away_team, fixture.home_team))).empty:
            notes = (f"the reverse fixture {fixture.away_team} v {fixture.home_team} was played within "
                     f"{window_days} days: check home/away on the card",)
        return FixtureResult(position, None, None,
                             f"no match {pairing} within {window_days} days of {kickoff_day:%Y-%m-%d}", notes)
    distance = (candidates["match_date"] - kickoff_day).abs()
    nearest = candidates[distance == distance.min()]
    played = nearest[nearest["result"].isin(OUTCOME_LABELS)]
    if played.empty:
        day = nearest["match_date"].iloc[0]
        return FixtureResult(position, None, None, f"{pairing} on {day:%Y-%m-%d} has no result yet")
    results = sorted(set(played["result"]))
    if len(results) > 1:
        return FixtureResult(position, None, None,
                             f"{len(played)} matches {pairing} equally near the kick-off disagree: {results}")
    row = played.iloc[0]
    detail = f"{row['league']} {row['match_date']:%Y-%m-%d} {pairing}: {row['result']}"
    return FixtureResult(position, OUTCOME_LABELS.index(row["result"]), "matches", detail)


# --------------------------------------------------------------------------------------------
# Results file beside the card
# --------------------------------------------------------------------------------------------


def read_results_file(card: JackpotCard, path: str | Path | None = None) -> list[FixtureResult] | None:
    """Results declared in ``<card stem>.results.csv`` (or ``path``); None when there is no file.

    One :class:`FixtureResult` per card fixture, in card order; fixtures the file does not list
    or leaves blank have no outcome. Raises :class:`ResultsFileError` for a file that cannot be
    used (it is never half-applied).
    """
    source = Path(path) if path is not None else card.results_path
    if not source.is_file():
        return None
    file = str(source)
    try:
        text = source.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ResultsFileError(file, "not UTF-8 text") from None
    except OSError as error:
        raise ResultsFileError(file, f"cannot read the file: {error.strerror or error}") from None
    records = read_csv_records(text, file, ResultsFileError)
    header = [cell.strip().lower() for cell in records[0][1]]
    by_position = "position" in header
    by_teams = "home_team" in header and "away_team" in header
    if "result" not in header or not (by_position or by_teams):
        raise ResultsFileError(
            file, f"needs columns position,result or home_team,away_team,result; got {','.join(header)}",
            field="result" if "result" not in header else "position",
        )
    fixtures_by_key = {fixture_key(f.home_team, f.away_team): f for f in card.fixtures}
    declared: dict[int, tuple[int | None, int]] = {}  # position -> (outcome, line)
    for line, cells in records[1:]:
        if all(not cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise ResultsFileError(file, f"row has {len(cells)} cells, the header has {len(header)}", line=line)
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        position = _results_row_position(file, line, row, card, fixtures_by_key, by_position, by_teams)
        if position in declared:
            raise ResultsFileError(file, f"fixture {position} already has a row (line {declared[position][1]})",
                                   fixture=position, field="position" if by_position else "home_team", line=line)
        text_result = row["result"].upper()
        if text_result and text_result not in _RESULT_CODES:
            raise ResultsFileError(file, f"result {row['result']!r} is not H, D, A, 1, X, 2 or blank",
                                   fixture=position, field="result", line=line)
        declared[position] = (_RESULT_CODES[text_result] if text_result else None, line)
    results: list[FixtureResult] = []
    for fixture in card.fixtures:
        outcome, line = declared.get(fixture.position, (None, 0))
        if outcome is None:
            why = "left blank" if fixture.position in declared else "not listed"
            results.append(FixtureResult(fixture.position, None, None, f"{source.name}: {why}"))
        else:
            results.append(FixtureResult(fixture.position, outcome, "results_file",
                                         f"{source.name} line {line}: {OUTCOME_LABELS[outcome]}"))
    return results


def _results_row_position(
    file: str, line: int, row: Mapping[str, str], card: JackpotCard,
    fixtures_by_key: Mapping[tuple[str, str], Any], by_position: bool, by_teams: bool,
) -> int:
    teams_fixture = None
    if by_teams and (row["home_team"] or row["away_team"] or not by_position):
        teams_fixture = fixtures_by_key.get(fixture_key(row["home_team"], row["away_team"]))
        if teams_fixture is None:
            raise ResultsFileError(
                file, f"{row['home_team']} v {row['away_team']} is not a fixture of card {card.jackpot_id}",
                field="home_team", line=line,
            )
    if not by_position:
        assert teams_fixture is not None
        return int(teams_fixture.position)
    cell = row["position"]
    if not cell.isdigit() or not 1 <= int(cell) <= card.n_fixtures:
        raise ResultsFileError(file, f"position {cell!r} is not a fixture of the card (1 to {card.n_fixtures})",
                               field="position", line=line)
    position = int(cell)
    if teams_fixture is not None and teams_fixture.position != position:
        raise ResultsFileError(
            file, f"{row['home_team']} v {row['away_team']} is fixture {teams_fixture.position}, not {position}",
            fixture=position, field="position", line=line,
        )
    return position


def collect_results(
    card: JackpotCard,
    resolved: Sequence[ResolvedFixture] | None = None,
    canonical_matches: pd.DataFrame | None = None,
    *,
    window_days: int = MATCH_WINDOW_DAYS,
) -> list[FixtureResult]:
    """Results of every card fixture, by the precedence of this module's docstring.

    The results file (if any) first; fixtures it gives no result for are looked up in
    ``canonical_matches`` (when given with ``resolved``). Conflicts keep the file's result and
    add a note naming the match.
    """
    from_file = read_results_file(card)
    from_matches: list[FixtureResult] | None = None
    if canonical_matches is not None and resolved is not None:
        from_matches = find_results(resolved, canonical_matches, window_days=window_days)
    combined: list[FixtureResult] = []
    for index, fixture in enumerate(card.fixtures):
        declared = from_file[index] if from_file is not None else None
        found = from_matches[index] if from_matches is not None else None
        if declared is not None and declared.outcome is not None:
            if found is not None and found.outcome is not None and found.outcome != declared.outcome:
                declared = replace(declared, notes=(
                    *declared.notes,
                    f"kept the results file's {declared.result} over the matches' {found.result} ({found.detail})",
                ))
            combined.append(declared)
        elif found is not None:
            combined.append(found)
        elif declared is not None:
            combined.append(declared)
        else:
            combined.append(FixtureResult(fixture.position, None, None, "no results source given"))
    return combined

