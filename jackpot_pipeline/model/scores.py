"""Dixon-Coles score matrices and the market probabilities read from them.

The score distribution of a fixture with expected goals λ (home) and μ (away) is

    P(x, y) = τ(x, y) · Pois(x; λ) · Pois(y; μ)

with Dixon & Coles' (1997) low-score correction

    τ(0,0) = 1 − ρλμ,  τ(0,1) = 1 + ρλ,  τ(1,0) = 1 + ρμ,  τ(1,1) = 1 − ρ,  τ = 1 elsewhere.

The four corrections cancel (their probability-weighted sum is zero), so the corrected distribution still
sums to one over all scores, and its marginal means are still λ and μ. It is a distribution only while
every τ ≥ 0, i.e. max(−1/λ, −1/μ) ≤ ρ ≤ min(1/(λμ), 1); outside that region this module raises
`InvalidRhoError` instead of returning negative probabilities.

The matrix is truncated at `max_goals` per side. The mass beyond it, 1 − F_λ(G)·F_μ(G), is computed
from Poisson tails (exact, because the τ terms only touch scores ≤ 1) and reported as `truncated_mass`;
the kept grid is then renormalised to sum to one. Every quantity is computed by the same vectorised code
for one fixture or many, so single and batch predictions agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, pdtrc

DEFAULT_MAX_GOALS = 10

__all__ = [
    "DEFAULT_MAX_GOALS",
    "InvalidRhoError",
    "MatchPrediction",
    "ScoreMatrix",
    "entropy_bits",
    "match_prediction",
    "outcome_probabilities",
    "rho_valid_interval",
    "score_matrices",
    "score_matrix",
]


class InvalidRhoError(ValueError):
    """ρ lies outside Dixon-Coles' valid region for a fixture: some τ would be negative."""


@dataclass(frozen=True)
class ScoreMatrix:
    """Renormalised score grid: `probabilities[x, y]` = P(home scores x, away scores y), 0 ≤ x, y ≤ max_goals."""

    probabilities: np.ndarray
    truncated_mass: float
    lambda_home: float
    lambda_away: float
    rho: float

    @property
    def max_goals(self) -> int:
        return self.probabilities.shape[0] - 1


@dataclass(frozen=True)
class MatchPrediction:
    """Everything the pipeline reads from one fixture's score matrix.

    `expected_goals` are the means of the renormalised truncated grid (they differ from the λs only by
    the truncation); `flags` carries caveats such as "unseen_home_team".
    """

    home_team: str
    away_team: str
    prob_home: float
    prob_draw: float
    prob_away: float
    lambda_home: float
    lambda_away: float
    entropy_bits: float
    most_likely_score: tuple[int, int]
    expected_goals: tuple[float, float]
    prob_over_2_5: float
    prob_under_2_5: float
    prob_btts: float
    truncated_mass: float
    flags: tuple[str, ...] = ()

    @property
    def probs_1x2(self) -> np.ndarray:
        return np.array([self.prob_home, self.prob_draw, self.prob_away])

    def to_dict(self) -> dict:
        return {
            "home_team": self.home_team,
            "away_team": self.away_team,
            "prob_home": self.prob_home,
            "prob_draw": self.prob_draw,
            "prob_away": self.prob_away,
            "lambda_home": self.lambda_home,
            "lambda_away": self.lambda_away,
            "entropy_bits": self.entropy_bits,
            "most_likely_score": list(self.most_likely_score),
            "expected_goals": list(self.expected_goals),
            "prob_over_2_5": self.prob_over_2_5,
            "prob_under_2_5": self.prob_under_2_5,
            "prob_btts": self.prob_btts,
            "truncated_mass": self.truncated_mass,
            "flags": list(self.flags),
        }


def rho_valid_interval(lambda_home: ArrayLike, lambda_away: ArrayLike) -> tuple[float, float]:
    """Largest ρ interval keeping every τ ≥ 0 for all the given (λ, μ) pairs (arrays broadcast)."""
    lam = np.asarray(lambda_home, dtype=np.float64)
    mu = np.asarray(lambda_away, dtype=np.float64)
    lower = float(np.max(np.maximum(-1.0 / lam, -1.0 / mu)))
    upper = float(min(1.0, np.min(1.0 / (lam * mu))))
    return lower, upper


def _check_rho(lam: np.ndarray, mu: np.ndarray, rho: float) -> None:
    tau_00 = 1.0 - rho * lam * mu
    tau_01 = 1.0 + rho * lam
    tau_10 = 1.0 + rho * mu
    invalid = (tau_00 < 0.0) | (tau_01 < 0.0) | (tau_10 < 0.0) | (1.0 - rho < 0.0)
    if np.any(invalid):
        first = int(np.flatnonzero(invalid)[0])
        lower, upper = rho_valid_interval(lam[first], mu[first])
        raise InvalidRhoError(
            f"rho={rho:.6g} is outside the Dixon-Coles valid region [{lower:.6g}, {upper:.6g}] for "
            f"lambda_home={lam[first]:.6g}, lambda_away={mu[first]:.6g} ({int(invalid.sum())} of "
            f"{invalid.size} fixtures affected): some score probability would be negative"
        )


def score_matrices(
    lambda_home: ArrayLike, lambda_away: ArrayLike, rho: float, max_goals: int = DEFAULT_MAX_GOALS
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised core: renormalised grids of shape (n, G+1, G+1) and truncated masses of shape (n,).

    Raises `InvalidRhoError` if ρ is outside the valid region of any fixture, and ValueError on
    non-positive or non-finite λs or a `max_goals` below 2 (the τ terms and the 2.5 line need the grid).
    """
    lam = np.atleast_1d(np.asarray(lambda_home, dtype=np.float64))
    mu = np.atleast_1d(np.asarray(lambda_away, dtype=np.float64))
    if lam.shape != mu.shape or lam.ndim != 1:
        raise ValueError(f"lambda_home and lambda_away must be 1-d of equal length, got {lam.shape} and {mu.shape}")
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(mu)) and np.all(lam > 0) and np.all(mu > 0)):
        raise ValueError("expected goals must be finite and > 0")
    if not np.isfinite(rho):
        raise ValueError(f"rho must be finite, got {rho}")
    if int(max_goals) != max_goals or max_goals < 2:
        raise ValueError(f"max_goals must be an integer >= 2, got {max_goals}")
    max_goals = int(max_goals)
    _check_rho(lam, mu, rho)

    goals = np.arange(max_goals + 1, dtype=np.float64)
    log_factorial = gammaln(goals + 1.0)
    pmf_home = np.exp(goals * np.log(lam)[:, None] - lam[:, None] - log_factorial)
    pmf_away = np.exp(goals * np.log(mu)[:, None] - mu[:, None] - log_factorial)
    grid = pmf_home[:, :, None] * pmf_away[:, None, :]
    grid[:, 0, 0] *= 1.0 - rho * lam * mu
    grid[:, 0, 1] *= 1.0 + rho * lam
    grid[:, 1, 0] *= 1.0 + rho * mu
    grid[:, 1, 1] *= 1.0 - rho

    # Tails from the regularised gamma function: exact to ~1e-16 even when 1 − grid.sum() would cancel.
    tail_home = pdtrc(max_goals, lam)
    tail_away = pdtrc(max_goals, mu)
    truncated_mass = tail_home + tail_away - tail_home * tail_away
    grid /= grid.sum(axis=(1, 2), keepdims=True)
    return grid, truncated_mass


def score_matrix(
    lambda_home: float, lambda_away: float, rho: float, max_goals: int = DEFAULT_MAX_GOALS
) -> ScoreMatrix:
    """Renormalised Dixon-Coles score grid of one fixture (see the module docstring)."""
    grid, truncated = score_matrices([lambda_home], [lambda_away], rho, max_goals)
    return ScoreMatrix(
        probabilities=grid[0],
        truncated_mass=float(truncated[0]),
        lambda_home=float(lambda_home),
        lambda_away=float(lambda_away),
        rho=float(rho),
    )


def outcome_probabilities(grids: np.ndarray) -> np.ndarray:
    """(n, 3) array of P(home win), P(draw), P(away win) from (n, G+1, G+1) grids."""
    size = grids.shape[-1]
    home_goals = np.arange(size)[:, None]
    away_goals = np.arange(size)[None, :]
    return np.stack(
        [
            np.sum(grids, axis=(1, 2), where=home_goals > away_goals),
            np.sum(grids, axis=(1, 2), where=home_goals == away_goals),
            np.sum(grids, axis=(1, 2), where=home_goals < away_goals),
        ],
        axis=1,
    )


def entropy_bits(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits along the last axis, with 0·log 0 = 0."""
    p = np.asarray(probabilities, dtype=np.float64)
    safe = np.where(p > 0.0, p, 1.0)
    return -np.sum(np.where(p > 0.0, p * np.log2(safe), 0.0), axis=-1)


def match_prediction(
    grid: np.ndarray,
    truncated_mass: float,
    lambda_home: float,
    lambda_away: float,
    *,
    home_team: str = "",
    away_team: str = "",
    flags: tuple[str, ...] = (),
) -> MatchPrediction:
    """Read the markets off one renormalised grid (as returned by `score_matrices`)."""
    size = grid.shape[0]
    goals = np.arange(size)
    total_goals = goals[:, None] + goals[None, :]
    p_home, p_draw, p_away = outcome_probabilities(grid[None])[0]
    prob_under = float(np.sum(grid, where=total_goals <= 2))
    best = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return MatchPrediction(
        home_team=home_team,
        away_team=away_team,
        prob_home=float(p_home),
        prob_draw=float(p_draw),
        prob_away=float(p_away),
        lambda_home=float(lambda_home),
        lambda_away=float(lambda_away),
        entropy_bits=float(entropy_bits(np.array([p_home, p_draw, p_away]))),
        most_likely_score=(int(best[0]), int(best[1])),
        expected_goals=(float(grid.sum(axis=1) @ goals), float(grid.sum(axis=0) @ goals)),
        prob_over_2_5=1.0 - prob_under,
        prob_under_2_5=prob_under,
        prob_btts=float(grid[1:, 1:].sum()),
        truncated_mass=float(truncated_mass),
        flags=tuple(flags),
    )
