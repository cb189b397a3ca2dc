"""Dixon-Coles (1997) team-strength model fitted by weighted, penalised maximum likelihood.

Parametrisation
---------------
For a match of home team i against away team j::

    log λ_home = intercept + home_advantage + attack[i] − defence[j]
    log λ_away = intercept +                  attack[j] − defence[i]

so a larger `defence` means fewer goals conceded, and `intercept` is the log of the away scoring rate of
an average team. Identifiability: Σ attack = 0 and Σ defence = 0 over the fitted teams (an average team
has attack = defence = 0). This is the same model as penaltyblog's (log λ_home = hfa + att_i + def_j,
Σ att = n), re-expressed with centred strengths and an explicit intercept.

Scores follow P(x, y) = τ(x, y) Pois(x; λ_home) Pois(y; λ_away) with the low-score correction τ
(see `jackpot_pipeline.model.scores`).

Objective
---------
Maximised: Σ_m w_m log P(x_m, y_m) − ½ s Σ_k [(attack_k − a⁰_k)² + (defence_k − d⁰_k)²], with time decay
w_m = exp(−ξ · days from match m to the reference date), ξ = `xi` per day. The L2 term (s = `shrinkage`)
shrinks teams with little data towards their prior centre: the league mean 0 for established teams (or
their own centre from `prior_centres`), or the promoted-team prior (`prior_attack`, `prior_defence`) for
teams named in `promoted_teams`. Teams never
seen in the data are predicted with that same prior and flagged.

ρ is restricted to Dixon-Coles' valid region max(−1/λ, −1/μ) ≤ ρ ≤ min(1/(λμ), 1) taken over every
ordered pairing of the fitted teams and of the prior team (an unseen team), so every score probability
the fit can ever produce is non-negative.

Solver
------
Damped Newton on the sum-to-zero subspace with the analytic gradient and Hessian, assembled by
`np.bincount` over precomputed index arrays (no Python loop over matches); typically 4-6 iterations
from a cold start and 2-3 when warm-started from last week's fit. The ρ region rarely binds (2 of 192
league-seasons of plain MLE, 1 with the default config); when the unconstrained optimum leaves it,
a primal active-set Newton finishes the job in r = log|ρ|, where every pairing's τ ≥ 0 is a linear
inequality. All arithmetic is deterministic: identical inputs give identical parameters bit for bit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from scipy.special import gammaln

from jackpot_pipeline.model.scores import (
    MatchPrediction,
    match_prediction,
    outcome_probabilities,
    rho_valid_interval,
    score_matrices,
)

__all__ = [
    "DixonColesConfig",
    "DixonColesFit",
    "FitDiagnostics",
    "FitDidNotConverge",
    "fit_dixon_coles",
    "time_decay_weights",
]

SERIALISATION_FORMAT = "jackpot_pipeline.dixon_coles_fit/1"
UNSEEN_HOME_FLAG = "unseen_home_team"
UNSEEN_AWAY_FLAG = "unseen_away_team"

# Fixtures are scored in chunks so the (n, G+1, G+1) grids stay small for any n.
_PREDICTION_CHUNK = 8192


class FitDidNotConverge(RuntimeError):
    """The optimiser stopped without reaching the optimum; no fit is returned."""

    def __init__(self, message: str, *, iterations: int, gradient_max: float):
        super().__init__(message)
        self.optimiser_message = message
        self.iterations = iterations
        self.gradient_max = gradient_max


@dataclass(frozen=True)
class DixonColesConfig:
    """Fit settings.

    xi: time decay per day (0 = equal weights). shrinkage: precision s of the Gaussian prior on each
    attack/defence, in units of match weight (0 = plain maximum likelihood). The default 5.0 was the best
    of {0.1, 0.3, 1, 3, 5, 10, 30} in a weekly walk-forward over E0 E1 SP1 D1 I1 F1 2015/16-2023/24 with
    three-season windows (RPS 0.2047 against 0.2052 at 1.0 and 0.2066 at 30). prior_attack /
    prior_defence: strengths given to unseen teams and the shrinkage centre of `promoted_teams`.
    max_goals: score-grid size per side for predictions. tol: convergence threshold on the largest
    projected-gradient entry, relative to Σw. max_iter: optimiser iteration limit.
    """

    xi: float = 0.0018
    shrinkage: float = 5.0
    prior_attack: float = 0.0
    prior_defence: float = 0.0
    max_goals: int = 10
    tol: float = 1e-9
    max_iter: int = 100

    def __post_init__(self) -> None:
        for name in ("xi", "shrinkage", "prior_attack", "prior_defence", "tol"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.xi < 0:
            raise ValueError(f"xi must be >= 0 (per day), got {self.xi}")
        if self.shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, got {self.shrinkage}")
        if self.tol <= 0:
            raise ValueError(f"tol must be > 0, got {self.tol}")
        if int(self.max_goals) != self.max_goals or self.max_goals < 2:
            raise ValueError(f"max_goals must be an integer >= 2, got {self.max_goals}")
        if int(self.max_iter) != self.max_iter or self.max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter}")


@dataclass(frozen=True)
class FitDiagnostics:
    """How the fit went. `log_likelihood` is the weighted Σ w log P(score) without the penalty;
    `penalised_log_likelihood` is the maximised objective. `rho_interval` is the valid ρ region at the
    fitted strengths; `rho_at_bound` says whether the optimum lies on it."""

    converged: bool
    iterations: int
    log_likelihood: float
    penalised_log_likelihood: float
    n_matches: int
    n_teams: int
    effective_weight: float
    effective_sample_size: float
    gradient_max: float
    rho_interval: tuple[float, float]
    rho_at_bound: bool
    solver: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["rho_interval"] = list(self.rho_interval)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitDiagnostics:
        values = dict(data)
        values["rho_interval"] = tuple(values["rho_interval"])
        return cls(**values)


# ---------------------------------------------------------------------------------------------------
# Input handling


def _as_day_array(dates: Any, what: str) -> np.ndarray:
    try:
        if hasattr(dates, "to_numpy"):
            dates = dates.to_numpy()
        days = np.asarray(dates).astype("datetime64[D]")
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} could not be read as dates: {error}") from None
    if np.any(np.isnat(days)):
        raise ValueError(f"{what} contains missing dates")
    return days


def _as_day(value: Any) -> np.datetime64:
    days = _as_day_array(np.asarray(value).reshape(-1), "reference_date")
    if days.size != 1:
        raise ValueError(f"reference_date must be a single date, got {days.size} values")
    return days[0]


def time_decay_weights(match_dates: Any, reference_date: Any, xi: float) -> np.ndarray:
    """w = exp(−ξ · days from each match to `reference_date`); every match must be strictly earlier."""
    days = _as_day_array(match_dates, "match_dates")
    reference = _as_day(reference_date)
    _reject_matches_not_before(days, reference)
    age_days = (reference - days).astype(np.float64)
    return np.exp(-xi * age_days)


def _reject_matches_not_before(days: np.ndarray, reference: np.datetime64, describe=None) -> None:
    too_late = days >= reference
    if np.any(too_late):
        first = int(np.flatnonzero(too_late)[0])
        detail = f" (first: index {first}, {days[first]}{describe(first) if describe else ''})"
        raise ValueError(
            f"{int(too_late.sum())} match(es) dated on or after reference_date {reference}{detail}; "
            "a fit may only use matches played strictly before its reference date"
        )


def _as_team_array(teams: Any, what: str) -> np.ndarray:
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


def _as_goal_array(goals: Any, what: str) -> np.ndarray:
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


def _as_target_array(values: Any, length: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (length,):
        raise ValueError(f"{what} needs one value per match ({length}), got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{what} must hold finite non-negative numbers")
    return array


# ---------------------------------------------------------------------------------------------------
# Likelihood, gradient and Hessian

# Each match touches 7 parameters ("slots"): attack[home], defence[away], attack[away], defence[home],
# intercept, home_advantage, rho. _SLOT_JACOBIAN maps them to the match's (log λ_home, log λ_away, ρ).
_SLOT_JACOBIAN = np.array(
    [
        [1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        [0.0, 0.0, 1.0, -1.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    ]
)
# The 6 distinct entries of a match's 3×3 local Hessian (hh, aa, ha, hρ, aρ, ρρ) -> 7×7 slot Hessian.
_LOCAL_TO_SLOT_HESSIAN = np.stack(
    [
        np.outer(_SLOT_JACOBIAN[p], _SLOT_JACOBIAN[q])
        + (np.outer(_SLOT_JACOBIAN[q], _SLOT_JACOBIAN[p]) if p != q else 0.0)
        for p, q in ((0, 0), (1, 1), (0, 1), (0, 2), (1, 2), (2, 2))
    ]
).reshape(6, 49)


class _WeightedLikelihood:
    """Negative penalised log-likelihood of one data set, as a function of the packed parameter vector
    θ = [attack (n), defence (n), intercept, home_advantage, rho]."""

    def __init__(
        self,
        home_idx: np.ndarray,
        away_idx: np.ndarray,
        home_goals: np.ndarray,
        away_goals: np.ndarray,
        weights: np.ndarray,
        n_teams: int,
        shrinkage: float,
        attack_centre: np.ndarray,
        defence_centre: np.ndarray,
        home_targets: np.ndarray | None = None,
        away_targets: np.ndarray | None = None,
    ):
        n = n_teams
        self.n_teams = n
        self.n_params = 2 * n + 3
        self.home_idx = home_idx
        self.away_idx = away_idx
        self.weights = weights
        self.shrinkage = shrinkage
        self.attack_centre = attack_centre
        self.defence_centre = defence_centre

        # The Poisson part may be fitted to other non-negative targets than the goals (e.g. a blend of goals
        # and shots on target); the low-score correction τ always reads the goals.
        home_targets = home_goals if home_targets is None else home_targets
        away_targets = away_goals if away_targets is None else away_targets
        self.weighted_home_goals = weights * home_targets
        self.weighted_away_goals = weights * away_targets
        self.log_factorial_total = float(
            np.sum(weights * (gammaln(home_targets + 1.0) + gammaln(away_targets + 1.0)))
        )
        self.i00 = np.flatnonzero((home_goals == 0) & (away_goals == 0))
        self.i01 = np.flatnonzero((home_goals == 0) & (away_goals == 1))
        self.i10 = np.flatnonzero((home_goals == 1) & (away_goals == 0))
        self.w00 = weights[self.i00]
        self.w01 = weights[self.i01]
        self.w10 = weights[self.i10]
        self.w11_total = float(weights[(home_goals == 1) & (away_goals == 1)].sum())

        p = self.n_params
        slots = np.empty((len(weights), 7), dtype=np.int64)
        slots[:, 0] = home_idx
        slots[:, 1] = n + away_idx
        slots[:, 2] = away_idx
        slots[:, 3] = n + home_idx
        slots[:, 4] = 2 * n
        slots[:, 5] = 2 * n + 1
        slots[:, 6] = 2 * n + 2
        self.hessian_flat_index = (slots[:, :, None] * p + slots[:, None, :]).ravel()
        self.team_diagonal = np.arange(2 * n) * (p + 1)

    def _rates_and_taus(self, theta: np.ndarray):
        n = self.n_teams
        attack, defence = theta[:n], theta[n : 2 * n]
        intercept, home, rho = theta[2 * n], theta[2 * n + 1], theta[2 * n + 2]
        eta_home = intercept + home + attack[self.home_idx] - defence[self.away_idx]
        eta_away = intercept + attack[self.away_idx] - defence[self.home_idx]
        # Trial points of a line search may overflow; they then score +inf and are rejected.
        with np.errstate(over="ignore", invalid="ignore"):
            lam_home, lam_away = np.exp(eta_home), np.exp(eta_away)
            taus = (
                1.0 - rho * lam_home[self.i00] * lam_away[self.i00],
                1.0 + rho * lam_home[self.i01],
                1.0 + rho * lam_away[self.i10],
                1.0 - rho,
            )
        return eta_home, eta_away, lam_home, lam_away, taus

    def _taus_positive(self, taus) -> bool:
        tau00, tau01, tau10, tau11 = taus
        # Written as "all > 0" so that NaNs from overflow count as outside the domain.
        return bool(
            np.all(tau00 > 0.0)
            and np.all(tau01 > 0.0)
            and np.all(tau10 > 0.0)
            and (self.w11_total == 0.0 or tau11 > 0.0)
        )

    def _log_likelihood_from(self, eta_home, eta_away, lam_home, lam_away, taus) -> float:
        tau00, tau01, tau10, tau11 = taus
        poisson = (
            self.weighted_home_goals @ eta_home
            + self.weighted_away_goals @ eta_away
            - self.weights @ (lam_home + lam_away)
            - self.log_factorial_total
        )
        correction = self.w00 @ np.log(tau00) + self.w01 @ np.log(tau01) + self.w10 @ np.log(tau10)
        if self.w11_total > 0.0:
            correction += self.w11_total * math.log(tau11)
        return float(poisson + correction)

    def _penalty(self, theta: np.ndarray) -> float:
        if self.shrinkage == 0.0:
            return 0.0
        n = self.n_teams
        attack_dev = theta[:n] - self.attack_centre
        defence_dev = theta[n : 2 * n] - self.defence_centre
        return 0.5 * self.shrinkage * float(attack_dev @ attack_dev + defence_dev @ defence_dev)

    def log_likelihood(self, theta: np.ndarray) -> float:
        """Σ w log P(score); −inf where an observed score has τ ≤ 0 (or the rates overflow)."""
        eta_home, eta_away, lam_home, lam_away, taus = self._rates_and_taus(theta)
        if not self._taus_positive(taus):
            return -math.inf
        with np.errstate(over="ignore", invalid="ignore"):
            value = self._log_likelihood_from(eta_home, eta_away, lam_home, lam_away, taus)
        return value if math.isfinite(value) else -math.inf

    def objective(self, theta: np.ndarray) -> float:
        """Negative penalised log-likelihood (+inf where an observed score has τ ≤ 0)."""
        return -self.log_likelihood(theta) + self._penalty(theta)

    def derivatives(self, theta: np.ndarray, with_hessian: bool = True):
        """(objective, gradient, Hessian or None); (inf, None, None) where an observed τ ≤ 0."""
        n = self.n_teams
        p = self.n_params
        rho = theta[-1]
        eta_home, eta_away, lam_home, lam_away, taus = self._rates_and_taus(theta)
        if not self._taus_positive(taus):
            return math.inf, None, None
        with np.errstate(over="ignore", invalid="ignore"):
            value = -self._log_likelihood_from(eta_home, eta_away, lam_home, lam_away, taus) + self._penalty(theta)
        if not math.isfinite(value):
            return math.inf, None, None
        tau00, tau01, tau10, tau11 = taus
        i00, i01, i10 = self.i00, self.i01, self.i10
        w = self.weights

        # First derivatives of the log-likelihood per match with respect to its local variables
        # (log λ_home, log λ_away, ρ); the τ terms only touch the four low scores.
        d_home = self.weighted_home_goals - w * lam_home
        d_away = self.weighted_away_goals - w * lam_away
        lam_product = lam_home[i00] * lam_away[i00]
        q00 = rho * lam_product
        p01 = rho * lam_home[i01]
        p10 = rho * lam_away[i10]
        d_home[i00] -= self.w00 * q00 / tau00
        d_away[i00] -= self.w00 * q00 / tau00
        d_home[i01] += self.w01 * p01 / tau01
        d_away[i10] += self.w10 * p10 / tau10
        d_rho_total = (
            -(self.w00 @ (lam_product / tau00))
            + self.w01 @ (lam_home[i01] / tau01)
            + self.w10 @ (lam_away[i10] / tau10)
        )
        if self.w11_total > 0.0:
            d_rho_total -= self.w11_total / tau11

        home_idx, away_idx = self.home_idx, self.away_idx
        gradient = np.empty(p)
        gradient[:n] = -(np.bincount(home_idx, d_home, n) + np.bincount(away_idx, d_away, n))
        gradient[n : 2 * n] = np.bincount(away_idx, d_home, n) + np.bincount(home_idx, d_away, n)
        gradient[2 * n + 1] = -d_home.sum()
        gradient[2 * n] = gradient[2 * n + 1] - d_away.sum()
        gradient[2 * n + 2] = -float(d_rho_total)
        if self.shrinkage:
            gradient[:n] += self.shrinkage * (theta[:n] - self.attack_centre)
            gradient[n : 2 * n] += self.shrinkage * (theta[n : 2 * n] - self.defence_centre)
        if not with_hessian:
            return value, gradient, None

        # Minus the second derivatives per match, in the order (hh, aa, ha, hρ, aρ, ρρ). For the τ terms,
        # e.g. ∂²log(1 − q)/∂η² = −q/τ² and ∂²log(1 + p)/∂η∂ρ = λ/τ².
        curvature = np.zeros((len(w), 6))
        curvature[:, 0] = w * lam_home
        curvature[:, 1] = w * lam_away
        c00 = self.w00 / tau00**2
        curvature[i00, 0] += c00 * q00
        curvature[i00, 1] += c00 * q00
        curvature[i00, 2] += c00 * q00
        curvature[i00, 3] += c00 * lam_product
        curvature[i00, 4] += c00 * lam_product
        curvature[i00, 5] += c00 * lam_product**2
        c01 = self.w01 / tau01**2
        curvature[i01, 0] -= c01 * p01
        curvature[i01, 3] -= c01 * lam_home[i01]
        curvature[i01, 5] += c01 * lam_home[i01] ** 2
        c10 = self.w10 / tau10**2
        curvature[i10, 1] -= c10 * p10
        curvature[i10, 4] -= c10 * lam_away[i10]
        curvature[i10, 5] += c10 * lam_away[i10] ** 2

        slot_hessian = curvature @ _LOCAL_TO_SLOT_HESSIAN
        hessian = np.bincount(self.hessian_flat_index, slot_hessian.ravel(), p * p)
        if self.w11_total > 0.0:
            hessian[p * p - 1] += self.w11_total / tau11**2
        if self.shrinkage:
            hessian[self.team_diagonal] += self.shrinkage
        return value, gradient, hessian.reshape(p, p)


# The sum-to-zero constraints are handled by eliminating the last team's attack and defence:
# θ = Z φ with Z = blockdiag(B, B, I₃), B = [I_{n−1}; −1ᵀ]. These helpers apply Zᵀ and Z without forming Z.


def _reduce_columns(matrix: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate(
        [
            matrix[..., : n - 1] - matrix[..., n - 1 : n],
            matrix[..., n : 2 * n - 1] - matrix[..., 2 * n - 1 : 2 * n],
            matrix[..., 2 * n :],
        ],
        axis=-1,
    )


def _reduce_hessian(hessian: np.ndarray, n: int) -> np.ndarray:
    return _reduce_columns(_reduce_columns(hessian, n).T, n)


def _expand_step(step: np.ndarray, n: int) -> np.ndarray:
    attack, defence, rest = step[: n - 1], step[n - 1 : 2 * n - 2], step[2 * n - 2 :]
    return np.concatenate([attack, [-attack.sum()], defence, [-defence.sum()], rest])


def _solve_positive_definite(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve (H + δI) x = rhs with the smallest δ ∈ {0, 1e-8·scale, ×10 …} making H + δI positive definite
    (Levenberg damping keeps the Newton step a descent direction where the τ terms make H indefinite)."""
    scale = max(float(np.max(np.abs(np.diag(matrix)))), 1e-12)
    damping = 0.0
    identity = np.eye(matrix.shape[0])
    for _ in range(30):
        try:
            factor = scipy.linalg.cho_factor(matrix + damping * identity, check_finite=False)
            return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
        except np.linalg.LinAlgError:
            damping = 1e-8 * scale if damping == 0.0 else damping * 10.0
    # Only a non-finite matrix gets here; a NaN step makes the caller's line search report failure.
    return np.full_like(rhs, np.nan)


# Largest change of any log-scale parameter in one Newton step: a trust-region style cap that keeps a
# nearly flat direction (e.g. a team with almost no data) from throwing the iterate out of float range.
_MAX_STEP = 3.0


def _capped(direction: np.ndarray) -> np.ndarray:
    largest = float(np.max(np.abs(direction)))
    return direction * (_MAX_STEP / largest) if largest > _MAX_STEP else direction


def _predicted_decrease_is_noise(slope: float, value: float) -> bool:
    # Within ~1e-10 of the optimum the objective cannot resolve the Newton decrement any more; the full
    # step is then safe (quadratic convergence region) and a line search would only stall on round-off.
    return -slope <= 1e-10 * max(1.0, abs(value))


@dataclass
class _SolverResult:
    theta: np.ndarray
    converged: bool
    iterations: int
    gradient_max: float
    message: str


# Newton iterations in a row with ρ outside the valid region after which the constrained solver takes
# over. When the region binds, the unconstrained optimum lies outside it (or does not exist at all: with
# only draws in the data the likelihood grows without bound as ρ → −∞), so waiting longer gains nothing.
_OUTSIDE_REGION_PATIENCE = 5


def _newton(
    problem: _WeightedLikelihood,
    theta: np.ndarray,
    gradient_tol: float,
    max_iter: int,
    rho_outside_region: Callable[[np.ndarray], bool] = lambda theta: False,
) -> _SolverResult:
    """Damped Newton on the sum-to-zero subspace (ρ free, only observed τ > 0 enforced).

    Stops early, unconverged, once ρ has stayed outside the valid region for a few iterations.
    """
    n = problem.n_teams
    value, gradient, hessian = problem.derivatives(theta)
    if not math.isfinite(value):
        raise ValueError("the starting point gives an observed score a non-positive probability")
    iterations = 0
    outside_streak = 0
    while True:
        reduced_gradient = _reduce_columns(gradient, n)
        gradient_max = float(np.max(np.abs(reduced_gradient)))
        if gradient_max <= gradient_tol:
            return _SolverResult(theta, True, iterations, gradient_max, "Newton: projected gradient below tolerance")
        if iterations >= max_iter:
            return _SolverResult(
                theta,
                False,
                iterations,
                gradient_max,
                f"Newton: iteration limit max_iter={max_iter} reached with projected gradient "
                f"{gradient_max:.3e} > tolerance {gradient_tol:.3e}",
            )
        outside_streak = outside_streak + 1 if rho_outside_region(theta) else 0
        if outside_streak >= _OUTSIDE_REGION_PATIENCE:
            return _SolverResult(theta, False, iterations, gradient_max, "Newton: rho keeps leaving the valid region")
        direction = _capped(-_expand_step(_solve_positive_definite(_reduce_hessian(hessian, n), reduced_gradient), n))
        step = _line_search(problem.objective, theta, direction, value, float(gradient @ direction), 1.0)
        if step == 0.0:
            return _SolverResult(
                theta,
                False,
                iterations,
                gradient_max,
                f"Newton: line search found no decrease (projected gradient {gradient_max:.3e})",
            )
        theta = theta + step * direction
        iterations += 1
        value, gradient, hessian = problem.derivatives(theta)
        if not math.isfinite(value):
            raise AssertionError("line search accepted a point outside the likelihood's domain")


def _line_search(
    objective, theta: np.ndarray, direction: np.ndarray, value: float, slope: float, max_step: float
) -> float:
    """Backtracking (Armijo) step in (0, max_step], or 0.0 if none decreases the objective."""
    if _predicted_decrease_is_noise(slope, value):
        if math.isfinite(objective(theta + max_step * direction)):
            return max_step
    step = max_step
    while step >= 1e-12:
        candidate_value = objective(theta + step * direction)
        if candidate_value <= value + 1e-4 * step * slope:
            return step
        step *= 0.5
    return 0.0


# ---------------------------------------------------------------------------------------------------
# ρ region over all pairings


def _pairing_log_rates(attack: np.ndarray, defence: np.ndarray, intercept: float, home: float):
    """log λ_home and log λ_away of every ordered pairing (rows home, columns away) of the given teams,
    where the last team is the unseen-team prior and may meet itself (two unseen teams)."""
    log_home = intercept + home + attack[:, None] - defence[None, :]
    log_away = intercept + attack[None, :] - defence[:, None]
    return log_home, log_away


def _pairing_mask(size: int) -> np.ndarray:
    mask = ~np.eye(size, dtype=bool)
    mask[-1, -1] = True
    return mask


def _rho_interval_for(theta: np.ndarray, n: int, prior_attack: float, prior_defence: float) -> tuple[float, float]:
    attack = np.append(theta[:n], prior_attack)
    defence = np.append(theta[n : 2 * n], prior_defence)
    log_home, log_away = _pairing_log_rates(attack, defence, theta[2 * n], theta[2 * n + 1])
    mask = _pairing_mask(n + 1)
    return rho_valid_interval(np.exp(log_home[mask]), np.exp(log_away[mask]))


# A ρ at the region's edge is moved this much (relatively) inside, so that τ ≥ 0 survives round-off in
# the λs recomputed at prediction time.
_BOUNDARY_MARGIN = 1e-12


class _RhoRegionConstraints:
    """The valid-ρ region as linear constraints in (θ without ρ, r) with r = log|ρ| on one side of zero.

    ρ < 0 (side −1): −ρλ ≤ 1 and −ρμ ≤ 1  ⇔  r + log λ_ij ≤ 0 and r + log μ_ij ≤ 0 for every pairing.
    ρ > 0 (side +1): ρλμ ≤ 1 and ρ ≤ 1     ⇔  r + log λ_ij + log μ_ij ≤ 0 and r ≤ 0.
    log λ and log μ are linear in θ, so each constraint is a row of `matrix` (in the reduced coordinates
    of `_reduce_columns`, last coordinate r) plus a constant from the fixed unseen-team prior.
    """

    def __init__(self, n: int, prior_attack: float, prior_defence: float, side: int):
        self.n = n
        self.side = side
        self.prior = (prior_attack, prior_defence)
        self.mask = _pairing_mask(n + 1)
        p = 2 * n + 3
        columns = [self._linear_part(unit, with_prior=False) for unit in np.eye(p)]
        full = np.stack(columns, axis=1)
        full[:, -1] = 1.0  # the r coordinate
        self.matrix = _reduce_columns(full, n)
        zero = np.zeros(p)
        self.constant = self._linear_part(zero, with_prior=True)

    def _linear_part(self, theta: np.ndarray, with_prior: bool) -> np.ndarray:
        n = self.n
        prior_attack, prior_defence = self.prior if with_prior else (0.0, 0.0)
        attack = np.append(theta[:n], prior_attack)
        defence = np.append(theta[n : 2 * n], prior_defence)
        log_home, log_away = _pairing_log_rates(attack, defence, theta[2 * n], theta[2 * n + 1])
        if self.side < 0:
            return np.concatenate([log_home[self.mask], log_away[self.mask]])
        return np.concatenate([(log_home + log_away)[self.mask], [0.0]])

    def values(self, x: np.ndarray) -> np.ndarray:
        """Constraint values (feasible ⇔ all ≤ 0) at reduced coordinates x."""
        return self.matrix @ x + self.constant

    def to_theta(self, x: np.ndarray) -> np.ndarray:
        theta = _expand_step(x, self.n)
        theta[-1] = self.side * math.exp(x[-1])
        return theta

    def to_x(self, theta: np.ndarray) -> np.ndarray:
        n = self.n
        x = np.concatenate([theta[: n - 1], theta[n : 2 * n - 1], theta[2 * n :]])
        x[-1] = math.log(self.side * theta[-1])
        return x


def _constrained_newton(
    problem: _WeightedLikelihood,
    theta: np.ndarray,
    prior_attack: float,
    prior_defence: float,
    gradient_tol: float,
    max_iter: int,
) -> _SolverResult:
    """Primal active-set Newton for the fit with ρ restricted to the valid region of every pairing.

    Starts from a point whose ρ lies outside the region (the unconstrained optimum): ρ keeps its sign and
    the problem is solved in r = log|ρ|, where the region is a set of linear inequalities.
    """
    n = problem.n_teams
    side = -1 if theta[-1] < 0 else 1
    region = _RhoRegionConstraints(n, prior_attack, prior_defence, side)
    x = region.to_x(theta)
    x[-1] = -np.max(region.values(np.append(x[:-1], 0.0)))  # move ρ onto the region's edge
    working: list[int] = [int(np.argmax(region.values(x)))]

    def objective_x(candidate: np.ndarray) -> float:
        return problem.objective(region.to_theta(candidate))

    iterations = 0
    while True:
        theta = region.to_theta(x)
        value, gradient, hessian = problem.derivatives(theta)
        if not math.isfinite(value):
            raise AssertionError("constrained search left the likelihood's domain")
        rho = theta[-1]
        gradient_x = _reduce_columns(gradient, n)
        gradient_x[-1] = gradient[-1] * rho
        hessian_x = _reduce_hessian(hessian, n)
        hessian_x[-1, :-1] *= rho
        hessian_x[:-1, -1] *= rho
        hessian_x[-1, -1] = hessian[-1, -1] * rho**2 + gradient[-1] * rho

        active = region.matrix[working]
        basis = scipy.linalg.null_space(active) if working else np.eye(len(x))
        projected_gradient = basis.T @ gradient_x
        gradient_max = float(np.max(np.abs(projected_gradient)))
        if gradient_max <= gradient_tol:
            multipliers = np.linalg.lstsq(active.T, -gradient_x, rcond=None)[0] if working else np.zeros(0)
            if np.all(multipliers >= -gradient_tol):
                theta = theta.copy()
                theta[-1] *= 1.0 - _BOUNDARY_MARGIN
                message = "active-set Newton: KKT conditions met on the rho region edge"
                return _SolverResult(theta, True, iterations, gradient_max, message)
            del working[int(np.argmin(multipliers))]
            iterations += 1
            continue
        if iterations >= max_iter:
            return _SolverResult(
                theta,
                False,
                iterations,
                gradient_max,
                f"active-set Newton: iteration limit max_iter={max_iter} reached with projected gradient "
                f"{gradient_max:.3e} > tolerance {gradient_tol:.3e}",
            )
        direction = _capped(-basis @ _solve_positive_definite(basis.T @ hessian_x @ basis, projected_gradient))
        growth = region.matrix @ direction
        slack = -region.values(x)
        blocking = np.flatnonzero(growth > 1e-14 * max(1.0, float(np.max(np.abs(direction)))))
        blocking = blocking[~np.isin(blocking, working)]
        max_step, blocker = 1.0, None
        if blocking.size:
            ratios = np.maximum(slack[blocking], 0.0) / growth[blocking]
            first = int(np.argmin(ratios))
            if ratios[first] < 1.0:
                max_step, blocker = float(ratios[first]), int(blocking[first])
        iterations += 1
        step = _line_search(objective_x, x, direction, value, float(gradient_x @ direction), max_step)
        if step > 0.0:
            x = x + step * direction
        if blocker is not None and step in (0.0, max_step):
            # The step reached the blocking constraint, or the constraint is so close that no decrease is
            # measurable before it (a degenerate vertex): either way it joins the working set.
            working.append(blocker)
        elif step == 0.0:
            return _SolverResult(
                theta,
                False,
                iterations,
                gradient_max,
                f"active-set Newton: line search found no decrease (projected gradient {gradient_max:.3e})",
            )


# ---------------------------------------------------------------------------------------------------
# Fitted model


def _read_only(values: Any) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class DixonColesFit:
    """A fitted (or externally specified) Dixon-Coles model; immutable (arrays are read-only).

    `teams` is sorted; `attack[k]` and `defence[k]` belong to `teams[k]`. Teams not in `teams` are
    predicted with (`prior_attack`, `prior_defence`) and flagged. `diagnostics` is None for a model built
    with `from_parameters`. Equality is identity; compare snapshots with `to_dict()`.
    """

    teams: tuple[str, ...]
    attack: np.ndarray
    defence: np.ndarray
    intercept: float
    home_advantage: float
    rho: float
    prior_attack: float = 0.0
    prior_defence: float = 0.0
    config: DixonColesConfig = field(default_factory=DixonColesConfig)
    reference_date: dt.date | None = None
    promoted_teams: tuple[str, ...] = ()
    diagnostics: FitDiagnostics | None = None
    _team_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        teams = tuple(str(team) for team in self.teams)
        if list(teams) != sorted(set(teams)):
            raise ValueError("teams must be unique and sorted")
        attack, defence = _read_only(self.attack), _read_only(self.defence)
        if attack.shape != (len(teams),) or defence.shape != (len(teams),):
            raise ValueError(f"attack and defence need one value per team ({len(teams)})")
        scalars = (self.intercept, self.home_advantage, self.rho, self.prior_attack, self.prior_defence)
        if not (np.all(np.isfinite(attack)) and np.all(np.isfinite(defence)) and all(map(math.isfinite, scalars))):
            raise ValueError("model parameters must be finite")
        object.__setattr__(self, "teams", teams)
        object.__setattr__(self, "attack", attack)
        object.__setattr__(self, "defence", defence)
        for name in ("intercept", "home_advantage", "rho", "prior_attack", "prior_defence"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "promoted_teams", tuple(sorted(set(self.promoted_teams))))
        object.__setattr__(self, "_team_index", {team: k for k, team in enumerate(teams)})

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_parameters(
        cls,
        teams: Sequence[str],
        attack: Sequence[float],
        defence: Sequence[float],
        *,
        intercept: float,
        home_advantage: float,
        rho: float,
        prior_attack: float = 0.0,
        prior_defence: float = 0.0,
        config: DixonColesConfig | None = None,
    ) -> DixonColesFit:
        """Wrap given parameters (in this module's parametrisation) without fitting; teams may be unsorted."""
        order = np.argsort(np.asarray(teams, dtype=str), kind="stable")
        return cls(
            teams=tuple(str(teams[k]) for k in order),
            attack=np.asarray(attack, dtype=np.float64)[order],
            defence=np.asarray(defence, dtype=np.float64)[order],
            intercept=intercept,
            home_advantage=home_advantage,
            rho=rho,
            prior_attack=prior_attack,
            prior_defence=prior_defence,
            config=config or DixonColesConfig(),
        )

    # -- lookups ------------------------------------------------------------------------------------

    @property
    def n_teams(self) -> int:
        return len(self.teams)

    def strengths(self, team: str) -> tuple[float, float, bool]:
        """(attack, defence, is_unseen) of one team."""
        k = self._team_index.get(team)
        if k is None:
            return self.prior_attack, self.prior_defence, True
        return float(self.attack[k]), float(self.defence[k]), False

    def _indices(self, names: np.ndarray) -> np.ndarray:
        """Team positions, with −1 (the prior's slot in `_extended_strengths`) for unseen teams."""
        return np.fromiter((self._team_index.get(name, -1) for name in names), dtype=np.int64, count=len(names))

    def _extended_strengths(self) -> tuple[np.ndarray, np.ndarray]:
        # Index n (= −1 after lookup) holds the unseen-team prior.
        return np.append(self.attack, self.prior_attack), np.append(self.defence, self.prior_defence)

    def _lambdas_from_indices(self, home_index: np.ndarray, away_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        attack, defence = self._extended_strengths()
        log_home = self.intercept + self.home_advantage + attack[home_index] - defence[away_index]
        log_away = self.intercept + attack[away_index] - defence[home_index]
        return np.exp(log_home), np.exp(log_away)

    def _fixture_indices(self, home_teams: Any, away_teams: Any):
        """(home index, away index, home unseen, away unseen) arrays for validated fixtures."""
        home_names = _as_team_array(home_teams, "home_teams")
        away_names = _as_team_array(away_teams, "away_teams")
        if home_names.shape != away_names.shape:
            raise ValueError(f"home_teams and away_teams differ in length ({len(home_names)} vs {len(away_names)})")
        same = home_names == away_names
        if np.any(same):
            raise ValueError(f"a team cannot play itself (index {int(np.flatnonzero(same)[0])}: {home_names[same][0]})")
        home_index, away_index = self._indices(home_names), self._indices(away_names)
        return home_index, away_index, home_index < 0, away_index < 0

    def lambdas(self, home_teams: Sequence[str], away_teams: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Expected goals (λ_home, λ_away) of many fixtures; unseen teams get the prior."""
        home_index, away_index, _, _ = self._fixture_indices(home_teams, away_teams)
        return self._lambdas_from_indices(home_index, away_index)

    # -- prediction ---------------------------------------------------------------------------------

    def predict(self, home_team: str, away_team: str, *, max_goals: int | None = None) -> MatchPrediction:
        """Score-matrix prediction of one fixture.

        Raises `InvalidRhoError` (a ValueError) if ρ is outside the valid region for this fixture, which a
        fit from `fit_dixon_coles` rules out by construction.
        """
        home_index, away_index, home_unseen, away_unseen = self._fixture_indices([home_team], [away_team])
        lam_home, lam_away = self._lambdas_from_indices(home_index, away_index)
        grids, truncated = score_matrices(lam_home, lam_away, self.rho, max_goals or self.config.max_goals)
        flags = tuple(
            flag for flag, raised in ((UNSEEN_HOME_FLAG, home_unseen[0]), (UNSEEN_AWAY_FLAG, away_unseen[0])) if raised
        )
        return match_prediction(
            grids[0],
            truncated[0],
            lam_home[0],
            lam_away[0],
            home_team=home_team,
            away_team=away_team,
            flags=flags,
        )

    def predict_1x2(
        self, home_teams: Sequence[str], away_teams: Sequence[str], *, max_goals: int | None = None
    ) -> np.ndarray:
        """(n, 3) array of P(home win), P(draw), P(away win); same numbers as `predict` fixture by fixture."""
        home_index, away_index, _, _ = self._fixture_indices(home_teams, away_teams)
        lam_home, lam_away = self._lambdas_from_indices(home_index, away_index)
        goals = max_goals or self.config.max_goals
        out = np.empty((len(lam_home), 3))
        for start in range(0, len(lam_home), _PREDICTION_CHUNK):
            stop = start + _PREDICTION_CHUNK
            grids, _ = score_matrices(lam_home[start:stop], lam_away[start:stop], self.rho, goals)
            out[start:stop] = outcome_probabilities(grids)
        return out

    def log_likelihood(
        self,
        home_teams: Sequence[str],
        away_teams: Sequence[str],
        home_goals: Sequence[int],
        away_goals: Sequence[int],
        weights: Sequence[float] | None = None,
    ) -> float:
        """Σ w log P(score) of the given matches under this model (untruncated Dixon-Coles probabilities).

        −inf if some observed score has τ ≤ 0. This is the likelihood the fit maximises (before the penalty).
        """
        home_index, away_index, _, _ = self._fixture_indices(home_teams, away_teams)
        home = _as_goal_array(home_goals, "home_goals")
        away = _as_goal_array(away_goals, "away_goals")
        w = np.ones(len(home)) if weights is None else np.asarray(weights, dtype=np.float64)
        if not (len(home) == len(away) == len(w) == len(home_index)):
            raise ValueError("teams, goals and weights must have the same length")
        size = self.n_teams + 1
        home_index = np.where(home_index < 0, size - 1, home_index)
        away_index = np.where(away_index < 0, size - 1, away_index)
        attack, defence = self._extended_strengths()
        problem = _WeightedLikelihood(
            home_index, away_index, home, away, w, size, 0.0, np.zeros(size), np.zeros(size)
        )
        theta = np.concatenate([attack, defence, [self.intercept, self.home_advantage, self.rho]])
        return problem.log_likelihood(theta)

    def rho_interval(self) -> tuple[float, float]:
        """Valid ρ region over every pairing of the fitted teams and the unseen-team prior."""
        theta = np.concatenate([self.attack, self.defence, [self.intercept, self.home_advantage, self.rho]])
        return _rho_interval_for(theta, self.n_teams, self.prior_attack, self.prior_defence)

    # -- explanation --------------------------------------------------------------------------------

    def lambda_decomposition(self, home_team: str, away_team: str) -> dict[str, Any]:
        """Additive terms of log λ_home and log λ_away for one fixture, and each term's effect in goals.

        A term's `goals_effect` is λ − λ·exp(−term): how many expected goals it adds compared with the same
        fixture without that term. The dict is plain JSON (floats, strings, lists).
        """
        self._fixture_indices([home_team], [away_team])
        home_attack, home_defence, home_unseen = self.strengths(home_team)
        away_attack, away_defence, away_unseen = self.strengths(away_team)
        home_terms = [
            ("intercept", self.intercept),
            ("home_advantage", self.home_advantage),
            ("home_attack", home_attack),
            ("away_defence", -away_defence),
        ]
        away_terms = [
            ("intercept", self.intercept),
            ("away_attack", away_attack),
            ("home_defence", -home_defence),
        ]

        def side(terms: list[tuple[str, float]]) -> dict[str, Any]:
            log_lambda = math.fsum(value for _, value in terms)
            lam = math.exp(log_lambda)
            return {
                "log_lambda": log_lambda,
                "lambda": lam,
                "terms": [
                    {
                        "name": name,
                        "log_value": value,
                        "lambda_without": lam * math.exp(-value),
                        "goals_effect": lam - lam * math.exp(-value),
                    }
                    for name, value in terms
                ],
            }

        flags = [flag for flag, raised in ((UNSEEN_HOME_FLAG, home_unseen), (UNSEEN_AWAY_FLAG, away_unseen)) if raised]
        return {
            "home_team": home_team,
            "away_team": away_team,
            "parametrisation": "log λ_home = intercept + home_advantage + attack[home] − defence[away]; "
            "log λ_away = intercept + attack[away] − defence[home]",
            "home": side(home_terms),
            "away": side(away_terms),
            "lambda_home": math.exp(math.fsum(v for _, v in home_terms)),
            "lambda_away": math.exp(math.fsum(v for _, v in away_terms)),
            "rho": self.rho,
            "flags": flags,
        }

    # -- serialisation ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON snapshot; `from_dict(to_dict())` reproduces every number exactly."""
        return {
            "format": SERIALISATION_FORMAT,
            "teams": list(self.teams),
            "attack": [float(v) for v in self.attack],
            "defence": [float(v) for v in self.defence],
            "intercept": self.intercept,
            "home_advantage": self.home_advantage,
            "rho": self.rho,
            "prior_attack": self.prior_attack,
            "prior_defence": self.prior_defence,
            "config": dataclasses.asdict(self.config),
            "reference_date": None if self.reference_date is None else self.reference_date.isoformat(),
            "promoted_teams": list(self.promoted_teams),
            "diagnostics": None if self.diagnostics is None else self.diagnostics.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DixonColesFit:
        if data.get("format") != SERIALISATION_FORMAT:
            raise ValueError(
                f"not a Dixon-Coles fit snapshot (format {data.get('format')!r}, expected {SERIALISATION_FORMAT!r})"
            )
        return cls(
            teams=tuple(data["teams"]),
            attack=np.array(data["attack"], dtype=np.float64),
            defence=np.array(data["defence"], dtype=np.float64),
            intercept=data["intercept"],
            home_advantage=data["home_advantage"],
            rho=data["rho"],
            prior_attack=data["prior_attack"],
            prior_defence=data["prior_defence"],
            config=DixonColesConfig(**data["config"]),
            reference_date=None if data["reference_date"] is None else dt.date.fromisoformat(data["reference_date"]),
            promoted_teams=tuple(data["promoted_teams"]),
            diagnostics=None if data["diagnostics"] is None else FitDiagnostics.from_dict(data["diagnostics"]),
        )


# ---------------------------------------------------------------------------------------------------
# Fitting


def _cold_start(weights: np.ndarray, home_goals: np.ndarray, away_goals: np.ndarray, n: int) -> np.ndarray:
    """All teams average, intercept and home advantage matching the weighted mean scores, ρ = 0."""
    theta = np.zeros(2 * n + 3)
    total_weight = weights.sum()
    mean_home = max(float(weights @ home_goals) / total_weight, 0.05)
    mean_away = max(float(weights @ away_goals) / total_weight, 0.05)
    theta[2 * n] = math.log(mean_away)
    theta[2 * n + 1] = math.log(mean_home / mean_away)
    return theta


def _warm_start(
    init: DixonColesFit, teams: np.ndarray, attack_centre: np.ndarray, defence_centre: np.ndarray
) -> np.ndarray:
    """Strengths carried over from `init` by team name; new teams start at their prior centre.

    The shift that restores Σ = 0 is folded into the intercept, so fixtures between carried-over teams
    keep their λs exactly.
    """
    n = len(teams)
    attack = attack_centre.copy()
    defence = defence_centre.copy()
    for k, team in enumerate(teams):
        index = init._team_index.get(str(team))
        if index is not None:
            attack[k], defence[k] = init.attack[index], init.defence[index]
    attack_shift, defence_shift = attack.mean(), defence.mean()
    theta = np.empty(2 * n + 3)
    theta[:n] = attack - attack_shift
    theta[n : 2 * n] = defence - defence_shift
    theta[2 * n] = init.intercept + attack_shift - defence_shift
    theta[2 * n + 1] = init.home_advantage
    theta[2 * n + 2] = init.rho
    return theta


# |log-strength| beyond this (a factor e^10 ≈ 22,000 in goals) only arises when an estimate runs off to
# infinity on data that do not determine it.
_DIVERGENCE_LIMIT = 10.0


def _require_finite_optimum(
    teams: np.ndarray,
    home_idx: np.ndarray,
    away_idx: np.ndarray,
    home_goals: np.ndarray,
    away_goals: np.ndarray,
    shrinkage: float,
) -> None:
    """Reject data whose likelihood has no maximum (an estimate would run off to ±infinity)."""
    if home_goals.sum() == 0 or away_goals.sum() == 0:
        side = "home" if home_goals.sum() == 0 else "away"
        raise ValueError(
            f"no {side} team scored in any match: the intercept/home advantage has no finite estimate"
        )
    if shrinkage > 0:
        return
    n = len(teams)
    scored = np.bincount(home_idx, home_goals, n) + np.bincount(away_idx, away_goals, n)
    conceded = np.bincount(home_idx, away_goals, n) + np.bincount(away_idx, home_goals, n)
    blank = [str(teams[k]) for k in np.flatnonzero((scored == 0) | (conceded == 0))]
    if blank:
        raise ValueError(
            f"with shrinkage=0 the maximum-likelihood strengths do not exist: {', '.join(blank[:5])} "
            f"{'has' if len(blank) == 1 else 'have'} scored or conceded no goals; use shrinkage > 0"
        )


def fit_dixon_coles(
    home_teams: Sequence[str],
    away_teams: Sequence[str],
    home_goals: Sequence[int],
    away_goals: Sequence[int],
    match_dates: Sequence[Any],
    *,
    reference_date: Any = None,
    config: DixonColesConfig = DixonColesConfig(),
    init: DixonColesFit | None = None,
    promoted_teams: Iterable[str] = (),
    promoted_priors: Mapping[str, tuple[float, float]] | None = None,
    poisson_targets: tuple[Sequence[float], Sequence[float]] | None = None,
    prior_centres: Mapping[str, tuple[float, float]] | None = None,
) -> DixonColesFit:
    """Fit Dixon-Coles strengths to played matches (see the module docstring for model and objective).

    match_dates: anything NumPy reads as dates (datetime64, `datetime.date`, ISO strings, a pandas
    Series). reference_date: the date predictions are made for; defaults to the day after the last
    match, and every match must be strictly earlier. init: a previous fit to warm-start from (teams
    matched by name). promoted_teams: teams shrunk towards the promoted-team prior instead of the
    league mean. promoted_priors: (attack, defence) centres of some promoted teams (e.g. from the lower
    division's fit), replacing the config's prior for them. poisson_targets: (home, away) non-negative
    numbers the Poisson part of the likelihood is fitted to instead of the goals (τ still uses the goals).
    prior_centres: (attack, defence) shrinkage centres of teams not in `promoted_teams` (e.g. their
    strengths before the season), replacing the league mean 0 for those of them in the data.

    Raises ValueError on empty or inconsistent inputs, negative goals or matches not before the reference
    date, and `FitDidNotConverge` if the optimiser does not reach the optimum.
    """
    home = _as_team_array(home_teams, "home_teams")
    away = _as_team_array(away_teams, "away_teams")
    goals_home = _as_goal_array(home_goals, "home_goals")
    goals_away = _as_goal_array(away_goals, "away_goals")
    days = _as_day_array(match_dates, "match_dates")
    lengths = {len(home), len(away), len(goals_home), len(goals_away), len(days)}
    if len(lengths) != 1:
        raise ValueError(
            "home_teams, away_teams, home_goals, away_goals and match_dates must have the same length, got "
            f"{len(home)}, {len(away)}, {len(goals_home)}, {len(goals_away)}, {len(days)}"
        )
    if len(home) == 0:
        raise ValueError("no matches to fit")
    if np.any(home == away):
        raise ValueError(f"a team cannot play itself (match index {int(np.flatnonzero(home == away)[0])})")

    reference = days.max() + np.timedelta64(1, "D") if reference_date is None else _as_day(reference_date)
    _reject_matches_not_before(days, reference, lambda k: f", {home[k]} v {away[k]}")
    weights = np.exp(-config.xi * (reference - days).astype(np.float64))

    teams, team_index = np.unique(np.concatenate([home, away]), return_inverse=True)
    n = len(teams)
    home_idx, away_idx = team_index[: len(home)], team_index[len(home) :]
    promoted = sorted({str(team) for team in promoted_teams})
    is_promoted = np.isin(teams, promoted)
    attack_centre = np.where(is_promoted, config.prior_attack, 0.0)
    defence_centre = np.where(is_promoted, config.prior_defence, 0.0)
    # own centres: established teams from prior_centres, promoted ones from promoted_priors
    for centres, promoted_side in ((prior_centres, False), (promoted_priors, True)):
        for team, (attack_prior, defence_prior) in (centres or {}).items():
            position = int(np.searchsorted(teams, team))
            if position < n and teams[position] == team and is_promoted[position] == promoted_side:
                attack_centre[position], defence_centre[position] = float(attack_prior), float(defence_prior)

    targets_home = targets_away = None
    if poisson_targets is not None:
        targets_home = _as_target_array(poisson_targets[0], len(home), "poisson_targets[0]")
        targets_away = _as_target_array(poisson_targets[1], len(home), "poisson_targets[1]")
    _require_finite_optimum(teams, home_idx, away_idx, goals_home, goals_away, config.shrinkage)
    problem = _WeightedLikelihood(
        home_idx, away_idx, goals_home, goals_away, weights, n, config.shrinkage, attack_centre, defence_centre,
        targets_home, targets_away,
    )
    if init is None:
        theta = _cold_start(weights, goals_home, goals_away, n)
    else:
        theta = _warm_start(init, teams, attack_centre, defence_centre)
        if not math.isfinite(problem.objective(theta)):
            theta[-1] = 0.0  # the old ρ gives a new observed low score τ ≤ 0; ρ = 0 makes every τ = 1
    total_weight = float(weights.sum())
    gradient_tol = config.tol * max(1.0, total_weight)

    def rho_outside_region(theta: np.ndarray) -> bool:
        lower, upper = _rho_interval_for(theta, n, config.prior_attack, config.prior_defence)
        return not (lower <= theta[-1] <= upper)

    result = _newton(problem, theta, gradient_tol, config.max_iter, rho_outside_region)
    solver = "newton"
    rho_at_bound = rho_outside_region(result.theta)
    if rho_at_bound:
        newton_iterations = result.iterations
        result = _constrained_newton(
            problem, result.theta, config.prior_attack, config.prior_defence, gradient_tol, config.max_iter
        )
        result.iterations += newton_iterations
        solver = "newton+active_set"
    lower, upper = _rho_interval_for(result.theta, n, config.prior_attack, config.prior_defence)
    if not result.converged:
        raise FitDidNotConverge(
            f"Dixon-Coles fit did not converge after {result.iterations} iterations ({len(home)} matches, "
            f"{n} teams): {result.message}",
            iterations=result.iterations,
            gradient_max=result.gradient_max,
        )

    theta = result.theta
    strongest = float(np.max(np.abs(theta[: 2 * n])))
    if strongest > _DIVERGENCE_LIMIT:
        raise FitDidNotConverge(
            f"Dixon-Coles fit diverged: a team strength reached {strongest:.3g} on the log scale, so the "
            "maximum-likelihood estimate does not exist for these data; use shrinkage > 0",
            iterations=result.iterations,
            gradient_max=result.gradient_max,
        )
    log_likelihood = problem.log_likelihood(theta)
    diagnostics = FitDiagnostics(
        converged=True,
        iterations=result.iterations,
        log_likelihood=log_likelihood,
        penalised_log_likelihood=-problem.objective(theta),
        n_matches=len(home),
        n_teams=n,
        effective_weight=total_weight,
        effective_sample_size=total_weight**2 / float(weights @ weights),
        gradient_max=result.gradient_max,
        rho_interval=(lower, upper),
        rho_at_bound=rho_at_bound,
        solver=solver,
        message=result.message,
    )
    return DixonColesFit(
        teams=tuple(str(team) for team in teams),
        attack=theta[:n],
        defence=theta[n : 2 * n],
        intercept=theta[2 * n],
        home_advantage=theta[2 * n + 1],
        rho=theta[2 * n + 2],
        prior_attack=config.prior_attack,
        prior_defence=config.prior_defence,
        config=config,
        reference_date=dt.date.fromisoformat(str(reference)),
        promoted_teams=tuple(promoted),
        diagnostics=diagnostics,
    )
