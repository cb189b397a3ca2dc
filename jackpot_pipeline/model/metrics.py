"""Scoring rules and calibration diagnostics for 1X2 forecasts.

Conventions (shared with the validation reports and /work/shared/STYLE.md):

* forecasts are (n, 3) arrays ordered (home, draw, away);
* outcomes are ints 0 = home win, 1 = draw, 2 = away win (:func:`encode_outcomes`
  converts football-data.co.uk ``FTR`` strings 'H'/'D'/'A');
* multi-class Brier = sum over the 3 outcomes of (p - y)^2, mean over matches (range 0..2);
* log loss uses the natural log of the probability given to the observed outcome; a zero
  probability on what happened scores +inf (no hidden clipping);
* RPS = ordinal ranked probability score divided by (r - 1) = 2, so a perfect forecast
  scores 0 and a uniform forecast of a home win ((2/3)^2 + (1/3)^2) / 2 = 0.2778.

Per-match score functions return (n,) arrays so forecasts can be compared *paired* on the
same matches (:func:`paired_comparison`), which is the only comparison that can separate
close predictors (the SE of one season's mean RPS is about 0.008).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jackpot_pipeline.model.outcome_arrays import as_outcome_array

__all__ = [
    "HOME",
    "DRAW",
    "AWAY",
    "OUTCOME_LABELS",
    "encode_outcomes",
    "one_hot",
    "brier_score",
    "brier_score_per_match",
    "brier_score_per_outcome",
    "log_loss",
    "log_loss_per_match",
    "ranked_probability_score",
    "ranked_probability_score_per_match",
    "accuracy",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
    "PairedComparison",
    "paired_comparison",
    "compare_forecasts",
    "ScoreSummary",
    "score_summary",
    "PER_MATCH_SCORES",
]

HOME: Final = 0
DRAW: Final = 1
AWAY: Final = 2
OUTCOME_LABELS: Final = ("H", "D", "A")


def encode_outcomes(results: Sequence[str] | ArrayLike) -> NDArray[np.int64]:
    """'H'/'D'/'A' full-time results -> ints 0/1/2. Raises ValueError naming the first bad entry."""
    raw = np.asarray(results, dtype=object).ravel()
    labels = np.char.upper(np.char.strip(raw.astype(str)))
    codes = np.full(raw.shape[0], -1, dtype=np.int64)
    for code, label in enumerate(OUTCOME_LABELS):
        codes[labels == label] = code
    unknown = codes < 0
    if unknown.any():
        index = int(np.argmax(unknown))
        raise ValueError(f"result at index {index} is {raw[index]!r}; expected one of {OUTCOME_LABELS}")
    return codes


def _check_forecast(probs: ArrayLike, outcomes: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    forecast = as_outcome_array(probs)
    observed = np.asarray(outcomes)
    if observed.ndim != 1 or observed.shape[0] != forecast.shape[0]:
        raise ValueError(
            f"outcomes must have shape ({forecast.shape[0]},) to match the forecasts; got {observed.shape}"
        )
    if observed.size and not np.issubdtype(observed.dtype, np.integer):
        raise ValueError("outcomes must be integer codes 0/1/2; use encode_outcomes() for 'H'/'D'/'A'")
    if observed.size and (observed.min() < 0 or observed.max() > 2):
        raise ValueError("outcomes must be 0 (home), 1 (draw) or 2 (away)")
    return forecast, observed.astype(np.int64, copy=False)


def one_hot(outcomes: ArrayLike) -> NDArray[np.float64]:
    """(n,) outcome codes -> (n, 3) indicator matrix."""
    observed = np.asarray(outcomes, dtype=np.int64)
    indicator = np.zeros((observed.shape[0], 3))
    indicator[np.arange(observed.shape[0]), observed] = 1.0
    return indicator


def brier_score_per_match(probs: ArrayLike, outcomes: ArrayLike) -> NDArray[np.float64]:
    """Sum over the three outcomes of (p - y)^2, one value per match (0..2)."""
    forecast, observed = _check_forecast(probs, outcomes)
    return ((forecast - one_hot(observed)) ** 2).sum(axis=1)


def brier_score(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Multi-class Brier score: mean over matches of the per-match sum over outcomes."""
    return float(brier_score_per_match(probs, outcomes).mean())


def brier_score_per_outcome(probs: ArrayLike, outcomes: ArrayLike) -> NDArray[np.float64]:
    """(3,) one-vs-rest Brier scores for home, draw, away; they sum to :func:`brier_score`."""
    forecast, observed = _check_forecast(probs, outcomes)
    return ((forecast - one_hot(observed)) ** 2).mean(axis=0)


def log_loss_per_match(probs: ArrayLike, outcomes: ArrayLike) -> NDArray[np.float64]:
    """-ln(probability given to the observed outcome), one value per match."""
    forecast, observed = _check_forecast(probs, outcomes)
    chosen = forecast[np.arange(forecast.shape[0]), observed]
    with np.errstate(divide="ignore"):
        return -np.log(chosen)


def log_loss(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Mean natural-log loss."""
    return float(log_loss_per_match(probs, outcomes).mean())


def ranked_probability_score_per_match(probs: ArrayLike, outcomes: ArrayLike) -> NDArray[np.float64]:
    """Ordinal RPS / 2 per match: sum over the first two cumulative probabilities of
    (F_k - O_k)^2, divided by r - 1 = 2."""
    forecast, observed = _check_forecast(probs, outcomes)
    cumulative_gap = np.cumsum(forecast - one_hot(observed), axis=1)[:, :2]
    return (cumulative_gap**2).sum(axis=1) / 2.0


def ranked_probability_score(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Mean RPS (ordinal RPS / 2); 0 is perfect."""
    return float(ranked_probability_score_per_match(probs, outcomes).mean())


def accuracy(probs: ArrayLike, outcomes: ArrayLike) -> float:
    """Share of matches whose most likely outcome happened (ties go to the first of
    home, draw, away). A secondary figure only: it ignores the probabilities themselves."""
    forecast, observed = _check_forecast(probs, outcomes)
    return float((forecast.argmax(axis=1) == observed).mean())


PerMatchScore = Callable[[ArrayLike, ArrayLike], NDArray[np.float64]]
ScoreName = Literal["rps", "brier", "log_loss"]
PER_MATCH_SCORES: Final[dict[str, PerMatchScore]] = {
    "rps": ranked_probability_score_per_match,
    "brier": brier_score_per_match,
    "log_loss": log_loss_per_match,
}


@dataclass(frozen=True)
class ReliabilityCurve:
    """Binned predicted probability vs observed frequency.

    ``bin_edges`` has n_bins + 1 entries on [0, 1]; the other arrays have one entry per
    bin. Empty bins have count 0 and NaN mean/frequency. ``outcome`` is the outcome code
    the curve is for, or None when pooled over all three outcomes.
    """

    outcome: int | None
    bin_edges: NDArray[np.float64]
    counts: NDArray[np.int64]
    mean_predicted: NDArray[np.float64]
    observed_frequency: NDArray[np.float64]

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form (NaN -> None)."""

        def clean(values: NDArray[np.float64]) -> list[float | None]:
            return [None if np.isnan(value) else float(value) for value in values]

        return {
            "outcome": None if self.outcome is None else OUTCOME_LABELS[self.outcome],
            "bin_edges": self.bin_edges.tolist(),
            "counts": self.counts.tolist(),
            "mean_predicted": clean(self.mean_predicted),
            "observed_frequency": clean(self.observed_frequency),
        }


def reliability_curve(
    probs: ArrayLike, outcomes: ArrayLike, *, n_bins: int = 10, outcome: int | None = None
) -> ReliabilityCurve:
    """Reliability curve over ``n_bins`` equal-width bins of [0, 1].

    ``outcome`` = 0/1/2 uses that outcome's column (one-vs-rest). ``outcome=None`` pools
    the three columns: every (match, outcome) pair is one point, predicted p against the
    indicator of that outcome. Bins are right-open except the last, which includes 1.
    """
    forecast, observed = _check_forecast(probs, outcomes)
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    indicator = one_hot(observed)
    if outcome is None:
        predicted, happened = forecast.ravel(), indicator.ravel()
    else:
        if outcome not in (HOME, DRAW, AWAY):
            raise ValueError("outcome must be 0 (home), 1 (draw), 2 (away) or None (pooled)")
        predicted, happened = forecast[:, outcome], indicator[:, outcome]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_index = np.clip(np.floor(predicted * n_bins).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(bin_index, minlength=n_bins)
    predicted_sum = np.bincount(bin_index, weights=predicted, minlength=n_bins)
    happened_sum = np.bincount(bin_index, weights=happened, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.where(counts > 0, predicted_sum / counts, np.nan)
        observed_frequency = np.where(counts > 0, happened_sum / counts, np.nan)
    return ReliabilityCurve(outcome, edges, counts.astype(np.int64), mean_predicted, observed_frequency)


def expected_calibration_error(
    probs: ArrayLike, outcomes: ArrayLike, *, n_bins: int = 10, outcome: int | None = None
) -> float:
    """Count-weighted mean |mean predicted - observed frequency| over the reliability bins
    (same binning and pooling rule as :func:`reliability_curve`)."""
    curve = reliability_curve(probs, outcomes, n_bins=n_bins, outcome=outcome)
    filled = curve.counts > 0
    gaps = np.abs(curve.mean_predicted[filled] - curve.observed_frequency[filled])
    return float((curve.counts[filled] * gaps).sum() / curve.counts.sum())


@dataclass(frozen=True)
class PairedComparison:
    """Paired comparison of per-match scores of forecast A against forecast B.

    ``mean_difference`` = mean(score_A - score_B): negative means A scores lower (better,
    for the loss-type scores here). ``standard_error`` = sample SD of the differences
    (ddof = 1) / sqrt(n); ``z`` = mean_difference / standard_error.
    """

    n: int
    mean_a: float
    mean_b: float
    mean_difference: float
    standard_error: float

    @property
    def z(self) -> float:
        if self.standard_error == 0.0:
            return 0.0 if self.mean_difference == 0.0 else float(np.copysign(np.inf, self.mean_difference))
        return self.mean_difference / self.standard_error

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "mean_difference": self.mean_difference,
            "standard_error": self.standard_error,
            "z": self.z,
        }


def paired_comparison(scores_a: ArrayLike, scores_b: ArrayLike) -> PairedComparison:
    """Mean and standard error of the per-match score difference A - B on the same matches."""
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"per-match scores must be two 1-d arrays of equal length; got {a.shape} and {b.shape}")
    if a.shape[0] < 2:
        raise ValueError("a paired comparison needs at least two matches")
    difference = a - b
    standard_error = float(difference.std(ddof=1) / np.sqrt(difference.shape[0]))
    return PairedComparison(
        n=int(difference.shape[0]),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        mean_difference=float(difference.mean()),
        standard_error=standard_error,
    )


def compare_forecasts(
    probs_a: ArrayLike, probs_b: ArrayLike, outcomes: ArrayLike, *, score: ScoreName = "rps"
) -> PairedComparison:
    """:func:`paired_comparison` of two forecasts of the same matches under one score."""
    try:
        per_match = PER_MATCH_SCORES[score]
    except KeyError:
        raise ValueError(f"unknown score {score!r}; choose one of {tuple(PER_MATCH_SCORES)}") from None
    return paired_comparison(per_match(probs_a, outcomes), per_match(probs_b, outcomes))


@dataclass(frozen=True)
class ScoreSummary:
    n: int
    rps: float
    brier: float
    log_loss: float
    accuracy: float
    expected_calibration_error: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "rps": self.rps,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "accuracy": self.accuracy,
            "expected_calibration_error": self.expected_calibration_error,
        }


def score_summary(probs: ArrayLike, outcomes: ArrayLike, *, n_bins: int = 10) -> ScoreSummary:
    """All headline figures at once (ECE pooled over outcomes)."""
    forecast, observed = _check_forecast(probs, outcomes)
    return ScoreSummary(
        n=int(forecast.shape[0]),
        rps=ranked_probability_score(forecast, observed),
        brier=brier_score(forecast, observed),
        log_loss=log_loss(forecast, observed),
        accuracy=accuracy(forecast, observed),
        expected_calibration_error=expected_calibration_error(forecast, observed, n_bins=n_bins),
    )
