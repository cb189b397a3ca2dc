"""Team names: canonical football-data.co.uk names per league, curated aliases and a resolver.

*Canonical* means exactly the string football-data.co.uk writes in its ``HomeTeam``/``AwayTeam``
(or ``Home``/``Away``) cells after :func:`clean_source_name`: ``Man United``, ``Nott'm Forest``,
``Ath Madrid``. Everything else (``Manchester United``, ``Man Utd``, ``Atlético de Madrid``) is an
*alias*. Registries are keyed by league code (``E0``, ``SP2``, ``ARG``...), because a code is one
division; a club moving between divisions of one country keeps its canonical name, so curated
aliases are shared between the divisions of a country (see :func:`league_family`).

Pure module: pandas and the standard library only (no Dagster), so it can be used by jackpot-card
tooling and tests without a Dagster instance.
"""

from __future__ import annotations

import csv
import difflib
import functools
import importlib.resources
import io
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from jackpot_pipeline.sources.leagues import SeasonError, season_years

__all__ = [
    "ALIAS_TABLE_RESOURCE",
    "REGISTRY_COLUMNS",
    "SOURCE_NAME_VARIANTS",
    "Candidate",
    "MatchMethod",
    "TeamMatch",
    "TeamResolver",
    "build_team_registry",
    "team_registry_metadata",
    "clean_source_name",
    "curated_alias_problems",
    "league_family",
    "load_curated_aliases",
    "normalise_team_name",
    "team_name_similarity",
    "unify_source_name",
    "unreadable_character",
    "unobserved_curated_teams",
]

logger = logging.getLogger(__name__)

ALIAS_TABLE_RESOURCE = "team_aliases.csv"
_ALIAS_TABLE_COLUMNS = ("league", "canonical", "alias")

REGISTRY_COLUMNS: tuple[str, ...] = (
    "league",
    "team",
    "alias",
    "alias_key",
    "alias_source",
    "first_season",
    "last_season",
    "n_matches",
)

MatchMethod = Literal["exact", "alias", "normalised", "fuzzy", "unresolved"]

# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

# Letters NFKD does not decompose into ASCII base + combining mark (ø is not "o + stroke" in
# Unicode, ß casefolds to "ss" by itself). Applied after casefold, so only lower-case forms.
_TRANSLITERATE = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "ı": "i", "þ": "th", "ħ": "h"}
)
# Apostrophes vanish (Nott'm -> nottm, M'gladbach -> mgladbach, Newell's -> newells) instead of
# splitting the word, which is how people type these names without the apostrophe.
_APOSTROPHES = re.compile("['\u2019\u2018\u02bc\u00b4`]")
# Everything that is not a letter or digit separates words: '.', '-', '/', '(', ',', '_' ...
_SEPARATORS = re.compile(r"[\W_]+")

# Whole-token synonyms: spellings of the same word, never of different clubs.
_SYNONYMS: dict[str, str] = {
    "utd": "united",
    "saint": "st",
    "sankt": "st",
    "sint": "st",
}

# Legal-form / filler tokens dropped from the matching key, as whole tokens only.
# Deliberately NOT here, because dropping them would merge or confuse different clubs:
#   inter (Inter vs Milan), real (Real Madrid vs Ath Madrid), atletico/athletic, sporting,
#   racing, olympique, stade, united/city/town/county/rovers (Man United vs Man City),
#   ca (CA Bastia vs Bastia in F2), sg (Paris SG would become "paris" = Paris FC),
#   fsv (Frankfurt FSV would become "frankfurt"), vvv (VVV Venlo), b/ii (reserve sides),
#   digits other than the leading "1." of German clubs (Schalke 04, Munich 1860, Sarpsborg 08).
_AFFIXES: frozenset[str] = frozenset(
    {
        # generic / English
        "fc", "afc", "cf", "sc", "club", "football", "the",
        # Italian
        "ac", "as", "ss", "ssc", "us", "ssd", "asd", "calcio",
        # Spanish / Portuguese
        "cd", "ud", "rc", "rcd", "sd", "gd", "sl", "cs", "de", "del", "futbol", "futebol",
        "balompie",
        # German (1. FC Köln -> "1 fc koln" -> "koln")
        "1", "sv", "vfb", "vfl", "tsg", "tsv", "bsc", "ssv", "spvgg", "fussball",
        # Scandinavian
        "fk", "sk", "bk", "if", "il", "ff",
        # Dutch / Belgian / French
        "sbv", "kv", "krc", "kaa", "kas", "rsc", "kvc", "ksv", "rfc", "kfc", "sco", "ogc",
    }
)

# Tokens marking a reserve/youth/women's side. A fuzzy match that differs in one of these is
# penalised so "Real Madrid" never fuzzy-matches "Real Madrid B" (the Castilla side in SP2).
_RESERVE_MARKERS: frozenset[str] = frozenset(
    {"b", "ii", "u19", "u21", "u23", "reserves", "youth", "jong", "women", "w", "femenino"}
)
_RESERVE_PENALTY = 0.8


def clean_source_name(name: str) -> str:
    """A CSV cell as we store it as a canonical name: trimmed, inner whitespace collapsed.

    Case and punctuation are kept: the canonical name is football-data.co.uk's own spelling.
    """
    if not isinstance(name, str):
        raise TypeError(f"team name must be a str, got {type(name).__name__}: {name!r}")
    # str.split() with no argument splits on every Unicode space (incl. U+00A0); a BOM is not a
    # space but leaks in from the first cell of BOM-prefixed files read without utf-8-sig.
    return " ".join(name.replace("\ufeff", " ").split())


# Categories no name holds: controls, format characters (zero-width spaces...), surrogates (bytes
# that did not decode), private use and unassigned code points.
_UNREADABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def unreadable_character(text: str) -> str | None:
    """``U+XXXX`` of the first character a team (or card) name cannot hold, or None.

    U+FFFD is what a decoder leaves for a byte it could not read; the others cannot be typed or seen
    and break the places names go (PostgreSQL refuses NUL, UTF-8 files refuse lone surrogates).
    """
    if text.isprintable() and "\ufffd" not in text:  # the common case, without a lookup per character
        return None
    for character in text:
        if character == "\ufffd" or unicodedata.category(character) in _UNREADABLE_CATEGORIES:
            return f"U+{ord(character):04X}"
    return None


def _fold_characters(text: str) -> str:
    """Casefold, transliterate and strip accents until stable (NFKD can expose new upper case)."""
    for _ in range(4):
        folded = text.casefold().translate(_TRANSLITERATE)
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
        if folded == text:
            break
        text = folded
    return text


def _join_initials(tokens: list[str]) -> list[str]:
    """Join runs of single letters ("a f c" from "A.F.C.") into one token ("afc")."""
    joined: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if run:
            joined.append("".join(run))
            run = []
        if token:
            joined.append(token)
    return joined


def _reduce_tokens(tokens: list[str]) -> list[str]:
    tokens = [_SYNONYMS.get(token, token) for token in _join_initials(tokens)]
    kept = [token for token in tokens if token not in _AFFIXES]
    # A name made only of affixes ("FC", "AS") keeps them rather than becoming an empty key.
    return kept or tokens


def normalise_team_name(name: str) -> str:
    """Matching key for a team name: accent-free, casefolded, punctuation- and affix-free.

    ``Atlético de Madrid`` -> ``atletico madrid``; ``1. FC Köln`` -> ``koln``;
    ``Brighton & Hove Albion`` -> ``brighton and hove albion``; ``Man Utd`` -> ``man united``;
    ``Saint-Étienne`` -> ``st etienne``. Idempotent. Not a display name.
    """
    text = _fold_characters(clean_source_name(name))
    text = text.replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    tokens = _SEPARATORS.sub(" ", text).split()
    # Joining initials can expose a new affix ("a c" -> "ac") and dropping an affix can bring
    # two initials together, so reduce to a fixed point; each pass only shrinks the list.
    while True:
        reduced = _reduce_tokens(tokens)
        if reduced == tokens:
            return " ".join(tokens)
        tokens = reduced


def _compact(key: str) -> str:
    """Key without spaces: ``Ham-Kam``/``HamKam``, ``FeralpiSalo``/``Feralpi Salò`` meet here."""
    return key.replace(" ", "")


# Two words "correspond" from this difflib ratio on: one or two typos in a word of 5+ letters
# ("chelsae" ~ "chelsea" 0.86, "lazoi" ~ "lazio" 0.8), but not "real" ~ "atl" (0.57).
_TOKEN_MATCH = 0.75


def _token_coverage(a_tokens: Sequence[str], b_tokens: Sequence[str]) -> float:
    """Share of characters (both sides) in words that have a corresponding word on the other side."""
    matcher = difflib.SequenceMatcher(autojunk=False)
    covered = 0
    for mine, theirs in ((a_tokens, b_tokens), (b_tokens, a_tokens)):
        for token in mine:
            matcher.set_seq2(token)
            for other in theirs:
                matcher.set_seq1(other)
                if other == token or matcher.ratio() >= _TOKEN_MATCH:
                    covered += len(token)
                    break
    total = sum(map(len, a_tokens)) + sum(map(len, b_tokens))
    return covered / total if total else 0.0


def team_name_similarity(a_key: str, b_key: str) -> float:
    """Similarity in [0, 1] of two *normalised* keys (see :func:`normalise_team_name`).

    The better of difflib's ratio on the keys and on their sorted words ("madrid real" ~
    "real madrid"), scaled down by the share of words without a counterpart on the other side:
    character ratios alone rate "real madrid" ~ "atl madrid" at 0.86 although the distinguishing
    word differs entirely. Not a token-*set* ratio on purpose: that rates "inter milan" ~ "milan"
    1.0. Keys differing in a reserve-side marker ("b", "ii", "u23") are penalised further.
    """
    if not a_key or not b_key:
        return 0.0
    if a_key == b_key:
        return 1.0
    score = difflib.SequenceMatcher(None, a_key, b_key, autojunk=False).ratio()
    a_tokens, b_tokens = a_key.split(), b_key.split()
    a_sorted, b_sorted = " ".join(sorted(a_tokens)), " ".join(sorted(b_tokens))
    if (a_sorted, b_sorted) != (a_key, b_key):
        score = max(score, difflib.SequenceMatcher(None, a_sorted, b_sorted, autojunk=False).ratio())
    score *= 0.5 + 0.5 * _token_coverage(a_tokens, b_tokens)
    if (_RESERVE_MARKERS & set(a_tokens)) != (_RESERVE_MARKERS & set(b_tokens)):
        score *= _RESERVE_PENALTY
    return score


# --------------------------------------------------------------------------------------------
# Leagues, seasons and football-data's own spelling variants
# --------------------------------------------------------------------------------------------

# The National League (EC) is the fifth tier of the English pyramid (E0..E3).
_FAMILY_OVERRIDES: dict[str, str] = {"EC": "E"}


def league_family(league: str) -> str:
    """Country pyramid of a football-data league code: ``E0``..``E3`` -> ``E``, ``SP2`` -> ``SP``.

    football-data.co.uk spells a club the same way in every division of its country, so curated
    aliases are shared within a family: a club promoted into a division it never played in keeps
    its aliases there. Extra-league codes (``ARG``, ``NOR``) are their own family.
    """
    code = league.strip().upper()
    return _FAMILY_OVERRIDES.get(code) or re.sub(r"\d+$", "", code) or code


# The same club written two ways in football-data.co.uk's own cells (found in the 2012-2025
# files); the value is the spelling the publisher uses in its latest seasons. Applying
# unify_source_name() at ingestion gives such a club one history instead of two teams.
SOURCE_NAME_VARIANTS: dict[tuple[str, str], str] = {
    ("ARG", "Colon Santa FE"): "Colon Santa Fe",  # "FE" 2012/13-2022, "Fe" 2022-2023
    ("NOR", "Ham-Kam"): "HamKam",  # "Ham-Kam" 2022-2023, "HamKam" 2023-2025
}


def unify_source_name(league: str, name: str) -> str:
    """:func:`clean_source_name`, then the publisher's latest spelling if ``name`` is a variant."""
    cleaned = clean_source_name(name)
    return SOURCE_NAME_VARIANTS.get((league.strip(), cleaned), cleaned)


def _season_order(league: str, season: object) -> tuple[int, str]:
    """Chronological sort key of a season key: ``1213`` -> 2012, ``9394`` -> 1993, ``2015`` -> 2015.

    ``2021`` is split season 2020/21 for the main divisions and the split-season extra leagues, and
    calendar year 2021 for the calendar-year extra leagues (see :mod:`jackpot_pipeline.sources.leagues`).
    """
    text = str(season).strip()
    try:
        return season_years(league.strip(), text)[0], text
    except SeasonError:
        return -1, text


# --------------------------------------------------------------------------------------------
# Curated alias table
# --------------------------------------------------------------------------------------------


def _read_alias_table() -> list[tuple[str, str, str]]:
    text = (
        importlib.resources.files(__package__ or "jackpot_pipeline.sources")
        .joinpath(ALIAS_TABLE_RESOURCE)
        .read_text(encoding="utf-8-sig")
    )
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    if header != _ALIAS_TABLE_COLUMNS:
        raise ValueError(f"{ALIAS_TABLE_RESOURCE}: header must be {','.join(_ALIAS_TABLE_COLUMNS)}")
    rows: list[tuple[str, str, str]] = []
    for line_number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(_ALIAS_TABLE_COLUMNS):
            raise ValueError(f"{ALIAS_TABLE_RESOURCE}:{line_number}: expected 3 cells, got {record}")
        # Stray spaces would make a canonical name differ from the CSV cell it must equal.
        if any(not cell or cell != clean_source_name(cell) for cell in record):
            raise ValueError(f"{ALIAS_TABLE_RESOURCE}:{line_number}: empty or untrimmed cell {record}")
        rows.append((record[0], record[1], record[2]))
    return rows


@functools.cache
def _curated_rows() -> tuple[tuple[str, str, str], ...]:
    rows = _read_alias_table()
    problems = _alias_problems(rows, known_teams=())
    if problems:
        raise ValueError(f"{ALIAS_TABLE_RESOURCE} is inconsistent:\n  " + "\n  ".join(problems))
    return tuple(rows)


def load_curated_aliases() -> pd.DataFrame:
    """The curated table (package data) with each alias's key: league, canonical, alias, alias_key.

    Validated on first load (see :func:`curated_alias_problems`); a broken table raises
    ``ValueError`` instead of silently mis-resolving names.
    """
    rows = _curated_rows()
    frame = pd.DataFrame(list(rows), columns=list(_ALIAS_TABLE_COLUMNS))
    frame["alias_key"] = [normalise_team_name(alias) for alias in frame["alias"]]
    return frame


def _alias_problems(
    rows: Iterable[tuple[str, str, str]], known_teams: Iterable[tuple[str, str]]
) -> list[str]:
    problems: list[str] = []
    seen_rows: set[tuple[str, str, str]] = set()
    # Everything is checked per league family, because the registry shares curated aliases
    # between the divisions of a country (a promoted club brings its aliases along).
    canonical_by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    alias_owner: dict[tuple[str, str], set[str]] = defaultdict(set)
    alias_key_owner: dict[tuple[str, str], set[str]] = defaultdict(set)
    alias_rows: list[tuple[str, str, str]] = []
    for league, team in known_teams:
        team = unify_source_name(league, team)
        canonical_by_key[(league_family(league), normalise_team_name(team))].add(team)
    for league, canonical, alias in rows:
        family = league_family(league)
        if (league, canonical, alias) in seen_rows:
            problems.append(f"{league}: duplicate row {canonical!r} <- {alias!r}")
            continue
        seen_rows.add((league, canonical, alias))
        if alias.casefold() == canonical.casefold():
            problems.append(f"{league}: alias {alias!r} is the canonical name itself")
        canonical_by_key[(family, normalise_team_name(canonical))].add(canonical)
        alias_owner[(family, alias.casefold())].add(canonical)
        alias_key_owner[(family, normalise_team_name(alias))].add(canonical)
        alias_rows.append((family, canonical, alias))
    for (family, alias), owners in sorted(alias_owner.items()):
        if len(owners) > 1:
            problems.append(f"{family}: alias {alias!r} names {sorted(owners)}")
    for (family, key), owners in sorted(alias_key_owner.items()):
        if len(owners) > 1:
            problems.append(f"{family}: alias key {key!r} names {sorted(owners)}")
    reported: set[tuple[str, str, str]] = set()
    for family, canonical, alias in alias_rows:
        key = normalise_team_name(alias)
        others = canonical_by_key.get((family, key), set()) - {canonical}
        if others and (family, canonical, key) not in reported:
            reported.add((family, canonical, key))
            problems.append(
                f"{family}: alias {alias!r} of {canonical!r} has the key {key!r} of {sorted(others)}"
            )
    return problems


def curated_alias_problems(known_teams: pd.DataFrame | None = None) -> list[str]:
    """Consistency problems of the curated table; empty means fine.

    Within each league family: duplicate rows, an alias equal to its canonical name, an alias
    (case-insensitive) or alias key naming two teams, an alias whose key is another team's
    canonical key. ``known_teams`` (columns league, team) adds real source names to check the
    keys against, e.g. every name in the football-data files. Source-name variants
    (:data:`SOURCE_NAME_VARIANTS`) count as one team.
    """
    known: list[tuple[str, str]] = []
    if known_teams is not None:
        known = [
            (str(league), clean_source_name(team))
            for league, team in known_teams[["league", "team"]].itertuples(index=False)
        ]
    return _alias_problems(_read_alias_table(), known_teams=known)


@functools.cache
def _curated_by_family() -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """(family, canonical) -> ((league, alias), ...) in table order."""
    index: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for league, canonical, alias in _curated_rows():
        index[(league_family(league), canonical)].append((league, alias))
    return {key: tuple(value) for key, value in index.items()}


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _observed_long(observed: pd.DataFrame) -> pd.DataFrame:
    """(league, team[, season]) rows, one per team appearance, from either accepted input shape."""
    columns = set(observed.columns)
    if "league" not in columns:
        raise ValueError("observed needs a 'league' column")
    extra = ["season"] if "season" in columns else []
    if "team" in columns:
        parts = [observed[["league", "team", *extra]]]
    elif {"home_team", "away_team"} <= columns:
        parts = [
            observed[["league", side, *extra]].rename(columns={side: "team"})
            for side in ("home_team", "away_team")
        ]
    else:
        raise ValueError(
            "observed needs columns (league, team) or (league, home_team, away_team), "
            f"optionally season; got {sorted(columns)}"
        )
    long = pd.concat(parts, ignore_index=True).dropna(subset=["league", "team"])
    long = long.assign(
        league=long["league"].map(lambda value: str(value).strip()),
        team=long["team"].map(clean_source_name),
    )
    return long[(long["league"] != "") & (long["team"] != "")]


def unobserved_curated_teams(observed: pd.DataFrame) -> pd.DataFrame:
    """Curated canonical names (league, team) of the observed leagues that were not observed.

    Expected for clubs outside the ingested seasons; for a full history it flags a typo in the
    table (the tests check the table against every shared file).
    """
    long = _observed_long(observed)
    seen = set(zip(long["league"], long["team"], strict=True))
    leagues = set(long["league"])
    missing = sorted(
        {
            (league, canonical)
            for league, canonical, _alias in _curated_rows()
            if league in leagues and (league, canonical) not in seen
        }
    )
    return pd.DataFrame(missing, columns=["league", "team"])


def team_registry_metadata(registry: pd.DataFrame) -> dict[str, int]:
    """Counts shown with a registry: leagues, teams, aliases."""
    return {
        "leagues": int(registry["league"].nunique()),
        "teams": int(registry[["league", "team"]].drop_duplicates().shape[0]),
        "aliases": len(registry),
    }


def build_team_registry(observed: pd.DataFrame) -> pd.DataFrame:
    """One row per (league, canonical team, alias) for the teams seen in ingested matches.

    ``observed`` holds canonical names as (league, team) rows or match rows
    (league, home_team, away_team), optionally with ``season``. Output columns
    :data:`REGISTRY_COLUMNS`: ``alias_source`` is ``source`` for the CSV name itself and
    ``curated`` for table aliases (those of the same club in any division of the country);
    ``alias_key`` is :func:`normalise_team_name` of the alias (the normalised form lives there
    rather than in extra rows); ``n_matches`` counts team appearances (= matches when given match
    rows); ``first_season``/``last_season`` are None without a ``season`` column. Sorted by
    league, team, source before curated, then alias. Curated teams that were not observed are
    left out and logged (see :func:`unobserved_curated_teams`).
    """
    long = _observed_long(observed)
    has_season = "season" in long.columns
    curated = _curated_by_family()

    appearances: dict[tuple[str, str], int] = defaultdict(int)
    seasons: dict[tuple[str, str], set[str]] = defaultdict(set)
    if has_season:
        for league, team, season in long[["league", "team", "season"]].itertuples(index=False):
            appearances[(league, team)] += 1
            if not pd.isna(season):
                seasons[(league, team)].add(str(season).strip())
    else:
        for league, team in long[["league", "team"]].itertuples(index=False):
            appearances[(league, team)] += 1

    teams_by_league: dict[str, set[str]] = defaultdict(set)
    for league, team in appearances:
        teams_by_league[league].add(team)

    records: list[dict[str, object]] = []
    for (league, team), n_matches in appearances.items():
        team_seasons = sorted(seasons.get((league, team), ()), key=lambda s: _season_order(league, s))
        first_season = team_seasons[0] if team_seasons else None
        last_season = team_seasons[-1] if team_seasons else None
        base = {"league": league, "team": team, "first_season": first_season,
                "last_season": last_season, "n_matches": n_matches}
        records.append({**base, "alias": team, "alias_key": normalise_team_name(team),
                        "alias_source": "source"})
        # Other observed teams of this league, except spellings of this very club.
        rivals = {
            other: normalise_team_name(other)
            for other in teams_by_league[league]
            if unify_source_name(league, other) != unify_source_name(league, team)
        }
        rival_names = {other.casefold(): other for other in rivals}
        rival_keys = {key: other for other, key in rivals.items()}
        emitted = {team.casefold()}
        # Aliases from this division first, then from the rest of the country.
        family_aliases = sorted(
            curated.get((league_family(league), team), ()), key=lambda item: item[0] != league
        )
        for _source_league, alias in family_aliases:
            if alias.casefold() in emitted:
                continue
            key = normalise_team_name(alias)
            shadowed = rival_names.get(alias.casefold()) or rival_keys.get(key)
            if shadowed is not None:
                # A name football-data really uses for another club wins over a curated alias.
                logger.warning("%s: curated alias %r of %r dropped, it names observed team %r",
                               league, alias, team, shadowed)
                continue
            emitted.add(alias.casefold())
            records.append({**base, "alias": alias, "alias_key": key, "alias_source": "curated"})

    unobserved = unobserved_curated_teams(long[["league", "team"]])
    if not unobserved.empty:
        logger.info(
            "%d curated team(s) not observed in the given matches (expected outside the ingested "
            "seasons): %s",
            len(unobserved),
            ", ".join(f"{league}:{team}" for league, team in unobserved.itertuples(index=False)),
        )

    source_rank = {"source": 0, "curated": 1}
    records.sort(
        key=lambda r: (r["league"], r["team"], source_rank[str(r["alias_source"])],
                       str(r["alias"]).casefold(), r["alias"])
    )
    registry = pd.DataFrame.from_records(records, columns=list(REGISTRY_COLUMNS))
    registry["n_matches"] = registry["n_matches"].astype("int64")
    return registry


# --------------------------------------------------------------------------------------------
# Resolver
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A team a query could mean, with the registry alias that scored best."""

    team: str
    league: str
    score: float
    alias: str


@dataclass(frozen=True)
class TeamMatch:
    """Outcome of :meth:`TeamResolver.resolve`. ``team`` is None when unresolved."""

    query: str
    team: str | None
    league: str | None
    method: MatchMethod
    confidence: float
    candidates: tuple[Candidate, ...] = ()
    warning: str | None = None

    @property
    def resolved(self) -> bool:
        return self.team is not None


_METHOD_RANK: dict[str, int] = {"exact": 0, "alias": 1, "normalised": 2}
# Key equality is deterministic but looser than a curated alias; equality only once spaces are
# removed ("Ham Kam" ~ "HamKam") is looser still.
_NORMALISED_CONFIDENCE = 0.98
_COMPACT_CONFIDENCE = 0.95
# Fuzzy candidates scoring below this are not worth showing (and are skipped cheaply).
_CANDIDATE_FLOOR = 0.5


def _club(league: str, team: str) -> tuple[str, str]:
    """Identity of a club: one name within a country's divisions (old spellings unified).

    The same canonical name in two countries is not assumed to be one club.
    """
    return league_family(league), unify_source_name(league, team)


@dataclass(frozen=True)
class _Hit:
    method: MatchMethod
    confidence: float
    league: str
    team: str
    alias: str


class TeamResolver:
    """Maps free-text team names (jackpot cards, other feeds) to canonical names of a registry.

    Order: exact canonical name -> curated alias (case-insensitive) -> equal normalised key
    (then equal key without spaces) -> fuzzy similarity of normalised keys. With ``league=None``
    every league is searched; the same canonical name in several divisions of one country is one
    club (answered in the division with the latest season, then most matches), while a name
    matching different clubs (or equal names in two countries) gives a warning.

    ``fuzzy_threshold``: below it a fuzzy match is unresolved. ``ambiguity_margin``: a runner-up
    (another club) this close to the best gets a warning. ``confident_score``: fuzzy matches
    below it get a low-confidence warning.
    """

    def __init__(
        self,
        registry: pd.DataFrame,
        *,
        fuzzy_threshold: float = 0.85,
        ambiguity_margin: float = 0.03,
        confident_score: float = 0.92,
        max_candidates: int = 5,
    ) -> None:
        required = {"league", "team", "alias", "alias_source"}
        if not required <= set(registry.columns):
            raise ValueError(f"registry needs columns {sorted(required)}; got {list(registry.columns)}")
        if not 0.0 < fuzzy_threshold <= 1.0 or not 0.0 <= ambiguity_margin < 1.0:
            raise ValueError("fuzzy_threshold must be in (0, 1] and ambiguity_margin in [0, 1)")
        if max_candidates < 1:
            raise ValueError("max_candidates must be at least 1")
        self.fuzzy_threshold = fuzzy_threshold
        self.ambiguity_margin = ambiguity_margin
        self.confident_score = confident_score
        self.max_candidates = max_candidates

        self._teams: dict[str, set[str]] = defaultdict(set)
        self._aliases: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._keys: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._compact: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        pool: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
        recency: dict[tuple[str, str], tuple[int, str]] = {}
        matches: dict[tuple[str, str], int] = {}

        columns = ["league", "team", "alias", "alias_source"]
        optional = [c for c in ("last_season", "n_matches") if c in registry.columns]
        for row in registry[columns + optional].itertuples(index=False):
            league, team, alias = str(row.league), str(row.team), str(row.alias)
            # Keys are recomputed rather than read from alias_key, so a registry persisted by an
            # older version of this module still matches today's normalisation of queries.
            key = normalise_team_name(alias)
            self._teams[league].add(team)
            if row.alias_source != "source":
                self._aliases[league][alias.casefold()].add(team)
            self._keys[league][key].add(team)
            self._compact[league][_compact(key)].add(team)
            # Several aliases of a team can share a key; show the same one whatever the row order.
            shown = pool[league].get((key, team))
            if shown is None or alias < shown:
                pool[league][(key, team)] = alias
            last_season = getattr(row, "last_season", None)
            if last_season is not None and not pd.isna(last_season):
                recency[(league, team)] = max(
                    recency.get((league, team), (-1, "")), _season_order(league, last_season)
                )
            n = getattr(row, "n_matches", None)
            if n is not None and not pd.isna(n):
                matches[(league, team)] = max(matches.get((league, team), 0), int(n))

        self._leagues: tuple[str, ...] = tuple(sorted(self._teams))
        # Plain dicts from here on, so look-ups of absent keys never grow the indexes.
        self._teams = dict(self._teams)
        self._aliases = {league: dict(index) for league, index in self._aliases.items()}
        self._keys = {league: dict(index) for league, index in self._keys.items()}
        self._compact = {league: dict(index) for league, index in self._compact.items()}
        # Sorted so fuzzy scans, and therefore tie-breaks between equal scores, are deterministic.
        self._pool: dict[str, tuple[tuple[str, str, str], ...]] = {
            league: tuple(sorted((key, team, alias) for (key, team), alias in entries.items()))
            for league, entries in pool.items()
        }
        self._recency = recency
        self._matches = matches

    @classmethod
    def from_observed(cls, observed: pd.DataFrame, **options: Any) -> TeamResolver:
        """Resolver over :func:`build_team_registry` of ``observed``; options as for ``__init__``."""
        return cls(build_team_registry(observed), **options)

    @property
    def leagues(self) -> tuple[str, ...]:
        return self._leagues

    def teams(self, league: str) -> frozenset[str]:
        return frozenset(self._teams.get(league, ()))

    # -- ordering ----------------------------------------------------------------------------

    def _preference(self, league: str, team: str) -> tuple[int, int, str, str]:
        """Sort key among equally good answers: latest season, most matches, then by name."""
        return (-self._recency.get((league, team), (-1, ""))[0],
                -self._matches.get((league, team), 0), league, team)

    # -- public API --------------------------------------------------------------------------

    def resolve(self, name: str, league: str | None = None) -> TeamMatch:
        query = clean_source_name(name)
        if not query:
            return TeamMatch(query, None, league, "unresolved", 0.0, (), "empty team name")
        if league is not None:
            league = league.strip()
            if league not in self._teams:
                return TeamMatch(query, None, league, "unresolved", 0.0, (),
                                 f"no teams registered for league {league!r}")
            leagues: tuple[str, ...] = (league,)
        else:
            leagues = self._leagues
        key = normalise_team_name(query)
        hits = self._deterministic_hits(query, key, leagues)
        if hits:
            return self._decide_deterministic(query, league, hits)
        return self._decide_fuzzy(query, key, league, leagues)

    def resolve_many(self, names: Iterable[str], league: str | None = None) -> pd.DataFrame:
        """:meth:`resolve` for each name: query, team, league, method, confidence, warning."""
        rows = [self.resolve(name, league) for name in names]
        return pd.DataFrame(
            [(m.query, m.team, m.league, m.method, m.confidence, m.warning) for m in rows],
            columns=["query", "team", "league", "method", "confidence", "warning"],
        )

    # -- deterministic steps -----------------------------------------------------------------

    def _deterministic_hits(self, query: str, key: str, leagues: Sequence[str]) -> list[_Hit]:
        hits: list[_Hit] = []
        folded = query.casefold()
        compact = _compact(key)
        for league in leagues:
            if query in self._teams[league]:
                hits.append(_Hit("exact", 1.0, league, query, query))
            for team in self._aliases.get(league, {}).get(folded, ()):
                hits.append(_Hit("alias", 1.0, league, team, query))
            by_key = self._keys[league].get(key, set())
            for team in by_key:
                hits.append(_Hit("normalised", _NORMALISED_CONFIDENCE, league, team, key))
            if not by_key:
                for team in self._compact[league].get(compact, ()):
                    hits.append(_Hit("normalised", _COMPACT_CONFIDENCE, league, team, compact))
        return hits

    def _decide_deterministic(self, query: str, league: str | None, hits: list[_Hit]) -> TeamMatch:
        def club(hit: _Hit) -> tuple[str, str]:
            return _club(hit.league, hit.team)

        # Among equal hits, the publisher's current spelling of a club beats an old variant.
        hits.sort(key=lambda h: (_METHOD_RANK[h.method], -h.confidence, h.team != club(h)[1],
                                 self._preference(h.league, h.team)))
        best = hits[0]
        tier_clubs = list(dict.fromkeys(
            club(h) for h in hits if h.method == best.method and h.confidence == best.confidence
        ))
        per_team: dict[str, _Hit] = {}  # first (= best) hit of each team name
        for hit in hits:
            per_team.setdefault(hit.team, hit)
        candidates = tuple(
            Candidate(h.team, h.league, h.confidence, h.alias) for h in per_team.values()
        )[: self.max_candidates]

        warnings: list[str] = []
        confidence = best.confidence
        if len(tier_clubs) > 1:
            confidence = best.confidence / len(tier_clubs)
            listed = ", ".join(
                f"{h.team} ({h.league})" for h in per_team.values() if club(h) in tier_clubs
            )
            warnings.append(f"{query!r} matches {len(tier_clubs)} teams equally by {best.method}: "
                            f"{listed}; chose {best.team} ({best.league})")
        weaker = [h for h in per_team.values() if club(h) not in tier_clubs]
        if weaker:
            listed = ", ".join(f"{h.team} ({h.league}, {h.method})" for h in weaker)
            warnings.append(f"{query!r} also matches {listed}")
        spellings = sorted({h.team for h in per_team.values() if club(h) == club(best)})
        if len(spellings) > 1:
            warnings.append(f"the registry holds {club(best)[1]!r} under {len(spellings)} spellings "
                            f"{spellings}; unify_source_name() at ingestion merges them")
        return TeamMatch(query, best.team, best.league, best.method, round(confidence, 4),
                         candidates, "; ".join(warnings) or None)

    # -- fuzzy step --------------------------------------------------------------------------

    def _decide_fuzzy(
        self, query: str, key: str, league: str | None, leagues: Sequence[str]
    ) -> TeamMatch:
        best_per_club: dict[tuple[str, str], tuple[float, tuple[int, int, str, str], Candidate]] = {}
        matcher = difflib.SequenceMatcher(None, "", key, autojunk=False)
        for lg in leagues:
            for alias_key, team, alias in self._pool.get(lg, ()):
                # Cheap upper bounds of team_name_similarity first: difflib ratios are at most
                # 2*min(len)/(len+len), and at most quick_ratio (same characters, any order, so it
                # bounds the sorted-words ratio too).
                shorter, total = min(len(key), len(alias_key)), len(key) + len(alias_key)
                if 2 * shorter / total < _CANDIDATE_FLOOR:
                    continue
                matcher.set_seq1(alias_key)
                if matcher.quick_ratio() < _CANDIDATE_FLOOR:
                    continue
                score = team_name_similarity(key, alias_key)
                if score < _CANDIDATE_FLOOR:
                    continue
                # Keyed by club so two spellings of one club are not "ambiguous" with each other.
                club = _club(lg, team)
                preference = self._preference(lg, team)
                current = best_per_club.get(club)
                if current is None or (-score, preference) < (-current[0], current[1]):
                    candidate = Candidate(team, lg, round(score, 4), alias)
                    best_per_club[club] = (score, preference, candidate)
        ranked = sorted(best_per_club.values(), key=lambda entry: (-entry[0], entry[1]))
        candidates = tuple(entry[2] for entry in ranked[: self.max_candidates])
        if not ranked or ranked[0][0] < self.fuzzy_threshold:
            where = f" in {league}" if league else ""
            closest = candidates[0] if candidates else None
            note = (f"; closest: {closest.team} ({closest.league}, {closest.score:.2f})"
                    if closest else "")
            return TeamMatch(query, None, league, "unresolved", 0.0, candidates,
                             f"no team{where} close enough to {query!r}{note}")
        score, _preference, best = ranked[0]
        warning = None
        rivals = [entry[2] for entry in ranked[1:] if score - entry[0] <= self.ambiguity_margin]
        if rivals:
            listed = ", ".join(f"{c.team} ({c.league}, {c.score:.2f})" for c in rivals)
            warning = (f"ambiguous fuzzy match for {query!r}: {best.team} ({best.league}, "
                       f"{score:.2f}) vs {listed}")
        elif score < self.confident_score:
            warning = f"low-confidence fuzzy match {query!r} -> {best.team} ({score:.2f})"
        return TeamMatch(query, best.team, best.league, "fuzzy", round(score, 4), candidates, warning)
