"""The pipeline as a list of stages, in the order their work runs.

The settings recorded in a stage's fingerprint are the defaults here; a run launched with other settings
records other fingerprints, so the planner brings the partition back to the defaults on its next pass.
"""

from __future__ import annotations

import dataclasses

from jackpot_pipeline.jackpots.tickets import TicketBudget
from jackpot_pipeline.model.form import FORM_CODE_VERSION, FORM_WINDOWS, VENUE_WINDOW
from jackpot_pipeline.model.season_calibration import SeasonCalibrationConfig
from jackpot_pipeline.model.walk_forward import BASELINE_WALK_FORWARD, DEFAULT_WALK_FORWARD, WALK_FORWARD_CODE_VERSION
from jackpot_pipeline.planning.stages import (
    Stage,
    all_canonical_inputs,
    calibration_inputs,
    card_inputs,
    jackpot_output_inputs,
    match_prediction_inputs,
    registry_inputs,
    source_inputs,
    summary_inputs,
    validation_report_inputs,
    walk_forward_inputs,
)
from jackpot_pipeline.reporting import Markdown
from jackpot_pipeline.sources.football_data import PARSER_VERSION
from jackpot_pipeline.sources.ingest import INGESTION_TABLES
from jackpot_pipeline.steps.validation import FreshnessSettings, RegistrySettings, ReportSettings, SummarySettings

__all__ = ["INGESTION_TABLES", "Markdown", "STAGES", "stage_named", "stages_after"]

# Bump when a stage would give other results for the same inputs and settings.
CALIBRATION_CODE_VERSION = "2"
MATCH_PREDICTIONS_CODE_VERSION = "1"
VALIDATION_CODE_VERSION = "2"
TEAMS_CODE_VERSION = "1"
JACKPOT_CODE_VERSION = "1"


DEFAULT_TICKET_BUDGET = TicketBudget(max_doubles=3, max_triples=1, max_lines=None)


_WALK_FORWARD = DEFAULT_WALK_FORWARD

STAGES: tuple[Stage, ...] = (
    Stage("ingest", INGESTION_TABLES, "league_season", source_inputs, PARSER_VERSION, reads=("source",)),
    Stage("walk_forward", ("team_strength_snapshots", "uncalibrated_predictions"), "league_season",
          walk_forward_inputs(_WALK_FORWARD.previous_seasons, _WALK_FORWARD.promoted_from_lower_division,
                              _WALK_FORWARD.history_seasons),
          WALK_FORWARD_CODE_VERSION, {**_WALK_FORWARD.as_dict(), "baseline": BASELINE_WALK_FORWARD.as_dict()},
          reads=("canonical_matches",)),
    Stage("calibration", ("calibration_curves",), "league_season", calibration_inputs, CALIBRATION_CODE_VERSION,
          dataclasses.asdict(SeasonCalibrationConfig()), reads=("uncalibrated_predictions",)),
    Stage("match_predictions", ("match_predictions",), "league_season", match_prediction_inputs,
          MATCH_PREDICTIONS_CODE_VERSION, reads=("uncalibrated_predictions", "calibration_curves")),
    Stage("validation_reports", ("validation_reports",), "league_season", validation_report_inputs,
          VALIDATION_CODE_VERSION, dataclasses.asdict(ReportSettings()), reads=("match_predictions",)),
    Stage("form_features", ("team_form_features", "league_baselines"), "league_season", walk_forward_inputs(1),
          FORM_CODE_VERSION, {"windows": list(FORM_WINDOWS), "venue_window": VENUE_WINDOW}, reads=("canonical_matches",)),
    Stage("teams", ("teams",), "global", all_canonical_inputs, TEAMS_CODE_VERSION, reads=("canonical_matches",)),
    Stage("validation_summary", ("validation_summary",), "global", summary_inputs, VALIDATION_CODE_VERSION,
          dataclasses.asdict(SummarySettings()), reads=("match_predictions",)),
    Stage("model_registry", ("model_registry", "training_runs"), "global", registry_inputs, VALIDATION_CODE_VERSION,
          dataclasses.asdict(RegistrySettings()), reads=("validation_reports", "canonical_matches", "match_predictions")),
    Stage("data_freshness", ("data_freshness",), "global", all_canonical_inputs, VALIDATION_CODE_VERSION,
          dataclasses.asdict(FreshnessSettings()), reads=("canonical_matches",)),
    Stage("jackpot_predictions", ("jackpot_predictions",), "jackpot", card_inputs, JACKPOT_CODE_VERSION,
          after=("teams", "team_strength_snapshots", "calibration_curves"), reads=("card",)),
    Stage("jackpot_outputs", ("jackpot_exports", "jackpot_validation"), "jackpot", jackpot_output_inputs,
          JACKPOT_CODE_VERSION, DEFAULT_TICKET_BUDGET.to_dict(), reads=("jackpot_predictions", "results", "canonical_matches")),
)


def stage_named(name: str, stages: tuple[Stage, ...] = STAGES) -> Stage:
    for stage in stages:
        if stage.name == name:
            return stage
    raise KeyError(f"no stage {name!r}; stages: {', '.join(s.name for s in stages)}")


def stage_of_asset(asset: str, stages: tuple[Stage, ...] = STAGES) -> Stage:
    for stage in stages:
        if asset in stage.assets:
            return stage
    raise KeyError(f"no stage materialises {asset!r}")


def stages_after(name: str, stages: tuple[Stage, ...] | None = None) -> list[str]:
    """Assets of the stages of the same scope that come after ``name`` (they may read what it writes)."""
    from jackpot_pipeline.planning.publishing import publish_stages

    stages = stages or STAGES + publish_stages("")
    position = [s.name for s in stages].index(name)
    scope = stages[position].scope
    return [asset for stage in stages[position + 1:] if stage.scope == scope for asset in stage.assets]
