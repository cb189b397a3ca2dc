"""Bookmaker 1X2 decimal odds -> implied (de-vigged) probabilities.

Every function works on arrays of shape (n, 3) ordered (home, draw, away); a single
fixture is n = 1. The margin reported is the overround minus one, where the overround
is the sum of the inverse odds ("booksum").

Four de-vig methods:

* ``multiplicative`` (proportional): p_i = pi_i / sum(pi), with pi_i = 1 / odds_i.
* ``additive``: p_i = pi_i - (overround - 1) / 3 (the margin is taken equally off each
  outcome). It can give negative probabilities for long shots; such rows are invalid.
* ``power``: p_i = pi_i ** k with k >= 1 chosen so that sum(p) = 1.
* ``shin``: Shin's (1993) insider-trading model, solved for the insider share z
  (Jullien & Salanie 2000; Strumbelj 2014):
  p_i = (sqrt(z^2 + 4 (1 - z) pi_i^2 / overround) - z) / (2 (1 - z)).

The iterative methods (power, shin) are solved per row with a fixed, row-local
stopping rule, so a row's result does not depend on which other rows share the batch,
and the same inputs give the same outputs bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jackpot_pipeline.model.outcome_arrays import as_outcome_array
from jackpot_pipeline.sources.football_data.odds import MIN_ODDS  # one bound for sources, cards, de-vigging

__all__ = [
    "DevigMethod",
    "DEVIG_METHODS",
    "InvalidOdds",
    "ImpliedProbabilities",
    "validate_odds",
    "overround",
    "devig",
    "devig_available",
    "available_odds",
    "multiplicative_devig",
    "additive_devig",
    "power_devig",
    "shin_devig",
]

DevigMethod = Literal["multiplicative", "additive", "power", "shin"]
DEVIG_METHODS: Final[tuple[str, ...]] = get_args(DevigMethod)

_OVERROUND_TOLERANCE: Final = 1e-9
"""Fair odds written as 1/p can sum to 1 - 1 ulp; only a real shortfall is an arbitrage."""

_POWER_MAX_ITERATIONS: Final = 100
_SHIN_BISECTION_STEPS: Final = 64  # halves [0, 1) to below one ulp of z


class InvalidOdds(ValueError):
    """Odds that cannot be de-vigged. The message names the offending row and value."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


@dataclass(frozen=True)
class ImpliedProbabilities:
    """Result of a de-vig.

    ``probs``: (n, 3) probabilities (home, draw, away), each row summing to 1; NaN rows
    where odds were unavailable (only from :func:`devig_available`).
    ``margin``: (n,) overround - 1.
    ``parameter``: (n,) the fitted method parameter -- the exponent k for ``power``, the
    insider share z for ``shin``; NaN for ``multiplicative`` and ``additive``.
    """

    method: DevigMethod
    probs: NDArray[np.float64]
    margin: NDArray[np.float64]
    parameter: NDArray[np.float64]


def _first_invalid_row(odds: NDArray[np.float64]) -> tuple[int, str] | None:
    """The first row that cannot be de-vigged and why, or None when all rows are valid."""
    with np.errstate(invalid="ignore", divide="ignore"):
        non_finite = ~np.isfinite(odds).all(axis=1)
        too_short = (odds < MIN_ODDS).any(axis=1) & ~non_finite
        booksum = (1.0 / odds).sum(axis=1)
        below_one = (booksum < 1.0 - _OVERROUND_TOLERANCE) & ~non_finite & ~too_short
    bad = non_finite | too_short | below_one
    if not bad.any():
        return None
    row = int(np.argmax(bad))
    values = odds[row].tolist()
    if non_finite[row]:
        reason = f"non-finite odds {values}"
    elif too_short[row]:
        reason = f"odds {values} include a price below the minimum {MIN_ODDS}"
    else:
        reason = f"odds {values} have overround {float(booksum[row])!r} < 1 (an arbitrage, not a book)"
    return row, reason


def _invalid_rows_mask(odds: NDArray[np.float64]) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.isfinite(odds).all(axis=1)
        long_enough = (odds >= MIN_ODDS).all(axis=1)
        booksum_ok = (1.0 / odds).sum(axis=1) >= 1.0 - _OVERROUND_TOLERANCE
    return ~(finite & long_enough & booksum_ok)


def validate_odds(odds: ArrayLike) -> NDArray[np.float64]:
    """Return ``odds`` as a float (n, 3) array, or raise :class:`InvalidOdds`.

    Invalid: non-finite (including missing) prices, prices below ``MIN_ODDS``,
    or an overround below 1 (by more than 1e-9, so fair odds 1/p survive rounding).
    The error names the first offending row index and values.
    """
    array = as_outcome_array(odds, "odds", single_row=True)
    problem = _first_invalid_row(array)
    if problem is not None:
        row, reason = problem
        raise InvalidOdds(f"invalid odds at row {row}: {reason}", row=row)
    return array


def overround(odds: ArrayLike) -> NDArray[np.float64]:
    """Sum of inverse odds per row (validated)."""
    return (1.0 / validate_odds(odds)).sum(axis=1)


def multiplicative_devig(odds: ArrayLike) -> ImpliedProbabilities:
    """Proportional de-vig: inverse odds divided by their sum."""
    array = validate_odds(odds)
    inverse = 1.0 / array
    booksum = inverse.sum(axis=1)
    probs = inverse / booksum[:, np.newaxis]
    return ImpliedProbabilities("multiplicative", probs, booksum - 1.0, np.full(len(array), np.nan))


def additive_devig(odds: ArrayLike) -> ImpliedProbabilities:
    """Equal-margin de-vig: subtract a third of the margin from each inverse price.

    Raises :class:`InvalidOdds` for rows where a long shot's inverse price is smaller than
    a third of the margin (the result would be a negative probability).
    """
    array = validate_odds(odds)
    inverse = 1.0 / array
    booksum = inverse.sum(axis=1)
    probs = inverse - ((booksum - 1.0) / 3.0)[:, np.newaxis]
    negative = (probs < 0.0).any(axis=1)
    if negative.any():
        row = int(np.argmax(negative))
        raise InvalidOdds(
            f"invalid odds at row {row}: additive de-vig of odds {array[row].tolist()} gives a negative "
            f"probability {probs[row].tolist()}; use the multiplicative, power or shin method",
            row=row,
        )
    # Exact in real arithmetic; the division only removes floating-point drift.
    probs = probs / probs.sum(axis=1)[:, np.newaxis]
    return ImpliedProbabilities("additive", probs, booksum - 1.0, np.full(len(array), np.nan))


def power_devig(odds: ArrayLike) -> ImpliedProbabilities:
    """Power de-vig: p_i = (1/odds_i)^k with sum(p) = 1, k >= 1.

    f(k) = sum(pi_i^k) - 1 is decreasing and convex with f(1) = margin >= 0, so Newton's
    method started at k = 1 approaches the root monotonically from the left and never
    overshoots. Each row stops on its own (step below 1e-15 relative), which keeps rows
    independent of the batch they are computed in.
    """
    array = validate_odds(odds)
    inverse = 1.0 / array
    booksum = inverse.sum(axis=1)
    log_inverse = np.log(inverse)
    exponent = np.ones(len(array))
    active = booksum > 1.0
    for _ in range(_POWER_MAX_ITERATIONS):
        if not active.any():
            break
        powered = inverse[active] ** exponent[active, np.newaxis]
        value = powered.sum(axis=1) - 1.0
        slope = (powered * log_inverse[active]).sum(axis=1)
        step = -value / slope
        exponent[active] = exponent[active] + step
        still_moving = np.abs(step) > 1e-15 * exponent[active]
        active_indices = np.flatnonzero(active)
        active[active_indices[~still_moving]] = False
    probs = inverse ** exponent[:, np.newaxis]
    probs = probs / probs.sum(axis=1)[:, np.newaxis]
    return ImpliedProbabilities("power", probs, booksum - 1.0, exponent)


def _shin_probabilities(
    inverse: NDArray[np.float64], booksum: NDArray[np.float64], z: NDArray[np.float64]
) -> NDArray[np.float64]:
    z_column = z[:, np.newaxis]
    return (
        np.sqrt(z_column**2 + 4.0 * (1.0 - z_column) * inverse**2 / booksum[:, np.newaxis]) - z_column
    ) / (2.0 * (1.0 - z_column))


def shin_devig(odds: ArrayLike) -> ImpliedProbabilities:
    """Shin de-vig: solve for the insider share z in [0, 1) such that the Shin
    probabilities sum to 1.

    The probability sum is sqrt(overround) >= 1 at z = 0 and decreases in z towards
    sum(pi^2)/overround < 1 as z -> 1, so the root is bracketed by [0, 1). A fixed number
    of vectorised bisection steps (64, below one ulp of z) makes the result independent
    of the batch and bit-for-bit reproducible.
    """
    array = validate_odds(odds)
    inverse = 1.0 / array
    booksum = inverse.sum(axis=1)
    low = np.zeros(len(array))
    high = np.ones(len(array))
    for _ in range(_SHIN_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        total = _shin_probabilities(inverse, booksum, middle).sum(axis=1)
        too_big = total > 1.0
        low = np.where(too_big, middle, low)
        high = np.where(too_big, high, middle)
    # With no margin the root is z = 0 exactly; bisection would only approach it (and a
    # booksum a rounding error below 1 has no root in [0, 1)).
    z = np.where(booksum <= 1.0, 0.0, 0.5 * (low + high))
    probs = _shin_probabilities(inverse, booksum, z)
    probs = probs / probs.sum(axis=1)[:, np.newaxis]
    return ImpliedProbabilities("shin", probs, booksum - 1.0, z)


_METHODS = {
    "multiplicative": multiplicative_devig,
    "additive": additive_devig,
    "power": power_devig,
    "shin": shin_devig,
}


def devig(odds: ArrayLike, method: DevigMethod = "multiplicative") -> ImpliedProbabilities:
    """De-vig (n, 3) decimal odds with ``method``; raises :class:`InvalidOdds` on any bad row."""
    try:
        function = _METHODS[method]
    except KeyError:
        raise ValueError(f"unknown de-vig method {method!r}; choose one of {DEVIG_METHODS}") from None
    return function(odds)


def available_odds(odds: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Split (n, 3) odds into present and missing rows without raising on missing ones.

    A row is *missing* when any of its three prices is NaN (an empty CSV cell). Present
    rows are validated like :func:`validate_odds`; an :class:`InvalidOdds` error names the
    row index in the full input. Returns the float array and the ``available`` mask.
    """
    array = as_outcome_array(odds, "odds", single_row=True)
    available = ~np.isnan(array).any(axis=1)
    rows = np.flatnonzero(available)
    problem = _first_invalid_row(array[rows])
    if problem is not None:
        subset_row, reason = problem
        row = int(rows[subset_row])
        raise InvalidOdds(f"invalid odds at row {row}: {reason}", row=row)
    return array, available


def devig_available(
    odds: ArrayLike,
    method: DevigMethod = "multiplicative",
    *,
    invalid: Literal["raise", "missing"] = "raise",
) -> tuple[ImpliedProbabilities, NDArray[np.bool_]]:
    """De-vig the rows whose odds are present; return NaN rows elsewhere plus the mask.

    A row is *missing* when any of its three prices is NaN (an empty CSV cell). Missing
    rows get NaN probabilities, margin and parameter and ``available[row] = False``, so
    callers handle partial coverage without exceptions. Rows that are present but invalid
    (infinite, below ``MIN_ODDS``, overround < 1, or negative under the additive
    method) still raise :class:`InvalidOdds` -- naming the row index in the full input --
    unless ``invalid="missing"``, which treats them as missing too (use it only when bad
    quotes are expected, and count them).
    """
    if invalid not in ("raise", "missing"):
        raise ValueError(f"invalid must be 'raise' or 'missing'; got {invalid!r}")
    if method not in _METHODS:
        raise ValueError(f"unknown de-vig method {method!r}; choose one of {DEVIG_METHODS}")
    array = as_outcome_array(odds, "odds", single_row=True)
    available = ~np.isnan(array).any(axis=1)
    if invalid == "missing":
        available &= ~_invalid_rows_mask(array)
        if method == "additive":
            with np.errstate(invalid="ignore", divide="ignore"):
                inverse = 1.0 / array
                shortfall = inverse - ((inverse.sum(axis=1) - 1.0) / 3.0)[:, np.newaxis]
            available &= ~(shortfall < 0.0).any(axis=1)
    n = len(array)
    probs = np.full((n, 3), np.nan)
    margin = np.full(n, np.nan)
    parameter = np.full(n, np.nan)
    rows = np.flatnonzero(available)
    if rows.size:
        try:
            result = devig(array[rows], method)
        except InvalidOdds as error:
            # Re-raise with the row index of the caller's array, not of the subset.
            assert error.row is not None
            original_row = int(rows[error.row])
            message = str(error).replace(f"at row {error.row}:", f"at row {original_row}:", 1)
            raise InvalidOdds(message, row=original_row) from None
        probs[rows] = result.probs
        margin[rows] = result.margin
        parameter[rows] = result.parameter
    return ImpliedProbabilities(method, probs, margin, parameter), available
