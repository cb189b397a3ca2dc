"""Team names: canonical football-data.co.uk names per league, curated aliases and a resolver.

*Canonical* means exactly the string football-data.co.uk writes in its ``HomeTeam``/``AwayTeam``
(or ``Home``/``Away``) cells after :func:`clean_source_name`: ``Man United``, ``Nott'm Forest``,
``Ath Madrid``. Everything else (``Manchester United``, ``Man Utd``, ``Atlético de Madrid``) is an
*alias*. Registries are keyed by league code (``E0``, ``SP2``, ``ARG``...), because a code is one
division; a club moving between divisions of one country keeps its canonical name, so curated
aliases are shared between the divisions of a country (see :func:`league_family`).

* :mod:`~jackpot_pipeline.sources.teams.names` -- cleaning, matching keys, similarity, league families;
* :mod:`~jackpot_pipeline.sources.teams.aliases` -- the curated alias table and its checks;
* :mod:`~jackpot_pipeline.sources.teams.registry` -- the registry of observed teams and their aliases;
* :mod:`~jackpot_pipeline.sources.teams.resolver` -- free-text names to canonical ones.

Pure package: pandas and the standard library only (no Dagster), so it can be used by jackpot-card
tooling and tests without a Dagster instance.
"""

from __future__ import annotations


from jackpot_pipeline.sources.teams.aliases import (
    ALIAS_TABLE_RESOURCE,
    curated_alias_problems,
    load_curated_aliases,
)
from jackpot_pipeline.sources.teams.names import (
    MAX_TEAM_NAME_LENGTH,
    SOURCE_NAME_VARIANTS,
    clean_source_name,
    league_family,
    normalise_team_name,
    team_name_similarity,
    unify_source_name,
    unreadable_character,
)
from jackpot_pipeline.sources.teams.registry import (
    REGISTRY_COLUMNS,
    build_team_registry,
    team_registry_metadata,
    unobserved_curated_teams,
)
from jackpot_pipeline.sources.teams.resolver import Candidate, MatchMethod, TeamMatch, TeamResolver

__all__ = [
    "ALIAS_TABLE_RESOURCE",
    "MAX_TEAM_NAME_LENGTH",
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
