"""Team-name normalisation, curated aliases, registry and resolver, checked against examples and
against every real football-data.co.uk file of the shared folder (read in place, never copied)."""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jackpot_pipeline.sources.teams import (
    REGISTRY_COLUMNS,
    SOURCE_NAME_VARIANTS,
    TeamResolver,
    build_team_registry,
    clean_source_name,
    curated_alias_problems,
    league_family,
    load_curated_aliases,
    normalise_team_name,
    unify_source_name,
    unobserved_curated_teams,
)

TOP_DIVISIONS = ("E0", "E1", "SP1", "D1", "I1", "F1")
MAIN_DIVISIONS = (
    "E0", "E1", "E2", "E3", "SP1", "SP2", "D1", "D2", "I1", "I2", "F1", "F2", "N1", "P1", "B1", "SC0",
)
SEASONS = tuple(f"{year % 100:02d}{(year + 1) % 100:02d}" for year in range(2012, 2024))


# ------------------------------------------------------------------------------------------
# Real data: a small reader, just enough for team names
# ------------------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # two season files carry a cp1252 no-break space (0xA0)
        text = raw.decode("cp1252")
    return list(csv.DictReader(io.StringIO(text)))


def _new_season_key(label: str) -> str:
    """``2012/2013`` -> ``1213``, ``2015`` -> ``2015`` (the pipeline's season keys)."""
    text = label.strip()
    match = re.fullmatch(r"(\d{4})/(\d{4})", text)
    return f"{match.group(1)[2:]}{match.group(2)[2:]}" if match else text


@pytest.fixture(scope="module")
def real_matches(shared_data: Path) -> pd.DataFrame:
    """Every match of the shared files as (league, season, home_team, away_team)."""
    season_files = sorted((shared_data / "mmz4281").glob("*/*.csv"))
    new_files = sorted((shared_data / "new").glob("*.csv"))
    # Guards against a scan that finds nothing and lets every check below pass vacuously.
    assert len(season_files) == 16 * 12
    assert [p.stem for p in new_files] == ["ARG", "BRA", "JPN", "NOR", "USA"]
    rows: list[tuple[str, str, str, str]] = []
    for path in season_files:
        for record in _read_rows(path):
            home, away = (record.get("HomeTeam") or "").strip(), (record.get("AwayTeam") or "").strip()
            if home and away:  # skips the comma-only padding lines
                rows.append((path.stem, path.parent.name, clean_source_name(home), clean_source_name(away)))
    for path in new_files:
        for record in _read_rows(path):
            home, away = (record.get("Home") or "").strip(), (record.get("Away") or "").strip()
            if home and away:
                rows.append((path.stem, _new_season_key(record["Season"]),
                             clean_source_name(home), clean_source_name(away)))
    return pd.DataFrame(rows, columns=["league", "season", "home_team", "away_team"])


@pytest.fixture(scope="module")
def real_teams(real_matches: pd.DataFrame) -> pd.DataFrame:
    """Distinct (league, team) source names of the shared files."""
    sides = [
        real_matches[["league", side]].rename(columns={side: "team"}) for side in ("home_team", "away_team")
    ]
    return pd.concat(sides).drop_duplicates().sort_values(["league", "team"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def real_registry(real_matches: pd.DataFrame) -> pd.DataFrame:
    return build_team_registry(real_matches)


@pytest.fixture(scope="module")
def resolver(real_registry: pd.DataFrame) -> TeamResolver:
    return TeamResolver(real_registry)


@pytest.fixture(scope="module")
def curated() -> pd.DataFrame:
    return load_curated_aliases()


# ------------------------------------------------------------------------------------------
# clean_source_name / normalise_team_name
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Man United", "Man United"),
        ("  Colon Santa Fe ", "Colon Santa Fe"),
        ("Nott'm   Forest", "Nott'm Forest"),
        ("Man\u00a0United\t", "Man United"),
        ("\ufeffArsenal", "Arsenal"),
        ("St. Gilloise", "St. Gilloise"),
    ],
)
def test_clean_source_name_trims_and_collapses_whitespace_only(cell: str, expected: str) -> None:
    assert clean_source_name(cell) == expected


def test_clean_source_name_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        clean_source_name(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        # accents and letters NFKD does not decompose
        ("Bayern München", "bayern munchen"),
        ("FC Bayern München", "bayern munchen"),
        ("Atlético Madrid", "atletico madrid"),
        ("Atlético de Madrid", "atletico madrid"),
        ("Málaga", "malaga"),
        ("Köln", "koln"),
        ("1. FC Köln", "koln"),
        ("1. FC Nürnberg", "nurnberg"),
        ("Saint-Étienne", "st etienne"),
        ("AS Saint-Étienne", "st etienne"),
        ("St. Etienne", "st etienne"),
        ("Bodø/Glimt", "bodo glimt"),
        ("Stabæk", "stabaek"),
        ("Fußball Club Foo", "foo"),
        # case, whitespace and punctuation
        ("MAN UNITED", "man united"),
        ("  man   united ", "man united"),
        ("Nott'm Forest", "nottm forest"),
        ("M\u2019gladbach", "mgladbach"),
        ("Brighton & Hove Albion", "brighton and hove albion"),
        ("Estudiantes L.P.", "estudiantes lp"),
        ("Yokohama F. Marinos", "yokohama f marinos"),
        # affixes, as whole tokens only
        ("Arsenal FC", "arsenal"),
        ("A.F.C. Bournemouth", "bournemouth"),
        ("AC Milan", "milan"),
        ("A.C. Milan", "milan"),
        ("Real Madrid CF", "real madrid"),
        ("Real Betis Balompié", "real betis"),
        ("SC Bastia", "bastia"),
        ("Club Brugge KV", "brugge"),
        ("Man Utd", "man united"),
        ("FC", "fc"),  # only affixes: kept rather than an empty key
        # tokens that distinguish clubs survive
        ("Inter", "inter"),
        ("Inter Milan", "inter milan"),
        ("CA Bastia", "ca bastia"),
        ("Paris SG", "paris sg"),
        ("Real Madrid B", "real madrid b"),
        ("Schalke 04", "schalke 04"),
        ("TSV 1860 München", "1860 munchen"),
        ("Frankfurt FSV", "frankfurt fsv"),
        ("Facundo", "facundo"),  # "fc"-like prefixes inside words are untouched
    ],
)
def test_normalise_examples(name: str, key: str) -> None:
    assert normalise_team_name(name) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Inter", "Milan"),
        ("Inter Milan", "AC Milan"),
        ("Real Madrid", "Ath Madrid"),
        ("Real Madrid", "Atlético Madrid"),
        ("Man United", "Man City"),
        ("Paris SG", "Paris FC"),
        ("Bastia", "CA Bastia"),
        ("Sevilla", "Sevilla B"),
        ("Bayern Munich", "Munich 1860"),
        ("Ajaccio", "Ajaccio GFCO"),
        ("Sheffield United", "Sheffield Weds"),
        ("Ein Frankfurt", "Frankfurt FSV"),
    ],
)
def test_normalise_keeps_different_clubs_apart(a: str, b: str) -> None:
    assert normalise_team_name(a) != normalise_team_name(b)


def test_real_names_keep_distinct_keys_within_each_league(real_teams: pd.DataFrame) -> None:
    """Two source names of one league share a key only when they are one club's two spellings."""
    clashes = []
    for league, group in real_teams.groupby("league"):
        by_key: dict[str, set[str]] = {}
        for team in group["team"]:
            by_key.setdefault(normalise_team_name(team), set()).add(unify_source_name(str(league), team))
        clashes += [(league, key, sorted(clubs)) for key, clubs in by_key.items() if len(clubs) > 1]
    assert clashes == []


_NAME_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=(
            "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Nd", "No", "Pc", "Pd", "Po", "Ps", "Pe", "Zs", "Sm", "So",
        ),
    ),
    max_size=40,
)
# Case-insensitivity is checked on the alphabet club names are written in (Latin with accents),
# since upper-casing some exotic letters is not reversible by casefold (e.g. titlecase digraphs).
_LATIN_NAME_TEXT = st.text(
    alphabet=st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-'&/()")
        + list("áàâäãåçéèêëíìîïñóòôöõøúùûüýÿßæœÁÉÍÓÚÜÖÄÑÇØÆŒ\u2019")
    ),
    max_size=40,
)


@given(_NAME_TEXT)
def test_normalise_is_idempotent(name: str) -> None:
    key = normalise_team_name(name)
    assert normalise_team_name(key) == key


@given(_LATIN_NAME_TEXT)
def test_normalise_is_case_insensitive(name: str) -> None:
    key = normalise_team_name(name)
    assert normalise_team_name(name.upper()) == key
    assert normalise_team_name(name.lower()) == key
    assert normalise_team_name(name.swapcase()) == key


@given(_NAME_TEXT, st.sampled_from([" ", "  ", "\t", "\u00a0", " \n "]))
def test_normalise_is_whitespace_insensitive(name: str, space: str) -> None:
    padded = space + name.replace(" ", space) + space
    assert normalise_team_name(padded) == normalise_team_name(name)
    assert clean_source_name(padded) == clean_source_name(name)


# ------------------------------------------------------------------------------------------
# Curated alias table
# ------------------------------------------------------------------------------------------


def test_league_family() -> None:
    assert [league_family(code) for code in ("E0", "E3", "SP2", "SC0", "D1", "ARG", "EC")] == [
        "E", "E", "SP", "SC", "D", "ARG", "E",
    ]


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
    """All 16 main divisions 2012/13-2023/24 are covered (the brief asks for the 6 top ones)."""
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


def test_alias_examples_of_the_brief_are_curated(curated: pd.DataFrame) -> None:
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


# ------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------


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
    with caplog.at_level(logging.INFO, logger="jackpot_pipeline.sources.teams"):
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
    with caplog.at_level(logging.WARNING, logger="jackpot_pipeline.sources.teams"):
        registry = build_team_registry(observed)
    owners = registry.loc[registry["alias"] == "Manchester United", "team"].tolist()
    assert owners == ["Manchester United"]
    assert "dropped" in caplog.text


def test_registry_rejects_unknown_input_shape() -> None:
    with pytest.raises(ValueError, match="league"):
        build_team_registry(pd.DataFrame({"team": ["Arsenal"]}))
    with pytest.raises(ValueError, match="home_team"):
        build_team_registry(pd.DataFrame({"league": ["E0"], "club": ["Arsenal"]}))


# ------------------------------------------------------------------------------------------
# Resolver
# ------------------------------------------------------------------------------------------


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
