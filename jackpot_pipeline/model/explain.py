"""A hand-checkable, JSON-serialisable account of one fixture's probability sets.

:func:`explain_fixture` takes the sets built by
:func:`~jackpot_pipeline.model.probability_sets.build_probability_sets` and a row index and
writes down, per set, the numbers that produce it, so anyone can redo the arithmetic:

* A: the model probabilities, next to the Dixon-Coles log-lambda decomposition the caller
  passes (an opaque mapping, embedded as given after conversion to JSON types);
* B and C: model and market probabilities, the applied weights, each side's contribution
  (w * model, (1 - w) * market), their sum, and for B the calibration shift
  (calibrated - uncalibrated) per outcome;
* D: the base (Set B), the draw factor, the boosted draw and the home/away scale;
* E: the base, the exponent, p^exponent and its sum (the normaliser);
* G: the exponents a and b, the log terms a ln A and b ln M, their sum and the
  log-sum-exp normaliser (p = exp(sum - normaliser));
* F: the source probabilities (Set G), the odds, edges and Kelly fractions.

Rows without market odds say so and name the fallback. NaN becomes ``null``; the result
passes ``json.dumps(..., allow_nan=False)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from jackpot_pipeline.json_values import to_jsonable
from jackpot_pipeline.model.probability_sets import FLAG_NO_MARKET_ODDS, ProbabilitySet

__all__ = ["explain_fixture"]

OUTCOMES: Final = ("home", "draw", "away")
_LOG_FLOOR: Final = 1e-15  # the same floor the log-linear pool uses before taking logs


def _by_outcome(values: NDArray[np.float64]) -> dict[str, float | None]:
    return {outcome: to_jsonable(values[index]) for index, outcome in enumerate(OUTCOMES)}


def _set_header(probability_set: ProbabilitySet, row: int) -> dict[str, Any]:
    return {
        "description": probability_set.description,
        "flags": probability_set.flags_for_row(row),
        "probabilities": _by_outcome(probability_set.probs[row]),
    }


def _no_market_note(set_name: str) -> str:
    return f"no market odds for this fixture: Set {set_name} falls back to Set A (uncalibrated)"


def _explain_linear_pool(probability_set: ProbabilitySet, row: int, *, calibrated: bool) -> dict[str, Any]:
    metadata = probability_set.metadata
    model = probability_set.components["model"][row]
    if probability_set.row_flags[FLAG_NO_MARKET_ODDS][row]:
        return {"fallback": _no_market_note(probability_set.name), "model": _by_outcome(model)}
    market = probability_set.components["market"][row]
    blend = probability_set.components["blend"][row]
    model_weight = metadata["applied_model_weight"]
    market_weight = metadata["applied_market_weight"]
    derivation: dict[str, Any] = {
        "formula": "blend = model_weight * model + market_weight * market",
        "requested_model_weight": metadata["requested_model_weight"],
        "requested_market_weight": metadata["requested_market_weight"],
        "model_weight": model_weight,
        "market_weight": market_weight,
        "max_market_weight": metadata["max_market_weight"],
        "market_weight_clipped": metadata["market_weight_clipped"],
        "model": _by_outcome(model),
        "market": _by_outcome(market),
        "model_contribution": _by_outcome(model_weight * model),
        "market_contribution": _by_outcome(market_weight * market),
        "blend": _by_outcome(blend),
    }
    if calibrated:
        derivation["calibration_method"] = metadata["calibration_method"]
        derivation["calibration_shift"] = _by_outcome(probability_set.probs[row] - blend)
        derivation["formula"] += "; probability = blend + calibration_shift"
    return derivation


def _explain_draw_boost(probability_set: ProbabilitySet, row: int) -> dict[str, Any]:
    base = probability_set.components["base"][row]
    factor = probability_set.metadata["draw_boost_factor"]
    boosted_draw = min(base[1] * factor, 1.0)
    home_plus_away = base[0] + base[2]
    scale = (1.0 - boosted_draw) / home_plus_away if home_plus_away > 0 else None
    return {
        "formula": "draw = base_draw * factor (at most 1); home, away = base * (1 - draw) / (base_home + base_away)",
        "base_set": "B",
        "base": _by_outcome(base),
        "draw_boost_factor": factor,
        "boosted_draw": to_jsonable(boosted_draw),
        "home_away_scale": to_jsonable(scale),
        "adjustment": _by_outcome(probability_set.probs[row] - base),
    }


def _explain_sharpening(probability_set: ProbabilitySet, row: int) -> dict[str, Any]:
    base = probability_set.components["base"][row]
    exponent = probability_set.metadata["sharpen_exponent"]
    powered = base**exponent
    return {
        "formula": "probability = base^exponent / sum(base^exponent)",
        "base_set": "B",
        "base": _by_outcome(base),
        "exponent": exponent,
        "powered": _by_outcome(powered),
        "normaliser": to_jsonable(powered.sum()),
        "adjustment": _by_outcome(probability_set.probs[row] - base),
    }


def _explain_stacked_pool(probability_set: ProbabilitySet, row: int) -> dict[str, Any]:
    metadata = probability_set.metadata
    model = probability_set.components["model"][row]
    if metadata["model_exponent"] is None:
        return {"fallback": "no stacked pool fitted: Set G equals Set A", "model": _by_outcome(model)}
    if probability_set.row_flags[FLAG_NO_MARKET_ODDS][row]:
        return {"fallback": "no market odds for this fixture: Set G equals Set A", "model": _by_outcome(model)}
    market = probability_set.components["market"][row]
    model_term = metadata["model_exponent"] * np.log(np.maximum(model, _LOG_FLOOR))
    market_term = metadata["market_exponent"] * np.log(np.maximum(market, _LOG_FLOOR))
    bias = np.asarray(metadata.get("outcome_bias") or [0.0, 0.0, 0.0], dtype=float)
    log_score = model_term + market_term + bias
    return {
        "formula": "probability = exp(a*ln(model) + b*ln(market) + outcome_bias - log_normaliser)",
        "outcome_bias": _by_outcome(bias),
        "model_exponent_a": metadata["model_exponent"],
        "market_exponent_b": metadata["market_exponent"],
        "market_share": metadata["market_share"],
        "requested_market_share": metadata["requested_market_share"],
        "market_share_clipped": metadata["market_share_clipped"],
        "model": _by_outcome(model),
        "market": _by_outcome(market),
        "model_log_term": _by_outcome(model_term),
        "market_log_term": _by_outcome(market_term),
        "log_score": _by_outcome(log_score),
        "log_normaliser": to_jsonable(logsumexp(log_score)),
    }


def _explain_kelly(probability_set: ProbabilitySet, row: int) -> dict[str, Any]:
    components = probability_set.components
    odds = components["odds"][row]
    derivation: dict[str, Any] = {
        "formula": "edge = p * odds - 1; kelly_fraction = max(edge / (odds - 1), 0), each bet in isolation",
        "probability_source": "G",
        "odds": _by_outcome(odds),
        "edge": _by_outcome(components["edge"][row]),
        "kelly_fraction": _by_outcome(components["kelly_fraction"][row]),
    }
    if np.isnan(odds).any():
        derivation["note"] = "no odds supplied for this fixture: edges and Kelly fractions are null"
    return derivation


def explain_fixture(
    sets: Mapping[str, ProbabilitySet],
    row: int,
    *,
    lambda_decomposition: Mapping[str, Any] | None = None,
    fixture: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """JSON-safe decomposition of fixture ``row`` across the sets in ``sets``.

    ``lambda_decomposition``: the Dixon-Coles log-lambda terms for this fixture (e.g.
    ``fit.lambda_decomposition(home, away)``), embedded as given. ``fixture``: optional
    identifying fields (teams, date, league) copied into the output.
    """
    if not sets:
        raise ValueError("no probability sets to explain")
    n = next(iter(sets.values())).n
    if not -n <= row < n:
        raise IndexError(f"row {row} out of range for {n} fixtures")
    row = row % n
    explainers = {
        "B": lambda s: _explain_linear_pool(s, row, calibrated=True),
        "C": lambda s: _explain_linear_pool(s, row, calibrated=False),
        "D": lambda s: _explain_draw_boost(s, row),
        "E": lambda s: _explain_sharpening(s, row),
        "F": lambda s: _explain_kelly(s, row),
        "G": lambda s: _explain_stacked_pool(s, row),
    }
    explained: dict[str, Any] = {}
    for name, probability_set in sets.items():
        entry = _set_header(probability_set, row)
        if name == "A":
            entry["derivation"] = {"source": "Dixon-Coles score grid summed into home/draw/away"}
        elif name in explainers:
            entry["derivation"] = explainers[name](probability_set)
        explained[name] = entry
    market_flags = [s.row_flags[FLAG_NO_MARKET_ODDS][row] for s in sets.values() if FLAG_NO_MARKET_ODDS in s.row_flags]
    return to_jsonable(
        {
            "fixture": dict(fixture) if fixture is not None else None,
            "row": row,
            "outcomes": list(OUTCOMES),
            "market_odds_available": not any(market_flags),
            "dixon_coles": dict(lambda_decomposition) if lambda_decomposition is not None else None,
            "sets": explained,
        }
    )
