"""Ticket analysis and the optimiser against brute force: every outcome of small cards for the
correct-picks distribution, every allocation of selections for the optimiser."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from jackpot_pipeline.jackpots.tickets import (
    Ticket,
    TicketBudget,
    analyse_sets,
    analyse_ticket,
    check_probabilities,
    correct_picks_distribution,
    hit_probabilities,
    most_likely_ticket,
    optimise_ticket,
    poisson_binomial,
    tail_probabilities,
)

ALL_SELECTIONS: tuple[tuple[int, ...], ...] = ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2))

# ------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------

# Rows with zeros and exact ties on purpose: those are where tie rules and -inf logs bite.
_SPECIAL_ROWS = [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.5, 0.0), (1 / 3, 1 / 3, 1 / 3), (0.25, 0.5, 0.25)]


@st.composite
def probability_rows(draw: st.DrawFn) -> tuple[float, float, float]:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(_SPECIAL_ROWS))
    # Weights are 0 or at least 1e-3: a probability of 1e-127 only tests the last bit of a double.
    weight = st.just(0.0) | st.floats(1e-3, 1.0)
    weights = draw(st.tuples(weight, weight, weight).filter(lambda w: sum(w) > 0))
    total = sum(weights)
    return (weights[0] / total, weights[1] / total, weights[2] / total)


def cards(min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[NDArray[np.float64]]:
    return st.lists(probability_rows(), min_size=min_size, max_size=max_size).map(np.array)


@st.composite
def card_and_ticket(draw: st.DrawFn, max_size: int = 8) -> tuple[NDArray[np.float64], Ticket]:
    probs = draw(cards(max_size=max_size))
    ticket = Ticket(tuple(draw(st.sampled_from(ALL_SELECTIONS)) for _ in range(probs.shape[0])))
    return probs, ticket


@st.composite
def budgets(draw: st.DrawFn, n: int) -> TicketBudget:
    limit = st.none() | st.integers(0, n)
    lines = st.none() | st.sampled_from([1, 2, 3, 4, 5, 6, 8, 9, 12, 16, 18, 24, 27, 36, 48, 100, 729])
    return TicketBudget(draw(limit), draw(limit), draw(lines))


# ------------------------------------------------------------------------------------------
# Brute force
# ------------------------------------------------------------------------------------------


def brute_force_distribution(probs: NDArray[np.float64], ticket: Ticket) -> NDArray[np.float64]:
    """Sum P(outcome vector) over all 3^n outcome vectors, by number of correct picks."""
    n = probs.shape[0]
    distribution = np.zeros(n + 1)
    for outcomes in itertools.product(range(3), repeat=n):
        probability = math.prod(probs[i, o] for i, o in enumerate(outcomes))
        correct = sum(o in ticket.selections[i] for i, o in enumerate(outcomes))
        distribution[correct] += probability
    return distribution


def brute_force_best(probs: NDArray[np.float64], budget: TicketBudget) -> tuple[float, int]:
    """Highest P(all correct) over every allowed ticket (all 7^n selection vectors), and the
    fewest lines among tickets reaching it (up to rounding)."""
    n = probs.shape[0]
    masks = np.array([[code in s for code in range(3)] for s in ALL_SELECTIONS])
    sizes = masks.sum(axis=1)
    hits = probs @ masks.T  # (n, 7)
    # Broadcast one axis per fixture: shape (7,) * n.
    p_all = np.ones((1,) * n)
    doubles = np.zeros((1,) * n, dtype=np.int64)
    triples = np.zeros((1,) * n, dtype=np.int64)
    lines = np.ones((1,) * n, dtype=np.int64)
    for i in range(n):
        shape = [1] * n
        shape[i] = len(ALL_SELECTIONS)
        p_all = p_all * hits[i].reshape(shape)
        doubles = doubles + (sizes == 2).reshape(shape)
        triples = triples + (sizes == 3).reshape(shape)
        lines = lines * sizes.reshape(shape)
    allowed = np.ones(p_all.shape, dtype=bool)
    if budget.max_doubles is not None:
        allowed &= doubles <= budget.max_doubles
    if budget.max_triples is not None:
        allowed &= triples <= budget.max_triples
    if budget.max_lines is not None:
        allowed &= lines <= budget.max_lines
    best = float(p_all[allowed].max())
    reaching = allowed & (p_all >= best * (1 - 1e-13))
    return best, int(lines[reaching].min())


# ------------------------------------------------------------------------------------------
# Tickets
# ------------------------------------------------------------------------------------------


def test_ticket_labels_round_trip_and_count_lines() -> None:
    ticket = Ticket.from_labels(["1", "x", "2", "X1", "21", "2X", "1x2"])
    assert ticket.selections == ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2))
    assert ticket.labels == ("1", "X", "2", "1X", "12", "X2", "1X2")
    assert (ticket.lines, ticket.n_doubles, ticket.n_triples) == (2 * 2 * 2 * 3, 3, 1)
    assert Ticket.singles([0, 2]).labels == ("1", "2")
    assert Ticket(()).lines == 1


@pytest.mark.parametrize("label", ["", "3", "11", "1Y", "H"])
def test_bad_selection_labels_are_rejected(label: str) -> None:
    with pytest.raises(ValueError, match="of fixture 2 is not made of distinct 1, X, 2"):
        Ticket.from_labels(["1", label])


@pytest.mark.parametrize("selection", [(), (1, 0), (0, 0), (3,), (0, 1, 2, 2), [0]])
def test_bad_selections_are_rejected(selection: object) -> None:
    with pytest.raises(ValueError, match="selection of fixture 1 must be a sorted tuple"):
        Ticket((selection,))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("row", "label"),
    [((1 / 3, 1 / 3, 1 / 3), "1"), ((0.2, 0.4, 0.4), "X"), ((0.4, 0.2, 0.4), "1"), ((0.25, 0.25, 0.5), "2"),
     ((0.3, 0.35, 0.35), "X")],
)
def test_most_likely_ticket_breaks_exact_ties_toward_home_then_draw(row: tuple[float, ...], label: str) -> None:
    assert most_likely_ticket([row]).labels == (label,)


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        ([[0.5, 0.5]], r"shape \(n, 3\)"),
        ([[0.5, 0.4, 0.2]], "fixture 1 sum to 1.100000000, not 1"),
        ([[0.5, 0.5, 0.0], [np.nan, 0.5, 0.5]], "fixture 2 are not finite"),
        ([[1.2, -0.2, 0.0]], r"fixture 1 lie outside \[0, 1\]"),
    ],
)
def test_probabilities_are_checked(probs: list[list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_probabilities(probs)


def test_ticket_length_must_match_the_card() -> None:
    with pytest.raises(ValueError, match="2 selections for 3 fixtures"):
        hit_probabilities(np.full((3, 3), 1 / 3), Ticket.singles([0, 1]))


# ------------------------------------------------------------------------------------------
# Correct-picks distribution
# ------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(card_and_ticket())
def test_distribution_equals_brute_force_over_all_outcomes(case: tuple[NDArray[np.float64], Ticket]) -> None:
    probs, ticket = case
    distribution = correct_picks_distribution(probs, ticket)
    np.testing.assert_allclose(distribution, brute_force_distribution(probs, ticket), rtol=1e-9, atol=1e-15)


@settings(max_examples=150, deadline=None)
@given(card_and_ticket(max_size=17))
def test_distribution_sums_to_one_and_tails_fall(case: tuple[NDArray[np.float64], Ticket]) -> None:
    probs, ticket = case
    analysis = analyse_ticket(probs, ticket)
    n = probs.shape[0]
    assert analysis.distribution.shape == (n + 1,)
    assert (analysis.distribution >= 0).all()
    assert analysis.distribution.sum() == pytest.approx(1.0, abs=1e-12)
    assert analysis.p_at_least(0) == 1.0 and analysis.p_at_least(n + 1) == 0.0
    assert (np.diff(analysis.at_least) <= 1e-15).all()
    assert analysis.at_least[n] == pytest.approx(analysis.p_all_correct, rel=1e-9, abs=1e-300)
    expected = float((np.arange(n + 1) * analysis.distribution).sum())
    assert analysis.expected_correct == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(card_and_ticket(max_size=12), st.data())
def test_more_picks_never_lower_any_tier(case: tuple[NDArray[np.float64], Ticket], data: st.DataObject) -> None:
    probs, ticket = case
    widened = list(ticket.selections)
    fixture = data.draw(st.integers(0, len(widened) - 1))
    widened[fixture] = tuple(sorted(set(widened[fixture]) | {data.draw(st.integers(0, 2))}))
    before = analyse_ticket(probs, ticket).at_least
    after = analyse_ticket(probs, Ticket(tuple(widened))).at_least
    assert (after >= before - 1e-12).all()


def test_poisson_binomial_reduces_to_the_binomial() -> None:
    n, p = 17, 0.55
    expected = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    np.testing.assert_allclose(poisson_binomial(np.full(n, p)), expected, rtol=1e-12)
    assert poisson_binomial([]).tolist() == [1.0]
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        poisson_binomial([0.5, 1.5])


def test_tail_probabilities_keep_tiny_jackpot_odds() -> None:
    hits = np.full(17, 0.05)
    tails = tail_probabilities(poisson_binomial(hits))
    assert tails[17] == pytest.approx(0.05**17, rel=1e-9)
    assert tails[16] == pytest.approx(0.05**17 + 17 * 0.05**16 * 0.95, rel=1e-9)


def test_bonus_tiers_of_a_seventeen_match_card() -> None:
    probs = np.tile([0.5, 0.3, 0.2], (17, 1))
    analysis = analyse_ticket(probs, most_likely_ticket(probs))
    tiers = analysis.bonus_tiers()
    assert list(tiers) == [17, 16, 15]
    assert tiers[17] == pytest.approx(0.5**17)
    assert tiers[15] == pytest.approx(sum(math.comb(17, k) * 0.5**17 for k in (15, 16, 17)))
    assert analysis.bonus_tiers([13]) == {13: analysis.p_at_least(13)}
    document = analysis.to_dict([17, 16])
    assert document["p_at_least"] == {"17": tiers[17], "16": tiers[16]}
    assert document["selections"] == ["1"] * 17 and document["lines"] == 1


# ------------------------------------------------------------------------------------------
# Optimiser
# ------------------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_optimiser_matches_exhaustive_search(data: st.DataObject) -> None:
    probs = data.draw(cards(max_size=7))
    budget = data.draw(budgets(probs.shape[0]))
    result = optimise_ticket(probs, budget)
    best, fewest_lines = brute_force_best(probs, budget)
    assert budget.allows(result.ticket)
    assert result.p_all_correct == pytest.approx(best, rel=1e-12, abs=1e-300)
    assert result.lines == fewest_lines
    assert result.budget == budget


@settings(max_examples=60, deadline=None)
@given(cards(max_size=12), st.integers(0, 4), st.integers(0, 3))
def test_a_bigger_budget_never_hurts(probs: NDArray[np.float64], doubles: int, triples: int) -> None:
    base = optimise_ticket(probs, max_doubles=doubles, max_triples=triples).p_all_correct
    assert optimise_ticket(probs, max_doubles=doubles + 1, max_triples=triples).p_all_correct >= base * (1 - 1e-12)
    assert optimise_ticket(probs, max_doubles=doubles, max_triples=triples + 1).p_all_correct >= base * (1 - 1e-12)


@settings(max_examples=60, deadline=None)
@given(cards(max_size=12))
def test_no_budget_means_singles_and_no_limit_means_certainty(probs: NDArray[np.float64]) -> None:
    singles = optimise_ticket(probs, max_lines=1)
    assert singles.ticket == most_likely_ticket(probs)
    assert optimise_ticket(probs, max_doubles=0, max_triples=0).ticket == singles.ticket
    everything = optimise_ticket(probs)
    assert everything.p_all_correct == pytest.approx(1.0)
    # Covering every outcome that can happen, and no more.
    assert everything.ticket.selections == tuple(tuple(np.flatnonzero(row > 0).tolist()) for row in probs)


def test_optimiser_spends_doubles_on_the_least_certain_fixtures() -> None:
    probs = np.array([
        [0.80, 0.15, 0.05],  # safe banker
        [0.40, 0.35, 0.25],  # open: double 1X adds 0.35
        [0.10, 0.30, 0.60],  # double X2 adds 0.30
        [0.34, 0.33, 0.33],  # most open: a triple triples P here
    ])
    result = optimise_ticket(probs, max_doubles=2, max_triples=1)
    assert result.ticket.labels == ("1", "1X", "X2", "1X2")
    assert result.lines == 12
    assert result.p_all_correct == pytest.approx(0.80 * 0.75 * 0.90 * 1.0)
    capped = optimise_ticket(probs, max_lines=4)
    # Four lines: doubles on fixtures 2 and 4 (x 0.75/0.40 and x 0.67/0.34, 3.7 in all) beat
    # one triple (x 1/0.34 = 2.9) and the doubles on fixtures 2 and 3 (x 0.75/0.40 x 0.90/0.60 = 2.8).
    assert capped.ticket.labels == ("1", "1X", "2", "1X") and capped.lines == 4
    assert capped.p_all_correct == pytest.approx(0.80 * 0.75 * 0.60 * 0.67)


def test_worthless_extra_picks_are_not_taken() -> None:
    probs = np.array([[0.6, 0.4, 0.0], [1.0, 0.0, 0.0]])
    result = optimise_ticket(probs, max_doubles=2, max_triples=2)
    # The triple of fixture 1 adds nothing over its double; fixture 2 is certain.
    assert result.ticket.labels == ("1X", "1") and result.lines == 2
    # A gain lost in rounding (1e-15 relative) is no reason to double the lines either.
    assert optimise_ticket([[0.0, 1.0 - 1e-15, 1e-15]], max_doubles=1).ticket.labels == ("X",)


def test_optimiser_handles_impossible_cards() -> None:
    probs = np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    result = optimise_ticket(probs, max_lines=1)
    assert result.ticket.labels == ("2", "1") and result.p_all_correct == 0.5
    empty = optimise_ticket(np.zeros((0, 3)), max_doubles=3)
    assert empty.ticket == Ticket(()) and empty.p_all_correct == 1.0


def test_budget_is_validated_and_given_once() -> None:
    with pytest.raises(ValueError, match="max_doubles must be a non-negative integer"):
        TicketBudget(max_doubles=-1)
    with pytest.raises(ValueError, match="max_lines must be a positive integer"):
        TicketBudget(max_lines=0)
    with pytest.raises(ValueError, match="either a TicketBudget or keyword limits"):
        optimise_ticket(np.full((2, 3), 1 / 3), TicketBudget(max_doubles=1), max_triples=1)


def test_analyse_sets_uses_each_sets_most_likely_ticket() -> None:
    sets = {"A": np.array([[0.5, 0.3, 0.2]]), "B": np.array([[0.2, 0.3, 0.5]])}
    analyses = analyse_sets(sets)
    assert {key: a.ticket.labels for key, a in analyses.items()} == {"A": ("1",), "B": ("2",)}
    shared = analyse_sets(sets, Ticket.singles([1]))
    assert shared["A"].p_all_correct == shared["B"].p_all_correct == pytest.approx(0.3)
