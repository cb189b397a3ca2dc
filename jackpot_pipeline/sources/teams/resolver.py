"""Resolving free-text team names (jackpot cards, other feeds) to the canonical names of a registry."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from jackpot_pipeline.sources.leagues import season_order
from jackpot_pipeline.sources.teams.names import (
    clean_source_name,
    compact_key,
    league_family,
    normalise_team_name,
    team_name_similarity,
    unify_source_name,
)
from jackpot_pipeline.sources.teams.registry import build_team_registry

MatchMethod = Literal["exact", "alias", "normalised", "fuzzy", "unresolved"]


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
            self._compact[league][compact_key(key)].add(team)
            # Several aliases of a team can share a key; show the same one whatever the row order.
            shown = pool[league].get((key, team))
            if shown is None or alias < shown:
                pool[league][(key, team)] = alias
            last_season = getattr(row, "last_season", None)
            if last_season is not None and not pd.isna(last_season):
                recency[(league, team)] = max(
                    recency.get((league, team), (-1, "")), season_order(league, last_season)
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
        compact = compact_key(key)
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
