"""Results (canonical matches, results file, precedence) and per-set scores, with the sample card
scored on its real results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.jackpots.cards import JackpotCard, ResolvedFixture, load_card, resolve_card
from jackpot_pipeline.jackpots.scoring import (
    MISSING,
    FixtureResult,
    ResultsFileError,
    collect_results,
    find_results,
    normalise_outcomes,
    outcome_codes,
    read_results_file,
    score_card,
    scores_frame,
)
from jackpot_pipeline.model.metrics import brier_score, log_loss, ranked_probability_score
from jackpot_pipeline.sources.teams import TeamResolver, build_team_registry
from jackpot_pipeline_tests.jackpots import read_canonical_matches

SAMPLE_CARD = Path(__file__).resolve().parents[2] / "data" / "jackpots" / "sample_2324_final.json"
# football-data's FTR of the sample fixtures, in card order (checked against the files below).
SAMPLE_RESULTS = "H D H A A H A A H A D D H D A"

# ------------------------------------------------------------------------------------------
# Outcomes
# ------------------------------------------------------------------------------------------


def test_normalise_outcomes_accepts_codes_letters_and_missing() -> None:
    values = [0, 1, 2, -1, "H", "d", " A ", "1", "x", "2", None, float("nan"), "", np.int64(2), pd.NA]
    assert normalise_outcomes(values).tolist() == [0, 1, 2, -1, 0, 1, 2, 0, 1, 2, -1, -1, -1, 2, -1]


@pytest.mark.parametrize("bad", [3, "W", 1.0, True, "HD"])
def test_normalise_outcomes_rejects_anything_else(bad: object) -> None:
    with pytest.raises(ValueError, match="outcome of fixture 2 is"):
        normalise_outcomes([0, bad])


def test_outcome_codes_follow_card_order() -> None:
    results = [FixtureResult(2, None, None, "x"), FixtureResult(1, 2, "matches", "y")]
    assert outcome_codes(results).tolist() == [2, MISSING]


# ------------------------------------------------------------------------------------------
# score_card
# ------------------------------------------------------------------------------------------


def test_score_card_scores_only_fixtures_with_results() -> None:
    sets = {
        "A": np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.4, 0.4, 0.2], [0.1, 0.2, 0.7]]),
        "B": np.full((4, 3), 1 / 3),
    }
    outcomes = ["H", None, "D", "A"]
    scores = score_card(sets, outcomes)
    a = scores["A"]
    scored, observed = sets["A"][[0, 2, 3]], np.array([0, 1, 2])
    assert (a.n_fixtures, a.n_scored) == (4, 3)
    # Picks 1, 2, 1 (tie toward home), 2 against H, -, D, A: fixtures 1 and 4 right.
    assert a.picks == ("1", "2", "1", "2") and a.correct_picks == 2 and not a.all_correct
    assert a.brier == pytest.approx(brier_score(scored, observed))
    assert a.log_loss == pytest.approx(log_loss(scored, observed))
    assert a.rps == pytest.approx(ranked_probability_score(scored, observed))
    assert scores["B"].correct_picks == 1 and scores["B"].log_loss == pytest.approx(math.log(3))
    frame = scores_frame(scores)
    assert frame["set_id"].tolist() == ["A", "B"] and frame.loc[0, "picks"] == "1 2 1 2"


def test_score_card_before_any_result_is_nan_not_an_error() -> None:
    (score,) = score_card({"G": np.full((2, 3), 1 / 3)}, [MISSING, MISSING]).values()
    assert (score.n_scored, score.correct_picks) == (0, 0)
    assert all(math.isnan(value) for value in (score.brier, score.log_loss, score.rps))


def test_score_card_all_correct_and_infinite_log_loss() -> None:
    (score,) = score_card({"A": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])}, [0, 2]).values()
    assert score.all_correct and score.log_loss == 0.0
    (wrong,) = score_card({"A": np.array([[1.0, 0.0, 0.0]])}, ["A"]).values()
    assert wrong.log_loss == math.inf


def test_score_card_checks_shapes() -> None:
    with pytest.raises(ValueError, match="set 'A' has 2 fixtures but there are 3 outcomes"):
        score_card({"A": np.full((2, 3), 1 / 3)}, [0, 1, 2])


# ------------------------------------------------------------------------------------------
# find_results on hand-made matches
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_resolver() -> TeamResolver:
    matches = pd.DataFrame(
        [("E0", "Arsenal", "Everton"), ("E0", "Chelsea", "Fulham"), ("E1", "Leeds", "Burnley"),
         ("SP1", "Real Madrid", "Betis")],
        columns=["league", "home_team", "away_team"],
    )
    return TeamResolver(build_team_registry(matches))


def make_card(tmp_path: Path, fixtures: list[dict[str, object]], name: str = "card.json") -> JackpotCard:
    doc = {"jackpot_id": "t", "name": "t", "fixtures": fixtures}
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return load_card(path)


def matches_frame(rows: list[tuple[str, str, str, str, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["league", "match_date", "home_team", "away_team", "result"])
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    return frame


def resolved_single(tmp_path: Path, resolver: TeamResolver, **fixture: object) -> list[ResolvedFixture]:
    card = make_card(tmp_path, [{"kickoff": "2024-05-19T16:00", **fixture}])
    return resolve_card(card, resolver)


@pytest.mark.parametrize(
    ("match_day", "found"),
    [("2024-05-19", True), ("2024-05-16", True), ("2024-05-22", True), ("2024-05-15", False), ("2024-05-23", False)],
)
def test_matches_within_three_days_of_kickoff(
    tmp_path: Path, small_resolver: TeamResolver, match_day: str, found: bool
) -> None:
    resolved = resolved_single(tmp_path, small_resolver, home="Arsenal FC", away="Everton", league="E0")
    (result,) = find_results(resolved, matches_frame([("E0", match_day, "Arsenal", "Everton", "D")]))
    assert (result.outcome, result.source) == ((1, "matches") if found else (None, None))
    if found:
        assert result.detail == f"E0 {match_day} Arsenal v Everton: D" and result.result == "D"
    else:
        assert result.detail == "no match Arsenal v Everton within 3 days of 2024-05-19"


def test_nearest_match_wins_and_unplayed_matches_give_no_result(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolved_single(tmp_path, small_resolver, home="Arsenal", away="Everton", league="E0")
    matches = matches_frame([("E0", "2024-05-17", "Arsenal", "Everton", "A"),
                             ("E0", "2024-05-20", "Arsenal", "Everton", "H")])
    assert find_results(resolved, matches)[0].result == "H"
    unplayed = matches_frame([("E0", "2024-05-19", "Arsenal", "Everton", None)])
    (result,) = find_results(resolved, unplayed)
    assert result.outcome is None and result.detail == "Arsenal v Everton on 2024-05-19 has no result yet"


def test_reverse_fixture_is_never_used_but_noted(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolved_single(tmp_path, small_resolver, home="Arsenal", away="Everton", league="E0")
    (result,) = find_results(resolved, matches_frame([("E0", "2024-05-19", "Everton", "Arsenal", "H")]))
    assert result.outcome is None
    assert result.notes == ("the reverse fixture Everton v Arsenal was played within 3 days: check home/away on the card",)


def test_league_family_must_agree_when_the_fixture_has_a_league(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolved_single(tmp_path, small_resolver, home="Leeds United", away="Burnley", league="E1")
    # A club's name is shared by its country's divisions: E0 and E1 are one family.
    in_e0 = matches_frame([("E0", "2024-05-19", "Leeds", "Burnley", "H")])
    assert find_results(resolved, in_e0)[0].result == "H"
    elsewhere = matches_frame([("ARG", "2024-05-19", "Leeds", "Burnley", "H")])
    assert find_results(resolved, elsewhere)[0].outcome is None


def test_unresolved_fixtures_get_no_result(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolved_single(tmp_path, small_resolver, home="Gor Mahia", away="Arsenal", league="E0")
    (result,) = find_results(resolved, matches_frame([("E0", "2024-05-19", "Arsenal", "Everton", "H")]))
    assert result.outcome is None and result.detail == "teams not resolved; no match to look up"


def test_find_results_needs_the_columns(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolved_single(tmp_path, small_resolver, home="Arsenal", away="Everton", league="E0")
    with pytest.raises(ValueError, match="lacks column"):
        find_results(resolved, pd.DataFrame({"league": ["E0"]}))


# ------------------------------------------------------------------------------------------
# Results file and precedence
# ------------------------------------------------------------------------------------------


@pytest.fixture
def three_fixture_card(tmp_path: Path) -> JackpotCard:
    return make_card(tmp_path, [
        {"home": "Arsenal", "away": "Everton", "league": "E0", "kickoff": "2024-05-19T16:00"},
        {"home": "Chelsea", "away": "Fulham", "league": "E0", "kickoff": "2024-05-19T16:00"},
        {"home": "Real Madrid", "away": "Real Betis", "kickoff": "2024-05-25T20:00"},
    ], name="mega.json")


def write_results(card: JackpotCard, text: str) -> Path:
    card.results_path.write_text(text, encoding="utf-8")
    return card.results_path


def test_no_results_file_is_none(three_fixture_card: JackpotCard) -> None:
    assert three_fixture_card.results_path.name == "mega.results.csv"
    assert read_results_file(three_fixture_card) is None


def test_results_file_by_position(three_fixture_card: JackpotCard) -> None:
    write_results(three_fixture_card, "position,result\n3,x\n1,H\n2,\n")
    results = read_results_file(three_fixture_card)
    assert results is not None
    assert [r.result for r in results] == ["H", None, "D"]
    assert [r.source for r in results] == ["results_file", None, "results_file"]
    assert results[0].detail == "mega.results.csv line 3: H" and results[1].detail == "mega.results.csv: left blank"


def test_results_file_by_teams(three_fixture_card: JackpotCard) -> None:
    write_results(three_fixture_card, "home_team,away_team,result\n real madrid ,REAL BETIS,2\nArsenal,Everton,1\n")
    results = read_results_file(three_fixture_card)
    assert results is not None and [r.result for r in results] == ["H", None, "A"]
    assert results[1].detail == "mega.results.csv: not listed"


@pytest.mark.parametrize(
    ("text", "fixture", "field", "problem"),
    [
        ("position,outcome\n1,H\n", None, "result", "needs columns position,result or home_team,away_team,result"),
        ("position,result\n4,H\n", None, "position", "position '4' is not a fixture of the card (1 to 3)"),
        ("position,result\n1,W\n", 1, "result", "result 'W' is not H, D, A, 1, X, 2 or blank"),
        ("position,result\n1,H\n1,D\n", 1, "position", "fixture 1 already has a row (line 2)"),
        ("home_team,away_team,result\nArsenal,Chelsea,H\n", None, "home_team",
         "Arsenal v Chelsea is not a fixture of card t"),
        ("position,home_team,away_team,result\n2,Arsenal,Everton,H\n", 2, "position", "Arsenal v Everton is fixture 1, not 2"),
        ("position,result\n1,H,extra\n", None, None, "line 2: row has 3 cells, the header has 2"),
        ("", None, None, "empty file: no header row"),
        ('position,result\n1,"H\n', None, None, "malformed CSV at line"),
    ],
)
def test_results_file_errors(
    three_fixture_card: JackpotCard, text: str, fixture: int | None, field: str | None, problem: str
) -> None:
    path = write_results(three_fixture_card, text)
    with pytest.raises(ResultsFileError) as caught:
        read_results_file(three_fixture_card)
    error = caught.value
    assert (error.file, error.fixture, error.field) == (str(path), fixture, field)
    assert str(error).startswith(str(path)) and problem in str(error)


def test_results_file_overrides_matches_which_fill_the_gaps(
    three_fixture_card: JackpotCard, small_resolver: TeamResolver
) -> None:
    write_results(three_fixture_card, "position,result\n1,A\n2,\n")
    resolved = resolve_card(three_fixture_card, small_resolver)
    matches = matches_frame([
        ("E0", "2024-05-19", "Arsenal", "Everton", "H"),
        ("E0", "2024-05-19", "Chelsea", "Fulham", "D"),
        ("SP1", "2024-05-25", "Real Madrid", "Betis", "D"),
    ])
    results = collect_results(three_fixture_card, resolved, matches)
    assert [r.result for r in results] == ["A", "D", "D"]
    assert [r.source for r in results] == ["results_file", "matches", "matches"]
    assert results[0].notes == ("kept the results file's A over the matches' H (E0 2024-05-19 Arsenal v Everton: H)",)
    assert outcome_codes(results).tolist() == [2, 1, 1]
    # Without matches, only the file counts.
    alone = collect_results(three_fixture_card)
    assert [r.result for r in alone] == ["A", None, None]
    assert json.loads(json.dumps([r.to_dict() for r in results]))[0]["source"] == "results_file"


def test_no_sources_at_all(tmp_path: Path) -> None:
    card = make_card(tmp_path, [{"home": "Arsenal", "away": "Everton", "kickoff": "2024-05-19T16:00"}])
    (result,) = collect_results(card)
    assert result.outcome is None and result.detail == "no results source given"


# ------------------------------------------------------------------------------------------
# The sample card on its real results
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def final_matchdays(shared_data: Path) -> pd.DataFrame:
    relpaths = [f"mmz4281/2324/{league}.csv" for league in ("E0", "SP1", "D1", "I1", "F1")]
    return read_canonical_matches(shared_data, relpaths)


def test_sample_card_results_come_from_the_real_matches(final_matchdays: pd.DataFrame) -> None:
    card = load_card(SAMPLE_CARD)
    resolver = TeamResolver(build_team_registry(final_matchdays))
    resolved = resolve_card(card, resolver)
    results = find_results(resolved, final_matchdays)
    assert " ".join(r.result or "-" for r in results) == SAMPLE_RESULTS
    assert all(r.source == "matches" and r.notes == () for r in results)
    # No results file is shipped beside the sample, so collect_results gives the same answer.
    assert collect_results(card, resolved, final_matchdays) == results

    # Score the operator's own odds (proportionally de-vigged) and a uniform forecast.
    odds = np.array([fixture.odds for fixture in card.fixtures], dtype=float)
    market = (1 / odds) / (1 / odds).sum(axis=1, keepdims=True)
    outcomes = outcome_codes(results)
    scores = score_card({"market": market, "uniform": np.full((15, 3), 1 / 3)}, outcomes)
    favourites = odds.argmin(axis=1)
    assert scores["market"].correct_picks == int((favourites == outcomes).sum())
    assert scores["market"].n_scored == 15
    assert scores["market"].rps < scores["uniform"].rps
    assert scores["uniform"].log_loss == pytest.approx(math.log(3))
