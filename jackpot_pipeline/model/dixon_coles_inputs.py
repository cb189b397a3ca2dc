"""Input checks of the Dixon-Coles fit and predictions (team names, goals, dates, targets) and the
time-decay weights."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_day_array(dates: Any, what: str) -> np.ndarray:
    try:
        if hasattr(dates, "to_numpy"):
            dates = dates.to_numpy()
        days = np.asarray(dates).astype("datetime64[D]")
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} could not be read as dates: {error}") from None
    if np.any(np.isnat(days)):
        raise ValueError(f"{what} contains missing dates")
    return days


def as_day(value: Any) -> np.datetime64:
    days = as_day_array(np.asarray(value).reshape(-1), "reference_date")
    if days.size != 1:
        raise ValueError(f"reference_date must be a single date, got {days.size} values")
    return days[0]


def time_decay_weights(match_dates: Any, reference_date: Any, xi: float) -> np.ndarray:
    """w = exp(−ξ · days from each match to `reference_date`); every match must be strictly earlier."""
    days = as_day_array(match_dates, "match_dates")
    reference = as_day(reference_date)
    reject_matches_not_before(days, reference)
    return decay_weights(days, reference, xi)


def decay_weights(days: np.ndarray, reference: np.datetime64, xi: float) -> np.ndarray:
    """w = exp(−ξ · days from each of ``days`` to ``reference``), on day arrays already checked."""
    return np.exp(-xi * (reference - days).astype(np.float64))


def reject_matches_not_before(days: np.ndarray, reference: np.datetime64, describe=None) -> None:
    too_late = days >= reference
    if np.any(too_late):
        first = int(np.flatnonzero(too_late)[0])
        detail = f" (first: index {first}, {days[first]}{describe(first) if describe else ''})"
        raise ValueError(
            f"{int(too_late.sum())} match(es) dated on or after reference_date {reference}{detail}; "
            "a fit may only use matches played strictly before its reference date"
        )


def as_team_array(teams: Any, what: str) -> np.ndarray:
    values = np.asarray(teams.to_numpy() if hasattr(teams, "to_numpy") else teams)
    if values.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    if values.dtype.kind != "U":
        # Object input may hide None/NaN, which astype(str) would silently turn into team names.
        for value in values:
            if not isinstance(value, str):
                raise ValueError(f"{what} must hold team names (strings), found {value!r}")
        values = values.astype(str)
    if values.size and np.any(np.char.str_len(np.char.strip(values)) == 0):
        first = int(np.flatnonzero(np.char.strip(values) == "")[0])
        raise ValueError(f"{what} contains an empty team name (index {first})")
    return values


def as_goal_array(goals: Any, what: str) -> np.ndarray:
    values = np.asarray(goals.to_numpy() if hasattr(goals, "to_numpy") else goals)
    if values.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    try:
        as_float = values.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric goal counts") from None
    if not np.all(np.isfinite(as_float)):
        raise ValueError(f"{what} contains missing or non-finite values")
    if np.any(as_float < 0):
        raise ValueError(f"{what} contains negative goals (first at index {int(np.flatnonzero(as_float < 0)[0])})")
    if np.any(as_float != np.round(as_float)):
        raise ValueError(f"{what} must hold whole numbers of goals")
    return as_float


def as_target_array(values: Any, length: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (length,):
        raise ValueError(f"{what} needs one value per match ({length}), got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{what} must hold finite non-negative numbers")
    return array
