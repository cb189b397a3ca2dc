"""The team registry built from real football-data matches and from small examples."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from jackpot_pipeline.sources.teams import REGISTRY_COLUMNS, build_team_registry, unobserved_curated_teams

SEASONS = tuple(f"{year % 100:02d}{(year + 1) % 100:02d}" for year in range(2012, 2024))


def test_registry_from_real_e0_contains_man_united_aliases(real_matches: pd.DataFrame) -> None:
    e0 = real_matches[real_matches["league"] == "E0"]
    assert sorted(set(e0["season"])) == list(SEASONS)
    registry = build_team_registry(e0)
    assert tuple(registry.columns) == REGISTRY_COLUMNS
    assert set(registry["league"]) == {"E0"}
    assert registry["team"].nunique() == 36

    man_united = registry[registry["team"] == "Man United"]
    source = man_united[man_united["alias_source"] == "source"]
    assert source[["alias", "alias_key", "first_season", "last_season", "n_matches"]].values.tolist() == [
        ["Man United", "man united", "1213", "2324", 12 * 38]
    ]
    curated_rows = man_united[man_united["alias_source"] == "curated"]
    assert {"Manchester United", "Man Utd", "Manchester Utd"} <= set(curated_rows["alias"])
    assert (
        curated_rows.loc[curated_rows["alias"] == "Manchester United", "alias_key"].tolist()
        == ["manchester united"]
    )
    # Only observed teams: no Real Madrid in an E0 registry.
    assert not registry["team"].isin(["Real Madrid", "Bayern Munich"]).any()


def test_registry_is_deterministic(real_matches: pd.DataFrame) -> None:
    sample = real_matches[real_matches["league"].isin(["E0", "I1"])]
    shuffled = sample.sample(frac=1.0, random_state=7)
    first, second = build_team_registry(sample), build_team_registry(shuffled)
    pd.testing.assert_frame_equal(first, second)
    ordered = first.assign(rank=first["alias_source"].map({"source": 0, "curated": 1}))
    assert ordered.equals(ordered.sort_values(["league", "team", "rank"], kind="stable"))


def test_registry_accepts_team_rows_without_season() -> None:
    observed = pd.DataFrame({"league": ["E0", "E0", " E0 "], "team": ["Arsenal", "Arsenal ", "Chelsea"]})
    registry = build_team_registry(observed)
    source = registry[registry["alias_source"] == "source"]
    assert source[["team", "n_matches"]].values.tolist() == [["Arsenal", 2], ["Chelsea", 1]]
    assert registry["first_season"].isna().all() and registry["last_season"].isna().all()


def test_registry_season_order_mixes_split_and_calendar_keys(real_registry: pd.DataFrame) -> None:
    """ARG moved from 2012/13-style seasons to calendar years: first/last are chronological."""
    boca = real_registry[(real_registry["league"] == "ARG") & (real_registry["team"] == "Boca Juniors")]
    assert boca[["first_season", "last_season"]].drop_duplicates().values.tolist() == [["1213", "2025"]]
    e1_leeds = real_registry[(real_registry["league"] == "E1") & (real_registry["team"] == "Leeds")]
    assert e1_leeds[["first_season", "last_season"]].drop_duplicates().values.tolist() == [["1213", "2324"]]


def test_registry_shares_aliases_between_divisions_of_a_country() -> None:
    """A club observed in a division it never played in still gets its curated aliases."""
    registry = build_team_registry(pd.DataFrame({"league": ["E3"], "team": ["Man United"]}))
    assert "Manchester United" in set(registry["alias"])


def test_registry_reports_unobserved_curated_teams(caplog: pytest.LogCaptureFixture) -> None:
    observed = pd.DataFrame({"league": ["E0"], "team": ["Arsenal"]})
    with caplog.at_level(logging.INFO, logger="jackpot_pipeline.sources.teams.registry"):
        registry = build_team_registry(observed)
    assert set(registry["team"]) == {"Arsenal"}
    unobserved = unobserved_curated_teams(observed)
    assert ("E0", "Man United") in set(unobserved.itertuples(index=False, name=None))
    assert set(unobserved["league"]) == {"E0"}  # leagues not ingested are not reported
    assert "E0:Man United" in caplog.text


def test_registry_drops_curated_alias_naming_another_observed_team(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # If a feed ever used "Manchester United" as a team of its own, the real name wins.
    observed = pd.DataFrame({"league": ["E0", "E0"], "team": ["Man United", "Manchester United"]})
    with caplog.at_level(logging.WARNING, logger="jackpot_pipeline.sources.teams.registry"):
        registry = build_team_registry(observed)
    owners = registry.loc[registry["alias"] == "Manchester United", "team"].tolist()
    assert owners == ["Manchester United"]
    assert "dropped" in caplog.text


def test_registry_rejects_unknown_input_shape() -> None:
    with pytest.raises(ValueError, match="league"):
        build_team_registry(pd.DataFrame({"team": ["Arsenal"]}))
    with pytest.raises(ValueError, match="home_team"):
        build_team_registry(pd.DataFrame({"league": ["E0"], "club": ["Arsenal"]}))
