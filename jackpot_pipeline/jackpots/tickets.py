"""Jackpot tickets: exact, analytic analysis and an exact optimiser (no simulation).

A *ticket* holds one *selection* per fixture: the outcomes picked, as codes 0 = home (``1``),
1 = draw (``X``), 2 = away (``2``) -- the order of :mod:`jackpot_pipeline.model.metrics`. A single
pick is one outcome; operators also sell *doubles* (two outcomes, e.g. ``1X``) and *triples*
(``1X2``), and a ticket with selections s_1..s_n costs ``lines = Π |s_i|`` single-pick lines.

Given an (n, 3) probability array (one probability set for the card, rows home/draw/away):

* :func:`most_likely_ticket` picks each fixture's most probable outcome. Exact ties go to the
  earlier outcome in the order home, draw, away (``numpy.argmax`` semantics), so the ticket is
  deterministic.
* :func:`correct_picks_distribution` is the exact distribution of the number of correct
  fixtures: with p_i = probability of the picked outcome(s) of fixture i and fixtures treated as
  independent, that count is Poisson-binomial, computed by dynamic programming in O(n^2).
  :func:`analyse_ticket` adds P(all correct), P(>= k) for bonus tiers (17/17, 16/17, ...) and
  the expected number correct.
* :func:`optimise_ticket` spends a budget of doubles/triples (``max_doubles``, ``max_triples``,
  ``max_lines``; any combination) to maximise P(all correct). P(all correct) is Π p_i, so the
  problem is a knapsack over log-probabilities: for a fixture given k picks the best picks are its
  k most probable outcomes (any other k-subset has a smaller sum), and a dynamic programme over
  fixtures and (doubles used, triples used) is exact. Among equally good tickets (P(all
  correct) equal within a relative 1e-12, i.e. up to rounding) the one with fewer lines, then
  fewer triples, wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jackpot_pipeline.model.metrics import AWAY, DRAW, HOME
from jackpot_pipeline.model.outcome_arrays import as_outcome_array

__all__ = [
    "OUTCOME_SYMBOLS",
    "Selection",
    "Ticket",
    "TicketAnalysis",
    "TicketBudget",
    "analyse_sets",
    "analyse_ticket",
    "check_probabilities",
    "correct_picks_distribution",
    "hit_probabilities",
    "most_likely_ticket",
    "optimise_ticket",
    "poisson_binomial",
    "tail_probabilities",
]

OUTCOME_SYMBOLS: Final = ("1", "X", "2")
_SYMBOL_CODES: Final = {"1": HOME, "X": DRAW, "2": AWAY}
ROW_SUM_TOLERANCE: Final = 1e-6
# P(all correct) of two tickets within this relative distance is the same up to rounding (the
# DP's log sums and a direct product differ in the last bits), so the cheaper ticket is chosen:
# no operator line is worth a 1e-12 relative gain.
EQUAL_LOG_PROBABILITY: Final = 1e-12

Selection = tuple[int, ...]
"""Outcome codes picked for one fixture: sorted, distinct, 1 to 3 of 0/1/2."""


def check_probabilities(probs: ArrayLike) -> NDArray[np.float64]:
    """(n, 3) finite probabilities in [0, 1] whose rows sum to 1 (within 1e-6), as float64."""
    array = as_outcome_array(probs)
    if not np.isfinite(array).all():
        row = int(np.argmax(~np.isfinite(array).all(axis=1)))
        raise ValueError(f"probabilities of fixture {row + 1} are not finite: {array[row].tolist()}")
    if (array < 0).any() or (array > 1).any():
        row = int(np.argmax(((array < 0) | (array > 1)).any(axis=1)))
        raise ValueError(f"probabilities of fixture {row + 1} lie outside [0, 1]: {array[row].tolist()}")
    off = np.abs(array.sum(axis=1) - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(
            f"probabilities of fixture {row + 1} sum to {array[row].sum():.9f}, not 1: {array[row].tolist()}"
        )
    return array


# --------------------------------------------------------------------------------------------
# Tickets
# --------------------------------------------------------------------------------------------


def _selection_label(selection: Selection) -> str:
    return "".join(OUTCOME_SYMBOLS[code] for code in selection)


def _parse_selection_label(label: str, position: int) -> Selection:
    symbols = label.strip().upper()
    codes = [_SYMBOL_CODES.get(symbol) for symbol in symbols]
    if not symbols or None in codes or len(set(codes)) != len(codes):
        raise ValueError(
            f"selection {label!r} of fixture {position} is not made of distinct 1, X, 2 (e.g. '1', 'X2', '1X2')"
        )
    return tuple(sorted(code for code in codes if code is not None))


@dataclass(frozen=True)
class Ticket:
    """One selection per fixture, in card order."""

    selections: tuple[Selection, ...]

    def __post_init__(self) -> None:
        for position, selection in enumerate(self.selections, start=1):
            if (
                not isinstance(selection, tuple)
                or not 1 <= len(selection) <= 3
                or any(code not in (HOME, DRAW, AWAY) for code in selection)
                or tuple(sorted(set(selection))) != selection
            ):
                raise ValueError(
                    f"selection of fixture {position} must be a sorted tuple of distinct codes 0/1/2; "
                    f"got {selection!r}"
                )

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> Ticket:
        """From operator notation, one label per fixture: ``["1", "X2", "1X2", ...]`` (any order
        of symbols, ``x`` accepted)."""
        return cls(tuple(_parse_selection_label(label, i) for i, label in enumerate(labels, start=1)))

    @classmethod
    def singles(cls, picks: Iterable[int]) -> Ticket:
        return cls(tuple((int(code),) for code in picks))

    @property
    def n_fixtures(self) -> int:
        return len(self.selections)

    @property
    def lines(self) -> int:
        """Single-pick lines this ticket stands for: the product of the selection sizes."""
        lines = 1
        for selection in self.selections:
            lines *= len(selection)
        return lines

    @property
    def n_doubles(self) -> int:
        return sum(len(selection) == 2 for selection in self.selections)

    @property
    def n_triples(self) -> int:
        return sum(len(selection) == 3 for selection in self.selections)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(_selection_label(selection) for selection in self.selections)

    def mask(self) -> NDArray[np.bool_]:
        """(n, 3) boolean matrix: True where an outcome is picked."""
        picked = np.zeros((self.n_fixtures, 3), dtype=bool)
        for row, selection in enumerate(self.selections):
            picked[row, list(selection)] = True
        return picked


def most_likely_ticket(probs: ArrayLike) -> Ticket:
    """Each fixture's most probable outcome; exact ties go to home, then draw, then away."""
    forecast = check_probabilities(probs)
    return Ticket.singles(forecast.argmax(axis=1).tolist())


def hit_probabilities(probs: ArrayLike, ticket: Ticket) -> NDArray[np.float64]:
    """(n,) probability that each fixture's selection is correct (sum over picked outcomes)."""
    forecast = check_probabilities(probs)
    if ticket.n_fixtures != forecast.shape[0]:
        raise ValueError(f"the ticket has {ticket.n_fixtures} selections for {forecast.shape[0]} fixtures")
    # Clipped because a triple's hit probability is a row sum, which may exceed 1 by rounding.
    return np.minimum((forecast * ticket.mask()).sum(axis=1), 1.0)


# --------------------------------------------------------------------------------------------
# Distribution of the number of correct picks
# --------------------------------------------------------------------------------------------


def poisson_binomial(success_probs: ArrayLike) -> NDArray[np.float64]:
    """P(exactly k successes), k = 0..n, of independent trials with the given probabilities.

    Dynamic programming: after trial i, ``dist[k]`` is P(k successes so far). Every step mixes
    non-negative numbers with weights p and 1 - p, so it is numerically stable (no FFT or
    polynomial roots), and exact up to rounding.
    """
    p = np.asarray(success_probs, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"success probabilities must be one-dimensional; got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("success probabilities must lie in [0, 1]")
    dist = np.zeros(p.shape[0] + 1)
    dist[0] = 1.0
    for i, p_i in enumerate(p):
        # k = 1..i+1: either the i-th trial succeeded (from k-1) or failed (stays at k).
        dist[1 : i + 2] = dist[1 : i + 2] * (1.0 - p_i) + dist[: i + 1] * p_i
        dist[0] *= 1.0 - p_i
    return dist


def correct_picks_distribution(probs: ArrayLike, ticket: Ticket) -> NDArray[np.float64]:
    """(n + 1,) exact P(exactly k fixtures correct) for the ticket, k = 0..n."""
    return poisson_binomial(hit_probabilities(probs, ticket))


def tail_probabilities(distribution: ArrayLike) -> NDArray[np.float64]:
    """P(at least k) for k = 0..n from an exact distribution P(exactly k)."""
    exact = np.asarray(distribution, dtype=np.float64)
    # Summed from the top so small tail probabilities keep their relative precision.
    return np.clip(np.cumsum(exact[::-1])[::-1], 0.0, 1.0)


@dataclass(frozen=True)
class TicketBudget:
    """How many multi-selections an operator allows (None = no limit on that count).

    ``max_doubles``/``max_triples`` cap the fixtures with exactly two/three picks (a triple does
    not count as a double); ``max_lines`` caps Π selection sizes. All given limits hold at once.
    """

    max_doubles: int | None = None
    max_triples: int | None = None
    max_lines: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_doubles", "max_triples"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative integer or None; got {value!r}")
        if self.max_lines is not None and (
            isinstance(self.max_lines, bool) or not isinstance(self.max_lines, int) or self.max_lines < 1
        ):
            raise ValueError(f"max_lines must be a positive integer or None; got {self.max_lines!r}")

    def allows(self, ticket: Ticket) -> bool:
        return (
            (self.max_doubles is None or ticket.n_doubles <= self.max_doubles)
            and (self.max_triples is None or ticket.n_triples <= self.max_triples)
            and (self.max_lines is None or ticket.lines <= self.max_lines)
        )

    def to_dict(self) -> dict[str, int | None]:
        return {"max_doubles": self.max_doubles, "max_triples": self.max_triples, "max_lines": self.max_lines}


@dataclass(frozen=True)
class TicketAnalysis:
    """Exact figures of one ticket on one probability set.

    ``distribution[k]`` = P(exactly k correct), k = 0..n; ``at_least[k]`` = P(at least k).
    """

    ticket: Ticket
    hit_probabilities: NDArray[np.float64]
    distribution: NDArray[np.float64]
    at_least: NDArray[np.float64]
    budget: TicketBudget | None = None

    @property
    def n_fixtures(self) -> int:
        return self.ticket.n_fixtures

    @property
    def lines(self) -> int:
        return self.ticket.lines

    @property
    def p_all_correct(self) -> float:
        # The product itself rather than distribution[n]: identical in exact arithmetic, and it
        # keeps full relative precision when the probability is tiny.
        return float(np.prod(self.hit_probabilities))

    @property
    def expected_correct(self) -> float:
        return float(self.hit_probabilities.sum())

    def p_at_least(self, k: int) -> float:
        """P(at least k correct); 1 for k <= 0, 0 for k > n."""
        if k <= 0:
            return 1.0
        if k > self.n_fixtures:
            return 0.0
        return float(self.at_least[k])

    def bonus_tiers(self, tiers: Iterable[int] | None = None) -> dict[int, float]:
        """P(at least k) for each tier k; by default the jackpot and two bonus tiers (n, n-1, n-2)."""
        chosen = tiers if tiers is not None else range(self.n_fixtures, max(self.n_fixtures - 3, 0), -1)
        return {int(k): self.p_at_least(int(k)) for k in chosen}

    def to_dict(self, tiers: Iterable[int] | None = None) -> dict[str, Any]:
        """JSON-ready summary (tier keys as strings, e.g. ``"15"``)."""
        return {
            "selections": list(self.ticket.labels),
            "lines": self.lines,
            "n_doubles": self.ticket.n_doubles,
            "n_triples": self.ticket.n_triples,
            "p_all_correct": self.p_all_correct,
            "expected_correct": self.expected_correct,
            "hit_probabilities": self.hit_probabilities.tolist(),
            "correct_picks_distribution": self.distribution.tolist(),
            "p_at_least": {str(k): p for k, p in self.bonus_tiers(tiers).items()},
            "budget": None if self.budget is None else self.budget.to_dict(),
        }


def analyse_ticket(probs: ArrayLike, ticket: Ticket, *, budget: TicketBudget | None = None) -> TicketAnalysis:
    """Exact distribution of correct picks, P(all correct) and tails of ``ticket``."""
    hits = hit_probabilities(probs, ticket)
    distribution = poisson_binomial(hits)
    return TicketAnalysis(ticket, hits, distribution, tail_probabilities(distribution), budget)


# --------------------------------------------------------------------------------------------
# Optimiser
# --------------------------------------------------------------------------------------------


def _largest_power_at_most(base: int, limit: int) -> int:
    exponent = 0
    while base ** (exponent + 1) <= limit:
        exponent += 1
    return exponent


def optimise_ticket(
    probs: ArrayLike,
    budget: TicketBudget | None = None,
    *,
    max_doubles: int | None = None,
    max_triples: int | None = None,
    max_lines: int | None = None,
) -> TicketAnalysis:
    """The ticket with the highest P(all correct) the budget allows, with its exact analysis.

    Pass a :class:`TicketBudget` or the limits as keywords (not both). With no limit at all
    P(all correct) = 1, reached with the fewest lines (outcomes of probability 0 left out). Exact: for k picks on a fixture the k most probable
    outcomes are best, so only the number of picks per fixture is searched, by dynamic
    programming over fixtures with state (doubles used, triples used); the lines of a state are
    2^doubles * 3^triples, so ``max_lines`` is checked on the final states, in integers.
    """
    if budget is None:
        budget = TicketBudget(max_doubles, max_triples, max_lines)
    elif (max_doubles, max_triples, max_lines) != (None, None, None):
        raise ValueError("give either a TicketBudget or keyword limits, not both")
    forecast = check_probabilities(probs)
    n = forecast.shape[0]

    # Outcomes by decreasing probability, ties in home, draw, away order (stable sort).
    order = np.argsort(-forecast, axis=1, kind="stable")
    top_sums = np.cumsum(np.take_along_axis(forecast, order, axis=1), axis=1)
    with np.errstate(divide="ignore"):
        value = np.log(np.minimum(top_sums, 1.0))  # value[i, k-1]: log P(hit) with k picks

    doubles_cap = n if budget.max_doubles is None else min(n, budget.max_doubles)
    triples_cap = n if budget.max_triples is None else min(n, budget.max_triples)
    if budget.max_lines is not None:
        doubles_cap = min(doubles_cap, _largest_power_at_most(2, budget.max_lines))
        triples_cap = min(triples_cap, _largest_power_at_most(3, budget.max_lines))

    # best[a, b]: highest sum of log hit probabilities over the fixtures so far using exactly a
    # doubles and b triples; reachable[a, b] tells real states from impossible ones (a zero
    # probability also gives -inf, yet its state is reachable).
    shape = (doubles_cap + 1, triples_cap + 1)
    best = np.full(shape, -np.inf)
    reachable = np.zeros(shape, dtype=bool)
    best[0, 0], reachable[0, 0] = 0.0, True
    picks_taken = np.zeros((n, *shape), dtype=np.int8)
    for i in range(n):
        new_best = np.full(shape, -np.inf)
        new_reachable = np.zeros(shape, dtype=bool)
        for a in range(shape[0]):
            for b in range(shape[1]):
                # Fewer picks first: on equal value the cheaper option is kept (strict >).
                for picks, (pa, pb) in ((1, (a, b)), (2, (a - 1, b)), (3, (a, b - 1))):
                    if pa < 0 or pb < 0 or not reachable[pa, pb]:
                        continue
                    candidate = best[pa, pb] + value[i, picks - 1]
                    if not new_reachable[a, b] or candidate > new_best[a, b]:
                        new_best[a, b], new_reachable[a, b] = candidate, True
                        picks_taken[i, a, b] = picks
        best, reachable = new_best, new_reachable

    feasible = [
        (a, b) for a in range(shape[0]) for b in range(shape[1])
        if reachable[a, b] and (budget.max_lines is None or 2**a * 3**b <= budget.max_lines)
    ]  # never empty: (0, 0), all singles, is always reachable and within any budget
    top = max(best[a, b] for a, b in feasible)
    # Equal up to rounding (or all zero) -> the fewest lines, then the fewest triples.
    tied = [(a, b) for a, b in feasible if top == -np.inf or best[a, b] >= top - EQUAL_LOG_PROBABILITY]
    chosen = min(tied, key=lambda state: (2 ** state[0] * 3 ** state[1], state[1]))

    picks_per_fixture = [0] * n
    a, b = chosen
    for i in range(n - 1, -1, -1):
        picks = int(picks_taken[i, a, b])
        picks_per_fixture[i] = picks
        a, b = (a - 1, b) if picks == 2 else (a, b - 1) if picks == 3 else (a, b)
    selections = tuple(
        tuple(sorted(int(code) for code in order[i, :picks])) for i, picks in enumerate(picks_per_fixture)
    )
    return analyse_ticket(forecast, Ticket(selections), budget=budget)


def analyse_sets(
    probs_by_set: Mapping[str, ArrayLike], ticket: Ticket | None = None
) -> dict[str, TicketAnalysis]:
    """:func:`analyse_ticket` per probability set; without a ticket, each set's most-likely one."""
    return {
        set_id: analyse_ticket(probs, ticket if ticket is not None else most_likely_ticket(probs))
        for set_id, probs in probs_by_set.items()
    }

