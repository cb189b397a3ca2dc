"""The Dixon-Coles likelihood and its maximisation: the penalised weighted likelihood with its analytic
gradient and Hessian, damped Newton on the sum-to-zero subspace, and the active-set Newton that keeps ρ in
the valid region of every pairing (see :mod:`jackpot_pipeline.model.dixon_coles` for the model)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.special import gammaln

from jackpot_pipeline.model.scores import rho_valid_interval

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


class WeightedLikelihood:
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


def reduce_columns(matrix: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate(
        [
            matrix[..., : n - 1] - matrix[..., n - 1 : n],
            matrix[..., n : 2 * n - 1] - matrix[..., 2 * n - 1 : 2 * n],
            matrix[..., 2 * n :],
        ],
        axis=-1,
    )


def _reduce_hessian(hessian: np.ndarray, n: int) -> np.ndarray:
    return reduce_columns(reduce_columns(hessian, n).T, n)


def expand_step(step: np.ndarray, n: int) -> np.ndarray:
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


def _iteration_limit(
    solver: str, theta: np.ndarray, iterations: int, gradient_max: float, max_iter: int, gradient_tol: float
) -> _SolverResult:
    return _SolverResult(
        theta,
        False,
        iterations,
        gradient_max,
        f"{solver}: iteration limit max_iter={max_iter} reached with projected gradient "
        f"{gradient_max:.3e} > tolerance {gradient_tol:.3e}",
    )


# Newton iterations in a row with ρ outside the valid region after which the constrained solver takes
# over. When the region binds, the unconstrained optimum lies outside it (or does not exist at all: with
# only draws in the data the likelihood grows without bound as ρ → −∞), so waiting longer gains nothing.
_OUTSIDE_REGION_PATIENCE = 5


def newton(
    problem: WeightedLikelihood,
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
        reduced_gradient = reduce_columns(gradient, n)
        gradient_max = float(np.max(np.abs(reduced_gradient)))
        if gradient_max <= gradient_tol:
            return _SolverResult(theta, True, iterations, gradient_max, "Newton: projected gradient below tolerance")
        if iterations >= max_iter:
            return _iteration_limit("Newton", theta, iterations, gradient_max, max_iter, gradient_tol)
        outside_streak = outside_streak + 1 if rho_outside_region(theta) else 0
        if outside_streak >= _OUTSIDE_REGION_PATIENCE:
            return _SolverResult(theta, False, iterations, gradient_max, "Newton: rho keeps leaving the valid region")
        direction = _capped(-expand_step(_solve_positive_definite(_reduce_hessian(hessian, n), reduced_gradient), n))
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


def pairing_log_rates(attack: np.ndarray, defence: np.ndarray, intercept: float, home: float):
    """log λ_home and log λ_away of every ordered pairing (rows home, columns away) of the given teams,
    where the last team is the unseen-team prior and may meet itself (two unseen teams)."""
    log_home = intercept + home + attack[:, None] - defence[None, :]
    log_away = intercept + attack[None, :] - defence[:, None]
    return log_home, log_away


def pairing_mask(size: int) -> np.ndarray:
    mask = ~np.eye(size, dtype=bool)
    mask[-1, -1] = True
    return mask


def rho_interval_for(theta: np.ndarray, n: int, prior_attack: float, prior_defence: float) -> tuple[float, float]:
    attack = np.append(theta[:n], prior_attack)
    defence = np.append(theta[n : 2 * n], prior_defence)
    log_home, log_away = pairing_log_rates(attack, defence, theta[2 * n], theta[2 * n + 1])
    mask = pairing_mask(n + 1)
    return rho_valid_interval(np.exp(log_home[mask]), np.exp(log_away[mask]))


# A ρ at the region's edge is moved this much (relatively) inside, so that τ ≥ 0 survives round-off in
# the λs recomputed at prediction time.
_BOUNDARY_MARGIN = 1e-12


class _RhoRegionConstraints:
    """The valid-ρ region as linear constraints in (θ without ρ, r) with r = log|ρ| on one side of zero.

    ρ < 0 (side −1): −ρλ ≤ 1 and −ρμ ≤ 1  ⇔  r + log λ_ij ≤ 0 and r + log μ_ij ≤ 0 for every pairing.
    ρ > 0 (side +1): ρλμ ≤ 1 and ρ ≤ 1     ⇔  r + log λ_ij + log μ_ij ≤ 0 and r ≤ 0.
    log λ and log μ are linear in θ, so each constraint is a row of `matrix` (in the reduced coordinates
    of `reduce_columns`, last coordinate r) plus a constant from the fixed unseen-team prior.
    """

    def __init__(self, n: int, prior_attack: float, prior_defence: float, side: int):
        self.n = n
        self.side = side
        self.prior = (prior_attack, prior_defence)
        self.mask = pairing_mask(n + 1)
        p = 2 * n + 3
        columns = [self._linear_part(unit, with_prior=False) for unit in np.eye(p)]
        full = np.stack(columns, axis=1)
        full[:, -1] = 1.0  # the r coordinate
        self.matrix = reduce_columns(full, n)
        zero = np.zeros(p)
        self.constant = self._linear_part(zero, with_prior=True)

    def _linear_part(self, theta: np.ndarray, with_prior: bool) -> np.ndarray:
        n = self.n
        prior_attack, prior_defence = self.prior if with_prior else (0.0, 0.0)
        attack = np.append(theta[:n], prior_attack)
        defence = np.append(theta[n : 2 * n], prior_defence)
        log_home, log_away = pairing_log_rates(attack, defence, theta[2 * n], theta[2 * n + 1])
        if self.side < 0:
            return np.concatenate([log_home[self.mask], log_away[self.mask]])
        return np.concatenate([(log_home + log_away)[self.mask], [0.0]])

    def values(self, x: np.ndarray) -> np.ndarray:
        """Constraint values (feasible ⇔ all ≤ 0) at reduced coordinates x."""
        return self.matrix @ x + self.constant

    def to_theta(self, x: np.ndarray) -> np.ndarray:
        theta = expand_step(x, self.n)
        theta[-1] = self.side * math.exp(x[-1])
        return theta

    def to_x(self, theta: np.ndarray) -> np.ndarray:
        n = self.n
        x = np.concatenate([theta[: n - 1], theta[n : 2 * n - 1], theta[2 * n :]])
        x[-1] = math.log(self.side * theta[-1])
        return x


def constrained_newton(
    problem: WeightedLikelihood,
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

    # max_iter bounds the Newton steps. Working-set changes that move nothing (a constraint dropped, or one
    # added at a zero-length step) are counted in `iterations` too but bounded apart: where many pairings'
    # constraints meet at one point (teams with identical strengths) they can take dozens of them.
    iterations = pivots = 0
    max_pivots = max_iter + len(region.matrix)
    while True:
        theta = region.to_theta(x)
        value, gradient, hessian = problem.derivatives(theta)
        if not math.isfinite(value):
            raise AssertionError("constrained search left the likelihood's domain")
        rho = theta[-1]
        gradient_x = reduce_columns(gradient, n)
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
            pivots += 1
            continue
        if iterations - pivots >= max_iter:
            return _iteration_limit("active-set Newton", theta, iterations, gradient_max, max_iter, gradient_tol)
        if pivots >= max_pivots:
            return _SolverResult(theta, False, iterations, gradient_max,
                                 f"active-set Newton: {pivots} working-set changes without reaching the optimum "
                                 f"(projected gradient {gradient_max:.3e} > tolerance {gradient_tol:.3e})")
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
            pivots += step == 0.0
        elif step == 0.0:
            return _SolverResult(
                theta,
                False,
                iterations,
                gradient_max,
                f"active-set Newton: line search found no decrease (projected gradient {gradient_max:.3e})",
            )
