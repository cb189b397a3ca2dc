"""The curated alias table (package data ``sources/team_aliases.csv``) and its consistency checks.

Rows are (league, canonical, alias); checks run per league family, because the registry shares a
club's curated aliases between the divisions of its country.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import io
from collections import defaultdict
from collections.abc import Iterable

import pandas as pd

from jackpot_pipeline.sources.teams.names import (
    clean_source_name,
    league_family,
    normalise_team_name,
    unify_source_name,
)

ALIAS_TABLE_RESOURCE = "team_aliases.csv"
_ALIAS_TABLE_COLUMNS = ("league", "canonical", "alias")


def _read_alias_table() -> list[tuple[str, str, str]]:
    text = (
        importlib.resources.files("jackpot_pipeline.sources")
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
def curated_rows() -> tuple[tuple[str, str, str], ...]:
    """The curated table's (league, canonical, alias) rows, validated once; ``ValueError`` if broken."""
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
    rows = curated_rows()
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
def curated_aliases_by_family() -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """(family, canonical) -> ((league, alias), ...) in table order."""
    index: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for league, canonical, alias in curated_rows():
        index[(league_family(league), canonical)].append((league, alias))
    return {key: tuple(value) for key, value in index.items()}
