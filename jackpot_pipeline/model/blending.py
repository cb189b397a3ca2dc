"""Combining the model's and the market's 1X2 probabilities.

The market is a *capped* signal: whatever a caller asks for, the market's share of a
blend never exceeds ``MAX_MARKET_WEIGHT`` (0.7), and every clip is reported, never
silent. Two pools:

* :func:`linear_pool`: p = w * model + (1 - w) * market, with w the model weight;
* :func:`log_linear_pool` / :class:`StackedPool`: p proportional to
  model^a * market^b, where the market share is b / (a + b). ``StackedPool`` fits a and b
  by minimising log loss on data the caller passes (earlier matches only).

Both operate on (n, 3) arrays ordered (home, draw, away). Rows whose market
probabilities are NaN come out NaN from the pools (the fallback to the model is a
policy decision taken in :mod:`jackpot_pipeline.model.probability_sets`);
``StackedPool.predict`` is the exception and returns the model row unchanged there,
because Set G is defined to equal Set A where no odds exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from jackpot_pipeline.model.outcome_arrays import as_outcome_array
from jackpot_pipeline.model.softmax import row_logsumexp

__all__ = [
    "MAX_MARKET_WEIGHT",
    "BlendResult",
    "linear_pool",
    "log_linear_pool",
    "StackedPool",
]

MAX_MARKET_WEIGHT: Final = 0.7
"""The largest share the market may take in any blend (the product's promise)."""

_LOG_FLOOR: Final = 1e-15
"""Probabilities are floored here before taking logs so that 0 * log(0) cannot appear."""


def _check_weight(value: float, name: str) -> float:
    weight = float(value)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got {value!r}")
    return weight


def _resolve_cap(max_market_weight: float | None) -> float:
    return _check_weight(MAX_MARKET_WEIGHT if max_market_weight is None else max_market_weight, "max_market_weight")


@dataclass(frozen=True)
class BlendResult:
    """A linear pool and the weights behind it.

    ``requested_model_weight`` is what the caller asked for; ``applied_model_weight`` is
    what was used after capping the market weight; ``clipped`` says they differ.
    """

    probs: NDArray[np.float64]
    requested_model_weight: float
    applied_model_weight: float
    max_market_weight: float

    @property
    def requested_market_weight(self) -> float:
        return 1.0 - self.requested_model_weight

    @property
    def applied_market_weight(self) -> float:
        return 1.0 - self.applied_model_weight

    @property
    def clipped(self) -> bool:
        return self.applied_model_weight != self.requested_model_weight

    def weights_dict(self) -> dict[str, float | bool]:
        return {
            "requested_model_weight": self.requested_model_weight,
            "requested_market_weight": self.requested_market_weight,
            "applied_model_weight": self.applied_model_weight,
            "applied_market_weight": self.applied_market_weight,
            "max_market_weight": self.max_market_weight,
            "market_weight_clipped": self.clipped,
        }


def linear_pool(
    model_probs: ArrayLike,
    market_probs: ArrayLike,
    *,
    model_weight: float,
    max_market_weight: float | None = None,
) -> BlendResult:
    """p = w * model + (1 - w) * market with the market weight 1 - w capped.

    ``max_market_weight`` defaults to :data:`MAX_MARKET_WEIGHT`. When 1 - w exceeds the
    cap, w is raised to 1 - cap and the result reports ``clipped=True``. Rows with NaN
    market probabilities give NaN rows.
    """
    model = as_outcome_array(model_probs, "model_probs", single_row=True)
    market = as_outcome_array(market_probs, "market_probs", single_row=True)
    if model.shape != market.shape:
        raise ValueError(f"model and market shapes differ: {model.shape} vs {market.shape}")
    requested = _check_weight(model_weight, "model_weight")
    cap = _resolve_cap(max_market_weight)
    applied = max(requested, 1.0 - cap)
    probs = applied * model + (1.0 - applied) * market
    return BlendResult(probs, requested, applied, cap)


def log_linear_pool(
    model_probs: ArrayLike, market_probs: ArrayLike, *, model_exponent: float, market_exponent: float
) -> NDArray[np.float64]:
    """p proportional to model^a * market^b, normalised per row (NaN market rows give NaN).

    Computed in log space with a log-sum-exp normaliser; probabilities are floored at
    1e-15 before the log.
    """
    model = as_outcome_array(model_probs, "model_probs", single_row=True)
    market = as_outcome_array(market_probs, "market_probs", single_row=True)
    if model.shape != market.shape:
        raise ValueError(f"model and market shapes differ: {model.shape} vs {market.shape}")
    if model_exponent < 0 or market_exponent < 0:
        raise ValueError("log-linear pool exponents must be non-negative")
    log_score = model_exponent * _log(model) + market_exponent * _log(market)
    return np.exp(log_score - row_logsumexp(log_score)[:, np.newaxis])


def _log(probs: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.log(np.maximum(probs, _LOG_FLOOR))


def _stacked_loss_and_gradient(
    exponents: NDArray[np.float64],
    log_model: NDArray[np.float64],
    log_market: NDArray[np.float64],
    observed: NDArray[np.int64],
) -> tuple[float, NDArray[np.float64]]:
    """Mean log loss of the log-linear pool with exponents (a, b) and its gradient."""
    a, b = exponents
    rows = np.arange(observed.shape[0])
    log_score = a * log_model + b * log_market
    log_normaliser = row_logsumexp(log_score)
    pooled = np.exp(log_score - log_normaliser[:, np.newaxis])
    loss = float(np.mean(log_normaliser - log_score[rows, observed]))
    gradient_a = np.mean((pooled * log_model).sum(axis=1) - log_model[rows, observed])
    gradient_b = np.mean((pooled * log_market).sum(axis=1) - log_market[rows, observed])
    return loss, np.array([gradient_a, gradient_b])


class StackedPool:
    """Log-linear pool p proportional to model^a * market^b, fitted by log loss.

    Parameters
    ----------
    max_market_weight:
        Cap on the market share b / (a + b); None means :data:`MAX_MARKET_WEIGHT` at fit time.

    Fitted attributes
    -----------------
    model_exponent_, market_exponent_ : the exponents a, b (both >= 0; their sum also acts
        as an inverse temperature, so the pool can sharpen or flatten).
    requested_market_share_ : b / (a + b) of the unconstrained optimum.
    market_share_ : b / (a + b) as applied (at most the cap).
    clipped_ : whether the cap was binding.
    n_fit_rows_ : rows used (rows without market probabilities are skipped).
    training_log_loss_ : mean log loss on those rows (None for a pool built by
        :meth:`from_exponents`).

    The objective is the multinomial log-likelihood of a log-linear model in (a, b), which
    is convex, and the cap b <= cap / (1 - cap) * a is a linear constraint. So when the
    unconstrained optimum breaks the cap the constrained optimum lies on the boundary, and
    a one-dimensional fit of the total t with a = t (1 - cap), b = t cap finds it exactly.
    """

    def __init__(self, max_market_weight: float | None = None, free: bool = False) -> None:
        self.max_market_weight = max_market_weight
        self.free = free

    def fit(self, model_probs: ArrayLike, market_probs: ArrayLike, outcomes: ArrayLike) -> StackedPool:
        """Fit on earlier matches. With ``free=True`` the exponents may take any sign and two outcome biases
        (draw, away; home is 0) are fitted too: p ∝ exp(a·ln model + b·ln market + bias), with no cap on the
        market's share (the pool may sharpen the market and lean against the model)."""
        model = as_outcome_array(model_probs, "model_probs", single_row=True)
        market = as_outcome_array(market_probs, "market_probs", single_row=True)
        observed = np.asarray(outcomes, dtype=np.int64)
        if model.shape != market.shape or observed.shape != (model.shape[0],):
            raise ValueError(
                f"shapes do not match: model {model.shape}, market {market.shape}, outcomes {observed.shape}"
            )
        if observed.size and (observed.min() < 0 or observed.max() > 2):
            raise ValueError("outcomes must be 0 (home), 1 (draw) or 2 (away)")
        cap = _resolve_cap(self.max_market_weight)
        usable = np.isfinite(market).all(axis=1) & np.isfinite(model).all(axis=1)
        if not usable.any():
            raise ValueError("StackedPool.fit needs at least one row with both model and market probabilities")
        log_model, log_market = _log(model[usable]), _log(market[usable])
        observed = observed[usable]
        if self.free:
            return self._fit_free(log_model, log_market, observed)

        def loss_and_gradient(exponents: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            return _stacked_loss_and_gradient(exponents, log_model, log_market, observed)

        options = {"gtol": 1e-10, "ftol": 1e-15, "maxiter": 1000}
        # Two parameters: BLAS threads inside L-BFGS-B would only add overhead.
        with threadpool_limits(limits=1, user_api="blas"):
            unconstrained = minimize(
                loss_and_gradient, np.array([0.5, 0.5]), jac=True, method="L-BFGS-B",
                bounds=[(0.0, None), (0.0, None)], options=options,
            )
        a, b = (float(value) for value in unconstrained.x)
        requested_share = b / (a + b) if a + b > 0 else 0.0
        clipped = requested_share > cap
        if clipped:

            def boundary_loss(total: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
                loss, gradient = loss_and_gradient(np.array([total[0] * (1.0 - cap), total[0] * cap]))
                return loss, np.array([gradient[0] * (1.0 - cap) + gradient[1] * cap])

            with threadpool_limits(limits=1, user_api="blas"):
                boundary = minimize(
                    boundary_loss, np.array([a + b]), jac=True, method="L-BFGS-B",
                    bounds=[(0.0, None)], options=options,
                )
            total = float(boundary.x[0])
            a, b = total * (1.0 - cap), total * cap
        self.model_exponent_ = a
        self.market_exponent_ = b
        self.outcome_bias_ = np.zeros(3)
        self.requested_market_share_ = requested_share
        self.market_share_ = b / (a + b) if a + b > 0 else 0.0
        self.max_market_weight_ = cap
        self.clipped_ = bool(clipped)
        self.n_fit_rows_ = int(observed.shape[0])
        self.training_log_loss_: float | None = loss_and_gradient(np.array([a, b]))[0]
        return self

    def _fit_free(self, log_model, log_market, observed) -> StackedPool:
        rows = np.arange(observed.shape[0])
        onehot = np.eye(3)[observed]

        def loss_and_gradient(params: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            a, b, draw, away = params
            log_score = a * log_model + b * log_market + np.array([0.0, draw, away])
            log_normaliser = row_logsumexp(log_score)
            pooled = np.exp(log_score - log_normaliser[:, np.newaxis])
            residual = pooled - onehot
            loss = float(np.mean(log_normaliser - log_score[rows, observed]))
            gradient = np.array([
                np.mean((residual * log_model).sum(axis=1)), np.mean((residual * log_market).sum(axis=1)),
                np.mean(residual[:, 1]), np.mean(residual[:, 2]),
            ])
            return loss, gradient

        with threadpool_limits(limits=1, user_api="blas"):
            result = minimize(loss_and_gradient, np.array([0.5, 0.5, 0.0, 0.0]), jac=True, method="L-BFGS-B",
                              options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 1000})
        a, b, draw, away = (float(value) for value in result.x)
        self.model_exponent_ = a
        self.market_exponent_ = b
        self.outcome_bias_ = np.array([0.0, draw, away])
        self.requested_market_share_ = self.market_share_ = b / (a + b) if a + b != 0 else 0.0
        self.max_market_weight_ = None
        self.clipped_ = False
        self.n_fit_rows_ = int(observed.shape[0])
        self.training_log_loss_ = loss_and_gradient(result.x)[0]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_exponent_"):
            raise NotFittedError("StackedPool is not fitted yet; call fit() or StackedPool.from_dict()")

    def predict(self, model_probs: ArrayLike, market_probs: ArrayLike) -> NDArray[np.float64]:
        """Pooled probabilities; rows without market probabilities return the model row as is."""
        self._check_fitted()
        model = as_outcome_array(model_probs, "model_probs", single_row=True)
        market = as_outcome_array(market_probs, "market_probs", single_row=True)
        if model.shape != market.shape:
            raise ValueError(f"model and market shapes differ: {model.shape} vs {market.shape}")
        has_market = np.isfinite(market).all(axis=1)
        filled = np.where(has_market[:, np.newaxis], market, 1.0 / 3.0)
        if self.free:
            log_score = (self.model_exponent_ * _log(model) + self.market_exponent_ * _log(filled)
                         + self.outcome_bias_[np.newaxis, :])
            pooled = np.exp(log_score - row_logsumexp(log_score)[:, np.newaxis])
        else:
            pooled = log_linear_pool(
                model, filled, model_exponent=self.model_exponent_, market_exponent=self.market_exponent_,
            )
        return np.where(has_market[:, np.newaxis], pooled, model)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe parameters; :meth:`from_dict` restores an identical predictor."""
        self._check_fitted()
        if self.free:
            return {
                "kind": "stacked_pool",
                "version": 2,
                "free": True,
                "model_exponent": self.model_exponent_,
                "market_exponent": self.market_exponent_,
                "outcome_bias": [float(value) for value in self.outcome_bias_],
                "n_fit_rows": self.n_fit_rows_,
                "training_log_loss": self.training_log_loss_,
            }
        return {
            "kind": "stacked_pool",
            "version": 1,
            "max_market_weight": self.max_market_weight,
            "model_exponent": self.model_exponent_,
            "market_exponent": self.market_exponent_,
            "requested_market_share": self.requested_market_share_,
            "market_share": self.market_share_,
            "applied_max_market_weight": self.max_market_weight_,
            "clipped": self.clipped_,
            "n_fit_rows": self.n_fit_rows_,
            "training_log_loss": self.training_log_loss_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackedPool:
        if data.get("kind") == "stacked_pool" and data.get("version") == 2 and data.get("free"):
            pool = cls(free=True)
            pool.model_exponent_ = float(data["model_exponent"])
            pool.market_exponent_ = float(data["market_exponent"])
            pool.outcome_bias_ = np.array([float(value) for value in data["outcome_bias"]])
            total = pool.model_exponent_ + pool.market_exponent_
            pool.requested_market_share_ = pool.market_share_ = pool.market_exponent_ / total if total != 0 else 0.0
            pool.max_market_weight_ = None
            pool.clipped_ = False
            pool.n_fit_rows_ = int(data["n_fit_rows"])
            training_log_loss = data["training_log_loss"]
            pool.training_log_loss_ = None if training_log_loss is None else float(training_log_loss)
            return pool
        if data.get("kind") != "stacked_pool" or data.get("version") != 1:
            raise ValueError(
                f"not a version-1 stacked pool: kind={data.get('kind')!r}, version={data.get('version')!r}"
            )
        pool = cls(max_market_weight=data["max_market_weight"])
        pool.model_exponent_ = float(data["model_exponent"])
        pool.market_exponent_ = float(data["market_exponent"])
        pool.outcome_bias_ = np.zeros(3)
        pool.requested_market_share_ = float(data["requested_market_share"])
        pool.market_share_ = float(data["market_share"])
        pool.max_market_weight_ = float(data["applied_max_market_weight"])
        pool.clipped_ = bool(data["clipped"])
        pool.n_fit_rows_ = int(data["n_fit_rows"])
        training_log_loss = data["training_log_loss"]
        pool.training_log_loss_ = None if training_log_loss is None else float(training_log_loss)
        return pool

    @classmethod
    def from_exponents(
        cls, model_exponent: float, market_exponent: float, *, max_market_weight: float | None = None
    ) -> StackedPool:
        """A pool with given exponents (e.g. for a fixed, documented default). The market
        share must respect the cap; this constructor does not clip silently."""
        cap = _resolve_cap(max_market_weight)
        if model_exponent < 0 or market_exponent < 0:
            raise ValueError("exponents must be non-negative")
        total = model_exponent + market_exponent
        share = market_exponent / total if total > 0 else 0.0
        if share > cap:
            raise ValueError(f"market share {share!r} exceeds the cap {cap!r}")
        pool = cls(max_market_weight=max_market_weight)
        pool.model_exponent_ = float(model_exponent)
        pool.market_exponent_ = float(market_exponent)
        pool.outcome_bias_ = np.zeros(3)
        pool.requested_market_share_ = share
        pool.market_share_ = share
        pool.max_market_weight_ = cap
        pool.clipped_ = False
        pool.n_fit_rows_ = 0
        pool.training_log_loss_ = None
        return pool
