"""The team resolver on the registry of every real football-data file, and on small registries."""

from __future__ import annotations

import pandas as pd
import pytest

from jackpot_pipeline.sources.teams import TeamResolver, unify_source_name


@pytest.mark.parametrize(
    ("query", "league", "team", "method"),
    [
        ("Man United", "E0", "Man United", "exact"),
        ("Manchester United", "E0", "Man United", "alias"),
        ("Man Utd", "E0", "Man United", "alias"),
        ("manchester united", "E0", "Man United", "alias"),
        ("Arsenal FC", "E0", "Arsenal", "normalised"),
        ("ARSENAL", "E0", "Arsenal", "normalised"),
        ("Newcastle Utd", "E0", "Newcastle", "normalised"),
        ("Nottingham Forest", "E0", "Nott'm Forest", "alias"),
        ("Spurs", "E0", "Tottenham", "alias"),
        ("Wolverhampton Wanderers FC", "E0", "Wolves", "normalised"),
        ("Bayern München", "D1", "Bayern Munich", "alias"),
        ("FC Bayern Munich", "D1", "Bayern Munich", "normalised"),
        ("Köln", "D1", "FC Koln", "normalised"),
        ("1. FC Köln", "D1", "FC Koln", "alias"),
        ("Nürnberg", "D1", "Nurnberg", "normalised"),
        ("Borussia Mönchengladbach", "D1", "M'gladbach", "alias"),
        ("Bayer Leverkusen", "D1", "Leverkusen", "alias"),
        ("RasenBallsport Leipzig", "D1", "RB Leipzig", "alias"),
        ("Atlético Madrid", "SP1", "Ath Madrid", "normalised"),
        ("Atletico Madrid", "SP1", "Ath Madrid", "alias"),
        ("Málaga", "SP1", "Malaga", "alias"),
        ("Malaga CF", "SP1", "Malaga", "normalised"),
        ("Barca", "SP1", "Barcelona", "alias"),
        ("Real Betis Balompie", "SP1", "Betis", "alias"),
        ("Athletic Club", "SP1", "Ath Bilbao", "alias"),
        ("Real Madrid", "SP1", "Real Madrid", "exact"),
        ("Inter Milan", "I1", "Inter", "alias"),
        ("Internazionale", "I1", "Inter", "alias"),
        ("AC Milan", "I1", "Milan", "alias"),
        ("Juventus FC", "I1", "Juventus", "alias"),
        ("Saint-Étienne", "F1", "St Etienne", "alias"),
        ("AS Saint Etienne", "F1", "St Etienne", "normalised"),
        ("Paris Saint-Germain", "F1", "Paris SG", "alias"),
        ("PSG", "F1", "Paris SG", "alias"),
        ("Olympique de Marseille", "F1", "Marseille", "alias"),
        ("Olympique Lyonnais", "F1", "Lyon", "alias"),
        ("Manchestr United", "E0", "Man United", "fuzzy"),
        ("Totenham", "E0", "Tottenham", "fuzzy"),
    ],
)
def test_resolve_examples(
    resolver: TeamResolver, query: str, league: str, team: str, method: str
) -> None:
    match = resolver.resolve(query, league)
    assert (match.team, match.league, match.method) == (team, league, method)
    assert match.resolved
    if method in ("exact", "alias"):
        assert match.confidence == 1.0 and match.warning is None
    if method == "normalised":
        assert 0.9 <= match.confidence < 1.0 and match.warning is None


def test_clear_typo_is_a_confident_fuzzy_match(resolver: TeamResolver) -> None:
    match = resolver.resolve("Manchestr United", "E0")
    assert match.team == "Man United" and match.warning is None
    assert match.confidence >= resolver.confident_score
    assert [c.team for c in match.candidates[:2]] == ["Man United", "Man City"]
    assert match.candidates[1].score < match.confidence - resolver.ambiguity_margin


def test_real_madrid_never_becomes_ath_madrid(real_matches: pd.DataFrame, resolver: TeamResolver) -> None:
    assert resolver.resolve("Real Madrid").team == "Real Madrid"
    # Without Real Madrid in the registry, the answer is "unresolved", never a Madrid neighbour.
    sp1 = real_matches[real_matches["league"] == "SP1"]
    without = sp1[(sp1["home_team"] != "Real Madrid") & (sp1["away_team"] != "Real Madrid")]
    match = TeamResolver.from_observed(without).resolve("Real Madrid", "SP1")
    assert match.team is None and match.method == "unresolved" and match.warning
    # Nor the reserve side: SP2 has Real Madrid B, not Real Madrid.
    assert resolver.resolve("Real Madrid", "SP2").team is None


def test_inter_and_milan_stay_apart(resolver: TeamResolver) -> None:
    queries = ("Inter", "Inter Milan", "Internazionale", "Milan", "AC Milan")
    answers = {q: resolver.resolve(q).team for q in queries}
    assert answers == {
        "Inter": "Inter", "Inter Milan": "Inter", "Internazionale": "Inter",
        "Milan": "Milan", "AC Milan": "Milan",
    }


def test_all_leagues_search_prefers_the_latest_division_without_warning(resolver: TeamResolver) -> None:
    leeds = resolver.resolve("Leeds United")  # E0 until 2022/23, E1 in 2023/24
    assert (leeds.team, leeds.league, leeds.method, leeds.warning) == ("Leeds", "E1", "alias", None)
    assert resolver.resolve("Paris Saint-Germain").league == "F1"


def test_all_leagues_search_warns_when_leagues_disagree() -> None:
    registry = pd.DataFrame(
        {
            "league": ["E0", "ARG", "ARG"],
            "team": ["Arsenal", "Arsenal Sarandi", "Arsenal Sarandi"],
            "alias": ["Arsenal", "Arsenal Sarandi", "Arsenal"],
            "alias_source": ["source", "source", "curated"],
        }
    )
    resolver = TeamResolver(registry)
    match = resolver.resolve("Arsenal")
    assert (match.team, match.league, match.method) == ("Arsenal", "E0", "exact")
    assert match.warning is not None and "Arsenal Sarandi (ARG" in match.warning
    assert resolver.resolve("Arsenal", "E0").warning is None


def test_ambiguous_fuzzy_match_warns(resolver: TeamResolver) -> None:
    # Exactly as close to Lecce as to Lecco, both in Serie B; the tie goes to the club with the
    # later season there (Lecco, 2023/24), with a warning.
    match = resolver.resolve("Lecc", "I2")
    assert (match.team, match.method) == ("Lecco", "fuzzy")
    assert match.warning is not None and "ambiguous" in match.warning and "Lecce" in match.warning
    assert [c.team for c in match.candidates[:2]] == ["Lecco", "Lecce"]
    assert resolver.resolve("Lecc", "I2") == match


def test_low_confidence_fuzzy_match_warns(resolver: TeamResolver) -> None:
    match = resolver.resolve("Chelsae", "E0")
    assert match.team == "Chelsea" and match.method == "fuzzy"
    assert resolver.fuzzy_threshold <= match.confidence < resolver.confident_score
    assert match.warning is not None and "low-confidence" in match.warning


@pytest.mark.parametrize(
    ("query", "league"), [("Manchester", "E0"), ("Hogwarts Wanderers", None), ("Madrid", None)]
)
def test_unresolved_names_list_candidates(resolver: TeamResolver, query: str, league: str | None) -> None:
    match = resolver.resolve(query, league)
    assert (match.team, match.method, match.confidence) == (None, "unresolved", 0.0)
    assert match.warning is not None
    if query == "Manchester":
        assert {c.team for c in match.candidates} >= {"Man City", "Man United"}


def test_fuzzy_threshold_is_configurable(real_registry: pd.DataFrame) -> None:
    strict = TeamResolver(real_registry, fuzzy_threshold=0.99)
    assert strict.resolve("Totenham", "E0").team is None
    assert strict.resolve("Tottenham Hotspur", "E0").team == "Tottenham"


def test_empty_name_and_unknown_league_are_unresolved(resolver: TeamResolver) -> None:
    assert resolver.resolve("   ").method == "unresolved"
    unknown = resolver.resolve("Galatasaray", "T1")
    assert unknown.team is None and unknown.warning is not None and "T1" in unknown.warning


def test_two_spellings_of_one_club_are_not_ambiguous(resolver: TeamResolver) -> None:
    """The shared ARG file spells Colón both 'Colon Santa FE' and 'Colon Santa Fe'."""
    match = resolver.resolve("colon santa fe", "ARG")
    assert match.team == "Colon Santa Fe" and match.method == "normalised"
    assert match.confidence > 0.9
    assert match.warning is not None and "unify_source_name" in match.warning
    # With the spellings merged at ingestion, the warning disappears.
    teams = [(league, team) for league in resolver.leagues for team in resolver.teams(league)]
    unified = pd.DataFrame(
        [(league, unify_source_name(league, team)) for league, team in teams], columns=["league", "team"]
    )
    assert TeamResolver.from_observed(unified).resolve("colon santa fe", "ARG").warning is None


def test_resolve_many_and_registry_order_independence(
    real_registry: pd.DataFrame, resolver: TeamResolver
) -> None:
    queries = ["Man Utd", "Atlético Madrid", "Manchestr United", "Regina", "Hogwarts", "Leeds"]
    frame = resolver.resolve_many(queries)
    assert list(frame.columns) == ["query", "team", "league", "method", "confidence", "warning"]
    assert frame["team"].tolist() == ["Man United", "Ath Madrid", "Man United", "Reggina", None, "Leeds"]
    reversed_resolver = TeamResolver(real_registry.iloc[::-1].reset_index(drop=True))
    assert [reversed_resolver.resolve(q) for q in queries] == [resolver.resolve(q) for q in queries]


def test_equal_names_in_two_countries_are_different_clubs() -> None:
    registry = pd.DataFrame(
        {
            "league": ["P1", "URU"],
            "team": ["Nacional", "Nacional"],
            "alias": ["Nacional", "Nacional"],
            "alias_source": ["source", "source"],
            "last_season": ["2324", "2024"],
        }
    )
    match = TeamResolver(registry).resolve("Nacional")
    assert match.team == "Nacional" and match.warning is not None and "2 teams" in match.warning
    assert TeamResolver(registry).resolve("Nacional", "P1").warning is None
