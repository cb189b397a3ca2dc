"""Team resolution of a card: each fixture's names matched to canonical football-data names.

Problems become warnings on their fixture, never exceptions; a ``critical`` one gives the fixture a
fallback (operator odds, or a league prior) instead of the model's price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from jackpot_pipeline.jackpots.cards.model import CardFixture, JackpotCard
from jackpot_pipeline.sources.teams import TeamMatch, TeamResolver

Severity = Literal["info", "warning", "critical"]
Fallback = Literal["market_only", "league_prior"]


@dataclass(frozen=True)
class FixtureWarning:
    """A note on a resolved fixture. ``critical`` means the model cannot price the fixture."""

    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass(frozen=True)
class ResolvedFixture:
    """A card fixture with its teams matched to canonical football-data names.

    ``league`` is the card's code when given (``league_source='card'``), else inferred from the
    teams (``'inferred'``), else None. ``fallback`` is None when the model can price the fixture;
    otherwise ``'market_only'`` (the card has operator odds) or ``'league_prior'`` (the league's
    average home/draw/away rates, or a global prior when the league is unknown).
    """

    fixture: CardFixture
    home: TeamMatch
    away: TeamMatch
    league: str | None
    league_source: Literal["card", "inferred"] | None
    fallback: Fallback | None
    warnings: tuple[FixtureWarning, ...]

    @property
    def position(self) -> int:
        return self.fixture.position

    @property
    def home_team(self) -> str | None:
        return self.home.team

    @property
    def away_team(self) -> str | None:
        return self.away.team

    @property
    def critical(self) -> bool:
        return any(warning.severity == "critical" for warning in self.warnings)

    @property
    def warning_messages(self) -> list[str]:
        return [str(warning) for warning in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "home_query": self.home.query,
            "away_query": self.away.query,
            "home_team": self.home.team,
            "away_team": self.away.team,
            "home_method": self.home.method,
            "away_method": self.away.method,
            "home_confidence": self.home.confidence,
            "away_confidence": self.away.confidence,
            "league": self.league,
            "league_source": self.league_source,
            "fallback": self.fallback,
            "warnings": [{"severity": w.severity, "message": w.message} for w in self.warnings],
        }


def resolve_card(card: JackpotCard, resolver: TeamResolver) -> list[ResolvedFixture]:
    """Resolve every fixture's teams; problems become warnings on that fixture, never exceptions."""
    return [_resolve_fixture(fixture, resolver) for fixture in card.fixtures]


def _resolve_fixture(fixture: CardFixture, resolver: TeamResolver) -> ResolvedFixture:
    warnings: list[FixtureWarning] = []
    league_source: Literal["card", "inferred"] | None
    if fixture.league is not None:
        home = resolver.resolve(fixture.home_team, fixture.league)
        away = resolver.resolve(fixture.away_team, fixture.league)
        league, league_source = fixture.league, "card"
    else:
        home = resolver.resolve(fixture.home_team)
        away = resolver.resolve(fixture.away_team)
        home, away, league, inference_warnings = _infer_league(fixture, home, away, resolver)
        league_source = "inferred" if league is not None else None
        warnings.extend(inference_warnings)

    for side, match in (("home", home), ("away", away)):
        warnings.extend(_match_warnings(side, match, fixture, resolver))
    if home.resolved and away.resolved and (home.team, home.league) == (away.team, away.league):
        warnings.append(FixtureWarning(
            "critical", f"home {home.query!r} and away {away.query!r} both resolve to {home.team}"
        ))
    fallback: Fallback | None = None
    if any(warning.severity == "critical" for warning in warnings):
        fallback = "market_only" if fixture.odds is not None else "league_prior"
    return ResolvedFixture(fixture, home, away, league, league_source, fallback, tuple(warnings))


def _infer_league(
    fixture: CardFixture, home: TeamMatch, away: TeamMatch, resolver: TeamResolver
) -> tuple[TeamMatch, TeamMatch, str | None, list[FixtureWarning]]:
    """League of a fixture the card gives none for: the resolved teams' common league.

    Teams answered in different divisions (searching all leagues answers a club in its latest
    one) are re-resolved in each of the two; exactly one division holding both by a deterministic
    method settles it with a warning, otherwise the league stays unknown (critical).
    """
    if not (home.resolved and away.resolved):
        # The unresolved side is critical anyway; the other side's league still lets the
        # fallback use that league's prior.
        known = home if home.resolved else away
        return home, away, known.league, []
    if home.league == away.league:
        return home, away, home.league, []
    sides = f"{home.query!r} -> {home.team} ({home.league}), {away.query!r} -> {away.team} ({away.league})"
    shared: list[tuple[str, TeamMatch, TeamMatch]] = []
    for league in dict.fromkeys((home.league, away.league)):
        assert league is not None  # resolved matches always carry their league
        in_home, in_away = resolver.resolve(fixture.home_team, league), resolver.resolve(fixture.away_team, league)
        if in_home.method not in ("unresolved", "fuzzy") and in_away.method not in ("unresolved", "fuzzy"):
            shared.append((league, in_home, in_away))
    if len(shared) == 1:
        league, in_home, in_away = shared[0]
        note = FixtureWarning(
            "warning", f"no league on the card and the teams resolve to different leagues ({sides}); "
                       f"used {league}, the one league holding both"
        )
        return in_home, in_away, league, [note]
    reason = "both" if shared else "neither"
    note = FixtureWarning(
        "critical", f"no league on the card and the teams resolve to different leagues ({sides}); "
                    f"{reason} of the two divisions holds both teams: give the fixture a league"
    )
    return home, away, None, [note]


def _match_warnings(
    side: str, match: TeamMatch, fixture: CardFixture, resolver: TeamResolver
) -> Iterable[FixtureWarning]:
    if not match.resolved:
        hint = ""
        if fixture.league is not None:
            # The card's league is authoritative, but saying where the name does resolve
            # turns "unresolved" into an actionable fix (a promoted club, a wrong code).
            elsewhere = resolver.resolve(match.query)
            if elsewhere.resolved:
                hint = f" (resolves to {elsewhere.team} in {elsewhere.league}: check the fixture's league)"
        yield FixtureWarning(
            "critical", f"{side} team {match.query!r} not resolved: {match.warning or 'no match'}{hint}"
        )
    elif match.warning:
        yield FixtureWarning(
            "warning",
            f"{side} team {match.query!r} -> {match.team} ({match.league}, {match.method}, "
            f"confidence {match.confidence:.2f}): {match.warning}",
        )
    elif match.method == "fuzzy":
        yield FixtureWarning(
            "info", f"{side} team {match.query!r} -> {match.team} ({match.league}) by fuzzy match, "
                    f"confidence {match.confidence:.2f}"
        )
