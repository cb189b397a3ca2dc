"""What a finalised jackpot gives its users after finalisation: the export files with the ticket analysis,
and every set scored on the results known so far. Both are derived from the stored rows only."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jackpot_pipeline.jackpots.export_payload import export_payload, export_table, probabilities_by_set
from jackpot_pipeline.jackpots.exports import write_exports
from jackpot_pipeline.jackpots.finalise import read_finalised, stored_card, stored_resolution
from jackpot_pipeline.jackpots.scoring import MATCH_WINDOW_DAYS, collect_results, outcome_codes, score_card
from jackpot_pipeline.jackpots.tickets import TicketBudget
from jackpot_pipeline.reporting import markdown_table
from jackpot_pipeline.warehouse.store import Warehouse


@dataclass(frozen=True)
class WrittenOutput:
    """What an export or a scoring wrote: the version of the data written and metadata describing it."""

    data_version: str
    metadata: dict[str, object]


def export_jackpot(store: Warehouse, jackpot_id: str, budget: TicketBudget, exports_dir: str | Path) -> WrittenOutput:
    """``<exports_dir>/<jackpot_id>.json`` and ``.csv`` (written atomically) with the ticket analysis per set."""
    stored, predictions = read_finalised(store, jackpot_id)
    payload = export_payload(stored, predictions, budget)
    paths = write_exports(exports_dir, jackpot_id, payload, export_table(predictions))
    sets = payload["tickets"]["sets"]
    summary = {set_id: {"most_likely_p_all": t["most_likely"]["p_all_correct"], "optimised_p_all": t["optimised"]["p_all_correct"],
                        "optimised_lines": t["optimised"]["lines"]} for set_id, t in sets.items()}
    table = markdown_table(
        ["set", "most likely P(all)", "optimised P(all)", "lines", "optimised ticket"],
        [[set_id, f"{t['most_likely']['p_all_correct']:.3g}", f"{t['optimised']['p_all_correct']:.3g}", t["optimised"]["lines"],
          " ".join(t["optimised"]["selections"])] for set_id, t in sets.items()], "lrrrl")
    return WrittenOutput(hashlib.sha256(paths.json.read_bytes() + paths.csv.read_bytes()).hexdigest()[:24], {
        "json_path": str(paths.json), "csv_path": str(paths.csv), "budget": budget.to_dict(), "tickets": summary,
        "ticket_table": table,
    })


def score_jackpot(store: Warehouse, jackpot_id: str, *, run_id: str, now: dt.datetime) -> WrittenOutput:
    """Every set scored on the results known now (results file beside the card first, then played matches
    within the match window of each kick-off); the jackpot's validation and result rows are replaced."""
    stored, predictions = read_finalised(store, jackpot_id)
    card = stored_card(stored)
    kickoffs = [fixture.kickoff.replace(tzinfo=None) for fixture in card.fixtures]
    window = dt.timedelta(days=MATCH_WINDOW_DAYS + 1)
    matches = store.query("SELECT league, match_date, home_team, away_team, result FROM canonical_matches "
                          "WHERE match_date BETWEEN ? AND ? ORDER BY match_date, league, home_team", [min(kickoffs) - window, max(kickoffs) + window])
    results = collect_results(card, stored_resolution(card, predictions), matches)
    scores = score_card(probabilities_by_set(predictions), outcome_codes(results))
    validated_at = pd.Timestamp(now.astimezone(dt.UTC).replace(tzinfo=None))
    score_rows = pd.DataFrame([{**s.to_dict(), "picks": " ".join(s.picks), "jackpot_id": jackpot_id, "run_id": run_id,
                                "validated_at": validated_at} for s in scores.values()])
    for column in ("brier", "log_loss", "rps"):  # +inf log loss (a certain outcome missed) stored as NULL
        values = score_rows[column].astype(float)
        score_rows[column] = values.where(np.isfinite(values))
    result_rows = pd.DataFrame([{"jackpot_id": jackpot_id, "position": r.position, "result": r.result, "source": r.source,
                                 "detail": r.detail, "notes": json.dumps(list(r.notes), ensure_ascii=False),
                                 "run_id": run_id, "validated_at": validated_at} for r in results])
    store.write("jackpot_validation", score_rows.reindex(columns=store.tables["jackpot_validation"].column_names), jackpot_id)
    store.write("jackpot_results", result_rows, jackpot_id)
    outcomes = " ".join(r.result or "-" for r in results)
    table = markdown_table(["set", "scored", "correct picks", "Brier", "log loss", "RPS"],
                           [[s.set_id, f"{s.n_scored}/{s.n_fixtures}", s.correct_picks, f"{s.brier:.4f}", f"{s.log_loss:.4f}",
                             f"{s.rps:.4f}"] for s in scores.values()], "lrrrrr")
    return WrittenOutput(hashlib.sha256(f"{stored['content_sha256']}|{outcomes}".encode()).hexdigest()[:24], {
        "fixtures_with_result": sum(r.outcome is not None for r in results), "fixtures": card.n_fixtures,
        "result_sources": pd.Series([r.source or "none" for r in results]).value_counts().to_dict(),
        "results": outcomes, "scores": table,
        "notes": [f"fixture {r.position}: {note}" for r in results for note in r.notes],
    })
