"""Team-name cleaning and normalisation, checked against examples, properties and every real name."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jackpot_pipeline.sources.teams import (
    clean_source_name,
    league_family,
    normalise_team_name,
    unify_source_name,
)


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


def test_league_family() -> None:
    assert [league_family(code) for code in ("E0", "E3", "SP2", "SC0", "D1", "ARG", "EC")] == [
        "E", "E", "SP", "SC", "D", "ARG", "E",
    ]
