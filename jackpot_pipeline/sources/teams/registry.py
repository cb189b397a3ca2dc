"""The team registry: one row per (league, canonical team, alias) of the teams seen in matches."""

from __future__ import annotations

import logging
from collections import defaultdict

import pandas as pd

from jackpot_pipeline.sources.leagues import season_order
from jackpot_pipeline.sources.teams.aliases import curated_aliases_by_family, curated_rows
from jackpot_pipeline.sources.teams.names import (
    clean_source_name,
    league_family,
    normalise_team_name,
    unify_source_name,
)

logger = logging.getLogger(__name__)

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
            for league, canonical, _alias in curated_rows()
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
    curated = curated_aliases_by_family()

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
        team_seasons = sorted(seasons.get((league, team), ()), key=lambda s: season_order(league, s))
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
