"""Probability sets A-G for n fixtures at once.

Every set is an (n, 3) array ordered (home, draw, away) whose rows sum to 1 (checked to
1e-9), with a name, a description, set-level ``flags`` and per-row boolean ``row_flags``.

* A -- pure Dixon-Coles: the model probabilities as passed (renormalised).
* B -- 60 % model / 40 % market linear pool, then the caller's calibrator (fitted on
  earlier B-blends). Without a calibrator the identity is used and B is flagged
  ``uncalibrated``.
* C -- market-dominant: 20 % model / 80 % market *requested*; the market weight is capped
  at ``MAX_MARKET_WEIGHT`` so 30 / 70 is applied by default, flagged
  ``market_weight_clipped``. Not calibrated: the calibrator was fitted on B-blends and
  would be applied out of its domain.
* D -- draw-boosted B: P(draw) x 1.15, home and away rescaled proportionally so the row
  sums to 1. Flagged ``heuristic``. If the boost would take P(draw) above 1 it is capped at
  1 (row flag ``draw_boost_capped``).
* E -- "high conviction" B: p^1.5 / sum. Flagged ``heuristic`` and ``display_only``.
* F -- Kelly view: Set G's probabilities with, per outcome, edge = p * odds - 1 and Kelly
  fraction = max((p * odds - 1) / (odds - 1), 0) against the odds supplied (usually the
  jackpot operator's). Each fraction is for that single bet in isolation. Without odds
  the edges are NaN and the set / rows are flagged ``no_operator_odds``.
* G -- stacked ensemble: log-linear pool p proportional to A^a * market^b with a, b from
  the caller's fitted :class:`~jackpot_pipeline.model.blending.StackedPool`. Without a
  pool G = A, flagged ``no_stacked_pool``.

Missing market odds (a row of NaN market probabilities): B, C and G fall back to A for
that row -- *uncalibrated*, because the calibrator learnt the B-blend's distortions, not
the model's -- and D, E and F derive from those fallbacks; every such row carries the
row flag ``no_market_odds`` in B-G. Degradation is graceful but never silent.

All work is vectorised over rows; per-row flag lists are only built on request
(:meth:`ProbabilitySet.flags_for_row`, :meth:`ProbabilitySet.to_frame`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from jackpot_pipeline.model.blending import MAX_MARKET_WEIGHT, StackedPool, linear_pool
from jackpot_pipeline.model.calibration import Calibrator, IdentityCalibrator
from jackpot_pipeline.model.odds import available_odds
from jackpot_pipeline.model.outcome_arrays import as_outcome_array

__all__ = [
    "SET_NAMES",
    "ProbabilitySetConfig",
    "ProbabilitySet",
    "build_probability_sets",
    "FLAG_MODEL_ONLY",
    "FLAG_NO_MARKET_ODDS",
    "FLAG_NO_OPERATOR_ODDS",
    "FLAG_UNCALIBRATED",
    "FLAG_MARKET_WEIGHT_CLIPPED",
    "FLAG_MARKET_SHARE_CLIPPED",
    "FLAG_HEURISTIC",
    "FLAG_DISPLAY_ONLY",
    "FLAG_NO_STACKED_POOL",
    "FLAG_DRAW_BOOST_CAPPED",
]

SET_NAMES: Final = ("A", "B", "C", "D", "E", "F", "G")

FLAG_MODEL_ONLY: Final = "model_only"
FLAG_NO_MARKET_ODDS: Final = "no_market_odds"
FLAG_NO_OPERATOR_ODDS: Final = "no_operator_odds"
FLAG_UNCALIBRATED: Final = "uncalibrated"
FLAG_MARKET_WEIGHT_CLIPPED: Final = "market_weight_clipped"
FLAG_MARKET_SHARE_CLIPPED: Final = "market_share_clipped"
FLAG_HEURISTIC: Final = "heuristic"
FLAG_DISPLAY_ONLY: Final = "display_only"
FLAG_NO_STACKED_POOL: Final = "no_stacked_pool"
FLAG_DRAW_BOOST_CAPPED: Final = "draw_boost_capped"

_SUM_TOLERANCE: Final = 1e-9


@dataclass(frozen=True)
class ProbabilitySetConfig:
    """Knobs of the sets. ``input_sum_tolerance`` is how far an input row's sum may be
    from 1 before it is rejected (accepted rows are renormalised)."""

    set_b_model_weight: float = 0.6
    set_c_model_weight: float = 0.2
    draw_boost_factor: float = 1.15
    sharpen_exponent: float = 1.5
    max_market_weight: float = MAX_MARKET_WEIGHT
    input_sum_tolerance: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("set_b_model_weight", "set_c_model_weight", "max_market_weight"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]; got {value!r}")
        if not self.draw_boost_factor > 0:
            raise ValueError(f"draw_boost_factor must be positive; got {self.draw_boost_factor!r}")
        if not self.sharpen_exponent > 0:
            raise ValueError(f"sharpen_exponent must be positive; got {self.sharpen_exponent!r}")
        if not 0 < self.input_sum_tolerance < 0.1:
            raise ValueError("input_sum_tolerance must lie in (0, 0.1)")

    def to_dict(self) -> dict[str, float]:
        return {
            "set_b_model_weight": self.set_b_model_weight,
            "set_c_model_weight": self.set_c_model_weight,
            "draw_boost_factor": self.draw_boost_factor,
            "sharpen_exponent": self.sharpen_exponent,
            "max_market_weight": self.max_market_weight,
            "input_sum_tolerance": self.input_sum_tolerance,
        }


@dataclass(frozen=True)
class ProbabilitySet:
    """One probability set for n fixtures.

    ``flags``: apply to every row of the set. ``row_flags``: flag name -> (n,) bool array.
    ``metadata``: JSON-safe facts about how the set was made (weights, methods, counts).
    ``components``: (n, 3) intermediate arrays used to build the set (for explanations),
    and for Set F the ``edge``, ``kelly_fraction`` and ``odds`` arrays.
    """

    name: str
    description: str
    probs: NDArray[np.float64]
    flags: tuple[str, ...] = ()
    row_flags: Mapping[str, NDArray[np.bool_]] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    components: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.probs.shape[0])

    def flags_for_row(self, row: int) -> list[str]:
        """Set-level flags followed by the row flags raised on ``row``."""
        return list(self.flags) + [name for name, mask in self.row_flags.items() if mask[row]]

    def row_flag_lists(self) -> list[list[str]]:
        return [self.flags_for_row(row) for row in range(self.n)]

    def to_frame(self) -> pd.DataFrame:
        """Wide frame: p_home, p_draw, p_away (plus F's edges and Kelly fractions) and a
        ';'-joined ``flags`` column."""
        frame = pd.DataFrame(self.probs, columns=["p_home", "p_draw", "p_away"])
        for component in ("edge", "kelly_fraction"):
            if component in self.components:
                values = self.components[component]
                for index, outcome in enumerate(("home", "draw", "away")):
                    frame[f"{component}_{outcome}"] = values[:, index]
        frame.insert(0, "set", self.name)
        frame["flags"] = [";".join(flags) for flags in self.row_flag_lists()]
        return frame


def _as_model_probs(values: ArrayLike, tolerance: float) -> NDArray[np.float64]:
    array = as_outcome_array(values, "model_probs")
    bad = ~np.isfinite(array).all(axis=1) | (array < 0).any(axis=1) | (np.abs(array.sum(axis=1) - 1.0) > tolerance)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"model_probs row {row} is {array[row].tolist()}: every row must be finite, non-negative "
            f"and sum to 1 within {tolerance}"
        )
    return array / array.sum(axis=1, keepdims=True)


def _as_market_probs(
    values: ArrayLike | None, n: int, tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    if values is None:
        return np.full((n, 3), np.nan), np.zeros(n, dtype=bool)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n, 3):
        raise ValueError(f"market_probs must have shape ({n}, 3) like model_probs; got {array.shape}")
    available = ~np.isnan(array).any(axis=1)
    with np.errstate(invalid="ignore"):
        bad = available & (
            ~np.isfinite(array).all(axis=1) | (array < 0).any(axis=1) | (np.abs(array.sum(axis=1) - 1.0) > tolerance)
        )
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"market_probs row {row} is {array[row].tolist()}: a row must be all NaN (no odds) or finite, "
            f"non-negative and sum to 1 within {tolerance}"
        )
    normalised = np.full((n, 3), np.nan)
    normalised[available] = array[available] / array[available].sum(axis=1, keepdims=True)
    return normalised, available


def _check_normalised(name: str, probs: NDArray[np.float64]) -> None:
    # A cheap invariant guard: a broken set must never reach a report silently.
    error = np.abs(probs.sum(axis=1) - 1.0)
    if probs.size and not (np.isfinite(probs).all() and error.max() <= _SUM_TOLERANCE and probs.min() >= 0.0):
        raise AssertionError(f"set {name} is not a probability distribution (max |sum - 1| = {error.max()!r})")


def _draw_boost(base: NDArray[np.float64], factor: float) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """P(draw) x factor (capped at 1), home and away scaled by (1 - new draw) / (home + away)."""
    boosted_draw = base[:, 1] * factor
    capped = boosted_draw > 1.0
    boosted_draw = np.minimum(boosted_draw, 1.0)
    home_plus_away = base[:, 0] + base[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(home_plus_away > 0, (1.0 - boosted_draw) / home_plus_away, 0.0)
    boosted = np.column_stack([base[:, 0] * scale, boosted_draw, base[:, 2] * scale])
    # A draw-only row (home + away = 0) stays draw-only: it cannot gain mass it does not have.
    boosted[home_plus_away == 0] = base[home_plus_away == 0]
    return boosted, capped


def _sharpen(base: NDArray[np.float64], exponent: float) -> NDArray[np.float64]:
    powered = base**exponent
    return powered / powered.sum(axis=1, keepdims=True)


def build_probability_sets(
    model_probs: ArrayLike,
    market_probs: ArrayLike | None,
    *,
    calibrator: Calibrator | None = None,
    stacked_pool: StackedPool | None = None,
    operator_odds: ArrayLike | None = None,
    config: ProbabilitySetConfig = ProbabilitySetConfig(),
) -> dict[str, ProbabilitySet]:
    """Build sets A-G for n fixtures.

    ``model_probs``: (n, 3) Dixon-Coles probabilities. ``market_probs``: (n, 3) de-vigged
    market probabilities, NaN rows where no odds exist (or None for no odds at all).
    ``calibrator``: fitted on earlier Set-B blends (identity if None). ``stacked_pool``:
    a fitted :class:`StackedPool` for G (G = A if None). ``operator_odds``: (n, 3) decimal
    odds for the Kelly view, NaN rows where absent (or None). Returns {"A": ..., "G": ...}.
    """
    model = _as_model_probs(model_probs, config.input_sum_tolerance)
    n = model.shape[0]
    market, has_market = _as_market_probs(market_probs, n, config.input_sum_tolerance)
    no_market = ~has_market
    market_column = has_market[:, np.newaxis]
    market_filled = np.where(market_column, market, model)  # placeholder; those rows are replaced by A
    n_no_market = int(no_market.sum())
    common_metadata = {"n_fixtures": n, "n_no_market_odds": n_no_market}

    set_a = ProbabilitySet(
        name="A",
        description="Pure Dixon-Coles model probabilities.",
        probs=model,
        flags=(FLAG_MODEL_ONLY,),
        metadata=dict(common_metadata),
    )

    # --- B: 60/40 linear pool, then calibration (market rows only) ---------------------
    blend_b = linear_pool(
        model, market_filled, model_weight=config.set_b_model_weight, max_market_weight=config.max_market_weight
    )
    calibration = calibrator if calibrator is not None else IdentityCalibrator()
    calibration_method = str(getattr(calibration, "method", type(calibration).__name__))
    probs_b = model.copy()
    if has_market.any():
        probs_b[has_market] = calibration.transform(blend_b.probs[has_market])
    blend_b_probs = np.where(market_column, blend_b.probs, np.nan)
    flags_b = [FLAG_UNCALIBRATED] if calibrator is None else []
    if blend_b.clipped:
        flags_b.append(FLAG_MARKET_WEIGHT_CLIPPED)
    set_b = ProbabilitySet(
        name="B",
        description=(
            f"{blend_b.applied_model_weight:.0%} model / {blend_b.applied_market_weight:.0%} market linear pool, "
            f"then calibrated ({calibration_method}); model only where no odds."
        ),
        probs=probs_b,
        flags=tuple(flags_b),
        row_flags={FLAG_NO_MARKET_ODDS: no_market},
        metadata={**common_metadata, **blend_b.weights_dict(), "calibration_method": calibration_method},
        components={"model": model, "market": market, "blend": blend_b_probs},
    )

    # --- C: market-dominant, market weight capped ----------------------------------------
    blend_c = linear_pool(
        model, market_filled, model_weight=config.set_c_model_weight, max_market_weight=config.max_market_weight
    )
    probs_c = np.where(market_column, blend_c.probs, model)
    set_c = ProbabilitySet(
        name="C",
        description=(
            f"Market-dominant linear pool: {blend_c.requested_model_weight:.0%} model / "
            f"{blend_c.requested_market_weight:.0%} market requested, {blend_c.applied_model_weight:.0%} / "
            f"{blend_c.applied_market_weight:.0%} applied (market weight capped at {blend_c.max_market_weight:.0%}); "
            "not calibrated; model only where no odds."
        ),
        probs=probs_c,
        flags=(FLAG_MARKET_WEIGHT_CLIPPED,) if blend_c.clipped else (),
        row_flags={FLAG_NO_MARKET_ODDS: no_market},
        metadata={**common_metadata, **blend_c.weights_dict()},
        components={"model": model, "market": market, "blend": np.where(market_column, blend_c.probs, np.nan)},
    )

    # --- D, E: heuristics on B -----------------------------------------------------------
    probs_d, draw_capped = _draw_boost(probs_b, config.draw_boost_factor)
    set_d = ProbabilitySet(
        name="D",
        description=(
            f"Draw-boosted Set B: P(draw) x {config.draw_boost_factor}, home and away rescaled proportionally "
            "to sum to 1. Heuristic."
        ),
        probs=probs_d,
        flags=(FLAG_HEURISTIC,),
        row_flags={FLAG_NO_MARKET_ODDS: no_market, FLAG_DRAW_BOOST_CAPPED: draw_capped},
        metadata={**common_metadata, "draw_boost_factor": config.draw_boost_factor},
        components={"base": probs_b},
    )
    probs_e = _sharpen(probs_b, config.sharpen_exponent)
    set_e = ProbabilitySet(
        name="E",
        description=(
            f"High-conviction Set B: p^{config.sharpen_exponent} renormalised (lower entropy). "
            "Heuristic, for display only."
        ),
        probs=probs_e,
        flags=(FLAG_HEURISTIC, FLAG_DISPLAY_ONLY),
        row_flags={FLAG_NO_MARKET_ODDS: no_market},
        metadata={**common_metadata, "sharpen_exponent": config.sharpen_exponent},
        components={"base": probs_b},
    )

    # --- G: stacked log-linear pool ------------------------------------------------------
    if stacked_pool is not None:
        probs_g = stacked_pool.predict(model, market)
        flags_g: tuple[str, ...] = (FLAG_MARKET_SHARE_CLIPPED,) if stacked_pool.clipped_ else ()
        pool_metadata: dict[str, Any] = {
            "model_exponent": stacked_pool.model_exponent_,
            "market_exponent": stacked_pool.market_exponent_,
            "market_share": stacked_pool.market_share_,
            "requested_market_share": stacked_pool.requested_market_share_,
            "max_market_weight": stacked_pool.max_market_weight_,
            "market_share_clipped": stacked_pool.clipped_,
            "outcome_bias": [float(value) for value in stacked_pool.outcome_bias_],
            "free_weights": bool(stacked_pool.free),
        }
        description_g = (
            f"Stacked log-linear pool: p proportional to A^{stacked_pool.model_exponent_:.3f} x "
            f"market^{stacked_pool.market_exponent_:.3f}"
            + (" x exp(outcome bias), weights fitted freely on earlier seasons; " if stacked_pool.free
               else f" (market share {stacked_pool.market_share_:.0%}); ")
            + "equals A where no odds."
        )
    else:
        probs_g = model.copy()
        flags_g = (FLAG_NO_STACKED_POOL,)
        pool_metadata = {"model_exponent": None, "market_exponent": None, "market_share": None}
        description_g = "Stacked log-linear pool not fitted: equals Set A."
    set_g = ProbabilitySet(
        name="G",
        description=description_g,
        probs=probs_g,
        flags=flags_g,
        row_flags={FLAG_NO_MARKET_ODDS: no_market},
        metadata={**common_metadata, **pool_metadata},
        components={"model": model, "market": market},
    )

    # --- F: Kelly view on G ----------------------------------------------------------------
    if operator_odds is None:
        odds = np.full((n, 3), np.nan)
        has_odds = np.zeros(n, dtype=bool)
    else:
        odds, has_odds = available_odds(operator_odds)
        if odds.shape != (n, 3):
            raise ValueError(f"operator_odds must have shape ({n}, 3); got {odds.shape}")
    with np.errstate(invalid="ignore"):
        edge = probs_g * odds - 1.0
        kelly = np.maximum(edge / (odds - 1.0), 0.0)
    set_f = ProbabilitySet(
        name="F",
        description=(
            "Kelly view: Set G probabilities with per-outcome edge p*odds - 1 and Kelly fraction "
            "max((p*odds - 1)/(odds - 1), 0) against the supplied odds (each bet in isolation)."
        ),
        probs=probs_g,
        flags=(FLAG_NO_OPERATOR_ODDS,) if operator_odds is None else (),
        row_flags={FLAG_NO_MARKET_ODDS: no_market, FLAG_NO_OPERATOR_ODDS: ~has_odds},
        metadata={**common_metadata, "n_no_operator_odds": int((~has_odds).sum()), **pool_metadata},
        components={"edge": edge, "kelly_fraction": kelly, "odds": odds},
    )

    sets = {s.name: s for s in (set_a, set_b, set_c, set_d, set_e, set_f, set_g)}
    for name, probability_set in sets.items():
        _check_normalised(name, probability_set.probs)
    return {name: sets[name] for name in SET_NAMES}
