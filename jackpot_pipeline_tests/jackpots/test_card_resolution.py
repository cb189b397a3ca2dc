"""Team resolution of cards (small hand-made registry), and the shipped sample card checked against the
real football-data files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jackpot_pipeline.jackpots.cards import JackpotCard, ResolvedFixture, load_card, resolve_card
from jackpot_pipeline.sources.teams import TeamResolver, build_team_registry
from jackpot_pipeline_tests.jackpots import read_canonical_matches, shared_relpaths

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CARD = PROJECT_ROOT / "data" / "jackpots" / "sample_2324_final.json"


@pytest.fixture(scope="module")
def small_resolver() -> TeamResolver:
    matches = pd.DataFrame(
        [
            ("E0", "2324", "Man United", "Chelsea"),
            ("E0", "2324", "Arsenal", "Burnley"),
            ("E0", "2324", "Tottenham", "Liverpool"),
            ("E1", "2223", "Burnley", "Leeds"),
            ("E1", "2324", "Leeds", "Sunderland"),
            ("SP1", "2324", "Real Madrid", "Ath Madrid"),
        ],
        columns=["league", "season", "home_team", "away_team"],
    )
    return TeamResolver(build_team_registry(matches))


def fixture_card(tmp_path: Path, fixtures: list[dict[str, Any]]) -> JackpotCard:
    doc = {"jackpot_id": "t", "name": "t", "fixtures": [{"kickoff": "2024-05-19 16:00", **f} for f in fixtures]}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return load_card(path)


def resolve_one(tmp_path: Path, resolver: TeamResolver, **fixture: Any) -> ResolvedFixture:
    (resolved,) = resolve_card(fixture_card(tmp_path, [fixture]), resolver)
    return resolved


def test_card_league_and_aliases(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolve_one(tmp_path, small_resolver, home="Manchester United", away="Chelsea FC", league="E0")
    assert (resolved.home_team, resolved.away_team) == ("Man United", "Chelsea")
    assert (resolved.home.method, resolved.away.method) == ("alias", "normalised")
    assert (resolved.league, resolved.league_source, resolved.fallback, resolved.warnings) == ("E0", "card", None, ())


def test_league_is_inferred_from_teams_that_agree(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolve_one(tmp_path, small_resolver, home="Spurs", away="Liverpool FC")
    assert (resolved.home_team, resolved.away_team, resolved.league) == ("Tottenham", "Liverpool", "E0")
    assert resolved.league_source == "inferred" and resolved.warnings == ()


def test_teams_in_different_divisions_settle_on_the_one_holding_both(tmp_path: Path, small_resolver: TeamResolver) -> None:
    # Searching everywhere answers Leeds in E1 (its only division) and Burnley in E0 (its latest);
    # only E1 holds both.
    resolved = resolve_one(tmp_path, small_resolver, home="Leeds United", away="Burnley")
    assert (resolved.league, resolved.league_source, resolved.fallback) == ("E1", "inferred", None)
    assert resolved.home.league == resolved.away.league == "E1"
    (warning,) = resolved.warnings
    assert warning.severity == "warning" and "used E1, the one league holding both" in warning.message


def test_teams_of_different_countries_leave_the_league_unknown(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolve_one(tmp_path, small_resolver, home="Real Madrid", away="Arsenal",
                           odds={"home": 2.0, "draw": 3.5, "away": 3.6})
    assert resolved.league is None and resolved.league_source is None
    assert resolved.critical and resolved.fallback == "market_only"
    assert "neither of the two divisions holds both teams: give the fixture a league" in resolved.warning_messages[0]
    assert resolved.warning_messages[0].startswith("critical: ")


def test_unresolved_team_is_critical_with_a_fallback(tmp_path: Path, small_resolver: TeamResolver) -> None:
    with_odds = resolve_one(tmp_path, small_resolver, home="Gor Mahia", away="Arsenal", league="E0",
                            odds={"home": 4.0, "draw": 3.5, "away": 1.9})
    assert with_odds.home_team is None and with_odds.away_team == "Arsenal"
    assert with_odds.fallback == "market_only" and with_odds.critical
    assert with_odds.warnings[0].severity == "critical"
    assert with_odds.warnings[0].message.startswith("home team 'Gor Mahia' not resolved: no team in E0 close enough")
    without_odds = resolve_one(tmp_path, small_resolver, home="Gor Mahia", away="Arsenal")
    # The resolved side still tells the league, which the league-prior fallback needs.
    assert (without_odds.fallback, without_odds.league, without_odds.league_source) == ("league_prior", "E0", "inferred")


def test_unresolved_in_the_card_league_says_where_the_team_is(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolve_one(tmp_path, small_resolver, home="Leeds United", away="Arsenal", league="E0")
    assert resolved.fallback == "league_prior"
    assert "(resolves to Leeds in E1: check the fixture's league)" in resolved.warnings[0].message


def test_unknown_card_league_in_the_registry_is_critical(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolve_one(tmp_path, small_resolver, home="Juventus", away="Inter", league="I1")
    assert [w.severity for w in resolved.warnings] == ["critical", "critical"]
    assert "no teams registered for league 'I1'" in resolved.warnings[0].message


def test_fuzzy_matches_are_never_silent(tmp_path: Path, small_resolver: TeamResolver) -> None:
    low = resolve_one(tmp_path, small_resolver, home="Chelsae", away="Arsenal", league="E0")
    assert low.home_team == "Chelsea" and low.home.method == "fuzzy" and low.fallback is None
    (warning,) = low.warnings
    assert warning.severity == "warning" and "low-confidence fuzzy match" in warning.message
    confident = resolve_one(tmp_path, small_resolver, home="Manchestr United", away="Arsenal", league="E0")
    assert confident.home_team == "Man United" and confident.fallback is None
    (note,) = confident.warnings
    assert note.severity == "info" and "by fuzzy match, confidence" in note.message


def test_two_names_of_one_club_on_one_fixture_are_critical(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolve_one(tmp_path, small_resolver, home="Man Utd", away="Manchester United", league="E0")
    assert resolved.critical and resolved.fallback == "league_prior"
    assert "both resolve to Man United" in resolved.warnings[-1].message


def test_resolved_fixture_to_dict_is_plain(tmp_path: Path, small_resolver: TeamResolver) -> None:
    resolved = resolve_one(tmp_path, small_resolver, home="Chelsae", away="Arsenal", league="E0")
    document = resolved.to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["warnings"][0]["severity"] == "warning" and document["home_team"] == "Chelsea"


# ------------------------------------------------------------------------------------------
# The shipped sample card against the real files
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_resolver(shared_data: Path) -> TeamResolver:
    """Registry of every shared file (all leagues and seasons), as the pipeline would build it."""
    matches = read_canonical_matches(shared_data, shared_relpaths(shared_data))
    return TeamResolver(build_team_registry(matches[["league", "season", "home_team", "away_team"]]))


# 2023/24's final matchdays (Serie A's last match, Fiorentina v Cagliari, was postponed to 2 June).
FINAL_MATCHDAYS = {
    "E0": {dt.date(2024, 5, 19)},
    "SP1": {dt.date(2024, 5, 25), dt.date(2024, 5, 26)},
    "D1": {dt.date(2024, 5, 18)},
    "I1": {dt.date(2024, 5, 26)},
    "F1": {dt.date(2024, 5, 19)},
}


def _csv_rows(shared_data: Path, league: str) -> list[dict[str, str]]:
    text = (shared_data / "mmz4281" / "2324" / f"{league}.csv").read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_sample_card_is_valid() -> None:
    card = load_card(SAMPLE_CARD)
    assert card.jackpot_id == SAMPLE_CARD.stem == "sample_2324_final"
    assert card.n_fixtures == 15 and all(f.odds is not None for f in card.fixtures)
    kickoffs = [f.kickoff for f in card.fixtures]
    assert kickoffs == sorted(kickoffs), "an operator lists fixtures in kick-off order"
    assert SAMPLE_CARD.stat().st_size < 4096


def test_sample_card_fixtures_are_real_with_bet365_odds(shared_data: Path, real_resolver: TeamResolver) -> None:
    card = load_card(SAMPLE_CARD)
    resolved = resolve_card(card, real_resolver)
    leagues: set[str] = set()
    methods: list[str] = []
    for fixture, match in zip(card.fixtures, resolved, strict=True):
        assert match.warnings == (), (fixture.label, match.warning_messages)
        assert not match.critical and match.fallback is None
        for side in (match.home, match.away):
            assert side.method in ("exact", "alias", "normalised"), (side.query, side.method)
        # Operator-style names, not football-data's: every fixture has a name needing an alias.
        assert (match.home.method, match.away.method) != ("exact", "exact"), fixture.label
        methods.extend((match.home.method, match.away.method))
        assert match.league is not None
        leagues.add(match.league)
        assert fixture.kickoff.date() in FINAL_MATCHDAYS[match.league], fixture.label
        # Kick-offs are football-data's Date/Time, which are UK time (BST, +01:00, in May).
        assert fixture.kickoff.utcoffset() == dt.timedelta(hours=1)
        rows = [
            row for row in _csv_rows(shared_data, match.league)
            if (row["HomeTeam"], row["AwayTeam"]) == (match.home_team, match.away_team)
        ]
        assert len(rows) == 1, fixture.label
        (row,) = rows
        assert (row["Date"], row["Time"]) == (f"{fixture.kickoff:%d/%m/%Y}", f"{fixture.kickoff:%H:%M}")
        assert fixture.odds == (float(row["B365H"]), float(row["B365D"]), float(row["B365A"]))
    assert leagues == {"E0", "SP1", "D1", "I1", "F1"}
    assert methods.count("alias") >= 20, methods
    # Two fixtures carry no league on purpose: the league is inferred, without a warning.
    inferred = [m.fixture.label for m in resolved if m.league_source == "inferred"]
    assert inferred == ["Real Madrid v Real Betis", "Hellas Verona v Inter Milan"]
