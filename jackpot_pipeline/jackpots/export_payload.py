"""What ``data/exports/<jackpot_id>.json`` and ``.csv`` contain, built from the *stored* rows only.

Exports are a pure function of the finalised ``jackpots`` row, its ``jackpot_predictions`` rows and the
ticket budget, so re-exporting an unchanged jackpot gives the same bytes.

Ticket analysis per probability set (exact, see :mod:`jackpot_pipeline.jackpots.tickets`):

* ``most_likely``: every fixture's most probable outcome, with the exact distribution of the number
  of correct picks, P(all correct), P(at least k) for the jackpot and two bonus tiers (n, n-1, n-2)
  and the expected number correct;
* ``optimised``: the ticket with the highest P(all correct) the budget allows (doubles/triples/lines),
  with the same figures. Default budget: 3 doubles and 1 triple (at most 24 lines); see
  ``TicketBudgetConfig``.
"""

from __future__ import annotations

import json
from typing import Any, Final

import numpy as np
import pandas as pd

from jackpot_pipeline.jackpots.tickets import TicketBudget, analyse_ticket, most_likely_ticket, optimise_ticket
from jackpot_pipeline.model.probability_sets import SET_NAMES

__all__ = ["EXPORT_FORMAT", "EXPORT_TABLE_COLUMNS", "export_payload", "export_table", "probabilities_by_set"]

EXPORT_FORMAT: Final = "jackpot_pipeline.jackpot_export/1"
_OUTCOMES: Final = ("home", "draw", "away")
EXPORT_TABLE_COLUMNS: Final = [
    "jackpot_id", "position", "set_id", "home_team_card", "away_team_card", "home_team", "away_team", "league",
    "season", "kickoff_text", "mode", "prob_home", "prob_draw", "prob_away", "pick", "entropy_bits", "confidence",
    "lambda_home", "lambda_away", "snapshot_as_of", "model_version", "calibration_version",
    "odds_home", "odds_draw", "odds_away", "edge_home", "edge_draw", "edge_away",
    "kelly_home", "kelly_draw", "kelly_away", "flags", "warnings",
]


def probabilities_by_set(predictions: pd.DataFrame) -> dict[str, np.ndarray]:
    """{set_id: (n, 3) probabilities in card order} from stored prediction rows."""
    ordered = predictions.sort_values(["set_id", "position"], kind="stable")
    return {
        set_id: group[["prob_home", "prob_draw", "prob_away"]].to_numpy(dtype=float)
        for set_id, group in ordered.groupby("set_id", sort=False)
        if set_id in SET_NAMES
    }


def _triple(row: pd.Series, prefix: str) -> dict[str, float] | None:
    values = [row[f"{prefix}_{outcome}"] for outcome in _OUTCOMES]
    if any(value is None or pd.isna(value) for value in values):
        return None
    return {outcome: float(value) for outcome, value in zip(_OUTCOMES, values, strict=True)}


def _optional_float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _fixture_warnings(warnings_json: str) -> list[str]:
    return [warning for warning in json.loads(warnings_json) if not warning.startswith("flag: ")]


def export_payload(jackpot: dict[str, Any], predictions: pd.DataFrame, budget: TicketBudget) -> dict[str, Any]:
    """The JSON export: the jackpot, every fixture with its sets A-G, and the per-set ticket analysis."""
    fixtures = []
    for position, rows in predictions.sort_values(["position", "set_id"]).groupby("position", sort=True):
        first = rows.iloc[0]
        explanation = json.loads(first["explanation"])
        context = {key: value for key, value in explanation.items() if key not in ("set_id", "set")}
        sets = {}
        for row in rows.itertuples(index=False):
            row_series = pd.Series(row._asdict())
            entry: dict[str, Any] = {
                "probabilities": _triple(row_series, "prob"),
                "pick": row.pick,
                "entropy_bits": float(row.entropy_bits),
                "confidence": row.confidence,
                "flags": [flag for flag in row.flags.split(",") if flag],
                "derivation": json.loads(row.explanation)["set"],
            }
            if row.set_id == "F":
                entry["edge"] = _triple(row_series, "edge")
                entry["kelly_fraction"] = _triple(row_series, "kelly")
            sets[row.set_id] = entry
        snapshot = None
        if first["model_version"] is not None and not pd.isna(first["model_version"]):
            snapshot = {
                "league": first["snapshot_league"],
                "season": first["snapshot_season"],
                "as_of_date": pd.Timestamp(first["snapshot_as_of"]).date().isoformat(),
                "model_version": first["model_version"],
            }
        fixtures.append({
            "position": int(position),
            "home_team_card": first["home_team_card"],
            "away_team_card": first["away_team_card"],
            "home_team": first["home_team"],
            "away_team": first["away_team"],
            "league": first["league"],
            "season": first["season"],
            "kickoff": first["kickoff_text"],
            "mode": first["mode"],
            "odds": _triple(first, "odds"),
            "market": _triple(first, "market"),
            "lambda_home": _optional_float(first["lambda_home"]),
            "lambda_away": _optional_float(first["lambda_away"]),
            "snapshot": snapshot,
            "calibration_version": first["calibration_version"],
            "warnings": _fixture_warnings(first["warnings"]),
            "explanation": context,
            "sets": sets,
        })

    n = len(fixtures)
    tiers = list(range(n, max(n - 3, 0), -1))
    tickets = {}
    for set_id, probs in probabilities_by_set(predictions).items():
        most_likely = analyse_ticket(probs, most_likely_ticket(probs))
        optimised = optimise_ticket(probs, budget)
        tickets[set_id] = {"most_likely": most_likely.to_dict(tiers), "optimised": optimised.to_dict(tiers)}
    return {
        "format": EXPORT_FORMAT,
        "jackpot": {
            key: jackpot[key] for key in (
                "jackpot_id", "name", "operator", "owner", "card_path", "card_sha256", "n_fixtures", "status",
                "run_id", "finalised_at", "model_versions", "calibration_versions", "code_version",
            )
        },
        "fixtures": fixtures,
        "tickets": {"budget": budget.to_dict(), "bonus_tiers": tiers, "sets": tickets},
    }


def export_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The CSV export: one row per fixture and set (warnings joined with ' | ')."""
    table = predictions.sort_values(["position", "set_id"], kind="stable").copy()
    table["warnings"] = [" | ".join(json.loads(text)) for text in table["warnings"]]
    table["snapshot_as_of"] = [
        None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()
        for value in table["snapshot_as_of"]
    ]
    return table[EXPORT_TABLE_COLUMNS].reset_index(drop=True)
