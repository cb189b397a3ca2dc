"""The curated alias table, checked for consistency and against every real football-data name."""

from __future__ import annotations

import pandas as pd

from jackpot_pipeline.sources.teams import (
    SOURCE_NAME_VARIANTS,
    curated_alias_problems,
    normalise_team_name,
    unify_source_name,
)

MAIN_DIVISIONS = (
    "E0", "E1", "E2", "E3", "SP1", "SP2", "D1", "D2", "I1", "I2", "F1", "F2", "N1", "P1", "B1", "SC0",
)


def test_curated_table_loads_clean(curated: pd.DataFrame) -> None:
    assert list(curated.columns) == ["league", "canonical", "alias", "alias_key"]
    assert len(curated) > 1000
    assert curated_alias_problems() == []
    assert not curated.duplicated(["league", "canonical", "alias"]).any()


def test_every_curated_canonical_exists_in_real_files_for_its_league(
    curated: pd.DataFrame, real_teams: pd.DataFrame
) -> None:
    real = set(zip(real_teams["league"], real_teams["team"], strict=True))
    pairs = set(zip(curated["league"], curated["canonical"], strict=True))
    assert sorted(pair for pair in pairs if pair not in real) == []


def test_every_main_division_team_has_curated_aliases(
    curated: pd.DataFrame, real_teams: pd.DataFrame
) -> None:
    """Every team of the 16 main divisions 2012/13-2023/24 has curated aliases."""
    covered = set(zip(curated["league"], curated["canonical"], strict=True))
    main = real_teams[real_teams["league"].isin(MAIN_DIVISIONS)]
    missing = [(lg, team) for lg, team in main.itertuples(index=False) if (lg, team) not in covered]
    assert missing == []
    assert set(main["league"]) == set(MAIN_DIVISIONS)


def test_no_alias_names_two_teams_within_a_league(curated: pd.DataFrame) -> None:
    folded = curated.assign(folded=curated["alias"].str.casefold())
    assert folded.groupby(["league", "folded"])["canonical"].nunique().max() == 1
    key_owners = curated.groupby(["league", "alias_key"])["canonical"].nunique()
    assert key_owners.max() == 1


def test_no_alias_key_collides_with_another_real_team(
    curated: pd.DataFrame, real_teams: pd.DataFrame
) -> None:
    real_keys = {
        (league, normalise_team_name(team)): unify_source_name(league, team)
        for league, team in real_teams.itertuples(index=False)
    }
    collisions = [
        (row.league, row.alias, row.canonical, real_keys[(row.league, row.alias_key)])
        for row in curated.itertuples(index=False)
        if real_keys.get((row.league, row.alias_key), row.canonical) != row.canonical
    ]
    assert collisions == []
    # The same check per country (aliases are shared between divisions) and with case-folding.
    assert curated_alias_problems(real_teams) == []


def test_well_known_aliases_are_curated(curated: pd.DataFrame) -> None:
    pairs = set(zip(curated["canonical"], curated["alias"], strict=True))
    for canonical, alias in [
        ("Man United", "Manchester United"), ("Man United", "Man Utd"),
        ("Man United", "Manchester Utd"), ("Nott'm Forest", "Nottingham Forest"),
        ("Ath Madrid", "Atletico Madrid"), ("Ath Madrid", "Atlético de Madrid"),
        ("Bayern Munich", "FC Bayern München"), ("M'gladbach", "Borussia Monchengladbach"),
        ("Paris SG", "Paris Saint-Germain"), ("Paris SG", "PSG"), ("Tottenham", "Spurs"),
        ("Wolves", "Wolverhampton Wanderers"), ("Inter", "Inter Milan"), ("Inter", "Internazionale"),
        ("Milan", "AC Milan"), ("Juventus", "Juventus FC"), ("Barcelona", "Barca"),
        ("Betis", "Real Betis Balompie"), ("Ath Bilbao", "Athletic Bilbao"),
        ("Ath Bilbao", "Athletic Club"), ("Leverkusen", "Bayer Leverkusen"),
        ("RB Leipzig", "RasenBallsport Leipzig"), ("Marseille", "Olympique de Marseille"),
        ("Marseille", "OM"), ("Lyon", "Olympique Lyonnais"), ("St Etienne", "Saint-Étienne"),
    ]:
        assert (canonical, alias) in pairs


def test_source_name_variants_are_real_spellings_of_one_club(real_matches: pd.DataFrame) -> None:
    for (league, variant), preferred in SOURCE_NAME_VARIANTS.items():
        games = real_matches[real_matches["league"] == league]
        seasons = {
            name: set(games.loc[(games["home_team"] == name) | (games["away_team"] == name), "season"])
            for name in (variant, preferred)
        }
        assert seasons[variant] and seasons[preferred]
        # The preferred spelling is the one the publisher uses most recently.
        assert max(seasons[preferred], key=int) >= max(seasons[variant], key=int)
        assert unify_source_name(league, f" {variant} ") == preferred
    assert unify_source_name("E0", " Man United ") == "Man United"
